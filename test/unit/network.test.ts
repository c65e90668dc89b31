import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { rootCertificates } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EfritError } from '../../server/src/common/errors.js';
import type { Logger } from '../../server/src/common/logger.js';
import { mapModelError } from '../../server/src/model/map-error.js';
import { describeNetworkFailure, maxCaFileBytes, Network, networkFailureIn, type FailureContext } from '../../server/src/model/network.js';
import { parseProxySetting, type ProxyRoute } from '../../server/src/model/proxy-environment.js';
import { startTestProxy } from '../support/test-proxy.js';
import { makeTestCertificates, startTlsGateway, type TestCertificates, type TlsGateway } from '../support/tls-gateway.js';

function route(variable: string, value: string): ProxyRoute {
  const setting = parseProxySetting(variable, value);
  if (setting.kind !== 'proxy') throw new Error(setting.problem);
  return setting;
}

const corporateProxy = route('HTTPS_PROXY', 'http://alice:s3cret-pass@proxy.corp.example:3128');
const api = new URL('https://api.anthropic.com/v1/messages');

/** What undici's fetch rejects with: `TypeError: fetch failed`, the socket's or the proxy's error as its cause. */
function fetchFailed(cause: object): Error {
  return new TypeError('fetch failed', { cause });
}
function socketError(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

function describeAs(error: unknown, context: Partial<FailureContext> = {}): EfritError | undefined {
  return describeNetworkFailure(error, { target: api, proxy: corporateProxy, caFile: undefined, ...context });
}

describe('a proxy that refuses', () => {
  it('with 407 to CONNECT: names the proxy and its variable, says the credentials given were refused, shows none of them', () => {
    const error = describeAs(fetchFailed({ name: 'AbortError', code: 'UND_ERR_ABORTED', message: 'Proxy response (407) !== 200 when HTTP Tunneling' }));
    expect(error).toBeInstanceOf(EfritError);
    expect(error?.reason).toBe('proxy');
    expect(error?.message).toBe(
      "The proxy proxy.corp.example:3128 (from HTTPS_PROXY) asks for credentials (407 Proxy Authentication Required) and refused the user and password in HTTPS_PROXY. Put them in the variable as http://user:password@proxy.corp.example:3128, or ask your network's administrators.",
    );
    expect(error?.message).not.toMatch(/alice|s3cret/);
  });

  it('with 407 to a forwarded request, and no credentials given: asks for them', () => {
    const plain = route('HTTP_PROXY', 'http://proxy.corp.example:8080');
    const error = describeAs(fetchFailed({ code: 'UND_ERR_INVALID_ARG', message: 'Proxy Authentication Required (407)' }), { proxy: plain, target: new URL('http://gateway.corp.example/v1/messages') });
    expect(error?.reason).toBe('proxy');
    expect(error?.message).toMatch(/^The proxy proxy\.corp\.example:8080 \(from HTTP_PROXY\) asks for credentials \(407 Proxy Authentication Required\)\. Put them/);
  });

  it('with 403 to CONNECT: names the host it refused and suggests NO_PROXY', () => {
    const error = describeAs(fetchFailed({ message: 'Proxy response (403) !== 200 when HTTP Tunneling' }));
    expect(error?.reason).toBe('proxy');
    expect(error?.message).toBe(
      "The proxy proxy.corp.example:3128 (from HTTPS_PROXY) refused to connect to api.anthropic.com:443 (403). Add the host to NO_PROXY if it should be reached directly, or ask your network's administrators to allow it.",
    );
  });

  it('refusing a loopback host: says a proxy cannot reach this machine and to add it to NO_PROXY', () => {
    const error = describeAs(fetchFailed({ message: 'Proxy response (502) !== 200 when HTTP Tunneling' }), { target: new URL('http://localhost:11434/v1') });
    expect(error?.message).toBe("The proxy proxy.corp.example:3128 (from HTTPS_PROXY) refused to connect to localhost:11434 (502). A proxy cannot reach this machine's own localhost: add it to NO_PROXY.");
  });

  it.each([
    ['ECONNREFUSED', 'connection refused (ECONNREFUSED)'],
    ['ENOTFOUND', 'no such host (ENOTFOUND)'],
    ['EAI_AGAIN', 'its name could not be resolved (EAI_AGAIN)'],
    ['EHOSTUNREACH', 'host unreachable (EHOSTUNREACH)'],
    ['ENETUNREACH', 'network unreachable (ENETUNREACH)'],
    ['ETIMEDOUT', 'no answer'],
    ['UND_ERR_CONNECT_TIMEOUT', 'no answer'],
  ])('that cannot be reached (%s): names it', (code, said) => {
    const error = describeAs(fetchFailed(socketError(code)));
    expect(error?.reason).toBe('proxy');
    expect(error?.message).toBe(`Could not reach the proxy proxy.corp.example:3128 (from HTTPS_PROXY): ${said}. Check HTTPS_PROXY, or unset it to connect directly.`);
  });

  it('dropping the connection later: a network error that still names the proxy', () => {
    const error = describeAs(fetchFailed(socketError('UND_ERR_SOCKET', 'other side closed')));
    expect(error?.reason).toBe('network');
    expect(error?.message).toBe('The connection to api.anthropic.com:443 through the proxy proxy.corp.example:3128 (from HTTPS_PROXY) failed or dropped. Check the network and HTTPS_PROXY, then try again.');
  });

  it('on a plain http:// endpoint: names the port the scheme implies', () => {
    const plain = route('HTTP_PROXY', 'http://proxy.corp.example:8080');
    const error = describeAs(fetchFailed({ message: 'Proxy response (403) !== 200 when HTTP Tunneling' }), { proxy: plain, target: new URL('http://gateway.corp.example/v1') });
    expect(error?.message).toMatch(/^The proxy proxy\.corp\.example:8080 \(from HTTP_PROXY\) refused to connect to gateway\.corp\.example:80 \(403\)\./);
  });

  it('is told from an endpoint that merely quotes a proxy in its own error', () => {
    const quoted = describeAs(fetchFailed(socketError('UND_ERR_SOCKET', 'upstream said: Proxy response (407) !== 200 when HTTP Tunneling')));
    expect(quoted?.reason).toBe('network');
    expect(describeAs(fetchFailed(socketError('UND_ERR_SOCKET', 'upstream said: Proxy Authentication Required (407)')))?.reason).toBe('network');
  });

  it('reads a cause chain that ends in null, or loops, without failing', () => {
    expect(describeAs(new Error('fetch failed', { cause: null }), { proxy: undefined })).toBeUndefined();
    const looping = Object.assign(new Error('fetch failed'), { code: 'UND_ERR_SOCKET' });
    Object.assign(looping, { cause: looping });
    expect(describeAs(looping)?.reason).toBe('network');
  });

  it('never says "time out": the SDKs would take the error for their own connection timeout and drop it', () => {
    const sdkTimeoutPattern = /timed? ?out/i;
    for (const code of ['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED']) {
      expect(describeAs(fetchFailed(socketError(code)))?.message).not.toMatch(sdkTimeoutPattern);
    }
  });
});

describe('a TLS certificate that is refused', () => {
  it.each(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED'])(
    'for want of its issuer (%s): names tls.caFile and NODE_EXTRA_CA_CERTS',
    (code) => {
      const error = describeAs(fetchFailed(socketError(code)), { proxy: undefined });
      expect(error?.reason).toBe('network');
      expect(error?.message).toBe(
        `The TLS certificate of api.anthropic.com:443 is not signed by a trusted authority (${code}). If a proxy or gateway on your network re-signs TLS, set efrit.tls.caFile (or NODE_EXTRA_CA_CERTS) to its CA certificate (PEM).`,
      );
    },
  );

  it('with a tls.caFile in use: says that file does not hold the issuer', () => {
    const error = describeAs(fetchFailed(socketError('SELF_SIGNED_CERT_IN_CHAIN')), { caFile: '~/corp-ca.pem' });
    expect(error?.message).toContain('(SELF_SIGNED_CERT_IN_CHAIN). efrit.tls.caFile (~/corp-ca.pem) is in use and does not hold its issuer. If a proxy');
  });

  it('for another reason (expired, another host): says which, through a proxy too', () => {
    expect(describeAs(fetchFailed(socketError('CERT_HAS_EXPIRED')))?.reason).toBe('network');
    expect(describeAs(fetchFailed(socketError('UNABLE_TO_DECRYPT_CERT_SIGNATURE')))?.message).toContain('was refused (UNABLE_TO_DECRYPT_CERT_SIGNATURE)');
    expect(describeAs(fetchFailed(socketError('CERT_HAS_EXPIRED')))?.message).toBe(
      "The TLS certificate of api.anthropic.com:443 was refused (CERT_HAS_EXPIRED). Check the endpoint's address and the machine's clock.",
    );
    expect(describeAs(fetchFailed(socketError('ERR_TLS_CERT_ALTNAME_INVALID')), { proxy: undefined })?.message).toContain('(ERR_TLS_CERT_ALTNAME_INVALID)');
  });
});

describe('a direct connection that fails', () => {
  it('is left to the provider to describe, as before', () => {
    expect(describeAs(fetchFailed(socketError('ECONNREFUSED')), { proxy: undefined })).toBeUndefined();
    expect(describeAs(fetchFailed({ message: 'Proxy response (407) !== 200 when HTTP Tunneling' }), { proxy: undefined })).toBeUndefined();
  });
});

describe('a network failure inside an SDK error', () => {
  it('is found in the cause chain and is what the call fails with', () => {
    const failure = new EfritError('proxy', 'The proxy proxy.corp.example:3128 (from HTTPS_PROXY) asks for credentials.');
    const wrapped = Object.assign(new Error('Connection error.'), { name: 'APIConnectionError', cause: failure });
    expect(networkFailureIn(wrapped)).toBe(failure);
    expect(mapModelError(wrapped)).toBe(failure);
    expect(networkFailureIn(new Error('Connection error.', { cause: new Error('fetch failed') }))).toBeUndefined();
    expect(mapModelError(Object.assign(new Error('Connection error.'), { name: 'APIConnectionError' })).reason).toBe('network');
  });
});

/** A logger that keeps its warnings. */
function recordingLogger(): Logger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warnings, infos, error: () => undefined, warn: (line) => warnings.push(line), info: (line) => infos.push(line), debug: () => undefined };
}

