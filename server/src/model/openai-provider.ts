/**
 * Any OpenAI-compatible Chat Completions endpoint (OpenAI, Azure OpenAI,
 * OpenRouter, Groq, Together, vLLM, LM Studio, llama.cpp's server, Ollama's
 * `/v1`) through the official `openai` SDK with its `baseURL`.
 *
 * The request arrives in the Messages shape (see provider.ts) and is
 * translated: the system blocks become one system message; `tool_use` blocks
 * become the assistant's `tool_calls`, and `tool_result` blocks become `tool`
 * messages right after it (the API requires every call answered before
 * anything else); tools become function tools whose `parameters` are the
 * same JSON schema. Cache breakpoints are dropped: OpenAI caches a repeated
 * prefix by itself, which the stable-prefix layout already gives it.
 *
 * The answer streams as `chat.completion.chunk`s: text deltas, tool-call
 * argument deltas keyed by index, a `finish_reason`, and (asked for with
 * `stream_options.include_usage`) a last chunk with usage only, before
 * `data: [DONE]`. OpenAI's `prompt_tokens` include the cached ones; here they
 * are split as Anthropic reports them (uncached input and cache reads), so
 * usage and spend read the same for both.
 *
 * Fill in the middle (inline completion with a code model) is the legacy
 * Completions API, `/v1/completions` with `prompt` (the text before the
 * cursor) and `suffix` (after it), which llama.cpp's server and vLLM offer:
 * it streams `text_completion` chunks with `choices[0].text`, a
 * `finish_reason`, and the same usage chunk and `[DONE]`. There is no
 * discovery: the user names such models in `fillInMiddleModels`.
 */
import type OpenAI from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageFunctionToolCall,
  ChatCompletionMessageParam,
  ChatCompletionTool,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions/completions.js';
