/**
 * The extension's own command ids, as contributed in package.json. The
 * server's `efrit.*` commands (efrit.runAction, efrit.chat, …) are registered
 * in VS Code by the LanguageClient itself, so these must not reuse them (a
 * test checks).
 */
export const ExtensionCommands = {
  chat: 'efrit.vscode.chat',
  newChat: 'efrit.vscode.newChat',
  do: 'efrit.vscode.do',
  explain: 'efrit.vscode.explain',
  status: 'efrit.vscode.status',
  cancel: 'efrit.vscode.cancel',
} as const;
