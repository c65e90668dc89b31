/**
 * The one settings schema (the `efrit` section). Every setting is declared
 * once here with its default, its type and a description; validation, the
 * README's table and the VS Code extension's contributed settings are
 * all derived from this list, so they cannot drift apart.
 */

import { isRecord } from '../common/json-shape.js';
import { parseModelChoice } from '../model/model-choice.js';
import type { ModelPrice } from '../model/prices.js';

export type SettingType = 'string' | 'integer' | 'boolean' | 'actions' | 'commands' | 'logLevel' | 'prices' | 'model' | 'url' | 'envVariable' | 'modelList' | 'awsRegion' | 'gcpRegion';

interface SettingSpec<T> {
  type: SettingType;
  default: T;
  description: string;
  min?: number;
  max?: number;
  /** Never echoed back in status or warnings. */
  secret?: boolean;
  /** For a string: the only values it may take. */
  choices?: readonly string[];
}

export interface UserAction {
  /** Stable id, used in commands and code action data. */
  id: string;
  /** Shown after "Efrit: " in the code action menu. */
  title: string;
  /** What the model is asked to do with the selected code. */
  prompt: string;
  /** LSP code action kind; defaults to `refactor.rewrite`. */
  kind?: string;
}

/** `agent.commands`: check names the agent may ask for, each the argv it runs (never a shell string). */
export type CheckCommands = Record<string, string[]>;

/** At most this many named checks: each is one more word in the tool's schema and one more consent to ask for. */
export const maxCheckCommands = 16;
/** A check's name, as the model writes it: a short identifier. */
export const checkNamePattern = /^[A-Za-z][A-Za-z0-9_-]{0,39}$/;
const maxArgvItems = 256;
const maxArgChars = 4_096;

