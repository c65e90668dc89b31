/**
 * What the model has seen of each document in a session, and what to send it
 * next: the first time a window of lines, afterwards only unified-diff hunks
 * of what changed inside that window since (built from the edit journal, never
 * by diffing whole documents), or a note that nothing changed. A fresh window
 * is sent instead when the range of interest left the window the model saw,
 * when a change crosses the window's edge, when the journal no longer reaches
 * back, or when the hunks would be larger than `rebaseShare` of the window.
 *
 * The cost of a turn is O(window + changes), never O(document): the window
 * the model knows is kept as its own text, and the current one is a slice.
 */
import type { Range } from 'vscode-languageserver-types';
import { captureContext, type CaptureOptions, type CapturedContext } from '../context/capture-context.js';
import type { ChangedRegion } from '../documents/edit-journal.js';
import type { TrackedDocument } from '../documents/tracked-document.js';

/** The window of a document as the model knows it now. */
export interface DocumentView {
  uri: string;
  relativePath: string;
  epoch: number;
  version: number;
  windowStartOffset: number;
  windowEndOffset: number;
  windowStartLine: number;
  /** The window's text exactly as in the document at `version`. */
  windowText: string;
}

/** What edits proposed by the model are matched against: the text it knows. */
export type MatchContext = Pick<CapturedContext, 'windowText' | 'windowStartOffset' | 'windowStartLine' | 'relativePath'>;

export interface DocumentTurn {
  kind: 'full' | 'delta' | 'unchanged';
  /** What goes into the user message about this document. */
  text: string;
  match: MatchContext;
  view: DocumentView;
  /** UTF-8 bytes a fresh window would have cost beyond this turn's text (0 for a fresh window). */
  bytesSaved: number;
}

export interface DeltaOptions extends CaptureOptions {
  /** Hunks larger than this share of the window are replaced by a fresh window. */
  rebaseShare: number;
}

function selectionLabel(range: Range): string {
  const { start, end } = range;
  return `lines ${start.line + 1}-${end.line + 1} (${start.line + 1}:${start.character + 1}-${end.line + 1}:${end.character + 1})`;
}

function viewOf(context: CapturedContext, epoch: number): DocumentView {
  return {
    uri: context.uri,
    relativePath: context.relativePath,
    epoch,
    version: context.version,
    windowStartOffset: context.windowStartOffset,
    windowEndOffset: context.windowEndOffset,
    windowStartLine: context.windowStartLine,
    windowText: context.windowText,
  };
}

function fullTurn(doc: TrackedDocument, range: Range, options: DeltaOptions): DocumentTurn {
  const context = captureContext(doc, range, options);
  const diagnostics = context.diagnostics.length === 0 ? '' : `\n\nDiagnostics:\n${context.diagnostics.join('\n')}`;
  return { kind: 'full', text: `${context.numbered}${diagnostics}`, match: context, view: viewOf(context, doc.journal.epoch), bytesSaved: 0 };
}

/** Where each line of a text starts, and where it ends (its line break excluded). */
interface LineTable {
  starts: number[];
  ends: number[];
}

/**
 * The lines of `text`, for line numbers inside the window the model knows. Lines break where the editor breaks
 * them (`\r\n`, `\r` or `\n`), so that the numbers agree with the window the model was sent, which was numbered
 * by the document's own line table.
 */
function lineTable(text: string): LineTable {
  const starts = [0];
  const ends: number[] = [];
  for (const lineBreak of text.matchAll(/\r\n|\r|\n/g)) {
    ends.push(lineBreak.index);
    starts.push(lineBreak.index + lineBreak[0].length);
  }
  ends.push(text.length);
  return { starts, ends };
}

function lineIndexAt(starts: readonly number[], offset: number): number {
  let low = 0;
  // Stryker disable next-line ArithmeticOperator: equivalent, past the end reads undefined, which is never <= an offset, so the search never lands there
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((starts[mid] as number) <= offset) low = mid;
    else high = mid - 1;
  }
  return low;
}

interface Hunk {
  oldFirst: number;
  oldLast: number;
  newFirst: number;
  newLast: number;
}

/** The lines `[first, last]` of a text, each prefixed, without line-break characters. */
function prefixedLines(text: string, lines: LineTable, first: number, last: number, prefix: string): string[] {
  const out: string[] = [];
  for (let line = first; line <= last; line++) out.push(prefix + text.slice(lines.starts[line], lines.ends[line]));
  return out;
}

/**
 * The turn for a document in a session: a fresh window, hunks against the
 * window the model saw, or "unchanged".
 */
