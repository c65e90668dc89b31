/**
 * Inline completion with a code model that fills in the middle: the real
 * server with `fastModel` on a local model, the real `ollama` library and
 * `openai` SDK talking to the fakes on loopback. An Ollama model whose
 * `/api/show` reports `insert` completes through `/api/generate` with the text
 * before and after the cursor as `prompt` and `suffix`; an OpenAI-compatible
 * model named in `fillInMiddleModels` through `/v1/completions` with `suffix`;
 * everything else through chat, as before. The same `/api/show` says whether
 * the actions' model is offered tools.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CodeAction, InlineCompletionList } from 'vscode-languageserver-protocol';
import type { RunActionResult, StatusResult } from '../../server/src/protocol.js';
import { typoDiagnostic } from '../fixtures/inventory-typo.js';
import { inventoryTs } from '../fixtures/samples.js';
import { never } from '../support/gate.js';
import { startFakeOllama, type FakeOllama, type FakeOllamaOptions } from '../support/fake-ollama/server.js';
import { startOpenAIHarness, type OpenAIHarness } from '../support/openai-harness.js';
import { eglotCapabilities, positionOf, TestClient, type TestClientOptions } from '../support/lsp-client.js';

const coder = 'ollama:qwen2.5-coder:7b';

const pricing = `export interface Order {
  unitPrice: number;
  quantity: number;
}

export function orderTotal(order: Order): number {
  return 
}
`;
const cursorLine = positionOf(pricing, '  return ').line;
const cursor = { line: cursorLine, character: '  return '.length };
const textBefore = pricing.slice(0, pricing.indexOf('  return ') + '  return '.length);
const textAfter = pricing.slice(textBefore.length);

interface OllamaHarness {
  fake: FakeOllama;
  client: TestClient;
}

let ollama: OllamaHarness | undefined;
let openai: OpenAIHarness | undefined;
afterEach(async () => {
  await ollama?.client.stop();
  await ollama?.fake.close();
  await openai?.stop();
  ollama = undefined;
  openai = undefined;
});

async function startOllamaHarness(options: TestClientOptions & { fake?: FakeOllamaOptions; settings?: Record<string, unknown> } = {}): Promise<OllamaHarness> {
  const fake = await startFakeOllama(options.fake);
  const client = await TestClient.start({
    ...options,
    initializationOptions: { model: coder, fastModel: coder, ...options.settings, ollama: { baseURL: fake.baseURL } },
    env: { ANTHROPIC_API_KEY: undefined, OLLAMA_HOST: undefined, ...options.env },
  });
  ollama = { fake, client };
  return ollama;
}

function complete(client: TestClient, uri: string, position = cursor): Promise<InlineCompletionList> {
  return client.request<InlineCompletionList>('textDocument/inlineCompletion', { textDocument: { uri }, position, context: { triggerKind: 1 } });
}

const insertTexts = (list: InlineCompletionList): string[] => list.items.map((item) => (typeof item.insertText === 'string' ? item.insertText : item.insertText.value));

describe('Ollama code models fill in the middle', () => {
  it('completes through /api/generate with the text before and after the cursor as prompt and suffix, and inserts the cleaned suggestion', async () => {
    const { client, fake } = await startOllamaHarness();
    fake.queueReplies({ text: ['order.unitPrice', ' * order.quantity;\n\n  // and more'] });
    const uri = await client.open('src/pricing.ts', pricing);

    const list = await complete(client, uri);

    expect(insertTexts(list)).toEqual(['order.unitPrice * order.quantity;']);
    expect(list.items[0]?.range).toEqual({ start: cursor, end: cursor });
    expect(fake.shown).toEqual(['qwen2.5-coder:7b']);
    expect(fake.requests.map((r) => r.path)).toEqual(['/api/generate']);
    const body = fake.requests[0]?.body;
    expect(body).toMatchObject({ model: 'qwen2.5-coder:7b', prompt: textBefore, suffix: textAfter, stream: true, options: { num_predict: 256, temperature: 0 } });
    // At the end of a line, a blank line ends the suggestion.
    expect(body?.options?.stop).toEqual(['\n\n', '\r\n\r\n']);
  });

  it('stops at the end of the line when the cursor is mid-line, and keeps the rest of the line out of the suggestion', async () => {
    const { client, fake } = await startOllamaHarness();
    const midLine = pricing.replace('  return \n', '  return ;\n');
    fake.queueReplies({ text: 'order.unitPrice * order.quantity\n  // never seen' });
    const uri = await client.open('src/pricing.ts', midLine);

    const list = await complete(client, uri);

    expect(insertTexts(list)).toEqual(['order.unitPrice * order.quantity']);
    expect(fake.requests[0]?.body.suffix?.startsWith(';\n}\n')).toBe(true);
    expect(fake.requests[0]?.body.options?.stop).toEqual(['\n']);
  });

  it('counts the completion\'s tokens in efrit/status providers, and looks the model up once', async () => {
    const { client, fake } = await startOllamaHarness();
    fake.respondWith(() => ({ text: 'order.unitPrice * order.quantity;' }));
    const uri = await client.open('src/pricing.ts', pricing);
    await complete(client, uri);
    await client.change(uri, { start: cursor, end: cursor }, 'Math.round(');
    await complete(client, uri, { line: cursorLine, character: cursor.character + 'Math.round('.length });

    const status = await client.request<StatusResult>('efrit/status', {});

    expect(fake.requests.map((r) => r.path)).toEqual(['/api/generate', '/api/generate']);
    expect(fake.shown).toEqual(['qwen2.5-coder:7b']);
    const input = fake.requests.reduce((sum, r) => sum + r.promptEvalCount, 0);
    const output = fake.requests.reduce((sum, r) => sum + r.evalCount, 0);
    expect(status.providers).toEqual({ ollama: { requests: 2, inputTokens: input, outputTokens: output, cacheReadTokens: 0, cacheWriteTokens: 0, usd: 0, unpricedRequests: 2 } });
    expect(status.completion.modelCalls).toBe(2);
  });

  it('aborts the HTTP request of a completion the user typed away from: the fake sees the client hang up', async () => {
    const { client, fake } = await startOllamaHarness();
    fake.queueReplies({ text: 'order.unitPrice * order.quantity;', hold: { until: never, afterLines: 0 } }, { text: 'order.quantity;' });
    const uri = await client.open('src/pricing.ts', pricing);
    const first = complete(client, uri);
    await client.waitFor(() => fake.requests.length === 1, 'the first completion to reach Ollama');

    // The user goes on typing somewhere else: the suggestion for the old spot is of no use.
    const other = positionOf(pricing, '  quantity: number;');
    await client.change(uri, { start: { line: other.line, character: 2 }, end: { line: other.line, character: 2 } }, 'readonly ');
    const second = await complete(client, uri);

    expect(insertTexts(await first)).toEqual([]);
    expect(insertTexts(second)).toEqual(['order.quantity;']);
    await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'Ollama to see the first request hang up');
    expect(fake.requests.map((r) => r.path)).toEqual(['/api/generate', '/api/generate']);
  });

  it('holds a fill-in-the-middle answer to the bounds of a completion: one grown past them is stopped and nothing is suggested', async () => {
    const { client, fake } = await startOllamaHarness({ settings: { logLevel: 'debug' } });
    // 256 tokens may bring 8,192 characters at most (32 a token); this is more.
    fake.queueReplies({ text: Array.from({ length: 20 }, () => `${'const padding = 0; '.repeat(26)}\n`) });
    const uri = await client.open('src/pricing.ts', pricing);

    const list = await complete(client, uri);

    expect(list.items).toEqual([]);
    expect(fake.requests[0]?.path).toBe('/api/generate');
    await client.waitFor(() => client.logMessages.some((line) => line.message.includes("The model's answer grew past what efrit.maxTokens (256) allows")), 'the log to say the answer was stopped');
    expect((await client.request<StatusResult>('efrit/status', {})).completion.errors).toBe(1);
  });

  it('completes through chat with a model whose template cannot insert', async () => {
    const { client, fake } = await startOllamaHarness({ fake: { models: { 'llama3.2:3b': ['completion', 'tools'] } }, settings: { model: 'ollama:llama3.2:3b', fastModel: 'ollama:llama3.2:3b' } });
    fake.queueReplies({ text: 'order.unitPrice * order.quantity;' });
    const uri = await client.open('src/pricing.ts', pricing);

    const list = await complete(client, uri);

    expect(insertTexts(list)).toEqual(['order.unitPrice * order.quantity;']);
    expect(fake.shown).toEqual(['llama3.2:3b']);
    expect(fake.requests.map((r) => r.path)).toEqual(['/api/chat']);
    expect(fake.requests[0]?.body.messages?.[0]?.content).toContain('You are a code completion engine');
  });

  it.each([
    ['named in fillInMiddleModels fills in the middle', [coder], '/api/generate'],
    ['not named there completes through chat', [], '/api/chat'],
  ])('on an Ollama that reports no capabilities, a model %s', async (_what, fillInMiddleModels, path) => {
    const { client, fake } = await startOllamaHarness({ fake: { reportCapabilities: false }, settings: { fillInMiddleModels } });
    fake.queueReplies({ text: 'order.unitPrice * order.quantity;' });
    const uri = await client.open('src/pricing.ts', pricing);

    expect(insertTexts(await complete(client, uri))).toEqual(['order.unitPrice * order.quantity;']);
    expect(fake.shown).toEqual(['qwen2.5-coder:7b']);
    expect(fake.requests.map((r) => r.path)).toEqual([path]);
  });

  it('names fillInMiddleModels when a listed model turns out unable to insert', async () => {
    const { client, fake } = await startOllamaHarness({
      fake: { reportCapabilities: false, models: { 'llama3.2:3b': ['completion'] } },
      settings: { model: 'ollama:llama3.2:3b', fastModel: 'ollama:llama3.2:3b', fillInMiddleModels: ['ollama:llama3.2:3b'], logLevel: 'debug' },
    });
    const logged = (text: string): boolean => client.logMessages.some((line) => line.message.includes(text));
    const uri = await client.open('src/pricing.ts', pricing);

    const list = await complete(client, uri);

    expect(list.items).toEqual([]);
    expect(fake.requests[0]).toMatchObject({ path: '/api/generate', status: 400 });
    await client.waitFor(() => logged('remove it from efrit.fillInMiddleModels'), 'the log to name the setting');
    expect(logged('Ollama said: registry.ollama.ai/library/llama3.2:3b does not support insert')).toBe(true);
  });
});

describe('tools per /api/show capabilities', () => {
  const fixEdit = { summary: 'Use the parameter `threshold`.', edits: [{ old_text: '  return items.filter((item) => item.stock < treshold);', new_text: '  return items.filter((item) => item.stock < threshold);' }] };
  const textFix = ['Summary: Use the parameter `threshold`.', '<<<<<<< SEARCH', fixEdit.edits[0]!.old_text, '=======', fixEdit.edits[0]!.new_text, '>>>>>>> REPLACE'].join('\n');

  async function runFix(client: TestClient): Promise<{ uri: string; result: RunActionResult }> {
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const [fix] = (await client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic])) as CodeAction[];
    const result = await client.executeCommand<RunActionResult>('efrit.runAction', fix?.command?.arguments?.[0]);
    return { uri, result };
  }

  it('offers tools to a model whose capabilities include tools', async () => {
    const { client, fake } = await startOllamaHarness({ capabilities: eglotCapabilities, fake: { models: { 'llama3.2:3b': ['completion', 'tools'] } }, settings: { model: 'ollama:llama3.2:3b' } });
    fake.queueReplies({ toolCalls: [{ name: 'propose_edits', arguments: fixEdit }] });

    const { uri, result } = await runFix(client);

    expect(result.applied).toBe(true);
    await client.waitFor(() => client.text(uri).includes('item.stock < threshold'), 'the fix in the buffer');
    expect(fake.requests[0]?.body.tools?.map((tool) => tool.function?.name)).toContain('propose_edits');
    expect(fake.shown).toEqual(['llama3.2:3b']);
  });

  it('offers none to a model whose capabilities leave tools out, which writes its edit as text', async () => {
    const { client, fake } = await startOllamaHarness({ capabilities: eglotCapabilities, fake: { models: { 'gemma2:2b': ['completion'] } }, settings: { model: 'ollama:gemma2:2b' } });
    fake.queueReplies({ text: textFix });

    const { uri, result } = await runFix(client);

    expect(result.applied).toBe(true);
    await client.waitFor(() => client.text(uri).includes('item.stock < threshold'), 'the fix in the buffer');
    expect(fake.requests[0]?.body).not.toHaveProperty('tools');
    expect(fake.requests[0]?.body.messages?.[0]?.content).toContain('SEARCH');
  });

  it('offers none to a model listed in modelsWithoutTools, whatever its capabilities say', async () => {
    const { client, fake } = await startOllamaHarness({
      capabilities: eglotCapabilities,
      fake: { models: { 'llama3.2:3b': ['completion', 'tools'] } },
      settings: { model: 'ollama:llama3.2:3b', modelsWithoutTools: ['ollama:llama3.2:3b'] },
    });
    fake.queueReplies({ text: textFix });

    const { result } = await runFix(client);

    expect(result.applied).toBe(true);
    expect(fake.requests[0]?.body).not.toHaveProperty('tools');
  });
});

describe('OpenAI-compatible servers fill in the middle on /v1/completions', () => {
  const localCoder = 'openai:qwen2.5-coder-7b-instruct';

  it('completes a model named in fillInMiddleModels through completions.create with prompt and suffix, streamed, its usage counted', async () => {
    openai = await startOpenAIHarness({ settings: { fastModel: localCoder, fillInMiddleModels: [localCoder] } });
    const { client, fake } = openai;
    fake.queueReplies({ text: ['order.unitPrice', ' * order.quantity;', '\n\nexport const more = 1;'] });
    const uri = await client.open('src/pricing.ts', pricing);

    const list = await complete(client, uri);

    expect(insertTexts(list)).toEqual(['order.unitPrice * order.quantity;']);
    const sent = fake.requests[0];
    expect(sent?.path).toBe('/v1/completions');
    expect(sent?.body).toMatchObject({ model: 'qwen2.5-coder-7b-instruct', prompt: textBefore, suffix: textAfter, stream: true, stream_options: { include_usage: true }, max_tokens: 256, stop: ['\n\n', '\r\n\r\n'] });
    const status = await client.request<StatusResult>('efrit/status', {});
    expect(status.providers['openai']).toMatchObject({ requests: 1, inputTokens: sent?.usage?.prompt_tokens, outputTokens: sent?.usage?.completion_tokens });
  });

  it('completes a model not named there through chat, as before', async () => {
    openai = await startOpenAIHarness({ settings: { fastModel: localCoder } });
    const { client, fake } = openai;
    fake.queueReplies({ text: 'order.unitPrice * order.quantity;' });
    const uri = await client.open('src/pricing.ts', pricing);

    expect(insertTexts(await complete(client, uri))).toEqual(['order.unitPrice * order.quantity;']);
    expect(fake.requests.map((r) => r.path)).toEqual(['/v1/chat/completions']);
  });

  it('backs off on a 429 with retry-after through the shared queue backoff, then completes', async () => {
    openai = await startOpenAIHarness({ settings: { fastModel: localCoder, fillInMiddleModels: [localCoder] } });
    const { client, fake } = openai;
    fake.queueReplies({ fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } }, { text: 'order.unitPrice * order.quantity;' });
    const uri = await client.open('src/pricing.ts', pricing);

    const list = await complete(client, uri);

    expect(insertTexts(list)).toEqual(['order.unitPrice * order.quantity;']);
    expect(fake.requests.map((r) => [r.path, r.status])).toEqual([
      ['/v1/completions', 429],
      ['/v1/completions', 200],
    ]);
    // Not before the API's retry-after (a lower bound, so a slow machine cannot break it).
    expect((fake.requests[1]?.receivedAt ?? 0) - (fake.requests[0]?.receivedAt ?? 0)).toBeGreaterThanOrEqual(900);
  });
});
