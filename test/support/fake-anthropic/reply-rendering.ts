/**
 * Turns a scripted `FakeReply` into what the real API would send: the SSE
 * event sequence of a streamed reply, or the `Message` of a plain one. Both
 * are checked against the SDK's own types, so a shape drift shows up as a
 * compile error here rather than as a confused client.
 */
import type {
  ContentBlock,
  Message,
  MessageDeltaUsage,
  RawContentBlockStartEvent,
  RawMessageStreamEvent,
  StopReason,
  Usage,
} from '@anthropic-ai/sdk/resources/messages/messages';
import type { CacheUsage } from './cache-accounting.js';
import { randomId } from './ids.js';
import { estimateTextTokens } from './tokens.js';
import type { FakeReply } from './types.js';

const TEXT_CHUNK_CHARACTERS = 24;
const JSON_PIECES_TARGET = 4;
const JSON_PIECE_MIN_CHARACTERS = 4;
const JSON_PIECE_MAX_CHARACTERS = 64;

export type PlannedBlock =
  | { type: 'thinking'; chunks: string[]; signature: string }
  | { type: 'text'; chunks: string[] }
  | { type: 'tool_use'; id: string; name: string; input: unknown; jsonPieces: string[] };

export interface PlannedReply {
  messageId: string;
  model: string;
  blocks: PlannedBlock[];
  stopReason: StopReason;
  stopSequence: string | null;
  outputTokens: number;
  thinkingTokens: number;
}

export interface PingEvent {
  type: 'ping';
}

export type ScriptedEvent = RawMessageStreamEvent | PingEvent;

/** What the request contributes to the shape of the reply. */
export interface ReplyContext {
  model: string;
  maxTokens: number;
  stopSequences: readonly string[];
}

/** Splits at word boundaries into chunks of roughly `TEXT_CHUNK_CHARACTERS`, like a token stream would. */
export function splitTextIntoChunks(text: string): string[] {
  const chunks: string[] = [];
  let current = '';
  for (const word of text.match(/\s*\S+\s*/gu) ?? (text === '' ? [] : [text])) {
    current += word;
    if (current.length >= TEXT_CHUNK_CHARACTERS) {
      chunks.push(current);
      current = '';
    }
  }
  if (current !== '') chunks.push(current);
  return chunks;
}

/** Cuts serialized JSON into a few pieces (by code point, never inside a surrogate pair). */
export function splitJsonIntoPieces(json: string): string[] {
  const codePoints = Array.from(json);
  const pieceLength = Math.min(
    JSON_PIECE_MAX_CHARACTERS,
    Math.max(JSON_PIECE_MIN_CHARACTERS, Math.ceil(codePoints.length / JSON_PIECES_TARGET)),
  );
  const pieces: string[] = [];
  for (let start = 0; start < codePoints.length; start += pieceLength) {
    pieces.push(codePoints.slice(start, start + pieceLength).join(''));
  }
  return pieces;
}

export function planReply(reply: FakeReply, context: ReplyContext): PlannedReply {
  const messageId = randomId('msg');
  // `max_tokens: 0` only warms the cache: the real API generates nothing.
  if (context.maxTokens === 0) {
    return {
      messageId,
      model: context.model,
      blocks: [],
      stopReason: 'max_tokens',
      stopSequence: null,
      outputTokens: 0,
      thinkingTokens: 0,
    };
  }

  const blocks: PlannedBlock[] = [];
  let generated = '';
  let thinkingTokens = 0;
  if (reply.thinking !== undefined) {
    blocks.push({ type: 'thinking', chunks: splitTextIntoChunks(reply.thinking), signature: `fake-signature-${messageId}` });
    thinkingTokens = estimateTextTokens(reply.thinking);
    generated += reply.thinking;
  }
  if (reply.text !== undefined) {
    const chunks = typeof reply.text === 'string' ? splitTextIntoChunks(reply.text) : [...reply.text];
    blocks.push({ type: 'text', chunks });
    generated += chunks.join('');
  }
  for (const toolUse of reply.toolUses ?? []) {
    const json = JSON.stringify(toolUse.input ?? {});
    blocks.push({
      type: 'tool_use',
      id: toolUse.id ?? randomId('toolu'),
      name: toolUse.name,
      input: toolUse.input ?? {},
      jsonPieces: splitJsonIntoPieces(json),
    });
    generated += toolUse.name + json;
  }

  const hasToolUse = (reply.toolUses?.length ?? 0) > 0;
  const stopReason: StopReason = reply.stopReason ?? (hasToolUse ? 'tool_use' : 'end_turn');
  return {
    messageId,
    model: context.model,
    blocks,
    stopReason,
    stopSequence: stopReason === 'stop_sequence' ? (context.stopSequences[0] ?? '') : null,
    // The real API never reports zero output tokens for a generated turn.
    outputTokens: reply.outputTokens ?? Math.max(1, estimateTextTokens(generated)),
    thinkingTokens,
  };
}