import type { ContentBlockParam, MessageParam, TextBlockParam, Tool, ToolChoice, ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { EfritError } from '../common/errors.js';
import { incompleteAnswer, parseToolArguments } from './anthropic-provider.js';
import type { Completion, CompletionCreateParamsStreaming } from 'openai/resources/completions.js';
import type { FillInMiddleReply, ModelProvider, ModelReply, ProviderCall, ProviderFillInMiddleCall, ToolCall } from './provider.js';
import type { CallUsage } from './usage-meter.js';

type SdkModule = typeof import('openai');

let sdkModule: Promise<SdkModule> | undefined;
function loadSdk(): Promise<SdkModule> {
  sdkModule ??= import('openai');
  return sdkModule;
}

const sdkLogLevel = 'warn' as const;
export const openaiDefaultBaseURL = 'https://api.openai.com/v1';

export const openaiProvider: ModelProvider = {
  name: 'openai',
  keyVariable: 'OPENAI_API_KEY',
  async stream(call: ProviderCall): Promise<ModelReply> {
    const sdk = await loadSdk();
    const baseURL = call.baseURL ?? openaiDefaultBaseURL;
    const client = clientFor(sdk, call, baseURL);
    const params = chatCompletionParams(call, baseURL);
    try {
      const stream = await client.chat.completions.create(params, { signal: call.signal });
      return await collect(stream, call);
    } catch (error) {
      throw classified(error, sdk);
    }
  },
  async fillInMiddle(call: ProviderFillInMiddleCall): Promise<FillInMiddleReply> {
    const sdk = await loadSdk();
    const client = clientFor(sdk, call, call.baseURL ?? openaiDefaultBaseURL);
    try {
      const stream = await client.completions.create(completionParams(call), { signal: call.signal });
      return await collectCompletion(stream, call);
    } catch (error) {
      throw classified(error, sdk);
    }
  },
};

function clientFor(sdk: SdkModule, call: Omit<ProviderCall, 'request'>, baseURL: string): OpenAI {
  return new sdk.default({
    apiKey: call.apiKey,
    baseURL,
    // Admin keys are for the organization's administration endpoints, never for a completion.
    adminAPIKey: null,
    // The job queue owns the one shared backoff: two layers of retries would multiply.
    maxRetries: 0,
    timeout: call.timeoutMs,
    logLevel: sdkLogLevel,
    logger: call.sdkLogger,
    fetch: call.fetch,
  });
}

export function completionParams(call: Pick<ProviderFillInMiddleCall, 'model' | 'request'>): CompletionCreateParamsStreaming {
  const { request } = call;
  return {
    model: call.model,
    prompt: request.prefix,
    suffix: request.suffix,
    max_tokens: request.maxTokens,
    // Completion is deterministic: the same spot should suggest the same text, which the cache and typed-ahead reuse rely on.
    temperature: 0,
    ...(request.stop.length > 0 ? { stop: request.stop } : {}),
    stream: true,
    stream_options: { include_usage: true },
  };
}

async function collectCompletion(stream: AsyncIterable<Completion>, call: ProviderFillInMiddleCall): Promise<FillInMiddleReply> {
  const { usage, observer, signal, countContent } = call;
  let text = '';
  let finishReason: string | null = null;
  for await (const chunk of stream) {
    if (chunk.usage !== null && chunk.usage !== undefined) readUsage(usage, chunk.usage);
    const choice = chunk.choices?.find((candidate) => candidate.index === 0);
    if (choice === undefined) continue;
    if (typeof choice.text === 'string' && choice.text !== '') {
      countContent(choice.text);
      text += choice.text;
      observer?.onText?.(choice.text);
    }
    if (choice.finish_reason !== null && choice.finish_reason !== undefined) finishReason = choice.finish_reason;
  }
  // The SDK ends iteration quietly when our signal aborts it.
  signal.throwIfAborted();
  if (finishReason === null) throw incompleteAnswer();
  return { text, stopReason: stopReasons[finishReason] ?? finishReason, usage };
}

/**
 * Errors only this SDK's classes tell apart (its bundle is minified, so names
 * cannot): an `error` object in the middle of a stream, which has no HTTP
 * status, and the wait for headers timing out. Everything with a status goes
 * on to `mapModelError` as it is.
 */
function classified(error: unknown, sdk: SdkModule): unknown {
  if (error instanceof sdk.APIConnectionTimeoutError) return new EfritError('timeout', 'The API did not start answering in time. Check the network or efrit.openai.baseURL.');
  if (error instanceof sdk.APIConnectionError || !(error instanceof sdk.APIError) || error.status !== undefined) return error;
  const overloaded = /overloaded|capacity/i.test(error.message);
  return overloaded
    ? new EfritError('overloaded', 'The API became overloaded while answering. Try again shortly.')
    : new EfritError('apiError', 'The API reported an error while answering. Try again.');
}

/**
 * OpenAI's own endpoints take `max_completion_tokens` (its reasoning models
 * refuse `max_tokens`); many compatible servers know only `max_tokens`.
 */
function usesMaxCompletionTokens(baseURL: string): boolean {
  try {
    const host = new URL(baseURL).hostname;
    return host === 'api.openai.com' || host.endsWith('.openai.azure.com');
  } catch {
    return false;
  }
}

export function chatCompletionParams(call: Pick<ProviderCall, 'model' | 'request'>, baseURL: string): ChatCompletionCreateParamsStreaming {
  const { request } = call;
  const tools = request.tools ?? [];
  return {
    model: call.model,
    messages: chatMessages(request.system, request.messages),
    stream: true,
    stream_options: { include_usage: true },
    ...(usesMaxCompletionTokens(baseURL) ? { max_completion_tokens: request.maxTokens } : { max_tokens: request.maxTokens }),
    ...(tools.length > 0 ? { tools: tools.map(functionTool) } : {}),
    ...(tools.length > 0 && request.toolChoice !== undefined ? toolChoiceParams(request.toolChoice) : {}),
  };
}

function functionTool(tool: Tool): ChatCompletionTool {
  return {
    type: 'function',
    function: { name: tool.name, ...(tool.description !== undefined ? { description: tool.description } : {}), parameters: tool.input_schema as Record<string, unknown> },
  };
}

function toolChoiceParams(choice: ToolChoice): { tool_choice: ChatCompletionToolChoiceOption; parallel_tool_calls?: boolean } {
  const parallel = 'disable_parallel_tool_use' in choice && choice.disable_parallel_tool_use === true ? { parallel_tool_calls: false } : {};
  switch (choice.type) {
    case 'auto':
      return { tool_choice: 'auto', ...parallel };
    case 'any':
      return { tool_choice: 'required', ...parallel };
    case 'tool':
      return { tool_choice: { type: 'function', function: { name: choice.name } }, ...parallel };
    case 'none':
      return { tool_choice: 'none' };
  }
}

const textOf = (blocks: readonly TextBlockParam[]): string => blocks.map((block) => block.text).join('\n\n');

function toolResultText(block: ToolResultBlockParam): string {
  const content = block.content;
  const text = content === undefined ? '' : typeof content === 'string' ? content : content.map((part) => (part.type === 'text' ? part.text : `[${part.type}]`)).join('\n');
  // Chat Completions has no error flag on a tool message: the model reads it from the text.
  return block.is_error === true ? `Error: ${text}` : text;
}

/** The conversation in Chat Completions messages, in the same order. */
export function chatMessages(system: readonly TextBlockParam[], messages: readonly MessageParam[]): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [];
  if (system.length > 0) out.push({ role: 'system', content: textOf(system) });
  for (const message of messages) {
    const blocks: ContentBlockParam[] = typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content;
    if (message.role === 'assistant') {
      const text = blocks.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
      const toolCalls: ChatCompletionMessageFunctionToolCall[] = blocks.flatMap((block) =>
        block.type === 'tool_use' ? [{ id: block.id, type: 'function' as const, function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } }] : [],
      );
      out.push({ role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) });
      continue;
    }
    // Tool results answer the calls of the turn before, so they come first, each as its own message.
    for (const block of blocks) {
      if (block.type === 'tool_result') out.push({ role: 'tool', tool_call_id: block.tool_use_id, content: toolResultText(block) });
    }
    const text = blocks.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('\n\n');
    if (text !== '') out.push({ role: 'user', content: text });
  }
  return out;
}