/** Flat, dotted keys: `queue.concurrency` is `{ queue: { concurrency } }` on the wire. */
export const settingsSchema = {
  apiKey: {
    type: 'string',
    default: '',
    secret: true,
    description: 'Anthropic API key (for Claude models); overrides ANTHROPIC_API_KEY. Never logged or echoed.',
  } as SettingSpec<string>,
  baseURL: {
    type: 'string',
    default: '',
    description: 'Anthropic API endpoint (for Claude models); overrides ANTHROPIC_BASE_URL (empty: the SDK default).',
  } as SettingSpec<string>,
  model: {
    type: 'model',
    default: 'claude-sonnet-5-5',
    description:
      'Model for actions, chat and do: a Claude model id, `openai:<model>` for an OpenAI-compatible Chat Completions endpoint (see openai.baseURL), `ollama:<model>` for a model Ollama serves (see ollama.baseURL), `bedrock:<model id>` for Claude on Amazon Bedrock (see bedrock.region), or `vertex:<model>` for Claude on Google Vertex AI (see vertex.region).',
  } as SettingSpec<string>,
  fastModel: {
    type: 'model',
    default: 'claude-haiku-5-5',
    description: 'Model for inline completion and prefetch, named as for model.',
  } as SettingSpec<string>,
  modelsWithoutTools: {
    type: 'modelList',
    default: [],
    description:
      'Models that cannot call tools (many local models), named as for model: they get no tools and write edits as SEARCH/REPLACE blocks, read strictly; efrit/do then takes one step and reads nothing beyond the excerpt. An Ollama that reports its models\' capabilities (tools) is believed for ollama: models not listed here.',
  } as SettingSpec<string[]>,
  fillInMiddleModels: {
    type: 'modelList',
    default: [],
    description:
      'Code models that fill in the middle, named as for model: inline completion with such a fastModel sends the text before and after the cursor as prompt and suffix instead of a chat prompt. For openai: models on a server with /v1/completions and suffix (llama.cpp\'s server, vLLM). An Ollama that reports its models\' capabilities (insert) decides for ollama: models itself.',
  } as SettingSpec<string[]>,
  'openai.baseURL': {
    type: 'url',
    default: '',
    description:
      'Endpoint of the openai: models, any OpenAI-compatible Chat Completions API (e.g. http://localhost:11434/v1 for Ollama, http://localhost:8080/v1 for llama.cpp); overrides OPENAI_BASE_URL (empty: https://api.openai.com/v1).',
  } as SettingSpec<string>,
  'openai.apiKeyEnv': {
    type: 'envVariable',
    default: 'OPENAI_API_KEY',
    description:
      'The environment variable holding the key for the openai: models (never logged or echoed). A local server with openai.baseURL set may need none.',
  } as SettingSpec<string>,
  'ollama.baseURL': {
    type: 'url',
    default: '',
    description: 'Where the ollama: models are served (Ollama\'s native API); overrides OLLAMA_HOST (empty: http://127.0.0.1:11434). Ollama takes no key.',
  } as SettingSpec<string>,
  'bedrock.region': {
    type: 'awsRegion',
    default: '',
    description: 'AWS region of the bedrock: models (e.g. us-east-1, eu-central-1); overrides AWS_REGION and AWS_DEFAULT_REGION (empty: those, else us-east-1). Credentials come from AWS\'s usual chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE with ~/.aws, or AWS_BEARER_TOKEN_BEDROCK.',
  } as SettingSpec<string>,
  'bedrock.baseURL': {
    type: 'url',
    default: '',
    description: 'Endpoint of the bedrock: models instead of https://bedrock-runtime.<region>.amazonaws.com, e.g. a VPC endpoint; overrides ANTHROPIC_BEDROCK_BASE_URL. Requests are still signed for bedrock.region.',
  } as SettingSpec<string>,
  'vertex.projectId': {
    type: 'string',
    default: '',
    description: 'Google Cloud project of the vertex: models (Claude on Vertex AI); overrides ANTHROPIC_VERTEX_PROJECT_ID and GOOGLE_CLOUD_PROJECT (empty: those, else the project of the credentials).',
  } as SettingSpec<string>,
  'vertex.region': {
    type: 'gcpRegion',
    default: '',
    description: 'Vertex AI region that serves the vertex: models, e.g. us-east5, europe-west1 or global; overrides CLOUD_ML_REGION. Required by Vertex.',
  } as SettingSpec<string>,
  'vertex.baseURL': {
    type: 'url',
    default: '',
    description: 'Endpoint of the vertex: models, for a private or regional Vertex AI endpoint (empty: https://REGION-aiplatform.googleapis.com/v1). Credentials are Google\'s Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login`.',
  } as SettingSpec<string>,
  maxTokens: { type: 'integer', default: 4096, min: 1, max: 128_000, description: 'Output cap per model call.' } as SettingSpec<number>,
  'queue.concurrency': {
    type: 'integer',
    default: 4,
    min: 1,
    max: 64,
    description: 'Model calls in flight at once.',
  } as SettingSpec<number>,
  'queue.timeoutMs': {
    type: 'integer',
    default: 120_000,
    min: 1_000,
    max: 3_600_000,
    description: 'Whole-job timeout, queue wait included.',
  } as SettingSpec<number>,
  'queue.stallMs': {
    type: 'integer',
    default: 30_000,
    min: 500,
    max: 600_000,
    description: 'No stream byte (pings count) for this long means the call stalled: it is aborted.',
  } as SettingSpec<number>,
  'queue.maxQueued': {
    type: 'integer',
    default: 128,
    min: 1,
    max: 100_000,
    description: 'Jobs waiting at once; past it background jobs are dropped first, then requests get a "busy" error.',
  } as SettingSpec<number>,
  'queue.maxRetries': {
    type: 'integer',
    default: 3,
    min: 0,
    max: 20,
    description: 'Retries of a job the API refused with 429 or 529, after the shared backoff.',
  } as SettingSpec<number>,
  'context.linesBefore': {
    type: 'integer',
    default: 200,
    min: 0,
    max: 100_000,
    description: 'Lines captured before the range.',
  } as SettingSpec<number>,
  'context.linesAfter': {
    type: 'integer',
    default: 80,
    min: 0,
    max: 100_000,
    description: 'Lines captured after the range.',
  } as SettingSpec<number>,
  'context.maxChars': {
    type: 'integer',
    default: 24_000,
    min: 200,
    max: 2_000_000,
    description: 'Cap on the captured window; the far side is trimmed first.',
  } as SettingSpec<number>,
  'codeActions.resolveBudgetMs': {
    type: 'integer',
    default: 8_000,
    min: 0,
    max: 600_000,
    description:
      'How long codeAction/resolve waits for the model before handing the running job over to efrit.applyJob (Eglot times resolve out at 10 s).',
  } as SettingSpec<number>,
  'sessions.ttlMs': {
    type: 'integer',
    default: 1_800_000,
    min: 1_000,
    max: 86_400_000,
    description: 'Idle sessions are dropped after this long.',
  } as SettingSpec<number>,
  'sessions.max': { type: 'integer', default: 64, min: 1, max: 10_000, description: 'Most sessions kept at once (least recently used dropped).' } as SettingSpec<number>,
  'sessions.maxTurns': {
    type: 'integer',
    default: 40,
    min: 2,
    max: 1_000,
    description: 'Most turns of history a session keeps; older turns are dropped in pairs.',
  } as SettingSpec<number>,
  deltas: {
    type: 'boolean',
    default: true,
    description: 'Send document deltas instead of whole windows on later turns.',
  } as SettingSpec<boolean>,
  'context.rebasePercent': {
    type: 'integer',
    default: 50,
    min: 0,
    max: 100,
    description: 'With deltas on: change hunks larger than this percent of the window the model saw are replaced by a fresh window.',
  } as SettingSpec<number>,
  promptCaching: { type: 'boolean', default: true, description: 'Mark prompt cache breakpoints.' } as SettingSpec<boolean>,
  prefetch: {
    type: 'boolean',
    default: false,
    description: 'Speculative low-priority work (costs tokens): listing code actions for a diagnostic starts its fix in the background.',
  } as SettingSpec<boolean>,
  prefetchPerMinute: {
    type: 'integer',
    default: 6,
    min: 0,
    max: 600,
    description: 'Most prefetches started per minute.',
  } as SettingSpec<number>,
  actions: {
    type: 'actions',
    default: [],
    description: 'User-defined actions: `{ id, title, prompt, kind? }`, listed after the built-in ones.',
  } as SettingSpec<UserAction[]>,
  'agent.maxSteps': {
    type: 'integer',
    default: 8,
    min: 1,
    max: 50,
    description: 'Most model steps one efrit/do may take (each may run several read-only tools at once).',
  } as SettingSpec<number>,
  'agent.tokenBudget': {
    type: 'integer',
    default: 200_000,
    min: 1_000,
    max: 5_000_000,
    description: 'Most input plus output tokens one efrit/do may spend over all its steps.',
  } as SettingSpec<number>,
  'agent.logBudgetTokens': {
    type: 'integer',
    default: 16_000,
    min: 1_000,
    max: 500_000,
    description: "Tokens the agent's history of tool calls may take in a request; older results are cut to one line.",
  } as SettingSpec<number>,
  'agent.allowSecretFiles': {
    type: 'boolean',
    default: false,
    description: 'Let the agent read secret-looking files (.env, keys, credentials). Off: they are refused.',
  } as SettingSpec<boolean>,
  'agent.projectInstructions': {
    type: 'boolean',
    default: true,
    description:
      "Send the workspace's AGENTS.md, CLAUDE.md and .efrit/instructions.md (at each folder's root, in that order; 16 KiB each, 32 KiB in all) to the model with the system prompt, cached; a changed file is read again for the next job.",
  } as SettingSpec<boolean>,
  'agent.checkProposals': {
    type: 'boolean',
    default: true,
    description:
      "In proxy mode, check each change the agent proposes with the wrapped language server before the editor gets it (new errors go back to the agent to fix). Off: proposals go straight to the editor; the agent's language-server tools stay.",
  } as SettingSpec<boolean>,
  'agent.commands': {
    type: 'commands',
    default: {},
    description:
      'Checks the agent may run on its proposed change, by name: `{ "test": ["npm", "test", "--", "--run"] }`. Each is an argv (no shell); the user is asked before the first run of each in a workspace. It runs in a copy-on-write view of the workspace with the change applied, so it cannot change your files (Linux, user namespaces).',
  } as SettingSpec<CheckCommands>,
  'agent.commandTimeoutMs': {
    type: 'integer',
    default: 60_000,
    min: 1_000,
    max: 3_600_000,
    description: 'A check (agent.commands) still running after this long is killed with everything it started, and reported as timed out.',
  } as SettingSpec<number>,
  'edits.confirm': {
    type: 'string',
    default: 'multiFile',
    choices: ['multiFile', 'always', 'never'],
    description:
      "When Efrit's edits ask the editor to let the user review them first (the change annotation's needsConfirmation, for editors that support it): 'multiFile' (a change of several files, or one that creates, renames or deletes a file), 'always' or 'never'.",
  } as SettingSpec<'multiFile' | 'always' | 'never'>,
  'edits.maxFiles': {
    type: 'integer',
    default: 20,
    min: 1,
    max: 1_000,
    description: 'Most files one change of the agent may touch (edited, created, renamed or deleted); a bigger proposal is refused whole.',
  } as SettingSpec<number>,
  'edits.maxBytes': {
    type: 'integer',
    default: 1_048_576,
    min: 1_024,
    max: 67_108_864,
    description: 'Most bytes of new text (replacements and created files) in one change; a bigger proposal is refused whole.',
  } as SettingSpec<number>,
  prices: {
    type: 'prices',
    default: {},
    description:
      'Prices in USD per million tokens, by model id, added to or overriding the built-in table of Claude prices: `{ "my-model": { "input": 1, "output": 5, "cacheWrite": 1.25, "cacheRead": 0.1 } }` (cacheWrite and cacheRead default to input). Calls to a model with no price are counted in tokens only.',
  } as SettingSpec<Record<string, ModelPrice>>,
  'completion.inline': {
    type: 'boolean',
    default: true,
    description: 'Ghost-text suggestions (textDocument/inlineCompletion) for clients that ask for them, from fastModel.',
  } as SettingSpec<boolean>,
  'completion.popup': {
    type: 'boolean',
    default: false,
    description:
      'Also offer the suggestion as one textDocument/completion item, for clients without inline completion. Read at start-up (initializationOptions): the server declares completion only when it is on.',
  } as SettingSpec<boolean>,
  'completion.maxCallsPerMinute': {
    type: 'integer',
    default: 30,
    min: 0,
    max: 600,
    description: 'Most model calls per minute for inline completion; past it, suggestions wait.',
  } as SettingSpec<number>,
  'completion.skipInCommentsAndStrings': {
    type: 'boolean',
    default: true,
    description: 'No automatic suggestions inside comments and strings (an explicit request still gets one).',
  } as SettingSpec<boolean>,
  'completion.skipRefusedSpots': {
    type: 'boolean',
    default: true,
    description: 'No automatic suggestion where the model call for the same text around the cursor just failed or was refused; an explicit request still tries.',
  } as SettingSpec<boolean>,
  logLevel: {
    type: 'logLevel',
    default: 'info',
    description: "Log detail sent to the client and EFRIT_LOG_FILE: 'error', 'warn', 'info' or 'debug'.",
  } as SettingSpec<'error' | 'warn' | 'info' | 'debug'>,
  'tls.caFile': {
    type: 'string',
    default: '',
    description:
      'A PEM file of certificate authorities to trust besides the default ones (for a proxy or gateway that re-signs TLS); absolute, or starting with ~/. NODE_EXTRA_CA_CERTS works too. Proxies come from HTTPS_PROXY, HTTP_PROXY and NO_PROXY.',
  } as SettingSpec<string>,
} as const;

