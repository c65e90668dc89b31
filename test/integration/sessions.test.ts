import { afterEach, describe, expect, it } from 'vitest';
import type { ChatResult, StatusResult } from '../../server/src/protocol.js';
import { startHarness, type Harness } from '../support/harness.js';
import { rangeOf } from '../support/lsp-client.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

/** A 300-line module, long enough for its window to pass the API's minimum cacheable prefix. */
const orders = [
  'from dataclasses import dataclass',
  '',
  ...Array.from({ length: 60 }, (_, i) => [
    '@dataclass',
    `class Order${i}:`,
    `    sku: str = "SKU-${1000 + i}"`,
    `    quantity: int = ${i + 1}`,
    `    unit_price: float = ${(i * 1.25).toFixed(2)}`,
  ].join('\n')),
  '',
].join('\n');

interface SentBlock {
  type: string;
  text?: string;
  cache_control?: unknown;
}
interface SentMessage {
  role: string;
  content: string | SentBlock[];
}

const messagesOf = (harness: Harness, index: number): SentMessage[] => harness.fake.requests[index]?.body.messages as SentMessage[];
const blocks = (message: SentMessage | undefined): SentBlock[] => (message === undefined || typeof message.content === 'string' ? [] : message.content);
/** A message as the cache sees it: its bytes without the breakpoint marks, which move from turn to turn. */
const withoutMarks = (message: SentMessage | undefined): string => JSON.stringify(blocks(message).map(({ cache_control: _mark, ...rest }) => rest));

describe('a chat session about a document that keeps changing', () => {
  it('sends the window once, then only the changes, on a prefix the prompt cache serves', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.respondWith(() => ({ text: 'Noted.' }));
    const uri = await client.open('orders.py', orders, 'python');
    const ask = async (message: string, sessionId?: string): Promise<ChatResult> =>
      client.request<ChatResult>('efrit/chat', { message, textDocument: { uri }, range: rangeOf(client.text(uri), 'class Order30:'), ...(sessionId !== undefined ? { sessionId } : {}) });

    const first = await ask('What does Order30 hold?');
    await client.edit(uri, '    quantity: int = 31', '    quantity: int = 310');
    const second = await ask('I changed its quantity; is that a problem?', first.sessionId);
    const third = await ask('And now?', first.sessionId);

    // Turn 1: the whole window. Turn 2: one hunk. Turn 3: "unchanged".
    const turn1 = blocks(messagesOf(harness, 0)[0]);
    expect(turn1[0]?.text).toContain('orders.py (python) - lines');
    const turn2 = blocks(messagesOf(harness, 1)[2]);
    expect(turn2[0]?.text).toContain(['-    quantity: int = 31', '+    quantity: int = 310'].join('\n'));
    expect(turn2[0]?.text?.length).toBeLessThan(400);
    expect(blocks(messagesOf(harness, 2)[4])[0]?.text).toContain('is as you last saw it');

    // The prefix is byte-identical from turn to turn, and marked where the cache should read it.
    expect(withoutMarks(messagesOf(harness, 1)[0])).toBe(withoutMarks(messagesOf(harness, 0)[0]));
    expect(withoutMarks(messagesOf(harness, 2)[2])).toBe(withoutMarks(messagesOf(harness, 1)[2]));
    expect(turn1[0]?.cache_control).toEqual({ type: 'ephemeral' });
    expect(blocks(messagesOf(harness, 1)[2]).at(-1)?.cache_control).toEqual({ type: 'ephemeral' });
    expect(fake.requests[1]?.usage?.cache_read_input_tokens).toBeGreaterThan(0);
    expect(fake.requests[2]?.usage?.cache_read_input_tokens).toBeGreaterThan(fake.requests[1]?.usage?.cache_read_input_tokens ?? 0);
    expect(second.usage.cacheReadTokens).toBe(fake.requests[1]?.usage?.cache_read_input_tokens);
    void third;

    for (const request of fake.requests) expect(JSON.stringify(request.body).split('"cache_control"').length - 1).toBeLessThanOrEqual(4);
    const status = await client.request<StatusResult>('efrit/status', {});
    expect(status.usage.bytesSavedByDeltas).toBeGreaterThan(turn1[0]?.text?.length ?? 0);
    expect(status.usage.cacheReadTokens).toBe(fake.requests.reduce((sum, r) => sum + (r.usage?.cache_read_input_tokens ?? 0), 0));
  });

  it('resends the whole window every turn with deltas off, and marks no breakpoints with caching off', async () => {
    harness = await startHarness({ initializationOptions: { deltas: false, promptCaching: false } });
    const { client, fake } = harness;
    fake.respondWith(() => ({ text: 'Noted.' }));
    const uri = await client.open('orders.py', orders, 'python');
    const range = rangeOf(orders, 'class Order30:');
    const first = await client.request<ChatResult>('efrit/chat', { message: 'one', textDocument: { uri }, range });
    await client.request<ChatResult>('efrit/chat', { message: 'two', textDocument: { uri }, range, sessionId: first.sessionId });
    expect(blocks(messagesOf(harness, 1)[2])[0]?.text).toContain('orders.py (python) - lines');
    expect(JSON.stringify(fake.requests[1]?.body)).not.toContain('cache_control');
    expect(fake.requests[1]?.usage?.cache_read_input_tokens).toBe(0);
  });

  it('starts afresh about a document that was closed and opened again', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.respondWith(() => ({ text: 'Noted.' }));
    let uri = await client.open('orders.py', orders, 'python');
    const range = rangeOf(orders, 'class Order30:');
    const first = await client.request<ChatResult>('efrit/chat', { message: 'one', textDocument: { uri }, range });
    await client.close(uri);
    uri = await client.open('orders.py', orders, 'python');
    await client.request<ChatResult>('efrit/chat', { message: 'two', textDocument: { uri }, range, sessionId: first.sessionId });
    expect(blocks(messagesOf(harness, 1)[2])[0]?.text).toContain('orders.py (python) - lines');
  });

  it('keeps no session for a request refused as busy, so a flood of them cannot push the user\'s session out', async () => {
    harness = await startHarness({ initializationOptions: { queue: { concurrency: 1, maxQueued: 1 }, sessions: { max: 4 } } });
    const { client, fake } = harness;
    fake.queueReplies({ text: 'Orders are dataclasses.' });
    const mine = await client.request<ChatResult>('efrit/chat', { message: 'What are orders?' });

    // One chat holds the only slot (its reply stalls), one waits: the queue is full.
    fake.respondWith(() => ({ text: 'Still thinking', fault: { kind: 'stall', afterEvents: 2 } }));
    const running = client.request('efrit/chat', { message: 'Summarise the module.' }).catch((error: unknown) => error);
    await fake.waitForRequests(2);
    const waiting = client.request('efrit/chat', { message: 'And the prices?' }).catch((error: unknown) => error);
    const before = await client.statusUntil((status) => status.queue.queued === 1, 'the second chat to wait');

    for (let i = 0; i < 12; i++) {
      await expect(client.request('efrit/chat', { message: `Flood ${i}` })).rejects.toMatchObject({ data: { reason: 'busy' } });
    }
    expect((await client.request<StatusResult>('efrit/status', {})).sessions.open).toBe(before.sessions.open);

    await client.request('efrit/cancel', {});
    await Promise.all([running, waiting]);
    fake.respondWith(() => ({ text: 'Prices are floats.' }));
    const next = await client.request<ChatResult>('efrit/chat', { sessionId: mine.sessionId, message: 'And the prices?' });
    expect(next).toMatchObject({ sessionId: mine.sessionId, reply: 'Prices are floats.' });
  });
});
