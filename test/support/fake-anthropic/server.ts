/**
 * A fake of the Anthropic Messages API (`POST /v1/messages`) over HTTP on
 * loopback, close enough to the real one that the real SDK cannot tell:
 * named SSE events in the real order, pings, `input_json_delta` tool input,
 * usage with cache reads and writes computed from the request's breakpoints,
 * the real error bodies and statuses, and scripted faults (error statuses,
 * stalls, dropped sockets, malformed events, missing `message_stop`, stream
 * errors). Every request is logged, without its credentials.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { MessageCreateParamsBase } from '@anthropic-ai/sdk/resources/messages/messages';
import { PromptCache } from './cache-accounting.js';
import { defaultResponder } from './default-responder.js';
import { randomId } from './ids.js';
import { planReply, renderMessage, renderStreamEvents, type ScriptedEvent } from './reply-rendering.js';
import { validateMessageRequest } from './request-validation.js';
import { formatJsonSseEvent, formatSseEvent } from './sse.js';
import type {
  FakeAnthropic,
  FakeAnthropicOptions,
  FakeFault,
  FakeReply,
  FloodedBlock,
  RecordedRequest,
  Responder,
} from './types.js';
import { waitOrAbort, writeChunk } from '../fake-http.js';

export { defaultResponder, minimalValueForSchema } from './default-responder.js';
export type {
  FakeAnthropic,
  FakeAnthropicOptions,
  FakeFault,
  FakeReply,
  FakeToolUse,
  FloodedBlock,
  RecordedRequest,
  RecordedUsage,
  RequestOutcome,
  Responder,
} from './types.js';

/** The real API's limit for the Messages endpoint. */
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;
const DEFAULT_MIN_CACHEABLE_TOKENS = 1024;
const DEFAULT_MAX_LOGGED_REQUESTS = 1000;
const DEFAULT_MAX_LOGGED_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_CACHE_ENTRIES = 10_000;
const DEFAULT_PING_INTERVAL_MS = 250;
const DEFAULT_WAIT_TIMEOUT_MS = 5000;
const MESSAGES_PATH = '/v1/messages';

const ERROR_TYPE_BY_STATUS = new Map<number, string>([
  [400, 'invalid_request_error'],
  [401, 'authentication_error'],
  [402, 'billing_error'],
  [403, 'permission_error'],
  [404, 'not_found_error'],
  [408, 'timeout_error'],
  [409, 'conflict_error'],
  [413, 'request_too_large'],
  [429, 'rate_limit_error'],
  [500, 'api_error'],
  [504, 'timeout_error'],
  [529, 'overloaded_error'],
]);

const STATUS_BY_ERROR_TYPE = new Map<string, number>(
  [...ERROR_TYPE_BY_STATUS.entries()].map(([status, type]) => [type, status]),
);

const DEFAULT_ERROR_MESSAGES: Record<string, string> = {
  invalid_request_error: 'Invalid request.',
  authentication_error: 'invalid x-api-key',
  billing_error: 'Your credit balance is too low to access the Anthropic API.',
  permission_error: 'Your API key does not have permission to use the specified resource.',
  not_found_error: 'Not found',
  timeout_error: 'Request timed out.',
  conflict_error: 'Conflict.',
  request_too_large: 'Request exceeds the maximum allowed number of bytes.',
  rate_limit_error: "This request would exceed your organization's rate limit. Please try again later.",
  api_error: 'Internal server error',
  overloaded_error: 'Overloaded',
};

