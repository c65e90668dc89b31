/**
 * How every model provider reaches the network: one `fetch` to hand to an
 * SDK's `fetch` option, honouring the proxy variables (see
 * proxy-environment.ts) and the `tls.caFile` setting, and turning what a
 * corporate network does to a request (a proxy asking for credentials or
 * refusing a host, a gateway re-signing TLS with its own CA) into an error
 * that names the variable or setting to change.
 *
 * Why undici and its own `fetch`: Node 20's built-in fetch ignores the proxy
 * variables and cannot be given a proxy except through undici's dispatchers,
 * and a dispatcher from one undici version handed to another's fetch (Node 20
 * bundles 6.x, Node 24 7.x) is not a supported combination; undici's fetch with
 * its own Agent and ProxyAgent is one consistent stack. It is loaded only when
 * a proxy or a CA file is in use: with neither, requests go through the
 * built-in fetch exactly as before.
 *
 * Why a list of roots and not `ca: caFile`: `ca` replaces Node's roots, so the
 * public API would stop working the moment an internal gateway's CA is added.
 * The file is added to Node's bundled roots and to NODE_EXTRA_CA_CERTS (which
 * Node applies only to its default roots, not to a list given here).
 */
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { SecureContext } from 'node:tls';
import type { Dispatcher } from 'undici';
import { EfritError, isEfritError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { isLoopback, proxyFor, readProxyEnvironment, type ProxyEnvironment, type ProxyRoute } from './proxy-environment.js';

/** The parts of undici used here, loaded on the first request that needs a proxy or a CA file. */
interface Undici {
  fetch: typeof import('undici').fetch;
  Agent: typeof import('undici').Agent;
  ProxyAgent: typeof import('undici').ProxyAgent;
}

let undiciModule: Promise<Undici> | undefined;
function loadUndici(): Promise<Undici> {
  // Stryker disable next-line ArrowFunction,ObjectLiteral: loaded once per process, so a unit test run sees the first load only; the integration tests cover it
  undiciModule ??= import('undici').then(({ fetch, Agent, ProxyAgent }) => ({ fetch, Agent, ProxyAgent }));
  return undiciModule;
}

/** A CA bundle is a few hundred KiB (Mozilla's whole store is about 220 KiB); a file far past that is not one. */
export const maxCaFileBytes = 4 * 1024 * 1024;

/** What TLS trusts besides Node's defaults, and where that came from (for messages). */
interface Trust {
  context: SecureContext;
  caFile: string;
}

/** Errors of certificate verification that a missing corporate CA causes. */
const unknownIssuerCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
]);

/** Errors of reaching a host at all; through a proxy, the only host this process connects to is the proxy. */
const unreachableCodes: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'its name could not be resolved',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'no answer',
  UND_ERR_CONNECT_TIMEOUT: 'no answer',
};

/**
 * What the SDKs (Anthropic's and OpenAI's alike) look for in a failed fetch's
 * text to call it their own connection timeout, dropping the error itself.
 */
const sdkTimeoutWords = /timed? ?out/i;

interface ErrorShape {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
}

/** The error and its causes, outermost first (undici wraps the socket's error in `TypeError: fetch failed`). */
function causeChain(error: unknown): ErrorShape[] {
  // Stryker disable next-line ArrayDeclaration: equivalent, a link that is a string has no code and no message
  const chain: ErrorShape[] = [];
  let current = error;
  // Bounded: a cause chain can loop.
  // Stryker disable next-line EqualityOperator: equivalent, one link more or less of a looping chain
  while (typeof current === 'object' && current !== null && chain.length < 8) {
    chain.push(current as ErrorShape);
    current = (current as ErrorShape).cause;
  }
  return chain;
}

/** The EfritError a network failure was translated into, wherever an SDK wrapped it (`APIConnectionError.cause`). */
export function networkFailureIn(error: unknown): EfritError | undefined {
  return causeChain(error).find((link): link is EfritError => isEfritError(link));
}

