/**
 * The bytes on stdin, written by hand: broken JSON, messages that are not
 * JSON-RPC, frames split across writes or packed into one, a 20 MB message,
 * a broken header, and the two ways a session ends. Except for the broken
 * header (see below), the server must go on answering afterwards; and it must
 * only ever write well-framed JSON-RPC to stdout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic/server.js';
import { testApiKey } from '../support/harness.js';
import { frame, frameJson, RawServer, type RawMessage } from './fuzz-raw-lsp.js';

const methodNotFound = -32601;
const invalidParams = -32602;
/** LSP 3.17 `ServerCancelled`: the server ended the request's job (here: shutdown). */
const serverCancelled = -32802;
/** `window/logMessage` type for errors. */
const errorType = 1;

let server: RawServer | undefined;
let fake: FakeAnthropic | undefined;
afterEach(async () => {
  const s = server;
  server = undefined;
  if (s !== undefined) {
    await s.dispose();
    expect(s.outputErrors).toEqual([]);
  }
  await fake?.close();
  fake = undefined;
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `efrit/status` is answered with a result: the proof that the server still serves. */
async function expectStatusAnswered(s: RawServer): Promise<void> {
  const reply = await s.request('efrit/status', {});
  expect(reply.error).toBeUndefined();
  expect(reply.result).toMatchObject({ version: expect.any(String), queue: expect.any(Object) });
  expect(s.alive).toBe(true);
}

function expectError(reply: RawMessage, code: number, message?: RegExp): void {
  expect(reply.result).toBeUndefined();
  expect(reply.error?.code).toBe(code);
  expect(typeof reply.error?.message).toBe('string');
  if (message !== undefined) expect(reply.error?.message).toMatch(message);
}

describe('a valid start', () => {
  it('answers initialize with the capabilities, and then requests', async () => {
    server = RawServer.spawn();
    const id = server.id();
    await server.send({ jsonrpc: '2.0', id, method: 'initialize', params: { processId: null, rootUri: null, capabilities: {} } });
    const reply = await server.response(id);
    expect(reply.result).toMatchObject({
      capabilities: { textDocumentSync: { change: 2 }, codeActionProvider: { resolveProvider: true } },
      serverInfo: { name: 'efrit-lsp' },
    });
    await server.send({ jsonrpc: '2.0', method: 'initialized', params: {} });
    await expectStatusAnswered(server);
  });
});

describe('bodies that are not a JSON-RPC message', () => {
  it('drops a body that is not valid JSON without an answer, and goes on serving', async () => {
    server = await RawServer.started();
    const before = server.messages.length;
    // The id is in there, but the JSON never ends: the request cannot be identified, so nothing can answer it.
    await server.write(frame('{"jsonrpc":"2.0","id":4242,"method":"efrit/status","params":{'));
    await server.write(frame('{"jsonrpc":"2.0","id":4243,"method":"efrit/status"} trailing'));
    await server.write(frame('\u00ff\u00fe not json at all'));

    await expectStatusAnswered(server);
    // vscode-jsonrpc reports the parse failure on the reader's error event,
    // which vscode-languageserver does not listen to: no JSON-RPC -32700 reply
    // (the spec's "Parse error" with id null) and no log line. The message is simply lost.
    expect(server.responseTo(4242)).toBeUndefined();
    expect(server.responseTo(4243)).toBeUndefined();
    expect(server.messages.slice(before).filter((m) => m.id === null)).toEqual([]);
  });

  it('logs, and does not answer, JSON that is not an object or has no usable id', async () => {
    server = await RawServer.started();
    const seen = server.messages.length;
    for (const body of ['42', '"a string"', 'true', 'null', '[1,2]', '[{"jsonrpc":"2.0","id":77,"method":"efrit/status"}]', '{}']) {
      await server.write(frame(body));
    }
    // An id that is neither a number nor a string: JSON-RPC allows null only for errors, never an object.
    await server.send({ jsonrpc: '2.0', id: { nested: 1 }, method: 'efrit/status' });
    await server.send({ jsonrpc: '2.0', id: null, method: 'efrit/status' });

    await expectStatusAnswered(server);
    const logged = server.messages
      .slice(seen)
      .filter((m) => m.method === 'window/logMessage')
      .map((m) => m.params as { type: number; message: string });
    // A JSON-RPC batch is not supported by LSP: it is logged as one invalid message and not answered.
    expect(server.responseTo(77)).toBeUndefined();
    expect(logged.filter((l) => l.type === errorType && /neither a response nor a notification|empty message/.test(l.message)).length).toBe(9);
  });

  it('answers a request without "jsonrpc": "2.0" all the same (vscode-jsonrpc does not check the version)', async () => {
    server = await RawServer.started();
    await server.write(frame('{"id":501,"method":"efrit/status","params":{}}'));
    await server.write(frame('{"jsonrpc":"1.0","id":502,"method":"efrit/status","params":{}}'));
    expect((await server.response(501)).result).toMatchObject({ version: expect.any(String) });
    expect((await server.response(502)).result).toMatchObject({ version: expect.any(String) });
    await expectStatusAnswered(server);
  });
});

describe('requests the server cannot serve as sent', () => {
  it('answers an unknown method with MethodNotFound (-32601), and ignores an unknown notification', async () => {
    server = await RawServer.started();
    await server.send({ jsonrpc: '2.0', method: 'efrit/noSuchNotification', params: { x: 1 } });
    expectError(await server.request('efrit/summon', { x: 1 }), methodNotFound, /efrit\/summon/);
    expectError(await server.request('textDocument/hover', { textDocument: { uri: 'file:///x.ts' }, position: { line: 0, character: 0 } }), methodNotFound);
    expectError(await server.request('$/efrit.unknown', {}), methodNotFound);
    await expectStatusAnswered(server);
  });

  it('answers params of the wrong type with an error, never silence', async () => {
    server = await RawServer.started();
    // By position where LSP defines them by name: vscode-jsonrpc refuses before the handler runs.
    expectError(await server.request('textDocument/codeAction', [1, 2]), invalidParams, /by name but received parameters by position/);
    // Params that are a bare string (JSON-RPC allows only an object or an array) reach the handlers.
    expectError(await server.request('efrit/chat', 'hello'), invalidParams, /expected an object of parameters/);
    expectError(await server.request('efrit/endSession', 42), invalidParams, /expected an object of parameters/);
    expectError(await server.request('efrit/documentText', { textDocument: 'file:///x.ts' }), invalidParams, /"textDocument" must be \{ uri: string \}/);
    expectError(await server.request('workspace/executeCommand', { command: 42, arguments: 'nope' }), invalidParams, /"command" must be a non-empty string/);
    expectError(await server.request('workspace/executeCommand', { command: 'efrit.status', arguments: 'nope' }), invalidParams, /"arguments" must be a list/);
    // By position for a custom method: vscode-jsonrpc spreads the array into the handler's arguments, so the first element is the params.
    expect((await server.request('efrit/endSession', [{ sessionId: 'no-such-session' }])).result).toEqual({ ended: false });
    expectError(await server.request('efrit/endSession', ['no-such-session']), invalidParams, /expected an object/);
    // efrit/status takes no parameters and ignores whatever comes.
    expect((await server.request('efrit/status', 'whatever')).error).toBeUndefined();

    // A codeAction whose params are not an object gets InvalidParams too.
    expectError(await server.request('textDocument/codeAction', 'str'), invalidParams, /expected an object of parameters/);
    await expectStatusAnswered(server);
  });
});

describe('framing', () => {
  it('reassembles a frame split across writes: inside the header, inside the body, inside a UTF-8 character', async () => {
    server = await RawServer.started();
    // Non-ASCII text so that Content-Length (bytes) and the string length differ.
    const sessionId = 'séance-😀-Ω';
    const id = server.id();
    const bytes = frameJson({ jsonrpc: '2.0', id, method: 'efrit/endSession', params: { sessionId } });
    const bodyStart = bytes.indexOf('\r\n\r\n') + 4;
    const emoji = bytes.indexOf(Buffer.from('😀'));
    const cuts = [8, bodyStart - 3, bodyStart + 5, emoji + 2, bytes.length - 1];
    let from = 0;
    for (const cut of cuts) {
      await server.write(bytes.subarray(from, cut));
      from = cut;
      // Long enough for each piece to arrive as its own chunk.
      await sleep(60);
      expect(server.responseTo(id)).toBeUndefined();
    }
    await server.write(bytes.subarray(from));
    expect((await server.response(id)).result).toEqual({ ended: false });

    // Content-Length announces more than the first write carries; the next write completes the body.
    const second = server.id();
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: second, method: 'efrit/documentText', params: { textDocument: { uri: 'file:///ünïcödé/\ud800.ts' } } }));
    await server.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body.subarray(0, 20)]));
    await sleep(200);
    expect(server.responseTo(second)).toBeUndefined();
    await server.write(body.subarray(20));
    const notOpen = await server.response(second);
    expectError(notOpen, invalidParams, /ünïcödé\/.*is not open/);
    // The lone surrogate went in escaped and comes back escaped, unchanged.
    expect(String(notOpen.error?.message)).toContain('\ud800.ts');
    await expectStatusAnswered(server);
  });

  it('reads two and three messages from one write, in order', async () => {
    server = await RawServer.started();
    const [a, b, c] = [server.id(), server.id(), server.id()];
    const uri = 'file:///work/two-in-one.ts';
    await server.write(
      Buffer.concat([
        frameJson({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'typescript', version: 1, text: 'const a = 1;\n' } } }),
        frameJson({ jsonrpc: '2.0', id: a, method: 'efrit/documentText', params: { textDocument: { uri } } }),
      ]),
    );
    await server.write(
      Buffer.concat([
        frameJson({ jsonrpc: '2.0', id: b, method: 'efrit/status' }),
        frameJson({ jsonrpc: '2.0', method: 'textDocument/didClose', params: { textDocument: { uri } } }),
        frameJson({ jsonrpc: '2.0', id: c, method: 'efrit/documentText', params: { textDocument: { uri } } }),
      ]),
    );
    expect((await server.response(a)).result).toEqual({ uri, version: 1, text: 'const a = 1;\n' });
    expect((await server.response(b)).result).toMatchObject({ documents: { open: 1 } });
    expectError(await server.response(c), invalidParams, /is not open/);
    const order = server.messages.filter((m) => m.id === a || m.id === b || m.id === c).map((m) => m.id);
    expect(order).toEqual([a, b, c]);
  });

  it('takes a 20 MB message in one write and a 20 MB request, and answers after them', async () => {
    server = await RawServer.started();
    const uri = 'file:///work/huge.txt';
    const line = `${'x'.repeat(99)}\n`;
    const text = line.repeat(200_000); // 20,000,000 characters, 200,000 lines
    await server.write(frameJson({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'plaintext', version: 1, text } } }));
    const status = await server.request('efrit/status', {}, 20_000);
    expect(status.result).toMatchObject({ documents: { open: 1 } });
    const copy = await server.request('efrit/documentText', { textDocument: { uri } }, 20_000);
    expect((copy.result as { text: string }).text.length).toBe(text.length);
    expect((copy.result as { text: string }).text === text).toBe(true);

    // A 20 MB request body, answered like any other.
    const ended = await server.request('efrit/endSession', { sessionId: 's'.repeat(20_000_000) }, 20_000);
    expect(ended.result).toEqual({ ended: false });

    await server.send({ jsonrpc: '2.0', method: 'textDocument/didClose', params: { textDocument: { uri } } });
    expect((await server.request('efrit/status', {})).result).toMatchObject({ documents: { open: 0 } });
  }, 60_000);
});

