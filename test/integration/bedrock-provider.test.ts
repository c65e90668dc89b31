/**
 * The `bedrock` provider end to end: the real server, `model` set to a
 * `bedrock:` model with `bedrock.baseURL` at the fake Bedrock runtime, and
 * the real `@anthropic-ai/bedrock-sdk` between them, signing every request
 * with SigV4 (which the fake recomputes) and reading AWS's binary event
 * stream. Each behaviour the Anthropic path has is checked here on this one:
 * streaming, an edit through a tool call, cancellation, the shared backoff,
 * refused and missing credentials, cache tokens in usage, and AWS_PROFILE.
 */
import { CancellationTokenSource } from 'vscode-jsonrpc';
import { afterEach, describe, expect, it } from 'vitest';
import type { CodeAction } from 'vscode-languageserver-protocol';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChatResult, StatusResult } from '../../server/src/protocol.js';
import { typoDiagnostic, typoFix } from '../fixtures/inventory-typo.js';
import { inventoryTs, statsPy } from '../fixtures/samples.js';
import { bedrockModel, bedrockModelId, startBedrockHarness, testAwsCredentials, testRegion, type BedrockHarness } from '../support/bedrock-harness.js';
import { bedrockAnthropicVersion } from '../support/fake-bedrock/server.js';
import { never } from '../support/gate.js';
import { eglotCapabilities, rangeOf } from '../support/lsp-client.js';
import { startTestProxy, type TestProxy } from '../support/test-proxy.js';

const requestCancelled = -32800;

let harness: BedrockHarness | undefined;
let proxy: TestProxy | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
  await proxy?.close();
  proxy = undefined;
});

const status = (h: BedrockHarness): Promise<StatusResult> => h.client.request<StatusResult>('efrit/status', {});

function everythingSent(h: BedrockHarness): string {
  return h.client.rawTraffic.join('') + h.client.stderr;
}

describe('efrit/chat on Claude through Amazon Bedrock', () => {
  it('streams the answer into efrit/stream, signed with SigV4 for the region, in the Bedrock body shape', async () => {
    harness = await startBedrockHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: ['`variance` is the population ', 'variance: it divides by n.'] }, { text: 'Divide by `len(values) - 1` instead.' });
    const uri = await client.open('stats.py', statsPy, 'python');

    const first = await client.request<ChatResult>('efrit/chat', { message: 'Is this the sample variance?', textDocument: { uri }, range: rangeOf(statsPy, 'def variance(values):') });
    const second = await client.request<ChatResult>('efrit/chat', { sessionId: first.sessionId, message: 'How do I get the sample one?' });

    expect(first.reply).toBe('`variance` is the population variance: it divides by n.');
    expect(client.streamedText(first.jobId)).toBe(first.reply);
    expect(second.reply).toBe('Divide by `len(values) - 1` instead.');
    const [request] = fake.requests;
    expect(request).toMatchObject({ path: expect.stringMatching(/^\/model\/[^/]+\/invoke-with-response-stream$/), modelId: bedrockModelId, signatureValid: true, signedRegion: testRegion });
    expect(request?.headers['x-amz-security-token']).toBe('[present]');
    expect(request?.body).toMatchObject({ anthropic_version: bedrockAnthropicVersion, max_tokens: 4096 });
    expect(request?.body).not.toHaveProperty('model');
    expect(request?.body).not.toHaveProperty('stream');
    expect(JSON.stringify(fake.requests[1]?.body['messages'])).toContain('How do I get the sample one?');
    expect(fake.requests.map((r) => r.status)).toEqual([200, 200]);
    const notes = client.streams.filter((s) => s.jobId === first.jobId && s.kind === 'status').map((s) => s.text);
    expect(notes[0]).toBe(`asking ${bedrockModel}`);
  });
});

