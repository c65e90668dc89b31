/**
 * Prompt-cache accounting modelled on the real API's rules, so that usage
 * numbers react to cache breakpoints the way production ones do.
 *
 * The prompt is the sequence of blocks tools → system → messages (each
 * message's content blocks in order; string content counts as one text
 * block). A block with `cache_control` ends a cacheable prefix; a top-level
 * `cache_control` (automatic caching) puts one on the last block. A prefix is
 * identified by a hash chained over the model and every block before it, with
 * `cache_control` itself left out, so moving a marker does not change what
 * the prefix is; `tool_choice` and `thinking` are folded in where the
 * messages start, because changing them invalidates the cached messages (but
 * not tools or system) on the real API.
 *
 * For one request: the longest prefix already cached is found by looking at
 * each breakpoint and up to 19 blocks before it (the real API's 20-block
 * lookback), so a conversation that moved its breakpoint forward still hits
 * the prefix the previous turn wrote. Its tokens are `cache_read_input_tokens`
 * and its TTL is refreshed. The tokens from there up to the last breakpoint
 * are `cache_creation_input_tokens` (each breakpoint's prefix is now cached,
 * attributed to that breakpoint's TTL in `cache_creation`). What follows the
 * last breakpoint is `input_tokens`. A breakpoint whose prefix is shorter than
 * `minCacheableTokens` is ignored, as the real API silently does.
 */
import { createHash } from 'node:crypto';
import { estimateTextTokens } from './tokens.js';

export type CacheTtl = '5m' | '1h';

const TTL_MS: Record<CacheTtl, number> = { '5m': 5 * 60_000, '1h': 60 * 60_000 };
const LOOKBACK_BLOCKS = 20;

export interface PromptBlock {
  /** Where the block sits in the request, in the API's error-path style: `tools.0`, `system.1`, `messages.3.content.0`. */
  location: string;
  tokens: number;
  /** Tokens of the prompt up to and including this block. */
  cumulativeTokens: number;
  /** Identifies the whole prompt prefix ending with this block. */
  digest: string;
  /** Set when a cache breakpoint ends here (explicit or automatic). */
  breakpoint: CacheTtl | undefined;
}

export interface FlattenedPrompt {
  blocks: PromptBlock[];
  totalTokens: number;
  /** Blocks carrying their own `cache_control`. */
  explicitBreakpoints: number;
  /** True when top-level `cache_control` added a breakpoint the last block did not already have. */
  automaticBreakpoint: boolean;
}

export interface CacheUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
}

type JsonRecord = Record<string, unknown>;

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The TTL a `cache_control` value asks for, or undefined when it is absent or null. */
export function cacheControlTtl(cacheControl: unknown): CacheTtl | undefined {
  if (!isRecord(cacheControl)) return undefined;
  return cacheControl['ttl'] === '1h' ? '1h' : '5m';
}

function withoutCacheControl(block: JsonRecord): JsonRecord {
  const copy: JsonRecord = {};
  for (const [key, value] of Object.entries(block)) if (key !== 'cache_control') copy[key] = value;
  return copy;
}

function contentBlocks(content: unknown): unknown[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return Array.isArray(content) ? content : [];
}

function chainDigest(previous: string, part: string): string {
  return createHash('sha256').update(previous).update('\u0000').update(part).digest('hex');
}

/** Lays the request out as the model sees it, block by block. Assumes the body passed validation. */
export function flattenPrompt(body: JsonRecord): FlattenedPrompt {
  const blocks: PromptBlock[] = [];
  let digest = chainDigest('', `model:${String(body['model'])}`);
  let cumulativeTokens = 0;
  let explicitBreakpoints = 0;

  const push = (location: string, identity: string, block: unknown): void => {
    const record = isRecord(block) ? block : { value: block };
    const serialized = JSON.stringify(withoutCacheControl(record));
    const tokens = estimateTextTokens(serialized);
    const breakpoint = cacheControlTtl(record['cache_control']);
    if (breakpoint !== undefined) explicitBreakpoints += 1;
    digest = chainDigest(digest, `${identity}\u0001${serialized}`);
    cumulativeTokens += tokens;
    blocks.push({ location, tokens, cumulativeTokens, digest, breakpoint });
  };

  const tools = Array.isArray(body['tools']) ? body['tools'] : [];
  tools.forEach((tool, index) => push(`tools.${index}`, 'tool', tool));

  contentBlocks(body['system']).forEach((block, index) => push(`system.${index}`, 'system', block));

  digest = chainDigest(
    digest,
    `messages-context:${JSON.stringify({ tool_choice: body['tool_choice'] ?? null, thinking: body['thinking'] ?? null })}`,
  );
  const messages = Array.isArray(body['messages']) ? body['messages'] : [];
  messages.forEach((message, messageIndex) => {
    if (!isRecord(message)) return;
    const role = String(message['role']);
    contentBlocks(message['content']).forEach((block, blockIndex) => {
      // The turn boundary is part of the identity: two one-block turns are not one two-block turn.
      const identity = `${role}:${blockIndex === 0 ? 'turn' : 'cont'}`;
      push(`messages.${messageIndex}.content.${blockIndex}`, identity, block);
    });
  });

  let automaticBreakpoint = false;
  const automaticTtl = cacheControlTtl(body['cache_control']);
  const lastBlock = blocks.at(-1);
  if (automaticTtl !== undefined && lastBlock !== undefined && lastBlock.breakpoint === undefined) {
    lastBlock.breakpoint = automaticTtl;
    automaticBreakpoint = true;
  }

  return { blocks, totalTokens: cumulativeTokens, explicitBreakpoints, automaticBreakpoint };
}

