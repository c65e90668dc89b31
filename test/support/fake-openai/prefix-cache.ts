/**
 * OpenAI's automatic prompt caching, as its documentation describes it
 * (platform.openai.com/docs/guides/prompt-caching): no markers in the request;
 * a prompt of 1,024 tokens or more is cached by its prefix, and a later prompt
 * that starts with a cached prefix is billed `cached_tokens` for it, "in
 * increments of 128 tokens" from 1,024 on (1024, 1152, 1280, …). The prefix
 * is the request as the model reads it, in order: the tools, then the
 * messages. Entries expire after a stretch of inactivity (5 to 10 minutes;
 * 10 here, with an injectable clock).
 *
 * Tokens are estimated as everywhere in the fakes: 4 utf-8 bytes each, so a
 * 128-token block is 512 bytes of the rendered prompt. Each block boundary's
 * prefix is remembered by its hash (bounded by count, least recently used
 * dropped first).
 */
import { createHash, type Hash } from 'node:crypto';

export const minimumCachedTokens = 1024;
export const cacheIncrementTokens = 128;
const bytesPerToken = 4;
const defaultTtlMs = 10 * 60_000;

export interface PrefixCacheOptions {
  maxEntries: number;
  now: () => number;
  ttlMs?: number;
}

export interface PromptAccounting {
  promptTokens: number;
  cachedTokens: number;
}

export class PrefixCache {
  /** Prefix hash → when it was last used; a Map keeps insertion order, refreshed on use, for LRU eviction. */
  private readonly entries = new Map<string, number>();
  private readonly ttlMs: number;

  constructor(private readonly options: PrefixCacheOptions) {
    this.ttlMs = options.ttlMs ?? defaultTtlMs;
  }

  clear(): void {
    this.entries.clear();
  }

  /** Bills one prompt: how much of it a cached prefix served, and caches its own prefixes for the next. */
  account(prompt: string): PromptAccounting {
    const bytes = Buffer.from(prompt, 'utf8');
    const promptTokens = Math.ceil(bytes.byteLength / bytesPerToken);
    const now = this.options.now();
    let cachedTokens = 0;
    let missed = false;
    const hash: Hash = createHash('sha256');
    let hashedBytes = 0;
    for (let tokens = minimumCachedTokens; tokens <= promptTokens; tokens += cacheIncrementTokens) {
      const end = tokens * bytesPerToken;
      if (end > bytes.byteLength) break;
      hash.update(bytes.subarray(hashedBytes, end));
      hashedBytes = end;
      const key = hash.copy().digest('base64');
      const seen = this.entries.get(key);
      const fresh = seen !== undefined && now - seen <= this.ttlMs;
      // A prefix counts only while every shorter one matched too: the cache is a prefix, not a bag of blocks.
      if (fresh && !missed) cachedTokens = tokens;
      else missed = true;
      this.entries.delete(key);
      this.entries.set(key, now);
    }
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return { promptTokens, cachedTokens };
  }
}

interface PromptMessage {
  role?: unknown;
  content?: unknown;
  tool_calls?: unknown;
  tool_call_id?: unknown;
  name?: unknown;
}

/** The request as the model reads it, for caching and counting: tools first, then each message in order. */
export function renderPrompt(body: { tools?: unknown; messages?: unknown }): string {
  const parts: string[] = [];
  if (Array.isArray(body.tools) && body.tools.length > 0) parts.push(`<|tools|>${JSON.stringify(body.tools)}`);
  for (const message of Array.isArray(body.messages) ? (body.messages as PromptMessage[]) : []) {
    const content = typeof message.content === 'string' ? message.content : message.content === null || message.content === undefined ? '' : JSON.stringify(message.content);
    const calls = message.tool_calls === undefined ? '' : JSON.stringify(message.tool_calls);
    const answering = typeof message.tool_call_id === 'string' ? `(${message.tool_call_id})` : '';
    parts.push(`<|${String(message.role)}${answering}|>${content}${calls}`);
  }
  return parts.join('\n');
}
