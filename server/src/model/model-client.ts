/**
 * A thin wrapper over `@anthropic-ai/sdk`: one streamed Messages call with an
 * AbortSignal, a stall watchdog, usage accounting and one error type.
 *
 * Why the wrapper does what the SDK does not:
 * - the SDK's `timeout` covers only the wait for response headers, so a stream
 *   that goes quiet would hang forever; the watchdog here sees every byte
 *   (pings included) through a wrapped `fetch` and aborts after `stallMs`;
 * - the SDK's own retries are off (`maxRetries: 0`): the job queue owns the
 *   one shared backoff, and two layers of retries would multiply;
 * - the SDK's default logger writes to stdout, which is the LSP channel;
 * - a stream that ends without `message_stop` is an incomplete answer, which
 *   the SDK's iterator reports as a normal end;
 * - nothing bounds what a response may bring in: the real API stops at
 *   `max_tokens`, but a gateway, a proxy or another provider need not. Each
 *   call is held to `replyBounds(maxTokens)` (content, wire bytes, one event's
 *   line) and stopped past it with a `tooLarge` error.
 * The SDK module is loaded on the first call, not at start-up, so `initialize`
 * never waits for it.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { MessageCreateParamsStreaming, MessageParam, TextBlockParam, Tool, ToolChoice } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { EfritError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { SecretRedactor } from '../common/redaction.js';
import { mapModelError } from './map-error.js';
import { emptyCallUsage, type CallUsage } from './usage-meter.js';

export interface Credentials {
  apiKey: string | undefined;
  baseURL: string | undefined;
}

export interface ModelRequest {
  model: string;
  maxTokens: number;
  system: TextBlockParam[];
  messages: MessageParam[];
  tools?: Tool[];
  toolChoice?: ToolChoice;
}

export interface ToolCall {
  id: string;
  name: string;
  input: unknown;
}

export interface ModelReply {
  text: string;
  toolCalls: ToolCall[];
  stopReason: string | null;
  usage: CallUsage;
  /** The assistant turn as the API returned it, to append to a conversation. */
  assistantMessage: MessageParam;
}

export interface StreamObserver {
  onText?(delta: string): void;
  onToolStart?(name: string): void;
  /** First byte of the response: the job is no longer waiting on the network. */
  onResponseStarted?(): void;
}

export interface CallOptions {
  signal: AbortSignal;
  stallMs: number;
  observer?: StreamObserver;
}

type SdkModule = typeof import('@anthropic-ai/sdk');

let sdkModule: Promise<SdkModule> | undefined;
function loadSdk(): Promise<SdkModule> {
  sdkModule ??= import('@anthropic-ai/sdk');
  return sdkModule;
}

/**
 * Characters of content (text, thinking, tool-input JSON) one output token may
 * bring. A token averages 3–4 characters of code or prose; the longest ones
 * (runs of spaces, of `=` or `-`) reach 16–32, and a whole answer of them does
 * not happen, so 32 is about 8× any real answer and still bounds what a call
 * can hold: 128K characters at the default 4096 tokens, 4M at the 128K maximum.
 */
export const maxCharsPerToken = 32;
/**
 * Response bytes per output token on the wire: one SSE delta event is ~110
 * bytes of framing plus its text, and 32 characters JSON-escaped twice (tool
 * input inside the event's JSON) are at most ~400 more. 1 KiB is twice that.
 */
const responseBytesPerToken = 1024;
/** Bytes any response may have besides its tokens: message_start, usage, keep-alive pings, an error body. */
const fixedResponseBytes = 1024 * 1024;
/**
 * One SSE line: the SDK's parser holds a line whole until it ends, so a line
 * that never ends would grow without bound. The real API's longest line is a
 * `message_start` of about 1 KB.
 */
const maxLineBytes = 1024 * 1024;

export interface ReplyBounds {
  /** Text, thinking and tool-input JSON together, in UTF-16 characters. */
  maxContentChars: number;
  /** The whole response body on the wire, pings and framing included. */
  maxResponseBytes: number;
  /** One line of the response body. */
  maxLineBytes: number;
}

/** What one call with this `max_tokens` may bring in. */
export function replyBounds(maxTokens: number): ReplyBounds {
  const tokens = Math.max(1, maxTokens);
  return { maxContentChars: tokens * maxCharsPerToken, maxResponseBytes: fixedResponseBytes + tokens * responseBytesPerToken, maxLineBytes };
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / (1024 * 1024))} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

const checkEndpoint = 'Check that efrit.baseURL (or ANTHROPIC_BASE_URL) is a Messages API that honours max_tokens.';

function answerTooLarge(maxTokens: number, what: string): EfritError {
  return new EfritError('tooLarge', `The model's answer grew past what efrit.maxTokens (${maxTokens}) allows (${what}); it was stopped and nothing was applied. ${checkEndpoint}`);
}

