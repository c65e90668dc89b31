/**
 * Settings the extension reads itself. They sit with the server's settings
 * under `efrit` in the Settings editor (scripts/vscode-manifest.ts contributes
 * both), but the server never sees them: `efrit.offline` picks the demo model
 * the server starts with (`--offline`, read once at start), so it is a
 * command-line flag to the server, not a setting it pulls. The section the
 * server pulls leaves these keys out, else it would warn about a key it does
 * not know. No `vscode` import: the manifest script and the tests use this too.
 */

export interface ExtensionSetting {
  type: 'boolean';
  default: boolean;
  description: string;
}

export const extensionSettings = {
  offline: {
    type: 'boolean',
    default: false,
    description:
      'Try Efrit without an API key: a built-in demo model answers (clearly labelled offline); nothing is sent to an API. Changing it restarts the server.',
  },
} as const satisfies Record<string, ExtensionSetting>;

/** The dotted name of the offline setting, as `getConfiguration` and `affectsConfiguration` take it. */
export const offlineSettingName = 'efrit.offline';

/** The server's command-line arguments (after the transport flag) for the offline setting's value. */
export function serverArgs(offline: boolean): string[] {
  return offline ? ['--offline'] : [];
}

/** The `efrit` section as the server is given it: without the keys only the extension reads. */
export function serverSection(section: unknown): unknown {
  if (typeof section !== 'object' || section === null || Array.isArray(section)) return section;
  const forServer: Record<string, unknown> = { ...(section as Record<string, unknown>) };
  for (const key of Object.keys(extensionSettings)) delete forServer[key];
  return forServer;
}
