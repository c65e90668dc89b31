/**
 * The generated parts of the VS Code extension's manifest
 * (clients/vscode/package.json): its `contributes.configuration`, derived from
 * the one settings schema plus the few settings the extension reads itself
 * (clients/vscode/src/extension-settings.ts), and its version, the server's. Pure functions: the
 * build script (scripts/vscode-build.ts) writes them into the manifest and a
 * test fails while the committed manifest differs.
 */
import { extensionSettings } from '../clients/vscode/src/extension-settings.js';
import { checkNamePattern, maxCheckCommands, settingsSchema, type SettingType } from '../server/src/settings/config.js';

/** One `contributes.configuration.properties` entry, as VS Code reads it. */
export interface ContributedSetting {
  type: 'string' | 'integer' | 'boolean' | 'array' | 'object';
  default: unknown;
  description: string;
  order: number;
  minimum?: number;
  maximum?: number;
  enum?: string[];
  items?: unknown;
  additionalProperties?: unknown;
  propertyNames?: unknown;
  maxProperties?: number;
  scope?: 'machine';
}

export interface ContributedConfiguration {
  title: string;
  properties: Record<string, ContributedSetting>;
}

/**
 * Settings a workspace's `.vscode/settings.json` must not set: a cloned
 * repository could otherwise send the user's key to its own endpoint, let the
 * agent read secret files, or choose which authorities TLS trusts. VS Code's
 * `machine` scope keeps them to the user's own settings. `openai.apiKeyEnv`
 * too: it could name the variable of another key. (The schema has no notion of
 * scope yet; a test checks that these keys still exist in it.)
 */
export const userOnlySettings: readonly string[] = ['apiKey', 'baseURL', 'openai.baseURL', 'openai.apiKeyEnv', 'agent.allowSecretFiles', 'tls.caFile', 'bedrock.baseURL', 'vertex.baseURL'];

/** The values `logLevel` accepts (mirrors the check in server/src/settings/config.ts). */
export const logLevels = ['error', 'warn', 'info', 'debug'];

const userActionItems = {
  type: 'object',
  required: ['id', 'title', 'prompt'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', description: 'Stable id, used in commands and code action data.' },
    title: { type: 'string', description: 'Shown after "Efrit: " in the code action menu.' },
    prompt: { type: 'string', description: 'What the model is asked to do with the selected code.' },
    kind: { type: 'string', description: 'LSP code action kind; defaults to `refactor.rewrite`.' },
  },
};

const usdPerMillion = { type: 'number', minimum: 0 };
const modelPriceSchema = {
  type: 'object',
  required: ['input', 'output'],
  additionalProperties: false,
  properties: { input: usdPerMillion, output: usdPerMillion, cacheWrite: usdPerMillion, cacheRead: usdPerMillion },
};

/** `agent.commands`: name → argv, checked as the server checks it (server/src/settings/config.ts). */
const checkCommandsSchema = {
  type: 'object',
  additionalProperties: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'The program, then its arguments (no shell).' },
  propertyNames: { pattern: checkNamePattern.source },
  maxProperties: maxCheckCommands,
} as const;

function jsonSchemaOf(type: SettingType): Pick<ContributedSetting, 'type' | 'enum' | 'items' | 'additionalProperties' | 'propertyNames' | 'maxProperties'> {
  switch (type) {
    case 'string':
    case 'model':
    case 'url':
    case 'envVariable':
    case 'awsRegion':
    case 'gcpRegion':
      return { type: 'string' };
    case 'integer':
      return { type: 'integer' };
    case 'boolean':
      return { type: 'boolean' };
    case 'logLevel':
      return { type: 'string', enum: [...logLevels] };
    case 'actions':
      return { type: 'array', items: userActionItems };
    case 'prices':
      return { type: 'object', additionalProperties: modelPriceSchema };
    case 'modelList':
      return { type: 'array', items: { type: 'string' } };
    case 'commands':
      return { ...checkCommandsSchema, additionalProperties: { ...checkCommandsSchema.additionalProperties }, propertyNames: { ...checkCommandsSchema.propertyNames } };
  }
}

/**
 * `contributes.configuration` for every key of the schema, in the schema's
 * order, then the extension's own settings (which the server is never sent).
 */
export function contributedConfiguration(): ContributedConfiguration {
  const properties: Record<string, ContributedSetting> = {};
  Object.entries(settingsSchema).forEach(([key, spec], order) => {
    const { type, enum: values, items, ...objectShape } = jsonSchemaOf(spec.type);
    const entry: ContributedSetting = { type, default: structuredClone(spec.default), description: spec.description, order, ...objectShape };
    if ('min' in spec && spec.min !== undefined) entry.minimum = spec.min;
    if ('max' in spec && spec.max !== undefined) entry.maximum = spec.max;
    if (values !== undefined) entry.enum = values;
    if ('choices' in spec && spec.choices !== undefined) entry.enum = [...spec.choices];
    if (items !== undefined) entry.items = items;
    if (userOnlySettings.includes(key)) entry.scope = 'machine';
    properties[`efrit.${key}`] = entry;
  });
  const schemaCount = Object.keys(settingsSchema).length;
  Object.entries(extensionSettings).forEach(([key, spec], index) => {
    properties[`efrit.${key}`] = { type: spec.type, default: spec.default, description: spec.description, order: schemaCount + index };
  });
  return { title: 'Efrit', properties };
}

/** The manifest with its generated parts brought up to date; everything else is kept as written. */
export function syncedManifest(manifest: Record<string, unknown>, serverVersion: string): Record<string, unknown> {
  const contributes = (manifest['contributes'] ?? {}) as Record<string, unknown>;
  return { ...manifest, version: serverVersion, contributes: { ...contributes, configuration: contributedConfiguration() } };
}

/** How the manifest is written: two-space JSON and a final newline, as npm writes package.json. */
export function manifestText(manifest: Record<string, unknown>): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
