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
 *   the SDK's iterator reports as a normal end.
 * The SDK module is loaded on the first call, not at start-up, so `initialize`
 * never waits for it.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { MessageCreateParamsStreaming, MessageParam, TextBlockParam, Tool, ToolChoice } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { EfritError } from '../errors.js';
import type { Logger } from '../logger.js';
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

/** Counts request bytes and reports every response byte to the watchdog. */
function watchedFetch(watchdog: StallWatchdog, countBytes: (n: number) => void, onResponse: () => void): typeof fetch {
  return async (input, init) => {
    const body = init?.body;
    if (typeof body === 'string') countBytes(Buffer.byteLength(body));
    watchdog.touch();
    const response = await fetch(input, init);
    watchdog.touch();
    onResponse();
    if (response.body === null) return response;
    const observed = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          watchdog.touch();
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(observed, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

const sdkLogLevel = 'warn' as const;

export class ModelClient {
  constructor(
    private readonly credentials: () => Credentials,
    private readonly logger: Logger,
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
    const usage = emptyCallUsage();
    const stall = new AbortController();
    const watchdog = new StallWatchdog(options.stallMs, () =>
      stall.abort(new EfritError('stalled', `The model stream went quiet for ${Math.round(options.stallMs / 1000)} s and was stopped. Try again.`)),
    );
    const signal = AbortSignal.any([options.signal, stall.signal]);
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
        fetch: watchedFetch(
          watchdog,
          (bytes) => {
            usage.requestBytes += bytes;
          },
          () => options.observer?.onResponseStarted?.(),
        ),
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
      return await this.collect(stream, usage, options.observer, signal);
    } catch (error) {
      if (stall.signal.aborted) throw stall.signal.reason as EfritError;
      if (options.signal.aborted) throw options.signal.reason instanceof EfritError ? options.signal.reason : new EfritError('cancelled', 'Cancelled.');
      throw mapModelError(error);
    } finally {
      watchdog.stop();
    }
  }

  private async collect(
    stream: AsyncIterable<Anthropic.Messages.RawMessageStreamEvent>,
    usage: CallUsage,
    observer: StreamObserver | undefined,
    signal: AbortSignal,
  ): Promise<ModelReply> {
    type Block = { kind: 'text'; text: string } | { kind: 'tool'; id: string; name: string; json: string; input?: unknown } | { kind: 'other'; raw: unknown };
    const blocks: Block[] = [];
    let stopReason: string | null = null;
    let sawStop = false;
    for await (const event of stream) {
      switch (event.type) {
        case 'message_start':
          readUsage(usage, event.message.usage);
          break;
        case 'content_block_start': {
          const block = event.content_block;
          if (block.type === 'text') blocks[event.index] = { kind: 'text', text: block.text };
          else if (block.type === 'tool_use') {
            blocks[event.index] = { kind: 'tool', id: block.id, name: block.name, json: '' };
            observer?.onToolStart?.(block.name);
          } else blocks[event.index] = { kind: 'other', raw: block };
          break;
        }
        case 'content_block_delta': {
          const block = blocks[event.index];
          if (event.delta.type === 'text_delta' && block?.kind === 'text') {
            block.text += event.delta.text;
            observer?.onText?.(event.delta.text);
          } else if (event.delta.type === 'input_json_delta' && block?.kind === 'tool') {
            block.json += event.delta.partial_json;
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
