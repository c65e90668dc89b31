/**
 * The `initialize` answer the editor gets in proxy mode: the wrapped server's
 * capabilities with efrit-lsp's merged in, and how the wrapped server wants
 * its document changes.
 */
import { TextDocumentSyncKind, type InitializeResult, type ServerCapabilities } from 'vscode-languageserver/node';
import { describe, expect, it } from 'vitest';
import { childSyncKind, mergeInitializeResults, methodsEfritAnswers } from '../../server/src/proxy/capabilities.js';
import { serverCapabilities } from '../../server/src/lsp/capabilities.js';
import { defaultSettings } from '../../server/src/settings/config.js';

/** efrit-lsp's own answer, as server.ts declares it (abridged). */
const efrit: InitializeResult = {
  capabilities: {
    textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: false },
    codeActionProvider: { codeActionKinds: ['quickfix', 'refactor.rewrite'], resolveProvider: true },
    executeCommandProvider: { commands: ['efrit.runAction', 'efrit.status'] },
  },
  serverInfo: { name: 'efrit-lsp', version: '0.1.0' },
};

/** The wrapped server's answer; `null` for one that gives no serverInfo. */
const pylsp = (capabilities: ServerCapabilities, name: string | null = 'pylsp'): InitializeResult => ({
  capabilities,
  ...(name === null ? {} : { serverInfo: { name, version: '1.12.0' } }),
});

/** efrit-lsp's answer with some capabilities changed; `null` for one without serverInfo. */
const efritWith = (capabilities: Partial<ServerCapabilities>, serverInfo: InitializeResult['serverInfo'] | null = efrit.serverInfo): InitializeResult => ({
  capabilities: { ...efrit.capabilities, ...capabilities },
  ...(serverInfo === null || serverInfo === undefined ? {} : { serverInfo }),
});

describe('childSyncKind', () => {
  it('reads the kind as a number or from the options, and None when the server says nothing', () => {
    expect(childSyncKind({ textDocumentSync: TextDocumentSyncKind.Full })).toBe(TextDocumentSyncKind.Full);
    expect(childSyncKind({ textDocumentSync: TextDocumentSyncKind.None })).toBe(TextDocumentSyncKind.None);
    expect(childSyncKind({ textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental } })).toBe(TextDocumentSyncKind.Incremental);
    expect(childSyncKind({ textDocumentSync: { openClose: true } })).toBe(TextDocumentSyncKind.None);
    expect(childSyncKind({ hoverProvider: true })).toBe(TextDocumentSyncKind.None);
    expect(childSyncKind(undefined)).toBe(TextDocumentSyncKind.None);
  });
});

describe('mergeInitializeResults', () => {
  it("keeps the wrapped server's capabilities, names both servers and carries efrit-lsp's version", () => {
    const merged = mergeInitializeResults(pylsp({ hoverProvider: true, completionProvider: { triggerCharacters: ['.'] }, textDocumentSync: TextDocumentSyncKind.Full }), efrit);
    expect(merged).toEqual({
      capabilities: {
        hoverProvider: true,
        completionProvider: { triggerCharacters: ['.'] },
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
        codeActionProvider: { codeActionKinds: ['quickfix', 'refactor.rewrite'], resolveProvider: true },
        executeCommandProvider: { commands: ['efrit.runAction', 'efrit.status'] },
      },
      serverInfo: { name: 'efrit-lsp + pylsp', version: '0.1.0' },
    });
  });

  it("always asks the editor for incremental changes, keeps efrit-lsp's other sync options and saved text if the wrapped server wants it", () => {
    const efritSync = efritWith({ textDocumentSync: { openClose: false, change: TextDocumentSyncKind.Full, willSave: true } });
    const wantsText = mergeInitializeResults(pylsp({ textDocumentSync: { change: TextDocumentSyncKind.Full, save: { includeText: true } } }), efritSync);
    expect(wantsText.capabilities.textDocumentSync).toEqual({ openClose: true, change: TextDocumentSyncKind.Incremental, willSave: true, save: { includeText: true } });
    for (const save of [true, { includeText: false }, {}, undefined]) {
      const merged = mergeInitializeResults(pylsp({ textDocumentSync: { change: TextDocumentSyncKind.Incremental, ...(save === undefined ? {} : { save }) } }), efrit);
      expect(merged.capabilities.textDocumentSync, JSON.stringify(save)).toEqual({ openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } });
    }
    const efritAsNumber = mergeInitializeResults(undefined, efritWith({ textDocumentSync: TextDocumentSyncKind.Full }));
    expect(efritAsNumber.capabilities.textDocumentSync).toEqual({ openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } });
  });

  it("is efrit-lsp's answer alone when the wrapped server failed to initialize", () => {
    expect(mergeInitializeResults(undefined, efrit)).toEqual({
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
        codeActionProvider: { codeActionKinds: ['quickfix', 'refactor.rewrite'], resolveProvider: true },
        executeCommandProvider: { commands: ['efrit.runAction', 'efrit.status'] },
      },
      serverInfo: { name: 'efrit-lsp', version: '0.1.0' },
    });
  });

  it("names efrit-lsp as it names itself, or 'efrit-lsp', when the wrapped server gives no name; no version when efrit-lsp gives none", () => {
    expect(mergeInitializeResults(pylsp({}, null), efritWith({}, { name: 'efrit-lsp (dev)' })).serverInfo).toEqual({ name: 'efrit-lsp (dev)' });
    expect(mergeInitializeResults(pylsp({}, null), efritWith({}, null)).serverInfo).toEqual({ name: 'efrit-lsp' });
    expect(mergeInitializeResults(pylsp({}), efritWith({}, null)).serverInfo).toEqual({ name: 'efrit-lsp + pylsp' });
  });

  it('joins both command lists without duplicates, and offers an empty list when neither has commands', () => {
    const merged = mergeInitializeResults(pylsp({ executeCommandProvider: { commands: ['pylsp.organizeImports', 'efrit.status'] } }), efrit);
    expect(merged.capabilities.executeCommandProvider).toEqual({ commands: ['pylsp.organizeImports', 'efrit.status', 'efrit.runAction'] });
    const without: Partial<ServerCapabilities> = {};
    const none = mergeInitializeResults(pylsp({}), { capabilities: without });
    expect(none.capabilities.executeCommandProvider).toEqual({ commands: [] });
    expect(none.capabilities).not.toHaveProperty('codeActionProvider');
  });
});

