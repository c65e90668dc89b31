/**
 * Captures what the model reads about a document: a window of lines around a
 * selection, numbered, within a character budget, plus the diagnostics there.
 *
 * Cost depends on the window only, never on the document: lines are found
 * through the document's line table (O(1) per line), only the characters that
 * end up in the window are read, and the loops stop once the budget is spent,
 * so even "select all" in a 10M-character file reads about `maxChars`.
 *
 * The `numbered` format, which the prompt explains to the model:
 *
 *     src/app.ts (typescript) - lines 8-11 of 40, selection at 10:7-10:13
 *      8| import { load } from './load.js';
 *      9| // Read once at startup.
 *     10|>const config = load();
 *     11| export default config;
 *
 * - a header: path, language, the 1-based lines shown and the total, and the
 *   selection as 1-based `line:column` (columns count UTF-16 code units);
 * - then one row per line: the 1-based line number right-aligned, `|`, then
 *   `>` for a line inside the selection or a space otherwise, then the line's
 *   text exactly, without its line break;
 * - hidden characters of a line too long to show whole are replaced by
 *   `...[+N chars]` (N characters left out at that place, before or after).
 *
 * Every character the format adds is ASCII on purpose: V8 keeps a string of
 * Latin-1 text at one byte per character, so an excerpt of ASCII code costs
 * half the memory and copying it would with a single `│` in it.
 */
