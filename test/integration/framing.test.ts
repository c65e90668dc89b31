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
import { never } from '../support/gate.js';

const methodNotFound = -32601;
const invalidParams = -32602;
/** LSP 3.17 `ServerCancelled`: the server ended the request's job (here: shutdown). */
const serverCancelled = -32802;

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
    // What the transport library does with the broken bodies is its business; efrit-lsp answers none of them as if valid.
    expect(server.responseTo(4242)?.result).toBeUndefined();
    expect(server.responseTo(4243)?.result).toBeUndefined();
    expect(server.messages.length).toBeGreaterThan(before);
  });

  it('survives JSON that is not an object or has no usable id, and goes on serving', async () => {
    server = await RawServer.started();
    for (const body of ['42', '"a string"', 'true', 'null', '[1,2]', '[{"jsonrpc":"2.0","id":77,"method":"efrit/status"}]', '{}']) {
      await server.write(frame(body));
    }
    // An id that is neither a number nor a string: JSON-RPC allows null only for errors, never an object.
    await server.send({ jsonrpc: '2.0', id: { nested: 1 }, method: 'efrit/status' });
    await server.send({ jsonrpc: '2.0', id: null, method: 'efrit/status' });

    await expectStatusAnswered(server);
    // A JSON-RPC batch is not LSP: nothing in it is served.
    expect(server.responseTo(77)).toBeUndefined();
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
    }
    await server.write(bytes.subarray(from));
    expect((await server.response(id)).result).toEqual({ ended: false });

    // Content-Length announces more than the first write carries; the next write completes the body.
    const second = server.id();
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: second, method: 'efrit/documentText', params: { textDocument: { uri: 'file:///ünïcödé/\ud800.ts' } } }));
    await server.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body.subarray(0, 20)]));
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

describe('ending a session', () => {
  it('exits with code 1 on exit without shutdown', async () => {
    server = await RawServer.started();
    await server.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await server.exitWithin(10_000)).toBe(true);
    expect(server.exitCode).toBe(1);
  });

  it('on shutdown during a model call, answers that request as cancelled by the server and hangs up on the API; exit then ends with code 0', async () => {
    fake = await startFakeAnthropic({ apiKey: testApiKey, respond: () => ({ text: 'Far too late.', hold: { until: never } }) });
    server = await RawServer.started({ ANTHROPIC_API_KEY: testApiKey, ANTHROPIC_BASE_URL: fake.url });
    const chat = server.id();
    await server.send({ jsonrpc: '2.0', id: chat, method: 'efrit/chat', params: { message: 'Take your time.' } });
    await fake.waitForRequests(1);

    const shutdown = server.id();
    await server.send({ jsonrpc: '2.0', id: shutdown, method: 'shutdown' });
    const shutdownReply = await server.response(shutdown, 10_000);
    expect(shutdownReply.error).toBeUndefined();
    expect(shutdownReply.result).toBeNull();
    const chatReply = await server.response(chat, 10_000);
    expectError(chatReply, serverCancelled, /shutting down/);
    expect(chatReply.error?.data).toEqual({ reason: 'shuttingDown' });
    // The HTTP call is aborted by the cancellation itself, before the process goes away.
    const f = fake;
    await server.waitFor(() => (f.requests[0]?.outcome === 'aborted-by-client' ? true : undefined), 'the fake to see the request aborted', 10_000);

    await server.send({ jsonrpc: '2.0', method: 'exit' });
    expect(await server.exitWithin(10_000)).toBe(true);
    expect(server.exitCode).toBe(0);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.outcome).toBe('aborted-by-client');
  });
});
