/**
 * The composition root: builds every part once, registers every handler in
 * one readable list, declares the capabilities. Handlers here only route; the
 * translation lives in features/, the work in the domain modules.
 */
import {
  CodeActionKind,
  DidChangeConfigurationNotification,
  DidChangeWorkspaceFoldersNotification,
  ShowMessageNotification,
  MessageType,
  TextDocumentSyncKind,
  CancellationToken,
  ExecuteCommandRequest,
  type ClientCapabilities,
  type Connection,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { searchDeadlineFor, WorkspaceTools } from './agent/workspace-tools.js';
import { defaultInlineCompletionOptions, InlineCompletionEngine, systemClock } from './completion/completion-engine.js';
import { queuedCompletionModel } from './completion/queued-completion-model.js';
import { completionAccepted, completionItem, inlineCompletion } from './features/inline-completion.js';
import { Assistant } from './assistant/assistant.js';
import { applySettings, defaultSettings, type Settings } from './config.js';
import { DocumentStore } from './documents/document-store.js';
import { isEfritError } from './errors.js';
import { cancel, documentText, endSession, status } from './features/control.js';
import { applyJob, listCodeActions, resolveCodeAction, runAction } from './features/code-actions.js';
import { chat, doInstruction } from './features/conversation.js';
import { relativePathOf } from './context/capture-context.js';
import { createDocumentSync, type DocumentSync, type SyncMethod } from './features/document-sync.js';
import type { FeatureContext } from './features/feature-context.js';
import { Lifecycle } from './features/lifecycle.js';
import { WorkspaceFolders } from './features/workspace-folders.js';
import { LspJobReporter } from './features/job-reporter.js';
import { invalidParams, requireObject, requireString, toResponseError } from './features/respond.js';
import { isRecord } from './json-shape.js';
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

/** What the composition root hands back: the parts the proxy router shares with the server. */
export interface ServerParts {
  /** The one copy of every open document. */
  documents: DocumentStore;
  /** Applies sync notifications to it, for the proxy router, which sees them first. */
  sync: DocumentSync;
}

export function createServer({ connection, logger, version, env = process.env }: ServerOptions): ServerParts {
  let settings: Settings = defaultSettings();
  let capabilities: ClientCapabilities = {};
  const folders = new WorkspaceFolders(logger);
  const workspaceRoots = () => folders.paths();
  const lifecycle = new Lifecycle();
  let toldAboutMissingKey = false;
  const redactor = logger.redactor;

  const credentials = () => {
    const apiKey = settings.apiKey !== '' ? settings.apiKey : env['ANTHROPIC_API_KEY'];
    const baseURL = settings.baseURL !== '' ? settings.baseURL : env['ANTHROPIC_BASE_URL'];
    return { apiKey, baseURL };
  };
  redactor.add(env['ANTHROPIC_API_KEY']);

  const documents = new DocumentStore({ logger });
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
    roots: workspaceRoots,
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
    workspaceRoots,
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
    {
      getDocument: (uri) => documents.get(uri),
      onError: (error) => logger.debug('inline completion failed', error),
      displayPath: (uri) => relativePathOf(uri, workspaceRoots()),
    },
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

  /**
   * Every request handler: refused outside the server's lifetime (before
   * `initialize`, after `shutdown`) without running; errors become
   * ResponseErrors; a missing key is also said once out loud.
   */
  function answer<P, R>(method: string, handler: (params: P, token?: CancellationToken) => R | Promise<R>) {
    return async (params: P, token?: CancellationToken): Promise<Awaited<R>> => {
      try {
        lifecycle.checkRequest(method);
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

  /**
   * Every notification handler: dropped before `initialize` (as LSP asks), and
   * never throwing, since a notification has no answer to carry an error: a
   * malformed one is logged as a warning and survived.
   */
  function heed<P>(method: string, handler: (params: P) => void) {
    return (params: P): void => {
      if (!lifecycle.acceptsNotifications()) {
        logger.debug(`${method} before initialize was dropped.`);
        return;
      }
      try {
        handler(params);
      } catch (error) {
        logger.warn(`${method} could not be handled and was ignored`, error);
      }
    };
  }

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    capabilities = params.capabilities;
    folders.initialize(params);
    useSettings(params.initializationOptions, 'initializationOptions');
    lifecycle.initialized();
    // Here, not earlier: the library registers its own handler for folder changes (which reads params.event
    // unchecked) while it processes initialize, just before this handler runs; this one replaces it.
    connection.onNotification(
      DidChangeWorkspaceFoldersNotification.type,
      heed('workspace/didChangeWorkspaceFolders', (change: unknown) => folders.change(change)),
    );
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
        codeActionProvider: {
          codeActionKinds: [CodeActionKind.QuickFix, CodeActionKind.RefactorRewrite, 'refactor.explain'],
          resolveProvider: true,
        },
        executeCommandProvider: { commands: [...allCommands] },
        // The agent reads only inside the folders, so it must hear when one is removed.
        workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
        inlineCompletionProvider: true,
        // Only on request: a completion provider is asked on every keystroke by some clients.
        ...(settings['completion.popup'] ? { completionProvider: {} } : {}),
      },
      serverInfo: { name: 'efrit-lsp', version },
    };
  });

  connection.onInitialized(
    heed('initialized', () => {
      if (capabilities.workspace?.didChangeConfiguration?.dynamicRegistration === true) {
        void connection.client.register(DidChangeConfigurationNotification.type, { section: 'efrit' }).catch(() => undefined);
      }
      void pullSettings();
      if (!model.hasApiKey()) logger.info('No API key yet (ANTHROPIC_API_KEY or efrit.apiKey): model actions will say so when used.');
    }),
  );

  connection.onDidChangeConfiguration(
    heed('workspace/didChangeConfiguration', (params: unknown) => {
      if (capabilities.workspace?.configuration === true) {
        void pullSettings();
        return;
      }
      const pushed = isRecord(params) ? params['settings'] : undefined;
      useSettings(isRecord(pushed) ? (pushed['efrit'] ?? pushed) : pushed, 'didChangeConfiguration');
    }),
  );

  connection.onShutdown(() => {
    lifecycle.shutDown();
    queue.cancelWhere(() => true, 'The server is shutting down.', 'shuttingDown');
  });

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
  const syncHandler = (method: SyncMethod) => heed(method, (params: unknown) => void sync.apply(method, params));
  connection.onDidOpenTextDocument(syncHandler('textDocument/didOpen'));
  connection.onDidChangeTextDocument(syncHandler('textDocument/didChange'));
  connection.onDidCloseTextDocument(syncHandler('textDocument/didClose'));
  connection.onDidSaveTextDocument(() => undefined);

  connection.onCodeAction(answer('textDocument/codeAction', (params) => listCodeActions(context, params)));
  connection.onCodeActionResolve(answer('codeAction/resolve', (action, token) => resolveCodeAction(context, action, token ?? CancellationToken.None)));

  // onRequest, not onExecuteCommand: that one takes workDoneToken out of the params (into a progress reporter
  // of its own), and the token is the request's stream identity here.
  connection.onRequest(
    ExecuteCommandRequest.type,
    answer('workspace/executeCommand', async (raw: unknown, token) => {
      const params = requireObject(raw, 'workspace/executeCommand');
      const command = requireString(params, 'command', 'workspace/executeCommand');
      const commandArguments = params['arguments'];
      if (commandArguments !== undefined && commandArguments !== null && !Array.isArray(commandArguments)) {
        throw invalidParams('workspace/executeCommand: "arguments" must be a list.');
      }
      const argument: unknown = Array.isArray(commandArguments) ? commandArguments[0] : undefined;
      // ExecuteCommandParams' own workDoneToken, beside the one an argument may carry.
      const commandToken: unknown = params['workDoneToken'];
      switch (command) {
        case Commands.runAction:
          return runAction(context, argument, token, commandToken);
        case Commands.applyJob:
          return applyJob(context, argument, token, commandToken);
        case Commands.chat:
          return chat(context, argument, token, commandToken);
        case Commands.do:
          return doInstruction(context, argument, token, commandToken);
        case Commands.cancel:
          return cancel(context, argument);
        case Commands.status:
          return status(context);
        case Commands.completionAccepted:
          return completionAccepted(context, argument);
        default:
          throw invalidParams(`Unknown command "${command}"; efrit-lsp offers ${allCommands.join(', ')}.`);
      }
    }),
  );

  connection.languages.inlineCompletion.on(answer('textDocument/inlineCompletion', (params, token) => inlineCompletion(context, params, token)));
  connection.onCompletion(answer('textDocument/completion', (params, token) => completionItem(context, params, token)));
  connection.onRequest(Methods.chat, answer(Methods.chat, (params: unknown, token) => chat(context, params, token)));
  connection.onRequest(Methods.do, answer(Methods.do, (params: unknown, token) => doInstruction(context, params, token)));
  connection.onRequest(Methods.status, answer(Methods.status, () => status(context)));
  connection.onRequest(Methods.cancel, answer(Methods.cancel, (params: unknown) => cancel(context, params)));
  connection.onRequest(Methods.endSession, answer(Methods.endSession, (params: unknown) => endSession(context, params)));
  connection.onRequest(Methods.documentText, answer(Methods.documentText, (params: unknown) => documentText(context, params)));

  logger.attach((level, line) => {
    const type = { error: MessageType.Error, warn: MessageType.Warning, info: MessageType.Info, debug: MessageType.Log }[level];
    void connection.sendNotification('window/logMessage', { type, message: line }).catch(() => undefined);
  });
  return { documents, sync };
}
