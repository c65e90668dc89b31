/**
 * Which proxy a request to the model's API goes through, read from the
 * environment the way curl reads it, so a corporate network set up for curl,
 * git and npm works here unchanged:
 * - `https_proxy`/`HTTPS_PROXY` for https:// endpoints, `http_proxy`/`HTTP_PROXY`
 *   for http:// ones, `all_proxy`/`ALL_PROXY` for either when its own is unset;
 *   the lower-case spelling first, an empty value counting as unset;
 * - a value without a scheme is an http:// proxy (`proxy.corp:3128`);
 * - `no_proxy`/`NO_PROXY`: names, comma- or space-separated, each matching the
 *   host itself and every subdomain (`corp.example` and `.corp.example` both
 *   cover `api.corp.example`), an optional `:port`, IP addresses and CIDR
 *   ranges (`10.0.0.0/8`), and `*` alone for every host.
 * Loopback is proxied unless NO_PROXY names it, as with curl: a test, or a user
 * with an SSH tunnel, can mean it; the error a proxy gives for it says to add it.
 *
 * Pure: nothing here touches the network.
 */
import { BlockList, isIP } from 'node:net';

/** A proxy a request can use, from the variable that named it. */
export interface ProxyRoute {
  kind: 'proxy';
  /** The URL as configured, credentials included: for the HTTP client only, never shown. */
  url: URL;
  /** The variable as spelled in the environment, for messages. */
  variable: string;
  /** `host:port` of the proxy: what messages show (never its credentials). */
  address: string;
}

/** A variable set to something no request can use: every request it would carry fails, naming it, rather than going around the proxy. */
export interface UnusableProxy {
  kind: 'unusable';
  variable: string;
  problem: string;
}

export type ProxySetting = ProxyRoute | UnusableProxy;

/** One NO_PROXY entry: a host name (lower case, without a leading dot) matching itself and its subdomains, or IP addresses and ranges. */
type NoProxyEntry = ({ kind: 'host'; host: string } | { kind: 'addresses'; addresses: BlockList }) & { port?: number };

export interface ProxyEnvironment {
  https: ProxySetting | undefined;
  http: ProxySetting | undefined;
  /** `*`: nothing is proxied. */
  noProxyAll: boolean;
  noProxy: readonly NoProxyEntry[];
}

const variablesByScheme = {
  https: ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'],
  http: ['http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY'],
} as const;

function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : 80;
}

/** `host:port` with the port the connection really uses. */
function addressOf(url: URL): string {
  return `${url.hostname}:${url.port === '' ? defaultPort(url.protocol) : url.port}`;
}

function firstSet(env: NodeJS.ProcessEnv, names: readonly string[]): { variable: string; value: string } | undefined {
  for (const variable of names) {
    const value = env[variable]?.trim();
    if (value !== undefined && value !== '') return { variable, value };
  }
  return undefined;
}

export function parseProxySetting(variable: string, value: string): ProxySetting {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return { kind: 'unusable', variable, problem: `${variable} is not a proxy URL (expected http://host:port)` };
  }
  // An http(s) URL always has a host (the URL parser refuses one without), so nothing else is checked.
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { kind: 'unusable', variable, problem: `${variable} names a ${url.protocol.slice(0, -1)} proxy (${url.host}); efrit-lsp speaks to http:// and https:// proxies only` };
  }
  return { kind: 'proxy', url, variable, address: addressOf(url) };
}

function parseNoProxyEntry(raw: string): NoProxyEntry | undefined {
  let text = raw.toLowerCase();
  let port: number | undefined;
  // [v6]:port, [v6], host:port; a bare IPv6 address has colons but no port.
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const withPort = /^([^:]+):(\d+)$/.exec(text);
  if (bracketed !== null) {
    text = bracketed[1] ?? '';
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (withPort !== null) {
    text = withPort[1] ?? '';
    port = Number(withPort[2]);
  }
  // Stryker disable next-line ConditionalExpression: equivalent, an entry's port is only ever compared with undefined
  const portPart = port === undefined ? {} : { port };
  // Stryker disable next-line Regex: equivalent, a greedy .+ first matches at the start anyway
  const cidr = /^(.+)\/(\d{1,3})$/.exec(text);
  const address = cidr === null ? text : (cidr[1] ?? '');
  const family = isIP(address);
  if (family !== 0) {
    const addresses = new BlockList();
    const type = family === 4 ? 'ipv4' : 'ipv6';
    const bits = cidr === null ? (family === 4 ? 32 : 128) : Number(cidr[2]);
    if (bits > (family === 4 ? 32 : 128)) return undefined;
    addresses.addSubnet(address, bits, type);
    return { kind: 'addresses', addresses, ...portPart };
  }
  const host = text.replace(/^\*?\./, '').replace(/\.$/, '');
  // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent, an empty name matches no host (a host never ends with a dot here)
  return host === '' ? undefined : { kind: 'host', host, ...portPart };
}

export function readProxyEnvironment(env: NodeJS.ProcessEnv): ProxyEnvironment {
  const https = firstSet(env, variablesByScheme.https);
  const http = firstSet(env, variablesByScheme.http);
  // Stryker disable next-line StringLiteral,Regex: equivalent, empty words are no entries and stray names match no host
  const words = (firstSet(env, ['no_proxy', 'NO_PROXY'])?.value ?? '').split(/[\s,]+/);
  return {
    https: https === undefined ? undefined : parseProxySetting(https.variable, https.value),
    http: http === undefined ? undefined : parseProxySetting(http.variable, http.value),
    noProxyAll: words.includes('*'),
    // Stryker disable next-line ArrayDeclaration: equivalent, an entry of no kind matches no host
    noProxy: words.flatMap((word) => parseNoProxyEntry(word) ?? []),
  };
}

function bypasses(entry: NoProxyEntry, host: string, port: number): boolean {
  if (entry.port !== undefined && entry.port !== port) return false;
  if (entry.kind === 'addresses') {
    const family = isIP(host);
    // Stryker disable next-line ConditionalExpression: equivalent, BlockList.check answers false for a name; undocumented, so the guard stays
    return family !== 0 && entry.addresses.check(host, family === 4 ? 'ipv4' : 'ipv6');
  }
  return host === entry.host || host.endsWith(`.${entry.host}`);
}

/** The proxy a request to `target` goes through, or undefined to go direct. */
export function proxyFor(environment: ProxyEnvironment, target: URL): ProxySetting | undefined {
  const setting = target.protocol === 'https:' ? environment.https : target.protocol === 'http:' ? environment.http : undefined;
  if (environment.noProxyAll) return undefined;
  // Stryker disable next-line Regex: equivalent, a URL's hostname has brackets only around a whole IPv6 address
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();
  const port = target.port === '' ? defaultPort(target.protocol) : Number(target.port);
  return environment.noProxy.some((entry) => bypasses(entry, host, port)) ? undefined : setting;
}

/** Loopback names and addresses: a proxy elsewhere cannot reach this machine's own, which a refusal's message says. */
export function isLoopback(target: URL): boolean {
  // Stryker disable next-line Regex: equivalent, a URL's hostname has brackets only around a whole IPv6 address
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || /^127\./.test(host) || host === '::1';
}
