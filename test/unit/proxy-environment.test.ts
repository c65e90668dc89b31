import { describe, expect, it } from 'vitest';
import { isLoopback, parseProxySetting, proxyFor, readProxyEnvironment, type ProxySetting } from '../../server/src/model/proxy-environment.js';

/** The variable a request to `url` goes through with `env`, or 'direct'. */
function routeOf(env: NodeJS.ProcessEnv, url: string): string {
  const setting = proxyFor(readProxyEnvironment(env), new URL(url));
  if (setting === undefined) return 'direct';
  return setting.kind === 'proxy' ? `${setting.variable} ${setting.address}` : `unusable: ${setting.problem}`;
}

const corporate = { HTTPS_PROXY: 'http://proxy.corp.example:3128', HTTP_PROXY: 'http://proxy.corp.example:8080' };

describe('which proxy a request goes through', () => {
  it('takes https_proxy for https:// endpoints and http_proxy for http:// ones', () => {
    expect(routeOf(corporate, 'https://api.anthropic.com/v1/messages')).toBe('HTTPS_PROXY proxy.corp.example:3128');
    expect(routeOf(corporate, 'http://gateway.corp.example/v1/messages')).toBe('HTTP_PROXY proxy.corp.example:8080');
  });

  it('prefers the lower-case spelling, as curl does, and counts an empty value as unset', () => {
    expect(routeOf({ https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2' }, 'https://api.example')).toBe('https_proxy lower:1');
    expect(routeOf({ https_proxy: '  ', HTTPS_PROXY: 'http://upper:2' }, 'https://api.example')).toBe('HTTPS_PROXY upper:2');
    expect(routeOf({ http_proxy: 'http://lower:1', HTTP_PROXY: 'http://upper:2' }, 'http://api.example')).toBe('http_proxy lower:1');
  });

  it('does not send https:// through HTTP_PROXY (curl does not either), but through ALL_PROXY when its own is unset', () => {
    expect(routeOf({ HTTP_PROXY: 'http://proxy:8080' }, 'https://api.example')).toBe('direct');
    expect(routeOf({ ALL_PROXY: 'http://all:3128' }, 'https://api.example')).toBe('ALL_PROXY all:3128');
    expect(routeOf({ all_proxy: 'http://all:3128', HTTP_PROXY: 'http://own:8080' }, 'http://api.example')).toBe('HTTP_PROXY own:8080');
    expect(routeOf({ all_proxy: 'http://lower:1', ALL_PROXY: 'http://upper:2' }, 'http://api.example')).toBe('all_proxy lower:1');
  });

  it('goes direct with no variable set, and for schemes other than http and https', () => {
    expect(routeOf({}, 'https://api.anthropic.com')).toBe('direct');
    expect(routeOf({ ALL_PROXY: 'http://all:3128' }, 'ws://api.example')).toBe('direct');
  });

  it('proxies loopback unless NO_PROXY names it, as curl does', () => {
    expect(routeOf(corporate, 'http://127.0.0.1:11434/v1')).toBe('HTTP_PROXY proxy.corp.example:8080');
    expect(routeOf({ ...corporate, NO_PROXY: 'localhost,127.0.0.1' }, 'http://127.0.0.1:11434/v1')).toBe('direct');
  });
});

describe('NO_PROXY', () => {
  const through = (noProxy: string, url: string): string => routeOf({ ...corporate, NO_PROXY: noProxy }, url);

  it('matches a name and every subdomain of it, with or without a leading dot or *.', () => {
    for (const entry of ['corp.example', '.corp.example', '*.corp.example']) {
      expect(through(entry, 'https://corp.example')).toBe('direct');
      expect(through(entry, 'https://api.corp.example')).toBe('direct');
      expect(through(entry, 'https://deep.api.corp.example/v1')).toBe('direct');
    }
  });

  it('does not match a name that merely ends with the same letters, nor a parent domain', () => {
    expect(through('corp.example', 'https://notcorp.example')).toBe('HTTPS_PROXY proxy.corp.example:3128');
    expect(through('api.corp.example', 'https://corp.example')).toBe('HTTPS_PROXY proxy.corp.example:3128');
  });

  it('ignores case and a trailing dot', () => {
    expect(through('Corp.Example', 'https://API.corp.example.')).toBe('direct');
    expect(through('corp.example.', 'https://api.corp.example')).toBe('direct');
  });

  it('reads a list separated by commas or spaces, and no_proxy before NO_PROXY', () => {
    expect(through('a.example, b.example  c.example', 'https://c.example')).toBe('direct');
    expect(through('a.example,,b.example', 'https://b.example')).toBe('direct');
    expect(routeOf({ ...corporate, no_proxy: 'a.example', NO_PROXY: 'b.example' }, 'https://b.example')).toBe('HTTPS_PROXY proxy.corp.example:3128');
  });

  it('with a port, matches that port only (the scheme gives the default one)', () => {
    expect(through('gateway.example:8443', 'https://gateway.example:8443')).toBe('direct');
    expect(through('gateway.example:8443', 'https://gateway.example')).toBe('HTTPS_PROXY proxy.corp.example:3128');
    expect(through('gateway.example:443', 'https://gateway.example')).toBe('direct');
    expect(through('gateway.example:80', 'http://gateway.example/v1')).toBe('direct');
    expect(through('gateway.example:80', 'https://gateway.example')).toBe('HTTPS_PROXY proxy.corp.example:3128');
  });

  it('matches IP addresses exactly, and CIDR ranges', () => {
    expect(through('10.1.2.3', 'http://10.1.2.3:8000')).toBe('direct');
    expect(through('10.1.2.3', 'http://10.1.2.4:8000')).toBe('HTTP_PROXY proxy.corp.example:8080');
    expect(through('10.0.0.0/8', 'http://10.200.3.4/v1')).toBe('direct');
    expect(through('10.0.0.0/8', 'http://11.0.0.1/v1')).toBe('HTTP_PROXY proxy.corp.example:8080');
    expect(through('192.168.0.0/16:8000', 'http://192.168.7.7:8000')).toBe('direct');
    expect(through('192.168.0.0/16:8000', 'http://192.168.7.7:9000')).toBe('HTTP_PROXY proxy.corp.example:8080');
    // An address entry never matches a name, and a name entry never matches an address.
    expect(through('10.0.0.0/8', 'http://ten.example/v1')).toBe('HTTP_PROXY proxy.corp.example:8080');
    expect(through('0.0.0.1', 'http://10.0.0.1/v1')).toBe('HTTP_PROXY proxy.corp.example:8080');
    // A malformed range or port is not read as one.
    expect(through('10.0.0.0/8x', 'http://10.0.0.1/v1')).toBe('HTTP_PROXY proxy.corp.example:8080');
    expect(through('gateway.example:80x', 'http://gateway.example/v1')).toBe('HTTP_PROXY proxy.corp.example:8080');
    expect(through('x10.0.0.1', 'http://10.0.0.1/v1')).toBe('HTTP_PROXY proxy.corp.example:8080');
  });

  it('matches IPv6 addresses, bare or in brackets with a port', () => {
    expect(through('::1', 'http://[::1]:11434/v1')).toBe('direct');
    expect(through('[::1]:11434', 'http://[::1]:11434/v1')).toBe('direct');
    expect(through('[::1]:11434', 'http://[::1]:8000/v1')).toBe('HTTP_PROXY proxy.corp.example:8080');
    expect(through('[fd00::]', 'http://[fd00::]/v1')).toBe('direct');
    expect(through('fd00::1', 'http://[fd00::2]/v1')).toBe('HTTP_PROXY proxy.corp.example:8080');
    // Ends like a port, but is a whole address.
    expect(through('fd00::1:80', 'http://[fd00::1:80]/v1')).toBe('direct');
    expect(through('x[::1]:11434', 'http://[::1]:11434/v1')).toBe('HTTP_PROXY proxy.corp.example:8080');
    expect(through('[::1]:11434x', 'http://[::1]:11434/v1')).toBe('HTTP_PROXY proxy.corp.example:8080');
    expect(through('fd00::/8', 'http://[fd12:3456::1]/v1')).toBe('direct');
    expect(through('fd00::/8', 'http://[fe80::1]/v1')).toBe('HTTP_PROXY proxy.corp.example:8080');
  });

  it('* alone turns every proxy off; * inside a name is not a wildcard', () => {
    expect(through('*', 'https://api.anthropic.com')).toBe('direct');
    expect(through('a.example, *', 'http://b.example')).toBe('direct');
    expect(through('api.*.example', 'https://api.corp.example')).toBe('HTTPS_PROXY proxy.corp.example:3128');
  });

  it('skips entries that say nothing (a lone dot, an impossible CIDR)', () => {
    expect(through('., 10.0.0.0/33', 'http://10.0.0.1/v1')).toBe('HTTP_PROXY proxy.corp.example:8080');
    expect(through('., ::/129', 'http://[::1]/v1')).toBe('HTTP_PROXY proxy.corp.example:8080');
  });
});

describe('a proxy variable', () => {
  const parsed = (value: string): ProxySetting => parseProxySetting('HTTPS_PROXY', value);

  it('gives the address messages show, with the port the connection uses and never the credentials', () => {
    expect(parsed('http://alice:secret@proxy.corp.example:3128')).toMatchObject({ kind: 'proxy', address: 'proxy.corp.example:3128', variable: 'HTTPS_PROXY' });
    expect(parsed('http://proxy.corp.example')).toMatchObject({ address: 'proxy.corp.example:80' });
    expect(parsed('https://proxy.corp.example')).toMatchObject({ address: 'proxy.corp.example:443' });
    expect(parsed('http://[fd00::1]:3128')).toMatchObject({ address: '[fd00::1]:3128' });
  });

  it('keeps the credentials in the URL the HTTP client is given', () => {
    const setting = parsed('http://alice:secret@proxy.corp.example:3128');
    expect(setting.kind === 'proxy' && setting.url.password).toBe('secret');
  });

  it('without a scheme is an http:// proxy, even when a URL follows later in it', () => {
    expect(parsed('proxy.corp.example:3128/?via=https://x')).toMatchObject({ kind: 'proxy', address: 'proxy.corp.example:3128' });
    expect(parsed('proxy.corp.example:3128')).toMatchObject({ kind: 'proxy', address: 'proxy.corp.example:3128' });
    expect(parsed('proxy.corp.example:3128').kind === 'proxy' && (parsed('proxy.corp.example:3128') as { url: URL }).url.protocol).toBe('http:');
  });

  it('of a kind efrit-lsp cannot speak to is unusable, naming it without credentials', () => {
    const socks = parsed('socks5://carol:hunter22@127.0.0.1:1080');
    expect(socks).toEqual({ kind: 'unusable', variable: 'HTTPS_PROXY', problem: 'HTTPS_PROXY names a socks5 proxy (127.0.0.1:1080); efrit-lsp speaks to http:// and https:// proxies only' });
  });

  it('that is not a URL is unusable, without echoing it', () => {
    expect(parsed('http://proxy corp:80')).toEqual({ kind: 'unusable', variable: 'HTTPS_PROXY', problem: 'HTTPS_PROXY is not a proxy URL (expected http://host:port)' });
    expect(parsed('http://:3128')).toMatchObject({ kind: 'unusable' });
  });
});

describe('loopback', () => {
  it.each(['http://localhost:11434', 'http://api.localhost', 'http://127.0.0.1', 'http://127.8.9.10:80', 'http://[::1]:8000', 'http://LOCALHOST'])('%s is loopback', (url) => {
    expect(isLoopback(new URL(url))).toBe(true);
  });

  it.each(['http://10.0.0.1', 'http://10.127.0.1', 'https://api.anthropic.com', 'http://localhost.example', 'http://[::2]', 'http://128.0.0.1'])('%s is not', (url) => {
    expect(isLoopback(new URL(url))).toBe(false);
  });
});
