/**
 * What a user sees when the model API misbehaves: every fault ends in one
 * clear error (a `data.reason` for programs, a message a person can act on),
 * a failed edit changes nothing, and the server goes on serving.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { CodeAction } from 'vscode-languageserver-protocol';
import type { ChatResult, RunActionArgs, StatusResult } from '../../server/src/protocol.js';
import { typoDiagnostic, typoFix } from '../fixtures/inventory-typo.js';
import { inventoryTs } from '../fixtures/samples.js';
import type { FakeFault, FakeReply } from '../support/fake-anthropic/types.js';
import { startHarness, testApiKey, type Harness } from '../support/harness.js';
import { eglotCapabilities, type TestClient } from '../support/lsp-client.js';
import { never } from '../support/gate.js';

/** LSP `RequestFailed`: the request was valid, the work behind it failed. */
const requestFailed = -32803;


const fault = (f: FakeFault, extra: Partial<FakeReply> = {}): FakeReply => ({ ...typoFix, fault: f, ...extra });

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

/** The arguments of the "Efrit: Fix" command an eglot-like client gets for the typo. */
async function fixCommandArgs(client: TestClient, uri: string): Promise<RunActionArgs> {
  const actions = (await client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic])) as CodeAction[];
  const fix = actions.find((a) => a.title.startsWith('Efrit: Fix'));
  expect(fix?.command?.command).toBe('efrit.runAction');
  return fix?.command?.arguments?.[0] as RunActionArgs;
}

function expectFailure(request: Promise<unknown>, reason: string, message: RegExp): Promise<void> {
  return expect(request).rejects.toMatchObject({ code: requestFailed, data: { reason }, message: expect.stringMatching(message) });
}

/** A chat that the fake answers normally: proof the server is still serving. */
/**
 * A chat works after a fault whose test set a tight limit: the limit is first
 * raised as a user would, so a saturated machine cannot make the check itself
 * run into it.
 */
async function expectChatWorksAgain(h: Harness, settings: Record<string, unknown>, relaxed: Record<string, unknown>): Promise<void> {
  await changeSettings(h.client, settings, relaxed);
  await expectChatWorks(h);
}

async function expectChatWorks(h: Harness): Promise<void> {
  h.fake.queueReplies({ text: 'Still here.' });
  const result = await h.client.request<ChatResult>('efrit/chat', { message: 'Are you there?' });
  expect(result.reply).toBe('Still here.');
}

/** Nothing reached the buffer: no applyEdit, the client's and the server's text both unchanged. */
async function expectDocumentUntouched(client: TestClient, uri: string, original: string): Promise<void> {
  expect(client.appliedEdits).toHaveLength(0);
  expect(client.text(uri)).toBe(original);
  const serverCopy = await client.request<{ text: string }>('efrit/documentText', { textDocument: { uri } });
  expect(serverCopy.text).toBe(original);
}

/** Changes what the client answers to workspace/configuration, tells the server, and waits until it took the change. */
async function changeSettings(client: TestClient, settings: Record<string, unknown>, patch: Record<string, unknown>): Promise<void> {
  Object.assign(settings, patch);
  const seen = client.logMessages.length;
  await client.connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
  const keys = Object.keys(patch);
  await client.waitFor(
    () => client.logMessages.slice(seen).some((m) => m.message.startsWith('settings changed:') && keys.every((k) => m.message.includes(k))),
    `the server to take ${keys.join(', ')}`,
  );
}

