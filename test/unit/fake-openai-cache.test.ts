import { describe, expect, it } from 'vitest';
import { PrefixCache } from '../support/fake-openai/prefix-cache.js';

/** `tokens` tokens of the fake's estimate (4 bytes each), all different so no block repeats by chance. */
const text = (tokens: number, seed = 'a'): string => Array.from({ length: tokens }, (_, i) => `${seed}${String(i % 1000).padStart(3, '0')}`).join('');

describe("the fake's automatic prefix caching, as OpenAI documents it", () => {
  it('caches nothing below 1,024 tokens, then serves a repeated prefix in 128-token steps', () => {
    let now = 0;
    const cache = new PrefixCache({ maxEntries: 1000, now: () => now });
    expect(cache.account(text(1000))).toEqual({ promptTokens: 1000, cachedTokens: 0 });
    expect(cache.account(text(1000))).toEqual({ promptTokens: 1000, cachedTokens: 0 });
    const long = text(1500);
    expect(cache.account(long)).toEqual({ promptTokens: 1500, cachedTokens: 0 });
    // 1,500 tokens seen: the longest 128-step prefix within it is 1,408.
    expect(cache.account(`${long}${text(300, 'b')}`)).toEqual({ promptTokens: 1800, cachedTokens: 1408 });
    // A change near the start spoils everything after it.
    expect(cache.account(`x${long.slice(1)}`).cachedTokens).toBe(0);
    now += 11 * 60_000;
    expect(cache.account(long).cachedTokens).toBe(0);
  });
});
