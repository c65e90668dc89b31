import { afterEach, describe, expect, it } from 'vitest';
import type { ChatResult, DoResult, StatusResult } from '../../server/src/protocol.js';
import { inventoryTs, statsPy } from '../fixtures/samples.js';
import { editReply, startHarness, type Harness } from '../support/harness.js';
import { eglotCapabilities, rangeOf } from '../support/lsp-client.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

interface SentMessage {
  role: string;
  content: string | { type: string; text?: string; tool_use_id?: string }[];
}

const textOf = (message: SentMessage | undefined): string =>
  message === undefined ? '' : typeof message.content === 'string' ? message.content : message.content.map((b) => b.text ?? '').join('');

describe('efrit/chat', () => {
  it('holds a multi-turn conversation about a range, streaming each reply', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.queueReplies(
      { text: ['`variance` is the population ', 'variance: it divides by n.'] },
      { text: 'Divide by `len(values) - 1` instead.' },
    );
    const uri = await client.open('stats.py', statsPy, 'python');
    const range = rangeOf(statsPy, 'def variance(values):');

    const first = await client.request<ChatResult>('efrit/chat', { message: 'Is this the sample variance?', textDocument: { uri }, range });
    const second = await client.request<ChatResult>('efrit/chat', { sessionId: first.sessionId, message: 'How do I get the sample one?' });

    expect(first.reply).toBe('`variance` is the population variance: it divides by n.');
    expect(second.sessionId).toBe(first.sessionId);
    expect(second.reply).toBe('Divide by `len(values) - 1` instead.');
    expect(client.streamedText(first.jobId)).toBe(first.reply);
    expect(first.usage.requests).toBe(1);
    expect(first.usage.outputTokens).toBeGreaterThan(0);
    // The second request carries the first turn, so the model sees the whole conversation.
    const messages = fake.requests[1]?.body.messages as SentMessage[];
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(textOf(messages[0])).toContain('def variance(values):');
    expect(textOf(messages[0])).toContain('stats.py (python)');
    expect(textOf(messages[1])).toBe(first.reply);
    expect(textOf(messages[2])).toBe('How do I get the sample one?');
    // Every note of both turns names the session, the very first "asking …" included.
    const stream = client.streams.filter((s) => s.jobId === first.jobId || s.jobId === second.jobId);
    expect(stream[0]?.kind).toBe('status');
    expect(stream.every((s) => s.sessionId === first.sessionId)).toBe(true);
    expect(stream.at(-1)?.kind).toBe('done');
  });

  it('works without a document, and the efrit.chat command is the same call', async () => {
    harness = await startHarness();
    harness.fake.queueReplies({ text: 'Use a Map keyed by SKU.' });
    const result = await harness.client.executeCommand<ChatResult>('efrit.chat', { message: 'Fastest lookup by SKU?' });
    expect(result.reply).toBe('Use a Map keyed by SKU.');
    expect(result.sessionId).toMatch(/^session-/);
  });

  it('keeps no session for a first turn that failed (its id never reached the client)', async () => {
    harness = await startHarness({ apiKey: null });
    await expect(harness.client.request('efrit/chat', { message: 'Hi' })).rejects.toMatchObject({ data: { reason: 'noApiKey' } });
    await expect(harness.client.request('efrit/chat', { message: 'Hi', textDocument: { uri: 'file:///nowhere.ts' } })).rejects.toMatchObject({
      data: { reason: 'documentNotOpen' },
    });
    expect((await harness.client.request<StatusResult>('efrit/status', {})).sessions.open).toBe(0);
  });

  it('keeps the session usable after replies of unexpected shapes: a stray tool call, an empty answer', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    // Chat offers no tools to use; a gateway or another model may call one anyway, or answer with nothing at all.
    fake.queueReplies(
      { text: 'Let me check the file first.', toolUses: [{ name: 'read_file', input: { path: 'stats.py' } }] },
      { thinking: 'Nothing to add.', text: [] },
      { text: 'Variance divides by n.' },
    );
    const first = await client.request<ChatResult>('efrit/chat', { message: 'What does variance do?' });
    expect(first.reply).toBe('Let me check the file first.');
    await client.request<ChatResult>('efrit/chat', { sessionId: first.sessionId, message: 'Anything else?' });
    const third = await client.request<ChatResult>('efrit/chat', { sessionId: first.sessionId, message: 'In one line?' });
    expect(third.reply).toBe('Variance divides by n.');

    // Each request was one the API accepts (the fake validates as the API does), the stray call answered as not run.
    expect(fake.requests.map((r) => r.status)).toEqual([200, 200, 200]);
    const second = fake.requests[1]?.body.messages as SentMessage[];
    const answer = (second.at(-1)?.content as { type: string; tool_use_id?: string; is_error?: boolean }[])[0];
    expect(answer).toMatchObject({ type: 'tool_result', is_error: true });
    expect(textOf((fake.requests[2]?.body.messages as SentMessage[]).at(-2))).toBe('(no answer)');
  });

  it('ends a session on request, after which it is unknown', async () => {
    harness = await startHarness();
    harness.fake.queueReplies({ text: 'Hello.' });
    const chat = await harness.client.request<ChatResult>('efrit/chat', { message: 'Hi' });
    expect(await harness.client.request('efrit/endSession', { sessionId: chat.sessionId })).toEqual({ ended: true });
    expect(await harness.client.request('efrit/endSession', { sessionId: chat.sessionId })).toEqual({ ended: false });
    await expect(harness.client.request('efrit/chat', { sessionId: chat.sessionId, message: 'Still there?' })).rejects.toMatchObject({
      data: { reason: 'unknownSession' },
    });
  });
});

