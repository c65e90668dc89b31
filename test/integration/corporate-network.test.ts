/**
 * Behind a corporate network: the proxy variables, a proxy that refuses, and
 * an endpoint whose TLS certificate only the corporate CA vouches for. The
 * real server talks through a real proxy (test/support/test-proxy.ts) and a
 * TLS gateway (test/support/tls-gateway.ts) to the fake API, all on 127.0.0.1.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChatResult, DoResult } from '../../server/src/protocol.js';
import { editReply, startHarness, type Harness } from '../support/harness.js';
import { TestClient } from '../support/lsp-client.js';
import { closedPort, startTestProxy, type TestProxy } from '../support/test-proxy.js';
import { makeTestCertificates, startTlsGateway, type TestCertificates, type TlsGateway } from '../support/tls-gateway.js';

const cartTs = `export function cartTotal(prices: number[]): number {
  return prices.reduce((sum, price) => sum + price, 0);
}
`;

let certificates: TestCertificates;
let workspace: string;
beforeAll(async () => {
  certificates = await makeTestCertificates();
  workspace = await mkdtemp(join(tmpdir(), 'efrit-network-ws-'));
  await writeFile(join(workspace, 'cart.ts'), cartTs);
});
afterAll(async () => {
  await certificates.remove();
  await rm(workspace, { recursive: true, force: true });
});

let harness: Harness | undefined;
let proxy: TestProxy | undefined;
let gateway: TlsGateway | undefined;
afterEach(async () => {
  await harness?.stop();
  await proxy?.close();
  await gateway?.close();
  harness = undefined;
  proxy = undefined;
  gateway = undefined;
});

/** A chat turn, then a do of two model steps (a read, then an edit): three model calls. */
async function chatAndDo(current: Harness): Promise<void> {
  const { client, fake } = current;
  fake.queueReplies(
    { text: 'It sums the prices.' },
    { toolUses: [{ name: 'read_file', input: { path: 'cart.ts' } }] },
    editReply([{ old_text: '  return prices.reduce((sum, price) => sum + price, 0);', new_text: '  return prices.reduce((sum, price) => sum + price, 0) / 100;' }], 'Cents to euros.'),
  );
  const uri = await client.open(join(workspace, 'cart.ts'), cartTs);
  const chat = await client.request<ChatResult>('efrit/chat', { message: 'What does cartTotal do?', textDocument: { uri } });
  expect(chat.reply).toBe('It sums the prices.');
  const done = await client.request<DoResult>('efrit/do', { instruction: 'return euros, not cents', textDocument: { uri } });
  expect(done).toMatchObject({ applied: true, steps: 2 });
  expect(fake.requests).toHaveLength(3);
}

/** Everything the server said outside its answers: log lines and stderr. */
function everythingLogged(current: Harness): string {
  return `${current.client.logMessages.map((message) => message.message).join('\n')}\n${current.client.stderr}`;
}

/** A gateway in front of whatever fake API the current harness runs. */
function gatewayToHarness(): Promise<TlsGateway> {
  return startTlsGateway(certificates, () => {
    if (harness === undefined) throw new Error('no harness to forward to');
    return harness.fake.url;
  });
}

const secretPassword = 'pa55word-9f2c71';