interface CacheEntry {
  expiresAt: number;
  ttlMs: number;
}

export interface PromptCacheSettings {
  minCacheableTokens: number;
  maxEntries: number;
  now: () => number;
}

/** The fake's cache of prompt prefixes, bounded by entry count and by TTL. */
export class PromptCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly settings: PromptCacheSettings;

  constructor(settings: PromptCacheSettings) {
    this.settings = settings;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  /** Computes the usage of one request and records what it wrote to and read from the cache. */
  account(prompt: FlattenedPrompt): CacheUsage {
    const now = this.settings.now();
    const { blocks, totalTokens } = prompt;
    const breakpoints = blocks
      .map((block, position) => ({ block, position }))
      .filter(({ block }) => block.breakpoint !== undefined && block.cumulativeTokens >= this.settings.minCacheableTokens);

    const usage: CacheUsage = {
      input_tokens: totalTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    };
    const lastBreakpoint = breakpoints.at(-1);
    if (lastBreakpoint === undefined) return usage;

    const hitPosition = this.longestCachedPrefix(blocks, breakpoints.map(({ position }) => position), now);
    const hitBlock = hitPosition >= 0 ? blocks[hitPosition] : undefined;
    const readTokens = hitBlock?.cumulativeTokens ?? 0;
    if (hitBlock !== undefined) this.refresh(hitBlock.digest, undefined, now);

    let writtenUpTo = readTokens;
    for (const { block, position } of breakpoints) {
      const ttl = block.breakpoint ?? '5m';
      if (position <= hitPosition) {
        this.refresh(block.digest, ttl, now);
        continue;
      }
      const written = block.cumulativeTokens - writtenUpTo;
      writtenUpTo = block.cumulativeTokens;
      if (ttl === '1h') usage.cache_creation.ephemeral_1h_input_tokens += written;
      else usage.cache_creation.ephemeral_5m_input_tokens += written;
      this.write(block.digest, ttl, now);
    }

    const cachedThrough = Math.max(readTokens, lastBreakpoint.block.cumulativeTokens);
    usage.cache_read_input_tokens = readTokens;
    usage.cache_creation_input_tokens =
      usage.cache_creation.ephemeral_5m_input_tokens + usage.cache_creation.ephemeral_1h_input_tokens;
    usage.input_tokens = totalTokens - cachedThrough;
    return usage;
  }

  private longestCachedPrefix(blocks: PromptBlock[], breakpointPositions: number[], now: number): number {
    for (let i = breakpointPositions.length - 1; i >= 0; i -= 1) {
      const breakpoint = breakpointPositions[i] ?? 0;
      const lowest = Math.max(0, breakpoint - LOOKBACK_BLOCKS + 1);
      for (let position = breakpoint; position >= lowest; position -= 1) {
        const block = blocks[position];
        if (block !== undefined && this.isLive(block.digest, now)) return position;
      }
    }
    return -1;
  }

  private isLive(digest: string, now: number): boolean {
    const entry = this.entries.get(digest);
    if (entry === undefined) return false;
    if (entry.expiresAt > now) return true;
    this.entries.delete(digest);
    return false;
  }

  private refresh(digest: string, ttl: CacheTtl | undefined, now: number): void {
    const entry = this.entries.get(digest);
    if (entry === undefined || entry.expiresAt <= now) return;
    const ttlMs = Math.max(entry.ttlMs, ttl === undefined ? 0 : TTL_MS[ttl]);
    this.store(digest, { ttlMs, expiresAt: now + ttlMs });
  }

  private write(digest: string, ttl: CacheTtl, now: number): void {
    const ttlMs = TTL_MS[ttl];
    this.store(digest, { ttlMs, expiresAt: now + ttlMs });
  }

  private store(digest: string, entry: CacheEntry): void {
    // Re-inserting moves the key to the end, so the first key is always the stalest.
    this.entries.delete(digest);
    this.entries.set(digest, entry);
    while (this.entries.size > this.settings.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }
}
