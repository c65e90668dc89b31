/**
 * A fake of Google's OAuth 2.0 token endpoint (`POST https://oauth2.googleapis.com/token`),
 * written from Google's documentation of the two grants Application Default
 * Credentials use:
 *
 * - a service account: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`
 *   with `assertion`, a JWT signed RS256 with the account's private key, whose
 *   claims are `iss` (the account's email), `scope`, `aud` (the token URL),
 *   `iat` and `exp` (at most an hour later);
 * - a user of `gcloud auth application-default login` (`authorized_user`):
 *   `grant_type=refresh_token` with `client_id`, `client_secret`, `refresh_token`.
 *
 * Answers `{access_token, expires_in, token_type: "Bearer"}`, or
 * `{error, error_description}` with 400 (`invalid_grant`) or 401
 * (`invalid_client`), as Google does.
 *
 * google-auth-library posts to that fixed URL whatever the key file says, so
 * tests reach this fake as a corporate network would reach Google: through a
 * proxy. `startGoogleRoute` is that proxy (on 127.0.0.1), tunnelling CONNECT to
 * oauth2.googleapis.com:443 to this endpoint, which presents a certificate for
 * that name signed by a test CA (the server under test trusts it through
 * `tls.caFile`). Any other host is refused with 403 and recorded, so a test
 * can assert that nothing tried to leave the machine.
 */
import { createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';

export const googleTokenHost = 'oauth2.googleapis.com';
export const googleTokenUrl = `https://${googleTokenHost}/token`;
const cloudPlatformScope = 'https://www.googleapis.com/auth/cloud-platform';
const jwtBearerGrant = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const maxBodyBytes = 64 * 1024;
const tokenLifetimeSeconds = 3599;

export interface ServiceAccount {
  clientEmail: string;
  /** PEM (SPKI) of the account's key: what verifies its assertions. */
  publicKeyPem: string;
}

export interface AuthorizedUser {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

export interface TokenRequest {
  grant: 'jwt-bearer' | 'refresh_token' | 'other';
  status: number;
  /** The OAuth `error` sent back, if any. */
  error?: string;
}

export interface FakeGoogleOAuth {
  readonly tokenRequests: TokenRequest[];
  /** Every access token issued, newest last. */
  readonly issuedTokens: string[];
  /** True if the token was issued here and has not been revoked. */
  isValid(token: string): boolean;
  /** Revokes every token issued so far, as a key deleted in the console would. */
  revokeAll(): void;
  /** Refuse every later grant with this OAuth error (400 invalid_grant, 401 invalid_client), or accept again with undefined. */
  refuseWith(error: 'invalid_grant' | 'invalid_client' | undefined): void;
}

interface Claims {
  iss?: unknown;
  scope?: unknown;
  aud?: unknown;
  iat?: unknown;
  exp?: unknown;
}

function base64UrlJson(part: string | undefined): unknown {
  try {
    return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

export class GoogleOAuthEndpoint implements FakeGoogleOAuth {
  readonly tokenRequests: TokenRequest[] = [];
  readonly issuedTokens: string[] = [];
  private readonly valid = new Set<string>();
  private refusal: 'invalid_grant' | 'invalid_client' | undefined;
  private readonly keys = new Map<string, KeyObject>();

  constructor(
    serviceAccounts: readonly ServiceAccount[],
    private readonly users: readonly AuthorizedUser[],
    private readonly now: () => number = Date.now,
  ) {
    for (const account of serviceAccounts) this.keys.set(account.clientEmail, createPublicKey(account.publicKeyPem));
  }

  isValid(token: string): boolean {
    return this.valid.has(token);
  }

  revokeAll(): void {
    this.valid.clear();
  }

  refuseWith(error: 'invalid_grant' | 'invalid_client' | undefined): void {
    this.refusal = error;
  }

  /** Answers one request to the token endpoint. */
  handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= maxBodyBytes) chunks.push(chunk);
    });
    request.on('end', () => {
      const url = new URL(request.url ?? '/', googleTokenUrl);
      if (request.method !== 'POST' || url.pathname !== '/token') return this.send(response, 'other', 404, { error: 'not_found', error_description: 'Not Found' });
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const grantType = form.get('grant_type');
      const grant = grantType === jwtBearerGrant ? 'jwt-bearer' : grantType === 'refresh_token' ? 'refresh_token' : 'other';
      if (this.refusal !== undefined) {
        const description = this.refusal === 'invalid_grant' ? 'Invalid grant: account not found' : 'The OAuth client was not found.';
        return this.send(response, grant, this.refusal === 'invalid_grant' ? 400 : 401, { error: this.refusal, error_description: description });
      }
      const problem = grant === 'jwt-bearer' ? this.checkAssertion(form.get('assertion') ?? '') : grant === 'refresh_token' ? this.checkRefresh(form) : 'unsupported_grant_type';
      if (problem !== undefined) {
        const status = problem === 'invalid_client' ? 401 : 400;
        return this.send(response, grant, status, { error: problem, error_description: problem === 'invalid_grant' ? 'Invalid JWT Signature.' : 'Bad Request' });
      }
      const token = `ya29.${randomBytes(48).toString('base64url')}`;
      this.issuedTokens.push(token);
      this.valid.add(token);
      this.send(response, grant, 200, { access_token: token, expires_in: tokenLifetimeSeconds, token_type: 'Bearer' });
    });
  }

  /** Why an assertion is refused (an OAuth error), or undefined for a good one. */
  private checkAssertion(assertion: string): string | undefined {
    const [header, payload, signature] = assertion.split('.');
    const head = base64UrlJson(header) as { alg?: unknown } | undefined;
    const claims = base64UrlJson(payload) as Claims | undefined;
    if (head?.alg !== 'RS256' || claims === undefined || signature === undefined) return 'invalid_grant';
    const key = typeof claims.iss === 'string' ? this.keys.get(claims.iss) : undefined;
    if (key === undefined) return 'invalid_grant';
    if (!verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, 'base64url'))) return 'invalid_grant';
    const nowSeconds = Math.floor(this.now() / 1000);
    if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number' || claims.exp <= nowSeconds || claims.exp - claims.iat > 3600) return 'invalid_grant';
    if (claims.aud !== googleTokenUrl) return 'invalid_grant';
    if (typeof claims.scope !== 'string' || !claims.scope.split(' ').includes(cloudPlatformScope)) return 'invalid_scope';
    return undefined;
  }

  private checkRefresh(form: URLSearchParams): string | undefined {
    const user = this.users.find((candidate) => candidate.clientId === form.get('client_id'));
    if (user === undefined || user.clientSecret !== form.get('client_secret')) return 'invalid_client';
    return user.refreshToken === form.get('refresh_token') ? undefined : 'invalid_grant';
  }

  private send(response: ServerResponse, grant: TokenRequest['grant'], status: number, body: Record<string, unknown>): void {
    this.tokenRequests.push({ grant, status, ...(typeof body['error'] === 'string' ? { error: body['error'] } : {}) });
    const payload = JSON.stringify(body);
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload), 'cache-control': 'no-cache, no-store, max-age=0, must-revalidate' });
    response.end(payload);
  }
}

