/**
 * A fake of Claude on Google Vertex AI, written from Google's documentation
 * of its Anthropic publisher endpoints:
 *
 *   POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:streamRawPredict
 *   POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:rawPredict
 *
 * with `Authorization: Bearer <access token>` (checked against the tokens the
 * fake OAuth endpoint issued, google-oauth.ts) and a body that is a Messages
 * API body with `anthropic_version: "vertex-2023-10-16"` and no `model` (the
 * model is in the path). Google's front end answers what it decides itself in
 * Google's error shape (`{"error": {"code", "message", "status"}}`: 401
 * UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 NOT_FOUND, 429
 * RESOURCE_EXHAUSTED, 400 INVALID_ARGUMENT); everything else is Claude's
 * answer, as on Anthropic's API.
 *
 * Claude's side is the fake Messages API itself (fake-anthropic), behind this
 * front on loopback: the request is passed on as `POST /v1/messages` with the
 * model from the path, so its SSE events, cache accounting, scripted replies,
 * hold gates and faults (stall, drop, status) are the same ones, not a copy.
 * A 401, 403 or 429 scripted there comes out here in Google's shape, as Vertex
 * sends them; the client hanging up here hangs up there.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { startFakeAnthropic } from '../fake-anthropic/server.js';
import type { FakeAnthropic, FakeAnthropicOptions, FakeReply } from '../fake-anthropic/types.js';
import type { GoogleOAuthEndpoint } from './google-oauth.js';

export const vertexApiVersion = 'vertex-2023-10-16';
const maxRequestBytes = 32 * 1024 * 1024;
const predictPath = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/anthropic\/models\/([^/:]+):(streamRawPredict|rawPredict)$/;

const googleStatusByCode: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

const googleMessages: Record<number, string> = {
  401: 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
  429: 'Quota exceeded for aiplatform.googleapis.com/online_prediction_input_tokens_per_minute_per_base_model with base model: anthropic-claude. Please submit a quota increase request. https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai.',
};

export type VertexOutcome = 'pending' | 'completed' | 'error-status' | 'aborted-by-client' | 'fault';

export interface VertexRequest {
  path: string;
  project?: string;
  region?: string;
  model?: string;
  specifier?: 'streamRawPredict' | 'rawPredict';
  /** The bearer token was one the OAuth endpoint issued and still takes. */
  tokenAccepted: boolean;
  /** The body as received (never the token). */
  body: Record<string, unknown>;
  status?: number;
  outcome: VertexOutcome;
}

export interface FakeVertexOptions {
  oauth: GoogleOAuthEndpoint;
  /** The project the credentials may use; another gets 403 PERMISSION_DENIED. */
  projectId: string;
  /** Regions that serve Claude; another gets 404 NOT_FOUND. */
  regions: readonly string[];
  /** For the Messages fake behind the front. */
  anthropic?: FakeAnthropicOptions;
}

export interface FakeVertex {
  /** http://127.0.0.1:port/v1: what `vertex.baseURL` takes. */
  baseURL: string;
  readonly requests: VertexRequest[];
  /** The Messages fake behind the front: its log has the requests as Claude saw them, with their usage. */
  readonly claude: FakeAnthropic;
  queueReplies(...replies: FakeReply[]): void;
  close(): Promise<void>;
}

function googleError(response: ServerResponse, code: number, message: string): void {
  const payload = JSON.stringify({ error: { code, message, status: googleStatusByCode[code] ?? 'UNKNOWN' } });
  response.writeHead(code, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(payload) });
  response.end(payload);
}

function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= maxRequestBytes) chunks.push(chunk);
    });
    request.on('end', () => resolve(bytes > maxRequestBytes ? undefined : Buffer.concat(chunks)));
    request.on('error', () => resolve(undefined));
  });
}