/** A port on loopback that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('credentials', () => {
  it('reports a refused key (401) by naming ANTHROPIC_API_KEY, never the key itself', async () => {
    const settings: Record<string, unknown> = {};
    const keyTheApiWants = 'sk-ant-the-key-the-api-expects-9876543210';
    harness = await startHarness({ settings, fake: { apiKey: keyTheApiWants } });
    const { client, fake } = harness;

    await expectFailure(client.request('efrit/chat', { message: 'Hello?' }), 'unauthorized', /\(401\).*ANTHROPIC_API_KEY/);

    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.apiKeyMatched).toBe(false);
    const status = await client.request<StatusResult>('efrit/status', {});
    expect(status.apiKeyConfigured).toBe(true);
    // The user fixes the key in the settings; the next chat goes through.
    await changeSettings(client, settings, { apiKey: keyTheApiWants });
    await expectChatWorks(harness);

    await client.waitFor(() => client.streams.some((s) => s.kind === 'error'), 'the error note on efrit/stream');
    const everythingSeen = [
      ...client.rawTraffic,
      client.stderr,
      ...client.logMessages.map((m) => m.message),
      ...client.shownMessages.map((m) => m.message),
    ].join('\n');
    expect(everythingSeen).not.toContain(testApiKey);
    expect(everythingSeen).not.toContain(keyTheApiWants);
  });

  it('without any key, says so once out loud and every time as the error, and never calls the API', async () => {
    const settings: Record<string, unknown> = {};
    harness = await startHarness({ apiKey: null, settings, capabilities: eglotCapabilities });
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);

    await expect(client.request('efrit/chat', { message: 'Hello?' })).rejects.toMatchObject({
      code: requestFailed,
      data: { reason: 'noApiKey' },
      message: expect.stringMatching(/ANTHROPIC_API_KEY/),
    });
    await expect(client.executeCommand('efrit.runAction', await fixCommandArgs(client, uri))).rejects.toMatchObject({
      data: { reason: 'noApiKey' },
      message: expect.stringMatching(/ANTHROPIC_API_KEY/),
    });

    const status = await client.request<StatusResult>('efrit/status', {});
    expect(status.apiKeyConfigured).toBe(false);
    const aboutTheKey = client.shownMessages.filter((m) => m.message.includes('ANTHROPIC_API_KEY'));
    expect(aboutTheKey).toHaveLength(1);
    expect(aboutTheKey[0]?.type).toBe(1);
    expect(fake.requests).toHaveLength(0);
    await expectDocumentUntouched(client, uri, inventoryTs);

    await changeSettings(client, settings, { apiKey: testApiKey });
    await expectChatWorks(harness);
  });
});

describe('error statuses from the API', () => {
  it('reports 429 as rate limiting after its retries, with the wait the API asked for', async () => {
    harness = await startHarness({ initializationOptions: { queue: { maxRetries: 1 } } });
    const { client, fake } = harness;
    fake.respondWith(() => ({ text: 'never sent', fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } }));

    await expectFailure(client.request('efrit/chat', { message: 'Hello?' }), 'rateLimited', /rate limit.*wait 1 s.*gave up after 1 retry/i);

    expect(fake.requests).toHaveLength(2);
    expect(fake.requests.every((r) => r.status === 429)).toBe(true);
    await expectChatWorks(harness);
  });

  it('reports 529 as overloaded after its retries, and the fix it was computing is not applied', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities, initializationOptions: { queue: { maxRetries: 1 } } });
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);
    fake.respondWith(() => fault({ kind: 'status', status: 529 }));

    await expectFailure(client.executeCommand('efrit.runAction', await fixCommandArgs(client, uri)), 'overloaded', /overloaded.*Try again/);

    await expectDocumentUntouched(client, uri, inventoryTs);
    await expectChatWorks(harness);
  });

  it('reports a 500 as an API failure worth retrying', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.respondWith(() => ({ text: 'never sent', fault: { kind: 'status', status: 500 } }));

    await expectFailure(client.request('efrit/chat', { message: 'Hello?' }), 'apiError', /500.*Try again/);

    await expectChatWorks(harness);
  });

  it("passes a 400's explanation from the API on to the user", async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const apiMessage = 'prompt is too long: 250000 tokens > 200000 maximum';
    fake.queueReplies({ text: 'never sent', fault: { kind: 'status', status: 400, message: apiMessage } });

    await expectFailure(client.request('efrit/chat', { message: 'Hello?' }), 'badRequest', new RegExp(`\\(400\\).*${apiMessage}`));

    await expectChatWorks(harness);
  });
});

describe('network faults', () => {
  it('reports an endpoint that refuses connections as a network problem naming efrit.baseURL', async () => {
    const settings: Record<string, unknown> = {};
    const port = await closedPort();
    harness = await startHarness({ settings, env: { ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}` } });
    const { client, fake } = harness;

    await expectFailure(client.request('efrit/chat', { message: 'Hello?' }), 'network', /Could not reach the API.*efrit\.baseURL/);

    expect(fake.requests).toHaveLength(0);
    await changeSettings(client, settings, { baseURL: fake.url });
    await expectChatWorks(harness);
  });

  it('reports a connection dropped mid-stream, and applies nothing of the half-received edit', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);
    fake.queueReplies(fault({ kind: 'drop', afterEvents: 4 }));

    await expectFailure(client.executeCommand('efrit.runAction', await fixCommandArgs(client, uri)), 'network', /connection dropped/);

    expect(fake.requests[0]?.faultKind).toBe('drop');
    await expectDocumentUntouched(client, uri, inventoryTs);
    await expectChatWorks(harness);
  });

  it('stops a stream that goes quiet after queue.stallMs and hangs up on the API', async () => {
    const settings: Record<string, unknown> = { queue: { stallMs: 500 } };
    harness = await startHarness({ initializationOptions: settings, settings });
    const { client, fake } = harness;
    fake.queueReplies({ text: ['Let me think ', 'about that…'], fault: { kind: 'stall', afterEvents: 3 } });

    await expectFailure(client.request('efrit/chat', { message: 'Hello?' }), 'stalled', /went quiet.*Try again/);

    await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'the fake to see the stalled request aborted');
    await expectChatWorksAgain(harness, settings, { queue: { stallMs: 600_000 } });
  });

  it('treats a response that never starts like a stream that went quiet', async () => {
    const settings: Record<string, unknown> = { queue: { stallMs: 500 } };
    harness = await startHarness({ initializationOptions: settings, settings });
    const { client, fake } = harness;
    // The API accepts the request, then sends nothing at all, not even the headers.
    fake.queueReplies({ text: 'Far too late.', hold: { until: never } });

    await expectFailure(client.request('efrit/chat', { message: 'Hello?' }), 'stalled', /went quiet.*Try again/);

    // The job's clock runs in the server: on a loaded machine it may even run out before the call reaches the
    // API. Either way no call may outlive the job: whatever reached the fake was aborted by the client.
    await client.waitFor(() => fake.requests.every((request) => request.outcome === 'aborted-by-client'), 'the fake to see every call of the job aborted', 30_000);
    await expectChatWorksAgain(harness, settings, { queue: { stallMs: 600_000 } });
  });

  it('discards an answer with a malformed stream event, and applies nothing', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);
    fake.queueReplies(fault({ kind: 'malformed', afterEvents: 4 }));

    await expectFailure(client.executeCommand('efrit.runAction', await fixCommandArgs(client, uri)), 'apiError', /malformed.*Try again/);

    await expectDocumentUntouched(client, uri, inventoryTs);
    await expectChatWorks(harness);
  });

  it('refuses an edit from a stream that ended without message_stop', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);
    // Every event of a complete, valid edit arrives, only message_stop is missing.
    fake.queueReplies(fault({ kind: 'noStop' }));

    await expectFailure(client.executeCommand('efrit.runAction', await fixCommandArgs(client, uri)), 'incomplete', /ended before the answer was complete/);

    await expectDocumentUntouched(client, uri, inventoryTs);
    await expectChatWorks(harness);
  });

  it('retries after an overloaded error event in the middle of a stream, and then answers', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    fake.queueReplies(
      { text: ['The answer ', 'is '], fault: { kind: 'streamError', afterEvents: 4, errorType: 'overloaded_error', message: 'Overloaded' } },
      { text: 'The answer is 42.' },
    );

    const result = await client.request<{ reply: string }>('efrit/chat', { message: 'Hello?' });

    expect(result.reply).toBe('The answer is 42.');
    expect(fake.requests).toHaveLength(2);
  });

  it('reports an overloaded stream once its retries are spent', async () => {
    harness = await startHarness({ initializationOptions: { queue: { maxRetries: 0 } } });
    const { client, fake } = harness;
    fake.queueReplies({ text: ['The answer ', 'is '], fault: { kind: 'streamError', afterEvents: 4, errorType: 'overloaded_error', message: 'Overloaded' } });

    await expectFailure(client.request('efrit/chat', { message: 'Hello?' }), 'overloaded', /overloaded.*Try again/);

    await expectChatWorks(harness);
  });
});

describe('the whole-job timeout', () => {
  it('gives up after queue.timeoutMs, names the setting, and aborts the API call', async () => {
    // In both places, so the pulled settings agree with the ones the first chat runs on.
    const settings: Record<string, unknown> = { queue: { timeoutMs: 1000 } };
    harness = await startHarness({ initializationOptions: { queue: { timeoutMs: 1000 } }, settings });
    const { client, fake } = harness;
    fake.queueReplies({ text: 'Too late.', hold: { until: never } });

    await expectFailure(client.request('efrit/chat', { message: 'Hello?' }), 'timeout', /timed out after 1 s.*efrit\.queue\.timeoutMs/);

    // The job's clock runs in the server: on a loaded machine it may even run out before the call reaches the
    // API. Either way no call may outlive the job: whatever reached the fake was aborted by the client.
    await client.waitFor(() => fake.requests.every((request) => request.outcome === 'aborted-by-client'), 'the fake to see every call of the job aborted', 30_000);
    const failed = client.streams.find((s) => s.kind === 'error');
    expect(failed?.text).toMatch(/timed out/);
    await expectChatWorksAgain(harness, settings, { queue: { timeoutMs: 120_000 } });
  });
});