describe('merged code action options', () => {
  const merge = (child: ServerCapabilities['codeActionProvider'], efritProvider: ServerCapabilities['codeActionProvider']) =>
    mergeInitializeResults(pylsp(child === undefined ? {} : { codeActionProvider: child }), { capabilities: efritProvider === undefined ? {} : { codeActionProvider: efritProvider } }).capabilities.codeActionProvider;

  it("takes one side's options as they are when the other offers no code actions", () => {
    const efritOptions = { codeActionKinds: ['quickfix'], resolveProvider: true };
    const childOptions = { codeActionKinds: ['source.organizeImports'] };
    expect(merge(undefined, efritOptions)).toBe(efritOptions);
    expect(merge(false, efritOptions)).toBe(efritOptions);
    expect(merge(childOptions, undefined)).toBe(childOptions);
    expect(merge(childOptions, false)).toBe(childOptions);
    expect(merge(true, undefined)).toBe(true);
    expect(merge(undefined, undefined)).toBeUndefined();
  });

  it('unites the kinds in order without duplicates, and offers resolve if either side does', () => {
    expect(merge({ codeActionKinds: ['quickfix', 'source.organizeImports'] }, { codeActionKinds: ['quickfix', 'refactor.rewrite'], resolveProvider: true })).toEqual({
      codeActionKinds: ['quickfix', 'source.organizeImports', 'refactor.rewrite'],
      resolveProvider: true,
    });
    expect(merge({ codeActionKinds: ['quickfix'], resolveProvider: true }, { codeActionKinds: [], resolveProvider: false })).toEqual({ codeActionKinds: ['quickfix'], resolveProvider: true });
    expect(merge({ codeActionKinds: ['quickfix'], resolveProvider: false }, { codeActionKinds: ['refactor'] })).toEqual({ codeActionKinds: ['quickfix', 'refactor'] });
  });

  it('lists no kinds when either side offers every kind (true, or options without a list)', () => {
    expect(merge(true, { codeActionKinds: ['quickfix'], resolveProvider: true })).toEqual({ resolveProvider: true });
    expect(merge({ codeActionKinds: ['source.organizeImports'] }, true)).toEqual({});
    expect(merge({ resolveProvider: true }, { codeActionKinds: ['quickfix'] })).toEqual({ resolveProvider: true });
    expect(merge({ codeActionKinds: ['quickfix'] }, { resolveProvider: false })).toEqual({});
    expect(merge(true, true)).toEqual({});
  });
});

