/**
 * Shape checks for values that arrive as JSON from outside (the client, the
 * model): JSON may carry anything, including keys such as `valueOf` or
 * `toString` that make an object throw when it is compared or printed, so
 * these checks look at types only and never coerce.
 */
import type { Position } from 'vscode-languageserver-types';

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A whole number of at least zero that JSON can carry exactly. */
export function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** An LSP position: `line` and `character`, whole numbers of at least zero. */
export function isPosition(value: unknown): value is Position {
  return isRecord(value) && isIndex(value['line']) && isIndex(value['character']);
}
