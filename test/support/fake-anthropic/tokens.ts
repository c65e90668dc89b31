/**
 * A deterministic stand-in for the tokenizer: one token per four utf-8 bytes,
 * rounded up. Real counts differ, but tests only need numbers that move the
 * same way the real ones do (more text, more tokens; same text, same tokens).
 */
const BYTES_PER_TOKEN = 4;

export function estimateTextTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / BYTES_PER_TOKEN);
}

/** Tokens of a value as it is serialized on the wire (strings as their text). */
export function estimateValueTokens(value: unknown): number {
  return estimateTextTokens(typeof value === 'string' ? value : (JSON.stringify(value) ?? ''));
}
