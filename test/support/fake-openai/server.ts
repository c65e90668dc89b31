/**
 * A fake of the OpenAI Chat Completions API (`POST /v1/chat/completions`)
 * over HTTP on loopback, written from OpenAI's API reference, close enough
 * that the real `openai` SDK cannot tell:
 * - streamed answers as `data:` lines of `chat.completion.chunk` objects (no
 *   `event:` names): the role first, text deltas, tool calls opened with
 *   their id and name and their JSON arguments streamed in pieces keyed by
 *   `index`, a chunk with the `finish_reason`, then, when
 *   `stream_options.include_usage` is set, every chunk carries `"usage": null`
 *   and a last chunk with no choices carries the usage; `data: [DONE]` ends it;
 * - usage with `prompt_tokens_details.cached_tokens` from automatic prefix
 *   caching as OpenAI documents it (prefix-cache.ts);
 * - requests checked as the API checks them: a model, messages whose `tool`
 *   messages answer every call of the assistant message just before them,
 *   function tools, `stream_options` only with `stream`, not both
 *   `max_tokens` and `max_completion_tokens`, no unknown parameters;
 * - errors in OpenAI's shape `{ error: { message, type, param, code } }`:
 *   401 `invalid_api_key` (the key masked, as OpenAI does), 429 with
 *   `retry-after`, 400, 404;
 * - scripted faults (status, stall, dropped socket, an `error` in the stream,
 *   a stream that ends without a finish reason) and holds on a gate.
 * Every request is logged without its credentials, with what became of it
 * (`aborted-by-client` when the client hung up first).
 *
 * The legacy Completions API (`POST /v1/completions`) too, as llama.cpp's
 * server and vLLM offer it for fill-in-the-middle: `prompt` and `suffix`
 * (the responder reads both), `stop` honoured (the text is cut before the
 * first stop sequence and finishes with `stop`), streamed as `data:` lines of
 * `text_completion` objects with `choices[0].text`, a last choice with the
 * `finish_reason`, the usage chunk when `stream_options.include_usage` is
 * set, and `data: [DONE]`; the same errors and faults as chat.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { PrefixCache, renderPrompt } from './prefix-cache.js';
import { waitOrAbort, writeChunk } from '../fake-http.js';

export interface FakeToolCall {
  name: string;
  /** Sent as JSON text, in pieces; a string is sent as it is (to send malformed arguments). */
  arguments: unknown;
  /** @default a fresh `call_…` id */
  id?: string;
}

export type FakeOpenAIFault =
  /** An error response instead of an answer. */
  | { kind: 'status'; status: number; message?: string; type?: string; code?: string; retryAfterSeconds?: number }
  /** Sends N chunks, then goes silent until the client hangs up or the fake closes. */
  | { kind: 'stall'; afterChunks: number }
  /** Destroys the socket after N chunks. */
  | { kind: 'drop'; afterChunks: number }
  /** After N chunks, a chunk holding `error` (as the API sends a failure mid-stream), then the end. */
  | { kind: 'streamError'; afterChunks: number; message?: string }
  /** Everything but the chunk with the finish reason, then `[DONE]`. */
  | { kind: 'noFinish' };

export interface FakeChatReply {
  /** The answer's text; an array gives the content deltas exactly as sent. */
  text?: string | string[];
  toolCalls?: FakeToolCall[];
  /** @default 'tool_calls' with tool calls, else 'stop' */
  finishReason?: 'stop' | 'length' | 'tool_calls' | 'content_filter';
  /** Tool-call pieces without their `index`, as some compatible servers send them (the id opens a call). */
  omitToolCallIndex?: boolean;
  /** Holds the answer until `until` settles: before the headers, or after `afterChunks` chunks. */
  hold?: { until: Promise<unknown>; afterChunks?: number };
  fault?: FakeOpenAIFault;
}

export type RequestOutcome = 'pending' | 'completed' | 'error-status' | 'aborted-by-client' | 'fault';

export interface RecordedUsage {
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
}

