/**
 * Stopping work: `$/cancelRequest` on any model-backed request, `efrit/cancel`
 * and the `efrit.cancel` command, and the jobs the server ends by itself. A
 * cancelled request is always answered, a cancelled queued job never reaches
 * the API, a running one hangs up on it, and the server goes on serving.
 * Only the request's own `$/cancelRequest` is answered RequestCancelled
 * (-32800), which some clients never hand to their handler (Neovim 0.7);
 * everything else is ServerCancelled (-32802) with `data.reason` saying why.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CancellationTokenSource, ShutdownRequest, type CodeAction } from 'vscode-languageserver-protocol/node';
import type { CancelResult, ChatResult, RunActionArgs, RunActionResult, StatusResult } from '../../server/src/protocol.js';
import { typoDiagnostic } from '../fixtures/inventory-typo.js';
import { inventoryTs, statsPy } from '../fixtures/samples.js';
import type { RecordedRequest } from '../support/fake-anthropic/types.js';
import { gate, never } from '../support/gate.js';
import { editReply, startHarness, type Harness } from '../support/harness.js';
import { eglotCapabilities, rangeOf, type TestClient } from '../support/lsp-client.js';

/** LSP `RequestCancelled`. */
const requestCancelled = -32800;
/** LSP 3.17 `ServerCancelled`. */
const serverCancelled = -32802;

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

async function waitForQueue(client: TestClient, predicate: (queue: StatusResult['queue']) => boolean, what: string): Promise<void> {
  await client.statusUntil((status) => predicate(status.queue), what);
}

const idle = (queue: StatusResult['queue']): boolean => queue.running === 0 && queue.queued === 0;

/** The job id of the n-th job that started asking the model, from its status note on efrit/stream. */
async function nthStartedJob(client: TestClient, n: number): Promise<string> {
  const started = (): string[] => [...new Set(client.streams.filter((s) => s.kind === 'status' && s.text.startsWith('asking')).map((s) => s.jobId))];
  await client.waitFor(() => started().length >= n, `job ${n} to start`);
  return started()[n - 1] as string;
}

const asksAbout = (request: RecordedRequest | undefined, text: string): boolean => JSON.stringify(request?.body.messages ?? []).includes(text);

async function expectChatWorks(h: Harness): Promise<void> {
  h.fake.queueReplies({ text: 'Still here.' });
  const result = await h.client.request<ChatResult>('efrit/chat', { message: 'Are you there?' });
  expect(result.reply).toBe('Still here.');
}

