/**
 * Tying a stream to its request. A request learns its job id only from its
 * response, but the job's `efrit/stream` notes come before that; so a request
 * may name its stream up front (`streamId`, and/or the standard
 * `workDoneToken`), and every note of its job carries that name, the first
 * one included. `$/progress` then runs on the client's token, which needs no
 * `window/workDoneProgress/create`. A request that names nothing gets exactly
 * what it got before.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CancellationTokenSource, WorkDoneProgressCreateRequest, type CodeAction } from 'vscode-languageserver-protocol/node';
import type { ChatResult, DoResult, RunActionResult, StreamParams } from '../../server/src/protocol.js';
import { typoDiagnostic, typoFix } from '../fixtures/inventory-typo.js';
import { inventoryTs } from '../fixtures/samples.js';
import type { RecordedRequest } from '../support/fake-anthropic/types.js';
import { startHarness, type Harness } from '../support/harness.js';
import { eglotCapabilities, rangeOf, type TestClient } from '../support/lsp-client.js';
import { gate } from '../support/gate.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});


const asks = (request: RecordedRequest, text: string): boolean => JSON.stringify(request.body.messages ?? []).includes(text);

/** The window/workDoneProgress/create requests the server sends from now on. */
function recordProgressCreates(client: TestClient): string[] {
  const created: string[] = [];
  client.connection.onRequest(WorkDoneProgressCreateRequest.type, (params) => {
    created.push(String(params.token));
  });
  return created;
}

const notesOf = (client: TestClient, jobId: string): StreamParams[] => client.streams.filter((s) => s.jobId === jobId);

