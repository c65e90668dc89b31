/**
 * One `initialize` answer out of two: the wrapped server's capabilities with
 * efrit-lsp's merged in. Text sync is always incremental towards the editor
 * (efrit-lsp's document store needs it); a child that wants full sync is sent
 * full text by the router (see `childSyncKind`).
 */
import {
  TextDocumentSyncKind,
  type CodeActionOptions,
  type InitializeResult,
  type ServerCapabilities,
  type TextDocumentSyncOptions,
} from 'vscode-languageserver/node';

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