function errorTypeForStatus(status: number): string {
  return ERROR_TYPE_BY_STATUS.get(status) ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

function defaultErrorMessage(type: string): string {
  return DEFAULT_ERROR_MESSAGES[type] ?? 'Error';
}

function redactedHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    const isCredential = name === 'x-api-key' || name === 'authorization';
    headers[name] = isCredential ? '[present]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/**
 * The key the client sent. SDK 1.x sends `apiKey` as `Authorization: Bearer
 * <key>`; older clients and curl use `x-api-key`. Both reach the real API.
 */
function presentedApiKey(request: IncomingMessage): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string') return header;
  const authorization = request.headers.authorization;
  return authorization?.startsWith('Bearer ') === true ? authorization.slice('Bearer '.length) : undefined;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

type ParsedBody =
  | { kind: 'json'; value: unknown }
  | { kind: 'unsupported-encoding' }
  | { kind: 'invalid-encoding' }
  | { kind: 'invalid-json' };

const DECODERS: Record<string, (raw: Buffer) => Buffer> = {
  identity: (raw) => raw,
  '': (raw) => raw,
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

function parseRequestBody(raw: Buffer, contentEncoding: string | undefined): ParsedBody {
  const decode = DECODERS[(contentEncoding ?? 'identity').trim().toLowerCase()];
  if (decode === undefined) return { kind: 'unsupported-encoding' };
  let text: string;
  try {
    text = decode(raw).toString('utf8');
  } catch {
    return { kind: 'invalid-encoding' };
  }
  try {
    return { kind: 'json', value: JSON.parse(text) };
  } catch {
    return { kind: 'invalid-json' };
  }
}

const BODY_ERRORS: Record<Exclude<ParsedBody['kind'], 'json'>, { bodyError: string; message: string; errorCode?: string }> = {
  'unsupported-encoding': {
    bodyError: 'unsupported content-encoding',
    message: "The request's Content-Encoding is not supported.",
    errorCode: 'request_body_encoding_unsupported',
  },
  'invalid-encoding': {
    bodyError: 'body does not decode with its content-encoding',
    message: 'The request body is not valid for its Content-Encoding.',
    errorCode: 'request_body_encoding_invalid',
  },
  'invalid-json': {
    bodyError: 'not valid JSON',
    message: 'There was an issue with the format of your request: the body is not valid JSON.',
  },
};

/**
 * How many scripted events go out before the fault takes over. `afterEvents`
 * counts the scripted sequence (its early `ping` included) and never the
 * keep-alive pings of `chunkDelayMs`, so a fault lands at the same place
 * whatever the timing.
 */
function streamCutoff(fault: FakeFault | undefined, eventCount: number): number {
  if (fault === undefined) return eventCount;
  switch (fault.kind) {
    case 'stall':
    case 'drop':
    case 'malformed':
    case 'streamError':
    case 'endlessLine':
      return Math.max(0, fault.afterEvents);
    case 'noStop':
      return eventCount - 1;
    default:
      return eventCount;
  }
}

/** A line of code, the filler of `flood` and `endlessLine` faults. */
const FILLER_LINE = '    total += item.price * item.quantity;\n';
const DEFAULT_FLOOD_DELTA_CHARS = 1024;
/** Events are written in batches of about this size, each awaited, so a flood never outruns the socket. */
const FLOOD_WRITE_BYTES = 64 * 1024;

type FloodFault = Extract<FakeFault, { kind: 'flood' }>;

function floodBlockStart(block: FloodedBlock): ScriptedEvent {
  switch (block.type) {
    case 'text':
    case 'pings':
      return { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '', citations: null } };
    case 'thinking':
      return { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } };
    case 'toolInput':
      return { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: randomId('toolu'), name: block.name, input: {}, caller: { type: 'direct' } } };
  }
}

function floodDelta(block: FloodedBlock, chars: string): ScriptedEvent {
  switch (block.type) {
    case 'text':
    case 'pings':
      return { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: chars } };
    case 'thinking':
      return { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: chars } };
    case 'toolInput':
      return { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: chars } };
  }
}

interface ErrorReply {
  status: number;
  type: string;
  message: string;
  retryAfterSeconds?: number | undefined;
  errorCode?: string | undefined;
}