export interface RecordedChatRequest {
  index: number;
  method: string;
  path: string;
  /** Lower-cased; `authorization` and `api-key` replaced by '[present]'. */
  headers: Record<string, string>;
  apiKeyMatched: boolean;
  body: ChatBody;
  rawBytes: number;
  /** Wall-clock ms when it arrived: only for lower bounds ("not before the retry-after"), never for timing. */
  receivedAt: number;
  outcome: RequestOutcome;
  status?: number;
  /** The `error.message` of an error response. */
  errorMessage?: string;
  usage?: RecordedUsage;
}

export interface ChatMessage {
  role: string;
  content?: string | null | Array<{ type: string; text?: string }>;
  tool_calls?: Array<{ id: string; type: string; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
}

export interface ChatBody {
  model?: string;
  messages?: ChatMessage[];
  tools?: Array<{ type: string; function?: { name?: string; description?: string; parameters?: unknown } }>;
  tool_choice?: unknown;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
  max_completion_tokens?: number;
  [key: string]: unknown;
}

export type ChatResponder = (request: RecordedChatRequest) => FakeChatReply;

export interface FakeOpenAIOptions {
  /** When set, a request with another bearer key gets 401 `invalid_api_key`. */
  apiKey?: string;
  respond?: ChatResponder;
  /** Clock for the prefix cache's expiry. @default Date.now */
  now?: () => number;
  /** Bound on cached prefix blocks. @default 100000 */
  maxCacheEntries?: number;
  /** Bound on `requests`. @default 1000 */
  maxLoggedRequests?: number;
  /** Tool-call arguments go out in pieces of this many characters. @default 24 */
  argumentPieceChars?: number;
}

export interface FakeOpenAI {
  /** e.g. http://127.0.0.1:PORT/v1 — the SDK's `baseURL`. */
  baseURL: string;
  requests: RecordedChatRequest[];
  queueReplies(...replies: FakeChatReply[]): void;
  respondWith(responder: ChatResponder): void;
  resetCache(): void;
  close(): Promise<void>;
}

const chatPath = '/v1/chat/completions';
const completionsPath = '/v1/completions';
const knownCompletionParameters = new Set([
  'model', 'prompt', 'suffix', 'max_tokens', 'temperature', 'top_p', 'n', 'stream', 'stream_options', 'logprobs', 'echo', 'stop', 'presence_penalty',
  'frequency_penalty', 'best_of', 'logit_bias', 'user', 'seed',
]);
const maxRequestBytes = 32 * 1024 * 1024;
const knownParameters = new Set([
  'model', 'messages', 'tools', 'tool_choice', 'parallel_tool_calls', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'n',
  'stop', 'presence_penalty', 'frequency_penalty', 'logit_bias', 'logprobs', 'top_logprobs', 'user', 'seed', 'response_format', 'service_tier', 'store', 'metadata',
  'reasoning_effort', 'prediction', 'modalities', 'audio', 'prompt_cache_key', 'safety_identifier', 'verbosity', 'web_search_options',
]);
const roles = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

const randomTail = (length: number): string => randomBytes(length).toString('base64url').replace(/[-_]/g, 'x').slice(0, length);

/** How OpenAI shows a refused key: its start and its last four characters. */
function maskedKey(key: string): string {
  return key.length <= 8 ? '***' : `${key.slice(0, 3)}${'*'.repeat(Math.min(20, key.length - 7))}${key.slice(-4)}`;
}

/** The first reason the API would refuse this body, if any. */
function invalidRequest(body: ChatBody): { message: string; param: string | null } | undefined {
  for (const key of Object.keys(body)) if (!knownParameters.has(key)) return { message: `Unrecognized request argument supplied: ${key}`, param: null };
  if (typeof body.model !== 'string' || body.model === '') return { message: 'you must provide a model parameter', param: null };
  if (!Array.isArray(body.messages) || body.messages.length === 0) return { message: "Invalid 'messages': empty array. Expected an array with minimum length 1.", param: 'messages' };
  if (body.stream_options !== undefined && body.stream !== true) return { message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param: 'stream_options' };
  if (body.max_tokens !== undefined && body.max_completion_tokens !== undefined) {
    return { message: "Invalid request: 'max_tokens' and 'max_completion_tokens' cannot both be set.", param: 'max_tokens' };
  }
  if (body.tool_choice !== undefined && (body.tools === undefined || body.tools.length === 0)) {
    return { message: "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", param: 'tool_choice' };
  }
  for (const [index, tool] of (body.tools ?? []).entries()) {
    if (tool.type !== 'function' || typeof tool.function?.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(tool.function.name)) {
      return { message: `Invalid 'tools[${index}]': expected a function tool with a name of letters, digits, '_' or '-'.`, param: `tools[${index}]` };
    }
    const parameters = tool.function.parameters;
    if (parameters !== undefined && (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters))) {
      return { message: `Invalid 'tools[${index}].function.parameters': expected an object.`, param: `tools[${index}].function.parameters` };
    }
  }
  let unanswered: string[] = [];
  for (const [index, message] of body.messages.entries()) {
    if (!roles.has(message.role)) return { message: `Invalid value: '${String(message.role)}'. Supported values are: 'system', 'assistant', 'user', 'tool', 'function', and 'developer'.`, param: `messages[${index}].role` };
    if (message.role === 'tool') {
      if (typeof message.tool_call_id !== 'string' || !unanswered.includes(message.tool_call_id)) {
        return { message: "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.", param: `messages.[${index}].role` };
      }
      unanswered = unanswered.filter((id) => id !== message.tool_call_id);
      continue;
    }
    if (unanswered.length > 0) {
      return {
        message: `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${unanswered.join(', ')}`,
        param: `messages.[${index}].role`,
      };
    }
    if (message.role === 'assistant') {
      const calls = message.tool_calls ?? [];
      if ((message.content === null || message.content === undefined) && calls.length === 0) return { message: `Invalid value for 'content': expected a string, got null.`, param: `messages.[${index}].content` };
      for (const call of calls) {
        if (typeof call.id !== 'string' || call.type !== 'function' || typeof call.function?.arguments !== 'string') {
          return { message: `Invalid 'messages[${index}].tool_calls': each needs an id, type 'function' and arguments as a string.`, param: `messages.[${index}].tool_calls` };
        }
      }
      unanswered = calls.map((call) => call.id);
    } else if (message.content === null || message.content === undefined) {
      return { message: `Invalid value for 'content': expected a string, got null.`, param: `messages.[${index}].content` };
    }
  }
  if (unanswered.length > 0) {
    return { message: `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${unanswered.join(', ')}`, param: 'messages' };
  }
  return undefined;
}