describe('a request that names its stream', () => {
  it('finds its streamId on every note of its job, the first one included, while another job streams in between', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const firstHeld = gate();
    fake.respondWith(async (request) => {
      if (asks(request, 'First question')) {
        await firstHeld.opened;
        return { text: ['The first ', 'answer.'] };
      }
      return { text: ['The second ', 'answer.'] };
    });

    // The first chat starts and is held by the API; the second streams all of its answer meanwhile.
    const first = client.request<ChatResult>('efrit/chat', { message: 'First question', streamId: 'chat-A' });
    await fake.waitForRequests(1);
    const second = await client.request<ChatResult>('efrit/chat', { message: 'Second question', streamId: 'chat-B' });
    firstHeld.open();
    const firstResult = await first;

    const notesA = notesOf(client, firstResult.jobId);
    const notesB = notesOf(client, second.jobId);
    expect(notesA.length).toBeGreaterThan(1);
    expect(notesB.length).toBeGreaterThan(1);
    expect(notesA.every((note) => note.streamId === 'chat-A')).toBe(true);
    expect(notesB.every((note) => note.streamId === 'chat-B')).toBe(true);
    // The streams really did interleave: A's first note came before B's, its text after B's end.
    const order = client.streams.map((note) => note.streamId);
    expect(order.indexOf('chat-A')).toBeLessThan(order.indexOf('chat-B'));
    expect(order.lastIndexOf('chat-A')).toBeGreaterThan(order.lastIndexOf('chat-B'));
    // Routed by streamId alone, each text is its own request's answer.
    const textOf = (streamId: string): string => client.streams.filter((s) => s.streamId === streamId && s.kind === 'text').map((s) => s.text).join('');
    expect(textOf('chat-A')).toBe(firstResult.reply);
    expect(textOf('chat-B')).toBe(second.reply);
    expect(firstResult.reply).toBe('The first answer.');
  });

  it('gets $/progress on its own workDoneToken, with no window/workDoneProgress/create, and the token on every note', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const created = recordProgressCreates(client);
    fake.queueReplies({ text: ['Counted ', 'twice.'] });

    const result = await client.request<ChatResult>('efrit/chat', { message: 'How often?', workDoneToken: 'vscode-progress-7' });

    await client.waitFor(() => client.progress.some((p) => p.token === 'vscode-progress-7' && p.value.kind === 'end'), 'the end of the progress');
    const progress = client.progress.filter((p) => p.token === 'vscode-progress-7').map((p) => p.value.kind);
    expect(progress[0]).toBe('begin');
    expect(progress.at(-1)).toBe('end');
    expect(client.progress.find((p) => p.token === 'vscode-progress-7')?.value.title).toBe('Efrit: Chat');
    expect(created).toEqual([]);
    const notes = notesOf(client, result.jobId);
    expect(notes.length).toBeGreaterThan(1);
    expect(notes.every((note) => note.workDoneToken === 'vscode-progress-7' && note.streamId === undefined)).toBe(true);
  });

  it('takes an integer workDoneToken and a streamId together, for efrit/do', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: 'Nothing to change.' });
    const uri = await client.open('src/inventory.ts', inventoryTs);

    const result = await client.request<DoResult>('efrit/do', {
      instruction: 'Check restock',
      textDocument: { uri },
      range: rangeOf(inventoryTs, 'restock'),
      streamId: 'do-1',
      workDoneToken: 42,
    });

    const notes = notesOf(client, result.jobId);
    expect(notes.every((note) => note.streamId === 'do-1' && note.workDoneToken === 42)).toBe(true);
    await client.waitFor(() => client.progress.some((p) => p.token === 42 && p.value.kind === 'end'), 'the end of the progress');
  });

  it('reads a command’s streamId from its argument, and its workDoneToken from ExecuteCommandParams too', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    fake.respondWith(() => ({ text: 'Answered.' }));
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const range = rangeOf(inventoryTs, 'restock');
    const command = <R>(name: string, argument: unknown, workDoneToken?: string): Promise<R> =>
      client.request<R>('workspace/executeCommand', { command: name, arguments: [argument], ...(workDoneToken !== undefined ? { workDoneToken } : {}) });

    const explained = await command<RunActionResult>('efrit.runAction', { actionId: 'explain', textDocument: { uri }, range, streamId: 'explain-1' }, 'explain-progress');
    const chatted = await command<ChatResult>('efrit.chat', { message: 'Hello', streamId: 'chat-1' });
    // Both places give a token: the standard place, ExecuteCommandParams, wins.
    const done = await command<DoResult>('efrit.do', { instruction: 'Nothing', textDocument: { uri }, workDoneToken: 'in-argument' }, 'in-params');

    expect(notesOf(client, explained.jobId).every((n) => n.streamId === 'explain-1' && n.workDoneToken === 'explain-progress')).toBe(true);
    expect(notesOf(client, chatted.jobId).every((n) => n.streamId === 'chat-1' && n.workDoneToken === undefined)).toBe(true);
    expect(notesOf(client, done.jobId).every((n) => n.workDoneToken === 'in-params' && n.streamId === undefined)).toBe(true);
    expect(notesOf(client, done.jobId).length).toBeGreaterThan(0);
  });

  it('names the notes of a job handed over to efrit.applyJob after the handover, and keeps the resolve’s own path working', async () => {
    harness = await startHarness({ initializationOptions: { codeActions: { resolveBudgetMs: 0 } } });
    const { client, fake } = harness;
    const held = gate();
    fake.respondWith(async () => {
      await held.opened;
      return typoFix;
    });
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const [fix] = (await client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic])) as CodeAction[];

    const resolved = await client.request<CodeAction>('codeAction/resolve', fix);
    expect(resolved.command?.command).toBe('efrit.applyJob');
    const { jobId } = resolved.command?.arguments?.[0] as { jobId: string };
    const applying = client.executeCommand<{ applied: boolean }>('efrit.applyJob', { jobId, streamId: 'apply-1' });
    // Requests are read in order: once this is answered, applyJob has joined the job.
    await client.request('efrit/status', {});
    const namedFrom = client.streams.length;
    held.open();

    expect(await applying).toEqual({ applied: true });
    const before = client.streams.slice(0, namedFrom).filter((n) => n.jobId === jobId);
    const after = client.streams.slice(namedFrom).filter((n) => n.jobId === jobId);
    expect(before.every((n) => n.streamId === undefined)).toBe(true);
    expect(after.map((n) => n.kind)).toContain('done');
    expect(after.every((n) => n.streamId === 'apply-1')).toBe(true);
  });

  it('sends a note once per request when two requests with their own names wait for the same job', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    const held = gate();
    fake.respondWith(async () => {
      await held.opened;
      return typoFix;
    });
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const [fix] = (await client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic])) as CodeAction[];
    const args = fix?.command?.arguments?.[0] as Record<string, unknown>;

    // The same fix picked twice: one job, two requests waiting for it.
    const first = client.executeCommand<RunActionResult>('efrit.runAction', { ...args, streamId: 'pick-1' });
    await fake.waitForRequests(1);
    const second = client.executeCommand<RunActionResult>('efrit.runAction', { ...args, streamId: 'pick-2' });
    await client.request('efrit/status', {});
    held.open();
    const [a, b] = await Promise.all([first, second]);

    expect(a.jobId).toBe(b.jobId);
    expect(fake.requests).toHaveLength(1);
    const done = notesOf(client, a.jobId).filter((n) => n.kind === 'done');
    expect(done.map((n) => n.streamId).sort()).toEqual(['pick-1', 'pick-2']);
  });

  it('refuses a malformed streamId or workDoneToken with InvalidParams, before any job starts', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const refused = [
      client.request('efrit/chat', { message: 'Hi', streamId: 7 }),
      client.request('efrit/chat', { message: 'Hi', streamId: '' }),
      client.request('efrit/chat', { message: 'Hi', streamId: 'x'.repeat(257) }),
      client.request('efrit/chat', { message: 'Hi', workDoneToken: { id: 1 } }),
      client.request('efrit/chat', { message: 'Hi', workDoneToken: 1.5 }),
      client.request('workspace/executeCommand', { command: 'efrit.chat', arguments: [{ message: 'Hi' }], workDoneToken: true }),
    ];
    for (const answer of refused) {
      await expect(answer).rejects.toMatchObject({ code: -32602, data: { reason: 'invalidParams' }, message: expect.stringMatching(/streamId|workDoneToken/) });
    }
    expect(fake.requests).toHaveLength(0);
    expect(client.streams).toHaveLength(0);
  });
});

