/**
 * Builds every part of the server once, wired together: the domain services,
 * the settings they read, and the feature context the handlers hand to
 * features/. Nothing here registers a handler (lsp/handlers.ts does), so what
 * the server is made of reads apart from what it answers.
 */
import { homedir } from 'node:os';
import type { ClientCapabilities, Connection, InitializeParams } from 'vscode-languageserver/node';
import { defaultMaxFileBytes, searchDeadlineFor, WorkspaceTools } from '../agent/workspace-tools.js';
import type { LanguageIntelligence } from '../agent/language-intelligence.js';
import { SemanticTools } from '../agent/semantic-tools.js';
import { readTextFile } from '../agent/workspace-paths.js';
import { ProposalChecker } from '../assistant/proposal-check.js';
import { Assistant } from '../assistant/assistant.js';
import { CheckRunner } from '../agent/check-commands.js';
import { ConsentStateFile, consentStatePath } from '../agent/consent-state.js';
import { LspCommandConsent } from '../features/check-consent.js';
import { defaultInlineCompletionOptions, InlineCompletionEngine, systemClock } from '../completion/completion-engine.js';
import { queuedCompletionModel } from '../completion/queued-completion-model.js';
import { applySettings, defaultSettings, pricesOf, type Settings } from '../settings/config.js';
import { relativePathOf } from '../context/capture-context.js';
import { DocumentStore } from '../documents/document-store.js';
import { createDocumentSync, type DocumentSync } from '../features/document-sync.js';
import type { FeatureContext } from '../features/feature-context.js';
import { LspJobReporter } from '../features/job-reporter.js';
import { Lifecycle } from '../features/lifecycle.js';
import { SettingsPulls } from '../features/settings-pulls.js';
import { WorkspaceFolders } from '../features/workspace-folders.js';
import type { ServerLogger } from '../common/logger.js';
import { awsCredentialVariables, awsSecretVariables, signWithAwsCredentials } from '../model/bedrock-provider.js';
import { modelChoiceOf } from '../model/model-choice.js';
import { ModelCapabilityCache } from '../model/model-capabilities.js';
import { ModelClient, type EndpointResolver } from '../model/model-client.js';
import { Network } from '../model/network.js';
import { UsageMeter } from '../model/usage-meter.js';
import { JobQueue } from '../queue/job-queue.js';
import { realClock } from '../queue/queue-clock.js';
import { SessionStore } from '../sessions/session-store.js';
import { offlineModelName, type OfflineEndpoint } from '../offline/offline-mode.js';

export interface ServerOptions {
  connection: Connection;
  logger: ServerLogger;
  version: string;
  /** The process environment, injectable for tests. */
  env?: NodeJS.ProcessEnv;
  /** `--offline`: every model call goes to the demo model here, whatever the key and endpoint settings say. */
  offline?: OfflineEndpoint | undefined;
  /** Proxy mode: the wrapped language server, which the efrit/do agent may ask (definitions, references, diagnostics…). */
  intelligence?: LanguageIntelligence | undefined;
}

export interface Services {
  readonly connection: Connection;
  readonly logger: ServerLogger;
  readonly version: string;
  readonly documents: DocumentStore;
  readonly sync: DocumentSync;
  readonly queue: JobQueue;
  readonly model: ModelClient;
  readonly folders: WorkspaceFolders;
  readonly lifecycle: Lifecycle;
  /** The client's settings on their way (`workspace/configuration` pulls), for what must wait for them. */
  readonly settingsPulls: SettingsPulls;
  /** What every feature handler is given. */
  readonly context: FeatureContext;
  settings(): Settings;
  capabilities(): ClientCapabilities;
  /** `initialize`: the client's capabilities, folders and first settings. */
  initialize(params: InitializeParams): void;
  /** Takes a settings section from `origin` (warnings name it) and applies it to every service. */
  useSettings(raw: unknown, origin: string): void;
}

/** Offline, both models are the demo model, so status and every "asking …" note name it. */
function effectiveSettings(configured: Settings, offline: boolean): Settings {
  return offline ? { ...configured, model: offlineModelName, fastModel: offlineModelName } : configured;
}

const nonEmpty = (text: string | undefined): string | undefined => (text === undefined || text.trim() === '' ? undefined : text.trim());