function codeIn(chain: ErrorShape[], codes: (code: string) => boolean): string | undefined {
  // Stryker disable next-line ConditionalExpression: equivalent, no test below is true of undefined
  for (const link of chain) if (typeof link.code === 'string' && codes(link.code)) return link.code;
  return undefined;
}

/** The status a proxy refused a request with, as undici reports it (CONNECT answered with other than 200, or 407 to a forwarded request). */
function proxyRefusalStatus(chain: ErrorShape[]): number | undefined {
  for (const link of chain) {
    // Stryker disable next-line ConditionalExpression: equivalent, "undefined" matches neither pattern
    const message = typeof link.message === 'string' ? link.message : '';
    const refused = /^Proxy response \((\d{3})\) !== 200/.exec(message) ?? /^Proxy Authentication Required \((407)\)/.exec(message);
    if (refused !== null) return Number(refused[1]);
  }
  return undefined;
}

// Stryker disable EqualityOperator,BlockStatement: equivalent, a parsed certificate is never empty, and undefined is as false as false
function isReadableCertificate(pem: string): boolean {
  try {
    return new X509Certificate(pem).raw.length > 0;
  } catch {
    return false;
  }
}
// Stryker restore EqualityOperator,BlockStatement

function hostOf(target: URL): string {
  return `${target.hostname}:${target.port === '' ? (target.protocol === 'https:' ? 443 : 80) : target.port}`;
}

function viaProxy(proxy: ProxyRoute): string {
  return `the proxy ${proxy.address} (from ${proxy.variable})`;
}

export interface FailureContext {
  target: URL;
  proxy: ProxyRoute | undefined;
  /** The `tls.caFile` in use, if any. */
  caFile: string | undefined;
}

/**
 * The error a person can act on for a failed request, or undefined when there
 * is nothing to add to what the provider's own error mapping says. Messages
 * avoid the words "time out": SDKs classify a connection error by matching them.
 */
export function describeNetworkFailure(error: unknown, { target, proxy, caFile }: FailureContext): EfritError | undefined {
  const chain = causeChain(error);
  const status = proxyRefusalStatus(chain);
  if (proxy !== undefined && status === 407) {
    const given = proxy.url.username !== '' ? ` and refused the user and password in ${proxy.variable}` : '';
    return new EfritError(
      'proxy',
      `The proxy ${proxy.address} (from ${proxy.variable}) asks for credentials (407 Proxy Authentication Required)${given}. Put them in the variable as http://user:password@${proxy.address}, or ask your network's administrators.`,
    );
  }
  if (proxy !== undefined && status !== undefined) {
    const hint = isLoopback(target)
      ? ` A proxy cannot reach this machine's own ${target.hostname}: add it to NO_PROXY.`
      : ' Add the host to NO_PROXY if it should be reached directly, or ask your network\'s administrators to allow it.';
    return new EfritError('proxy', `The proxy ${proxy.address} (from ${proxy.variable}) refused to connect to ${hostOf(target)} (${status}).${hint}`);
  }
  const tlsCode = codeIn(chain, (code) => unknownIssuerCodes.has(code));
  if (tlsCode !== undefined) {
    const inUse = caFile === undefined ? '' : ` efrit.tls.caFile (${caFile}) is in use and does not hold its issuer.`;
    return new EfritError(
      'network',
      `The TLS certificate of ${hostOf(target)} is not signed by a trusted authority (${tlsCode}).${inUse} If a proxy or gateway on your network re-signs TLS, set efrit.tls.caFile (or NODE_EXTRA_CA_CERTS) to its CA certificate (PEM).`,
    );
  }
  const otherTls = codeIn(chain, (code) => code.includes('CERT'));
  if (otherTls !== undefined) {
    return new EfritError('network', `The TLS certificate of ${hostOf(target)} was refused (${otherTls}). Check the endpoint's address and the machine's clock.`);
  }
  if (proxy === undefined) return undefined;
  const unreachable = codeIn(chain, (code) => code in unreachableCodes);
  if (unreachable !== undefined) {
    // ETIMEDOUT and UND_ERR_CONNECT_TIMEOUT would read as "time out" to the SDK, which would then drop this message for its own.
    const code = sdkTimeoutWords.test(unreachable) ? '' : ` (${unreachable})`;
    return new EfritError('proxy', `Could not reach ${viaProxy(proxy)}: ${unreachableCodes[unreachable]}${code}. Check ${proxy.variable}, or unset it to connect directly.`);
  }
  return new EfritError('network', `The connection to ${hostOf(target)} through ${viaProxy(proxy)} failed or dropped. Check the network and ${proxy.variable}, then try again.`);
}

