/**
 * The one provider interface every model call goes through.
 *
 * Design: the Anthropic Messages shapes are the lingua franca inside the
 * server. A request is system blocks, messages (text, tool_use, tool_result
 * blocks), tools with JSON-schema inputs and a tool_choice; a reply is a
 * `ModelReply` (text, tool calls, usage, a stop reason in Anthropic's words,
 * and the assistant turn as a Messages `MessageParam` to append to the
 * conversation). The assistant, the agent and inline completion build and
 * read only these, through `ModelClient.call`, whatever answers: a provider
 * translates them to its wire format and back (the `openai` provider to Chat
 * Completions: role `tool` messages and `tool_calls`, function tools, usage
 * with `cached_tokens` as cache reads). Claude is the reference, so its path
 * translates nothing, and cache breakpoints stay in the request for the
 * providers that use them; the others drop them.
 *
 * What is the same for every provider lives once, in `ModelClient`: the
 * endpoint and key (and the error naming the variable a key comes from), the
 * stall watchdog and the byte bounds of #12 on a wrapped `fetch` that the
 * provider's SDK must use, cancellation through the call's signal, and the
 * mapping of failures to `data.reason`s (`mapModelError`), so 429 and
 * `retry-after` reach the queue's one shared backoff from every provider.
 * A provider only speaks its SDK: it streams the answer, reports text and
 * tool starts to the observer, counts generated characters against the
 * content bound, and fills in the token usage.
 *
 * Two optional parts, for what only some providers have, go through
 * `ModelClient` the same way (guards, error mapping, usage):
 * - `fillInMiddle`: a raw completion of the text between a prefix and a
 *   suffix, for code models trained to fill in the middle (Ollama's
 *   `/api/generate` with `suffix`, the legacy `/v1/completions` with `suffix`
 *   of llama.cpp's server or vLLM). Inline completion asks for it when the
 *   model can (model-capabilities.ts), and otherwise uses the chat call.
 * - `describe`: what the server says a model can do (Ollama's `/api/show`
 *   `capabilities`); providers without such discovery leave it out.
 */
import type { MessageParam, TextBlockParam, Tool, ToolChoice } from '@anthropic-ai/sdk/resources/messages/messages.js';
import type { ProviderName } from './model-choice.js';
import type { CallUsage } from './usage-meter.js';

export interface ModelRequest {
  /** A role's setting as written: `claude-sonnet-5-5`, `openai:gpt-4.1` (see model-choice.ts). */
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
  /** In Anthropic's words whatever the provider: `end_turn`, `tool_use`, `max_tokens`, `stop_sequence`, `refusal`. */
  stopReason: string | null;
  usage: CallUsage;
  /** The assistant turn in the Messages shape, to append to a conversation. */
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

/** Where a provider's calls go and with which key. */
export interface Endpoint {
  apiKey: string | undefined;
  /** Empty or undefined: the provider's own default (or its SDK's environment variable). */
  baseURL: string | undefined;
  /** What a missing or refused key names, e.g. `OPENAI_API_KEY`. @default the provider's conventional variable */
  keySource?: string;
  /** For a cloud provider that serves models per region (Bedrock: `us-east-1`; Vertex AI: `us-east5`, `global`); undefined for the provider's default. */
  region?: string | undefined;
  /** For a cloud provider that bills a project (Vertex AI's Google Cloud project id). */
  projectId?: string | undefined;
}

/** A logger for an SDK: never stdout, which is the LSP channel. */
export interface SdkLogger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** One call as `ModelClient` hands it to a provider, its guards already in place. */
export interface ProviderCall {
  /** The model id as the provider knows it (the setting without its provider prefix). */
  model: string;
  request: ModelRequest;
  apiKey: string;
  baseURL: string | undefined;
  /** The endpoint's region, where the provider has regions (Bedrock, Vertex AI). */
  region?: string | undefined;
  /** For a cloud provider that bills a project (Vertex AI's Google Cloud project id). */
  projectId?: string | undefined;
  /**
   * The network without this call's guards (proxies and `tls.caFile` only):
   * for a credential exchange that outlives the call and is shared by calls,
   * such as an OAuth token, which one call's cancellation must not break.
   */
  network?: typeof fetch;
  /** The HTTP client the provider's SDK must use: it feeds the stall watchdog, counts request bytes and holds the response to its byte bounds. */
  fetch: typeof fetch;
  /** Aborts the HTTP request: the caller's cancellation, a stall, a reply grown too large. */
  signal: AbortSignal;
  /** For the SDK's own timeout, which covers the wait for headers only. */
  timeoutMs: number;
  observer: StreamObserver | undefined;
  /** Token counts go here as they arrive (request bytes are counted by `fetch`). */
  usage: CallUsage;
  /** Counts generated characters (text, reasoning, tool arguments) against the call's bound; throws `tooLarge` past it. */
  countContent(text: string): void;
  sdkLogger: SdkLogger;
}

/** A fill-in-the-middle request: the model writes what goes between `prefix` and `suffix`. */
export interface FillInMiddleRequest {
  /** A role's setting as written, e.g. `ollama:qwen2.5-coder:7b`. */
  model: string;
  maxTokens: number;
  /** The text before the cursor. */
  prefix: string;
  /** The text after the cursor; empty at the end of the text. */
  suffix: string;
  /** Where generation stops, the stop text itself left out. At most 4 (OpenAI's limit). */
  stop: string[];
}

export interface FillInMiddleReply {
  text: string;
  /** In Anthropic's words, as `ModelReply.stopReason`. */
  stopReason: string | null;
  usage: CallUsage;
}

/** A fill-in-the-middle call as `ModelClient` hands it to a provider, its guards in place. */
export interface ProviderFillInMiddleCall extends Omit<ProviderCall, 'request'> {
  request: FillInMiddleRequest;
}

/** What a model can do, as the server reports it. */
export interface ModelCapabilities {
  /** Fills in the middle from a prefix and a suffix (Ollama: `insert`). */
  fillInMiddle: boolean;
  /** Calls tools (Ollama: `tools`). */
  tools: boolean;
}

/** A look-up of a model's capabilities as `ModelClient` hands it to a provider. */
export type ProviderDescribeCall = Omit<ProviderCall, 'request' | 'observer' | 'countContent'>;

export interface ModelProvider {
  readonly name: ProviderName;
  /** The variable a key conventionally comes from, named when it is missing or refused. */
  readonly keyVariable: string;
  /**
   * Streams one answer. Throws the SDK's errors as they are (`ModelClient`
   * maps them), or `EfritError('incomplete')` for an answer that ended early.
   */
  stream(call: ProviderCall): Promise<ModelReply>;
  /** Streams a fill-in-the-middle completion; absent where the provider has no such endpoint. */
  fillInMiddle?(call: ProviderFillInMiddleCall): Promise<FillInMiddleReply>;
  /**
   * What the server says the model can do; undefined when it does not say
   * (an older server). Absent where the provider has no discovery.
   */
  describe?(call: ProviderDescribeCall): Promise<ModelCapabilities | undefined>;
}
