/**
 * The composition root: builds every part once, registers every handler in
 * one readable list, declares the capabilities. Handlers here only route; the
 * translation lives in features/, the work in the domain modules.
 */
import {
  CodeActionKind,
  DidChangeConfigurationNotification,
  ShowMessageNotification,
  MessageType,
  TextDocumentSyncKind,
  CancellationToken,
  type ClientCapabilities,
  type Connection,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { fileURLToPath } from 'node:url';
import { searchDeadlineFor, WorkspaceTools } from './agent/workspace-tools.js';
import { defaultInlineCompletionOptions, InlineCompletionEngine, systemClock } from './completion/inline-completion.js';
import { queuedCompletionModel } from './completion/queued-completion-model.js';
import { completionAccepted, completionItem, inlineCompletion } from './features/inline-completion.js';
import { Assistant } from './assistant/assistant.js';
import { applySettings, defaultSettings, type Settings } from './config.js';
import { DocumentStore } from './documents/document-store.js';
import { createMemoryReleaser } from './memory-release.js';
import { isEfritError } from './errors.js';
import { cancel, documentText, endSession, status } from './features/control.js';
import { applyJob, listCodeActions, resolveCodeAction, runAction } from './features/code-actions.js';
import { chat, doInstruction } from './features/conversation.js';
import type { FeatureContext } from './features/feature-context.js';
import { LspJobReporter } from './features/job-reporter.js';
import { invalidParams, toResponseError } from './features/respond.js';
import type { ServerLogger } from './logger.js';
import { ModelClient } from './model/model-client.js';
import { UsageMeter } from './model/usage-meter.js';
import { allCommands, Commands, Methods } from './protocol.js';
import { JobQueue } from './queue/job-queue.js';
import { SessionStore } from './sessions/session-store.js';

export interface ServerOptions {
  connection: Connection;
  logger: ServerLogger;
  version: string;
  /** The process environment, injectable for tests. */
  env?: NodeJS.ProcessEnv;
}

function workspaceRootsOf(params: InitializeParams): string[] {
  const uris = params.workspaceFolders?.map((folder) => folder.uri) ?? (params.rootUri !== null && params.rootUri !== undefined ? [params.rootUri] : []);
  return uris.flatMap((uri) => {
    try {
      return uri.startsWith('file:') ? [fileURLToPath(uri)] : [];
    } catch {
      return [];
    }
  });
}

export function createServer({ connection, logger, version, env = process.env }: ServerOptions): void {
  let settings: Settings = defaultSettings();
  let capabilities: ClientCapabilities = {};
  let workspaceRoots: string[] = [];
  let toldAboutMissingKey = false;
  const redactor = logger.redactor;

  const credentials = () => {
    const apiKey = settings.apiKey !== '' ? settings.apiKey : env['ANTHROPIC_API_KEY'];
    const baseURL = settings.baseURL !== '' ? settings.baseURL : env['ANTHROPIC_BASE_URL'];
    return { apiKey, baseURL };
  };
  redactor.add(env['ANTHROPIC_API_KEY']);

  const documents = new DocumentStore({ logger });
  const memory = createMemoryReleaser({ logger });
  const queue = new JobQueue({ concurrency: settings['queue.concurrency'], timeoutMs: settings['queue.timeoutMs'] });
  const sessions = new SessionStore({
    max: settings['sessions.max'],
    ttlMs: settings['sessions.ttlMs'],
    maxTurns: settings['sessions.maxTurns'],
    onDrop: (sessionId) => logger.debug(`session ${sessionId} dropped`),
  });
  const usage = new UsageMeter();
  const model = new ModelClient(credentials, logger);
  const reporter = new LspJobReporter(connection, () => capabilities.window?.workDoneProgress === true, redactor, logger);
  const tools = new WorkspaceTools({
    roots: () => workspaceRoots,
    documents,
    allowSecretFiles: () => settings['agent.allowSecretFiles'],
    searchDeadlineMs: () => searchDeadlineFor(settings['queue.timeoutMs']),
  });
  const assistant = new Assistant({
    tools,
    documents,
    queue,
    model,
    sessions,
    usage,
    reporter,
    logger,
    settings: () => settings,
    workspaceRoots: () => workspaceRoots,
  });
  const completions = new InlineCompletionEngine(
    queuedCompletionModel({ queue, model, usage, settings: () => settings }),
    systemClock,
    () => ({
      ...defaultInlineCompletionOptions,
      maxCallsPerMinute: settings['completion.maxCallsPerMinute'],
      skipInCommentsAndStrings: settings['completion.skipInCommentsAndStrings'],
      skipRefusedSpots: settings['completion.skipRefusedSpots'],
    }),
    { getDocument: (uri) => documents.get(uri), onError: (error) => logger.debug('inline completion failed', error) },
  );
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
    apiKeyConfigured: () => model.hasApiKey(),
  };

  function useSettings(raw: unknown, origin: string): void {
    const update = applySettings(settings, raw);
    for (const warning of update.warnings) logger.warn(`${warning} (from ${origin})`);
    settings = update.settings;
    redactor.add(settings.apiKey);
    logger.level = settings.logLevel;
    queue.configure({
      concurrency: settings['queue.concurrency'],
      timeoutMs: settings['queue.timeoutMs'],
      maxQueued: settings['queue.maxQueued'],
      maxRetries: settings['queue.maxRetries'],
    });
    sessions.configure({ max: settings['sessions.max'], ttlMs: settings['sessions.ttlMs'], maxTurns: settings['sessions.maxTurns'] });
    if (update.changed.length > 0) logger.info(`settings changed: ${update.changed.join(', ')} (from ${origin})`);
  }

  async function pullSettings(): Promise<void> {
    if (capabilities.workspace?.configuration !== true) return;
    try {
      const [section] = (await connection.workspace.getConfiguration([{ section: 'efrit' }])) as unknown[];
      useSettings(section, 'workspace/configuration');
    } catch (error) {
      logger.warn('workspace/configuration failed; keeping the current settings', error);
    }
  }

  /** Every request handler: errors become ResponseErrors; a missing key is also said once out loud. */
  function answer<P, R>(handler: (params: P, token?: CancellationToken) => R | Promise<R>) {
    return async (params: P, token?: CancellationToken): Promise<Awaited<R>> => {
      try {
        return await handler(params, token);
      } catch (error) {
        if (isEfritError(error) && error.reason === 'noApiKey' && !toldAboutMissingKey) {
          toldAboutMissingKey = true;
          void connection.sendNotification(ShowMessageNotification.type, { type: MessageType.Error, message: `Efrit: ${error.message}` });
        }
        throw toResponseError(error, redactor, logger);
      }
    };
  }

  connection.onInitialize((params): InitializeResult => {
    capabilities = params.capabilities;
    workspaceRoots = workspaceRootsOf(params);
    useSettings(params.initializationOptions, 'initializationOptions');
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
        codeActionProvider: {
          codeActionKinds: [CodeActionKind.QuickFix, CodeActionKind.RefactorRewrite, 'refactor.explain'],
          resolveProvider: true,
        },
        executeCommandProvider: { commands: [...allCommands] },
        inlineCompletionProvider: true,
        // Only on request: a completion provider is asked on every keystroke by some clients.
        ...(settings['completion.popup'] ? { completionProvider: {} } : {}),
      },
      serverInfo: { name: 'efrit-lsp', version },
    };
  });

  connection.onInitialized(() => {
    if (capabilities.workspace?.didChangeConfiguration?.dynamicRegistration === true) {
      void connection.client.register(DidChangeConfigurationNotification.type, { section: 'efrit' }).catch(() => undefined);
    }
    void pullSettings();
    if (!model.hasApiKey()) logger.info('No API key yet (ANTHROPIC_API_KEY or efrit.apiKey): model actions will say so when used.');
  });

  connection.onDidChangeConfiguration((params) => {
    if (capabilities.workspace?.configuration === true) void pullSettings();
    else useSettings((params?.settings as Record<string, unknown> | null | undefined)?.['efrit'] ?? params?.settings, 'didChangeConfiguration');
  });

  connection.onShutdown(() => {
    queue.cancelWhere(() => true, 'The server is shutting down.');
    memory.dispose();
  });

  // The store logs and survives every sync problem itself (unknown document, range outside the text, version going back).
  // A notification cannot be answered with an error, so a malformed one is logged as a warning and dropped.
  const uriOf = (params: { textDocument?: { uri?: unknown } } | null | undefined, method: string): string | undefined => {
    const uri = params?.textDocument?.uri;
    if (typeof uri === 'string' && uri !== '') return uri;
    logger.warn(`${method} without textDocument.uri was ignored.`);
    return undefined;
  };
  connection.onDidOpenTextDocument((params) => {
    documents.open(params?.textDocument);
  });
  connection.onDidChangeTextDocument((params) => {
    const uri = uriOf(params, 'textDocument/didChange');
    if (uri === undefined) return;
    documents.change(uri, params.textDocument.version, params.contentChanges);
    // Each change leaves the document's previous text behind as garbage.
    memory.textDiscarded(documents.get(uri)?.text.length ?? 0);
    assistant.documentChanged(uri);
  });
  connection.onDidCloseTextDocument((params) => {
    const uri = uriOf(params, 'textDocument/didClose');
    if (uri === undefined) return;
    const textDocument = { uri };
    const closedChars = documents.get(uri)?.text.length ?? 0;
    if (documents.close(textDocument.uri)) memory.textDiscarded(closedChars);
    sessions.forgetDocument(textDocument.uri);
    completions.forget(textDocument.uri);
    assistant.documentChanged(textDocument.uri);
    queue.cancelWhere((job) => job.spec.uri === textDocument.uri && job.priority === 'background', 'The document was closed.');
  });
  connection.onDidSaveTextDocument(() => undefined);

  connection.onCodeAction(answer((params) => listCodeActions(context, params)));
  connection.onCodeActionResolve(answer((action, token) => resolveCodeAction(context, action, token ?? CancellationToken.None)));

  connection.onExecuteCommand(
    answer(async (params, token) => {
      const argument: unknown = params.arguments?.[0];
      switch (params.command) {
        case Commands.runAction:
          return runAction(context, argument, token);
        case Commands.applyJob:
          return applyJob(context, argument, token);
        case Commands.chat:
          return chat(context, argument, token);
        case Commands.do:
          return doInstruction(context, argument, token);
        case Commands.cancel:
          return cancel(context, argument);
        case Commands.status:
          return status(context);
        case Commands.completionAccepted:
          return completionAccepted(context, argument);
        default:
          throw invalidParams(`Unknown command "${params.command}"; efrit-lsp offers ${allCommands.join(', ')}.`);
      }
    }),
  );

  connection.languages.inlineCompletion.on(answer((params, token) => inlineCompletion(context, params, token)));
  connection.onCompletion(answer((params, token) => completionItem(context, params, token)));
  connection.onRequest(Methods.chat, answer((params: unknown, token) => chat(context, params, token)));
  connection.onRequest(Methods.do, answer((params: unknown, token) => doInstruction(context, params, token)));
  connection.onRequest(Methods.status, answer(() => status(context)));
  connection.onRequest(Methods.cancel, answer((params: unknown) => cancel(context, params)));
  connection.onRequest(Methods.endSession, answer((params: unknown) => endSession(context, params)));
  connection.onRequest(Methods.documentText, answer((params: unknown) => documentText(context, params)));

  logger.attach((level, line) => {
    const type = { error: MessageType.Error, warn: MessageType.Warning, info: MessageType.Info, debug: MessageType.Log }[level];
    void connection.sendNotification('window/logMessage', { type, message: line }).catch(() => undefined);
  });
}