describe('edits through tool calls', () => {
  it('lands a fix as an edit from a propose_edits tool call', async () => {
    harness = await startBedrockHarness({ capabilities: eglotCapabilities });
    const { client, fake } = harness;
    fake.queueReplies({ toolUses: typoFix.toolUses ?? [] });
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const [fix] = (await client.codeActions(uri, typoDiagnostic.range, [typoDiagnostic])) as CodeAction[];

    await client.executeCommand(fix?.command?.command ?? '', ...(fix?.command?.arguments ?? []));

    await client.waitFor(() => client.text(uri).includes('item.stock < threshold'), 'the fix in the buffer');
    const tools = (fake.requests[0]?.body['tools'] as { name: string }[] | undefined)?.map((tool) => tool.name);
    expect(tools).toContain('propose_edits');
    expect(fake.requests[0]?.signatureValid).toBe(true);
  });
});

describe('cancellation, backoff and errors', () => {
  it('cancels a streaming chat by aborting the HTTP request: the fake sees the client hang up', async () => {
    harness = await startBedrockHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: ['Well, ', 'let me ', 'explain ', 'this ', 'at length…'], hold: { until: never, afterEvents: 4 } });
    const source = new CancellationTokenSource();

    const chatting = client.connection.sendRequest('efrit/chat', { message: 'Explain everything.' }, source.token);
    await client.waitFor(() => client.streams.some((s) => s.kind === 'text'), 'the first streamed words');
    source.cancel();

    await expect(chatting).rejects.toMatchObject({ code: requestCancelled });
    await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'the fake to see the client hang up');
    fake.queueReplies({ text: 'Still here.' });
    expect((await client.request<ChatResult>('efrit/chat', { message: 'Are you there?' })).reply).toBe('Still here.');
  });

  it('backs off on a 429 ThrottlingException for its retry-after through the shared queue backoff, then succeeds', async () => {
    harness = await startBedrockHarness();
    const { client, fake } = harness;
    fake.queueReplies({ fault: { kind: 'status', status: 429, errorType: 'ThrottlingException', retryAfterSeconds: 1 } }, { text: 'answered' });

    const result = await client.request<ChatResult>('efrit/chat', { message: 'question' });

    expect(result.reply).toBe('answered');
    expect(fake.requests.map((r) => [r.status, r.errorType])).toEqual([
      [429, 'ThrottlingException'],
      [200, undefined],
    ]);
    // Not before the retry-after (a lower bound, so a slow machine cannot break it).
    expect((fake.requests[1]?.receivedAt ?? 0) - (fake.requests[0]?.receivedAt ?? 0)).toBeGreaterThanOrEqual(1000);
    const after = await status(harness);
    expect(after.queue.retries).toBe(1);
  });

  it('backs off on a ThrottlingException in the middle of the stream, then succeeds', async () => {
    harness = await startBedrockHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: 'Half an ans', fault: { kind: 'exception', afterEvents: 2, exceptionType: 'throttlingException' } }, { text: 'A whole answer.' });

    const result = await client.request<ChatResult>('efrit/chat', { message: 'question' });

    expect(result.reply).toBe('A whole answer.');
    expect(fake.requests.map((r) => r.errorType)).toEqual(['throttlingException', undefined]);
    expect((await status(harness)).queue.retries).toBe(1);
  });

  it('stops a stream that goes quiet with the stall watchdog, and hangs up', async () => {
    harness = await startBedrockHarness({ settings: { queue: { stallMs: 500 } } });
    const { client, fake } = harness;
    fake.queueReplies({ text: ['Thinking', ' about it'], fault: { kind: 'stall', afterEvents: 3 } });

    await expect(client.request('efrit/chat', { message: 'Hi' })).rejects.toMatchObject({ data: { reason: 'stalled' } });
    await client.waitFor(() => fake.requests[0]?.outcome === 'aborted-by-client', 'the fake to see the client hang up');
  });

  it('names a connection dropped mid-answer, pointing at the Bedrock settings, and the next call works', async () => {
    harness = await startBedrockHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: 'Cut short', fault: { kind: 'drop', afterEvents: 3 } });

    await expect(client.request('efrit/chat', { message: 'Hi' })).rejects.toMatchObject({ data: { reason: 'network' }, message: expect.stringContaining('efrit.bedrock.region') });
    fake.queueReplies({ text: 'Whole.' });
    expect((await client.request<ChatResult>('efrit/chat', { message: 'Again?' })).reply).toBe('Whole.');
  });

  it('refuses unknown credentials with an auth error naming the AWS variables, leaking no secret', async () => {
    const wrong = { accessKeyId: 'AKIAI44QH8DHBEXAMPLE', secretAccessKey: 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY', sessionToken: 'FwoGZXIvYXdzEXAMPLEwrongSessionTokenzyxwvutsrqponmlkjihgfedcba9876543210' };
    harness = await startBedrockHarness({ credentials: wrong });
    const { client, fake } = harness;

    const refused = await client.request('efrit/chat', { message: 'Hi' }).then(
      () => undefined,
      (error: unknown) => error,
    );

    expect(refused).toMatchObject({ data: { reason: 'unauthorized' } });
    expect((refused as Error).message).toContain('UnrecognizedClientException');
    expect((refused as Error).message).toContain('AWS_ACCESS_KEY_ID');
    expect((refused as Error).message).toContain('AWS_PROFILE');
    expect(fake.requests[0]).toMatchObject({ status: 403, errorType: 'UnrecognizedClientException' });
    const everything = everythingSent(harness);
    for (const secret of [wrong.secretAccessKey, wrong.sessionToken, testAwsCredentials.secretAccessKey]) expect(everything).not.toContain(secret);
  });

  it('names the AWS variables when there are no credentials at all, before any request', async () => {
    harness = await startBedrockHarness({ credentials: null });
    const { client, fake } = harness;

    const refused = client.request('efrit/chat', { message: 'Hi' });

    await expect(refused).rejects.toMatchObject({ data: { reason: 'noApiKey' }, message: expect.stringMatching(/AWS_ACCESS_KEY_ID.*AWS_PROFILE/) });
    expect(fake.requests).toHaveLength(0);
  });

  it('says what an AccessDeniedException needs: the model granted to the identity the AWS variables select', async () => {
    harness = await startBedrockHarness();
    const { client, fake } = harness;
    fake.queueReplies({ fault: { kind: 'status', status: 403, errorType: 'AccessDeniedException' } });

    const refused = client.request('efrit/chat', { message: 'Hi' });

    await expect(refused).rejects.toMatchObject({ data: { reason: 'forbidden' }, message: expect.stringContaining("You don't have access to the model") });
    await expect(refused).rejects.toMatchObject({ message: expect.stringContaining('AWS_PROFILE') });
  });
});

