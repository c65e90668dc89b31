import { afterEach, describe, expect, it } from 'vitest';
import type { CodeAction } from 'vscode-languageserver-protocol';
import type { RunActionResult, StatusResult } from '../../server/src/protocol.js';
import { typoDiagnostic, typoFix } from '../fixtures/inventory-typo.js';
import { inventoryTs, statsPy } from '../fixtures/samples.js';
import { gate, never } from '../support/gate.js';
import { startHarness, type Harness } from '../support/harness.js';
import { eglotCapabilities, rangeOf, type TestClient } from '../support/lsp-client.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

const status = (client: TestClient) => client.request<StatusResult>('efrit/status', {});


describe('the queue behind every model call', () => {
  it('runs independent requests concurrently, up to queue.concurrency', async () => {
    harness = await startHarness({ initializationOptions: { queue: { concurrency: 3 } } });
    const { client, fake } = harness;
    const replies = gate();
    fake.respondWith(() => ({ text: 'ok', hold: { until: replies.opened } }));
    const chats = Array.from({ length: 5 }, (_, i) => client.request('efrit/chat', { message: `question ${i}` }));
    await fake.waitForRequests(3);
    const midway = await status(client);
    expect(midway.queue).toMatchObject({ running: 3, queued: 2, concurrency: 3 });
    replies.open();
    await Promise.all(chats);
    expect(fake.requests).toHaveLength(5);
  });

  it('says how many jobs are ahead while one waits', async () => {
    harness = await startHarness({ initializationOptions: { queue: { concurrency: 1 } } });
    const { client, fake } = harness;
    const replies = gate();
    fake.respondWith(() => ({ text: 'ok', hold: { until: replies.opened } }));
    const chats = [0, 1, 2].map((i) => client.request<{ jobId: string }>('efrit/chat', { message: `question ${i}` }));
    await client.settled();
    replies.open();
    const [, , last] = await Promise.all(chats);
    const notes = client.streams.filter((s) => s.jobId === last?.jobId && s.kind === 'status').map((s) => s.text);
    expect(notes[0]).toBe('queued (1 ahead)');
    // $/progress follows the client's answer to the token's creation, so it may come after the request's own answer.
    await client.waitFor(() => client.progress.some((p) => p.value.message === 'queued (1 ahead)'), '$/progress saying the job is queued');
  });

  it('remembers a finished edit by its edits, not by the document it was computed on', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    fake.queueReplies(typoFix);
    // A 1 MB file: the inventory module followed by a long generated table.
    const table = Array.from({ length: 20_000 }, (_, i) => `  { sku: 'SKU-${String(i).padStart(6, '0')}', shelf: ${i % 97} },`).join('\n');
    const uri = await client.open('src/inventory.ts', `${inventoryTs}\nexport const shelves = [\n${table}\n];\n`);
    await client.executeCommand<RunActionResult>('efrit.runAction', { actionId: 'fix', textDocument: { uri }, range: typoDiagnostic.range, diagnostics: [typoDiagnostic] });
    const { cache } = await status(client);
    expect(cache.entries).toBe(1);
    // The fix is a few dozen characters; the document is a million.
    expect(cache.bytes).toBeGreaterThan(0);
    expect(cache.bytes).toBeLessThan(4_096);
  });

  it('shares one model call between identical requests', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    const reply = gate();
    fake.queueReplies({ ...typoFix, hold: { until: reply.opened } });
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const args = { actionId: 'fix', textDocument: { uri }, range: typoDiagnostic.range, diagnostics: [typoDiagnostic] };

    // An impatient double click: the same action twice, on the same version, both before the model answers.
    const clicks = [client.executeCommand<RunActionResult>('efrit.runAction', args), client.executeCommand<RunActionResult>('efrit.runAction', args)] as const;
    await client.settled();
    reply.open();
    const [first, second] = await Promise.all(clicks);

    expect(fake.requests).toHaveLength(1);
    expect(second).toEqual(first);
    expect(first.applied).toBe(true);
    expect(client.appliedEdits).toHaveLength(1);
    await client.waitFor(() => client.text(uri).includes('< threshold'), 'the fix');
    expect(client.text(uri).match(/threshold\)/g)).toHaveLength(1);
    expect((await status(client)).cache.hits).toBeGreaterThanOrEqual(1);
  });

  it('replaces a queued explanation of a range with a newer one', async () => {
    harness = await startHarness({ initializationOptions: { queue: { concurrency: 1 } } });
    const { client, fake } = harness;
    const replies = gate();
    fake.respondWith(() => ({ text: 'It averages the values.', hold: { until: replies.opened } }));
    const uri = await client.open('stats.py', statsPy, 'python');
    const range = rangeOf(statsPy, 'def mean(values):');
    const blocker = client.request('efrit/chat', { message: 'unrelated' });
    await fake.waitForRequests(1);
    const older = client.executeCommand('efrit.runAction', { actionId: 'explain', textDocument: { uri }, range });
    const olderOutcome = expect(older).rejects.toMatchObject({ code: -32802, data: { reason: 'superseded' }, message: expect.stringContaining('Superseded') });
    await client.edit(uri, '"""Summary statistics', '"""Simple summary statistics');
    const newer = client.executeCommand<RunActionResult>('efrit.runAction', { actionId: 'explain', textDocument: { uri }, range });
    await client.settled();
    replies.open();

    await olderOutcome;
    await expect(newer).resolves.toMatchObject({ text: 'It averages the values.' });
    await blocker;
    expect(fake.requests).toHaveLength(2);
    expect((await status(client)).queue.superseded).toBe(1);
  });

  it('refuses interactive work with a clear "busy" error once queue.maxQueued requests wait', async () => {
    harness = await startHarness({ initializationOptions: { queue: { concurrency: 1, maxQueued: 2 } } });
    const { client, fake } = harness;
    const replies = gate();
    fake.respondWith(() => ({ text: 'ok', hold: { until: replies.opened } }));
    const accepted = [0, 1, 2].map((i) => client.request('efrit/chat', { message: `question ${i}` }));
    await fake.waitForRequests(1);
    await expect(client.request('efrit/chat', { message: 'one too many' })).rejects.toMatchObject({
      data: { reason: 'busy' },
      message: expect.stringMatching(/busy: 2 requests are already waiting.*efrit\/cancel/),
    });
    replies.open();
    await Promise.all(accepted);
  });

  it('backs off for retry-after on 429 and retries, without a retry storm', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    let refused = 0;
    fake.respondWith(() => {
      if (refused < 2) {
        refused += 1;
        return { fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } };
      }
      return { text: 'answered' };
    });
    const results = await Promise.all([0, 1, 2].map((i) => client.request<{ reply: string }>('efrit/chat', { message: `question ${i}` })));
    expect(results.map((r) => r.reply)).toEqual(['answered', 'answered', 'answered']);
    // Two refusals, each job retried once, after the window: 3 first calls + 2 retries.
    expect(fake.requests).toHaveLength(5);
    // No call went out while the API's retry-after was in force (a lower bound, so a slow machine cannot break it).
    // The three first calls go out at once (concurrency 4); what comes after them are the retries.
    const firstRefusal = Math.min(...fake.requests.filter((r) => r.status === 429).map((r) => r.receivedAt));
    const retries = fake.requests.slice(3);
    expect(retries.map((r) => r.receivedAt - firstRefusal >= 1000)).toEqual([true, true]);
    const after = await status(client);
    expect(after.queue.retries).toBe(2);
    expect(after.queue.concurrency).toBeLessThanOrEqual(after.queue.configuredConcurrency);
  });
});