describe('the network', () => {
  let dir: string;
  let refusedUrl: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'efrit-network-unit-'));
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    refusedUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/v1/messages`;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** Sets tls.caFile and makes one request (to a closed port on loopback), which waits for the file to be read. */
  async function warningsFor(caFile: string): Promise<string[]> {
    const logger = recordingLogger();
    const network = new Network({ env: {}, logger });
    network.useCaFile(caFile);
    await expect(network.fetch(refusedUrl)).rejects.toThrow(TypeError);
    return logger.warnings;
  }

  it('fails every request a proxy variable it cannot use would carry, naming the variable', async () => {
    const network = new Network({ env: { HTTPS_PROXY: 'socks5://127.0.0.1:1080' }, logger: recordingLogger() });
    await expect(network.fetch('https://api.anthropic.com/v1/messages')).rejects.toThrow(
      expect.objectContaining({ reason: 'proxy', message: 'HTTPS_PROXY names a socks5 proxy (127.0.0.1:1080); efrit-lsp speaks to http:// and https:// proxies only. Fix or unset it, then try again.' }),
    );
  });

  it('reads the proxy variables at its first request, not when the server builds it, so start-up does not wait for NO_PROXY to be parsed', async () => {
    const read: string[] = [];
    const env = new Proxy<NodeJS.ProcessEnv>(
      { NO_PROXY: 'localhost,10.0.0.0/8,[::1]' },
      {
        get: (variables, name) => {
          if (typeof name === 'string') read.push(name);
          return Reflect.get(variables, name);
        },
      },
    );
    const network = new Network({ env, logger: recordingLogger() });
    network.useCaFile('');
    expect(read).toEqual([]);
    await expect(network.fetch(refusedUrl)).rejects.toThrow(TypeError);
    expect(read).toContain('NO_PROXY');
  });

  it('warns, naming tls.caFile, about a file that is missing, relative, not PEM, or far too big, and goes on with the default authorities', async () => {
    expect(await warningsFor(join(dir, 'missing.pem'))).toEqual([`efrit.tls.caFile (${join(dir, 'missing.pem')}) cannot be read (ENOENT); TLS trusts Node's default certificate authorities (and NODE_EXTRA_CA_CERTS) only.`]);
    expect(await warningsFor('certs/corp.pem')).toEqual([`efrit.tls.caFile is "certs/corp.pem", not an absolute path; TLS trusts Node's default certificate authorities (and NODE_EXTRA_CA_CERTS) only.`]);
    const notPem = join(dir, 'not-pem.pem');
    await writeFile(notPem, 'this is a README, not a certificate\n');
    expect(await warningsFor(notPem)).toEqual([`efrit.tls.caFile (${notPem}) holds no PEM certificate ("-----BEGIN CERTIFICATE-----"); TLS trusts Node's default certificate authorities (and NODE_EXTRA_CA_CERTS) only.`]);
    const broken = join(dir, 'broken.pem');
    await writeFile(broken, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
    expect(await warningsFor(broken)).toEqual([`efrit.tls.caFile (${broken}) holds no certificate that can be read; TLS trusts Node's default certificate authorities (and NODE_EXTRA_CA_CERTS) only.`]);
    const huge = join(dir, 'huge.pem');
    await writeFile(huge, Buffer.alloc(maxCaFileBytes + 1, 'A'));
    expect(await warningsFor(huge)).toEqual([`efrit.tls.caFile (${huge}) is 4096 KiB, more than a CA bundle holds (at most 4 MiB); TLS trusts Node's default certificate authorities (and NODE_EXTRA_CA_CERTS) only.`]);
  });

  it('names the certificates of a bundle it cannot read, and trusts the others', async () => {
    const mixed = join(dir, 'mixed.pem');
    await writeFile(mixed, `${rootCertificates[0] ?? ''}\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n${rootCertificates[1] ?? ''}\n`);
    const logger = recordingLogger();
    const network = new Network({ env: {}, logger });
    network.useCaFile(mixed);
    await expect(network.fetch(refusedUrl)).rejects.toThrow(TypeError);
    expect(logger.warnings).toEqual([`efrit.tls.caFile (${mixed}): 1 of its 3 certificates cannot be read; the others are trusted.`]);
    expect(logger.infos).toEqual([`network: TLS trusts the 2 certificate authorities in ${mixed} besides the default ones`]);
  });

  it('reads the file once per value, and not at all when it is unset', async () => {
    const logger = recordingLogger();
    const network = new Network({ env: {}, logger });
    network.useCaFile('');
    network.useCaFile(join(dir, 'missing.pem'));
    network.useCaFile(join(dir, 'missing.pem'));
    await expect(network.fetch(refusedUrl)).rejects.toThrow(TypeError);
    network.useCaFile('');
    await expect(network.fetch(refusedUrl)).rejects.toThrow(TypeError);
    expect(logger.warnings).toHaveLength(1);
  });

  it('reads ~/ as the home folder', async () => {
    expect(await warningsFor('~/efrit-no-such-bundle-4f1c.pem')).toEqual([`efrit.tls.caFile (~/efrit-no-such-bundle-4f1c.pem) cannot be read (ENOENT); TLS trusts Node's default certificate authorities (and NODE_EXTRA_CA_CERTS) only.`]);
    expect(await warningsFor('~')).toEqual([`efrit.tls.caFile (~) cannot be read (EISDIR); TLS trusts Node's default certificate authorities (and NODE_EXTRA_CA_CERTS) only.`]);
  });

  it('reads a file of exactly the largest size', async () => {
    const largest = join(dir, 'largest.pem');
    await writeFile(largest, Buffer.alloc(maxCaFileBytes, 'A'));
    expect(await warningsFor(largest)).toEqual([`efrit.tls.caFile (${largest}) holds no PEM certificate ("-----BEGIN CERTIFICATE-----"); TLS trusts Node's default certificate authorities (and NODE_EXTRA_CA_CERTS) only.`]);
  });

  it('takes the request as a URL or a Request too', async () => {
    const network = new Network({ env: { HTTPS_PROXY: 'socks5://127.0.0.1:1080' }, logger: recordingLogger() });
    const unusable = expect.objectContaining({ reason: 'proxy' });
    await expect(network.fetch(new URL('https://api.anthropic.com/v1/messages'))).rejects.toThrow(unusable);
    await expect(network.fetch(new Request('https://api.anthropic.com/v1/messages'))).rejects.toThrow(unusable);
  });

  it('says once per scheme which proxy calls go through', async () => {
    const port = new URL(refusedUrl).port;
    const logger = recordingLogger();
    const network = new Network({ env: { HTTPS_PROXY: `http://127.0.0.1:${port}`, HTTP_PROXY: `127.0.0.1:${port}` }, logger });
    for (const url of ['https://api.anthropic.com/v1', 'http://gateway.corp.example/v1', 'https://api.anthropic.com/v1', 'http://gateway.corp.example/v1']) {
      await expect(network.fetch(url, { method: 'POST', body: '{}' })).rejects.toThrow(expect.objectContaining({ reason: 'proxy' }));
    }
    expect(logger.infos).toEqual([
      `network: calls to https:// endpoints go through the proxy 127.0.0.1:${port} (from HTTPS_PROXY)`,
      `network: calls to http:// endpoints go through the proxy 127.0.0.1:${port} (from HTTP_PROXY)`,
    ]);
  });

  it('leaves a cancelled request cancelled, proxy or not', async () => {
    const port = new URL(refusedUrl).port;
    const network = new Network({ env: { HTTP_PROXY: `http://127.0.0.1:${port}` }, logger: recordingLogger() });
    await expect(network.fetch('http://gateway.corp.example/v1', { signal: AbortSignal.abort() })).rejects.toThrow(expect.objectContaining({ name: 'AbortError' }));
    // A live signal does not stop the failure from being put in words.
    await expect(network.fetch('http://gateway.corp.example/v1', { signal: new AbortController().signal })).rejects.toThrow(expect.objectContaining({ reason: 'proxy' }));
  });

  it('leaves a direct failure as the fetch error the provider maps, and names the proxy when one was in the way', async () => {
    const logger = recordingLogger();
    const direct = new Network({ env: {}, logger });
    await expect(direct.fetch(refusedUrl)).rejects.toThrow(expect.objectContaining({ name: 'TypeError', message: 'fetch failed' }));
    const port = new URL(refusedUrl).port;
    const proxied = new Network({ env: { http_proxy: `http://bob:hunter2-long@127.0.0.1:${port}` }, logger });
    await expect(proxied.fetch('http://gateway.corp.example/v1/messages', { signal: new AbortController().signal })).rejects.toThrow(
      expect.objectContaining({ reason: 'proxy', message: `Could not reach the proxy 127.0.0.1:${port} (from http_proxy): connection refused (ECONNREFUSED). Check http_proxy, or unset it to connect directly.` }),
    );
    expect(logger.infos).toEqual([`network: calls to http:// endpoints go through the proxy 127.0.0.1:${port} (from http_proxy)`]);
  });
});

