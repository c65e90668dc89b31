/**
 * efrit-lsp's own line to the wrapped server, in memory: its requests carry
 * ids of their own and their answers come back to it, never to the editor;
 * they time out and are cancelled in the server too; files it opens there for
 * its questions, and shadow documents for its checks, never show in the
 * editor. (semantic-tools.test.ts runs the real thing around
 * typescript-language-server and pylsp.)
 */
import { describe, expect, it } from 'vitest';
import type { Message, NotificationMessage, RequestMessage, ResponseMessage } from 'vscode-languageserver/node';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import { createDocumentSync } from '../../server/src/features/document-sync.js';
import { memoryLink, type Endpoint } from '../../server/src/proxy/memory-transport.js';
import { ProxyRouter } from '../../server/src/proxy/router.js';
import { featuresOf, isShadowUri, shadowUriFor, WrappedServerLink } from '../../server/src/proxy/wrapped-server-link.js';
import { eventually } from '../support/eventually.js';
import { ManualClock, tick } from '../support/manual-clock.js';

class Party {
  readonly received: Message[] = [];
  constructor(readonly endpoint: Endpoint) {
    endpoint.reader.listen((message) => this.received.push(message));
  }
  send(message: RequestMessage | ResponseMessage | NotificationMessage): void {
    void this.endpoint.writer.write(message);
  }
  next(predicate: (message: Message & Record<string, unknown>) => boolean = () => true): Promise<Message & Record<string, unknown>> {
    return eventually(() => {
      const index = this.received.findIndex((m) => predicate(m as Message & Record<string, unknown>));
      return index >= 0 ? (this.received.splice(index, 1)[0] as Message & Record<string, unknown>) : undefined;
    }, 'a message that matches');
  }
  methods(): string[] {
    return this.received.map((m) => (m as NotificationMessage).method ?? `response ${String((m as ResponseMessage).id)}`);
  }
}

const request = (id: number | string, method: string, params: unknown = {}): RequestMessage => ({ jsonrpc: '2.0', id, method, params: params as object });
const result = (id: number | string, value: unknown): ResponseMessage => ({ jsonrpc: '2.0', id, result: value as null });
const publish = (uri: string, diagnostics: unknown[]): NotificationMessage => ({ jsonrpc: '2.0', method: 'textDocument/publishDiagnostics', params: { uri, diagnostics } });
const diagnostic = (line: number, message: string) => ({ range: { start: { line, character: 0 }, end: { line, character: 1 } }, message, severity: 1 });

/** A router with a link, initialized: the wrapped server declared `capabilities`. */
async function setup(capabilities: object = { definitionProvider: true, referencesProvider: true, hoverProvider: true }, options: { maxWarmShadows?: number; serverName?: string } = {}) {
  const documents = new DocumentStore();
  const [editorOuter, editorInner] = memoryLink();
  const [efritOuter, efritInner] = memoryLink();
  const [childOuter, childInner] = memoryLink();
  let exitChild: (reason: string) => void = () => undefined;
  const clock = new ManualClock();
  const { serverName, ...linkOptions } = options;
  const link = new WrappedServerLink({ timers: clock, requestTimeoutMs: 5_000, quietMs: 300, firstPublishTimeoutMs: 10_000, shadowIdleCloseMs: 60_000, ...linkOptions });
  new ProxyRouter({
    editor: editorInner,
    efrit: efritInner,
    documents: { documents, sync: createDocumentSync(documents) },
    child: { endpoint: childInner, label: 'fake-ls', onExit: (listener) => (exitChild = listener), stop: () => Promise.resolve() },
    link,
    exit: () => undefined,
  });
  const editor = new Party(editorOuter);
  const efrit = new Party(efritOuter);
  const child = new Party(childOuter);
  editor.send(request(1, 'initialize', { capabilities: {} }));
  await child.next((m) => m['id'] === 1);
  await efrit.next((m) => m['id'] === 1);
  child.send(result(1, { capabilities, ...(serverName === undefined ? {} : { serverInfo: { name: serverName, version: '1.7.1' } }) }));
  efrit.send(result(1, { capabilities: {} }));
  await editor.next((m) => m['id'] === 1);
  return { link, editor, efrit, child, clock, documents, exitChild: (reason: string) => exitChild(reason) };
}

