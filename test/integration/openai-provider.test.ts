/**
 * The `openai` provider end to end: the real server, `model` set to an
 * `openai:` model with `openai.baseURL` at the fake Chat Completions API, and
 * the real `openai` SDK between them. Each behaviour the Anthropic path has
 * is checked here on this one: streaming, an edit through a function call,
 * the agent's read tools, cancellation, the shared backoff, a refused key,
 * usage and spend.
 */
import { CancellationTokenSource } from 'vscode-jsonrpc';
import { afterEach, describe, expect, it } from 'vitest';
import type { CodeAction } from 'vscode-languageserver-protocol';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChatResult, DoResult, StatusResult } from '../../server/src/protocol.js';
import { typoDiagnostic } from '../fixtures/inventory-typo.js';
import { inventoryTs, statsPy } from '../fixtures/samples.js';
import { never } from '../support/gate.js';
import { editCall, openaiModel, startOpenAIHarness, testOpenAIKey, type OpenAIHarness } from '../support/openai-harness.js';
import { eglotCapabilities, rangeOf } from '../support/lsp-client.js';

const requestCancelled = -32800;

let harness: OpenAIHarness | undefined;
let workspace: string | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
  if (workspace !== undefined) await rm(workspace, { recursive: true, force: true });
  workspace = undefined;
});

const status = (h: OpenAIHarness): Promise<StatusResult> => h.client.request<StatusResult>('efrit/status', {});

describe('efrit/chat on an OpenAI-compatible endpoint', () => {
  it('streams the answer into efrit/stream and sends the conversation as Chat Completions messages', async () => {
    harness = await startOpenAIHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: ['`variance` is the population ', 'variance: it divides by n.'] }, { text: 'Divide by `len(values) - 1` instead.' });
    const uri = await client.open('stats.py', statsPy, 'python');

    const first = await client.request<ChatResult>('efrit/chat', { message: 'Is this the sample variance?', textDocument: { uri }, range: rangeOf(statsPy, 'def variance(values):') });
    const second = await client.request<ChatResult>('efrit/chat', { sessionId: first.sessionId, message: 'How do I get the sample one?' });

    expect(first.reply).toBe('`variance` is the population variance: it divides by n.');
    expect(client.streamedText(first.jobId)).toBe(first.reply);
    expect(second.reply).toBe('Divide by `len(values) - 1` instead.');
    const body = fake.requests[1]?.body;
    expect(body).toMatchObject({ model: 'gpt-4.1', stream: true, stream_options: { include_usage: true }, max_tokens: 4096 });
    expect(body?.messages?.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(body?.messages?.[0]?.content).toContain('You are Efrit');
    expect(body?.messages?.[1]?.content).toContain('def variance(values):');
    expect(body?.messages?.[2]?.content).toBe(first.reply);
    expect(body?.messages?.[3]?.content).toBe('How do I get the sample one?');
    expect(fake.requests.map((r) => r.status)).toEqual([200, 200]);
    expect(fake.requests[0]?.headers['authorization']).toBe('[present]');
    const notes = client.streams.filter((s) => s.jobId === first.jobId && s.kind === 'status').map((s) => s.text);
    expect(notes[0]).toBe(`asking ${openaiModel}`);
  });
});