describe('$/cancelRequest', () => {
  it('answers a running chat with RequestCancelled at once and hangs up on the API', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    // The first words stream, then the model keeps the answer pending: only the cancellation can end the request.
    fake.queueReplies({ text: ['Well, ', 'let me ', 'explain ', 'this ', 'at ', 'great ', 'length…'], hold: { until: never, afterEvents: 4 } });
    const source = new CancellationTokenSource();

    const chatting = client.connection.sendRequest('efrit/chat', { message: 'Explain everything.' }, source.token);
    await client.waitFor(() => client.streams.some((s) => s.kind === 'text'), 'the first streamed words');
    source.cancel();

    await expect(chatting).rejects.toMatchObject({ code: requestCancelled });
    await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'the fake to see the request aborted');
    expect(client.streams.some((s) => s.kind === 'done')).toBe(false);
    await waitForQueue(client, idle, 'an idle queue');
    await expectChatWorks(harness);
  });

  it('takes a queued job out of the queue: it never reaches the API', async () => {
    harness = await startHarness({ initializationOptions: { queue: { concurrency: 1 } } });
    const { client, fake } = harness;
    const firstReply = gate();
    fake.queueReplies({ text: 'First answer.', hold: { until: firstReply.opened } });
    const first = client.request<ChatResult>('efrit/chat', { message: 'First question' });
    await fake.waitForRequests(1);
    const source = new CancellationTokenSource();

    const second = client.connection.sendRequest('efrit/chat', { message: 'Second question' }, source.token);
    await waitForQueue(client, (q) => q.running === 1 && q.queued === 1, 'the second chat to queue');
    source.cancel();

    await expect(second).rejects.toMatchObject({ code: requestCancelled });
    firstReply.open();
    expect((await first).reply).toBe('First answer.');
    // With one slot, anything the queue still held would be sent before this.
    await expectChatWorks(harness);
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests.some((r) => asksAbout(r, 'Second question'))).toBe(false);
  });

  it('cancels a running fix without touching the document', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const fixReply = gate();
    fake.queueReplies(
      editReply([{ old_text: 'item.stock < treshold', new_text: 'item.stock < threshold' }], 'Fixed.', { hold: { until: fixReply.opened } }),
    );
    const diagnostic = { range: rangeOf(inventoryTs, 'treshold'), message: "Cannot find name 'treshold'." };
    const [fix] = (await client.codeActions(uri, diagnostic.range, [diagnostic])) as CodeAction[];
    const source = new CancellationTokenSource();

    const running = client.connection.sendRequest(
      'workspace/executeCommand',
      { command: 'efrit.runAction', arguments: [fix?.command?.arguments?.[0] as RunActionArgs] },
      source.token,
    );
    await fake.waitForRequests(1);
    source.cancel();

    await expect(running).rejects.toMatchObject({ code: requestCancelled });
    await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'the fake to see the request aborted');
    // Even if the answer comes now, nothing is applied.
    fixReply.open();
    await client.settled();
    expect(client.appliedEdits).toHaveLength(0);
    const serverCopy = await client.request<{ text: string }>('efrit/documentText', { textDocument: { uri } });
    expect(serverCopy.text).toBe(inventoryTs);
    expect(client.text(uri)).toBe(inventoryTs);
  });

  it('answers every cancelled request, whatever it was and wherever its job was', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.respondWith(() => ({ text: 'Too slow to matter.', hold: { until: never } }));
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const range = rangeOf(inventoryTs, 'restock');
    const [, , rewrite] = (await client.codeActions(uri, range)) as CodeAction[];
    const send = (method: string, params: unknown): { source: CancellationTokenSource; answer: Promise<unknown> } => {
      const source = new CancellationTokenSource();
      const answer = client.connection.sendRequest(method, params, source.token);
      // Settled by allSettled below; until then a rejection must not count as unhandled.
      answer.catch(() => undefined);
      return { source, answer };
    };

    // Five jobs for four slots: four run, one waits.
    const requests = [
      send('efrit/chat', { message: 'A chat' }),
      send('efrit/do', { instruction: 'Rename amount to quantity', textDocument: { uri }, range }),
      send('workspace/executeCommand', { command: 'efrit.chat', arguments: [{ message: 'A chat by command' }] }),
      send('codeAction/resolve', rewrite),
      send('workspace/executeCommand', { command: 'efrit.runAction', arguments: [{ actionId: 'explain', textDocument: { uri }, range }] }),
    ];
    await waitForQueue(client, (q) => q.running === 4 && q.queued === 1, 'four running jobs and one queued');
    await fake.waitForRequests(4);
    // And one cancelled before the server has even read it.
    const early = new CancellationTokenSource();
    early.cancel();
    const earlyAnswer = client.connection.sendRequest('efrit/chat', { message: 'Never mind' }, early.token);
    earlyAnswer.catch(() => undefined);
    requests.push({ source: early, answer: earlyAnswer });
    // vscode-jsonrpc sends the cancellation of an already-cancelled token a macrotask later; let it reach the
    // server before the running jobs are cancelled, or their freed slots would start the request first.
    await new Promise((resolve) => setImmediate(resolve));
    await client.settled();

    // Newest first: the queued job is cancelled while it still waits (cancelling a running one first would free its slot).
    for (const { source } of [...requests].reverse()) if (source !== early) source.cancel();
    const answers = await Promise.allSettled(requests.map((r) => r.answer));

    for (const answer of answers) {
      expect(answer).toMatchObject({ status: 'rejected', reason: { code: requestCancelled } });
    }
    await waitForQueue(client, idle, 'an idle queue');
    expect(fake.requests).toHaveLength(4);
    await client.waitFor(() => fake.requests.every((r) => r.outcome === 'aborted-by-client'), 'every API call hung up');
    await expectChatWorks(harness);
  });
});

