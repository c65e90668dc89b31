/**
 * The proxy router's bookkeeping, in memory: ids kept apart between the
 * wrapped server's and efrit-lsp's server→client requests, fan-out answers
 * merged, cancellation and the child's death routed. (No processes here;
 * proxy.test.ts runs the real thing around pylsp.)
 */
import { describe, expect, it } from 'vitest';
import type { Message, NotificationMessage, RequestMessage, ResponseMessage } from 'vscode-languageserver/node';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import { createDocumentSync } from '../../server/src/features/document-sync.js';
import { memoryLink, type Endpoint } from '../../server/src/proxy/memory-transport.js';
import { ProxyRouter } from '../../server/src/proxy/router.js';
import { eventually } from '../support/eventually.js';

class Party {
  readonly received: Message[] = [];
  constructor(readonly endpoint: Endpoint) {
    endpoint.reader.listen((message) => this.received.push(message));
  }
  send(message: RequestMessage | ResponseMessage | NotificationMessage): void {
    void this.endpoint.writer.write(message);
  }
  /** The first message received that matches, taken out of the list; waits for it to arrive. */
  next(predicate: (message: Message & Record<string, unknown>) => boolean = () => true): Promise<Message & Record<string, unknown>> {
    return eventually(() => {
      const index = this.received.findIndex((m) => predicate(m as Message & Record<string, unknown>));
      return index >= 0 ? (this.received.splice(index, 1)[0] as Message & Record<string, unknown>) : undefined;
    }, 'a message that matches');
  }
}

/** efrit-lsp's store, as the server shares it with the router. */
function sharedDocuments() {
  const documents = new DocumentStore();
  return { documents, sync: createDocumentSync(documents) };
}

function setup() {
  const shared = sharedDocuments();
  const [editorOuter, editorInner] = memoryLink();
  const [efritOuter, efritInner] = memoryLink();
  const [childOuter, childInner] = memoryLink();
  let exitChild: (reason: string) => void = () => undefined;
  const exits: number[] = [];
  const router = new ProxyRouter({
    editor: editorInner,
    efrit: efritInner,
    documents: shared,
    child: {
      endpoint: childInner,
      label: 'fake-ls',
      onExit: (listener) => (exitChild = listener),
      stop: () => Promise.resolve(),
    },
    exit: (code) => exits.push(code),
  });
  return { router, editor: new Party(editorOuter), efrit: new Party(efritOuter), child: new Party(childOuter), exitChild: (reason: string) => exitChild(reason), exits, store: shared.documents };
}

/** A router whose wrapped server can be restarted: each start is a new fake child. */
function setupWithRestarts(maxRestarts: number) {
  const [editorOuter, editorInner] = memoryLink();
  const [efritOuter, efritInner] = memoryLink();
  const children: { party: Party; exit: (reason: string) => void }[] = [];
  const startChild = () => {
    const [outer, inner] = memoryLink();
    const child = { party: new Party(outer), exit: (_reason: string) => undefined as void };
    children.push(child);
    return { endpoint: inner, label: 'fake-ls', onExit: (listener: (reason: string) => void) => (child.exit = listener), stop: () => Promise.resolve() };
  };
  const router = new ProxyRouter({ editor: editorInner, efrit: efritInner, documents: sharedDocuments(), child: startChild(), restartChild: startChild, maxRestarts, exit: () => undefined });
  return { router, editor: new Party(editorOuter), efrit: new Party(efritOuter), children };
}

const request = (id: number | string, method: string, params: unknown = {}): RequestMessage => ({ jsonrpc: '2.0', id, method, params: params as object });
const result = (id: number | string, value: unknown): ResponseMessage => ({ jsonrpc: '2.0', id, result: value as null });