export type SettingKey = keyof typeof settingsSchema;
export type Settings = { [K in SettingKey]: (typeof settingsSchema)[K]['default'] };

export function defaultSettings(): Settings {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(settingsSchema)) out[key] = structuredClone(spec.default);
  return out as Settings;
}

export interface SettingsUpdate {
  settings: Settings;
  /** One line per rejected or unknown key, naming it; the server logs them as warnings. */
  warnings: string[];
  /** Keys whose value actually changed. */
  changed: SettingKey[];
}

/**
 * Accepts `{ ... }` or `{ efrit: { ... } }`: clients differ in which one they
 * send as initializationOptions, and both are unambiguous.
 */
export function unwrapSection(raw: unknown): unknown {
  if (isRecord(raw) && isRecord(raw['efrit'])) return raw['efrit'];
  return raw;
}

function flatten(raw: Record<string, unknown>, prefix: string, out: Map<string, unknown>): void {
  for (const [key, value] of Object.entries(raw)) {
    const dotted = prefix === '' ? key : `${prefix}.${key}`;
    if (isRecord(value) && !Object.hasOwn(settingsSchema, dotted)) flatten(value, dotted, out);
    else out.set(dotted, value);
  }
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function checkActions(value: unknown): string | undefined {
  if (!Array.isArray(value)) return 'expected a list of { id, title, prompt, kind? }';
  const seen = new Set<string>();
  for (const [index, item] of value.entries()) {
    if (!isRecord(item)) return `item ${index} is not an object`;
    for (const field of ['id', 'title', 'prompt'] as const) {
      if (typeof item[field] !== 'string' || (item[field] as string).trim() === '') {
        return `item ${index} needs a non-empty string "${field}"`;
      }
    }
    if (item['kind'] !== undefined && typeof item['kind'] !== 'string') return `item ${index} has a "kind" that is not a string`;
    if (seen.has(item['id'] as string)) return `item ${index} repeats the id "${String(item['id'])}"`;
    seen.add(item['id'] as string);
  }
  return undefined;
}

function checkCommands(value: unknown): string | undefined {
  if (!isRecord(value)) return 'expected an object of { name: ["program", "arg", …] }';
  const entries = Object.entries(value);
  if (entries.length > maxCheckCommands) return `expected at most ${maxCheckCommands} commands`;
  for (const [name, argv] of entries) {
    if (!checkNamePattern.test(name)) return `the name ${JSON.stringify(name.slice(0, 40))} is not a short identifier (a letter, then letters, digits, _ or -)`;
    if (!Array.isArray(argv) || argv.length === 0 || argv.length > maxArgvItems) return `"${name}" must be a list of 1 to ${maxArgvItems} strings: the program, then its arguments`;
    if (!argv.every((arg) => typeof arg === 'string' && arg.length <= maxArgChars && !arg.includes('\0'))) {
      return `"${name}" must hold only strings (at most ${maxArgChars} characters each)`;
    }
    if (argv[0] === '') return `"${name}" names no program (its first item is empty)`;
  }
  return undefined;
}

/** Returns a reason when `value` does not fit `spec`, else undefined. */
function checkValue(spec: SettingSpec<unknown>, value: unknown): string | undefined {
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') return 'expected a string';
      return spec.choices === undefined || spec.choices.includes(value) ? undefined : `expected one of ${spec.choices.map((choice) => `'${choice}'`).join(', ')}`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'expected true or false';
    case 'integer': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return 'expected a whole number';
      if (spec.min !== undefined && value < spec.min) return `expected at least ${spec.min}`;
      if (spec.max !== undefined && value > spec.max) return `expected at most ${spec.max}`;
      return undefined;
    }
    case 'logLevel':
      return ['error', 'warn', 'info', 'debug'].includes(value as string) ? undefined : "expected 'error', 'warn', 'info' or 'debug'";
    case 'actions':
      return checkActions(value);
    case 'prices':
      return checkPrices(value);
    case 'model': {
      if (typeof value !== 'string') return 'expected a model id, e.g. "claude-sonnet-5-5" or "openai:gpt-4.1"';
      const parsed = parseModelChoice(value);
      return 'problem' in parsed ? parsed.problem : undefined;
    }
    case 'url':
      return checkUrl(value);
    case 'envVariable':
      return typeof value === 'string' && /^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(value) ? undefined : 'expected the name of an environment variable, e.g. "OPENAI_API_KEY"';
    case 'commands':
      return checkCommands(value);
    case 'modelList':
      return checkModelList(value);
    case 'awsRegion':
      // The region becomes part of the endpoint's host name: anything but a region's shape could send signed requests elsewhere.
      return typeof value === 'string' && (value === '' || awsRegionPattern.test(value)) ? undefined : 'expected an AWS region such as "us-east-1" or "eu-central-1"';
    case 'gcpRegion':
      // As for AWS: the region becomes part of the host the Google token is sent to.
      return typeof value === 'string' && (value === '' || gcpRegionPattern.test(value)) ? undefined : 'expected a Vertex AI region such as "us-east5", "europe-west1" or "global"';
  }
}