describe('credentials from an AWS profile', () => {
  it('signs with the profile AWS_PROFILE names in ~/.aws/credentials, never showing its secret', async () => {
    harness = await startBedrockHarness({
      credentials: null,
      env: { AWS_PROFILE: 'efrit-dev' },
      prepareHome: async (home) => {
        await mkdir(join(home, '.aws'));
        await writeFile(join(home, '.aws', 'config'), `[profile efrit-dev]\nregion = ${testRegion}\n`);
        await writeFile(
          join(home, '.aws', 'credentials'),
          `[default]\naws_access_key_id = AKIADEFAULTEXAMPLE00\naws_secret_access_key = notTheOneToUse\n\n[efrit-dev]\naws_access_key_id = ${testAwsCredentials.accessKeyId}\naws_secret_access_key = ${testAwsCredentials.secretAccessKey}\naws_session_token = ${testAwsCredentials.sessionToken}\n`,
        );
      },
    });
    const { client, fake } = harness;
    fake.queueReplies({ text: 'Signed by the profile.' });

    const result = await client.request<ChatResult>('efrit/chat', { message: 'Hi' });

    expect(result.reply).toBe('Signed by the profile.');
    expect(fake.requests[0]?.signatureValid).toBe(true);
    expect(everythingSent(harness)).not.toContain(testAwsCredentials.secretAccessKey);
  });
});

