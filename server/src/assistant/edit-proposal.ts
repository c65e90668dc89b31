/**
 * Turns the model's `propose_edits` call into offset edits on the document
 * version it saw — or refuses. The model names each change by quoting the text
 * it replaces, which is far more robust than asking it for line and column
 * numbers; the price is that a quote must be found exactly once in the excerpt
 * the model was shown. Anything else (a quote that is missing, ambiguous or
 * overlaps another, malformed arguments) is an `invalidEdit` error: never a
 * guess, so never a mangled document.
 */
import type { MatchContext } from '../sessions/delta-tracker.js';
import type { OffsetEdit } from '../documents/rebase.js';
import { EfritError } from '../common/errors.js';
import { isRecord } from '../common/json-shape.js';

export interface ProposedEdits {
  summary: string;
  edits: OffsetEdit[];
}

interface RawEdit {
  old_text: string;
  new_text: string;
}

function readRawEdits(input: unknown): { summary: string; edits: RawEdit[] } {
  const invalid = (why: string): EfritError =>
    new EfritError('invalidEdit', `The model's edit was not usable (${why}); nothing was changed. Try again.`);
  if (!isRecord(input)) throw invalid('its arguments are not an object');
  const summary = typeof input['summary'] === 'string' ? input['summary'] : '';
  const edits = input['edits'];
  if (!Array.isArray(edits)) throw invalid('"edits" is not a list');
  if (edits.length === 0) throw invalid('it proposed no edits');
  const out: RawEdit[] = [];
  for (const [index, edit] of edits.entries()) {
    if (!isRecord(edit) || typeof edit['old_text'] !== 'string' || typeof edit['new_text'] !== 'string') {
      throw invalid(`edit ${index + 1} lacks old_text or new_text`);
    }
    out.push({ old_text: edit['old_text'], new_text: edit['new_text'] });
  }
  return { summary, edits: out };
}

/** True when `offset` lies between the \r and the \n of a line break (at 0 there is no character before: NaN). */
function splitsLineBreak(text: string, offset: number): boolean {
  return text.charCodeAt(offset - 1) === 13 && text.charCodeAt(offset) === 10;
}

/** The gutter the excerpt shows ("  12| " or "  12|>"), which a model sometimes copies. */
const gutter = /^ *\d+\|[ >]?/;

function stripGutter(text: string): string | undefined {
  const lines = text.split('\n');
  if (!lines.every((line) => line === '' || gutter.test(line))) return undefined;
  return lines.map((line) => line.replace(gutter, '')).join('\n');
}

/** All start indexes of `needle` in `haystack`, stopping at two (we only care about 0, 1 or many). */
function findAtMostTwo(haystack: string, needle: string): number[] {
  const first = haystack.indexOf(needle);
  if (first === -1) return [];
  const second = haystack.indexOf(needle, first + 1);
  return second === -1 ? [first] : [first, second];
}

function lineOfWindowOffset(context: MatchContext, offset: number): number {
  let line = context.windowStartLine;
  for (let i = context.windowText.indexOf('\n'); i >= 0 && i < offset; i = context.windowText.indexOf('\n', i + 1)) line += 1;
  return line;
}

/**
 * Resolves a `propose_edits` input against the captured excerpt. `eol` is the
 * document's line ending: the model writes `\n`, a CRLF file gets `\r\n`.
 */
export function resolveProposedEdits(input: unknown, context: MatchContext, eol: '\n' | '\r\n', selectionStartOffset: number): ProposedEdits {
  const { summary, edits } = readRawEdits(input);
  // Every line break the model writes (\n, \r\n or a lone \r) becomes the document's own, so an edit never mixes
  // styles into a file that has one.
  const toDocumentEol = (text: string): string => text.replace(/\r\n|\r|\n/g, eol);
  const resolved: OffsetEdit[] = [];
  for (const [index, edit] of edits.entries()) {
    const newText = toDocumentEol(edit.new_text);
    if (edit.old_text === '') {
      resolved.push({ start: selectionStartOffset, end: selectionStartOffset, newText });
      continue;
    }
    let quote = toDocumentEol(edit.old_text);
    let found = findAtMostTwo(context.windowText, quote);
    if (found.length === 0) {
      const stripped = stripGutter(edit.old_text);
      if (stripped !== undefined) {
        quote = toDocumentEol(stripped);
        found = findAtMostTwo(context.windowText, quote);
      }
    }
    if (found.length === 0) {
      throw new EfritError(
        'invalidEdit',
        `The model's edit ${index + 1} quotes text that is not in ${context.relativePath}; nothing was changed. Try again.`,
      );
    }
    if (found.length > 1) {
      const lines = found.map((at) => lineOfWindowOffset(context, at) + 1).join(' and ');
      throw new EfritError(
        'invalidEdit',
        `The model's edit ${index + 1} is ambiguous: its text occurs at lines ${lines}; nothing was changed. Try again.`,
      );
    }
    const at = found[0] as number;
    // Only in a file that mixes line endings can a quote still begin or end inside a \r\n pair; cutting the pair would
    // leave a lone \r or \n behind, which is a line break of a third kind.
    if (splitsLineBreak(context.windowText, at) || splitsLineBreak(context.windowText, at + quote.length)) {
      throw new EfritError(
        'invalidEdit',
        `The model's edit ${index + 1} would cut a \\r\\n line break in two (${context.relativePath} mixes line endings); nothing was changed. Try again.`,
      );
    }
    const start = context.windowStartOffset + at;
    resolved.push({ start, end: start + quote.length, newText });
  }
  resolved.sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 1; i < resolved.length; i++) {
    const previous = resolved[i - 1] as OffsetEdit;
    const current = resolved[i] as OffsetEdit;
    if (current.start < previous.end || (current.start === previous.start && current.start === current.end)) {
      throw new EfritError('invalidEdit', "The model's edits overlap each other; nothing was changed. Try again.");
    }
  }
  return { summary, edits: resolved.filter((edit) => !(edit.start === edit.end && edit.newText === '')) };
}