/** `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-5`. */
export const awsRegionPattern = /^[a-z]{2}(-[a-z]{2,12}){1,2}-\d{1,2}$/;

/** `us-east5`, `europe-west1`, `asia-southeast1`, `global`. */
export const gcpRegionPattern = /^(global|[a-z]{2,12}(-[a-z]{2,12}){1,2}\d{1,2})$/;

function checkModelList(value: unknown): string | undefined {
  if (!Array.isArray(value) || value.length > 100) return 'expected a list of at most 100 model ids, e.g. ["openai:llama3.1"]';
  const problem = value.map((item: unknown) => checkValue(settingsSchema.model as SettingSpec<unknown>, item)).find((reason) => reason !== undefined);
  return problem === undefined ? undefined : `each item must be a model id: ${problem}`;
}

/** Whether the model may be offered tools: every model is, unless `modelsWithoutTools` names it. */
export function modelCallsTools(settings: Settings, model: string): boolean {
  return !settings.modelsWithoutTools.some((listed) => listed.trim() === model.trim());
}

function checkUrl(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'expected a URL';
  if (value === '') return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : 'expected an http:// or https:// URL';
  } catch {
    return 'expected a URL such as https://api.openai.com/v1';
  }
}

const rateNames = ['input', 'output', 'cacheWrite', 'cacheRead'] as const;