export function documentTurn(doc: TrackedDocument, range: Range, seen: DocumentView | undefined, options: DeltaOptions, deltasEnabled: boolean): DocumentTurn {
  if (!deltasEnabled || seen === undefined || seen.epoch !== doc.journal.epoch) return fullTurn(doc, range, options);
  // None when the journal no longer reaches back to the version the model saw.
  const regions: ChangedRegion[] | undefined = doc.journal.changedRegionsSince(seen.version);
  if (regions === undefined) return fullTurn(doc, range, options);

  // Where the window the model knows is now; a change across its edge makes the hunks ambiguous.
  let shift = 0;
  const inside: ChangedRegion[] = [];
  for (const region of regions) {
    if (region.oldEnd <= seen.windowStartOffset && region.oldStart < seen.windowStartOffset) shift += region.end - region.start - (region.oldEnd - region.oldStart);
    else if (region.oldStart >= seen.windowEndOffset && region.oldEnd > seen.windowEndOffset) continue;
    else if (region.oldStart >= seen.windowStartOffset && region.oldEnd <= seen.windowEndOffset) inside.push(region);
    else return fullTurn(doc, range, options);
  }
  const insideDelta = inside.reduce((sum, region) => sum + (region.end - region.start) - (region.oldEnd - region.oldStart), 0);
  const windowStart = seen.windowStartOffset + shift;
  const windowEnd = seen.windowEndOffset + shift + insideDelta;
  const rangeStart = doc.offsetAt(range.start);
  const rangeEnd = doc.offsetAt(range.end);
  if (rangeStart < windowStart || rangeEnd > windowEnd) return fullTurn(doc, range, options);

  const text = doc.text;
  const windowText = text.slice(windowStart, windowEnd);
  const windowStartLine = doc.positionAt(windowStart).line;
  const view: DocumentView = { ...seen, version: doc.version, windowStartOffset: windowStart, windowEndOffset: windowEnd, windowStartLine, windowText };
  const match: MatchContext = { windowText, windowStartOffset: windowStart, windowStartLine, relativePath: seen.relativePath };
  const selection = `Selection: ${selectionLabel(range)}.`;
  // What a fresh window of the same lines would have cost: its rows, each line's text after a "<number>| " gutter
  // as wide as the last number, one \n between rows whatever the document's line breaks.
  const newLines = lineTable(windowText);
  const rows = newLines.starts.length;
  const lastLineNumber = windowStartLine + rows;
  const rowsText = prefixedLines(windowText, newLines, 0, rows - 1, '').join('\n');
  const fullCost = Buffer.byteLength(rowsText) + rows * (String(lastLineNumber).length + 2);
  const saved = (sent: string): number => Math.max(0, fullCost - Buffer.byteLength(sent));

  if (inside.length === 0) {
    const moved = windowStartLine === seen.windowStartLine ? '' : ` Lines above it changed: the excerpt now starts at line ${windowStartLine + 1}.`;
    const note = `${seen.relativePath} is as you last saw it (now version ${doc.version}).${moved} ${selection}`;
    return { kind: 'unchanged', text: note, match, view, bytesSaved: saved(note) };
  }

  // Line numbers: old ones as the model saw them, new ones as the document has them now.
  const oldLines = lineTable(seen.windowText);
  // Regions that touch the same old line form one hunk; each hunk spans whole old lines, which are unchanged
  // text at both ends, so the same span in the current text is found by shifting with the changes before it.
  const hunks: (Hunk & { deltaBefore: number; delta: number })[] = [];
  let deltaSoFar = 0;
  for (const region of inside) {
    const delta = region.end - region.start - (region.oldEnd - region.oldStart);
    const oldFirst = lineIndexAt(oldLines.starts, region.oldStart - seen.windowStartOffset);
    let oldLast = lineIndexAt(oldLines.starts, region.oldEnd - seen.windowStartOffset);
    // A change that ends inside a line break (between its \r and \n; a full-text change can) takes in the next line,
    // which the window always has, since the window itself ends before a line break.
    if (region.oldEnd - seen.windowStartOffset > (oldLines.ends[oldLast] as number)) oldLast += 1;
    const previous = hunks[hunks.length - 1];
    if (previous !== undefined && oldFirst <= previous.oldLast) {
      previous.oldLast = Math.max(previous.oldLast, oldLast);
      previous.delta += delta;
    } else hunks.push({ oldFirst, oldLast, newFirst: 0, newLast: 0, deltaBefore: deltaSoFar, delta });
    deltaSoFar += delta;
  }
  const body: string[] = [];
  for (const hunk of hunks) {
    const oldSpanStart = oldLines.starts[hunk.oldFirst] as number;
    const oldSpanEnd = oldLines.ends[hunk.oldLast] as number;
    const newSpanStart = seen.windowStartOffset + shift + oldSpanStart + hunk.deltaBefore - windowStart;
    // Never before newSpanStart: the changes in a hunk lie inside its old span, so they cannot shrink it below empty.
    const newSpanEnd = seen.windowStartOffset + shift + oldSpanEnd + hunk.deltaBefore + hunk.delta - windowStart;
    hunk.newFirst = lineIndexAt(newLines.starts, newSpanStart);
    hunk.newLast = lineIndexAt(newLines.starts, newSpanEnd);
    const removed = prefixedLines(seen.windowText, oldLines, hunk.oldFirst, hunk.oldLast, '-');
    const added = prefixedLines(windowText, newLines, hunk.newFirst, hunk.newLast, '+');
    body.push(
      `@@ -${seen.windowStartLine + hunk.oldFirst + 1},${removed.length} +${windowStartLine + hunk.newFirst + 1},${added.length} @@`,
      ...removed,
      ...added,
    );
  }
  const hunkText = body.join('\n');
  // Judged on the hunks alone: the fixed lines around them cost the same whatever the window's size.
  if (hunkText.length > options.rebaseShare * seen.windowText.length) return fullTurn(doc, range, options);
  const delta = `Changes to ${seen.relativePath} since you last saw it (now version ${doc.version}; old line numbers as you saw them, new as they are now):\n${hunkText}\n${selection}`;
  return { kind: 'delta', text: delta, match, view, bytesSaved: saved(delta) };
}
