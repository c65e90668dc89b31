/**
 * The `ollama` provider end to end: the real server, `model` set to an
 * `ollama:` model with `ollama.baseURL` at a fake Ollama on loopback, and the
 * real `ollama` library between them, on Ollama's native /api/chat.
 */
import { CancellationTokenSource } from 'vscode-jsonrpc';
import { afterEach, describe, expect, it } from 'vitest';
import type { CodeAction } from 'vscode-languageserver-protocol';
import { createServer } from 'node:net';
import type { ChatResult, StatusResult } from '../../server/src/protocol.js';
import { typoDiagnostic } from '../fixtures/inventory-typo.js';
import { inventoryTs, statsPy } from '../fixtures/samples.js';
import { never } from '../support/gate.js';
import { startFakeOllama, type FakeOllama } from '../support/fake-ollama/server.js';
import { eglotCapabilities, rangeOf, TestClient, type TestClientOptions } from '../support/lsp-client.js';

const requestCancelled = -32800;
const ollamaModel = 'ollama:qwen2.5-coder:7b';

interface OllamaHarness {
  fake: FakeOllama;
  client: TestClient;
}

let harness: OllamaHarness | undefined;
afterEach(async () => {
  await harness?.client.stop();
  await harness?.fake.close();
  harness = undefined;
});

/** The server with both roles on a local Ollama model; no Anthropic key, so a call that went there by mistake fails loudly. */
async function startOllamaHarness(options: TestClientOptions & { baseURL?: string; settings?: Record<string, unknown> } = {}): Promise<OllamaHarness> {
  const fake = await startFakeOllama();
  const client = await TestClient.start({
    ...options,
    initializationOptions: { model: ollamaModel, fastModel: ollamaModel, ...options.settings, ollama: { baseURL: options.baseURL ?? fake.baseURL } },
    env: { ANTHROPIC_API_KEY: undefined, OLLAMA_HOST: undefined, ...options.env },
  });
  harness = { fake, client };
  return harness;
}

