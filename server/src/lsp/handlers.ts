/**
 * Every handler the server registers, in one list, each a line that routes an
 * LSP message to its feature. Two wrappers give every handler the same rules:
 * `answer` for requests (refused outside the server's lifetime, every error a
 * ResponseError a person can act on) and `heed` for notifications (dropped
 * before `initialize`, never throwing).
 */
import {
  CancellationToken,
  DidChangeConfigurationNotification,
  DidChangeWorkspaceFoldersNotification,
  ExecuteCommandRequest,
  MessageType,
  ShowMessageNotification,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { isEfritError } from '../common/errors.js';
import { applyJob, listCodeActions, resolveCodeAction, runAction } from '../features/code-actions.js';
import { cancel, documentText, endSession, status } from '../features/control.js';
import { chat, doInstruction, rejectJob } from '../features/conversation.js';
import type { SyncMethod } from '../features/document-sync.js';
import { completionAccepted, completionItem, inlineCompletion } from '../features/inline-completion.js';
import { invalidParams, requireObject, requireString, toResponseError } from '../features/respond.js';
import { isRecord } from '../common/json-shape.js';
import { allCommands, Commands, Methods, type StatusResult } from '../protocol.js';
import { serverCapabilities } from './capabilities.js';
import type { Services } from './services.js';

export function registerHandlers(services: Services): void {
  const { connection, logger, lifecycle, context, settingsPulls } = services;
  let toldAboutMissingKey = false;

  function answer<P, R>(method: string, handler: (params: P, token?: CancellationToken) => R | Promise<R>) {
    return async (params: P, token?: CancellationToken): Promise<Awaited<R>> => {
      try {
        lifecycle.checkRequest(method);
        return await handler(params, token);
      } catch (error) {
        // A missing key is also said once out loud: the user may not look at the failed request's error.
        if (isEfritError(error) && error.reason === 'noApiKey' && !toldAboutMissingKey) {
          toldAboutMissingKey = true;
          void connection.sendNotification(ShowMessageNotification.type, { type: MessageType.Error, message: `Efrit: ${error.message}` });
        }
        throw toResponseError(error, logger.redactor, logger);
      }
    };
  }

  function heed<P>(method: string, handler: (params: P) => void) {
    return (params: P): void => {
      if (!lifecycle.acceptsNotifications()) {
        logger.debug(`${method} before initialize was dropped.`);
        return;
      }
      try {
        handler(params);
      } catch (error) {
        // A notification has no answer to carry an error: a malformed one is logged and survived.
        logger.warn(`${method} could not be handled and was ignored`, error);
      }
    };
  }

  function pullSettings(): void {
    if (services.capabilities().workspace?.configuration !== true) return;
    settingsPulls.track(
      (async () => {
        try {
          const [section] = (await connection.workspace.getConfiguration([{ section: 'efrit' }])) as unknown[];
          services.useSettings(section, 'workspace/configuration');
        } catch (error) {
          logger.warn('workspace/configuration failed; keeping the current settings', error);
        }
      })(),
    );
  }

  /**
   * A request that calls the model, sent while no key is known and the
   * client's settings are still on the way (right after start, or after a
   * change), waits for them (bounded), so a key set as a setting is not
   * "missing" for the first action. With a key at hand it runs at once, in
   * the order requests came.
   */
  async function withKeyFromSettings<R>(run: () => R | Promise<R>): Promise<Awaited<R>> {
    if (!services.model.hasApiKey()) await settingsPulls.settled();
    return await run();
  }

  /** The status as of the settings the client has: after the pulls in flight have answered (bounded). */
  function statusWithSettings(): Promise<StatusResult> {
    return settingsPulls.settled().then(() => status(context));
  }

  // ── lifecycle and workspace ─────────────────────────────────────────────

  connection.onInitialize((params: InitializeParams): InitializeResult => {
    services.initialize(params);
    lifecycle.initialized();
    // Here, not earlier: the library registers its own handler for folder changes (which reads params.event
    // unchecked) while it processes initialize, just before this handler runs; this one replaces it.
    connection.onNotification(
      DidChangeWorkspaceFoldersNotification.type,
      heed('workspace/didChangeWorkspaceFolders', (change: unknown) => services.folders.change(change)),
    );
    return { capabilities: serverCapabilities(services.settings()), serverInfo: { name: 'efrit-lsp', version: services.version } };
  });
  connection.onInitialized(
    heed('initialized', () => {
      if (services.capabilities().workspace?.didChangeConfiguration?.dynamicRegistration === true) {
        void connection.client.register(DidChangeConfigurationNotification.type, { section: 'efrit' }).catch(() => undefined);
      }
      pullSettings();
      // After the pulled settings, which may carry the key.
      void settingsPulls.settled().then(() => {
        if (!services.model.hasApiKey()) logger.info('No API key yet (ANTHROPIC_API_KEY or efrit.apiKey): model actions will say so when used.');
      });
    }),
  );
  connection.onDidChangeConfiguration(
    heed('workspace/didChangeConfiguration', (params: unknown) => {
      if (services.capabilities().workspace?.configuration === true) {
        pullSettings();
        return;
      }
      const pushed = isRecord(params) ? params['settings'] : undefined;
      services.useSettings(isRecord(pushed) ? (pushed['efrit'] ?? pushed) : pushed, 'didChangeConfiguration');
    }),
  );
  connection.onShutdown(() => {
    lifecycle.shutDown();
    services.queue.cancelWhere(() => true, 'The server is shutting down.', 'shuttingDown');
  });

  // ── documents ───────────────────────────────────────────────────────────

  const sync = (method: SyncMethod) => heed(method, (params: unknown) => void services.sync.apply(method, params));
  connection.onDidOpenTextDocument(sync('textDocument/didOpen'));
  connection.onDidChangeTextDocument(sync('textDocument/didChange'));
  connection.onDidCloseTextDocument(sync('textDocument/didClose'));
  connection.onDidSaveTextDocument(() => undefined);

  // ── code actions and commands ───────────────────────────────────────────

  connection.onCodeAction(answer('textDocument/codeAction', (params) => listCodeActions(context, params)));
  connection.onCodeActionResolve(answer('codeAction/resolve', (action, token) => withKeyFromSettings(() => resolveCodeAction(context, action, token ?? CancellationToken.None))));
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
          return withKeyFromSettings(() => runAction(context, argument, token, commandToken));
        case Commands.applyJob:
          return applyJob(context, argument, token, commandToken);
        case Commands.rejectJob:
          return rejectJob(context, argument);
        case Commands.chat:
          return withKeyFromSettings(() => chat(context, argument, token, commandToken));
        case Commands.do:
          return withKeyFromSettings(() => doInstruction(context, argument, token, commandToken));
        case Commands.cancel:
          return cancel(context, argument);
        case Commands.status:
          return statusWithSettings();
        case Commands.completionAccepted:
          return completionAccepted(context, argument);
        default:
          throw invalidParams(`Unknown command "${command}"; efrit-lsp offers ${allCommands.join(', ')}.`);
      }
    }),
  );

  // ── completion ──────────────────────────────────────────────────────────

  connection.languages.inlineCompletion.on(answer('textDocument/inlineCompletion', (params, token) => inlineCompletion(context, params, token)));
  connection.onCompletion(answer('textDocument/completion', (params, token) => completionItem(context, params, token)));

  // ── efrit's own requests ────────────────────────────────────────────────

  connection.onRequest(Methods.chat, answer(Methods.chat, (params: unknown, token) => withKeyFromSettings(() => chat(context, params, token))));
  connection.onRequest(Methods.do, answer(Methods.do, (params: unknown, token) => withKeyFromSettings(() => doInstruction(context, params, token))));
  connection.onRequest(Methods.status, answer(Methods.status, statusWithSettings));
  connection.onRequest(Methods.cancel, answer(Methods.cancel, (params: unknown) => cancel(context, params)));
  connection.onRequest(Methods.endSession, answer(Methods.endSession, (params: unknown) => endSession(context, params)));
  connection.onRequest(Methods.documentText, answer(Methods.documentText, (params: unknown) => documentText(context, params)));

  // ── the log, to the client ──────────────────────────────────────────────

  logger.attach((level, line) => {
    const type = { error: MessageType.Error, warn: MessageType.Warning, info: MessageType.Info, debug: MessageType.Log }[level];
    void connection.sendNotification('window/logMessage', { type, message: line }).catch(() => undefined);
  });
}