describe('edits through function calls', () => {
  it('lands a fix as an edit from a propose_edits call whose arguments stream in pieces', async () => {
    harness = await startOpenAIHarness({ capabilities: eglotCapabilities, fake: { argumentPieceChars: 7 } });
    const { client, fake } = harness;
    fake.queueReplies(editCall([{ old_text: '  return items.filter((item) => item.stock < treshold);', new_text: '  return items.filter((item) => item.stock < threshold);' }], 'Use the parameter `threshold`.'));
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const [fix] = (await client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic])) as CodeAction[];

    await client.executeCommand(fix?.command?.command ?? '', ...(fix?.command?.arguments ?? []));

    await client.waitFor(() => client.text(uri).includes('item.stock < threshold'), 'the fix in the buffer');
    const body = fake.requests[0]?.body;
    const tools = body?.tools?.map((tool) => tool.function?.name);
    expect(tools).toContain('propose_edits');
    expect(body?.tools?.find((tool) => tool.function?.name === 'propose_edits')?.function?.parameters).toMatchObject({ type: 'object', required: expect.arrayContaining(['edits']) });
  });

  it('lands a fix from a model without tool calls (modelsWithoutTools) written as a SEARCH/REPLACE block, sent no tools', async () => {
    harness = await startOpenAIHarness({ capabilities: eglotCapabilities, settings: { modelsWithoutTools: [openaiModel] } });
    const { client, fake } = harness;
    fake.queueReplies({
      text: [
        'Summary: Use the parameter `threshold`.\n<<<<<<< SEARCH\n',
        '  return items.filter((item) => item.stock < treshold);\n=======\n',
        '  return items.filter((item) => item.stock < threshold);\n>>>>>>> REPLACE\n',
      ],
    });
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const [fix] = (await client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic])) as CodeAction[];

    await client.executeCommand(fix?.command?.command ?? '', ...(fix?.command?.arguments ?? []));

    await client.waitFor(() => client.text(uri).includes('item.stock < threshold'), 'the fix in the buffer');
    const body = fake.requests[0]?.body;
    expect(body?.tools).toBeUndefined();
    expect(body?.tool_choice).toBeUndefined();
    expect(JSON.stringify(body?.messages?.[0])).toContain('<<<<<<< SEARCH');
  });

  it('reads tool calls from a server that streams them without an index, one call after another', async () => {
    harness = await startOpenAIHarness();
    const { client, fake } = harness;
    fake.queueReplies({
      toolCalls: [
        { name: 'list_documents', arguments: {} },
        { name: 'search_workspace', arguments: { query: 'Item' } },
      ],
      omitToolCallIndex: true,
    });
    fake.queueReplies(editCall([{ old_text: 'export interface Item {', new_text: 'export interface StockItem {' }], 'Item becomes StockItem.'));
    const uri = await client.open('src/inventory.ts', inventoryTs);

    const result = await client.request<DoResult>('efrit/do', { instruction: 'rename Item to StockItem', textDocument: { uri }, apply: false });

    const calls = fake.requests[1]?.body.messages?.find((m) => m.tool_calls !== undefined)?.tool_calls?.map((call) => call.function.name);
    expect(calls).toEqual(['list_documents', 'search_workspace']);
    expect(fake.requests[1]?.body.messages?.filter((m) => m.role === 'tool')).toHaveLength(2);
    expect(result.summary).toBe('Item becomes StockItem.');
    expect(JSON.stringify(result.edit)).toContain('export interface StockItem {');
  });

  it('runs efrit/do with read_file, answers the call as a tool message, then applies propose_edits', async () => {
    workspace = await mkdtemp(join(tmpdir(), 'efrit-openai-ws-'));
    await mkdir(join(workspace, 'src', 'util'), { recursive: true });
    const cartTs = "import { formatMoney } from './util/money.js';\n\nexport function cartTotal(prices: number[]): string {\n  return formatMoney(prices.reduce((sum, price) => sum + price, 0));\n}\n";
    await writeFile(join(workspace, 'src', 'cart.ts'), cartTs);
    await writeFile(join(workspace, 'src', 'util', 'money.ts'), 'export function formatMoney(cents: number): string {\n  return (cents / 100).toFixed(2);\n}\n');
    harness = await startOpenAIHarness({ workspaceFolder: workspace, capabilities: eglotCapabilities });
    const { client, fake } = harness;
    fake.queueReplies(
      { text: 'Let me read the helper.', toolCalls: [{ name: 'read_file', arguments: { path: 'src/util/money.ts' }, id: 'call_readmoney1' }] },
      {
        text: 'The helper takes cents.',
        ...editCall(
          [{ old_text: '  return formatMoney(prices.reduce((sum, price) => sum + price, 0));', new_text: '  return formatMoney(Math.round(prices.reduce((sum, price) => sum + price, 0) * 100));' }],
          'cartTotal now converts euros to cents before formatting.',
        ),
      },
    );
    const uri = await client.open('src/cart.ts', cartTs);

    const result = await client.request<DoResult>('efrit/do', { instruction: 'prices are in euros; make cartTotal format them right', textDocument: { uri } });

    expect(result).toMatchObject({ applied: true, steps: 2, summary: 'cartTotal now converts euros to cents before formatting.' });
    await client.waitFor(() => client.text(uri).includes('Math.round'), 'the edit');
    const second = fake.requests[1]?.body.messages ?? [];
    const call = second.find((m) => m.role === 'assistant' && m.tool_calls !== undefined);
    expect(call?.tool_calls).toEqual([{ id: 'call_readmoney1', type: 'function', function: { name: 'read_file', arguments: '{"path":"src/util/money.ts"}' } }]);
    const answer = second[second.indexOf(call!) + 1];
    expect(answer).toMatchObject({ role: 'tool', tool_call_id: 'call_readmoney1' });
    expect(answer?.content).toContain('return (cents / 100).toFixed(2);');
    expect(fake.requests[0]?.body.tool_choice).toBe('auto');
    expect(fake.requests.map((r) => r.status)).toEqual([200, 200]);
  });
});

