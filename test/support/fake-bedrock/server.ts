/**
 * A fake of Amazon Bedrock's runtime API for Claude over HTTP on loopback,
 * written from AWS's documentation, close enough that the real
 * `@anthropic-ai/bedrock-sdk` cannot tell:
 * - `POST /model/{modelId}/invoke-with-response-stream` (the id URL-encoded,
 *   `:` included) and `POST /model/{modelId}/invoke`;
 * - every request's SigV4 `Authorization` recomputed for the test
 *   credentials (sigv4.ts), answered as AWS answers a bad one: 403
 *   `UnrecognizedClientException`, `InvalidSignatureException`,
 *   `MissingAuthenticationTokenException`;
 * - the body checked as Bedrock checks it: the Messages body with
 *   `anthropic_version: "bedrock-2023-05-31"` and neither `model` nor
 *   `stream`; then as the Messages API checks it (the fake Anthropic's rules);
 * - the answer as `application/vnd.amazon.eventstream` frames (event-stream.ts),
 *   each a `chunk` whose `bytes` are the base64 of one Messages stream event,
 *   `message_stop` carrying `amazon-bedrock-invocationMetrics`; the events, the
 *   usage and prompt caching are the fake Anthropic's own (reply-rendering.ts,
 *   cache-accounting.ts), so both fakes answer alike;
 * - errors as AWS sends them: a JSON `{ "message" }` body and
 *   `x-amzn-ErrorType` (ThrottlingException 429, ValidationException 400,
 *   AccessDeniedException 403, …), or an exception frame in the stream;
 * - scripted faults (status, stall, dropped socket, in-stream exception) and
 *   holds on a gate. Every request is logged without its credentials, with
 *   what became of it (`aborted-by-client` when the client hung up first).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { PromptCache } from '../fake-anthropic/cache-accounting.js';
import { planReply, renderMessage, renderStreamEvents, type ScriptedEvent } from '../fake-anthropic/reply-rendering.js';
import { validateMessageRequest } from '../fake-anthropic/request-validation.js';
import type { FakeReply, RecordedUsage, RequestOutcome } from '../fake-anthropic/types.js';
import { chunkEvent, exceptionEvent } from './event-stream.js';
import { checkSignature, type AwsTestCredentials, type SignatureCheck } from './sigv4.js';
import { waitOrAbort, writeChunk } from '../fake-http.js';

export type BedrockFault =
  /** An error response as AWS sends one: `errorType` goes in `x-amzn-ErrorType`. */
  | { kind: 'status'; status: number; errorType: string; message?: string; retryAfterSeconds?: number }
  /** Sends N events, then goes silent until the client hangs up or the fake closes. */
  | { kind: 'stall'; afterEvents: number }
  /** Destroys the socket after N events. */
  | { kind: 'drop'; afterEvents: number }
  /** After N events, an exception frame (`:exception-type`, e.g. `throttlingException`), then the end. */
  | { kind: 'exception'; afterEvents: number; exceptionType: string; message?: string };

export type FakeBedrockContent = Pick<FakeReply, 'text' | 'toolUses' | 'thinking' | 'stopReason' | 'outputTokens'>;

export interface FakeBedrockReply extends FakeBedrockContent {
  /** Holds the answer until `until` settles: before the headers, or after `afterEvents` events. */
  hold?: { until: Promise<unknown>; afterEvents?: number };
  fault?: BedrockFault;
}

export interface RecordedBedrockRequest {
  index: number;
  method: string;
  /** As on the wire, still percent-encoded. */
  path: string;
  /** The model id from the path, decoded. */
  modelId: string;
  /** Lower-cased; `authorization` and `x-amz-security-token` replaced by '[present]'. */
  headers: Record<string, string>;
  /** True when the SigV4 signature was recomputed and matched, or the Bedrock API key was the one it accepts. */
  signatureValid: boolean;
  /** The credential scope's region, when there was a signature to read. */
  signedRegion?: string;
  body: Record<string, unknown>;
  /** Wall-clock ms when it arrived: only for lower bounds ("not before the retry-after"), never for timing. */
  receivedAt: number;
  outcome: RequestOutcome;
  status?: number;
  /** `x-amzn-ErrorType` of an error response, or the `:exception-type` of an exception frame. */
  errorType?: string;
  usage?: RecordedUsage;
}

export interface FakeBedrockOptions {
  /** The only credentials it accepts. */
  credentials: AwsTestCredentials;
  /** A Bedrock API key it also accepts, as `Authorization: Bearer <key>` instead of a signature. */
  bearerToken?: string;
  /** The region requests must be signed for. @default 'us-east-1' */
  region?: string;
  respond?: (request: RecordedBedrockRequest) => FakeBedrockReply;
  /** Prompt cache clock. @default Date.now */
  now?: () => number;
  /** Bound on `requests`. @default 1000 */
  maxLoggedRequests?: number;
}