describe('the proxy router', () => {
  it("forwards editor requests with their ids and keeps the two sides' server→client ids apart", async () => {
    const { editor, efrit, child } = setup();
    editor.send(request(7, 'textDocument/hover'));
    expect(await child.next()).toMatchObject({ id: 7, method: 'textDocument/hover' });
    child.send(result(7, { contents: 'doc' }));
    expect(await editor.next()).toMatchObject({ id: 7, result: { contents: 'doc' } });

    // Both sides number their own requests from 0: the editor sees two different ids.
    efrit.send(request(0, 'workspace/applyEdit', { edit: {} }));
    child.send(request(0, 'workspace/configuration', { items: [] }));
    const fromEfrit = await editor.next((m) => m['method'] === 'workspace/applyEdit');
    const fromChild = await editor.next((m) => m['method'] === 'workspace/configuration');
    expect(fromChild['id']).toBe(0);
    expect(fromEfrit['id']).toBe('efrit:0');
    editor.send(result('efrit:0', { applied: true }));
    editor.send(result(0, [null]));
    expect(await efrit.next()).toMatchObject({ id: 0, result: { applied: true } });
    expect(await child.next()).toMatchObject({ id: 0, result: [null] });
    expect(efrit.received).toHaveLength(0);
    expect(child.received).toHaveLength(0);
  });

  it('merges code actions (the wrapped server first) and routes resolve, commands and cancellation by owner', async () => {
    const { editor, efrit, child } = setup();
    editor.send(request(3, 'textDocument/codeAction', { textDocument: { uri: 'file:///a.py' }, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, context: { diagnostics: [] } }));
    await child.next((m) => m['id'] === 3);
    await efrit.next((m) => m['id'] === 3);
    efrit.send(result(3, [{ title: 'Efrit: Explain', data: { efrit: 1 } }]));
    child.send(result(3, [{ title: 'Organize imports' }]));
    expect((await editor.next())['result']).toEqual([{ title: 'Organize imports' }, { title: 'Efrit: Explain', data: { efrit: 1 } }]);

    editor.send(request(4, 'codeAction/resolve', { title: 'Efrit: Explain', data: { efrit: 1 } }));
    editor.send(request(5, 'codeAction/resolve', { title: 'Organize imports', data: { x: 1 } }));
    editor.send(request(6, 'workspace/executeCommand', { command: 'efrit.status', arguments: [] }));
    editor.send(request(8, 'workspace/executeCommand', { command: 'pylsp.organize', arguments: [] }));
    expect((await efrit.next((m) => m['id'] === 4))['method']).toBe('codeAction/resolve');
    expect((await child.next((m) => m['id'] === 5))['method']).toBe('codeAction/resolve');
    expect((await efrit.next((m) => m['id'] === 6))['method']).toBe('workspace/executeCommand');
    expect((await child.next((m) => m['id'] === 8))['method']).toBe('workspace/executeCommand');

    editor.send({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 6 } });
    expect(await efrit.next((m) => m['method'] === '$/cancelRequest')).toMatchObject({ params: { id: 6 } });
    expect(child.received.some((m) => (m as NotificationMessage).method === '$/cancelRequest')).toBe(false);
  });

  it("keeps the wrapped server's diagnostics for efrit-lsp, and takes the efrit section out of its settings", async () => {
    const { router, editor, efrit, child } = setup();
    const diagnostic = { range: { start: { line: 1, character: 0 }, end: { line: 1, character: 10 } }, message: 'unused', source: 'pyflakes' };
    child.send({ jsonrpc: '2.0', method: 'textDocument/publishDiagnostics', params: { uri: 'file:///a.py', diagnostics: [diagnostic] } });
    expect(await editor.next()).toMatchObject({ method: 'textDocument/publishDiagnostics' });
    expect(router.diagnostics.get('file:///a.py')).toEqual([diagnostic]);
    editor.send(request(9, 'textDocument/codeAction', { textDocument: { uri: 'file:///a.py' }, range: { start: { line: 1, character: 2 }, end: { line: 1, character: 2 } }, context: { diagnostics: [] } }));
    expect((await efrit.next((m) => m['id'] === 9))['params']).toMatchObject({ context: { diagnostics: [diagnostic] } });
    expect((await child.next((m) => m['id'] === 9))['params']).toMatchObject({ context: { diagnostics: [] } });

    editor.send({ jsonrpc: '2.0', method: 'workspace/didChangeConfiguration', params: { settings: { efrit: { logLevel: 'debug' }, pylsp: { plugins: {} } } } });
    expect((await child.next((m) => m['method'] === 'workspace/didChangeConfiguration'))['params']).toEqual({ settings: { pylsp: { plugins: {} } } });
    expect((await efrit.next((m) => m['method'] === 'workspace/didChangeConfiguration'))['params']).toMatchObject({ settings: { efrit: { logLevel: 'debug' } } });
  });

  it("answers the wrapped server's pending requests when it dies, says so once, and keeps efrit-lsp's going", async () => {
    const { router, editor, efrit, child, exitChild, exits } = setup();
    editor.send(request(1, 'textDocument/hover'));
    await child.next((m) => m['id'] === 1);
    exitChild('was killed by SIGKILL');
    expect(router.childRunning).toBe(false);
    expect(await editor.next((m) => m['id'] === 1)).toMatchObject({ error: { message: expect.stringMatching(/"fake-ls" is not running/) } });
    expect(await editor.next((m) => m['method'] === 'window/showMessage')).toMatchObject({ params: { type: 1, message: expect.stringMatching(/fake-ls" was killed by SIGKILL/) } });

    editor.send(request(2, 'efrit/status'));
    await efrit.next((m) => m['id'] === 2);
    efrit.send(result(2, { ok: true }));
    expect(await editor.next((m) => m['id'] === 2)).toMatchObject({ result: { ok: true } });
    editor.send(request(3, 'textDocument/codeAction', { textDocument: { uri: 'file:///a.py' }, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, context: { diagnostics: [] } }));
    await efrit.next((m) => m['id'] === 3);
    efrit.send(result(3, [{ title: 'Efrit: Explain' }]));
    expect((await editor.next((m) => m['id'] === 3))['result']).toEqual([{ title: 'Efrit: Explain' }]);

    editor.send(request(4, 'shutdown'));
    await efrit.next((m) => m['id'] === 4);
    efrit.send(result(4, null));
    expect(await editor.next((m) => m['id'] === 4)).toMatchObject({ result: null });
    editor.send({ jsonrpc: '2.0', method: 'exit' });
    await eventually(() => (exits.length > 0 ? true : undefined), 'the router to exit');
    expect(exits).toEqual([0]);
    expect(child.received).toHaveLength(0);
  });

  it('restarts a crashed wrapped server with the same initialize, the latest settings and every open document as it is now', async () => {
    const { router, editor, efrit, children } = setupWithRestarts(1);
    const first = children[0]!.party;
    editor.send(request(1, 'initialize', { capabilities: {}, initializationOptions: { efrit: { logLevel: 'debug' }, pylsp: { x: 1 } } }));
    first.send(result((await first.next((m) => m['method'] === 'initialize'))['id'] as number, { capabilities: { textDocumentSync: 2 } }));
    efrit.send(result((await efrit.next((m) => m['method'] === 'initialize'))['id'] as number, { capabilities: {} }));
    await editor.next((m) => m['id'] === 1);
    editor.send({ jsonrpc: '2.0', method: 'initialized', params: {} });
    editor.send({ jsonrpc: '2.0', method: 'workspace/didChangeConfiguration', params: { settings: { efrit: { model: 'm' }, pylsp: { y: 2 } } } });
    editor.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: 'file:///a.py', languageId: 'python', version: 1, text: 'total = 1\n' } } });
    await first.next((m) => m['method'] === 'textDocument/didOpen');
    first.send({ jsonrpc: '2.0', method: 'textDocument/publishDiagnostics', params: { uri: 'file:///a.py', diagnostics: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 5 } }, message: 'unused' }] } });
    await editor.next((m) => m['method'] === 'textDocument/publishDiagnostics');

    children[0]!.exit('exited with code 1');
    expect(await editor.next((m) => m['method'] === 'textDocument/publishDiagnostics')).toMatchObject({ params: { uri: 'file:///a.py', diagnostics: [] } });
    expect(await editor.next((m) => m['method'] === 'window/showMessage')).toMatchObject({ params: { type: 2, message: expect.stringMatching(/"fake-ls" exited with code 1; restarting it/) } });
    // While it starts: an edit is kept for it, a request answered at once.
    editor.send({ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri: 'file:///a.py', version: 2 }, contentChanges: [{ range: { start: { line: 0, character: 8 }, end: { line: 0, character: 9 } }, text: '2' }] } });
    editor.send(request(5, 'textDocument/hover'));
    expect(await editor.next((m) => m['id'] === 5)).toMatchObject({ error: { message: expect.stringMatching(/not running/) } });

    const second = children[1]!.party;
    const initialize = await second.next((m) => m['method'] === 'initialize');
    expect(initialize['params']).toMatchObject({ initializationOptions: { pylsp: { x: 1 } } });
    expect(JSON.stringify(initialize['params'])).not.toContain('efrit');
    second.send(result(initialize['id'] as string, { capabilities: { textDocumentSync: 2 } }));
    expect(await second.next((m) => m['method'] === 'initialized')).toBeDefined();
    expect((await second.next((m) => m['method'] === 'workspace/didChangeConfiguration'))['params']).toEqual({ settings: { pylsp: { y: 2 } } });
    expect((await second.next((m) => m['method'] === 'textDocument/didOpen'))['params']).toEqual({
      textDocument: { uri: 'file:///a.py', languageId: 'python', version: 2, text: 'total = 2\n' },
    });
    expect(router.childRunning).toBe(true);
    editor.send(request(6, 'textDocument/hover'));
    second.send(result((await second.next((m) => m['id'] === 6))['id'] as number, { contents: 'int' }));
    expect(await editor.next((m) => m['id'] === 6)).toMatchObject({ result: { contents: 'int' } });

    // Past maxRestarts within the window, a crash is final.
    children[1]!.exit('was killed by SIGSEGV');
    expect(await editor.next((m) => m['method'] === 'window/showMessage')).toMatchObject({
      params: { type: 1, message: expect.stringMatching(/killed by SIGSEGV\. It has crashed 2 times in 3 minutes, so it is not restarted again/) },
    });
    expect(children).toHaveLength(2);
    expect(router.childRunning).toBe(false);
  });

  it("keeps one copy of each document, efrit-lsp's, and resyncs the wrapped server in full after a change the store had to repair", async () => {
    const { editor, efrit, child, store } = setup();
    const uri = 'file:///work/cart.py';
    const change = (version: number, contentChanges: unknown) => editor.send({ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri, version }, contentChanges } });
    editor.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'python', version: 1, text: 'total = 1\nprint(total)\n' } } });
    expect((await child.next((m) => m['method'] === 'textDocument/didOpen'))['params']).toMatchObject({ textDocument: { uri, version: 1 } });
    expect(store.get(uri)?.text).toBe('total = 1\nprint(total)\n');

    // Taken exactly: the child gets the change as the editor sent it.
    const exact = [{ range: { start: { line: 0, character: 8 }, end: { line: 0, character: 9 } }, text: '2' }];
    change(2, exact);
    expect((await child.next((m) => m['method'] === 'textDocument/didChange'))['params']).toEqual({ textDocument: { uri, version: 2 }, contentChanges: exact });

    // A range past the end, then a change list that is not a list: the store repairs or skips them; the child gets its whole text.
    change(3, [{ range: { start: { line: 40, character: 0 }, end: { line: 41, character: 0 } }, text: '# end\n' }]);
    expect((await child.next((m) => m['method'] === 'textDocument/didChange'))['params']).toEqual({
      textDocument: { uri, version: 3 },
      contentChanges: [{ text: 'total = 2\nprint(total)\n# end\n' }],
    });
    change(4, 'not a list');
    expect((await child.next((m) => m['method'] === 'textDocument/didChange'))['params']).toEqual({
      textDocument: { uri, version: 3 },
      contentChanges: [{ text: 'total = 2\nprint(total)\n# end\n' }],
    });
    expect(store.get(uri)?.text).toBe('total = 2\nprint(total)\n# end\n');

    // A change to a document that is not open reaches neither side; efrit-lsp hears of none of them over its link.
    editor.send({ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri: 'file:///work/other.py', version: 2 }, contentChanges: exact } });
    editor.send({ jsonrpc: '2.0', method: 'textDocument/didClose', params: { textDocument: { uri } } });
    expect((await child.next((m) => m['method'] === 'textDocument/didClose'))['params']).toEqual({ textDocument: { uri } });
    expect(store.get(uri)).toBeUndefined();
    expect(child.received.filter((m) => JSON.stringify(m).includes('other.py'))).toEqual([]);
    expect(efrit.received.filter((m) => (m as { method?: string }).method?.startsWith('textDocument/did'))).toEqual([]);
  });
  describe('malformed ranges and diagnostics get an answer instead of leaving the editor waiting', () => {
    const uri = 'file:///work/cart.py';
    const cursor = { start: { line: 1, character: 3 }, end: { line: 1, character: 3 } };
    async function withOpenDocument() {
      const parties = setup();
      parties.editor.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'python', version: 1, text: 'total = 1\nprint(total)\n' } } });
      await parties.child.next((m) => m['method'] === 'textDocument/didOpen');
      return parties;
    }
    async function answered(id: number, side: Party) {
      const asked = await side.next((m) => m['id'] === id);
      side.send(result(id, []));
      return asked;
    }

    it("leaves out the wrapped server's diagnostics that have no range (it is third-party code)", async () => {
      const { editor, efrit, child } = await withOpenDocument();
      const good = { range: { start: { line: 1, character: 0 }, end: { line: 1, character: 12 } }, message: 'print is fine' };
      child.send({ jsonrpc: '2.0', method: 'textDocument/publishDiagnostics', params: { uri, diagnostics: [{ message: 'no range' }, null, good] } });
      await editor.next((m) => m['method'] === 'textDocument/publishDiagnostics');
      editor.send(request(1, 'textDocument/codeAction', { textDocument: { uri }, range: cursor, context: { diagnostics: [] } }));
      await answered(1, child);
      expect((await answered(1, efrit))['params']).toMatchObject({ context: { diagnostics: [good] } });
      expect(await editor.next((m) => m['id'] === 1)).toMatchObject({ result: [] });
    });

    it("passes the editor's malformed range and diagnostics to efrit-lsp as they are, for it to refuse with a reason", async () => {
      const { editor, efrit, child } = await withOpenDocument();
      editor.send(request(2, 'textDocument/codeAction', { textDocument: { uri }, range: { start: null, end: 3 }, context: { diagnostics: [null, { message: 'no range' }] } }));
      await answered(2, child);
      expect((await answered(2, efrit))['params']).toMatchObject({ range: { start: null, end: 3 }, context: { diagnostics: [null, { message: 'no range' }] } });
      expect(await editor.next((m) => m['id'] === 2)).toMatchObject({ result: [] });
    });

    it('passes efrit.runAction with arguments that are not a list to efrit-lsp as they are', async () => {
      const { editor, efrit } = await withOpenDocument();
      editor.send(request(3, 'workspace/executeCommand', { command: 'efrit.runAction', arguments: { 0: { textDocument: { uri }, range: cursor } } }));
      expect((await answered(3, efrit))['params']).toMatchObject({ command: 'efrit.runAction', arguments: { 0: { textDocument: { uri } } } });
      expect(await editor.next((m) => m['id'] === 3)).toMatchObject({ result: [] });
    });

    it('passes efrit.runAction with a malformed diagnostic to efrit-lsp as it is', async () => {
      const { editor, efrit } = await withOpenDocument();
      editor.send(request(4, 'workspace/executeCommand', { command: 'efrit.runAction', arguments: [{ textDocument: { uri }, range: cursor, diagnostics: [null] }] }));
      expect((await answered(4, efrit))['params']).toMatchObject({ arguments: [{ textDocument: { uri }, range: cursor, diagnostics: [null] }] });
      expect(await editor.next((m) => m['id'] === 4)).toMatchObject({ result: [] });
    });
  });
});