class FakeVertexServer implements FakeVertex {
  baseURL = '';
  readonly requests: VertexRequest[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly options: FakeVertexOptions,
    readonly claude: FakeAnthropic,
  ) {
    this.server = createServer((request, response) => void this.handle(request, response));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseURL = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  queueReplies(...replies: FakeReply[]): void {
    this.claude.queueReplies(...replies);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.claude.close();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    const authorization = request.headers.authorization ?? '';
    const token = authorization.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined;
    const entry: VertexRequest = { path, tokenAccepted: token !== undefined && this.options.oauth.isValid(token), body: {}, outcome: 'pending' };
    this.requests.push(entry);
    response.on('close', () => {
      if (entry.outcome === 'pending') entry.outcome = 'aborted-by-client';
    });
    const fail = (code: number, message: string): void => {
      entry.status = code;
      entry.outcome = 'error-status';
      googleError(response, code, message);
    };

    const raw = await readBody(request);
    if (raw === undefined) return fail(400, 'Request payload size exceeds the limit: 33554432 bytes.');
    const match = predictPath.exec(path);
    if (request.method !== 'POST' || match === null) return fail(404, `The requested URL ${path} was not found on this server.`);
    const [, project = '', region = '', model = '', specifier] = match;
    Object.assign(entry, { project, region, model: decodeURIComponent(model), specifier });
    if (token === undefined) {
      return fail(401, 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
    }
    if (!entry.tokenAccepted) return fail(401, googleMessages[401] ?? '');
    if (project !== this.options.projectId) {
      return fail(403, `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/${project}/locations/${region}/publishers/anthropic/models/${model}' (or it may not exist).`);
    }
    if (!this.options.regions.includes(region)) return fail(404, `Publisher Model \`projects/${project}/locations/${region}/publishers/anthropic/models/${model}\` not found.`);

    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return fail(400, 'Invalid JSON payload received.');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail(400, 'Invalid JSON payload received. Expected an object.');
    entry.body = body as Record<string, unknown>;
    const { anthropic_version: version, ...messagesBody } = entry.body;
    if (version !== vertexApiVersion) return fail(400, `anthropic_version: Input should be '${vertexApiVersion}'`);
    if ('model' in messagesBody) return fail(400, 'model: Extra inputs are not permitted (the model is named in the URL)');
    if ((specifier === 'streamRawPredict') !== (messagesBody['stream'] === true)) return fail(400, `${specifier} ${specifier === 'streamRawPredict' ? 'requires' : 'does not take'} "stream": true`);
    this.forwardToClaude(entry, request, response, JSON.stringify({ ...messagesBody, model: entry.model }));
  }

  /** Claude's answer, as the Messages fake gives it; the front's own errors (401, 403, 429) in Google's shape. */
  private forwardToClaude(entry: VertexRequest, request: IncomingMessage, response: ServerResponse, body: string): void {
    // A dropped socket behind the front is a dropped socket in front of it; one the client hung up on first is the client's doing.
    const dropped = (): void => {
      if (response.destroyed) return;
      entry.outcome = 'fault';
      request.socket.destroy();
    };
    const upstream = httpRequest(`${this.claude.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'anthropic-version': '2023-06-01' },
    });
    upstream.on('response', (answer) => {
      const status = answer.statusCode ?? 500;
      entry.status = status;
      if (status === 401 || status === 403 || status === 429) {
        answer.resume();
        entry.outcome = 'error-status';
        googleError(response, status, googleMessages[status] ?? 'The caller does not have permission');
        return;
      }
      response.writeHead(status, { 'content-type': answer.headers['content-type'] ?? 'application/json' });
      answer.pipe(response);
      answer.on('end', () => {
        if (entry.outcome === 'pending') entry.outcome = status === 200 ? 'completed' : 'error-status';
      });
      answer.on('error', dropped);
      answer.on('aborted', dropped);
    });
    upstream.on('error', dropped);
    // The client hanging up here hangs up there, so the Messages fake sees it too.
    response.on('close', () => upstream.destroy());
    upstream.end(body);
  }
}

/** Starts the Messages fake and the Vertex front before it, on 127.0.0.1. */
export async function startFakeVertex(options: FakeVertexOptions): Promise<FakeVertex> {
  const claude = await startFakeAnthropic(options.anthropic ?? {});
  const fake = new FakeVertexServer(options, claude);
  await fake.listen();
  return fake;
}
