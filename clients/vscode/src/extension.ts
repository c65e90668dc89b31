/**
 * The VS Code side of efrit-lsp: starts the bundled server over Node IPC with
 * vscode-languageclient (which brings document sync, the "Efrit: …" code
 * actions with codeAction/resolve, workspace/applyEdit, server progress and
 * the settings), and adds what plain LSP has no UI for: Chat, Do, Explain,
 * Status and Cancel commands, a chat transcript that `efrit/stream` text
 * streams into, a status bar item with the queue and token usage, and the
 * `efrit.offline` setting, which restarts the server with its demo model.
 * A change the server marks `needsConfirmation` (across files, by default)
 * is reviewed in VS Code's own Refactor Preview: the client library turns the
 * change annotation into the metadata that makes VS Code show it.
 *
 * The protocol logic lives in efrit-controller.ts, which the tests run
 * against the real server; this file is the VS Code glue around it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { CancellationToken, LanguageClient, ResponseError, State, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import { offlineRequested } from '../../../server/src/offline/offline-mode.js';
import { Methods, type StatusResult, type StreamParams } from '../../../server/src/protocol.js';
import { ExtensionCommands } from './command-ids.js';
import { extensionSettings, offlineSettingName, serverArgs, serverSection } from './extension-settings.js';
import {
  EfritController,
  Transcript,
  asksForConfirmation,
  awaitingReviewMessage,
  errorMessage,
  errorReason,
  explainDeclinedEdit,
  isCancellation,
  serverCancellation,
  statusBarView,
  type EditorContext,
} from './efrit-controller.js';

const statusPollMs = 10_000;
/** VS Code's own command behind the Refactor Preview's Discard button. */
const refactorPreviewDiscard = 'refactorPreview.discard';
/** Stream notifications come in bursts; one status request per burst is plenty. */
const statusAfterStreamMs = 400;

let client: LanguageClient | undefined;

/**
 * The server the extension runs: `EFRIT_LSP_SERVER` if set (a development
 * build elsewhere), else the bundle the .vsix ships, else, when running from
 * a checkout, the repository's own build.
 */
