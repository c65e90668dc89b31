/**
 * One `initialize` answer out of two: the wrapped server's capabilities with
 * efrit-lsp's merged in, so that everything efrit-lsp declares alone it still
 * declares in front of another server. Text sync is always incremental
 * towards the editor (efrit-lsp's document store needs it); a child that wants
 * full sync is sent full text by the router (see `childSyncKind`).
 */
import {
  TextDocumentSyncKind,
  type CodeActionOptions,
  type InitializeResult,
  type ServerCapabilities,
  type TextDocumentSyncOptions,
} from 'vscode-languageserver/node';

type WorkspaceFoldersServerCapabilities = NonNullable<NonNullable<ServerCapabilities['workspace']>['workspaceFolders']>;

/** How the child wants `didChange`: None, Full or Incremental. */
export function childSyncKind(capabilities: ServerCapabilities | undefined): TextDocumentSyncKind {
  const sync = capabilities?.textDocumentSync;
  if (typeof sync === 'number') return sync;
  return sync?.change ?? TextDocumentSyncKind.None;
}

function mergeCodeActions(child: ServerCapabilities['codeActionProvider'], efrit: ServerCapabilities['codeActionProvider']): ServerCapabilities['codeActionProvider'] {
  if (child === undefined || child === false) return efrit;
  if (efrit === undefined || efrit === false) return child;
  // `true` (every kind, no resolve) spreads to no fields at all.
  const a: CodeActionOptions = { ...(child as CodeActionOptions) };
  const b: CodeActionOptions = { ...(efrit as CodeActionOptions) };
  const merged: CodeActionOptions = {};
  // A side without a kind list offers every kind; a union with it must not narrow it.
  if (a.codeActionKinds !== undefined && b.codeActionKinds !== undefined) merged.codeActionKinds = [...new Set([...a.codeActionKinds, ...b.codeActionKinds])];
  if (a.resolveProvider === true || b.resolveProvider === true) merged.resolveProvider = true;
  return merged;
}

/**
 * Requests that go to efrit-lsp although their method is not `efrit/*`: the
 * features only one server can answer that efrit-lsp brings and the editor
 * would otherwise ask the wrapped server for. Ghost text is efrit-lsp's
 * whenever it offers it (an editor shows one suggestion, and efrit-lsp's is
 * the one asked for); popup completion only when the wrapped server has none,
 * since a language server's own completion is what an editor's popup is for.
 */
export function methodsEfritAnswers(child: ServerCapabilities | undefined, efrit: ServerCapabilities): Set<string> {
  const methods = new Set<string>();
  if (isOffered(efrit.inlineCompletionProvider)) methods.add('textDocument/inlineCompletion');
  if (isOffered(efrit.completionProvider) && !isOffered(child?.completionProvider)) {
    methods.add('textDocument/completion');
    methods.add('completionItem/resolve');
  }
  return methods;
}

/** A capability is offered when it is present and not `false`. */
function isOffered(capability: unknown): boolean {
  return capability !== undefined && capability !== false;
}

/** Workspace folder support is the union of both sides': each needs to hear of a folder removed. */
function mergeWorkspaceFolders(child: WorkspaceFoldersServerCapabilities | undefined, efrit: WorkspaceFoldersServerCapabilities | undefined): WorkspaceFoldersServerCapabilities | undefined {
  if (child === undefined) return efrit;
  if (efrit === undefined) return child;
  const notify = isOffered(child.changeNotifications) || isOffered(efrit.changeNotifications);
  return { supported: child.supported === true || efrit.supported === true, ...(notify ? { changeNotifications: true } : {}) };
}

export function mergeInitializeResults(child: InitializeResult | undefined, efrit: InitializeResult): InitializeResult {
  const childCaps: ServerCapabilities = child?.capabilities ?? {};
  const efritCaps = efrit.capabilities;
  const childSync = childCaps.textDocumentSync;
  const efritSync = (typeof efritCaps.textDocumentSync === 'object' ? efritCaps.textDocumentSync : {}) as TextDocumentSyncOptions;
  const childSave = typeof childSync === 'object' ? childSync.save : undefined;
  const childWantsSavedText = typeof childSave === 'object' && childSave.includeText === true;
  const capabilities: ServerCapabilities = {
    ...childCaps,
    textDocumentSync: {
      ...efritSync,
      openClose: true,
      change: TextDocumentSyncKind.Incremental,
      save: { includeText: childWantsSavedText },
    },
  };
  const answeredByEfrit = methodsEfritAnswers(child?.capabilities, efritCaps);
  if (answeredByEfrit.has('textDocument/inlineCompletion')) capabilities.inlineCompletionProvider = efritCaps.inlineCompletionProvider!;
  if (answeredByEfrit.has('textDocument/completion')) capabilities.completionProvider = efritCaps.completionProvider!;
  const workspaceFolders = mergeWorkspaceFolders(childCaps.workspace?.workspaceFolders, efritCaps.workspace?.workspaceFolders);
  if (workspaceFolders !== undefined) capabilities.workspace = { ...childCaps.workspace, workspaceFolders };
  const codeActionProvider = mergeCodeActions(childCaps.codeActionProvider, efritCaps.codeActionProvider);
  if (codeActionProvider !== undefined) capabilities.codeActionProvider = codeActionProvider;
  const commands = [...new Set([...(childCaps.executeCommandProvider?.commands ?? []), ...(efritCaps.executeCommandProvider?.commands ?? [])])];
  capabilities.executeCommandProvider = { commands };
  const childName = child?.serverInfo?.name;
  return {
    capabilities,
    serverInfo: {
      name: childName === undefined ? (efrit.serverInfo?.name ?? 'efrit-lsp') : `efrit-lsp + ${childName}`,
      ...(efrit.serverInfo?.version !== undefined ? { version: efrit.serverInfo.version } : {}),
    },
  };
}