function checkPrices(value: unknown): string | undefined {
  if (!isRecord(value) || Array.isArray(value)) return 'expected an object of model id → { input, output, cacheWrite?, cacheRead? }';
  const entries = Object.entries(value);
  if (entries.length > 200) return 'expected at most 200 models';
  for (const [model, price] of entries) {
    if (!isRecord(price)) return `the price of "${model}" is not an object`;
    for (const rate of rateNames) {
      const given = price[rate];
      const required = rate === 'input' || rate === 'output';
      if (given === undefined && !required) continue;
      if (typeof given !== 'number' || !Number.isFinite(given) || given < 0) return `the price of "${model}" needs "${rate}" as a number of USD per million tokens, 0 or more`;
    }
    const unknown = Object.keys(price).find((key) => !(rateNames as readonly string[]).includes(key));
    if (unknown !== undefined) return `the price of "${model}" has "${unknown}", which is not one of ${rateNames.join(', ')}`;
  }
  return undefined;
}

/** The `prices` setting with the cache rates filled in: a provider that does not price its cache bills those tokens as input. */
export function pricesOf(settings: Settings): Record<string, ModelPrice> {
  return Object.fromEntries(
    Object.entries(settings.prices).map(([model, price]) => [model, { input: price.input, output: price.output, cacheWrite: price.cacheWrite ?? price.input, cacheRead: price.cacheRead ?? price.input }]),
  );
}

