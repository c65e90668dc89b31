/**
 * Every model call, whichever provider answers: the role's setting resolved
 * to a provider, a model id, an endpoint and a key; then one streamed call
 * with an AbortSignal, a stall watchdog, reply bounds and one error type.
 * Providers (provider.ts) only speak their SDK.
 *
 * Why the wrapper does what the SDKs do not:
 * - an SDK's `timeout` covers only the wait for response headers, so a stream
 *   that goes quiet would hang forever; the watchdog here sees every byte
 *   (pings included) through a wrapped `fetch` and aborts after `stallMs`;
 * - the SDKs' own retries are off (`maxRetries: 0`): the job queue owns the
 *   one shared backoff, and two layers of retries would multiply;
 * - the SDKs' default loggers write to stdout, which is the LSP channel;
 * - nothing bounds what a response may bring in: the real API stops at
 *   `max_tokens`, but a gateway, a proxy or another provider need not. Each
 *   call is held to `replyBounds(maxTokens)` (content, wire bytes, one event's
 *   line) and stopped past it with a `tooLarge` error.
 */
import { EfritError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { SecretRedactor } from '../common/redaction.js';
import { anthropicProvider } from './anthropic-provider.js';
import { bedrockProvider } from './bedrock-provider.js';
import { mapModelError } from './map-error.js';
import { modelChoiceOf, type ProviderName } from './model-choice.js';
import { ollamaProvider } from './ollama-provider.js';
import { openaiProvider } from './openai-provider.js';
import { vertexProvider } from './vertex-provider.js';
import type { CallOptions, Endpoint, FillInMiddleReply, FillInMiddleRequest, ModelCapabilities, ModelProvider, ModelReply, ModelRequest, ProviderCall } from './provider.js';
import { emptyCallUsage } from './usage-meter.js';

export type { CallOptions, Endpoint, FillInMiddleReply, FillInMiddleRequest, ModelCapabilities, ModelReply, ModelRequest, StreamObserver, ToolCall } from './provider.js';

/** What every provider call gets from the guards, whatever it asks for. */
type Guards = Omit<ProviderCall, 'request'>;

/** The bound of a capability look-up, as if it were an answer of this many tokens: 2 MiB on the wire, ample for a JSON description. */
const describeTokens = 1024;

/** Where calls for a role's setting go: `model` is the setting as written (`openai:gpt-4.1`). */
export type EndpointResolver = (model: string) => Endpoint;

const providers: Record<ProviderName, ModelProvider> = { anthropic: anthropicProvider, openai: openaiProvider, ollama: ollamaProvider, bedrock: bedrockProvider, vertex: vertexProvider };

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

const checkEndpoint: Record<ProviderName, string> = {
  anthropic: 'Check that efrit.baseURL (or ANTHROPIC_BASE_URL) is a Messages API that honours max_tokens.',
  openai: 'Check that efrit.openai.baseURL (or OPENAI_BASE_URL) is a Chat Completions API that honours max_tokens.',
  ollama: 'Check that efrit.ollama.baseURL (or OLLAMA_HOST) is an Ollama server that honours num_predict.',
  bedrock: 'Check that efrit.bedrock.baseURL, if set, is a Bedrock runtime endpoint that honours max_tokens.',
  vertex: 'Check that efrit.vertex.baseURL, if set, is a Vertex AI endpoint that honours max_tokens.',
};

function answerTooLarge(provider: ProviderName, maxTokens: number, what: string): EfritError {
  return new EfritError('tooLarge', `The model's answer grew past what efrit.maxTokens (${maxTokens}) allows (${what}); it was stopped and nothing was applied. ${checkEndpoint[provider]}`);
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
  provider: ProviderName;
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
          if (received > bounds.maxResponseBytes) error = answerTooLarge(watch.provider, watch.maxTokens, `more than ${formatBytes(bounds.maxResponseBytes)} on the wire`);
          else if (lineBytes > bounds.maxLineBytes) error = answerTooLarge(watch.provider, watch.maxTokens, `one stream event of more than ${formatBytes(bounds.maxLineBytes)}`);
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

export class ModelClient {
  /** Every key a call was made with: an error body that echoes one is redacted before its message is cut short. */
  private readonly keys = new SecretRedactor();

  constructor(
    private readonly endpoints: EndpointResolver,
    private readonly logger: Logger,
    /** How requests reach the API: `Network.fetch` (proxies, `tls.caFile`), or the built-in fetch. */
    private readonly network: typeof fetch = fetch,
  ) {}

  /** True when a call with this role's setting (by default the one the resolver falls back to) could be attempted at all. */
  hasApiKey(model = ''): boolean {
    const key = this.endpoints(model).apiKey;
    return key !== undefined && key !== '';
  }

  async call(request: ModelRequest, options: CallOptions): Promise<ModelReply> {
    return this.guarded(request.model, request.maxTokens, options, `${request.messages.length} messages, ${request.tools?.length ?? 0} tools`, (provider, guards) =>
      provider.stream({ ...guards, request }),
    );
  }

  /**
   * A fill-in-the-middle completion (provider.ts): the same guards, errors and
   * usage as `call`. Throws `badRequest` for a provider that has none, which
   * the caller avoids by asking `ModelCapabilityCache.fillsInMiddle` first.
   */
  async fillInMiddle(request: FillInMiddleRequest, options: CallOptions): Promise<FillInMiddleReply> {
    return this.guarded(request.model, request.maxTokens, options, `fill in the middle, ${request.prefix.length}+${request.suffix.length} characters around the cursor`, (provider, guards) => {
      if (provider.fillInMiddle === undefined) throw new EfritError('badRequest', `${request.model} cannot fill in the middle: its provider has no completion endpoint with a suffix.`);
      return provider.fillInMiddle({ ...guards, request });
    });
  }

  /**
   * What the provider's server says the model can do; undefined when the
   * provider has no discovery or the server does not say. A look-up is small:
   * it is held to the bounds of a short answer.
   */
  async describe(model: string, options: CallOptions): Promise<ModelCapabilities | undefined> {
    const provider = providers[modelChoiceOf(model).provider];
    if (provider.describe === undefined) return undefined;
    const describe = provider.describe.bind(provider);
    return this.guarded(model, describeTokens, options, 'capabilities', (_provider, guards) => describe(guards));
  }

  /**
   * Runs one provider call behind the guards every call shares: the key, the
   * stall watchdog, the byte and content bounds, cancellation, error mapping.
   */
  private async guarded<T>(model: string, maxTokens: number, options: CallOptions, what: string, run: (provider: ModelProvider, guards: Guards) => Promise<T>): Promise<T> {
    const choice = modelChoiceOf(model);
    const provider = providers[choice.provider];
    const { apiKey, baseURL, keySource = provider.keyVariable, region, projectId } = this.endpoints(model);
    if (apiKey === undefined || apiKey === '') {
      throw new EfritError(
        'noApiKey',
        choice.provider === 'anthropic' && keySource === provider.keyVariable
          ? 'No API key: set ANTHROPIC_API_KEY in the environment that starts the server, or the efrit.apiKey setting.'
          : `No API key for ${model}: set ${keySource} in the environment that starts the server.`,
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
    const bounds = replyBounds(maxTokens);
    // Everything generated counts, kept or not: what the model may produce is bounded by max_tokens as a whole.
    let contentChars = 0;
    const countContent = (text: string): void => {
      contentChars += text.length;
      if (contentChars > bounds.maxContentChars) {
        const error = answerTooLarge(choice.provider, maxTokens, `more than ${bounds.maxContentChars.toLocaleString('en-US')} characters`);
        halt(error);
        throw error;
      }
    };
    try {
      this.logger.debug(`model call: ${model}, ${what}`);
      return await run(provider, {
        model: choice.model,
        apiKey,
        baseURL: baseURL === '' ? undefined : baseURL,
        region,
        projectId,
        network: this.network,
        fetch: watchedFetch({
          fetch: this.network,
          watchdog,
          countRequestBytes: (bytes) => {
            usage.requestBytes += bytes;
          },
          onResponse: () => options.observer?.onResponseStarted?.(),
          bounds,
          maxTokens,
          provider: choice.provider,
          halt,
        }),
        signal,
        // Longer than the watchdog, which already covers the wait for headers: a silent API is "stalled", named after its setting.
        timeoutMs: options.stallMs * 2,
        observer: options.observer,
        usage,
        countContent,
        sdkLogger: {
          error: (message: string) => this.logger.warn(`SDK: ${message}`),
          warn: (message: string) => this.logger.warn(`SDK: ${message}`),
          info: (message: string) => this.logger.debug(`SDK: ${message}`),
          debug: (message: string) => this.logger.debug(`SDK: ${message}`),
        },
      });
    } catch (error) {
      if (halted.signal.aborted) throw halted.signal.reason as EfritError;
      if (options.signal.aborted) throw options.signal.reason instanceof EfritError ? options.signal.reason : new EfritError('cancelled', 'Cancelled.');
      throw mapModelError(error, (text) => this.keys.redact(text), { keySource, provider: choice.provider });
    } finally {
      watchdog.stop();
    }
  }
}