import { basename, isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from 'vscode-languageserver';
import type { Position, Range } from 'vscode-languageserver-textdocument';
import type { TrackedDocument } from '../documents/tracked-document.js';

export interface CaptureOptions {
  /** Lines of context wanted above the selection. */
  linesBefore: number;
  /** Lines of context wanted below the selection. */
  linesAfter: number;
  /** Upper bound on `numbered.length` (and on `selectedText.length`). */
  maxChars: number;
  /** Workspace folders as file paths (or `file:` URIs); the innermost one containing the file names it. */
  workspaceRoots?: string[];
  /** The document's diagnostics; those touching the window are included. */
  diagnostics?: Diagnostic[];
}

export interface CapturedContext {
  uri: string;
  relativePath: string;
  languageId: string;
  version: number;
  /** 0-based, inclusive: the lines actually included. */
  windowStartLine: number;
  windowEndLine: number;
  /**
   * Document offsets of `windowText`: from the first character shown of the
   * first line to the last character shown of the last line (its line break
   * excluded). When the first or last line was cut, only its shown part counts.
   */
  windowStartOffset: number;
  windowEndOffset: number;
  /**
   * The raw document text between those offsets, exactly as in the document
   * (line breaks included), so edits can be matched against it. A line cut in
   * the middle of the window is still whole here, so this can be longer than
   * what the model saw in that rare case.
   */
  windowText: string;
  /** The selection as captured: ordered and clamped to the document. */
  selection: Range;
  /** The selected text, at most `maxChars` of it (its start is kept). */
  selectedText: string;
  /** What the model reads; see the format in this module's comment. */
  numbered: string;
  /** One line each: `line 12:5 error [ts 2304] Cannot find name 'foo'.` (1-based). */
  diagnostics: string[];
  /** True when anything of the wanted window or the selection was left out or cut. */
  truncated: boolean;
  totalLines: number;
}

const gutterBar = '|';
const selectedLineMarker = '>';
const contextLineMarker = ' ';
// A context line is cut rather than dropped only if this much of it still fits.
const minimumUsefulCut = 40;
// A single long context line may take a quarter of the budget, but at least this.
const minimumContextLineCap = 240;
const maximumDiagnosticMessage = 500;

export function captureContext(doc: TrackedDocument, range: Range, options: CaptureOptions): CapturedContext {
  const lineCount = doc.lineCount;
  const text = doc.text;
  const maxChars = Math.max(0, Math.floor(options.maxChars));
  const selection = clampRange(doc, range);
  const selectionStartOffset = doc.offsetAt(selection.start);
  const selectionEndOffset = doc.offsetAt(selection.end);

  // A selection of whole lines ends at column 0 of the next line; that line
  // is not part of it.
  const firstSelectedLine = selection.start.line;
  const lastSelectedLine =
    selection.end.line > selection.start.line && selection.end.character === 0 ? selection.end.line - 1 : selection.end.line;
  const wantedFirstLine = Math.max(0, firstSelectedLine - wholeNonNegative(options.linesBefore));
  const wantedLastLine = Math.min(lineCount - 1, lastSelectedLine + wholeNonNegative(options.linesAfter));

  const relativePath = relativePathOf(doc.uri, options.workspaceRoots ?? []);
  const selectionLabel = `${selection.start.line + 1}:${selection.start.character + 1}-${selection.end.line + 1}:${selection.end.character + 1}`;
  const header = (first: number, last: number): string =>
    `${relativePath} (${doc.languageId}) - lines ${first}-${last} of ${lineCount}, selection at ${selectionLabel}`;
  // Shown line numbers are at most lineCount, so this bounds the final header.
  const bodyBudget = maxChars - header(lineCount, lineCount).length;

  const planner = new WindowPlanner(doc, String(wantedLastLine + 1).length, bodyBudget);
  let truncated = false;

  // The selection first, from its start: if it does not fit, its start is
  // what matters most.
  let selectionComplete = true;
  for (let line = firstSelectedLine; line <= lastSelectedLine; line++) {
    const focusStart = line === firstSelectedLine ? selection.start.character : 0;
    const focusEnd = line === selection.end.line ? selection.end.character : focusStart;
    if (!planner.planSelectedLine(line, line === firstSelectedLine, focusStart, focusEnd)) {
      selectionComplete = false;
      truncated = true;
      break;
    }
  }

  // Then context, nearest lines first, alternating sides: when the budget
  // runs out, the side with more (and farther) lines has lost the most.
  let above = firstSelectedLine - 1;
  let below = lastSelectedLine + 1;
  let aboveOpen = selectionComplete && above >= wantedFirstLine;
  let belowOpen = selectionComplete && below <= wantedLastLine;
  while (aboveOpen || belowOpen) {
    if (aboveOpen) {
      const planned = planner.planContextLine(above, 'above');
      if (planned === 'cut') truncated = true;
      above--;
      aboveOpen = planned === 'whole' && above >= wantedFirstLine;
    }
    if (belowOpen) {
      // Stryker disable next-line StringLiteral: equivalent, every side but 'above' is planned below
      const planned = planner.planContextLine(below, 'below');
      if (planned === 'cut') truncated = true;
      below++;
      belowOpen = planned === 'whole' && below <= wantedLastLine;
    }
  }

  const rows = planner.rows();
  const firstRow = rows[0] as PlannedRow;
  const lastRow = rows[rows.length - 1] as PlannedRow;
  if (firstRow.line > wantedFirstLine || lastRow.line < wantedLastLine) truncated = true;

  let numbered = header(firstRow.line + 1, lastRow.line + 1) + planner.render(rows, firstSelectedLine, lastSelectedLine);
  if (numbered.length > maxChars) {
    // Only a budget smaller than the header and one row gets here.
    numbered = numbered.slice(0, surrogateSafeEnd(numbered, 0, maxChars));
    truncated = true;
  }

  const windowStartOffset = firstRow.lineStart + firstRow.from;
  const windowEndOffset = lastRow.lineStart + lastRow.to;
  const selectedEnd = surrogateSafeEnd(text, selectionStartOffset, Math.min(selectionEndOffset, selectionStartOffset + maxChars));
  // Also when only half of an astral character was left out: a selection may end inside one.
  if (selectedEnd < selectionEndOffset) truncated = true;

  return {
    uri: doc.uri,
    relativePath,
    languageId: doc.languageId,
    version: doc.version,
    windowStartLine: firstRow.line,
    windowEndLine: lastRow.line,
    windowStartOffset,
    windowEndOffset,
    windowText: text.slice(windowStartOffset, windowEndOffset),
    selection,
    selectedText: text.slice(selectionStartOffset, selectedEnd),
    numbered,
    diagnostics: formatDiagnostics(options.diagnostics ?? [], firstRow.line, lastRow.line),
    truncated,
    totalLines: lineCount,
  };
}

/**
 * A human message when `range` does not fit the document, else `undefined`.
 * Positions are shown as the client sent them (0-based `line:character`).
 * A line past the document is an error; `(lineCount, 0)`, the end of the
 * document, is valid. A character past the end of its line is not an error:
 * the LSP spec says it "defaults back to the line length" (pyflakes, through
 * pylsp, ends ranges there), and capture clamps it so.
 */
export function validateRange(doc: TrackedDocument, range: Range): string | undefined {
  const label = `Range ${range.start.line}:${range.start.character}–${range.end.line}:${range.end.character}`;
  if (!isWholePosition(range.start) || !isWholePosition(range.end)) {
    return `${label} is not a valid range: lines and characters are whole numbers from 0.`;
  }
  const lineCount = doc.lineCount;
  const clamped: Position[] = [];
  for (const position of [range.start, range.end]) {
    if (position.line > lineCount || (position.line === lineCount && position.character !== 0)) {
      return `${label} is outside the document (it has ${lineCount} ${lineCount === 1 ? 'line' : 'lines'}).`;
    }
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, for the line past the last the document answers the end of the text for both offsets, so the length is 0 either way
    const length = position.line < lineCount ? doc.lineEndOffset(position.line) - doc.lineStartOffset(position.line) : 0;
    clamped.push({ line: position.line, character: Math.min(position.character, length) });
  }
  const [start, end] = clamped as [Position, Position];
  if (start.line > end.line || (start.line === end.line && start.character > end.character)) {
    return `${label} ends before it starts.`;
  }
  return undefined;
}

/**
 * How the model sees the file's name: relative to the innermost workspace
 * root containing it, else its base name; a non-file URI (an unsaved buffer)
 * as itself. Percent-escapes are decoded.
 */
export function relativePathOf(uri: string, workspaceRoots: readonly string[]): string {
  const filePath = filePathOf(uri);
  if (filePath === undefined) return uri;
  let best: string | undefined;
  let bestRootLength = -1;
  for (const root of workspaceRoots) {
    const rootPath = root.startsWith('file:') ? filePathOf(root) : resolve(root);
    // Stryker disable next-line EqualityOperator: equivalent, two roots as long as each other that both contain the file are the same folder
    if (rootPath === undefined || rootPath.length <= bestRootLength) continue;
    const candidate = relative(rootPath, filePath);
    if (candidate === '' || candidate === '..' || candidate.startsWith(`..${sep}`) || isAbsolute(candidate)) continue;
    best = candidate;
    bestRootLength = rootPath.length;
  }
  return (best ?? basename(filePath)).split(sep).join('/');
}

function filePathOf(uri: string): string | undefined {
  // Stryker disable next-line ConditionalExpression,StringLiteral: equivalent, fileURLToPath refuses any other scheme too; this spares the exception
  if (!uri.startsWith('file:')) return undefined;
  let filePath: string | undefined;
  try {
    filePath = fileURLToPath(uri);
  } catch {
    // e.g. a UNC host on POSIX; the URI itself is still a usable name.
  }
  return filePath;
}

interface PlannedRow {
  line: number;
  lineStart: number;
  length: number;
  /** The shown part of the line, in columns `[from, to)`. */
  from: number;
  to: number;
}

type PlanOutcome = 'whole' | 'cut' | 'dropped';

/** Decides which lines, and which parts of them, fit the body budget. */
class WindowPlanner {
  private remaining: number;
  private readonly contextLineCap: number;
  private readonly above: PlannedRow[] = [];
  private readonly middle: PlannedRow[] = [];
  private readonly below: PlannedRow[] = [];

  constructor(
    private readonly doc: TrackedDocument,
    private readonly gutterWidth: number,
    bodyBudget: number,
  ) {
    this.remaining = bodyBudget;
    this.contextLineCap = Math.max(minimumContextLineCap, Math.floor(bodyBudget / 4));
  }

  /**
   * A selected line is shown whole if it fits; otherwise cut around the
   * selection's columns, or left out. The first one is always shown (even if
   * only its gutter fits) so the window is never empty. Whether it was shown
   * whole: if not, nothing more is planned.
   */
  planSelectedLine(line: number, isFirst: boolean, focusStart: number, focusEnd: number): boolean {
    const row = this.rowOf(line);
    const available = this.remaining - this.rowOverhead();
    if (row.length <= available) {
      this.take(this.middle, row);
      return true;
    }
    if (!isFirst && available < minimumUsefulCut) return false;
    const [from, to] = cutAround(this.doc.text, row.lineStart, row.length, focusStart, focusEnd, Math.max(0, available));
    // Nothing is planned after a cut selected line, so what is left of the budget no longer matters.
    this.middle.push({ ...row, from, to });
    return false;
  }

  /** A context line is shown whole if it fits (and is not huge), else its start if enough of it fits. */
  planContextLine(line: number, side: 'above' | 'below'): PlanOutcome {
    const rows = side === 'above' ? this.above : this.below;
    const row = this.rowOf(line);
    const available = Math.min(this.contextLineCap, this.remaining - this.rowOverhead());
    if (row.length <= available) {
      this.take(rows, row);
      return 'whole';
    }
    const kept = available - markerLength(row.length);
    // Stryker disable next-line StringLiteral: equivalent, the planner's callers tell only 'whole' and 'cut' apart from the rest
    if (kept < minimumUsefulCut) return 'dropped';
    this.take(rows, { ...row, to: surrogateSafeEnd(this.doc.text, row.lineStart, row.lineStart + kept) - row.lineStart });
    return 'cut';
  }

  /** The planned rows, top to bottom. */
  rows(): PlannedRow[] {
    return [...this.above.toReversed(), ...this.middle, ...this.below];
  }

  render(rows: readonly PlannedRow[], firstSelectedLine: number, lastSelectedLine: number): string {
    const text = this.doc.text;
    let out = '';
    for (const row of rows) {
      const marker = row.line >= firstSelectedLine && row.line <= lastSelectedLine ? selectedLineMarker : contextLineMarker;
      out += `\n${String(row.line + 1).padStart(this.gutterWidth)}${gutterBar}${marker}`;
      if (row.from > 0) out += cutMarker(row.from);
      out += text.slice(row.lineStart + row.from, row.lineStart + row.to);
      if (row.to < row.length) out += cutMarker(row.length - row.to);
    }
    return out;
  }

  private rowOf(line: number): PlannedRow {
    const lineStart = this.doc.lineStartOffset(line);
    const length = this.doc.lineEndOffset(line) - lineStart;
    return { line, lineStart, length, from: 0, to: length };
  }

  /** The newline before a row, its number, the bar and the marker. */
  private rowOverhead(): number {
    return 1 + this.gutterWidth + 2;
  }

  /** Plans a row shown from its start: whole, or cut at its end. */
  private take(rows: PlannedRow[], row: PlannedRow): void {
    rows.push(row);
    this.remaining -= this.rowOverhead() + row.to;
    if (row.to < row.length) this.remaining -= markerLength(row.length - row.to);
  }
}

/**
 * The columns `[from, to)` of a too-long line to show in `available`
 * characters including the cut markers, keeping `[focusStart, focusEnd)` in
 * view (centred), or its start when it is longer than what fits.
 */
function cutAround(text: string, lineStart: number, length: number, focusStart: number, focusEnd: number, available: number): [number, number] {
  // Hidden counts are at most `length`, so this bounds either marker.
  const marker = markerLength(length);
  let from: number;
  let to: number;
  if (focusEnd <= available - marker) {
    from = 0;
    to = available - marker;
  } else {
    const keep = Math.max(0, available - 2 * marker);
    const focusLength = focusEnd - focusStart;
    // Stryker disable next-line EqualityOperator: equivalent, when the selection is exactly as long as what is kept, centring it starts it at focusStart too
    from = focusLength >= keep ? focusStart : focusStart - Math.floor((keep - focusLength) / 2);
    to = from + keep;
    if (from <= 0) {
      from = 0;
      to = Math.max(0, available - marker);
    } else if (to >= length) {
      to = length;
      from = Math.max(0, length - Math.max(0, available - marker));
    }
  }
  from = surrogateSafeStart(text, lineStart + Math.min(from, length)) - lineStart;
  to = surrogateSafeEnd(text, lineStart, lineStart + Math.min(to, length)) - lineStart;
  return [from, Math.max(from, to)];
}

function cutMarker(hidden: number): string {
  return `...[+${hidden} chars]`;
}

function markerLength(hidden: number): number {
  return cutMarker(hidden).length;
}

/** `end`, moved back one if it would split a surrogate pair (never before `floor`). */
function surrogateSafeEnd(text: string, floor: number, end: number): number {
  // At the end of the text the character code is NaN, which is no low surrogate.
  if (end > floor && isHighSurrogate(text.charCodeAt(end - 1)) && isLowSurrogate(text.charCodeAt(end))) {
    return end - 1;
  }
  return end;
}

/** `start`, moved forward one if it would split a surrogate pair (at the text's start the code before is NaN). */
function surrogateSafeStart(text: string, start: number): number {
  if (isLowSurrogate(text.charCodeAt(start)) && isHighSurrogate(text.charCodeAt(start - 1))) return start + 1;
  return start;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function wholeNonNegative(value: number): number {
  return Number.isFinite(value) ? Math.max(0, Math.floor(value)) : 0;
}

function isWholePosition(position: Position): boolean {
  return Number.isInteger(position.line) && Number.isInteger(position.character) && position.line >= 0 && position.character >= 0;
}

/** Orders the range and clamps it to the document, as the editor would. */
function clampRange(doc: TrackedDocument, range: Range): Range {
  let start = clampPosition(doc, range.start);
  let end = clampPosition(doc, range.end);
  // Stryker disable next-line EqualityOperator: equivalent, swapping two equal positions changes nothing
  if (start.line > end.line || (start.line === end.line && start.character > end.character)) [start, end] = [end, start];
  return { start, end };
}

function clampPosition(doc: TrackedDocument, position: Position): Position {
  const lastLine = doc.lineCount - 1;
  const line = Number.isFinite(position.line) ? Math.floor(position.line) : 0;
  if (line < 0) return { line: 0, character: 0 };
  if (line > lastLine) return { line: lastLine, character: doc.lineEndOffset(lastLine) - doc.lineStartOffset(lastLine) };
  const length = doc.lineEndOffset(line) - doc.lineStartOffset(line);
  const character = Number.isFinite(position.character) ? Math.floor(position.character) : 0;
  return { line, character: Math.min(Math.max(0, character), length) };
}

const severityNames: Record<number, string> = { 1: 'error', 2: 'warning', 3: 'info', 4: 'hint' };

/** The diagnostics touching lines `[firstLine, lastLine]`, in line order, one line each. */
function formatDiagnostics(diagnostics: readonly Diagnostic[], firstLine: number, lastLine: number): string[] {
  return diagnostics
    .filter((d) => d.range.end.line >= firstLine && d.range.start.line <= lastLine)
    .sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character)
    .map((d) => {
      // An omitted severity is shown as an error, as VS Code does. Only the fields' LSP types are shown: the client's
      // JSON may hold anything there, and an object with a `toString` key cannot even be turned into text.
      const severity = (typeof d.severity === 'number' ? severityNames[d.severity] : undefined) ?? 'error';
      const tag = [d.source, d.code].filter((part): part is string | number => (typeof part === 'string' && part !== '') || typeof part === 'number').join(' ');
      const raw = typeof d.message === 'string' ? d.message : d.message.value;
      let message = raw.replace(/\s*\r?\n\s*/g, ' ').trim();
      if (message.length > maximumDiagnosticMessage) message = `${message.slice(0, surrogateSafeEnd(message, 0, maximumDiagnosticMessage))}...`;
      return `line ${d.range.start.line + 1}:${d.range.start.character + 1} ${severity}${tag === '' ? '' : ` [${tag}]`} ${message}`;
    });
}