describe('a broken Content-Length header', () => {
  /*
   * What vscode-jsonrpc 10 (ReadableStreamMessageReader) does with
   * `Content-Length: abc`: parseInt gives NaN, so it fires an error on the
   * reader and returns. vscode-languageserver does not listen to reader
   * errors, so nothing is answered, nothing is logged, the connection is not
   * closed and the process does not exit. But the header block has already
   * been consumed while the body has not: the orphaned body and the next
   * frame's header are read together as the next header block. That block
   * has no line starting with Content-Length (the body's first ':' makes its
   * whole line one bogus header), so that frame is lost as well, and so on
   * for every later frame: the stream stays out of step for good. (It only
   * falls back into step if an orphaned body happens to end with CRLF.)
   * A client that sends a bad header has lost the connection; what matters
   * is that the server does not spin or hang: when the client closes stdin,
   * vscode-languageserver's end-of-input handler exits at once, with code 1
   * since no shutdown came first.
   */
  it('leaves the server alive but deaf to later frames; closing stdin then ends it with code 1 at once', async () => {
    server = await RawServer.started();
    const before = server.messages.length;
    await server.write('Content-Length: abc\r\n\r\n{"jsonrpc":"2.0","id":901,"method":"efrit/status"}');
    await sleep(300);
    const later = server.id();
    await server.send({ jsonrpc: '2.0', id: later, method: 'efrit/status' });
    const shutdown = server.id();
    await server.send({ jsonrpc: '2.0', id: shutdown, method: 'shutdown' });
    await sleep(1000);

    expect(server.alive).toBe(true);
    expect(server.responseTo(901)).toBeUndefined();
    expect(server.responseTo(later)).toBeUndefined();
    expect(server.responseTo(shutdown)).toBeUndefined();
    expect(server.messages.slice(before)).toEqual([]);

    const closedAt = Date.now();
    server.child.stdin.end();
    expect(await server.exitWithin(2000)).toBe(true);
    expect(Date.now() - closedAt).toBeLessThan(2000);
    expect(server.exitCode).toBe(1);
    expect(server.exitSignal).toBeNull();
  });

  it('falls back into step only when the orphaned body ends with CRLF (it is then read as a bogus header line)', async () => {
    server = await RawServer.started();
    // After the error the reader returns without reading on, so the next frame goes in a later write.
    await server.write('Content-Length: not-a-number\r\n\r\n{"jsonrpc":"2.0","id":902,"method":"efrit/status"}\r\n');
    await sleep(200);
    await expectStatusAnswered(server);
    expect(server.responseTo(902)).toBeUndefined();
  });

  it('skips a header block without Content-Length; data already buffered behind it waits for the next chunk', async () => {
    server = await RawServer.started();
    // Alone in its write: the reader reports the missing header and the next chunk is read normally.
    await server.write('Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n');
    await sleep(200);
    await expectStatusAnswered(server);

    // Packed with a good frame in one write: after the error the reader returns
    // without looking at the rest of the chunk, so that frame waits in the
    // buffer until more bytes arrive, and is then answered first.
    const waiting = server.id();
    await server.write(Buffer.concat([Buffer.from('X-Nothing: here\r\n\r\n'), frameJson({ jsonrpc: '2.0', id: waiting, method: 'efrit/status' })]));
    await sleep(500);
    expect(server.responseTo(waiting)).toBeUndefined();
    await expectStatusAnswered(server);
    expect(server.responseTo(waiting)?.result).toMatchObject({ version: expect.any(String) });
  });
});