export interface FakeBedrock {
  /** e.g. http://127.0.0.1:PORT — the client's `baseURL` (a VPC endpoint, as far as it knows). */
  url: string;
  requests: RecordedBedrockRequest[];
  queueReplies(...replies: FakeBedrockReply[]): void;
  close(): Promise<void>;
}

/** The version Bedrock's Claude models take, in the body. */
export const bedrockAnthropicVersion = 'bedrock-2023-05-31';
const modelPath = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream)$/;
const maxRequestBytes = 20 * 1024 * 1024;
/** Bedrock-only body fields; the rest is the Messages body. */
const bedrockFields = new Set(['anthropic_version', 'anthropic_beta']);

class FakeBedrockServer implements FakeBedrock {
  url = '';
  readonly requests: RecordedBedrockRequest[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly exchanges = new Set<AbortController>();
  private readonly scripted: FakeBedrockReply[] = [];
  private readonly cache: PromptCache;
  private received = 0;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: FakeBedrockOptions) {
    this.cache = new PromptCache({ minCacheableTokens: 1024, maxEntries: 10_000, now: options.now ?? Date.now });
    this.server = createServer((request, response) => void this.handle(request, response));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('fake-bedrock: no TCP address');
    this.url = `http://127.0.0.1:${address.port}`;
  }