describe('cancellation, backoff and errors', () => {
  it('cancels a streaming chat by aborting the HTTP request: the fake sees the client hang up', async () => {
    harness = await startOpenAIHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: ['Well, ', 'let me ', 'explain ', 'this ', 'at length…'], hold: { until: never, afterChunks: 3 } });
    const source = new CancellationTokenSource();

    const chatting = client.connection.sendRequest('efrit/chat', { message: 'Explain everything.' }, source.token);
    await client.waitFor(() => client.streams.some((s) => s.kind === 'text'), 'the first streamed words');
    source.cancel();

    await expect(chatting).rejects.toMatchObject({ code: requestCancelled });
    await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'the fake to see the client hang up');
    fake.queueReplies({ text: 'Still here.' });
    expect((await client.request<ChatResult>('efrit/chat', { message: 'Are you there?' })).reply).toBe('Still here.');
  });

  it('backs off on 429 for its retry-after through the shared queue backoff, then succeeds', async () => {
    harness = await startOpenAIHarness();
    const { client, fake } = harness;
    fake.queueReplies({ fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } }, { text: 'answered' });

    const result = await client.request<ChatResult>('efrit/chat', { message: 'question' });

    expect(result.reply).toBe('answered');
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
    // Not before the API's retry-after (a lower bound, so a slow machine cannot break it).
    expect((fake.requests[1]?.receivedAt ?? 0) - (fake.requests[0]?.receivedAt ?? 0)).toBeGreaterThanOrEqual(1000);
    const after = await status(harness);
    expect(after.queue.retries).toBe(1);
    expect(after.queue.backoff.reason ?? 'rate limited (429)').toBe('rate limited (429)');
  });

  it('stops a stream that goes quiet with the stall watchdog, and hangs up', async () => {
    harness = await startOpenAIHarness({ settings: { queue: { stallMs: 500 } } });
    const { client, fake } = harness;
    fake.queueReplies({ text: ['Thinking', ' about it'], fault: { kind: 'stall', afterChunks: 2 } });

    await expect(client.request('efrit/chat', { message: 'Hi' })).rejects.toMatchObject({ data: { reason: 'stalled' } });
    await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'the fake to see the client hang up');
  });

  it('stops an answer past what maxTokens allows before anything is applied, naming the openai endpoint setting', async () => {
    harness = await startOpenAIHarness({ settings: { maxTokens: 16 } });
    const { client, fake } = harness;
    fake.queueReplies({ text: Array.from({ length: 40 }, () => 'x'.repeat(32)) });

    const refused = client.request('efrit/chat', { message: 'Hi' });

    await expect(refused).rejects.toMatchObject({ data: { reason: 'tooLarge' }, message: expect.stringContaining('efrit.openai.baseURL') });
  });

  it('names a malformed or unfinished answer incomplete, never a guess', async () => {
    harness = await startOpenAIHarness();
    const { client, fake } = harness;
    fake.queueReplies({ toolCalls: [{ name: 'propose_edits', arguments: '{"summary": "half' }] }, { text: 'Cut short', fault: { kind: 'noFinish' } });
    const uri = await client.open('src/inventory.ts', inventoryTs);

    await expect(client.request<DoResult>('efrit/do', { instruction: 'rename Item', textDocument: { uri } })).rejects.toMatchObject({ data: { reason: 'incomplete' } });
    await expect(client.request('efrit/chat', { message: 'Hi' })).rejects.toMatchObject({ data: { reason: 'incomplete' } });
    expect(client.text(uri)).toBe(inventoryTs);
  });

  it('refuses a wrong key with a 401 that names OPENAI_API_KEY and never the key', async () => {
    const wrongKey = 'sk-proj-wrong-9876543210zyxwvutsrqponmlkjihgfedcbaZYXW';
    harness = await startOpenAIHarness({ apiKey: wrongKey });
    const { client, fake } = harness;

    const refused = await client.request('efrit/chat', { message: 'Hi' }).then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(refused).toMatchObject({ data: { reason: 'unauthorized' } });
    expect((refused as Error).message).toContain('OPENAI_API_KEY');
    expect(fake.requests[0]?.status).toBe(401);
    const everything = client.rawTraffic.join('') + client.stderr;
    expect(everything).not.toContain(wrongKey);
    expect(everything).not.toContain(wrongKey.slice(-20));
    expect(everything).not.toContain(testOpenAIKey);
  });

  it('names the variable set in openai.apiKeyEnv when the key is missing, and reads the key from it', async () => {
    harness = await startOpenAIHarness({ apiKey: null, settings: { openai: { apiKeyEnv: 'TEAM_LLM_KEY' } }, env: { TEAM_LLM_KEY: testOpenAIKey } });
    harness.fake.queueReplies({ text: 'Hello from the team key.' });
    expect((await harness.client.request<ChatResult>('efrit/chat', { message: 'Hi' })).reply).toBe('Hello from the team key.');
    await harness.stop();

    // On OpenAI's own endpoint (no openai.baseURL) a missing key is named before any request.
    harness = await startOpenAIHarness({ apiKey: null, settings: { openai: { baseURL: null, apiKeyEnv: 'TEAM_LLM_KEY' } } });
    await expect(harness.client.request('efrit/chat', { message: 'Hi' })).rejects.toMatchObject({ data: { reason: 'noApiKey' }, message: expect.stringContaining('TEAM_LLM_KEY') });
    expect((await status(harness)).apiKeyConfigured).toBe(false);
  });
});