class FakeAnthropicServer implements FakeAnthropic {
  url = '';
  port = 0;
  readonly requests: RecordedRequest[] = [];

  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly exchanges = new Set<AbortController>();
  private readonly scriptedReplies: FakeReply[] = [];
  private readonly waiters = new Set<{ count: number; settle: (error?: Error) => void }>();
  private readonly cache: PromptCache;
  private readonly now: () => number;
  private readonly maxLoggedRequests: number;
  private readonly maxLoggedBytes: number;
  private loggedBytes = 0;
  private readonly pingIntervalMs: number;
  private responder: Responder;
  private receivedCount = 0;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: FakeAnthropicOptions) {
    this.now = options.now ?? Date.now;
    this.responder = options.respond ?? defaultResponder;
    this.maxLoggedRequests = options.maxLoggedRequests ?? DEFAULT_MAX_LOGGED_REQUESTS;
    this.maxLoggedBytes = options.maxLoggedBytes ?? DEFAULT_MAX_LOGGED_BYTES;
    this.pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    this.cache = new PromptCache({
      minCacheableTokens: options.minCacheableTokens ?? DEFAULT_MIN_CACHEABLE_TOKENS,
      maxEntries: options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES,
      now: this.now,
    });
    this.server = createServer((request, response) => {
      void this.handle(request, response);
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('fake-anthropic: server has no TCP address');
    this.port = address.port;
    this.url = `http://127.0.0.1:${address.port}`;
  }

  respondWith(responder: Responder): void {
    this.responder = responder;
  }

  queueReplies(...replies: FakeReply[]): void {
    this.scriptedReplies.push(...replies);
  }

  resetCache(): void {
    this.cache.clear();
  }

  waitForRequests(count: number, timeoutMs = DEFAULT_WAIT_TIMEOUT_MS): Promise<void> {
    if (this.receivedCount >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        count,
        settle: (error?: Error): void => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          if (error === undefined) resolve();
          else reject(error);
        },
      };
      const timer = setTimeout(
        () => waiter.settle(new Error(`fake-anthropic: waited ${timeoutMs} ms for ${count} requests, got ${this.receivedCount}`)),
        timeoutMs,
      );
      this.waiters.add(waiter);
    });
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const exchange of this.exchanges) exchange.abort();
      for (const waiter of this.waiters) waiter.settle(new Error('fake-anthropic: closed while waiting for requests'));
      this.server.close(() => resolve());
      // Stalled streams never end by themselves; without this `server.close` would wait on them forever.
      for (const socket of this.sockets) socket.destroy();
    });
    return this.closing;
  }

  private record(entry: RecordedRequest): void {
    this.requests.push(entry);
    this.loggedBytes += entry.rawBytes;
    while (
      this.requests.length > this.maxLoggedRequests ||
      (this.loggedBytes > this.maxLoggedBytes && this.requests.length > 1)
    ) {
      this.loggedBytes -= this.requests.shift()?.rawBytes ?? 0;
    }
    this.receivedCount += 1;
    for (const waiter of [...this.waiters]) if (this.receivedCount >= waiter.count) waiter.settle();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const exchange = new AbortController();
    this.exchanges.add(exchange);
    let entry: RecordedRequest | undefined;
    response.on('close', () => {
      this.exchanges.delete(exchange);
      exchange.abort();
      if (entry?.outcome === 'pending') entry.outcome = this.closing === undefined ? 'aborted-by-client' : 'fault';
    });

    const body = await this.readBody(request);
    if (body === undefined) return;

    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const apiKey = presentedApiKey(request);
    // Parsed before the entry is logged, so whoever `waitForRequests` sees the body at once.
    const parsedBody: ParsedBody = body.tooLarge ? { kind: 'invalid-json' } : parseRequestBody(body.raw, request.headers['content-encoding']);
    entry = {
      index: this.receivedCount,
      method: request.method ?? 'GET',
      path: url.pathname,
      headers: redactedHeaders(request),
      apiKeyMatched: this.options.apiKey === undefined || apiKey === this.options.apiKey,
      body: {} as MessageCreateParamsBase,
      rawBytes: body.rawBytes,
      receivedAt: this.now(),
      outcome: 'pending',
    };
    if (parsedBody.kind !== 'json') entry.bodyError = body.tooLarge ? 'too large' : BODY_ERRORS[parsedBody.kind].bodyError;
    else if (typeof parsedBody.value === 'object' && parsedBody.value !== null && !Array.isArray(parsedBody.value)) {
      entry.body = parsedBody.value as MessageCreateParamsBase;
    } else entry.bodyError = 'not a JSON object';
    this.record(entry);

    try {
      await this.respond(entry, request, response, body.tooLarge, parsedBody, url, exchange.signal);
    } catch (error) {
      // A bug in the fake (or a responder) must show up as a response, not as a hung test.
      if (!response.headersSent && !response.destroyed) {
        this.sendError(entry, response, { status: 500, type: 'api_error', message: `fake-anthropic: ${String(error)}` });
      } else {
        entry.outcome = 'fault';
        response.destroy();
      }
    }
  }

  private readBody(request: IncomingMessage): Promise<{ raw: Buffer; rawBytes: number; tooLarge: boolean } | undefined> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let rawBytes = 0;
      request.on('data', (chunk: Buffer) => {
        rawBytes += chunk.length;
        // Keep draining an oversized body so the 413 can still be delivered, but stop holding it.
        if (rawBytes <= MAX_REQUEST_BYTES) chunks.push(chunk);
      });
      request.on('end', () => resolve({ raw: Buffer.concat(chunks), rawBytes, tooLarge: rawBytes > MAX_REQUEST_BYTES }));
      request.on('error', () => resolve(undefined));
    });
  }

  private async respond(
    entry: RecordedRequest,
    request: IncomingMessage,
    response: ServerResponse,
    tooLarge: boolean,
    parsedBody: ParsedBody,
    url: URL,
    signal: AbortSignal,
  ): Promise<void> {
    if (tooLarge) {
      return this.sendError(entry, response, { status: 413, type: 'request_too_large', message: defaultErrorMessage('request_too_large') });
    }
    if (url.pathname !== MESSAGES_PATH) {
      return this.sendError(entry, response, { status: 404, type: 'not_found_error', message: 'Not Found' });
    }
    if (request.method !== 'POST') {
      return this.sendError(entry, response, { status: 405, type: 'invalid_request_error', message: 'Method Not Allowed' });
    }
    if (this.options.apiKey !== undefined && !entry.apiKeyMatched) {
      const message = presentedApiKey(request) === undefined ? 'x-api-key header is required' : 'invalid x-api-key';
      return this.sendError(entry, response, { status: 401, type: 'authentication_error', message });
    }
    if (request.headers['anthropic-version'] === undefined) {
      return this.sendError(entry, response, { status: 400, type: 'invalid_request_error', message: 'anthropic-version: header is required' });
    }

    if (parsedBody.kind !== 'json') {
      const { message, errorCode } = BODY_ERRORS[parsedBody.kind];
      return this.sendError(entry, response, { status: 400, type: 'invalid_request_error', message, errorCode });
    }

    const validation = validateMessageRequest(parsedBody.value, url.searchParams.get('beta') === 'true');
    if (!validation.ok) {
      return this.sendError(entry, response, { status: 400, type: 'invalid_request_error', message: validation.message });
    }

    const reply = this.scriptedReplies.shift() ?? (await this.responder(entry, entry.index));
    const fault = reply.fault;
    if (fault !== undefined) entry.faultKind = fault.kind;

    const latency = reply.latencyMs ?? this.serverLatency();
    if (!(await sleep(latency, signal))) return;
    if (reply.hold !== undefined && reply.hold.afterEvents === undefined && !(await waitOrAbort(reply.hold.until, signal))) return;

    if (fault?.kind === 'status') {
      const type = fault.errorType ?? errorTypeForStatus(fault.status);
      return this.sendError(entry, response, {
        status: fault.status,
        type,
        message: fault.message ?? defaultErrorMessage(type),
        retryAfterSeconds: fault.retryAfterSeconds,
        errorCode: fault.errorCode,
      });
    }
    if (fault?.kind === 'refuseConnection') {
      entry.outcome = 'fault';
      request.socket.destroy();
      return;
    }

    const cacheUsage = this.cache.account(validation.prompt);
    const requestBody = entry.body;
    const plan = planReply(reply, {
      model: requestBody.model,
      maxTokens: requestBody.max_tokens,
      stopSequences: requestBody.stop_sequences ?? [],
    });
    entry.usage = {
      input_tokens: cacheUsage.input_tokens,
      cache_creation_input_tokens: cacheUsage.cache_creation_input_tokens,
      cache_read_input_tokens: cacheUsage.cache_read_input_tokens,
      output_tokens: plan.outputTokens,
    };

    if (requestBody.stream === true) {
      await this.sendStream(entry, request, response, reply, renderStreamEvents(plan, cacheUsage), signal);
    } else {
      this.sendMessage(entry, request, response, reply, JSON.stringify(renderMessage(plan, cacheUsage)), signal);
    }
  }

  private serverLatency(): number {
    const latency = this.options.latencyMs ?? 0;
    if (typeof latency === 'number') return latency;
    const [low, high] = latency;
    return low + Math.random() * (high - low);
  }

  private sendMessage(
    entry: RecordedRequest,
    request: IncomingMessage,
    response: ServerResponse,
    reply: FakeReply,
    payload: string,
    signal: AbortSignal,
  ): void {
    if (signal.aborted) return;
    const fault = reply.fault;
    switch (fault?.kind) {
      case 'stall':
        // Without a stream there is nothing to send before going silent: the headers never come.
        return;
      case 'drop':
        entry.outcome = 'fault';
        request.socket.destroy();
        return;
      case 'streamError': {
        // A plain response cannot fail mid-way, so the same error arrives as its status.
        const type = fault.errorType ?? 'overloaded_error';
        this.sendError(entry, response, {
          status: STATUS_BY_ERROR_TYPE.get(type) ?? 500,
          type,
          message: fault.message ?? defaultErrorMessage(type),
        });
        return;
      }
      default:
        break;
    }
    const body = fault?.kind === 'malformed' ? payload.slice(0, Math.max(1, Math.floor(payload.length / 2))) : payload;
    response.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'request-id': randomId('req'),
    });
    entry.status = 200;
    entry.outcome = fault?.kind === 'malformed' ? 'fault' : 'completed';
    response.end(body);
  }

  private async sendStream(
    entry: RecordedRequest,
    request: IncomingMessage,
    response: ServerResponse,
    reply: FakeReply,
    events: ReturnType<typeof renderStreamEvents>,
    signal: AbortSignal,
  ): Promise<void> {
    if (signal.aborted) return;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'request-id': randomId('req'),
    });
    entry.status = 200;

    const fault = reply.fault;
    if (fault?.kind === 'flood') return this.sendFlood(entry, response, fault, events, signal);
    const cutoff = Math.min(streamCutoff(fault, events.length), events.length);
    const chunkDelayMs = reply.chunkDelayMs ?? 0;
    for (let position = 0; position < cutoff; position += 1) {
      const event = events[position];
      if (event === undefined) break;
      if (position > 0 && !(await this.pauseWithPings(chunkDelayMs, response, signal))) return;
      if (reply.hold?.afterEvents === position && !(await this.holdWithPings(reply.hold.until, response, signal))) return;
      const text = formatJsonSseEvent(event);
      this.options.onStreamEvent?.(entry, event);
      if (!(await writeChunk(response, text, signal))) return;
    }

    switch (fault?.kind) {
      case 'stall':
        // Silent from here on; the 'close' listener records who ended it.
        return;
      case 'drop':
        entry.outcome = 'fault';
        request.socket.destroy();
        return;
      case 'malformed':
        entry.outcome = 'fault';
        await writeChunk(
          response,
          formatSseEvent('content_block_delta', '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"cut'),
          signal,
        );
        response.end();
        return;
      case 'streamError': {
        const type = fault.errorType ?? 'overloaded_error';
        entry.outcome = 'fault';
        entry.errorType = type;
        await writeChunk(
          response,
          formatJsonSseEvent({ type: 'error', error: { type, message: fault.message ?? defaultErrorMessage(type) } }),
          signal,
        );
        response.end();
        return;
      }
      case 'noStop':
        entry.outcome = 'fault';
        response.end();
        return;
      case 'endlessLine': {
        // Left pending: the 'close' listener records whether the client hung up.
        const filler = FILLER_LINE.replace('\n', ' ').repeat(Math.ceil(FLOOD_WRITE_BYTES / FILLER_LINE.length));
        let more = await writeChunk(response, 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"', signal);
        while (more) more = await writeChunk(response, filler, signal);
        return;
      }
      default:
        entry.outcome = 'completed';
        response.end();
    }
  }

  /**
   * The `flood` fault: the reply's own `message_start`, then one block of
   * identical filler deltas, endless or until `totalChars`, then a normal end.
   * Each delta's event is serialized once and written in awaited batches.
   */
  private async sendFlood(entry: RecordedRequest, response: ServerResponse, fault: FloodFault, events: ScriptedEvent[], signal: AbortSignal): Promise<void> {
    // Left pending while it streams: the 'close' listener records whether the client hung up.
    const { block } = fault;
    // Whole filler lines per delta, so a JSON-escaped filler is never cut inside an escape.
    const line = block.type === 'toolInput' ? JSON.stringify(FILLER_LINE).slice(1, -1) : FILLER_LINE;
    const deltaText = line.repeat(Math.max(1, Math.round((fault.deltaChars ?? DEFAULT_FLOOD_DELTA_CHARS) / line.length)));
    const deltaEvent = formatJsonSseEvent(block.type === 'pings' ? { type: 'ping' } : floodDelta(block, deltaText));
    const batch = deltaEvent.repeat(Math.max(1, Math.floor(FLOOD_WRITE_BYTES / deltaEvent.length)));
    const deltasPerBatch = batch.length / deltaEvent.length;

    const opening = [events[0], floodBlockStart(block), { type: 'ping' as const }];
    if (block.type === 'toolInput') opening.push(floodDelta(block, ''), floodDelta(block, block.inputBefore));
    if (!(await writeChunk(response, opening.map((event) => (event === undefined ? '' : formatJsonSseEvent(event))).join(''), signal))) return;

    const totalDeltas = fault.totalChars === undefined || block.type === 'pings' ? Number.POSITIVE_INFINITY : Math.ceil(fault.totalChars / deltaText.length);
    let sentDeltas = 0;
    while (sentDeltas < totalDeltas) {
      const remaining = totalDeltas - sentDeltas;
      const chunk = remaining >= deltasPerBatch ? batch : deltaEvent.repeat(remaining);
      if (!(await writeChunk(response, chunk, signal))) return;
      sentDeltas += remaining >= deltasPerBatch ? deltasPerBatch : remaining;
    }

    const closing: ScriptedEvent[] = [];
    if (block.type === 'toolInput') closing.push(floodDelta(block, block.inputAfter));
    closing.push({ type: 'content_block_stop', index: 0 });
    const planned = events.find((event) => event.type === 'message_delta');
    if (planned?.type === 'message_delta') {
      closing.push({
        type: 'message_delta',
        delta: { ...planned.delta, stop_reason: block.type === 'toolInput' ? 'tool_use' : 'end_turn' },
        usage: { ...planned.usage, output_tokens: Math.ceil((sentDeltas * deltaText.length) / 4) },
      });
    }
    closing.push({ type: 'message_stop' });
    if (!(await writeChunk(response, closing.map((event) => formatJsonSseEvent(event)).join(''), signal))) return;
    entry.outcome = 'completed';
    response.end();
  }

  /** Waits between events, sending keep-alive pings on long waits as the real API does. */
  private async pauseWithPings(ms: number, response: ServerResponse, signal: AbortSignal): Promise<boolean> {
    let remaining = ms;
    while (remaining > 0) {
      const step = Math.min(remaining, this.pingIntervalMs);
      if (!(await sleep(step, signal))) return false;
      remaining -= step;
      if (remaining > 0 && !(await writeChunk(response, formatJsonSseEvent({ type: 'ping' }), signal))) return false;
    }
    return true;
  }

  /** Waits for `until` to settle, sending a ping every `pingIntervalMs` meanwhile; false if the exchange ended first. */
  private async holdWithPings(until: Promise<unknown>, response: ServerResponse, signal: AbortSignal): Promise<boolean> {
    let settled = false;
    const done = until.then(
      () => (settled = true),
      () => (settled = true),
    );
    while (!settled) {
      await Promise.race([done, sleep(this.pingIntervalMs, signal)]);
      if (signal.aborted) return false;
      if (!settled && !(await writeChunk(response, formatJsonSseEvent({ type: 'ping' }), signal))) return false;
    }
    return true;
  }

  private sendError(entry: RecordedRequest, response: ServerResponse, error: ErrorReply): void {
    const requestId = randomId('req');
    const payload = JSON.stringify({
      type: 'error',
      error: {
        type: error.type,
        message: error.message,
        ...(error.errorCode === undefined ? {} : { details: { error_code: error.errorCode } }),
      },
      request_id: requestId,
    });
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
      'request-id': requestId,
    };
    if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
    entry.outcome = 'error-status';
    entry.status = error.status;
    entry.errorType = error.type;
    response.writeHead(error.status, headers);
    response.end(payload);
  }
}

/** Starts a fake on 127.0.0.1 and resolves once it accepts connections. */
export async function startFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const fake = new FakeAnthropicServer(options);
  await fake.listen();
  return fake;
}