describe('ending a session', () => {
  it('exits with code 1 on exit without shutdown', async () => {
    server = await RawServer.started();
    await server.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await server.exitWithin(2000)).toBe(true);
    expect(server.exitCode).toBe(1);
  });

  it('on shutdown during a model call, answers that request as cancelled by the server and hangs up on the API; exit then ends with code 0', async () => {
    fake = await startFakeAnthropic({ apiKey: testApiKey, latencyMs: 5000, respond: () => ({ text: 'Far too late.' }) });
    server = await RawServer.started({ ANTHROPIC_API_KEY: testApiKey, ANTHROPIC_BASE_URL: fake.url });
    const chat = server.id();
    await server.send({ jsonrpc: '2.0', id: chat, method: 'efrit/chat', params: { message: 'Take your time.' } });
    await fake.waitForRequests(1);

    const shutdown = server.id();
    await server.send({ jsonrpc: '2.0', id: shutdown, method: 'shutdown' });
    const shutdownReply = await server.response(shutdown, 2000);
    expect(shutdownReply.error).toBeUndefined();
    expect(shutdownReply.result).toBeNull();
    const chatReply = await server.response(chat, 2000);
    expectError(chatReply, serverCancelled, /shutting down/);
    expect(chatReply.error?.data).toEqual({ reason: 'shuttingDown' });
    // The HTTP call is aborted by the cancellation itself, before the process goes away.
    const f = fake;
    await server.waitFor(() => (f.requests[0]?.outcome === 'aborted-by-client' ? true : undefined), 'the fake to see the request aborted', 2000);

    const exitAt = Date.now();
    await server.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await server.exitWithin(2000)).toBe(true);
    expect(Date.now() - exitAt).toBeLessThan(2000);
    expect(server.exitCode).toBe(0);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.outcome).toBe('aborted-by-client');
  });
});
