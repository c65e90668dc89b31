/**
 * The `vertex` provider end to end: the real server with `model` set to a
 * `vertex:` model, the real Vertex SDK and google-auth-library, Google
 * credentials exchanged for a token at the fake OAuth endpoint (through the
 * proxy in HTTPS_PROXY, trusting the CA in tls.caFile), and the fake Vertex
 * AI endpoint with Claude's fake behind it, all on 127.0.0.1.
 */
import { CancellationTokenSource } from 'vscode-jsonrpc';
import { afterEach, describe, expect, it } from 'vitest';
import type { CodeAction } from 'vscode-languageserver-protocol';
import type { ChatResult, StatusResult } from '../../server/src/protocol.js';
import { typoDiagnostic } from '../fixtures/inventory-typo.js';
import { inventoryTs, statsPy } from '../fixtures/samples.js';
import { never } from '../support/gate.js';
import { eglotCapabilities, rangeOf } from '../support/lsp-client.js';
import { startVertexHarness, vertexModel, vertexProject, vertexRegion, type VertexHarness } from '../support/vertex-harness.js';

const requestCancelled = -32800;

let harness: VertexHarness | undefined;
afterEach(async () => {
  // Nothing tried to leave the machine: the proxy was asked for the token endpoint only.
  expect(harness?.route.refusedHosts ?? []).toEqual([]);
  await harness?.stop();
  harness = undefined;
});

const status = (h: VertexHarness): Promise<StatusResult> => h.client.request<StatusResult>('efrit/status', {});

describe('efrit/chat on Claude through Vertex AI', () => {
  it('streams the answer, sent to streamRawPredict with the model in the path and the Vertex API version in the body', async () => {
    harness = await startVertexHarness();
    const { client, fake, oauth, route } = harness;
    fake.queueReplies({ text: ['`variance` is the population ', 'variance: it divides by n.'] });
    const uri = await client.open('stats.py', statsPy, 'python');

    const result = await client.request<ChatResult>('efrit/chat', { message: 'Is this the sample variance?', textDocument: { uri }, range: rangeOf(statsPy, 'def variance(values):') });

    expect(result.reply).toBe('`variance` is the population variance: it divides by n.');
    expect(client.streamedText(result.jobId)).toBe(result.reply);
    expect(fake.requests[0]).toMatchObject({
      path: `/v1/projects/${vertexProject}/locations/${vertexRegion}/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict`,
      tokenAccepted: true,
      status: 200,
      outcome: 'completed',
      body: { anthropic_version: 'vertex-2023-10-16', stream: true, max_tokens: 4096 },
    });
    expect(fake.requests[0]?.body).not.toHaveProperty('model');
    expect(JSON.stringify(fake.requests[0]?.body['messages'])).toContain('def variance(values):');
    expect(oauth.tokenRequests).toEqual([{ grant: 'jwt-bearer', status: 200 }]);
    expect(route.tunnels).toBe(1);
    const notes = client.streams.filter((s) => s.jobId === result.jobId && s.kind === 'status').map((s) => s.text);
    expect(notes[0]).toBe(`asking ${vertexModel}`);
  });
});

describe('edits through tool calls', () => {
  it('lands a fix as an edit from a propose_edits call', async () => {
    harness = await startVertexHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    fake.queueReplies({
      text: 'The parameter is spelled threshold.',
      toolUses: [{ name: 'propose_edits', input: { summary: 'Use the parameter `threshold`.', edits: [{ old_text: '  return items.filter((item) => item.stock < treshold);', new_text: '  return items.filter((item) => item.stock < threshold);' }] } }],
    });
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const [fix] = (await client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic])) as CodeAction[];

    await client.executeCommand(fix?.command?.command ?? '', ...(fix?.command?.arguments ?? []));

    await client.waitFor(() => client.text(uri).includes('item.stock < threshold'), 'the fix in the buffer');
    const tools = (fake.requests[0]?.body['tools'] as { name: string }[] | undefined)?.map((tool) => tool.name);
    expect(tools).toContain('propose_edits');
  });
});