describe('the proxy variables', () => {
  it('send every model call of a chat and a do through the CONNECT proxy in HTTPS_PROXY, to an endpoint signed by the CA in tls.caFile', async () => {
    proxy = await startTestProxy();
    gateway = await gatewayToHarness();
    harness = await startHarness({
      workspaceFolder: workspace,
      initializationOptions: { tls: { caFile: certificates.caFile } },
      env: { ANTHROPIC_BASE_URL: gateway.url, HTTPS_PROXY: proxy.url, NODE_EXTRA_CA_CERTS: undefined },
    });

    await chatAndDo(harness);

    expect(proxy.tunnels).toBeGreaterThan(0);
    expect(gateway.peerPorts.length).toBeGreaterThan(0);
    // Every connection the endpoint accepted is one the proxy made: no call went around it.
    expect(gateway.peerPorts.filter((port) => !proxy?.upstreamPorts.has(port))).toEqual([]);
    expect(everythingLogged(harness)).toContain(`network: calls to https:// endpoints go through the proxy 127.0.0.1:${proxy.port} (from HTTPS_PROXY)`);
  });

  it('send every call to an http:// endpoint through the proxy in http_proxy (lower case), as a forwarded request', async () => {
    proxy = await startTestProxy();
    harness = await startHarness({ workspaceFolder: workspace, env: { http_proxy: proxy.url } });

    await chatAndDo(harness);

    expect(proxy.forwarded).toBe(3);
    expect(proxy.tunnels).toBe(0);
  });

  it('are ignored offline: the demo model on this machine is asked directly, nothing goes to the proxy', async () => {
    proxy = await startTestProxy();
    const offline = await TestClient.start({ serverArgs: ['--offline'], env: { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url } });
    try {
      const chat = await offline.request<ChatResult>('efrit/chat', { message: 'What can you do?' });
      expect(chat.reply).toContain('[offline demo model]');
    } finally {
      await offline.stop();
    }
    expect(proxy.forwarded + proxy.tunnels).toBe(0);
  });

  it('go direct to a host NO_PROXY covers', async () => {
    proxy = await startTestProxy();
    harness = await startHarness({ workspaceFolder: workspace, env: { HTTP_PROXY: proxy.url, NO_PROXY: 'proxy.example,127.0.0.0/8' } });

    await chatAndDo(harness);

    expect(proxy.forwarded + proxy.tunnels).toBe(0);
  });
});

describe('a proxy that refuses', () => {
  it('asking for credentials (407 to CONNECT): the error names the proxy and its variable, never its user or password', async () => {
    proxy = await startTestProxy({ refuseWith: 407 });
    gateway = await gatewayToHarness();
    const proxyUrl = `http://alice:${secretPassword}@127.0.0.1:${proxy.port}`;
    harness = await startHarness({ env: { ANTHROPIC_BASE_URL: gateway.url, HTTPS_PROXY: proxyUrl } });

    const failure = harness.client.request('efrit/chat', { message: 'Hello?' });

    await expect(failure).rejects.toMatchObject({ data: { reason: 'proxy' } });
    const message = ((await failure.catch((error: unknown) => error)) as Error).message;
    expect(message).toContain(`The proxy 127.0.0.1:${proxy.port} (from HTTPS_PROXY) asks for credentials (407`);
    expect(message).toContain('refused the user and password in HTTPS_PROXY');
    // The credentials did reach the proxy, and nothing the server said shows them.
    expect(proxy.authorizations).toContain(`Basic ${Buffer.from(`alice:${secretPassword}`).toString('base64')}`);
    expect(message).not.toMatch(/alice|pa55word/);
    expect(everythingLogged(harness)).not.toMatch(/alice|pa55word/);
    expect(harness.fake.requests).toHaveLength(0);
  });

  it('asking for credentials (407 to a forwarded http:// request): the same error', async () => {
    proxy = await startTestProxy({ refuseWith: 407 });
    harness = await startHarness({ env: { HTTP_PROXY: `http://127.0.0.1:${proxy.port}` } });

    await expect(harness.client.request('efrit/chat', { message: 'Hello?' })).rejects.toMatchObject({
      data: { reason: 'proxy' },
      message: expect.stringContaining(`The proxy 127.0.0.1:${proxy.port} (from HTTP_PROXY) asks for credentials (407`),
    });
    expect(proxy.forwarded).toBe(1);
  });

  it('refusing the host (403 to CONNECT): the error names the proxy and says to put loopback in NO_PROXY', async () => {
    proxy = await startTestProxy({ refuseWith: 403 });
    gateway = await gatewayToHarness();
    harness = await startHarness({ env: { ANTHROPIC_BASE_URL: gateway.url, HTTPS_PROXY: proxy.url } });

    await expect(harness.client.request('efrit/chat', { message: 'Hello?' })).rejects.toMatchObject({
      data: { reason: 'proxy' },
      message: expect.stringMatching(new RegExp(`^The proxy 127\\.0\\.0\\.1:${proxy.port} \\(from HTTPS_PROXY\\) refused to connect to 127\\.0\\.0\\.1:\\d+ \\(403\\)\\. .*add it to NO_PROXY`)),
    });
  });

  it('not listening: the error names the proxy that could not be reached', async () => {
    const port = await closedPort();
    harness = await startHarness({ env: { HTTP_PROXY: `http://bob:${secretPassword}@127.0.0.1:${port}` } });

    const failure = harness.client.request('efrit/chat', { message: 'Hello?' });

    await expect(failure).rejects.toMatchObject({
      data: { reason: 'proxy' },
      message: expect.stringContaining(`Could not reach the proxy 127.0.0.1:${port} (from HTTP_PROXY): connection refused (ECONNREFUSED)`),
    });
    expect(everythingLogged(harness)).not.toContain(secretPassword);
    expect(harness.fake.requests).toHaveLength(0);
  });

  it('of a kind efrit-lsp cannot use (socks5): every call fails naming the variable, none goes around it', async () => {
    harness = await startHarness({ env: { HTTP_PROXY: 'socks5://127.0.0.1:1080' } });

    await expect(harness.client.request('efrit/chat', { message: 'Hello?' })).rejects.toMatchObject({
      data: { reason: 'proxy' },
      message: expect.stringContaining('HTTP_PROXY names a socks5 proxy (127.0.0.1:1080); efrit-lsp speaks to http:// and https:// proxies only'),
    });
    expect(harness.fake.requests).toHaveLength(0);
  });
});