export interface GoogleRoute {
  /** http://127.0.0.1:port, for HTTPS_PROXY. */
  proxyUrl: string;
  /** CONNECT tunnels made to the token endpoint. */
  readonly tunnels: number;
  /** Every `host:port` the proxy was asked for and refused: anything but the token endpoint. */
  readonly refusedHosts: string[];
  close(): Promise<void>;
}

/** The token endpoint over TLS (`key`/`cert` for oauth2.googleapis.com), reachable through a proxy on 127.0.0.1 that goes nowhere else. */
export async function startGoogleRoute(endpoint: GoogleOAuthEndpoint, tls: { key: string; cert: string }): Promise<GoogleRoute> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const tokenServer = createHttpsServer({ key: tls.key, cert: tls.cert }, (request, response) => endpoint.handle(request, response));
  tokenServer.on('connection', track);
  tokenServer.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve));
  const tokenPort = (tokenServer.address() as AddressInfo).port;

  let tunnels = 0;
  const refusedHosts: string[] = [];
  const proxy = createHttpServer((request, response) => {
    // An absolute-form request (plain http:// through the proxy): only the token endpoint is served, and never over http.
    refusedHosts.push(request.headers.host ?? request.url ?? '');
    response.writeHead(403, { 'content-type': 'text/plain' });
    response.end('Forbidden');
  });
  proxy.on('connection', track);
  proxy.on('connect', (request: IncomingMessage, client: Socket, head: Buffer) => {
    const target = request.url ?? '';
    if (target !== `${googleTokenHost}:443`) {
      refusedHosts.push(target);
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    tunnels += 1;
    const upstream = connect(tokenPort, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
    track(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const proxyPort = (proxy.address() as AddressInfo).port;
  return {
    proxyUrl: `http://127.0.0.1:${proxyPort}`,
    get tunnels() {
      return tunnels;
    },
    refusedHosts,
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all([new Promise<void>((resolve) => proxy.close(() => resolve())), new Promise<void>((resolve) => tokenServer.close(() => resolve()))]);
    },
  };
}