describe('cancellation, backoff and errors', () => {
  it('cancels a streaming chat by aborting the HTTP request: the fake sees the client hang up', async () => {
    harness = await startVertexHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: ['Well, ', 'let me ', 'explain ', 'this ', 'at length…'], hold: { until: never, afterEvents: 4 } });
    const source = new CancellationTokenSource();

    const chatting = client.connection.sendRequest('efrit/chat', { message: 'Explain everything.' }, source.token);
    await client.waitFor(() => client.streams.some((s) => s.kind === 'text'), 'the first streamed words');
    source.cancel();

    await expect(chatting).rejects.toMatchObject({ code: requestCancelled });
    await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'the Vertex fake to see the client hang up');
    await client.waitFor(() => fake.claude.requests[0]?.outcome === 'aborted-by-client', 'Claude behind it to see the hang-up too');
    fake.queueReplies({ text: 'Still here.' });
    expect((await client.request<ChatResult>('efrit/chat', { message: 'Are you there?' })).reply).toBe('Still here.');
  });

  it('backs off on 429 RESOURCE_EXHAUSTED through the shared queue backoff, then succeeds', async () => {
    harness = await startVertexHarness();
    const { client, fake } = harness;
    fake.queueReplies({ fault: { kind: 'status', status: 429 } }, { text: 'answered' });

    const result = await client.request<ChatResult>('efrit/chat', { message: 'question' });

    expect(result.reply).toBe('answered');
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
    const after = await status(harness);
    expect(after.queue.retries).toBe(1);
  });

  it('stops a stream that goes quiet with the stall watchdog, and hangs up', async () => {
    harness = await startVertexHarness({ settings: { queue: { stallMs: 500 } } });
    const { client, fake } = harness;
    fake.queueReplies({ text: ['Thinking', ' about it'], fault: { kind: 'stall', afterEvents: 4 } });

    await expect(client.request('efrit/chat', { message: 'Hi' })).rejects.toMatchObject({ data: { reason: 'stalled' } });
    await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'the fake to see the client hang up');
  });

  it('names GOOGLE_APPLICATION_CREDENTIALS when Vertex refuses the token (401), never the token, and exchanges the credentials again next time', async () => {
    harness = await startVertexHarness();
    const { client, fake, oauth } = harness;
    fake.queueReplies({ text: 'First.' }, { text: 'Back again.' });
    await client.request<ChatResult>('efrit/chat', { message: 'Hi' });
    oauth.revokeAll();

    const refused = await client.request('efrit/chat', { message: 'Hi again' }).then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(refused).toMatchObject({ data: { reason: 'unauthorized' } });
    expect((refused as Error).message).toContain('GOOGLE_APPLICATION_CREDENTIALS');
    expect((refused as Error).message).toContain('gcloud auth application-default login');
    expect(fake.requests.map((r) => r.status)).toEqual([200, 401]);
    expect((await client.request<ChatResult>('efrit/chat', { message: 'Once more' })).reply).toBe('Back again.');
    expect(oauth.tokenRequests.map((r) => r.status)).toEqual([200, 200]);
    const everything = client.rawTraffic.join('') + client.stderr;
    for (const token of oauth.issuedTokens) {
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(token.slice(-24));
    }
    expect(everything).not.toContain(harness.privateKey.split('\n')[1]);
  });

  it('names the credentials and the project when Vertex refuses the project (403 PERMISSION_DENIED)', async () => {
    harness = await startVertexHarness({ settings: { vertex: { projectId: 'someone-elses-project' } } });
    const { client, fake } = harness;

    const refused = client.request('efrit/chat', { message: 'Hi' });

    await expect(refused).rejects.toMatchObject({ data: { reason: 'forbidden' }, message: expect.stringContaining('GOOGLE_APPLICATION_CREDENTIALS') });
    await expect(refused).rejects.toMatchObject({ message: expect.stringContaining('someone-elses-project') });
    expect(fake.requests[0]).toMatchObject({ status: 403, tokenAccepted: true });
  });

  it('names GOOGLE_APPLICATION_CREDENTIALS and gcloud auth application-default login when there are no credentials, asking nothing of the network', async () => {
    harness = await startVertexHarness({ credentials: 'none' });
    const { client, fake, oauth } = harness;

    const refused = client.request('efrit/chat', { message: 'Hi' });

    await expect(refused).rejects.toMatchObject({ data: { reason: 'noApiKey' }, message: expect.stringContaining('GOOGLE_APPLICATION_CREDENTIALS') });
    await expect(refused).rejects.toMatchObject({ message: expect.stringContaining('gcloud auth application-default login') });
    expect(fake.requests).toEqual([]);
    expect(oauth.tokenRequests).toEqual([]);
  });

  it('names the credentials when Google refuses them for a token (invalid_grant), leaking no key', async () => {
    harness = await startVertexHarness();
    const { client, fake, oauth } = harness;
    oauth.refuseWith('invalid_grant');

    const refused = client.request('efrit/chat', { message: 'Hi' });

    await expect(refused).rejects.toMatchObject({ data: { reason: 'unauthorized' }, message: expect.stringContaining('GOOGLE_APPLICATION_CREDENTIALS') });
    await expect(refused).rejects.toMatchObject({ message: expect.stringContaining('invalid_grant') });
    expect(fake.requests).toEqual([]);
    const everything = client.rawTraffic.join('') + client.stderr;
    expect(everything).not.toContain(harness.privateKey.split('\n')[1]);
  });

  it('names efrit.vertex.region and CLOUD_ML_REGION when no region is set', async () => {
    harness = await startVertexHarness({ settings: { vertex: { region: null } } });

    const refused = harness.client.request('efrit/chat', { message: 'Hi' });

    await expect(refused).rejects.toMatchObject({ data: { reason: 'badRequest' }, message: expect.stringContaining('efrit.vertex.region or CLOUD_ML_REGION') });
    expect(harness.fake.requests).toEqual([]);
  });
});

