/**
 * Claude through `@anthropic-ai/sdk`: the reference provider. The request is
 * already in the Messages shape, so it goes out as it is, cache breakpoints
 * included; the stream's events are collected into a `ModelReply`.
 *
 * A stream that ends without `message_stop` is an incomplete answer, which
 * the SDK's iterator reports as a normal end. The SDK module is loaded on the
 * first call, not at start-up, so `initialize` never waits for it.
 */
import type Anthropic from '@anthropic-ai/sdk';
import type { MessageCreateParamsStreaming } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { EfritError } from '../common/errors.js';
import type { ModelProvider, ModelReply, ProviderCall, ToolCall } from './provider.js';
import type { CallUsage } from './usage-meter.js';

type SdkModule = typeof import('@anthropic-ai/sdk');

let sdkModule: Promise<SdkModule> | undefined;
function loadSdk(): Promise<SdkModule> {
  sdkModule ??= import('@anthropic-ai/sdk');
  return sdkModule;
}

const sdkLogLevel = 'warn' as const;

export const anthropicProvider: ModelProvider = {
  name: 'anthropic',
  keyVariable: 'ANTHROPIC_API_KEY',
  async stream(call: ProviderCall): Promise<ModelReply> {
    const { default: AnthropicClient } = await loadSdk();
    const client: Anthropic = new AnthropicClient({
      ...messagesClientOptions(call),
      apiKey: call.apiKey,
      baseURL: call.baseURL === undefined || call.baseURL === '' ? null : call.baseURL,
    });
    return streamMessages(client, call);
  },
};

/**
 * What every Messages client takes, whichever cloud it reaches (Anthropic's
 * API, or Vertex AI through the Anthropic client subclass): credentials and
 * endpoint are left to the caller.
 */
export function messagesClientOptions(call: ProviderCall) {
  return {
    // The job queue owns the one shared backoff: two layers of retries would multiply.
    maxRetries: 0,
    timeout: call.timeoutMs,
    logLevel: sdkLogLevel,
    logger: call.sdkLogger,
    fetch: call.fetch,
  };
}

/** The Messages API's one way to be asked: the request as it is, cache breakpoints included, streamed and collected. */
export async function streamMessages(client: { messages: Pick<Anthropic['messages'], 'create'> }, call: ProviderCall): Promise<ModelReply> {
  const { request } = call;
  const params: MessageCreateParamsStreaming = {
    model: call.model,
    max_tokens: request.maxTokens,
    system: request.system,
    messages: request.messages,
    stream: true,
    ...(request.tools !== undefined && request.tools.length > 0 ? { tools: request.tools } : {}),
    ...(request.toolChoice !== undefined ? { tool_choice: request.toolChoice } : {}),
  };
  const stream = await client.messages.create(params, { signal: call.signal });
  return collect(stream, call);
}

async function collect(stream: AsyncIterable<Anthropic.Messages.RawMessageStreamEvent>, call: ProviderCall): Promise<ModelReply> {
  const { usage, observer, signal, countContent } = call;
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
        // Everything generated counts, kept or not: what the model may produce is bounded by max_tokens as a whole.
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
        if (block?.kind === 'tool') block.input = parseToolArguments(block.name, block.json);
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
  if (!sawStop) throw incompleteAnswer();
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

/** A tool call's arguments, streamed as JSON pieces, once whole. */
export function parseToolArguments(name: string, json: string): unknown {
  try {
    return json.trim() === '' ? {} : JSON.parse(json);
  } catch {
    throw new EfritError('incomplete', `The model's call of "${name}" carried malformed arguments; nothing was applied. Try again.`);
  }
}

export function incompleteAnswer(): EfritError {
  return new EfritError('incomplete', 'The model stream ended before the answer was complete; nothing was applied. Try again.');
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