/** Restarts a timer on every call to `touch`; fires `onStall` when it runs out. */
class StallWatchdog {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stallMs: number,
    private readonly onStall: () => void,
  ) {}

  touch(): void {
    if (this.timer === undefined) {
      this.timer = setTimeout(this.onStall, this.stallMs);
      this.timer.unref();
    } else {
      this.timer.refresh();
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}

interface FetchWatch {
  /** The network to go through (proxies, CA bundle): see network.ts. */
  fetch: typeof fetch;
  watchdog: StallWatchdog;
  countRequestBytes(bytes: number): void;
  onResponse(): void;
  bounds: ReplyBounds;
  maxTokens: number;
  /** Stops the call with this error: aborts the HTTP request and is what the call throws. */
  halt(error: EfritError): void;
}

const lineFeed = 0x0a;
const carriageReturn = 0x0d;

/**
 * Counts request bytes, reports every response byte to the watchdog, and holds
 * the response body to its byte bounds before the SDK's parser buffers any of it.
 */
function watchedFetch(watch: FetchWatch): typeof fetch {
  const { watchdog, bounds } = watch;
  return async (input, init) => {
    const body = init?.body;
    if (typeof body === 'string') watch.countRequestBytes(Buffer.byteLength(body));
    watchdog.touch();
    const response = await watch.fetch(input, init);
    watchdog.touch();
    watch.onResponse();
    if (response.body === null) return response;
    let received = 0;
    let lineBytes = 0;
    const observed = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          watchdog.touch();
          received += chunk.byteLength;
          const lineEnd = Math.max(chunk.lastIndexOf(lineFeed), chunk.lastIndexOf(carriageReturn));
          lineBytes = lineEnd < 0 ? lineBytes + chunk.byteLength : chunk.byteLength - lineEnd - 1;
          let error: EfritError | undefined;
          if (received > bounds.maxResponseBytes) error = answerTooLarge(watch.maxTokens, `more than ${formatBytes(bounds.maxResponseBytes)} on the wire`);
          else if (lineBytes > bounds.maxLineBytes) error = answerTooLarge(watch.maxTokens, `one stream event of more than ${formatBytes(bounds.maxLineBytes)}`);
          if (error === undefined) {
            controller.enqueue(chunk);
            return;
          }
          watch.halt(error);
          controller.error(error);
        },
      }),
    );
    return new Response(observed, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

const sdkLogLevel = 'warn' as const;

export class ModelClient {
  /** Every key a call was made with: an error body that echoes one is redacted before its message is cut short. */
  private readonly keys = new SecretRedactor();

  constructor(
    private readonly credentials: () => Credentials,
    private readonly logger: Logger,
    /** How requests reach the API: `Network.fetch` (proxies, `tls.caFile`), or the built-in fetch. */
    private readonly network: typeof fetch = fetch,
  ) {}

  /** True when a model call could be attempted at all. */
  hasApiKey(): boolean {
    const key = this.credentials().apiKey;
    return key !== undefined && key !== '';
  }

  async call(request: ModelRequest, options: CallOptions): Promise<ModelReply> {
    const { apiKey, baseURL } = this.credentials();
    if (apiKey === undefined || apiKey === '') {
      throw new EfritError(
        'noApiKey',
        'No API key: set ANTHROPIC_API_KEY in the environment that starts the server, or the efrit.apiKey setting.',
      );
    }
    options.signal.throwIfAborted();
    this.keys.add(apiKey);
    const usage = emptyCallUsage();
    // Aborted by the call itself (stalled, too large), with the error the call then throws.
    const halted = new AbortController();
    const halt = (error: EfritError): void => halted.abort(error);
    const watchdog = new StallWatchdog(options.stallMs, () =>
      halt(new EfritError('stalled', `The model stream went quiet for ${Math.round(options.stallMs / 1000)} s and was stopped. Try again.`)),
    );
    const signal = AbortSignal.any([options.signal, halted.signal]);
    const bounds = replyBounds(request.maxTokens);
    try {
      const { default: AnthropicClient } = await loadSdk();
      const client: Anthropic = new AnthropicClient({
        apiKey,
        baseURL: baseURL === undefined || baseURL === '' ? null : baseURL,
        maxRetries: 0,
        // Longer than the watchdog, which already covers the wait for headers: a silent API is "stalled", named after its setting.
        timeout: options.stallMs * 2,
        logLevel: sdkLogLevel,
        logger: {
          error: (message: string) => this.logger.warn(`SDK: ${message}`),
          warn: (message: string) => this.logger.warn(`SDK: ${message}`),
          info: (message: string) => this.logger.debug(`SDK: ${message}`),
          debug: (message: string) => this.logger.debug(`SDK: ${message}`),
        },
        fetch: watchedFetch({
          fetch: this.network,
          watchdog,
          countRequestBytes: (bytes) => {
            usage.requestBytes += bytes;
          },
          onResponse: () => options.observer?.onResponseStarted?.(),
          bounds,
          maxTokens: request.maxTokens,
          halt,
        }),
      });
      const params: MessageCreateParamsStreaming = {
        model: request.model,
        max_tokens: request.maxTokens,
        system: request.system,
        messages: request.messages,
        stream: true,
        ...(request.tools !== undefined && request.tools.length > 0 ? { tools: request.tools } : {}),
        ...(request.toolChoice !== undefined ? { tool_choice: request.toolChoice } : {}),
      };
      this.logger.debug(`model call: ${request.model}, ${request.messages.length} messages, ${request.tools?.length ?? 0} tools`);
      const stream = await client.messages.create(params, { signal });
      return await this.collect(stream, { usage, observer: options.observer, signal, maxContentChars: bounds.maxContentChars, maxTokens: request.maxTokens, halt });
    } catch (error) {
      if (halted.signal.aborted) throw halted.signal.reason as EfritError;
      if (options.signal.aborted) throw options.signal.reason instanceof EfritError ? options.signal.reason : new EfritError('cancelled', 'Cancelled.');
      throw mapModelError(error, (text) => this.keys.redact(text));
    } finally {
      watchdog.stop();
    }
  }

  private async collect(stream: AsyncIterable<Anthropic.Messages.RawMessageStreamEvent>, call: CollectOptions): Promise<ModelReply> {
    const { usage, observer, signal } = call;
    type Block = { kind: 'text'; text: string } | { kind: 'tool'; id: string; name: string; json: string; input?: unknown } | { kind: 'other'; raw: unknown };
    const blocks: Block[] = [];
    let stopReason: string | null = null;
    let sawStop = false;
    // Everything generated counts, kept or not: what the model may produce is bounded by max_tokens as a whole.
    let contentChars = 0;
    const countContent = (text: string): void => {
      contentChars += text.length;
      if (contentChars > call.maxContentChars) {
        const error = answerTooLarge(call.maxTokens, `more than ${call.maxContentChars.toLocaleString('en-US')} characters`);
        call.halt(error);
        throw error;
      }
    };
    for await (const event of stream) {
      switch (event.type) {
        case 'message_start':
          readUsage(usage, event.message.usage);
          break;
        case 'content_block_start': {
          const block = event.content_block;
          if (block.type === 'text') {
            countContent(block.text);
            blocks[event.index] = { kind: 'text', text: block.text };
          } else if (block.type === 'tool_use') {
            blocks[event.index] = { kind: 'tool', id: block.id, name: block.name, json: '' };
            observer?.onToolStart?.(block.name);
          } else blocks[event.index] = { kind: 'other', raw: block };
          break;
        }
        case 'content_block_delta': {
          const block = blocks[event.index];
          const { delta } = event;
          if (delta.type === 'text_delta') countContent(delta.text);
          else if (delta.type === 'input_json_delta') countContent(delta.partial_json);
          else if (delta.type === 'thinking_delta') countContent(delta.thinking);
          if (delta.type === 'text_delta' && block?.kind === 'text') {
            block.text += delta.text;
            observer?.onText?.(delta.text);
          } else if (delta.type === 'input_json_delta' && block?.kind === 'tool') {
            block.json += delta.partial_json;
          }
          break;
        }
        case 'content_block_stop': {
          const block = blocks[event.index];
          if (block?.kind === 'tool') {
            try {
              block.input = block.json.trim() === '' ? {} : JSON.parse(block.json);
            } catch {
              throw new EfritError('incomplete', `The model's call of "${block.name}" carried malformed arguments; nothing was applied. Try again.`);
            }
          }
          break;
        }
        case 'message_delta':
          stopReason = event.delta.stop_reason ?? stopReason;
          readUsage(usage, event.usage);
          break;
        case 'message_stop':
          sawStop = true;
          break;
      }
    }
    // The SDK ends iteration quietly when our signal aborts it.
    signal.throwIfAborted();
    if (!sawStop) {
      throw new EfritError('incomplete', 'The model stream ended before the answer was complete; nothing was applied. Try again.');
    }
    let text = '';
    const toolCalls: ToolCall[] = [];
    const content: Anthropic.Messages.ContentBlockParam[] = [];
    for (const block of blocks) {
      if (block === undefined) continue;
      if (block.kind === 'text') {
        text += block.text;
        if (block.text !== '') content.push({ type: 'text', text: block.text });
      } else if (block.kind === 'tool') {
        toolCalls.push({ id: block.id, name: block.name, input: block.input });
        content.push({ type: 'tool_use', id: block.id, name: block.name, input: block.input ?? {} });
      }
    }
    return { text, toolCalls, stopReason, usage, assistantMessage: { role: 'assistant', content } };
  }
}

interface CollectOptions {
  usage: CallUsage;
  observer: StreamObserver | undefined;
  signal: AbortSignal;
  maxContentChars: number;
  maxTokens: number;
  halt(error: EfritError): void;
}

interface UsageFields {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

/** Usage in the stream is cumulative: the later event's figures replace the earlier's. */
function readUsage(into: CallUsage, from: UsageFields | null | undefined): void {
  if (from === null || from === undefined) return;
  if (typeof from.input_tokens === 'number') into.inputTokens = from.input_tokens;
  if (typeof from.output_tokens === 'number') into.outputTokens = from.output_tokens;
  if (typeof from.cache_read_input_tokens === 'number') into.cacheReadTokens = from.cache_read_input_tokens;
  if (typeof from.cache_creation_input_tokens === 'number') into.cacheWriteTokens = from.cache_creation_input_tokens;
}