describe('prefetching fixes', () => {
  it('starts the fix when code actions are listed, so picking it uses the finished job', async () => {
    harness = await startHarness({ initializationOptions: { prefetch: true } });
    const { client, fake } = harness;
    fake.queueReplies(typoFix);
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const [fix] = (await client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic])) as CodeAction[];
    await fake.waitForRequests(1);
    await client.waitFor(() => client.streams.some((s) => s.kind === 'done'), 'the prefetch to finish');

    const resolved = await client.request<CodeAction>('codeAction/resolve', fix);

    expect(resolved.edit).toBeDefined();
    expect(fake.requests).toHaveLength(1);
    expect((await status(client)).prefetch).toEqual({ made: 1, used: 1, wasted: 0 });
  });

  it('drops a prefetch when the document moves on, and counts it wasted', async () => {
    harness = await startHarness({ initializationOptions: { prefetch: true } });
    const { client, fake } = harness;
    fake.respondWith(() => ({ ...typoFix, hold: { until: never } }));
    const uri = await client.open('src/inventory.ts', inventoryTs);
    await client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic]);
    await fake.waitForRequests(1);
    await client.edit(uri, 'export interface Item {', 'export interface StockItem {');
    await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'the prefetch call to be dropped');
    expect((await status(client)).prefetch).toEqual({ made: 1, used: 0, wasted: 1 });
  });

  it('is off by default, because it spends tokens', async () => {
    harness = await startHarness();
    const uri = await harness.client.open('src/inventory.ts', inventoryTs);
    await harness.client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic]);
    expect((await status(harness.client)).prefetch.made).toBe(0);
    expect(harness.fake.requests).toHaveLength(0);
  });
});