/** The first reason the Completions API would refuse this body, if any. */
function invalidCompletionRequest(body: ChatBody): { message: string; param: string | null } | undefined {
  for (const key of Object.keys(body)) if (!knownCompletionParameters.has(key)) return { message: `Unrecognized request argument supplied: ${key}`, param: null };
  if (typeof body.model !== 'string' || body.model === '') return { message: 'you must provide a model parameter', param: null };
  if (typeof body['prompt'] !== 'string') return { message: "Invalid type for 'prompt': expected a string.", param: 'prompt' };
  if (body['suffix'] !== undefined && body['suffix'] !== null && typeof body['suffix'] !== 'string') return { message: "Invalid type for 'suffix': expected a string.", param: 'suffix' };
  if (body.stream_options !== undefined && body.stream !== true) return { message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param: 'stream_options' };
  const stop = body['stop'];
  if (Array.isArray(stop) && stop.length > 4) return { message: "Invalid 'stop': array too long. Expected an array with maximum length 4.", param: 'stop' };
  return undefined;
}

/** The text cut before the first stop sequence, as the server stops generating there. */
function cutAtStop(text: string, stop: unknown): { text: string; stopped: boolean } {
  const sequences = typeof stop === 'string' ? [stop] : Array.isArray(stop) ? stop.filter((item): item is string => typeof item === 'string' && item !== '') : [];
  const at = Math.min(...sequences.map((sequence) => text.indexOf(sequence)).filter((index) => index >= 0));
  return Number.isFinite(at) ? { text: text.slice(0, at), stopped: true } : { text, stopped: false };
}