function usageOf(cache: CacheUsage, outputTokens: number, thinkingTokens: number): Usage {
  return {
    input_tokens: cache.input_tokens,
    cache_creation_input_tokens: cache.cache_creation_input_tokens,
    cache_read_input_tokens: cache.cache_read_input_tokens,
    cache_creation: { ...cache.cache_creation },
    output_tokens: outputTokens,
    output_tokens_details: thinkingTokens > 0 ? { thinking_tokens: thinkingTokens } : null,
    server_tool_use: null,
    service_tier: 'standard',
    inference_geo: 'not_available',
    speed: 'standard',
  };
}

function completedBlock(block: PlannedBlock): ContentBlock {
  switch (block.type) {
    case 'thinking':
      return { type: 'thinking', thinking: block.chunks.join(''), signature: block.signature };
    case 'text':
      return { type: 'text', text: block.chunks.join(''), citations: null };
    case 'tool_use':
      return { type: 'tool_use', id: block.id, name: block.name, input: block.input, caller: { type: 'direct' } };
  }
}

/** The non-streaming response body. */
export function renderMessage(plan: PlannedReply, cache: CacheUsage): Message {
  return {
    id: plan.messageId,
    type: 'message',
    role: 'assistant',
    model: plan.model,
    content: plan.blocks.map(completedBlock),
    stop_reason: plan.stopReason,
    stop_sequence: plan.stopSequence,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage: usageOf(cache, plan.outputTokens, plan.thinkingTokens),
  };
}

function startedBlock(block: PlannedBlock): RawContentBlockStartEvent['content_block'] {
  switch (block.type) {
    case 'thinking':
      return { type: 'thinking', thinking: '', signature: '' };
    case 'text':
      // The real stream opens a text block as `{type, text}` only; `citations` arrives with deltas if ever.
      return { type: 'text', text: '' } as ContentBlock & { type: 'text' };
    case 'tool_use':
      return { type: 'tool_use', id: block.id, name: block.name, input: {}, caller: { type: 'direct' } };
  }
}

/**
 * The streamed reply in the real API's order: message_start, then per block
 * content_block_start / deltas / content_block_stop (a `ping` right after the
 * first block opens), then message_delta with the final usage, message_stop.
 */
export function renderStreamEvents(plan: PlannedReply, cache: CacheUsage): ScriptedEvent[] {
  const startUsage = usageOf(cache, Math.min(1, plan.outputTokens), 0);
  const events: ScriptedEvent[] = [
    {
      type: 'message_start',
      message: {
        id: plan.messageId,
        type: 'message',
        role: 'assistant',
        model: plan.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        stop_details: null,
        container: null,
        diagnostics: null,
        usage: startUsage,
      },
    },
  ];
  if (plan.blocks.length === 0) events.push({ type: 'ping' });

  plan.blocks.forEach((block, index) => {
    events.push({ type: 'content_block_start', index, content_block: startedBlock(block) });
    if (index === 0) events.push({ type: 'ping' });
    switch (block.type) {
      case 'thinking':
        for (const thinking of block.chunks) {
          events.push({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking } });
        }
        events.push({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: block.signature } });
        break;
      case 'text':
        for (const text of block.chunks) {
          events.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
        }
        break;
      case 'tool_use':
        // The real stream opens every tool input with an empty piece.
        for (const partial_json of ['', ...block.jsonPieces]) {
          events.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } });
        }
        break;
    }
    events.push({ type: 'content_block_stop', index });
  });

  const finalUsage: MessageDeltaUsage = {
    input_tokens: cache.input_tokens,
    cache_creation_input_tokens: cache.cache_creation_input_tokens,
    cache_read_input_tokens: cache.cache_read_input_tokens,
    output_tokens: plan.outputTokens,
    output_tokens_details: plan.thinkingTokens > 0 ? { thinking_tokens: plan.thinkingTokens } : null,
    server_tool_use: null,
  };
  events.push({
    type: 'message_delta',
    delta: { stop_reason: plan.stopReason, stop_sequence: plan.stopSequence, stop_details: null, container: null },
    usage: finalUsage,
  });
  events.push({ type: 'message_stop' });
  return events;
}
