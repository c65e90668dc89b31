/**
 * Every transport the command line offers (--node-ipc, --socket=PORT,
 * --pipe=NAME; --stdio is every other test) carries the server, and each
 * sends through the redacting writer: a key the model quotes never arrives.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createProtocolConnection,
  InitializedNotification,
  InitializeRequest,
  IPCMessageReader,
  IPCMessageWriter,
  SocketMessageReader,
  SocketMessageWriter,
  type MessageReader,
  type MessageWriter,
  type ProtocolConnection,
} from 'vscode-languageserver-protocol/node';
import type { ChatResult } from '../../server/src/protocol.js';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic/server.js';
import { testApiKey } from '../support/harness.js';
import { repoRoot, serverEntry, vscodeCapabilities } from '../support/lsp-client.js';

let fake: FakeAnthropic | undefined;
let child: ChildProcess | undefined;
let listener: Server | undefined;
let scratch: string | undefined;
afterEach(async () => {
  child?.kill();
  child = undefined;
  await fake?.close();
  fake = undefined;
  await new Promise<void>((resolve) => (listener === undefined ? resolve() : listener.close(() => resolve())));
  listener = undefined;
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  scratch = undefined;
});

function startServer(args: string[]): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, ANTHROPIC_API_KEY: testApiKey, ANTHROPIC_BASE_URL: fake?.url };
  child = fork(serverEntry, args, { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  return child;
}

/** Listens on `address` (a port on loopback when undefined) and resolves with where, and the server's connection when it comes. */
async function listen(address?: string): Promise<{ where: string; connected: Promise<Socket> }> {
  let connected!: (socket: Socket) => void;
  const socket = new Promise<Socket>((resolve) => (connected = resolve));
  listener = createServer((s) => connected(s));
  await new Promise<void>((resolve) => (address === undefined ? listener?.listen(0, '127.0.0.1', resolve) : listener?.listen(address, resolve)));
  return { where: address ?? String((listener.address() as AddressInfo).port), connected: socket };
}

/** Initializes, has the model quote the key in a chat, then shuts the server down; resolves with the reply and the exit code. */
async function chatOver(reader: MessageReader, writer: MessageWriter, server: ChildProcess): Promise<{ reply: string; streamed: string; exitCode: number | null }> {
  const connection: ProtocolConnection = createProtocolConnection(reader, writer);
  connection.onRequest('window/workDoneProgress/create', () => null);
  connection.onRequest('client/registerCapability', () => null);
  connection.onRequest('workspace/configuration', () => [null]);
  let streamed = '';
  connection.onNotification('efrit/stream', (params: { kind: string; text: string }) => {
    if (params.kind === 'text') streamed += params.text;
  });
  connection.listen();
  try {
    const workspace = join(repoRoot, 'test', 'fixtures', 'workspace');
    await connection.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: pathToFileURL(workspace).href,
      workspaceFolders: [{ uri: pathToFileURL(workspace).href, name: 'workspace' }],
      capabilities: vscodeCapabilities,
    });
    await connection.sendNotification(InitializedNotification.type, {});
    fake?.queueReplies({ text: ['Your key is sk-ant-test-01234', '56789abcdefghijklmnopqrstuvwxyz.'] });
    const result = await connection.sendRequest<ChatResult>('efrit/chat', { message: 'What is my key?' });
    const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
    await connection.sendRequest('shutdown');
    await connection.sendNotification('exit');
    return { reply: result.reply, streamed, exitCode: await exited };
  } finally {
    connection.dispose();
  }
}

const redactedReply = { reply: 'Your key is [redacted].', streamed: 'Your key is [redacted].', exitCode: 0 };

describe('the transports', () => {
  it('--node-ipc', async () => {
    fake = await startFakeAnthropic({ apiKey: testApiKey });
    const server = startServer(['--node-ipc']);
    expect(await chatOver(new IPCMessageReader(server), new IPCMessageWriter(server), server)).toEqual(redactedReply);
  });

  it('--socket=PORT', async () => {
    fake = await startFakeAnthropic({ apiKey: testApiKey });
    const { where, connected } = await listen();
    const server = startServer([`--socket=${where}`]);
    const socket = await connected;
    expect(await chatOver(new SocketMessageReader(socket), new SocketMessageWriter(socket), server)).toEqual(redactedReply);
  });

  it('--pipe NAME', async () => {
    fake = await startFakeAnthropic({ apiKey: testApiKey });
    scratch = await mkdtemp(join(tmpdir(), 'efrit-pipe-'));
    const { where, connected } = await listen(join(scratch, 'efrit.sock'));
    const server = startServer(['--pipe', where]);
    const socket = await connected;
    expect(await chatOver(new SocketMessageReader(socket), new SocketMessageWriter(socket), server)).toEqual(redactedReply);
  });
});