describe('efrit/cancel and efrit.cancel: the client asks, the server cancels', () => {
  it('cancels one job by id, and says so only the first time', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: 'Too slow.', hold: { until: never } });
    const chatting = client.request('efrit/chat', { message: 'Hello?' });
    const jobId = await nthStartedJob(client, 1);
    await fake.waitForRequests(1);

    expect(await client.request<CancelResult>('efrit/cancel', { jobId })).toEqual({ cancelled: 1 });

    await expect(chatting).rejects.toMatchObject({ code: serverCancelled, data: { reason: 'cancelled' } });
    expect(await client.request<CancelResult>('efrit/cancel', { jobId })).toEqual({ cancelled: 0 });
    await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'the fake to see the request aborted');
    await expectChatWorks(harness);
  });

  it("cancels every turn of one session and leaves other sessions' work alone", async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: 'Hello to you.' });
    const { sessionId } = await client.request<ChatResult>('efrit/chat', { message: 'Hello' });
    const unrelatedReply = gate();
    fake.respondWith((request) =>
      asksAbout(request, 'Unrelated') ? { text: 'Unrelated answer.', hold: { until: unrelatedReply.opened } } : { text: 'Too slow.', hold: { until: never } },
    );

    const secondTurn = client.request('efrit/chat', { sessionId, message: 'Second turn' });
    const thirdTurn = client.request('efrit/chat', { sessionId, message: 'Third turn' });
    const elsewhere = client.request<ChatResult>('efrit/chat', { message: 'Unrelated question' });
    await fake.waitForRequests(3);

    expect(await client.request<CancelResult>('efrit/cancel', { sessionId })).toEqual({ cancelled: 2 });
    unrelatedReply.open();

    await expect(secondTurn).rejects.toMatchObject({ code: serverCancelled, data: { reason: 'cancelled' } });
    await expect(thirdTurn).rejects.toMatchObject({ code: serverCancelled, data: { reason: 'cancelled' } });
    expect((await elsewhere).reply).toBe('Unrelated answer.');
    // The session lives on, without the cancelled turns in its history.
    fake.queueReplies({ text: 'Back again.' });
    const next = await client.request<ChatResult>('efrit/chat', { sessionId, message: 'Fourth turn' });
    expect(next.reply).toBe('Back again.');
    expect(fake.requests.some((r) => asksAbout(r, 'Third turn'))).toBe(false);
    expect(fake.requests.at(-1)?.body.messages).toHaveLength(3);
  });

  it('cancels everything when given no target', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.respondWith(() => ({ text: 'Too slow.', hold: { until: never } }));
    const chats = ['one', 'two', 'three'].map((n) => client.request('efrit/chat', { message: `Question ${n}` }));
    await fake.waitForRequests(3);

    expect(await client.request<CancelResult>('efrit/cancel', {})).toEqual({ cancelled: 3 });

    for (const chat of chats) await expect(chat).rejects.toMatchObject({ code: serverCancelled, data: { reason: 'cancelled' } });
    await waitForQueue(client, idle, 'an idle queue');
    expect(await client.request<CancelResult>('efrit/cancel', {})).toEqual({ cancelled: 0 });
    await expectChatWorks(harness);
  });

  it('does the same as the efrit.cancel command, by job id and for everything', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.respondWith(() => ({ text: 'Too slow.', hold: { until: never } }));
    const first = client.request('efrit/chat', { message: 'First' });
    const firstJob = await nthStartedJob(client, 1);
    const second = client.request('efrit/chat', { message: 'Second' });
    const third = client.request('efrit/chat', { message: 'Third' });
    await fake.waitForRequests(3);

    expect(await client.executeCommand<CancelResult>('efrit.cancel', { jobId: firstJob })).toEqual({ cancelled: 1 });
    await expect(first).rejects.toMatchObject({ code: serverCancelled, data: { reason: 'cancelled' } });
    expect(await client.executeCommand<CancelResult>('efrit.cancel')).toEqual({ cancelled: 2 });

    await expect(second).rejects.toMatchObject({ code: serverCancelled, data: { reason: 'cancelled' } });
    await expect(third).rejects.toMatchObject({ code: serverCancelled, data: { reason: 'cancelled' } });
    await expectChatWorks(harness);
  });
});


/** The job id of the first job whose notes say it asks the model, other than those given. */
async function startedJobOtherThan(client: TestClient, ...known: string[]): Promise<string> {
  const find = () => client.streams.find((s) => s.kind === 'status' && s.text.startsWith('asking') && !known.includes(s.jobId))?.jobId;
  await client.waitFor(() => find() !== undefined, 'a job to start');
  return find() as string;
}