function serverModule(context: vscode.ExtensionContext): string {
  const override = process.env['EFRIT_LSP_SERVER'];
  if (override !== undefined && override !== '') return override;
  const shipped = context.asAbsolutePath(join('dist', 'server', 'efrit-lsp.cjs'));
  return existsSync(shipped) ? shipped : context.asAbsolutePath(join('..', '..', 'dist', 'efrit-lsp.cjs'));
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const chatChannel = vscode.window.createOutputChannel('Efrit Chat', 'markdown');
  const statusItem = vscode.window.createStatusBarItem('efrit.status', vscode.StatusBarAlignment.Right, 100);
  statusItem.name = 'Efrit';
  statusItem.text = '$(sparkle) Efrit';
  statusItem.tooltip = 'Efrit: starting…';
  statusItem.command = ExtensionCommands.status;
  statusItem.show();
  context.subscriptions.push(chatChannel, statusItem);

  const module = serverModule(context);
  const offline = (): boolean => vscode.workspace.getConfiguration().get<boolean>(offlineSettingName, extensionSettings.offline.default) === true;
  /** The setting's value the running server was started with. */
  let startedOffline: boolean | undefined;
  const startingOffline = (): boolean => (startedOffline = offline());
  // Getters: the client reads the arguments at every start, so a restart (or a restart after a crash) follows the setting.
  const serverOptions: ServerOptions = {
    run: {
      module,
      transport: TransportKind.ipc,
      get args() {
        return serverArgs(startingOffline());
      },
    },
    debug: {
      module,
      transport: TransportKind.ipc,
      get args() {
        return serverArgs(startingOffline());
      },
      options: { execArgv: ['--nolazy', '--inspect=6009'] },
    },
  };
  /** Fired as an edit goes to VS Code's Refactor Preview: a Do still shown as working is waiting for the user there. */
  const awaitingReview = new vscode.EventEmitter<void>();
  context.subscriptions.push(awaitingReview);
  const clientOptions: LanguageClientOptions = {
    // An assistant for any language: every file and unsaved buffer is synced.
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    // Settings: the server pulls the `efrit` section with workspace/configuration and registers for
    // didChangeConfiguration on it, so the client needs no (deprecated) synchronize.configurationSection,
    // which would only send every change twice.
    outputChannelName: 'Efrit',
    middleware: {
      workspace: {
        // The extension's own settings (efrit.offline) stay out of the section the server pulls.
        configuration: async (params, token, next) => {
          const values = await next(params, token);
          if (!Array.isArray(values)) return values;
          return values.map((value: unknown, index) => (params.items[index]?.section === 'efrit' ? serverSection(value) : value));
        },
        // A server about to be restarted for efrit.offline (or not running) is not told of the change:
        // the one that starts pulls the settings itself, and a notice sent into the restart fails.
        didChangeConfiguration: async (sections, next) => {
          if (languageClient.state !== State.Running || offline() !== startedOffline) return;
          await next(sections);
        },
        // Efrit's changes land as VS Code's own refactorings do (rename, a code action's edit): a change across
        // several files is saved when `files.refactoring.autoSave` is on (its default). Without it, the files the
        // user never opened would be left changed in unsaved, unseen buffers and a created file empty on disk.
        // A value the server sends itself wins. (The client passes the middleware no token, and its `next` uses none.)
        // A Discard in the Refactor Preview comes back as a bare `applied: false`: it is given its reason.
        handleApplyEdit: async (params, next) => {
          if (asksForConfirmation(params)) awaitingReview.fire();
          const result = await next({ ...params, metadata: { isRefactoring: true, ...params.metadata } }, CancellationToken.None);
          return result instanceof ResponseError ? result : explainDeclinedEdit(params, result);
        },
      },
    },
  };
  const languageClient = new LanguageClient('efrit-lsp', 'Efrit', serverOptions, clientOptions);
  client = languageClient;

  const transcript = new Transcript(chatChannel);
  transcript.onUnannouncedText = () => chatChannel.show(true);
  const controller = new EfritController<vscode.CancellationToken>(languageClient, transcript);

  // The status bar: refreshed after stream bursts, and polled while the window has focus.
  let statusTimer: NodeJS.Timeout | undefined;
  const showStatus = (status: StatusResult): void => {
    const view = statusBarView(status);
    statusItem.text = view.text;
    statusItem.tooltip = view.tooltip;
    statusItem.backgroundColor = view.warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  };
  const refreshStatus = async (): Promise<void> => {
    if (languageClient.state !== State.Running) return;
    try {
      showStatus(await controller.status());
    } catch (error) {
      statusItem.text = '$(error) Efrit';
      statusItem.tooltip = `Efrit: ${errorMessage(error)}`;
    }
  };
  const refreshSoon = (): void => {
    statusTimer ??= setTimeout(() => {
      statusTimer = undefined;
      void refreshStatus();
    }, statusAfterStreamMs);
  };
  const poll = setInterval(() => {
    if (vscode.window.state.focused) void refreshStatus();
  }, statusPollMs);
  context.subscriptions.push({
    dispose: () => {
      clearInterval(poll);
      clearTimeout(statusTimer);
    },
  });

  context.subscriptions.push(
    languageClient.onNotification(Methods.stream, (params: StreamParams) => {
      controller.onStream(params);
      refreshSoon();
    }),
    // A changed key or model shows at once: the server re-reads the section first and answers status after it.
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(offlineSettingName)) restartForOffline();
      else if (event.affectsConfiguration('efrit')) refreshSoon();
    }),
    languageClient.onDidChangeState(({ newState }) => {
      if (newState === State.Running) void refreshStatus();
      if (newState === State.Stopped) {
        statusItem.text = '$(circle-slash) Efrit';
        statusItem.tooltip = 'Efrit: the server is not running (see the "Efrit" output).';
      }
    }),
  );

  /**
   * The server reads offline only at start, so turning the setting on or off
   * restarts it at once (no question asked: the setting was just changed on
   * purpose, and a restart loses only the chat sessions), and says which model
   * answers from now on. Restarts run one after another, and one whose value
   * the server already started with is skipped (a change in another scope, or
   * a quick toggle back).
   */
  let restarts = Promise.resolve();
  const restartIfOfflineChanged = async (): Promise<void> => {
    const setting = offline();
    if (setting === startedOffline) return;
    // The server is forked with VS Code's environment, where EFRIT_OFFLINE keeps it offline whatever the setting says.
    const forcedByEnvironment = !setting && offlineRequested([], process.env);
    try {
      if (languageClient.state === State.Stopped) await languageClient.start();
      else await languageClient.restart();
      let message = 'Efrit: restarted with the model API.';
      if (setting) message = 'Efrit: restarted offline: the built-in demo model answers; nothing is sent to an API.';
      if (forcedByEnvironment) message = "Efrit: restarted, still offline: EFRIT_OFFLINE is set in VS Code's environment.";
      void vscode.window.showInformationMessage(message);
    } catch (error) {
      void vscode.window.showErrorMessage(`Efrit: the server did not restart: ${errorMessage(error)}`);
    }
  };
  const restartForOffline = (): void => {
    restarts = restarts.then(restartIfOfflineChanged);
  };

  /** The active editor as the server knows it; undefined when there is none or it is not synced. */
  const editorContext = (options: { wholeLineIfEmpty?: boolean } = {}): (EditorContext & { selectionEmpty: boolean }) | undefined => {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined || !['file', 'untitled'].includes(editor.document.uri.scheme)) return undefined;
    const converter = languageClient.code2ProtocolConverter;
    const textDocument = { uri: converter.asUri(editor.document.uri) };
    const { selection } = editor;
    if (!selection.isEmpty) return { textDocument, range: converter.asRange(selection), selectionEmpty: false };
    if (options.wholeLineIfEmpty === true) return { textDocument, range: converter.asRange(editor.document.lineAt(selection.active.line).range), selectionEmpty: true };
    return { textDocument, selectionEmpty: true };
  };

  /** Runs a command body, showing failures (but not cancellations) as VS Code errors. */
  const guarded =
    <A extends unknown[]>(body: (...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      try {
        await body(...args);
      } catch (error) {
        if (isCancellation(error)) return;
        const cancelledByServer = serverCancellation(error);
        if (cancelledByServer !== undefined) {
          void vscode.window.showWarningMessage(`Efrit: ${cancelledByServer}`);
          return;
        }
        const message = `Efrit: ${errorMessage(error)}`;
        // The change was not applied (most often: discarded in the Refactor Preview): said, but not as a failure.
        if (errorReason(error) === 'editRejected') {
          void vscode.window.showWarningMessage(message);
          return;
        }
        if (errorReason(error) === 'noApiKey') {
          const choice = await vscode.window.showErrorMessage(message, 'Open Settings');
          if (choice === 'Open Settings') await vscode.commands.executeCommand('workbench.action.openSettings', 'efrit.apiKey');
        } else {
          void vscode.window.showErrorMessage(message);
        }
      } finally {
        refreshSoon();
      }
    };

  const withCancellableProgress = <R>(title: string, task: (token: vscode.CancellationToken, progress: vscode.Progress<{ message?: string }>) => Promise<R>): Thenable<R> =>
    vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => task(token, progress));

  context.subscriptions.push(
    vscode.commands.registerCommand(
      ExtensionCommands.chat,
      guarded(async (preset?: unknown) => {
        const message =
          typeof preset === 'string'
            ? preset
            : await vscode.window.showInputBox({
                title: controller.chatSessionId === undefined ? 'Efrit: Chat' : 'Efrit: Chat (continued; "Efrit: New Chat" starts over)',
                prompt: 'Ask about the selection, the file or anything else',
                ignoreFocusOut: true,
              });
        if (message === undefined || message.trim() === '') return;
        chatChannel.show(true);
        const target = editorContext();
        // The server's own work-done progress already shows in the status bar; Efrit: Cancel stops a long answer.
        await controller.chat(message, target === undefined ? undefined : withoutFlag(target));
      }),
    ),
    vscode.commands.registerCommand(
      ExtensionCommands.newChat,
      guarded(async () => {
        chatChannel.show(true);
        await controller.newChat();
      }),
    ),
    vscode.commands.registerCommand(
      ExtensionCommands.do,
      guarded(async (preset?: unknown) => {
        const target = editorContext();
        if (target === undefined) {
          void vscode.window.showWarningMessage('Efrit: Do works on the file in the active editor; open one first.');
          return;
        }
        const instruction =
          typeof preset === 'string'
            ? preset
            : await vscode.window.showInputBox({
                title: 'Efrit: Do',
                prompt: target.selectionEmpty ? 'What should change in this file?' : 'What should change in the selection?',
                ignoreFocusOut: true,
              });
        if (instruction === undefined || instruction.trim() === '') return;
        chatChannel.show(true);
        const result = await withCancellableProgress('Efrit: working…', async (token, progress) => {
          let inReview = false;
          const reviewing = awaitingReview.event(() => {
            inReview = true;
            progress.report({ message: awaitingReviewMessage });
          });
          // Cancelling a Do whose change waits in the Refactor Preview discards it there: cancelled means nothing changes.
          const cancelling = token.onCancellationRequested(() => {
            if (inReview) void vscode.commands.executeCommand(refactorPreviewDiscard);
          });
          try {
            return await controller.do(instruction, withoutFlag(target), token);
          } finally {
            reviewing.dispose();
            cancelling.dispose();
          }
        });
        if (result.applied) void vscode.window.showInformationMessage(`Efrit: ${result.summary}`);
      }),
    ),
    vscode.commands.registerCommand(
      ExtensionCommands.explain,
      guarded(async () => {
        const target = editorContext({ wholeLineIfEmpty: true });
        if (target?.range === undefined) {
          void vscode.window.showWarningMessage('Efrit: Explain works on the selection in the active editor.');
          return;
        }
        chatChannel.show(true);
        const range = target.range;
        await withCancellableProgress('Efrit: explaining…', (token) => controller.explain({ textDocument: target.textDocument, range }, token));
      }),
    ),
    vscode.commands.registerCommand(
      ExtensionCommands.status,
      guarded(async () => {
        const status = await controller.status();
        showStatus(status);
        const view = statusBarView(status);
        transcript.note('');
        for (const line of view.tooltip.split('\n')) transcript.note(line);
        chatChannel.show(true);
      }),
    ),
    vscode.commands.registerCommand(
      ExtensionCommands.cancel,
      guarded(async () => {
        const { cancelled } = await controller.cancelAll();
        void vscode.window.showInformationMessage(cancelled === 0 ? 'Efrit: nothing to cancel.' : `Efrit: cancelled ${cancelled} job${cancelled === 1 ? '' : 's'}.`);
      }),
    ),
  );

  try {
    await languageClient.start();
  } catch (error) {
    void vscode.window.showErrorMessage(`Efrit: the server did not start: ${errorMessage(error)}`);
  }
}

function withoutFlag(target: EditorContext & { selectionEmpty: boolean }): EditorContext {
  return target.range === undefined ? { textDocument: target.textDocument } : { textDocument: target.textDocument, range: target.range };
}

export function deactivate(): Promise<void> | undefined {
  return client?.stop();
}