describe("efrit-lsp's own line to the wrapped server", () => {
  it('decides the features from the capabilities the server declared at initialize, once', async () => {
    const { link } = await setup({ definitionProvider: true, hoverProvider: { workDoneProgress: false }, referencesProvider: false });
    expect([...link.features()]).toEqual(['definition', 'hover', 'diagnostics']);
    // A restarted server's initialize does not change the tool list the prompt cache holds.
    link.childInitialized({ workspaceSymbolProvider: true });
    expect([...link.features()]).toEqual(['definition', 'hover', 'diagnostics']);
    expect([...featuresOf(undefined)]).toEqual([]);
  });

  it('sends its requests with ids of its own and takes their answers, which never reach the editor', async () => {
    const { link, editor, child } = await setup();
    const answer = link.request('textDocument/definition', { textDocument: { uri: 'file:///a.ts' }, position: { line: 0, character: 0 } }, new AbortController().signal);
    const sent = await child.next((m) => m['method'] === 'textDocument/definition');
    expect(sent['id']).toBe('efrit-own:0');
    // An editor request with the same method at the same time keeps its own id and answer.
    editor.send(request(0, 'textDocument/definition', {}));
    await child.next((m) => m['id'] === 0);
    child.send(result('efrit-own:0', [{ uri: 'file:///b.ts', range: { start: { line: 3, character: 0 }, end: { line: 3, character: 1 } } }]));
    child.send(result(0, null));

    await expect(answer).resolves.toEqual([{ uri: 'file:///b.ts', range: { start: { line: 3, character: 0 }, end: { line: 3, character: 1 } } }]);
    expect(await editor.next((m) => m['id'] === 0)).toMatchObject({ result: null });
    await tick();
    expect(editor.methods()).toEqual([]);
  });

  it('answers an error from the server as a readable failure', async () => {
    const { link, child } = await setup();
    const answer = link.request('textDocument/hover', {}, new AbortController().signal);
    const sent = await child.next((m) => m['method'] === 'textDocument/hover');
    child.send({ jsonrpc: '2.0', id: sent['id'] as string, error: { code: -32603, message: 'No project' } });
    await expect(answer).rejects.toThrow('fake-ls answered textDocument/hover with an error: No project');
  });

  it('cancels a request in the server when the job is cancelled or the request times out, and drops the late answer', async () => {
    const { link, editor, child, clock } = await setup();
    const controller = new AbortController();
    const cancelled = link.request('textDocument/references', {}, controller.signal);
    const first = await child.next((m) => m['method'] === 'textDocument/references');
    controller.abort();
    await expect(cancelled).rejects.toThrow('The request to fake-ls was cancelled.');
    expect(await child.next((m) => m['method'] === '$/cancelRequest')).toMatchObject({ params: { id: first['id'] } });

    const slow = link.request('textDocument/references', {}, new AbortController().signal);
    const second = await child.next((m) => m['method'] === 'textDocument/references');
    const timedOut = expect(slow).rejects.toThrow('fake-ls did not answer textDocument/references within 5 s.');
    await clock.advance(5_000);
    await timedOut;
    expect(await child.next((m) => m['method'] === '$/cancelRequest')).toMatchObject({ params: { id: second['id'] } });

    child.send(result(first['id'] as string, []));
    child.send(result(second['id'] as string, []));
    await tick();
    expect(editor.methods()).toEqual([]);
  });

  it('fails what waits on the server when it dies, and says so when it is not running', async () => {
    const { link, child, exitChild } = await setup();
    const pending = link.request('textDocument/definition', {}, new AbortController().signal);
    await child.next((m) => m['method'] === 'textDocument/definition');
    exitChild('crashed');
    await expect(pending).rejects.toThrow('fake-ls stopped running.');
    await expect(link.request('textDocument/definition', {}, new AbortController().signal)).rejects.toThrow('fake-ls is not running.');
  });

  it('opens a file the editor has not opened for its question, closes it after, and holds back its diagnostics', async () => {
    const { link, editor, child } = await setup();
    const uri = 'file:///w/src/cart.ts';
    const used = link.withDocument({ uri, languageId: 'typescript', text: 'export const a = 1;\n' }, async () => {
      expect(await child.next((m) => m['method'] === 'textDocument/didOpen')).toMatchObject({ params: { textDocument: { uri, languageId: 'typescript', text: 'export const a = 1;\n' } } });
      child.send(publish(uri, [diagnostic(0, 'while borrowed')]));
      await tick();
      return 'answered';
    });
    await expect(used).resolves.toBe('answered');
    expect(await child.next((m) => m['method'] === 'textDocument/didClose')).toMatchObject({ params: { textDocument: { uri } } });
    // The server's answer to the close: held back too.
    child.send(publish(uri, []));
    await tick();
    expect(editor.methods()).toEqual([]);
    // After that, what the server says about the file is the editor's again (workspace-wide diagnostics).
    child.send(publish(uri, [diagnostic(2, 'on disk')]));
    expect(await editor.next()).toMatchObject({ method: 'textDocument/publishDiagnostics', params: { uri } });
  });

  it('never opens a document the editor has open, and gives way when the editor opens one it borrowed', async () => {
    const { link, editor, child, documents } = await setup();
    const open = 'file:///w/src/open.ts';
    editor.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: open, languageId: 'typescript', version: 4, text: 'let typed = 1;\n' } } });
    await child.next((m) => m['method'] === 'textDocument/didOpen');
    await link.withDocument({ uri: open, languageId: 'typescript', text: 'stale disk text' }, () => Promise.resolve());
    await tick();
    expect(child.methods()).toEqual([]);

    const borrowed = 'file:///w/src/cart.ts';
    await link.withDocument({ uri: borrowed, languageId: 'typescript', text: 'disk text' }, async () => {
      await child.next((m) => m['method'] === 'textDocument/didOpen');
      editor.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: borrowed, languageId: 'typescript', version: 1, text: 'editor text' } } });
      // The borrow ends before the editor's open reaches the server, which never has the document open twice.
      expect(await child.next()).toMatchObject({ method: 'textDocument/didClose', params: { textDocument: { uri: borrowed } } });
      expect(await child.next()).toMatchObject({ method: 'textDocument/didOpen', params: { textDocument: { uri: borrowed, text: 'editor text' } } });
    });
    await tick();
    // The document is the editor's now: no close from the borrow's end, and its diagnostics reach the editor.
    expect(child.methods()).toEqual([]);
    expect(documents.get(borrowed)?.text).toBe('editor text');
    child.send(publish(borrowed, [diagnostic(0, 'the editor sees this')]));
    expect(await editor.next()).toMatchObject({ params: { uri: borrowed } });
  });

  it('checks texts at shadow documents, all at once: diagnostics taken once the server is quiet, each shadow closed, the editor told nothing', async () => {
    const { link, editor, child, clock } = await setup();
    const checked = link.diagnosticsOfTexts({ uri: 'file:///w/src/a.ts', languageId: 'typescript', texts: ['before', 'after'] }, new AbortController().signal);

    const first = await child.next((m) => m['method'] === 'textDocument/didOpen');
    const second = await child.next((m) => m['method'] === 'textDocument/didOpen');
    expect(first['params']).toEqual({ textDocument: { uri: 'file:///w/src/a.efrit-check-0.ts', languageId: 'typescript', version: 1, text: 'before' } });
    expect(second['params']).toMatchObject({ textDocument: { uri: 'file:///w/src/a.efrit-check-1.ts', text: 'after' } });
    // In stages, as typescript-language-server publishes: the last one before the quiet counts.
    child.send(publish('file:///w/src/a.efrit-check-0.ts', []));
    child.send(publish('file:///w/src/a.efrit-check-1.ts', [diagnostic(2, 'new')]));
    await tick();
    await clock.advance(299);
    child.send(publish('file:///w/src/a.efrit-check-0.ts', [diagnostic(1, 'semantic')]));
    child.send(publish('file:///w/src/a.efrit-check-1.ts', [diagnostic(2, 'new'), diagnostic(3, 'newer')]));
    await tick();
    await clock.advance(300);

    await expect(checked).resolves.toEqual([[diagnostic(1, 'semantic')], [diagnostic(2, 'new'), diagnostic(3, 'newer')]]);
    const closed = [await child.next(), await child.next()];
    expect(closed.map((m) => (m['params'] as { textDocument: { uri: string } }).textDocument.uri).sort()).toEqual(['file:///w/src/a.efrit-check-0.ts', 'file:///w/src/a.efrit-check-1.ts']);
    // What the server says about the shadows after, on closing them, goes nowhere; the next check's shadows have new names.
    child.send(publish('file:///w/src/a.efrit-check-0.ts', []));
    child.send(publish('file:///w/src/a.efrit-check-1.ts', []));
    await tick();
    expect(editor.methods()).toEqual([]);
    void link.diagnosticsOfTexts({ uri: 'file:///w/src/a.ts', languageId: 'typescript', texts: ['again'] }, new AbortController().signal).catch(() => undefined);
    expect((await child.next((m) => m['method'] === 'textDocument/didOpen'))['params']).toMatchObject({ textDocument: { uri: 'file:///w/src/a.efrit-check-2.ts' } });
  });

  it("asks a server that offers pull diagnostics for the shadow's, and keeps the shadow open for the next check, changed to its text", async () => {
    const { link, editor, child } = await setup({ diagnosticProvider: { interFileDependencies: true, workspaceDiagnostics: false } });
    expect(link.diagnosticsCompletion).toBe('pull');
    const checked = link.diagnosticsOfTexts({ uri: 'file:///w/src/a.ts', languageId: 'typescript', texts: ['after'] }, new AbortController().signal);
    await child.next((m) => m['method'] === 'textDocument/didOpen');
    const pull = await child.next((m) => m['method'] === 'textDocument/diagnostic');
    expect(pull['params']).toEqual({ textDocument: { uri: 'file:///w/src/a.efrit-check-0.ts' } });
    child.send(result(pull['id'] as string, { kind: 'full', items: [diagnostic(4, 'pulled')] }));
    await expect(checked).resolves.toEqual([[diagnostic(4, 'pulled')]]);
    await tick();
    expect(child.methods()).toEqual([]);
    expect(link.openShadows).toBe(1);

    // The next proposal: one didChange of the same shadow (the whole text, a new version), then its diagnostics.
    const again = link.diagnosticsOfTexts({ uri: 'file:///w/src/a.ts', languageId: 'typescript', texts: ['fixed'] }, new AbortController().signal);
    expect(await child.next()).toMatchObject({ method: 'textDocument/didChange', params: { textDocument: { uri: 'file:///w/src/a.efrit-check-0.ts', version: 2 }, contentChanges: [{ text: 'fixed' }] } });
    const second = await child.next();
    expect(second).toMatchObject({ method: 'textDocument/diagnostic', params: { textDocument: { uri: 'file:///w/src/a.efrit-check-0.ts' } } });
    // A late push about the shadow's earlier text is not taken, and goes nowhere.
    child.send(publish('file:///w/src/a.efrit-check-0.ts', [diagnostic(4, 'pulled')]));
    child.send(result(second['id'] as string, { kind: 'full', items: [] }));
    await expect(again).resolves.toEqual([[]]);
    await tick();
    expect(editor.methods()).toEqual([]);
  });

  it('checks a text a shadow already holds without sending it again', async () => {
    const { link, child } = await setup({ diagnosticProvider: {} });
    const pullAnswering = async (items: unknown[]) => {
      const pull = await child.next((m) => m['method'] === 'textDocument/diagnostic');
      child.send(result(pull['id'] as string, { kind: 'full', items }));
      return (pull['params'] as { textDocument: { uri: string } }).textDocument.uri;
    };
    const first = link.diagnosticsOfTexts({ uri: 'file:///w/src/a.ts', languageId: 'typescript', texts: ['as it is', 'proposal 1'] }, new AbortController().signal);
    await child.next((m) => m['method'] === 'textDocument/didOpen');
    await child.next((m) => m['method'] === 'textDocument/didOpen');
    await pullAnswering([]);
    await pullAnswering([diagnostic(0, 'one')]);
    await first;
    await tick();
    expect(child.methods()).toEqual([]);

    // The file as it is has not changed: only the proposal's shadow is sent its new text.
    const second = link.diagnosticsOfTexts({ uri: 'file:///w/src/a.ts', languageId: 'typescript', texts: ['as it is', 'proposal 2'] }, new AbortController().signal);
    const changed = await child.next((m) => m['method'] === 'textDocument/didChange');
    expect(changed['params']).toMatchObject({ textDocument: { uri: 'file:///w/src/a.efrit-check-1.ts', version: 2 }, contentChanges: [{ text: 'proposal 2' }] });
    expect([await pullAnswering([]), await pullAnswering([])]).toEqual(['file:///w/src/a.efrit-check-0.ts', 'file:///w/src/a.efrit-check-1.ts']);
    await second;
    await tick();
    expect(child.methods()).toEqual([]);
  });

  it('asks typescript-language-server through the tsserver command it declares, and converts the answers', async () => {
    const { link, editor, child } = await setup({ executeCommandProvider: { commands: ['_typescript.applyWorkspaceEdit', 'typescript.tsserverRequest'] } });
    expect(link.diagnosticsCompletion).toBe('tsserverRequest');
    const checked = link.diagnosticsOfTexts({ uri: 'file:///w/src/a.ts', languageId: 'typescript', texts: ['export const a: string = 1;\nlet x = ;\n'] }, new AbortController().signal);
    expect(await child.next()).toMatchObject({ method: 'textDocument/didOpen', params: { textDocument: { uri: 'file:///w/src/a.efrit-check-0.ts', version: 1 } } });
    const asked = [await child.next(), await child.next(), await child.next()];
    expect(asked.map((m) => m['params'])).toEqual(
      ['syntacticDiagnosticsSync', 'semanticDiagnosticsSync', 'suggestionDiagnosticsSync'].map((command) => ({
        command: 'typescript.tsserverRequest',
        arguments: [command, { file: 'file:///w/src/a.efrit-check-0.ts' }],
      })),
    );
    // What typescript-language-server pushes meanwhile (its own geterr of open files) is not waited for, nor shown.
    child.send(publish('file:///w/src/a.efrit-check-0.ts', [diagnostic(1, 'syntax only, so far')]));
    const body = (items: unknown[]) => ({ seq: 0, type: 'response', success: true, body: items });
    child.send(result(asked[0]!['id'] as string, body([{ start: { line: 2, offset: 9 }, end: { line: 2, offset: 10 }, text: 'Expression expected.', code: 1109, category: 'error' }])));
    child.send(result(asked[1]!['id'] as string, body([{ start: { line: 1, offset: 14 }, end: { line: 1, offset: 15 }, text: "Type 'number' is not assignable to type 'string'.", code: 2322, category: 'error' }])));
    child.send(result(asked[2]!['id'] as string, body([{ start: { line: 2, offset: 5 }, end: { line: 2, offset: 6 }, text: "'x' is declared but its value is never read.", code: 6133, category: 'suggestion', reportsUnnecessary: true }])));

    await expect(checked).resolves.toEqual([
      [
        { range: { start: { line: 1, character: 8 }, end: { line: 1, character: 9 } }, message: 'Expression expected.', severity: 1, code: 1109, source: 'typescript' },
        { range: { start: { line: 0, character: 13 }, end: { line: 0, character: 14 } }, message: "Type 'number' is not assignable to type 'string'.", severity: 1, code: 2322, source: 'typescript' },
        { range: { start: { line: 1, character: 4 }, end: { line: 1, character: 5 } }, message: "'x' is declared but its value is never read.", severity: 4, code: 6133, source: 'typescript', tags: [1] },
      ],
    ]);
    await tick();
    expect(editor.methods()).toEqual([]);
    expect(link.openShadows).toBe(1);
  });

  it("gives typescript-language-server the editor's document back as the one used last, after a check and after a warm-up", async () => {
    const { link, editor, child } = await setup({ executeCommandProvider: { commands: ['typescript.tsserverRequest'] } });
    const open = (uri: string) => editor.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'typescript', version: 1, text: 'let a = 1;\n' } } });
    open('file:///w/src/cart.ts');
    open('file:///w/src/checkout.ts');
    editor.send(request(3, 'textDocument/hover', { textDocument: { uri: 'file:///w/src/cart.ts' }, position: { line: 0, character: 4 } }));
    await child.next((m) => m['id'] === 3);
    child.received.length = 0;
    const handedBack = { command: 'typescript.tsserverRequest', arguments: ['syntacticDiagnosticsSync', { file: 'file:///w/src/cart.ts' }] };

    link.warmShadows({ uri: 'file:///w/src/checkout.ts', languageId: 'typescript', texts: ['as it is'] });
    await child.next((m) => m['method'] === 'textDocument/didOpen');
    const touched = await child.next();
    expect(touched).toMatchObject({ method: 'workspace/executeCommand', params: handedBack });
    child.send(result(touched['id'] as string, { success: true, body: [] }));

    const checked = link.diagnosticsOfTexts({ uri: 'file:///w/src/checkout.ts', languageId: 'typescript', texts: ['as it is'] }, new AbortController().signal);
    const asked = [await child.next(), await child.next(), await child.next()];
    for (const message of asked) child.send(result(message['id'] as string, { success: true, body: [] }));
    await expect(checked).resolves.toEqual([[]]);
    expect(await child.next()).toMatchObject({ method: 'workspace/executeCommand', params: handedBack });
    // The editor closed the document it used last: another open one is handed back.
    editor.send({ jsonrpc: '2.0', method: 'textDocument/didClose', params: { textDocument: { uri: 'file:///w/src/cart.ts' } } });
    await child.next((m) => m['method'] === 'textDocument/didClose');
    link.warmShadows({ uri: 'file:///w/src/checkout.ts', languageId: 'typescript', texts: ['changed'] });
    await child.next((m) => m['method'] === 'textDocument/didChange');
    expect(await child.next()).toMatchObject({ params: { arguments: ['syntacticDiagnosticsSync', { file: 'file:///w/src/checkout.ts' }] } });
    await tick();
    expect(editor.methods()).toEqual([]);
  });

  it('says so when tsserver answers a diagnostics request with a failure, and closes that shadow', async () => {
    const { link, child } = await setup({ executeCommandProvider: { commands: ['typescript.tsserverRequest'] } });
    const checked = link.diagnosticsOfTexts({ uri: 'file:///w/src/a.ts', languageId: 'typescript', texts: ['x'] }, new AbortController().signal);
    await child.next((m) => m['method'] === 'textDocument/didOpen');
    const asked = [await child.next(), await child.next(), await child.next()];
    for (const message of asked) child.send(result(message['id'] as string, { seq: 0, type: 'response', success: false, message: 'No Project.' }));
    await expect(checked).rejects.toThrow('fake-ls answered syntacticDiagnosticsSync for the checked text oddly: tsserver answered: No Project.');
    expect(await child.next()).toMatchObject({ method: 'textDocument/didClose', params: { textDocument: { uri: 'file:///w/src/a.efrit-check-0.ts' } } });
    expect(link.openShadows).toBe(0);
  });

  it("says what tsserver's error is in one line, not its stack trace, and closes that shadow", async () => {
    const { link, child } = await setup({ executeCommandProvider: { commands: ['typescript.tsserverRequest'] } });
    const checked = link.diagnosticsOfTexts({ uri: 'file:///w/README.md', languageId: 'markdown', texts: ['# Title'] }, new AbortController().signal);
    await child.next((m) => m['method'] === 'textDocument/didOpen');
    const asked = await child.next();
    child.send({ jsonrpc: '2.0', id: asked['id'] as string, error: { code: 1, message: '<semantic> TypeScript Server Error (5.9.3)\nNo Project.\nError: No Project.\n    at Object.ThrowNoProject (typescript.js:186170:11)' } });
    await expect(checked).rejects.toThrow(new Error('fake-ls answered workspace/executeCommand with an error: <semantic> TypeScript Server Error (5.9.3)'));
    expect(await child.next((m) => m['method'] === 'textDocument/didClose')).toMatchObject({ params: { textDocument: { uri: 'file:///w/README.efrit-check-0.md' } } });
  });

  it('closes a shadow left unused for a minute, all of them when told, and forgets them when the server dies', async () => {
    const { link, child, clock, exitChild } = await setup({ diagnosticProvider: {} });
    const check = async (uri: string) => {
      const checked = link.diagnosticsOfTexts({ uri, languageId: 'typescript', texts: ['text'] }, new AbortController().signal);
      const pull = await child.next((m) => m['method'] === 'textDocument/diagnostic');
      child.send(result(pull['id'] as string, { kind: 'full', items: [] }));
      await checked;
    };
    await check('file:///w/src/a.ts');
    await clock.advance(30_000);
    await check('file:///w/src/b.ts');
    child.received.length = 0;
    await clock.advance(30_000);
    expect(child.methods()).toEqual(['textDocument/didClose']);
    expect(child.received[0]).toMatchObject({ params: { textDocument: { uri: 'file:///w/src/a.efrit-check-0.ts' } } });
    child.received.length = 0;

    link.closeShadows();
    await tick();
    expect(child.received).toEqual([{ jsonrpc: '2.0', method: 'textDocument/didClose', params: { textDocument: { uri: 'file:///w/src/b.efrit-check-1.ts' } } }]);
    expect(link.openShadows).toBe(0);

    await check('file:///w/src/c.ts');
    expect(link.openShadows).toBe(1);
    exitChild('crashed');
    expect(link.openShadows).toBe(0);
    child.received.length = 0;
    await clock.advance(60_000);
    expect(child.methods()).toEqual([]);
  });

  it('keeps at most so many shadows open, and gives a check that finds them all busy a shadow of its own, closed after', async () => {
    const { link, child } = await setup({ diagnosticProvider: {} }, { maxWarmShadows: 2 });
    const answerPulls = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const pull = await child.next((m) => m['method'] === 'textDocument/diagnostic');
        child.send(result(pull['id'] as string, { kind: 'full', items: [] }));
      }
    };
    const opened = () => child.received.filter((m) => (m as NotificationMessage).method === 'textDocument/didOpen').map((m) => (m as NotificationMessage & { params: { textDocument: { uri: string } } }).params.textDocument.uri);
    const closed = () => child.received.filter((m) => (m as NotificationMessage).method === 'textDocument/didClose').map((m) => (m as NotificationMessage & { params: { textDocument: { uri: string } } }).params.textDocument.uri);

    // Two files, one shadow each: both stay open. A third file's shadow takes the place of the least recently used.
    for (const name of ['a', 'b', 'c']) {
      const checked = link.diagnosticsOfTexts({ uri: `file:///w/${name}.ts`, languageId: 'typescript', texts: ['text'] }, new AbortController().signal);
      await answerPulls(1);
      await checked;
    }
    await tick();
    expect(opened()).toEqual(['file:///w/a.efrit-check-0.ts', 'file:///w/b.efrit-check-1.ts', 'file:///w/c.efrit-check-2.ts']);
    expect(closed()).toEqual(['file:///w/a.efrit-check-0.ts']);
    expect(link.openShadows).toBe(2);
    child.received.length = 0;

    // Three texts of one file at once: b's idle shadow gives way, c's is changed, and the third gets one closed when done.
    const three = link.diagnosticsOfTexts({ uri: 'file:///w/c.ts', languageId: 'typescript', texts: ['text', 'one', 'two'] }, new AbortController().signal);
    await answerPulls(3);
    await three;
    await tick();
    expect(opened()).toEqual(['file:///w/c.efrit-check-3.ts', 'file:///w/c.efrit-check-4.ts']);
    expect(closed()).toEqual(['file:///w/b.efrit-check-1.ts', 'file:///w/c.efrit-check-4.ts']);
    expect(link.openShadows).toBe(2);
  });

  it('puts a text at a shadow ahead of the check, where shadows are kept open, and not where they are not', async () => {
    const kept = await setup({ executeCommandProvider: { commands: ['typescript.tsserverRequest'] } });
    kept.link.warmShadows({ uri: 'file:///w/src/a.ts', languageId: 'typescript', texts: ['as it is'] });
    expect(await kept.child.next()).toMatchObject({ method: 'textDocument/didOpen', params: { textDocument: { uri: 'file:///w/src/a.efrit-check-0.ts', text: 'as it is' } } });
    await tick();
    expect(kept.child.methods()).toEqual([]);
    expect(kept.link.openShadows).toBe(1);

    const pushing = await setup();
    expect(pushing.link.diagnosticsCompletion).toBe('quiet');
    pushing.link.warmShadows({ uri: 'file:///w/src/a.ts', languageId: 'typescript', texts: ['as it is'] });
    await tick();
    expect(pushing.child.methods()).toEqual([]);
  });

  it("keeps shadows out of the server's answers to the editor and to the agent, and out of the edits it asks the editor to apply", async () => {
    const { link, editor, child } = await setup();
    const range = { start: { line: 0, character: 9 }, end: { line: 0, character: 18 } };
    const real = { uri: 'file:///w/src/checkout.ts', range };
    const inShadow = { uri: 'file:///w/src/checkout.efrit-check-0.ts', range };

    // Until efrit-lsp opens a shadow, no answer can name one, and answers are not looked through.
    expect(link.shadowsUsed).toBe(false);
    editor.send(request(6, 'textDocument/references', { textDocument: { uri: 'file:///w/src/cart.ts' }, position: range.start, context: { includeDeclaration: true } }));
    await child.next((m) => m['id'] === 6);
    child.send(result(6, [real]));
    expect(await editor.next((m) => m['id'] === 6)).toMatchObject({ result: [real] });
    const checking = new AbortController();
    const check = link.diagnosticsOfTexts({ uri: real.uri, languageId: 'typescript', texts: ['export {};\n'] }, checking.signal).catch(() => undefined);
    await child.next((m) => m['method'] === 'textDocument/didOpen');
    expect(link.shadowsUsed).toBe(true);

    editor.send(request(7, 'textDocument/references', { textDocument: { uri: 'file:///w/src/cart.ts' }, position: range.start, context: { includeDeclaration: true } }));
    await child.next((m) => m['id'] === 7);
    child.send(result(7, [real, inShadow]));
    expect(await editor.next((m) => m['id'] === 7)).toMatchObject({ result: [real] });

    editor.send(request(8, 'textDocument/rename', { textDocument: { uri: 'file:///w/src/cart.ts' }, position: range.start, newName: 'sum' }));
    await child.next((m) => m['id'] === 8);
    child.send(result(8, { changes: { [real.uri]: [{ range, newText: 'sum' }], [inShadow.uri]: [{ range, newText: 'sum' }] } }));
    expect((await editor.next((m) => m['id'] === 8))['result']).toEqual({ changes: { [real.uri]: [{ range, newText: 'sum' }] } });

    child.send({ jsonrpc: '2.0', id: 40, method: 'workspace/applyEdit', params: { edit: { changes: { [inShadow.uri]: [{ range, newText: 'x' }] } } } });
    expect((await editor.next((m) => m['method'] === 'workspace/applyEdit'))['params']).toEqual({ edit: { changes: {} } });

    const own = link.request('textDocument/references', {}, new AbortController().signal);
    const sent = await child.next((m) => m['method'] === 'textDocument/references');
    child.send(result(sent['id'] as string, [inShadow, real]));
    await expect(own).resolves.toEqual([real]);
    // Answers that cannot name another document pass as they are.
    editor.send(request(9, 'textDocument/hover', {}));
    await child.next((m) => m['id'] === 9);
    child.send(result(9, { contents: `see ${inShadow.uri}` }));
    expect((await editor.next((m) => m['id'] === 9))['result']).toEqual({ contents: `see ${inShadow.uri}` });
    checking.abort();
    await check;
  });

  it("takes pylsp's first publish for a fresh shadow, which holds all its linters' findings, without a quiet wait", async () => {
    const { link, editor, child } = await setup({ definitionProvider: true }, { serverName: 'pylsp' });
    expect(link.diagnosticsCompletion).toBe('firstPublish');
    const checked = link.diagnosticsOfTexts({ uri: 'file:///w/greeter.py', languageId: 'python', texts: ['import sys\n'] }, new AbortController().signal);
    await child.next((m) => m['method'] === 'textDocument/didOpen');
    child.send(publish('file:///w/greeter.efrit-check-0.py', [diagnostic(0, "'sys' imported but unused")]));
    // No clock moved: the first publish settles it.
    await expect(checked).resolves.toEqual([[diagnostic(0, "'sys' imported but unused")]]);
    expect(await child.next()).toMatchObject({ method: 'textDocument/didClose', params: { textDocument: { uri: 'file:///w/greeter.efrit-check-0.py' } } });
    // A server that only pushes gets a fresh shadow per text: none is kept, none is warmed.
    link.warmShadows({ uri: 'file:///w/greeter.py', languageId: 'python', texts: ['x = 1\n'] });
    await tick();
    expect(child.methods()).toEqual([]);
    expect(editor.methods()).toEqual([]);
  });

  it('gives up on a shadow the server publishes nothing for, and closes it', async () => {
    const { link, child, clock } = await setup();
    const checked = link.diagnosticsOfTexts({ uri: 'file:///w/a.py', languageId: 'python', texts: ['x = 1\n'] }, new AbortController().signal);
    await child.next((m) => m['method'] === 'textDocument/didOpen');
    const gaveUp = expect(checked).rejects.toThrow('fake-ls published no diagnostics for the checked text within 10 s.');
    await clock.advance(10_000);
    await gaveUp;
    expect(await child.next()).toMatchObject({ method: 'textDocument/didClose', params: { textDocument: { uri: 'file:///w/a.efrit-check-0.py' } } });
  });

  it('names shadows next to their document, and knows them by name only', () => {
    expect(shadowUriFor('file:///w/src/a.ts', 7)).toBe('file:///w/src/a.efrit-check-7.ts');
    expect(shadowUriFor('file:///w/src/a.test.ts', 0)).toBe('file:///w/src/a.test.efrit-check-0.ts');
    expect(shadowUriFor('file:///w/Makefile', 1)).toBe('file:///w/Makefile.efrit-check-1');
    expect(isShadowUri('file:///w/src/a.efrit-check-7.ts')).toBe(true);
    expect(isShadowUri('file:///w/Makefile.efrit-check-1')).toBe(true);
    expect(isShadowUri('file:///w/src/a.ts')).toBe(false);
    expect(isShadowUri('file:///w/src.efrit-check-1/a.ts')).toBe(false);
    expect(isShadowUri('file:///w/src/a.efrit-check-x.ts')).toBe(false);
  });
});