export function buildServices({ connection, logger, version, env = process.env, offline, intelligence }: ServerOptions): Services {
  // What the user configured, and what is in force (the same, except the model while offline).
  let configured: Settings = defaultSettings();
  let settings: Settings = effectiveSettings(configured, offline !== undefined);
  let capabilities: ClientCapabilities = {};
  const folders = new WorkspaceFolders(logger);
  const workspaceRoots = () => folders.paths();
  const redactor = logger.redactor;
  redactor.add(env['ANTHROPIC_API_KEY']);
  redactor.add(offline?.apiKey);
  redactor.add(env['OPENAI_API_KEY']);
  for (const secret of awsSecretVariables) redactor.add(env[secret]);
  const endpoints: EndpointResolver = (model) => {
    if (offline !== undefined) return offline;
    const provider = modelChoiceOf(model).provider;
    if (provider === 'ollama') {
      // Ollama's own tools read OLLAMA_HOST, often written without a scheme (`0.0.0.0:11434`); the library completes it as they do.
      const host = settings['ollama.baseURL'] !== '' ? settings['ollama.baseURL'] : env['OLLAMA_HOST'];
      // No key: a placeholder so the call is attempted; the Ollama library never sends it.
      return { apiKey: 'efrit-no-key', baseURL: host };
    }
    if (provider === 'bedrock') {
      const bearerToken = env['AWS_BEARER_TOKEN_BEDROCK'];
      return {
        apiKey: bearerToken !== undefined && bearerToken !== '' ? bearerToken : signWithAwsCredentials,
        baseURL: settings['bedrock.baseURL'] !== '' ? settings['bedrock.baseURL'] : env['ANTHROPIC_BEDROCK_BASE_URL'],
        region: [settings['bedrock.region'], env['AWS_REGION'], env['AWS_DEFAULT_REGION']].find((region) => region !== undefined && region !== ''),
        keySource: bearerToken !== undefined && bearerToken !== '' ? 'AWS_BEARER_TOKEN_BEDROCK' : awsCredentialVariables,
      };
    }
    if (provider === 'vertex') {
      // Google's Application Default Credentials, not a key: a placeholder so the call is attempted; the provider finds the credentials.
      return {
        apiKey: 'efrit-no-key',
        baseURL: settings['vertex.baseURL'],
        keySource: 'GOOGLE_APPLICATION_CREDENTIALS',
        region: nonEmpty(settings['vertex.region']) ?? nonEmpty(env['CLOUD_ML_REGION']),
        projectId: nonEmpty(settings['vertex.projectId']) ?? nonEmpty(env['ANTHROPIC_VERTEX_PROJECT_ID']) ?? nonEmpty(env['GOOGLE_CLOUD_PROJECT']),
      };
    }
    if (provider === 'openai') {
      const keySource = settings['openai.apiKeyEnv'];
      const baseURL = settings['openai.baseURL'] !== '' ? settings['openai.baseURL'] : env['OPENAI_BASE_URL'];
      // A local server (llama.cpp, Ollama, vLLM) often takes no key, but the SDK sends one whatever happens: a placeholder, never a real key.
      const apiKey = env[keySource] ?? (baseURL !== undefined && baseURL !== '' ? 'efrit-no-key' : undefined);
      redactor.add(env[keySource]);
      return { apiKey, baseURL, keySource };
    }
    return {
      apiKey: settings.apiKey !== '' ? settings.apiKey : env['ANTHROPIC_API_KEY'],
      baseURL: settings.baseURL !== '' ? settings.baseURL : env['ANTHROPIC_BASE_URL'],
    };
  };
  if (offline !== undefined) logger.info(`offline: every answer comes from the demo model built into efrit-lsp (${offline.baseURL}); nothing leaves this machine.`);

  const documents = new DocumentStore({ logger });
  const queue = new JobQueue({ concurrency: settings['queue.concurrency'], timeoutMs: settings['queue.timeoutMs'] });
  const sessions = new SessionStore({
    max: settings['sessions.max'],
    ttlMs: settings['sessions.ttlMs'],
    maxTurns: settings['sessions.maxTurns'],
    onDrop: (sessionId) => logger.debug(`session ${sessionId} dropped`),
  });
  const usage = new UsageMeter(() => pricesOf(settings));
  // Offline, the demo model listens on this machine and nothing may leave it: no proxy, whatever the environment says.
  const network = offline === undefined ? new Network({ env, logger }) : undefined;
  const model = new ModelClient(endpoints, logger, network?.fetch);
  const modelCapabilities = new ModelCapabilityCache({ source: model, logger, stallMs: () => settings['queue.stallMs'] });
  const reporter = new LspJobReporter(connection, () => capabilities.window?.workDoneProgress === true, redactor, logger);
  const tools = new WorkspaceTools({
    roots: workspaceRoots,
    documents,
    allowSecretFiles: () => settings['agent.allowSecretFiles'],
    searchDeadlineMs: () => searchDeadlineFor(settings['queue.timeoutMs']),
  });
  const checks = new CheckRunner({
    consent: new LspCommandConsent(connection, () => capabilities, logger, (text) => redactor.redact(text)),
    commands: () => settings['agent.commands'],
    timeoutMs: () => settings['agent.commandTimeoutMs'],
    redact: (text) => redactor.redact(text),
    logger,
    env,
    remembered: new ConsentStateFile({ path: consentStatePath(env, homedir()), logger }),
  });
  const semanticTools =
    intelligence === undefined
      ? undefined
      : new SemanticTools({ intelligence, locate: (path) => tools.locate(path), openDocumentAt: (located) => tools.openDocumentAt(located) });
  const proposalChecker =
    intelligence === undefined
      ? undefined
      : new ProposalChecker({
          intelligence,
          document: (uri) => documents.get(uri),
          readDisk: async (realPath, displayPath) => {
            const read = await readTextFile(realPath, { maxFileBytes: defaultMaxFileBytes, displayPath });
            return read.kind === 'text' ? read.text : undefined;
          },
        });
  const assistant = new Assistant({ tools, semanticTools, proposalChecker, documents, queue, model, sessions, usage, reporter, logger, settings: () => settings, workspaceRoots, checks, capabilities: modelCapabilities });
  const completions = new InlineCompletionEngine(
    queuedCompletionModel({ queue, model, usage, settings: () => settings, capabilities: modelCapabilities }),
    systemClock,
    () => ({
      ...defaultInlineCompletionOptions,
      maxCallsPerMinute: settings['completion.maxCallsPerMinute'],
      skipInCommentsAndStrings: settings['completion.skipInCommentsAndStrings'],
      skipRefusedSpots: settings['completion.skipRefusedSpots'],
    }),
    {
      getDocument: (uri) => documents.get(uri),
      onError: (error) => logger.debug('inline completion failed', error),
      displayPath: (uri) => relativePathOf(uri, workspaceRoots()),
    },
  );
  // The store logs and survives every sync problem itself (unknown document, range outside the text, version going back).
  const sync = createDocumentSync(documents, {
    changed: (uri) => assistant.documentChanged(uri),
    // Runs before `changed`, which would end the same prefetches as merely outdated.
    closed: (uri) => {
      sessions.forgetDocument(uri);
      completions.forget(uri);
      queue.cancelWhere((job) => job.spec.uri === uri && job.priority === 'background', 'The document was closed.', 'documentClosed');
    },
  });
  const context: FeatureContext = {
    completions,
    connection,
    assistant,
    queue,
    documents,
    sessions,
    usage,
    logger,
    redactor,
    version,
    settings: () => settings,
    capabilities: () => capabilities,
    apiKeyConfigured: () => model.hasApiKey(settings.model),
    offline: offline !== undefined,
  };

  function useSettings(raw: unknown, origin: string): void {
    const update = applySettings(configured, raw);
    for (const warning of update.warnings) logger.warn(`${warning} (from ${origin})`);
    configured = update.settings;
    settings = effectiveSettings(configured, offline !== undefined);
    redactor.add(settings.apiKey);
    redactor.add(env[settings['openai.apiKeyEnv']]);
    logger.level = settings.logLevel;
    queue.configure({
      concurrency: settings['queue.concurrency'],
      timeoutMs: settings['queue.timeoutMs'],
      maxQueued: settings['queue.maxQueued'],
      maxRetries: settings['queue.maxRetries'],
    });
    sessions.configure({ max: settings['sessions.max'], ttlMs: settings['sessions.ttlMs'], maxTurns: settings['sessions.maxTurns'] });
    network?.useCaFile(settings['tls.caFile']);
    // Another endpoint may serve a model of the same name differently.
    if (update.changed.some((key) => key.endsWith('baseURL'))) modelCapabilities.clear();
    if (update.changed.length > 0) logger.info(`settings changed: ${update.changed.join(', ')} (from ${origin})`);
  }

  return {
    connection,
    logger,
    version,
    documents,
    sync,
    queue,
    model,
    folders,
    lifecycle: new Lifecycle(),
    settingsPulls: new SettingsPulls(realClock),
    context,
    settings: () => settings,
    capabilities: () => capabilities,
    initialize(params) {
      capabilities = params.capabilities;
      folders.initialize(params);
      useSettings(params.initializationOptions, 'initializationOptions');
    },
    useSettings,
  };
}