describe('inline completion from an openai: fastModel', () => {
  it('asks the fast model on the OpenAI-compatible endpoint and returns a clean suggestion at the cursor', async () => {
    harness = await startOpenAIHarness({ settings: { model: 'claude-sonnet-5-5', fastModel: 'openai:qwen2.5-coder:7b' } });
    const { client, fake } = harness;
    fake.queueReplies({ text: ['```ts\norder.unitPrice', ' * order.quantity;\n```'] });
    const pricing = 'export interface Order {\n  unitPrice: number;\n  quantity: number;\n}\n\nexport function orderTotal(order: Order): number {\n  return \n}\n';
    const uri = await client.open('src/pricing.ts', pricing);
    const cursor = { line: 6, character: '  return '.length };

    const list = await client.request<{ items: { insertText: string }[] }>('textDocument/inlineCompletion', { textDocument: { uri }, position: cursor, context: { triggerKind: 1 } });

    expect(list.items.map((item) => item.insertText)).toEqual(['order.unitPrice * order.quantity;']);
    expect(fake.requests[0]?.body.model).toBe('qwen2.5-coder:7b');
    expect(JSON.stringify(fake.requests[0]?.body.messages)).toContain('export function orderTotal(order: Order): number {');
    expect((await status(harness)).providers['openai']).toMatchObject({ requests: 1 });
  });
});

describe('usage and spend', () => {
  it('counts the provider call in efrit/status, cached tokens as cache reads, and leaves an unknown price unpriced', async () => {
    harness = await startOpenAIHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: 'Noted.' }, { text: 'Noted again.' });
    const uri = await client.open('stats.py', statsPy.repeat(40), 'python');
    const first = await client.request<ChatResult>('efrit/chat', { message: 'Read this.', textDocument: { uri } });
    const second = await client.request<ChatResult>('efrit/chat', { sessionId: first.sessionId, message: 'And again?' });

    const cached = fake.requests[1]?.usage?.cached_tokens ?? 0;
    expect(cached).toBeGreaterThanOrEqual(1024);
    expect(second.usage.cacheReadTokens).toBe(cached);
    expect(second.usage.inputTokens).toBe((fake.requests[1]?.usage?.prompt_tokens ?? 0) - cached);
    const after = await status(harness);
    expect(after.model).toBe(openaiModel);
    expect(after.apiKeyConfigured).toBe(true);
    expect(after.usage).toMatchObject({ requests: 2, cacheReadTokens: cached, outputTokens: first.usage.outputTokens + second.usage.outputTokens });
    expect(after.spend).toMatchObject({ usd: 0, requests: 2, unpricedRequests: 2 });
    expect(after.providers).toEqual({
      openai: { requests: 2, inputTokens: after.usage.inputTokens, outputTokens: after.usage.outputTokens, cacheReadTokens: cached, cacheWriteTokens: 0, usd: 0, unpricedRequests: 2 },
    });
  });

  it('prices the provider model from the prices setting, by its bare id', async () => {
    harness = await startOpenAIHarness({ settings: { prices: { 'gpt-4.1': { input: 2, output: 8, cacheRead: 0.5 } } } });
    harness.fake.queueReplies({ text: 'Noted.' });
    await harness.client.request<ChatResult>('efrit/chat', { message: 'Hi' });
    const after = await status(harness);
    expect(after.spend.unpricedRequests).toBe(0);
    expect(after.spend.usd).toBeGreaterThan(0);
  });
});