describe('credentials', () => {
  it('exchanges the credentials once and reuses the token for later calls, the first two at once included', async () => {
    harness = await startVertexHarness();
    const { client, fake, oauth } = harness;
    fake.queueReplies({ text: 'One.' }, { text: 'Two.' }, { text: 'Three.' });

    await Promise.all(['first', 'second'].map((message) => client.request<ChatResult>('efrit/chat', { message })));
    await client.request<ChatResult>('efrit/chat', { message: 'third' });

    expect(fake.requests.map((r) => [r.status, r.tokenAccepted])).toEqual([
      [200, true],
      [200, true],
      [200, true],
    ]);
    expect(oauth.tokenRequests).toHaveLength(1);
  });

  it("uses gcloud's application-default login (an authorized_user refresh token) when GOOGLE_APPLICATION_CREDENTIALS is unset, with the project from the settings", async () => {
    harness = await startVertexHarness({ credentials: 'authorized-user' });
    const { client, fake, oauth } = harness;
    fake.queueReplies({ text: 'Hello from your own login.' });

    expect((await client.request<ChatResult>('efrit/chat', { message: 'Hi' })).reply).toBe('Hello from your own login.');
    expect(oauth.tokenRequests).toEqual([{ grant: 'refresh_token', status: 200 }]);
    expect(fake.requests[0]).toMatchObject({ project: vertexProject, tokenAccepted: true });
  });
});

describe('the token exchange on a corporate network', () => {
  it('goes through the proxy in HTTPS_PROXY: one that cannot be reached is named, with its variable', async () => {
    harness = await startVertexHarness({ env: { HTTPS_PROXY: 'http://127.0.0.1:9' } });

    const refused = harness.client.request('efrit/chat', { message: 'Hi' });

    await expect(refused).rejects.toMatchObject({ data: { reason: 'proxy' }, message: expect.stringContaining('HTTPS_PROXY') });
    expect(harness.oauth.tokenRequests).toEqual([]);
    expect(harness.fake.requests).toEqual([]);
  });

  it('trusts the CA in tls.caFile: without it the TLS error names tls.caFile', async () => {
    harness = await startVertexHarness({ settings: { tls: { caFile: null } } });

    const refused = harness.client.request('efrit/chat', { message: 'Hi' });

    await expect(refused).rejects.toMatchObject({ data: { reason: 'network' }, message: expect.stringContaining('efrit.tls.caFile') });
    await expect(refused).rejects.toMatchObject({ message: expect.stringContaining('oauth2.googleapis.com:443') });
    expect(harness.oauth.tokenRequests).toEqual([]);
  });
});

describe('usage and prompt caching', () => {
  it('keeps the cache breakpoints, so a repeated prefix is read from the cache, and counts cache tokens in efrit/status under vertex', async () => {
    harness = await startVertexHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: 'Noted.' }, { text: 'Noted again.' });
    const uri = await client.open('stats.py', statsPy.repeat(40), 'python');

    const first = await client.request<ChatResult>('efrit/chat', { message: 'Read this.', textDocument: { uri } });
    const second = await client.request<ChatResult>('efrit/chat', { sessionId: first.sessionId, message: 'And again?' });

    expect(JSON.stringify(fake.requests[0]?.body)).toContain('"cache_control":{"type":"ephemeral"');
    const written = fake.claude.requests[0]?.usage?.cache_creation_input_tokens ?? 0;
    const read = fake.claude.requests[1]?.usage?.cache_read_input_tokens ?? 0;
    expect(written).toBeGreaterThan(1024);
    expect(read).toBeGreaterThanOrEqual(written);
    expect(first.usage.cacheWriteTokens).toBe(written);
    expect(second.usage.cacheReadTokens).toBe(read);
    const after = await status(harness);
    expect(after.model).toBe(vertexModel);
    expect(after.providers['vertex']).toMatchObject({ requests: 2, cacheReadTokens: read, cacheWriteTokens: after.usage.cacheWriteTokens });
    expect(after.usage).toMatchObject({ requests: 2, cacheReadTokens: read });
  });
});