describe('behind a corporate proxy', () => {
  it('sends the signed call through the proxy in http_proxy, and the signature still holds on the other side', async () => {
    proxy = await startTestProxy();
    harness = await startBedrockHarness({ env: { http_proxy: proxy.url } });
    harness.fake.queueReplies({ text: 'Through the proxy.' });

    const result = await harness.client.request<ChatResult>('efrit/chat', { message: 'Hi' });

    expect(result.reply).toBe('Through the proxy.');
    expect(proxy.forwarded).toBe(1);
    expect(harness.fake.requests[0]?.signatureValid).toBe(true);
  });
});

describe('a Bedrock API key', () => {
  it('sends AWS_BEARER_TOKEN_BEDROCK as the bearer token instead of signing, and never shows it', async () => {
    const apiKey = 'ABSKQmVkcm9ja0FQSUtleS1leGFtcGxlLWZvci10ZXN0cy0wMTIzNDU2Nzg5YWJjZGVm';
    harness = await startBedrockHarness({ credentials: null, fake: { bearerToken: apiKey }, env: { AWS_BEARER_TOKEN_BEDROCK: apiKey } });
    const { client, fake } = harness;
    fake.queueReplies({ text: 'Hello through an API key.' });

    const result = await client.request<ChatResult>('efrit/chat', { message: 'Hi' });

    expect(result.reply).toBe('Hello through an API key.');
    expect(fake.requests[0]).toMatchObject({ signatureValid: true, headers: { authorization: '[present]' } });
    expect(fake.requests[0]?.headers).not.toHaveProperty('x-amz-date');
    expect(everythingSent(harness)).not.toContain(apiKey);
  });

  it('names AWS_BEARER_TOKEN_BEDROCK when Bedrock refuses the key', async () => {
    harness = await startBedrockHarness({ credentials: null, fake: { bearerToken: 'ABSK-the-right-one' }, env: { AWS_BEARER_TOKEN_BEDROCK: 'ABSK-a-revoked-key-0123456789abcdefghijklmnop' } });

    const refused = harness.client.request('efrit/chat', { message: 'Hi' });

    await expect(refused).rejects.toMatchObject({ data: { reason: 'unauthorized' }, message: 'AWS refused the credentials (403 UnrecognizedClientException). Check AWS_BEARER_TOKEN_BEDROCK.' });
    expect(everythingSent(harness)).not.toContain('ABSK-a-revoked-key-0123456789abcdefghijklmnop');
  });
});

describe('usage and spend', () => {
  it('counts cache reads and writes in efrit/status under the bedrock provider, priced as the Claude model the id names', async () => {
    harness = await startBedrockHarness();
    const { client, fake } = harness;
    fake.queueReplies({ text: 'Noted.' }, { text: 'Noted again.' });
    const uri = await client.open('stats.py', statsPy.repeat(40), 'python');
    const first = await client.request<ChatResult>('efrit/chat', { message: 'Read this.', textDocument: { uri } });
    const second = await client.request<ChatResult>('efrit/chat', { sessionId: first.sessionId, message: 'And again?' });

    const written = fake.requests[0]?.usage?.cache_creation_input_tokens ?? 0;
    const read = fake.requests[1]?.usage?.cache_read_input_tokens ?? 0;
    expect(written).toBeGreaterThanOrEqual(1024);
    expect(read).toBeGreaterThanOrEqual(1024);
    expect(first.usage.cacheWriteTokens).toBe(written);
    expect(second.usage.cacheReadTokens).toBe(read);
    const after = await status(harness);
    expect(after.providers['bedrock']).toMatchObject({ requests: 2, cacheReadTokens: read, cacheWriteTokens: written + (fake.requests[1]?.usage?.cache_creation_input_tokens ?? 0), unpricedRequests: 0 });
    expect(after.spend.usd).toBeGreaterThan(0);
  });
});