/**
 * Applies a raw settings object on top of the last good settings. A key whose
 * value is wrong is named in a warning and keeps its last good value; unknown
 * keys are warned about and ignored; `null` resets a key to its default.
 */
export function applySettings(current: Settings, raw: unknown): SettingsUpdate {
  const settings = { ...current } as Record<string, unknown>;
  const warnings: string[] = [];
  const changed: SettingKey[] = [];
  const section = unwrapSection(raw);
  if (section === undefined || section === null) return { settings: current, warnings, changed };
  if (!isRecord(section)) {
    warnings.push(`efrit settings: expected an object, got ${describeValue(section)}; keeping the previous settings.`);
    return { settings: current, warnings, changed };
  }
  const flat = new Map<string, unknown>();
  flatten(section, '', flat);
  for (const [key, value] of flat) {
    if (!Object.hasOwn(settingsSchema, key)) {
      warnings.push(`efrit settings: unknown setting "efrit.${key}" ignored.`);
      continue;
    }
    const settingKey = key as SettingKey;
    const spec = settingsSchema[settingKey] as SettingSpec<unknown>;
    const next = value === null ? structuredClone(spec.default) : value;
    const problem = checkValue(spec, next);
    if (problem !== undefined) {
      const shown = spec.secret === true ? 'a value' : describeValue(next);
      warnings.push(
        `efrit settings: "efrit.${key}" is ${shown}, ${problem}; keeping ${spec.secret === true ? 'the previous value' : describeValue(settings[key])}.`,
      );
      continue;
    }
    if (JSON.stringify(settings[key]) !== JSON.stringify(next)) {
      settings[key] = next;
      changed.push(settingKey);
    }
  }
  warnings.push(...combinationWarnings(settings as Settings, changed));
  return { settings: settings as Settings, warnings, changed };
}