describe('the network, over TLS and through a proxy', () => {
  let certificates: TestCertificates;
  let endpoint: Server;
  let endpointUrl: string;
  let gateway: TlsGateway;
  beforeAll(async () => {
    certificates = await makeTestCertificates();
    endpoint = createHttpServer((_request, response) => response.end('pong'));
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    const address = endpoint.address();
    endpointUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    gateway = await startTlsGateway(certificates, () => endpointUrl);
  });
  afterAll(async () => {
    await gateway.close();
    endpoint.closeAllConnections();
    await new Promise<void>((resolve) => endpoint.close(() => resolve()));
    await certificates.remove();
  });

  it('refuses an endpoint signed by an unknown CA, naming tls.caFile', async () => {
    const network = new Network({ env: {}, logger: recordingLogger() });
    await expect(network.fetch(`${gateway.url}/ping`)).rejects.toThrow(expect.objectContaining({ reason: 'network', message: expect.stringContaining('(UNABLE_TO_VERIFY_LEAF_SIGNATURE). If a proxy') }));
  });

  it('trusts the CA in tls.caFile directly, and says so without a warning', async () => {
    const logger = recordingLogger();
    const network = new Network({ env: {}, logger });
    network.useCaFile(certificates.caFile);
    expect(await (await network.fetch(`${gateway.url}/ping`)).text()).toBe('pong');
    expect(await (await network.fetch(`${gateway.url}/ping`)).text()).toBe('pong');
    expect(logger.warnings).toEqual([]);
    expect(logger.infos).toEqual([`network: TLS trusts the certificate authority in ${certificates.caFile} besides the default ones`]);
  });

  it('takes a changed tls.caFile for the next request', async () => {
    const network = new Network({ env: {}, logger: recordingLogger() });
    const unrelated = join(certificates.dir, 'unrelated-first.pem');
    await writeFile(unrelated, rootCertificates[0] ?? '');
    network.useCaFile(unrelated);
    await expect(network.fetch(`${gateway.url}/ping`)).rejects.toThrow(expect.objectContaining({ message: expect.stringContaining(`efrit.tls.caFile (${unrelated}) is in use and does not hold its issuer`) }));
    network.useCaFile(certificates.caFile);
    expect(await (await network.fetch(`${gateway.url}/ping`)).text()).toBe('pong');
  });

  it('trusts it through a CONNECT proxy, and keeps NODE_EXTRA_CA_CERTS beside tls.caFile', async () => {
    const proxy = await startTestProxy();
    try {
      const unrelated = join(certificates.dir, 'unrelated.pem');
      await writeFile(unrelated, rootCertificates[0] ?? '');
      const network = new Network({ env: { HTTPS_PROXY: proxy.url, NODE_EXTRA_CA_CERTS: certificates.caFile }, logger: recordingLogger() });
      network.useCaFile(unrelated);
      expect(await (await network.fetch(`${gateway.url}/ping`)).text()).toBe('pong');
      expect(proxy.tunnels).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('asks for an http:// endpoint through the proxy as a forwarded request, not a tunnel', async () => {
    const proxy = await startTestProxy();
    try {
      const network = new Network({ env: { HTTP_PROXY: proxy.url }, logger: recordingLogger() });
      expect(await (await network.fetch(`${endpointUrl}/ping`)).text()).toBe('pong');
      expect([proxy.forwarded, proxy.tunnels]).toEqual([1, 0]);
    } finally {
      await proxy.close();
    }
  });
});