/** Chat Completions' finish reasons in Anthropic's words, which the callers read. */
const stopReasons: Record<string, string> = { stop: 'end_turn', tool_calls: 'tool_use', function_call: 'tool_use', length: 'max_tokens', content_filter: 'refusal' };

interface PartialToolCall {
  id: string;
  name: string;
  json: string;
}

/** Reasoning text some compatible servers stream beside the answer (vLLM, llama.cpp, DeepSeek): generated, so it counts, never shown. */
interface ReasoningDelta {
  reasoning_content?: unknown;
  reasoning?: unknown;
}

async function collect(stream: AsyncIterable<ChatCompletionChunk>, call: ProviderCall): Promise<ModelReply> {
  const { usage, observer, signal, countContent } = call;
  let text = '';
  const calls: PartialToolCall[] = [];
  let finishReason: string | null = null;
  for await (const chunk of stream) {
    if (chunk.usage !== null && chunk.usage !== undefined) readUsage(usage, chunk.usage);
    // Several choices only if asked for with `n`; the first is the answer.
    const choice = chunk.choices?.find((candidate) => candidate.index === 0);
    if (choice === undefined) continue;
    const delta = choice.delta ?? {};
    const reasoning = delta as ReasoningDelta;
    for (const extra of [reasoning.reasoning_content, reasoning.reasoning]) if (typeof extra === 'string') countContent(extra);
    if (typeof delta.content === 'string' && delta.content !== '') {
      countContent(delta.content);
      text += delta.content;
      observer?.onText?.(delta.content);
    }
    if (typeof delta.refusal === 'string') countContent(delta.refusal);
    for (const piece of delta.tool_calls ?? []) {
      // Some compatible servers leave out `index`: a piece with an id opens the next call, one without continues the last.
      const index = (piece.index as number | undefined) ?? (piece.id !== undefined ? calls.length : Math.max(0, calls.length - 1));
      if (!Number.isInteger(index) || index < 0 || index > calls.length) {
        throw new EfritError('incomplete', 'The model streamed a tool call out of order; nothing was applied. Try again.');
      }
      let partial = calls[index];
      if (partial === undefined) {
        partial = { id: piece.id ?? '', name: piece.function?.name ?? '', json: '' };
        calls[index] = partial;
        if (partial.name !== '') observer?.onToolStart?.(partial.name);
      } else if (partial.name === '' && piece.function?.name !== undefined && piece.function.name !== '') {
        partial.name = piece.function.name;
        observer?.onToolStart?.(partial.name);
      }
      if (partial.id === '' && piece.id !== undefined) partial.id = piece.id;
      const args = piece.function?.arguments;
      if (typeof args === 'string') {
        countContent(args);
        partial.json += args;
      }
    }
    if (choice.finish_reason !== null && choice.finish_reason !== undefined) finishReason = choice.finish_reason;
  }
  // The SDK ends iteration quietly when our signal aborts it.
  signal.throwIfAborted();
  // `[DONE]` alone does not prove the answer whole: a proxy may end the stream early and cleanly.
  if (finishReason === null) throw incompleteAnswer();
  const toolCalls: ToolCall[] = calls.map((partial, index) => {
    if (partial.name === '') throw new EfritError('incomplete', 'The model streamed a tool call without a name; nothing was applied. Try again.');
    // Some local servers send no ids; the conversation needs one to pair each result with its call.
    return { id: partial.id !== '' ? partial.id : `call_efrit_${index}`, name: partial.name, input: parseToolArguments(partial.name, partial.json) };
  });
  const content: ContentBlockParam[] = [];
  if (text !== '') content.push({ type: 'text', text });
  for (const toolCall of toolCalls) content.push({ type: 'tool_use', id: toolCall.id, name: toolCall.name, input: toolCall.input ?? {} });
  return { text, toolCalls, stopReason: stopReasons[finishReason] ?? finishReason, usage, assistantMessage: { role: 'assistant', content } };
}

interface OpenAIUsage {
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
}

/** `prompt_tokens` includes the cached part: split it into uncached input and cache reads, as Anthropic counts them. */
function readUsage(into: CallUsage, from: OpenAIUsage): void {
  const cached = typeof from.prompt_tokens_details?.cached_tokens === 'number' ? from.prompt_tokens_details.cached_tokens : 0;
  if (typeof from.prompt_tokens === 'number') into.inputTokens = Math.max(0, from.prompt_tokens - cached);
  into.cacheReadTokens = cached;
  if (typeof from.completion_tokens === 'number') into.outputTokens = from.completion_tokens;
}