describe('a request that names nothing (clients before stream names)', () => {
  it('gets bare notes and a progress token the server creates, exactly as before', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const created = recordProgressCreates(client);
    fake.queueReplies({ text: ['Plain ', 'as ever.'] });

    const result = await client.request<ChatResult>('efrit/chat', { message: 'Anything new?' });

    const notes = notesOf(client, result.jobId);
    expect(notes.map((n) => n.kind)).toEqual(expect.arrayContaining(['status', 'text', 'done']));
    // No stream name on them; every note names the job (what it is) for the client's heading.
    for (const note of notes) expect(Object.keys(note).sort()).toEqual(['jobId', 'kind', 'sessionId', 'text', 'title']);
    expect(new Set(notes.map((n) => n.title))).toEqual(new Set(['Efrit: Chat']));
    expect(created).toEqual([`efrit-${result.jobId}`]);
    await client.waitFor(() => client.progress.some((p) => p.token === `efrit-${result.jobId}` && p.value.kind === 'end'), 'the end of the progress');
    expect(client.streamedText(result.jobId)).toBe('Plain as ever.');
  });

  it('is answered RequestCancelled for its own $/cancelRequest, as before', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const held = gate();
    fake.respondWith(async () => {
      await held.opened;
      return { text: 'Too late.' };
    });
    const source = new CancellationTokenSource();
    const chatting = client.connection.sendRequest('efrit/chat', { message: 'Slow one' }, source.token);
    await fake.waitForRequests(1);
    source.cancel();
    await expect(chatting).rejects.toMatchObject({ code: -32800, data: { reason: 'cancelled' } });
    held.open();
  });
});