describe('efrit/do', () => {
  it('applies the edit the model proposes and reports what it did', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    fake.queueReplies({
      text: 'Guarding against an empty list.',
      ...editReply(
        [{ old_text: 'def mean(values):\n    return sum(values) / len(values)', new_text: 'def mean(values):\n    if not values:\n        raise ValueError("mean of no values")\n    return sum(values) / len(values)' }],
        'mean() now raises ValueError on an empty list instead of ZeroDivisionError.',
      ),
    });
    const uri = await client.open('stats.py', statsPy, 'python');

    const result = await client.request<DoResult>('efrit/do', { instruction: 'Make mean() fail clearly on an empty list', textDocument: { uri }, range: rangeOf(statsPy, 'def mean(values):') });

    expect(result.applied).toBe(true);
    expect(result.summary).toBe('mean() now raises ValueError on an empty list instead of ZeroDivisionError.');
    await client.waitFor(() => client.text(uri).includes('raise ValueError'), 'the edit in the buffer');
    expect(client.text(uri)).toContain('    if not values:\n        raise ValueError("mean of no values")\n    return sum(values) / len(values)');
    expect(fake.requests[0]?.body.tool_choice).toEqual({ type: 'auto' });
  });

  it('returns the edit without applying it when apply is false', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.queueReplies(editReply([{ old_text: 'stock: number;', new_text: 'stock: number;\n  reorderLevel?: number;' }], 'Adds an optional reorder level.'));
    const uri = await client.open('src/inventory.ts', inventoryTs);

    const result = await client.request<DoResult>('efrit/do', { instruction: 'add a reorder level to Item', textDocument: { uri }, apply: false });

    expect(result.applied).toBe(false);
    expect(result.edit?.documentChanges?.[0]).toMatchObject({ textDocument: { uri, version: 1 } });
    expect(client.appliedEdits).toHaveLength(0);
    expect(client.text(uri)).toBe(inventoryTs);
  });

  it('answers in words when the model proposes no edit, and keeps the session going', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.queueReplies(
      editReply([{ old_text: 'stock: number;', new_text: 'stock: number; // units on hand' }], 'Documents the field.'),
      { text: 'Nothing else needs to change.' },
    );
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const first = await client.request<DoResult>('efrit/do', { instruction: 'document stock', textDocument: { uri } });
    await client.waitFor(() => client.text(uri).includes('units on hand'), 'the first edit');

    const second = await client.request<DoResult>('efrit/do', { instruction: 'anything else?', textDocument: { uri }, sessionId: first.sessionId });

    expect(second).toMatchObject({ sessionId: first.sessionId, summary: 'Nothing else needs to change.', edit: null, applied: false });
    // The previous turn's tool call is answered at the head of the next user turn, as the API requires.
    const messages = fake.requests[1]?.body.messages as SentMessage[];
    const head = messages[2]?.content;
    expect(Array.isArray(head) && head[0]?.type).toBe('tool_result');
  });

  it('is also the efrit.do command, for clients that only run commands', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    fake.queueReplies(editReply([{ old_text: 'stock: number;', new_text: 'stock: number; // units on hand' }], 'Documents the field.'));
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const result = await client.executeCommand<DoResult>('efrit.do', { instruction: 'document stock', textDocument: { uri } });
    expect(result).toMatchObject({ applied: true, summary: 'Documents the field.' });
    await client.waitFor(() => client.text(uri).includes('units on hand'), 'the edit');
  });

  it('counts the work in efrit/status', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: 'One.' }, { text: 'Two.' });
    await client.request('efrit/chat', { message: 'one' });
    await client.request('efrit/chat', { message: 'two' });
    const status = await client.request<StatusResult>('efrit/status', {});
    expect(status.usage.requests).toBe(2);
    expect(status.usage.requestBytes).toBe(fake.requests.reduce((sum, r) => sum + r.rawBytes, 0));
    expect(status.usage.inputTokens).toBe(fake.requests.reduce((sum, r) => sum + (r.usage?.input_tokens ?? 0), 0));
    expect(status.sessions.open).toBe(2);
    expect(status.queue).toMatchObject({ running: 0, queued: 0, concurrency: 4 });
    expect(status.apiKeyConfigured).toBe(true);
  });
});