/** Each provider's own settings, and a model id to name in the warning when no role uses that provider. */
const providerSettings: readonly { prefix: string; keys: readonly SettingKey[]; example: string }[] = [
  { prefix: 'openai', keys: ['openai.baseURL', 'openai.apiKeyEnv'], example: 'openai:gpt-4.1' },
  { prefix: 'ollama', keys: ['ollama.baseURL'], example: 'ollama:qwen2.5-coder:7b' },
  { prefix: 'bedrock', keys: ['bedrock.region', 'bedrock.baseURL'], example: 'bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0' },
  { prefix: 'vertex', keys: ['vertex.projectId', 'vertex.region', 'vertex.baseURL'], example: 'vertex:claude-sonnet-4-5@20250929' },
];

/** Settings that are each fine but do nothing together, named when one of them changes. */
function combinationWarnings(settings: Settings, changed: readonly SettingKey[]): string[] {
  const warnings: string[] = [];
  for (const { prefix, keys, example } of providerSettings) {
    if (!changed.some((key) => key === 'model' || key === 'fastModel' || keys.includes(key))) continue;
    const used = [settings.model, settings.fastModel].some((model) => model.trim().startsWith(`${prefix}:`));
    const set = keys.filter((key) => settings[key] !== settingsSchema[key].default);
    if (used || set.length === 0) continue;
    const named = set.map((key) => `"efrit.${key}"`);
    const list = named.length === 1 ? named[0] : `${named.slice(0, -1).join(', ')} and ${named.at(-1)}`;
    warnings.push(`efrit settings: ${list} apply to ${prefix}: models, but neither efrit.model nor efrit.fastModel names one (e.g. "${example}"); they have no effect.`);
  }
  return warnings;
}