class FakeOpenAIServer implements FakeOpenAI {
  baseURL = '';
  readonly requests: RecordedChatRequest[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly exchanges = new Set<AbortController>();
  private readonly scripted: FakeChatReply[] = [];
  private readonly cache: PrefixCache;
  private responder: ChatResponder;
  private received = 0;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: FakeOpenAIOptions) {
    this.responder = options.respond ?? (() => ({ text: 'OK.' }));
    this.cache = new PrefixCache({ maxEntries: options.maxCacheEntries ?? 100_000, now: options.now ?? Date.now });
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
    if (address === null || typeof address === 'string') throw new Error('fake-openai: no TCP address');
    this.baseURL = `http://127.0.0.1:${address.port}/v1`;
  }

  queueReplies(...replies: FakeChatReply[]): void {
    this.scripted.push(...replies);
  }

  respondWith(responder: ChatResponder): void {
    this.responder = responder;
  }

  resetCache(): void {
    this.cache.clear();
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
    let entry: RecordedChatRequest | undefined;
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
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers[name] = name === 'authorization' || name === 'api-key' ? '[present]' : Array.isArray(value) ? value.join(', ') : value;
    }
    const authorization = request.headers.authorization;
    const presented = authorization?.startsWith('Bearer ') === true ? authorization.slice('Bearer '.length) : undefined;
    let body: ChatBody = {};
    let unreadable: string | undefined;
    try {
      const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as ChatBody;
      else unreadable = 'We could not parse the JSON body of your request.';
    } catch {
      unreadable = 'We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly.)';
    }
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    entry = {
      index: this.received++,
      method: request.method ?? 'GET',
      path: url.pathname,
      headers,
      apiKeyMatched: this.options.apiKey === undefined || presented === this.options.apiKey,
      body,
      rawBytes: size,
      receivedAt: Date.now(),
      outcome: 'pending',
    };
    this.requests.push(entry);
    if (this.requests.length > (this.options.maxLoggedRequests ?? 1000)) this.requests.shift();

