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

/** One replacement as the model wrote it. */
export interface RawEdit {
  old_text: string;
  new_text: string;
}

/**
 * The text quotes are looked up in: what the model was shown of one file.
 * Offsets in `text` plus `textOffset` are the document's offsets.
 */
export interface QuoteSource {
  /** Names the file in messages. */
  displayPath: string;
  text: string;
  /** The document offset of `text[0]`. */
  textOffset: number;
  /** The 0-based line of `text[0]`, for the line numbers in messages. */
  firstLine: number;
  /** The parts of `text` the model was shown, `[start, end)` offsets into it; a quote must lie inside one. */
  spans: ReadonlyArray<readonly [number, number]>;
  /** The file's line ending: every line break the model writes becomes it. */
  eol: '\n' | '\r\n';
  /** Where an empty old_text inserts (the selection's start), as a document offset; undefined: nowhere, refused. */
  insertAt: number | undefined;
}

export function invalidEdit(why: string): EfritError {
  return new EfritError('invalidEdit', `The model's edit was not usable (${why}); nothing was changed. Try again.`);
}

export function readRawEdit(edit: unknown, index: number): RawEdit {
  if (!isRecord(edit) || typeof edit['old_text'] !== 'string' || typeof edit['new_text'] !== 'string') {
    throw invalidEdit(`edit ${index + 1} lacks old_text or new_text`);
  }
  return { old_text: edit['old_text'], new_text: edit['new_text'] };
}

function readRawEdits(input: unknown): { summary: string; edits: RawEdit[] } {
  if (!isRecord(input)) throw invalidEdit('its arguments are not an object');
  const summary = typeof input['summary'] === 'string' ? input['summary'] : '';
  const edits = input['edits'];
  if (!Array.isArray(edits)) throw invalidEdit('"edits" is not a list');
  if (edits.length === 0) throw invalidEdit('it proposed no edits');
  return { summary, edits: edits.map(readRawEdit) };
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

/** Start offsets of `needle` in `haystack` lying wholly inside one of `spans`, stopping at two (we only care about 0, 1 or many). */
function findAtMostTwo(haystack: string, needle: string, spans: QuoteSource['spans']): number[] {
  const found: number[] = [];
  for (let at = haystack.indexOf(needle); at !== -1 && found.length < 2; at = haystack.indexOf(needle, at + 1)) {
    const end = at + needle.length;
    if (spans.some(([spanStart, spanEnd]) => at >= spanStart && end <= spanEnd)) found.push(at);
  }
  return found;
}

function lineOfOffset(source: QuoteSource, offset: number): number {
  let line = source.firstLine;
  for (let i = source.text.indexOf('\n'); i >= 0 && i < offset; i = source.text.indexOf('\n', i + 1)) line += 1;
  return line;
}

/**
 * Resolves quoted edits against what the model was shown of one file, into
 * sorted, non-overlapping offset edits of the document. A quote must occur
 * exactly once in the lines shown.
 */
export function resolveQuotedEdits(edits: readonly RawEdit[], source: QuoteSource, numbering: (index: number) => number = (index) => index): OffsetEdit[] {
  // Every line break the model writes (\n, \r\n or a lone \r) becomes the document's own, so an edit never mixes
  // styles into a file that has one.
  const toDocumentEol = (text: string): string => text.replace(/\r\n|\r|\n/g, source.eol);
  const resolved: OffsetEdit[] = [];
  const unchanged = new Set<OffsetEdit>();
  for (const [position, edit] of edits.entries()) {
    const index = numbering(position);
    const newText = toDocumentEol(edit.new_text);
    if (edit.old_text === '') {
      if (source.insertAt === undefined) {
        throw new EfritError('invalidEdit', `The model's edit ${index + 1} has an empty old_text for ${source.displayPath}, which has no selection to insert at; nothing was changed. Try again.`);
      }
      resolved.push({ start: source.insertAt, end: source.insertAt, newText });
      continue;
    }
    let quote = toDocumentEol(edit.old_text);
    let found = findAtMostTwo(source.text, quote, source.spans);
    if (found.length === 0) {
      const stripped = stripGutter(edit.old_text);
      if (stripped !== undefined) {
        quote = toDocumentEol(stripped);
        found = findAtMostTwo(source.text, quote, source.spans);
      }
    }
    if (found.length === 0) {
      throw new EfritError('invalidEdit', `The model's edit ${index + 1} quotes text that is not in ${source.displayPath}; nothing was changed. Try again.`);
    }
    if (found.length > 1) {
      const lines = found.map((at) => lineOfOffset(source, at) + 1).join(' and ');
      throw new EfritError('invalidEdit', `The model's edit ${index + 1} is ambiguous: its text occurs at lines ${lines}; nothing was changed. Try again.`);
    }
    const at = found[0] as number;
    // Only in a file that mixes line endings can a quote still begin or end inside a \r\n pair; cutting the pair would
    // leave a lone \r or \n behind, which is a line break of a third kind.
    if (splitsLineBreak(source.text, at) || splitsLineBreak(source.text, at + quote.length)) {
      throw new EfritError(
        'invalidEdit',
        `The model's edit ${index + 1} would cut a \\r\\n line break in two (${source.displayPath} mixes line endings); nothing was changed. Try again.`,
      );
    }
    const start = source.textOffset + at;
    // Replacing text with itself changes nothing; it still takes part in the overlap check below.
    const replacement = { start, end: start + quote.length, newText };
    if (quote === newText) unchanged.add(replacement);
    resolved.push(replacement);
  }
  resolved.sort((a, b) => a.start - b.start || a.end - b.end);
  for (let i = 1; i < resolved.length; i++) {
    const previous = resolved[i - 1] as OffsetEdit;
    const current = resolved[i] as OffsetEdit;
    if (current.start < previous.end || (current.start === previous.start && current.start === current.end)) {
      throw new EfritError('invalidEdit', `The model's edits to ${source.displayPath} overlap each other; nothing was changed. Try again.`);
    }
  }
  return resolved.filter((edit) => !unchanged.has(edit) && !(edit.start === edit.end && edit.newText === ''));
}

/** The excerpt of the request's own document as a quote source: all of it was shown. */
export function excerptQuoteSource(context: MatchContext, eol: '\n' | '\r\n', selectionStartOffset: number | undefined): QuoteSource {
  return {
    displayPath: context.relativePath,
    text: context.windowText,
    textOffset: context.windowStartOffset,
    firstLine: context.windowStartLine,
    spans: [[0, context.windowText.length]],
    eol,
    insertAt: selectionStartOffset,
  };
}

/**
 * Resolves a single-document `propose_edits` input against the captured
 * excerpt. `eol` is the document's line ending: the model writes `\n`, a CRLF
 * file gets `\r\n`.
 */
export function resolveProposedEdits(input: unknown, context: MatchContext, eol: '\n' | '\r\n', selectionStartOffset: number): ProposedEdits {
  const { summary, edits } = readRawEdits(input);
  return { summary, edits: resolveQuotedEdits(edits, excerptQuoteSource(context, eol, selectionStartOffset)) };
}
