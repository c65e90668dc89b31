/** What the server declares in its `initialize` answer. */
import { CodeActionKind, TextDocumentSyncKind, type ServerCapabilities } from 'vscode-languageserver/node';
import type { Settings } from '../settings/config.js';
import { ActionKinds, allCommands } from '../protocol.js';

export function serverCapabilities(settings: Settings): ServerCapabilities {
  return {
    textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
    codeActionProvider: {
      codeActionKinds: [CodeActionKind.QuickFix, CodeActionKind.RefactorRewrite, ActionKinds.explainAlias],
      resolveProvider: true,
    },
    executeCommandProvider: { commands: [...allCommands] },
    // The agent reads only inside the folders, so it must hear when one is removed.
    workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
    inlineCompletionProvider: true,
    // Only on request: a completion provider is asked on every keystroke by some clients.
    ...(settings['completion.popup'] ? { completionProvider: {} } : {}),
  };
}