    const completions = url.pathname === completionsPath;
    if (request.method !== 'POST' || (url.pathname !== chatPath && !completions)) {
      this.sendError(entry, response, 404, { message: `Invalid URL (${request.method ?? 'GET'} ${url.pathname})`, type: 'invalid_request_error', param: null, code: null });
      return;
    }
    if (!entry.apiKeyMatched) {
      const shown = presented === undefined ? 'none' : maskedKey(presented);
      this.sendError(entry, response, 401, {
        message: `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      });
      return;
    }
    if (size > maxRequestBytes || unreadable !== undefined) {
      this.sendError(entry, response, 400, { message: unreadable ?? 'Request too large.', type: 'invalid_request_error', param: null, code: null });
      return;
    }
    const invalid = completions ? invalidCompletionRequest(body) : invalidRequest(body);
    if (invalid !== undefined) {
      this.sendError(entry, response, 400, { message: invalid.message, type: 'invalid_request_error', param: invalid.param, code: null });
      return;
    }
    const reply = this.scripted.shift() ?? this.responder(entry);
    const { fault, hold } = reply;
    if (hold !== undefined && hold.afterChunks === undefined && !(await waitOrAbort(hold.until, exchange.signal))) return;
    if (fault?.kind === 'status') {
      const statusHeaders: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      this.sendError(
        entry,
        response,
        fault.status,
        {
          message: fault.message ?? (fault.status === 429 ? `Rate limit reached for ${body.model ?? 'the model'} on tokens per min (TPM). Please try again in ${fault.retryAfterSeconds ?? 1}s.` : 'The server had an error while processing your request. Sorry about that!'),
          type: fault.type ?? (fault.status === 429 ? 'tokens' : 'server_error'),
          param: null,
          code: fault.code ?? (fault.status === 429 ? 'rate_limit_exceeded' : null),
        },
        statusHeaders,
      );
      return;
    }
    if (completions) {
      await this.streamCompletion(entry, response, reply, exchange.signal);
      return;
    }
    const usage = this.account(entry, reply);
    if (body.stream !== true) {
      this.sendCompletion(entry, response, reply, usage);
      return;
    }
    await this.stream(entry, response, reply, usage, exchange.signal);
  }

  /** A legacy Completions answer, streamed (the SDK's `completions.create` with `stream: true`); only `text`, `finishReason`, `hold` and `fault` apply. */
  private async streamCompletion(entry: RecordedChatRequest, response: ServerResponse, reply: FakeChatReply, signal: AbortSignal): Promise<void> {
    const body = entry.body;
    const pieces = [reply.text ?? []].flat();
    const { text, stopped } = cutAtStop(pieces.join(''), body['stop']);
    // The pieces as sent, each cut to what is left before the stop.
    const sent: string[] = [];
    let left = text.length;
    for (const piece of pieces) {
      if (left <= 0) break;
      sent.push(piece.slice(0, left));
      left -= piece.length;
    }
    const prompt = `${String(body['prompt'] ?? '')}${String(body['suffix'] ?? '')}`;
    const usage: RecordedUsage = { prompt_tokens: Math.max(1, Math.ceil(Buffer.byteLength(prompt) / 4)), completion_tokens: Math.ceil(Buffer.byteLength(text) / 4), cached_tokens: 0 };
    entry.usage = usage;
    const fields = { id: `cmpl-${randomTail(29)}`, object: 'text_completion', created: Math.floor(Date.now() / 1000), model: body.model, system_fingerprint: 'fp_efrit0fake' };
    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (piece: string, finishReason: string | null): string =>
      `data: ${JSON.stringify({ ...fields, choices: [{ text: piece, index: 0, logprobs: null, finish_reason: finishReason }], ...(includeUsage ? { usage: null } : {}) })}\n\n`;
    const events = sent.filter((piece) => piece !== '').map((piece) => chunk(piece, null));
    const { fault, hold } = reply;
    if (fault?.kind !== 'noFinish') events.push(chunk('', stopped ? 'stop' : (reply.finishReason ?? 'stop')));
    if (includeUsage) {
      const { prompt_tokens, completion_tokens } = usage;
      events.push(`data: ${JSON.stringify({ ...fields, choices: [], usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens } })}\n\n`);
    }
    events.push('data: [DONE]\n\n');
    entry.status = 200;
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': `req_${randomTail(24)}` });
    const cutoff = fault !== undefined && 'afterChunks' in fault ? fault.afterChunks : events.length;
    for (const [index, event] of events.entries()) {
      if (hold?.afterChunks === index && !(await waitOrAbort(hold.until, signal))) return;
      if (index === cutoff) break;
      if (!(await writeChunk(response, event, signal))) return;
    }
    if (fault?.kind === 'stall') {
      await waitOrAbort(new Promise(() => undefined), signal);
      return;
    }
    entry.outcome = fault === undefined ? 'completed' : 'fault';
    response.end();
  }

  private account(entry: RecordedChatRequest, reply: FakeChatReply): RecordedUsage {
    const { promptTokens, cachedTokens } = this.cache.account(renderPrompt(entry.body));
    const generated = [...[reply.text ?? []].flat(), ...(reply.toolCalls ?? []).map((call) => argumentsText(call))].join('');
    const usage = { prompt_tokens: promptTokens, completion_tokens: Math.ceil(Buffer.byteLength(generated) / 4), cached_tokens: cachedTokens };
    entry.usage = usage;
    return usage;
  }

  private sendError(entry: RecordedChatRequest, response: ServerResponse, status: number, error: Record<string, unknown>, extraHeaders: Record<string, string> = {}): void {
    entry.outcome = 'error-status';
    entry.status = status;
    entry.errorMessage = String(error['message']);
    response.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_${randomTail(24)}`, ...extraHeaders });
    response.end(JSON.stringify({ error }));
  }

  private completionFields(entry: RecordedChatRequest): Record<string, unknown> {
    return { id: `chatcmpl-${randomTail(29)}`, created: Math.floor(Date.now() / 1000), model: entry.body.model, system_fingerprint: 'fp_efrit0fake', service_tier: 'default' };
  }

  private sendCompletion(entry: RecordedChatRequest, response: ServerResponse, reply: FakeChatReply, usage: RecordedUsage): void {
    const toolCalls = (reply.toolCalls ?? []).map((call) => ({ id: call.id ?? `call_${randomTail(24)}`, type: 'function', function: { name: call.name, arguments: argumentsText(call) } }));
    const text = [reply.text ?? []].flat().join('');
    entry.outcome = 'completed';
    entry.status = 200;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        ...this.completionFields(entry),
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text, refusal: null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) }, logprobs: null, finish_reason: finishReasonOf(reply) }],
        usage: usageObject(usage),
      }),
    );
  }

  private async stream(entry: RecordedChatRequest, response: ServerResponse, reply: FakeChatReply, usage: RecordedUsage, signal: AbortSignal): Promise<void> {
    const fields = this.completionFields(entry);
    const includeUsage = entry.body.stream_options?.include_usage === true;
    const chunk = (delta: Record<string, unknown>, finishReason: string | null = null): string =>
      `data: ${JSON.stringify({ ...fields, object: 'chat.completion.chunk', choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }], ...(includeUsage ? { usage: null } : {}) })}\n\n`;
    const events: string[] = [chunk({ role: 'assistant', content: '', refusal: null })];
    for (const piece of [reply.text ?? []].flat()) if (piece !== '') events.push(chunk({ content: piece }));
    const pieceChars = this.options.argumentPieceChars ?? 24;
    for (const [index, call] of (reply.toolCalls ?? []).entries()) {
      const position = reply.omitToolCallIndex === true ? {} : { index };
      events.push(chunk({ tool_calls: [{ ...position, id: call.id ?? `call_${randomTail(24)}`, type: 'function', function: { name: call.name, arguments: '' } }] }));
      const args = argumentsText(call);
      for (let at = 0; at < args.length; at += pieceChars) events.push(chunk({ tool_calls: [{ ...position, function: { arguments: args.slice(at, at + pieceChars) } }] }));
    }
    const { fault, hold } = reply;
    if (fault?.kind !== 'noFinish') events.push(chunk({}, finishReasonOf(reply)));
    if (includeUsage) events.push(`data: ${JSON.stringify({ ...fields, object: 'chat.completion.chunk', choices: [], usage: usageObject(usage) })}\n\n`);
    events.push('data: [DONE]\n\n');

    entry.status = 200;
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': `req_${randomTail(24)}` });
    const cutoff = fault !== undefined && 'afterChunks' in fault ? fault.afterChunks : events.length;
    for (const [index, event] of events.entries()) {
      if (hold?.afterChunks === index && !(await waitOrAbort(hold.until, signal))) return;
      if (index === cutoff) break;
      if (!(await writeChunk(response, event, signal))) return;
    }
    if (fault?.kind === 'stall') {
      entry.outcome = 'pending';
      await waitOrAbort(new Promise(() => undefined), signal);
      return;
    }
    if (fault?.kind === 'drop') {
      entry.outcome = 'fault';
      response.destroy();
      return;
    }
    if (fault?.kind === 'streamError') {
      entry.outcome = 'fault';
      await writeChunk(response, `data: ${JSON.stringify({ error: { message: fault.message ?? 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } })}\n\n`, signal);
      response.end();
      return;
    }
    entry.outcome = fault === undefined ? 'completed' : 'fault';
    response.end();
  }
}

function argumentsText(call: FakeToolCall): string {
  return typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments);
}

function finishReasonOf(reply: FakeChatReply): string {
  return reply.finishReason ?? ((reply.toolCalls ?? []).length > 0 ? 'tool_calls' : 'stop');
}

function usageObject(usage: RecordedUsage): Record<string, unknown> {
  return {
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    total_tokens: usage.prompt_tokens + usage.completion_tokens,
    prompt_tokens_details: { cached_tokens: usage.cached_tokens, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const server = new FakeOpenAIServer(options);
  await server.listen();
  return server;
}
