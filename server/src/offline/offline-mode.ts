/** The model name the demo model answers as: what efrit/status and every "asking …" note show while offline. */
export const offlineModelName = 'efrit-offline-demo';

/** Whether this run answers from the offline demo model: `--offline` on the command line, or EFRIT_OFFLINE=1 (also true, yes, on). */
export function offlineRequested(args: readonly string[], env: NodeJS.ProcessEnv): boolean {
  const value = (env['EFRIT_OFFLINE'] ?? '').trim().toLowerCase();
  return args.includes('--offline') || ['1', 'true', 'yes', 'on'].includes(value);
}

/** Where the demo model listens, as the server's model client needs it. */
export interface OfflineEndpoint {
  baseURL: string;
  apiKey: string;
}