describe('jobs the server ends by itself: ServerCancelled with the reason', () => {
  it('superseded: an older explanation of the same range, replaced by a newer one', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const held = gate();
    fake.respondWith(async (request) => {
      if (request.index === 0) await held.opened;
      return { text: 'It averages the values.' };
    });
    const uri = await client.open('stats.py', statsPy, 'python');
    const range = rangeOf(statsPy, 'def mean(values):');
    const older = client.executeCommand('efrit.runAction', { actionId: 'explain', textDocument: { uri }, range });
    await fake.waitForRequests(1);
    await client.edit(uri, '"""Summary statistics', '"""Simple summary statistics');

    const newer = client.executeCommand<RunActionResult>('efrit.runAction', { actionId: 'explain', textDocument: { uri }, range });

    await expect(older).rejects.toMatchObject({ code: serverCancelled, data: { reason: 'superseded' }, message: expect.stringContaining('Superseded') });
    await expect(newer).resolves.toMatchObject({ text: 'It averages the values.' });
    await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'the older call to be hung up');
    held.open();
  });

  it('sessionEnded: a turn still running when efrit/endSession ends its session', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: 'Hello.' });
    const { sessionId } = await client.request<ChatResult>('efrit/chat', { message: 'Hello' });
    const held = gate();
    fake.respondWith(async () => {
      await held.opened;
      return { text: 'Too late.' };
    });
    const turn = client.request('efrit/chat', { sessionId, message: 'And then?' });
    await fake.waitForRequests(2);

    expect(await client.request('efrit/endSession', { sessionId })).toEqual({ ended: true });

    await expect(turn).rejects.toMatchObject({ code: serverCancelled, data: { reason: 'sessionEnded' }, message: 'The session ended.' });
    held.open();
    await expectChatWorks(harness);
  });

  it('shuttingDown: a chat running when the client sends shutdown', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const held = gate();
    fake.respondWith(async () => {
      await held.opened;
      return { text: 'Too late.' };
    });
    const chatting = client.request('efrit/chat', { message: 'Take your time.' });
    await fake.waitForRequests(1);

    await client.connection.sendRequest(ShutdownRequest.type);

    await expect(chatting).rejects.toMatchObject({ code: serverCancelled, data: { reason: 'shuttingDown' }, message: expect.stringContaining('shutting down') });
    await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'the call to be hung up');
    held.open();
  });

  it('cancelled: one of two requests waiting for the same job cancels it: it hears RequestCancelled, the other ServerCancelled', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    const held = gate();
    fake.respondWith(async () => {
      await held.opened;
      return editReply([{ old_text: 'item.stock < treshold', new_text: 'item.stock < threshold' }]);
    });
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const diagnostic = { range: rangeOf(inventoryTs, 'treshold'), message: "Cannot find name 'treshold'." };
    const [fix] = (await client.codeActions(uri, diagnostic.range, [diagnostic])) as CodeAction[];
    const params = { command: 'efrit.runAction', arguments: [fix?.command?.arguments?.[0] as RunActionArgs] };
    const source = new CancellationTokenSource();
    const first = client.connection.sendRequest('workspace/executeCommand', params, source.token);
    await fake.waitForRequests(1);
    const second = client.connection.sendRequest('workspace/executeCommand', params);
    await client.request('efrit/status', {});

    source.cancel();

    await expect(first).rejects.toMatchObject({ code: requestCancelled, data: { reason: 'cancelled' } });
    await expect(second).rejects.toMatchObject({ code: serverCancelled, data: { reason: 'cancelled' } });
    expect(fake.requests).toHaveLength(1);
    held.open();
  });

  describe('background work a request waits for (efrit.applyJob on a prefetched fix)', () => {
    /** A prefetched fix, held by the API, and efrit.applyJob waiting for it. */
    async function waitOnPrefetch(initializationOptions: unknown): Promise<{ uri: string; prefetchId: string; applying: Promise<unknown>; held: ReturnType<typeof gate> }> {
      harness = await startHarness({ initializationOptions });
      const { client, fake } = harness;
      const held = gate();
      fake.respondWith(async () => {
        await held.opened;
        return { text: 'Too late.' };
      });
      const uri = await client.open('src/inventory.ts', inventoryTs);
      await client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic]);
      const prefetchId = await startedJobOtherThan(client);
      const applying = client.executeCommand('efrit.applyJob', { jobId: prefetchId });
      applying.catch(() => undefined);
      await client.request('efrit/status', {});
      return { uri, prefetchId, applying, held };
    }

    it('documentClosed: the document was closed', async () => {
      const { uri, applying, held } = await waitOnPrefetch({ prefetch: true });
      await harness?.client.close(uri);
      await expect(applying).rejects.toMatchObject({ code: serverCancelled, data: { reason: 'documentClosed' } });
      held.open();
    });

    it('documentChanged: the document moved on past the version the fix was for', async () => {
      const { uri, applying, held } = await waitOnPrefetch({ prefetch: true });
      await harness?.client.edit(uri, 'export interface Item {', 'export interface StockItem {');
      await expect(applying).rejects.toMatchObject({ code: serverCancelled, data: { reason: 'documentChanged' } });
      held.open();
    });

    it('dropped: the queue was full and the user asked for more', async () => {
      const { prefetchId, applying, held } = await waitOnPrefetch({ prefetch: true, queue: { concurrency: 1, maxQueued: 1 } });
      const client = harness?.client as TestClient;
      // With one slot, the user's chat pauses the prefetch (it waits again)…
      const first = client.request<ChatResult>('efrit/chat', { message: 'First question' });
      await startedJobOtherThan(client, prefetchId);
      // …and the next one finds the queue full: the waiting prefetch makes room.
      const second = client.request<ChatResult>('efrit/chat', { message: 'Second question' });

      await expect(applying).rejects.toMatchObject({ code: serverCancelled, data: { reason: 'dropped' } });
      held.open();
      await expect(first).resolves.toMatchObject({ reply: 'Too late.' });
      await expect(second).resolves.toMatchObject({ reply: 'Too late.' });
      expect((await client.request<StatusResult>('efrit/status', {})).queue.dropped).toBe(1);
    });
  });
});