  queueReplies(...replies: FakeBedrockReply[]): void {
    this.scripted.push(...replies);
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const exchange of this.exchanges) exchange.abort();
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
    return this.closing;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const exchange = new AbortController();
    this.exchanges.add(exchange);
    let entry: RecordedBedrockRequest | undefined;
    response.on('close', () => {
      this.exchanges.delete(exchange);
      exchange.abort();
      if (entry?.outcome === 'pending') entry.outcome = this.closing === undefined ? 'aborted-by-client' : 'fault';
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.byteLength;
      if (size <= maxRequestBytes) chunks.push(chunk);
    }
    const raw = Buffer.concat(chunks);
    const rawUrl = request.url ?? '/';
    const path = rawUrl.split('?')[0] ?? '/';
    const route = modelPath.exec(path);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers[name] = name === 'authorization' || name === 'x-amz-security-token' ? '[present]' : Array.isArray(value) ? value.join(', ') : value;
    }
    const region = this.options.region ?? 'us-east-1';
    const bearer = request.headers.authorization?.startsWith('Bearer ') === true ? request.headers.authorization.slice('Bearer '.length) : undefined;
    const signature: SignatureCheck =
      bearer === undefined
        ? checkSignature({ method: request.method ?? 'GET', rawUrl, headers: request.headers, body: raw }, this.options.credentials, { region, service: 'bedrock' })
        : bearer === this.options.bearerToken
          ? { ok: true, accessKeyId: '', region, service: 'bedrock' }
          : { ok: false, errorType: 'UnrecognizedClientException', message: 'Invalid API Key format: Must start with pre-defined prefix' };
    let body: Record<string, unknown> = {};
    let unreadable = false;
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
      else unreadable = true;
    } catch {
      unreadable = true;
    }
    entry = {
      index: this.received++,
      method: request.method ?? 'GET',
      path,
      modelId: route === null ? '' : decodeURIComponent(route[1] ?? ''),
      headers,
      signatureValid: signature.ok,
      ...(signature.ok ? { signedRegion: signature.region } : {}),
      body,
      receivedAt: Date.now(),
      outcome: 'pending',
    };
    this.requests.push(entry);
    if (this.requests.length > (this.options.maxLoggedRequests ?? 1000)) this.requests.shift();

    if (!signature.ok) return this.sendError(entry, response, 403, signature.errorType, signature.message);
    if (request.method !== 'POST' || route === null) return this.sendError(entry, response, 404, 'UnknownOperationException', 'Unknown operation');
    if (size > maxRequestBytes || unreadable) return this.sendError(entry, response, 400, 'ValidationException', 'Malformed input request, please reformat your input and try again.');
    const invalid = this.invalidBody(body);
    if (invalid !== undefined) return this.sendError(entry, response, 400, 'ValidationException', invalid);
    const messagesBody = Object.fromEntries(Object.entries(body).filter(([key]) => !bedrockFields.has(key)));
    const validation = validateMessageRequest({ ...messagesBody, model: entry.modelId }, false);
    if (!validation.ok) return this.sendError(entry, response, 400, 'ValidationException', validation.message);

    const reply = this.scripted.shift() ?? this.options.respond?.(entry) ?? { text: 'OK.' };
    const { fault, hold } = reply;
    if (hold !== undefined && hold.afterEvents === undefined && !(await waitOrAbort(hold.until, exchange.signal))) return;
    if (fault?.kind === 'status') {
      const extra: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      return this.sendError(entry, response, fault.status, fault.errorType, fault.message ?? defaultMessage(fault.errorType), extra);
    }
    const cacheUsage = this.cache.account(validation.prompt);
    const maxTokens = typeof body['max_tokens'] === 'number' ? body['max_tokens'] : 0;
    const { fault: _fault, hold: _hold, ...content } = reply;
    const plan = planReply(content, { model: entry.modelId, maxTokens, stopSequences: [] });
    entry.usage = {
      input_tokens: cacheUsage.input_tokens,
      cache_creation_input_tokens: cacheUsage.cache_creation_input_tokens,
      cache_read_input_tokens: cacheUsage.cache_read_input_tokens,
      output_tokens: plan.outputTokens,
    };
    if (route[2] === 'invoke') {
      entry.outcome = 'completed';
      entry.status = 200;
      response.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID(), 'x-amzn-bedrock-input-token-count': String(cacheUsage.input_tokens) });
      response.end(JSON.stringify(renderMessage(plan, cacheUsage)));
      return;
    }
    const events = bedrockEvents(renderStreamEvents(plan, cacheUsage), entry.usage);
    await this.stream(entry, response, reply, events, exchange.signal);
  }

  /** Bedrock's own rules for the body, before the model's. */
  private invalidBody(body: Record<string, unknown>): string | undefined {
    if (body['anthropic_version'] !== bedrockAnthropicVersion) return `Malformed input request: #: required key [anthropic_version] not found or not "${bedrockAnthropicVersion}", please reformat your input and try again.`;
    for (const field of ['model', 'stream']) if (field in body) return `Malformed input request: #: extraneous key [${field}] is not permitted, please reformat your input and try again.`;
    return undefined;
  }

  private async stream(entry: RecordedBedrockRequest, response: ServerResponse, reply: FakeBedrockReply, events: ScriptedEvent[], signal: AbortSignal): Promise<void> {
    entry.status = 200;
    response.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': randomUUID(), 'x-amzn-bedrock-content-type': 'application/json' });
    const { fault, hold } = reply;
    const cutoff = fault !== undefined && 'afterEvents' in fault ? Math.min(fault.afterEvents, events.length) : events.length;
    for (let index = 0; index < cutoff; index += 1) {
      if (hold?.afterEvents === index && !(await waitOrAbort(hold.until, signal))) return;
      // The padding's length varies from event to event, as AWS's does.
      if (!(await writeChunk(response, chunkEvent(events[index], 'abcdefghijklmnopqrstuvwxyz'.slice(0, 1 + (index % 26))), signal))) return;
    }
    switch (fault?.kind) {
      case 'stall':
        await waitOrAbort(new Promise(() => undefined), signal);
        return;
      case 'drop':
        entry.outcome = 'fault';
        response.destroy();
        return;
      case 'exception':
        entry.outcome = 'fault';
        entry.errorType = fault.exceptionType;
        await writeChunk(response, exceptionEvent(fault.exceptionType, fault.message ?? defaultMessage(fault.exceptionType)), signal);
        response.end();
        return;
      default:
        entry.outcome = 'completed';
        response.end();
    }
  }

  private sendError(entry: RecordedBedrockRequest, response: ServerResponse, status: number, errorType: string, message: string, extraHeaders: Record<string, string> = {}): void {
    entry.outcome = 'error-status';
    entry.status = status;
    entry.errorType = errorType;
    const payload = JSON.stringify({ message });
    response.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
      'x-amzn-requestid': randomUUID(),
      'x-amzn-errortype': `${errorType}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
      ...extraHeaders,
    });
    response.end(payload);
  }
}

/** The Messages events as Bedrock streams them: no keep-alive pings, and `message_stop` carrying the invocation's metrics. */
function bedrockEvents(events: ScriptedEvent[], usage: RecordedUsage): ScriptedEvent[] {
  return events
    .filter((event) => event.type !== 'ping')
    .map((event) =>
      event.type === 'message_stop'
        ? ({
            ...event,
            'amazon-bedrock-invocationMetrics': {
              inputTokenCount: usage.input_tokens,
              outputTokenCount: usage.output_tokens,
              invocationLatency: 412,
              firstByteLatency: 180,
              cacheReadInputTokenCount: usage.cache_read_input_tokens,
              cacheWriteInputTokenCount: usage.cache_creation_input_tokens,
            },
          } as ScriptedEvent)
        : event,
    );
}

function defaultMessage(errorType: string): string {
  switch (errorType.toLowerCase()) {
    case 'throttlingexception':
      return 'Too many requests, please wait before trying again.';
    case 'accessdeniedexception':
      return "You don't have access to the model with the specified model ID.";
    case 'validationexception':
      return 'The provided model identifier is invalid.';
    case 'serviceunavailableexception':
      return 'Bedrock is unable to process your request.';
    case 'modelstreamerrorexception':
      return 'The model stream failed.';
    default:
      return 'The server encountered an internal error while processing the request.';
  }
}

export async function startFakeBedrock(options: FakeBedrockOptions): Promise<FakeBedrock> {
  const server = new FakeBedrockServer(options);
  await server.listen();
  return server;
}