/** A loopback port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

const status = (h: OllamaHarness): Promise<StatusResult> => h.client.request<StatusResult>('efrit/status', {});

describe('efrit/chat on Ollama', () => {
  it('streams the answer into efrit/stream and sends the conversation to /api/chat', async () => {
    const { client, fake } = await startOllamaHarness();
    fake.queueReplies({ text: ['`variance` is the population ', 'variance: it divides by n.'] }, { text: 'Divide by `len(values) - 1` instead.' });
    const uri = await client.open('stats.py', statsPy, 'python');

    const first = await client.request<ChatResult>('efrit/chat', { message: 'Is this the sample variance?', textDocument: { uri }, range: rangeOf(statsPy, 'def variance(values):') });
    const second = await client.request<ChatResult>('efrit/chat', { sessionId: first.sessionId, message: 'How do I get the sample one?' });

    expect(first.reply).toBe('`variance` is the population variance: it divides by n.');
    expect(client.streamedText(first.jobId)).toBe(first.reply);
    expect(second.reply).toBe('Divide by `len(values) - 1` instead.');
    const body = fake.requests[1]?.body;
    expect(fake.requests[1]?.path).toBe('/api/chat');
    expect(body).toMatchObject({ model: 'qwen2.5-coder:7b', stream: true, options: { num_predict: 4096 } });
    expect(body?.messages?.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(body?.messages?.[0]?.content).toContain('You are Efrit');
    expect(body?.messages?.[1]?.content).toContain('def variance(values):');
    expect(body?.messages?.[2]?.content).toBe(first.reply);
    expect(body?.messages?.[3]?.content).toBe('How do I get the sample one?');
  });
});

describe('edits through tool calls', () => {
  it('lands a fix as an edit from a propose_edits call that Ollama sends whole', async () => {
    const { client, fake } = await startOllamaHarness({ capabilities: eglotCapabilities });
    fake.queueReplies({
      toolCalls: [
        {
          name: 'propose_edits',
          arguments: { summary: 'Use the parameter `threshold`.', edits: [{ old_text: '  return items.filter((item) => item.stock < treshold);', new_text: '  return items.filter((item) => item.stock < threshold);' }] },
        },
      ],
    });
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const [fix] = (await client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic])) as CodeAction[];

    await client.executeCommand(fix?.command?.command ?? '', ...(fix?.command?.arguments ?? []));

    await client.waitFor(() => client.text(uri).includes('item.stock < threshold'), 'the fix in the buffer');
    const tool = fake.requests[0]?.body.tools?.find((candidate) => candidate.function?.name === 'propose_edits');
    expect(tool?.type).toBe('function');
    expect(tool?.function?.parameters).toMatchObject({ type: 'object', required: expect.arrayContaining(['edits']) });
  });
});

describe('cancellation and errors', () => {
  it('cancels a streaming chat by aborting the HTTP request: the fake sees the client hang up', async () => {
    const { client, fake } = await startOllamaHarness();
    fake.queueReplies({ text: ['Well, ', 'let me ', 'explain ', 'this ', 'at length…'], hold: { until: never, afterLines: 3 } });
    const source = new CancellationTokenSource();

    const chatting = client.connection.sendRequest('efrit/chat', { message: 'Explain everything.' }, source.token);
    await client.waitFor(() => client.streams.some((s) => s.kind === 'text'), 'the first streamed words');
    source.cancel();

    await expect(chatting).rejects.toMatchObject({ code: requestCancelled });
    await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'the fake to see the client hang up');
    fake.queueReplies({ text: 'Still here.' });
    expect((await client.request<ChatResult>('efrit/chat', { message: 'Are you there?' })).reply).toBe('Still here.');
  });

  it.each([
    { refused: 'its queue full (503 "server busy")', refuse: { status: 503, error: 'server busy, please try again.  maximum pending requests exceeded' } },
    { refused: 'a gateway in front of it rate limiting (429)', refuse: { status: 429, error: 'too many requests' } },
  ])('backs off through the shared queue backoff when Ollama is refused with $refused, then succeeds', async ({ refuse }) => {
    const { client, fake } = await startOllamaHarness();
    fake.queueReplies({ refuse }, { text: 'answered' });

    const result = await client.request<ChatResult>('efrit/chat', { message: 'question' });

    expect(result.reply).toBe('answered');
    expect(fake.requests.map((r) => r.status)).toEqual([refuse.status, 200]);
    expect((await status({ client, fake })).queue.retries).toBe(1);
  });

  it('names the model and `ollama pull` when Ollama does not have the model', async () => {
    const { client, fake } = await startOllamaHarness({ settings: { model: 'ollama:llama3.3:70b' } });

    const failure = client.request('efrit/chat', { message: 'Hi' });

    await expect(failure).rejects.toMatchObject({ data: { reason: 'badRequest' }, message: expect.stringContaining('ollama pull llama3.3:70b') });
    await expect(failure).rejects.toMatchObject({ message: expect.stringContaining('"llama3.3:70b"') });
    expect(fake.requests[0]?.status).toBe(404);
  });

  it('says Ollama is not running, naming the URL, when the connection is refused', async () => {
    const port = await closedPort();
    const { client } = await startOllamaHarness({ baseURL: `http://127.0.0.1:${port}` });

    const failure = client.request('efrit/chat', { message: 'Hi' });

    await expect(failure).rejects.toMatchObject({ data: { reason: 'network' }, message: expect.stringContaining(`http://127.0.0.1:${port}`) });
    await expect(failure).rejects.toMatchObject({ message: expect.stringContaining('is Ollama running? (ollama serve)') });
  });

  it('reaches Ollama through OLLAMA_HOST written as Ollama\'s tools take it, without a scheme', async () => {
    const fake = await startFakeOllama();
    const client = await TestClient.start({ initializationOptions: { model: ollamaModel, fastModel: ollamaModel }, env: { ANTHROPIC_API_KEY: undefined, OLLAMA_HOST: fake.baseURL.replace('http://', '') } });
    harness = { fake, client };
    fake.queueReplies({ text: 'Hello from the host.' });

    expect((await client.request<ChatResult>('efrit/chat', { message: 'Hi' })).reply).toBe('Hello from the host.');
  });
});

describe('usage', () => {
  it('counts prompt_eval_count and eval_count of the last line in the chat result and in efrit/status providers', async () => {
    const { client, fake } = await startOllamaHarness();
    fake.queueReplies({ text: 'Noted.' });

    const result = await client.request<ChatResult>('efrit/chat', { message: 'Read this.' });

    const sent = fake.requests[0];
    expect(result.usage).toMatchObject({ inputTokens: sent?.promptEvalCount, outputTokens: sent?.evalCount });
    const after = await status(harness ?? { fake, client });
    expect(after.model).toBe(ollamaModel);
    expect(after.providers).toEqual({
      ollama: { requests: 1, inputTokens: sent?.promptEvalCount, outputTokens: sent?.evalCount, cacheReadTokens: 0, cacheWriteTokens: 0, usd: 0, unpricedRequests: 1 },
    });
  });

  it('refuses an edit whose answer was cut at num_predict (done_reason length), changing nothing', async () => {
    const { client, fake } = await startOllamaHarness({ capabilities: eglotCapabilities });
    fake.queueReplies({
      toolCalls: [{ name: 'propose_edits', arguments: { summary: 'Fix.', edits: [{ old_text: '  return items.filter((item) => item.stock < treshold);', new_text: '  return items.filter((item) => item.stock < threshold);' }] } }],
      doneReason: 'length',
    });
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const [fix] = (await client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic])) as CodeAction[];

    const applying = client.executeCommand(fix?.command?.command ?? '', ...(fix?.command?.arguments ?? []));

    await expect(applying).rejects.toMatchObject({ data: { reason: 'incomplete' }, message: expect.stringContaining('cut off at efrit.maxTokens') });
    expect(client.text(uri)).toBe(inventoryTs);
  });
});