export interface NetworkOptions {
  /** Where the proxy variables (and NODE_EXTRA_CA_CERTS) are read, once. */
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

function urlOf(input: Parameters<typeof fetch>[0]): URL {
  if (input instanceof URL) return input;
  return new URL(typeof input === 'string' ? input : input.url);
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

interface DispatchStack {
  trust: Trust | undefined;
  /** undici's fetch, and a dispatcher for going direct and one per configured proxy (by its URL). */
  ready: Promise<{ fetch: Undici['fetch']; direct: Dispatcher; viaProxy: Map<string, Dispatcher> }>;
}

/**
 * The network every provider shares. `fetch` is what an SDK is given; one
 * instance per server, so connections to a proxy are pooled across calls.
 */
export class Network {
  /**
   * Read on the first request rather than at start-up: parsing NO_PROXY
   * compiles node:net's IPv6 pattern, several milliseconds an editor would
   * otherwise wait for `initialize`.
   */
  private proxyEnvironment: ProxyEnvironment | undefined;
  // Stryker disable next-line StringLiteral: equivalent, any first value but '' is replaced by the first useCaFile
  private caFile = '';
  private trust: Promise<Trust | undefined> = Promise.resolve(undefined);
  private stack: DispatchStack | undefined;
  /** Proxies already named in the log, so it says once which one calls go through. */
  private readonly announced = new Set<string>();

  constructor(private readonly options: NetworkOptions) {}

  private get proxies(): ProxyEnvironment {
    this.proxyEnvironment ??= readProxyEnvironment(this.options.env);
    return this.proxyEnvironment;
  }

  /** Takes the `tls.caFile` setting; the file is read once per value. */
  useCaFile(caFile: string): void {
    if (caFile === this.caFile) return;
    this.caFile = caFile;
    this.trust = caFile === '' ? Promise.resolve(undefined) : this.loadTrust(caFile);
  }

  /** For an SDK's `fetch` option. */
  readonly fetch: typeof fetch = async (input, init) => {
    const target = urlOf(input);
    const setting = proxyFor(this.proxies, target);
    if (setting?.kind === 'unusable') throw new EfritError('proxy', `${setting.problem}. Fix or unset it, then try again.`);
    if (setting !== undefined && !this.announced.has(`${target.protocol}${setting.variable}`)) {
      this.announced.add(`${target.protocol}${setting.variable}`);
      this.options.logger.info(`network: calls to ${target.protocol}// endpoints go through the proxy ${setting.address} (from ${setting.variable})`);
    }
    const trust = await this.trust;
    try {
      // Stryker disable next-line ConditionalExpression: equivalent but for which fetch carries the request; the built-in one keeps undici unloaded
      if (setting === undefined && trust === undefined) return await fetch(input, init);
      const stack = await this.stackFor(trust);
      const dispatcher = setting === undefined ? stack.direct : stack.viaProxy.get(setting.url.href);
      // undici's fetch takes the same requests and gives the same Response the built-in one does (both are undici); its types are its own.
      return (await stack.fetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as Response;
    } catch (error) {
      if (init?.signal?.aborted === true) throw error;
      throw describeNetworkFailure(error, { target, proxy: setting, caFile: trust?.caFile }) ?? error;
    }
  };

  private stackFor(trust: Trust | undefined): DispatchStack['ready'] {
    // Stryker disable next-line ConditionalExpression: equivalent but for pooling, which no test observes
    if (this.stack !== undefined && this.stack.trust === trust) return this.stack.ready;
    const previous = this.stack;
    // Requests under way keep their connections; the old pools close when those finish.
    void previous?.ready.then(({ direct, viaProxy }) => Promise.all([direct, ...viaProxy.values()].map((dispatcher) => dispatcher.close()))).catch(() => undefined);
    const ready = loadUndici().then(({ fetch: undiciFetch, Agent, ProxyAgent }) => {
      const viaProxy = new Map<string, Dispatcher>();
      const tls = trust === undefined ? {} : { requestTls: { secureContext: trust.context }, proxyTls: { secureContext: trust.context } };
      for (const setting of [this.proxies.https, this.proxies.http]) {
        if (setting?.kind !== 'proxy' || viaProxy.has(setting.url.href)) continue;
        // proxyTunnel off: an http:// endpoint is asked for through the proxy as curl does (GET http://host/…), since proxies often allow CONNECT to port 443 only.
        viaProxy.set(setting.url.href, new ProxyAgent({ uri: setting.url.href, proxyTunnel: false, ...tls }));
      }
      return { fetch: undiciFetch, direct: new Agent(trust === undefined ? {} : { connect: { secureContext: trust.context } }), viaProxy };
    });
    this.stack = { trust, ready };
    return ready;
  }

  private async loadTrust(caFile: string): Promise<Trust | undefined> {
    const { logger, env } = this.options;
    const fallback = "; TLS trusts Node's default certificate authorities (and NODE_EXTRA_CA_CERTS) only.";
    const path = expandHome(caFile);
    if (!isAbsolute(path)) {
      logger.warn(`efrit.tls.caFile is "${caFile}", not an absolute path${fallback}`);
      return undefined;
    }
    let pem: string;
    try {
      const size = (await stat(path)).size;
      if (size > maxCaFileBytes) {
        logger.warn(`efrit.tls.caFile (${caFile}) is ${Math.round(size / 1024)} KiB, more than a CA bundle holds (at most ${maxCaFileBytes / (1024 * 1024)} MiB)${fallback}`);
        return undefined;
      }
      pem = await readFile(path, 'utf8');
    } catch (error) {
      logger.warn(`efrit.tls.caFile (${caFile}) cannot be read (${String((error as ErrorShape).code)})${fallback}`);
      return undefined;
    }
    // Node skips a certificate it cannot parse without a word; each is checked here so a damaged bundle is named.
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    const readable = blocks.filter(isReadableCertificate);
    if (readable.length === 0) {
      const what = blocks.length === 0 ? 'holds no PEM certificate ("-----BEGIN CERTIFICATE-----")' : 'holds no certificate that can be read';
      logger.warn(`efrit.tls.caFile (${caFile}) ${what}${fallback}`);
      return undefined;
    }
    if (readable.length < blocks.length) {
      logger.warn(`efrit.tls.caFile (${caFile}): ${blocks.length - readable.length} of its ${blocks.length} certificates cannot be read; the others are trusted.`);
    }
    const extra = await this.extraCaCerts(env['NODE_EXTRA_CA_CERTS']);
    // node:tls only where a CA file is in use: start-up need not load it.
    const { createSecureContext, rootCertificates } = await import('node:tls');
    const context = createSecureContext({ ca: [...rootCertificates, ...extra, ...readable] });
    logger.info(`network: TLS trusts the ${readable.length === 1 ? 'certificate authority' : `${readable.length} certificate authorities`} in ${caFile} besides the default ones`);
    return { context, caFile };
  }

  /** NODE_EXTRA_CA_CERTS as Node read it at start; Node itself has already warned if it could not. */
  // Stryker disable StringLiteral,ConditionalExpression,EqualityOperator,ArrayDeclaration: equivalent, Node's TLS skips what is not PEM (only the memory a huge file takes differs)
  private async extraCaCerts(file = ''): Promise<string[]> {
    try {
      // Unset or empty: stat refuses it, and there is nothing to add.
      if ((await stat(file)).size > maxCaFileBytes) return [];
      return [await readFile(file, 'utf8')];
    } catch {
      return [];
    }
  }
  // Stryker restore StringLiteral,ConditionalExpression,EqualityOperator,ArrayDeclaration
}