describe("efrit-lsp's own features in front of another server", () => {
  /** What pylsp 1.7 declares (abridged to the parts that meet efrit-lsp's). */
  const pylspCapabilities: ServerCapabilities = {
    textDocumentSync: { change: TextDocumentSyncKind.Incremental, save: { includeText: true }, openClose: true },
    completionProvider: { resolveProvider: true, triggerCharacters: ['.'] },
    hoverProvider: true,
    codeActionProvider: true,
    executeCommandProvider: { commands: [] },
    workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
  };
  const efritAlone = (popup: boolean): InitializeResult => ({
    capabilities: serverCapabilities({ ...defaultSettings(), 'completion.popup': popup }),
    serverInfo: { name: 'efrit-lsp', version: '0.1.0' },
  });

  it('declares every capability efrit-lsp declares alone, whatever the wrapped server offers', () => {
    for (const popup of [false, true]) {
      for (const child of [pylsp(pylspCapabilities), pylsp({}), undefined]) {
        const efrit = efritAlone(popup);
        const merged = mergeInitializeResults(child, efrit).capabilities as Record<string, unknown>;
        for (const [name, value] of Object.entries(efrit.capabilities)) {
          expect(merged[name], `${name} (popup ${String(popup)}, child ${JSON.stringify(child?.capabilities)})`).toBeTruthy();
          expect(merged[name], name).not.toBe(false);
          if (value === true) expect(merged[name], name).toBe(true);
        }
      }
    }
  });

  it("offers efrit-lsp's ghost text, and sends inline completion to it, even when the wrapped server offers its own", () => {
    const efrit = efritAlone(false);
    expect(mergeInitializeResults(pylsp(pylspCapabilities), efrit).capabilities.inlineCompletionProvider).toBe(true);
    expect(methodsEfritAnswers(pylspCapabilities, efrit.capabilities)).toEqual(new Set(['textDocument/inlineCompletion']));
    const copilotLike = pylsp({ inlineCompletionProvider: { workDoneProgress: true } });
    expect(mergeInitializeResults(copilotLike, efrit).capabilities.inlineCompletionProvider).toBe(true);
    expect(methodsEfritAnswers(copilotLike.capabilities, efrit.capabilities)).toEqual(new Set(['textDocument/inlineCompletion']));
    // Without efrit-lsp's ghost text, the wrapped server's is passed on and asked.
    const withoutGhostText = efritWith({ inlineCompletionProvider: false });
    expect(mergeInitializeResults(copilotLike, withoutGhostText).capabilities.inlineCompletionProvider).toEqual({ workDoneProgress: true });
    expect(methodsEfritAnswers(copilotLike.capabilities, withoutGhostText.capabilities)).toEqual(new Set());
  });

  it("leaves popup completion to the wrapped server that has it, and gives it to efrit-lsp (with resolve) when it has none", () => {
    const efrit = efritAlone(true);
    expect(mergeInitializeResults(pylsp(pylspCapabilities), efrit).capabilities.completionProvider).toEqual(pylspCapabilities.completionProvider);
    expect(methodsEfritAnswers(pylspCapabilities, efrit.capabilities).has('textDocument/completion')).toBe(false);
    // `false` is what some servers send for a capability they lack, though the spec's type has no such value.
    const lacking: ServerCapabilities[] = [{}, { completionProvider: false } as unknown as ServerCapabilities];
    for (const none of lacking) {
      expect(mergeInitializeResults(pylsp(none), efrit).capabilities.completionProvider).toEqual(efrit.capabilities.completionProvider);
      expect(methodsEfritAnswers(none, efrit.capabilities)).toEqual(new Set(['textDocument/inlineCompletion', 'textDocument/completion', 'completionItem/resolve']));
    }
    expect(methodsEfritAnswers(undefined, efrit.capabilities).has('completionItem/resolve')).toBe(true);
    expect(methodsEfritAnswers({}, efritAlone(false).capabilities).has('textDocument/completion')).toBe(false);
  });

  it("unites workspace folder support, keeping the wrapped server's other workspace options", () => {
    const folders = (child: ServerCapabilities['workspace'], efrit: ServerCapabilities['workspace']) =>
      mergeInitializeResults(pylsp(child === undefined ? {} : { workspace: child }), efritWith(efrit === undefined ? {} : { workspace: efrit })).capabilities.workspace;
    const fileOperations = { didRename: { filters: [{ pattern: { glob: '**/*.py' } }] } };
    expect(folders({ fileOperations }, { workspaceFolders: { supported: true, changeNotifications: true } })).toEqual({
      fileOperations,
      workspaceFolders: { supported: true, changeNotifications: true },
    });
    expect(folders({ workspaceFolders: { supported: true, changeNotifications: 'pylsp-folders' } }, { workspaceFolders: { supported: false } })).toEqual({
      workspaceFolders: { supported: true, changeNotifications: true },
    });
    expect(folders({ workspaceFolders: { supported: false, changeNotifications: false } }, { workspaceFolders: { supported: true } })).toEqual({ workspaceFolders: { supported: true } });
    expect(folders({ workspaceFolders: { supported: false } }, { workspaceFolders: { supported: false } })).toEqual({ workspaceFolders: { supported: false } });
    expect(folders(undefined, { workspaceFolders: { supported: true, changeNotifications: true } })).toEqual({ workspaceFolders: { supported: true, changeNotifications: true } });
    expect(folders({ workspaceFolders: { supported: true } }, undefined)).toEqual({ workspaceFolders: { supported: true } });
    expect(folders({ fileOperations }, undefined)).toEqual({ fileOperations });
    expect(folders(undefined, undefined)).toBeUndefined();
  });
});