describe('a custom CA', () => {
  it('is needed for an endpoint signed by it: without one the error names tls.caFile and NODE_EXTRA_CA_CERTS', async () => {
    gateway = await gatewayToHarness();
    harness = await startHarness({ env: { ANTHROPIC_BASE_URL: gateway.url, NODE_EXTRA_CA_CERTS: undefined } });

    await expect(harness.client.request('efrit/chat', { message: 'Hello?' })).rejects.toMatchObject({
      data: { reason: 'network' },
      message: expect.stringMatching(/TLS certificate of 127\.0\.0\.1:\d+ is not signed by a trusted authority \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\).* set efrit\.tls\.caFile \(or NODE_EXTRA_CA_CERTS\)/),
    });
    expect(harness.fake.requests).toHaveLength(0);
  });

  it('is trusted from tls.caFile, directly too', async () => {
    gateway = await gatewayToHarness();
    harness = await startHarness({ workspaceFolder: workspace, settings: { tls: { caFile: certificates.caFile } }, env: { ANTHROPIC_BASE_URL: gateway.url, NODE_EXTRA_CA_CERTS: undefined } });

    await chatAndDo(harness);

    expect(gateway.peerPorts.length).toBeGreaterThan(0);
  });

  it('is trusted from NODE_EXTRA_CA_CERTS, through a proxy too', async () => {
    proxy = await startTestProxy();
    gateway = await gatewayToHarness();
    harness = await startHarness({ workspaceFolder: workspace, env: { ANTHROPIC_BASE_URL: gateway.url, HTTPS_PROXY: proxy.url, NODE_EXTRA_CA_CERTS: certificates.caFile } });

    await chatAndDo(harness);

    expect(proxy.tunnels).toBeGreaterThan(0);
  });

  it('in a tls.caFile that cannot be read is a warning naming the setting, and calls go on with the default CAs', async () => {
    const missing = join(certificates.dir, 'no-such-bundle.pem');
    harness = await startHarness({ workspaceFolder: workspace, initializationOptions: { tls: { caFile: missing } } });

    await chatAndDo(harness);

    expect(harness.client.logMessages.some((line) => line.message.includes(`efrit.tls.caFile (${missing}) cannot be read (ENOENT); TLS trusts Node's default certificate authorities`))).toBe(true);
  });
});
