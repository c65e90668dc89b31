/**
 * The open documents, kept in sync with the editor through incremental
 * `didChange` events, each with a journal of what changed between versions.
 *
 * The hot path is one keystroke: the store adds two O(1) line-table lookups
 * and one small span object on top of what a bare `TextDocuments` does, so
 * the journal costs next to nothing. Nothing here throws on bad input from the
 * client: the client's text is the truth, so problems are reported (and
 * logged), repaired the way VS Code would, and the edit still applied.
 */
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Position, Range, TextDocumentContentChangeEvent } from 'vscode-languageserver-textdocument';
import { silentLogger } from '../common/logger.js';
import type { Logger } from '../common/logger.js';
import { EditJournal, defaultJournalLimit } from './edit-journal.js';
import type { ChangeSpan } from './edit-journal.js';
import type { EndOfLine, TrackedDocument } from './tracked-document.js';

export interface OpenParams {
  uri: string;
  languageId: string;
  version: number;
  text: string;
}

/** The LSP `TextDocumentContentChangeEvent`: a ranged change or the full text. */
export type ContentChange = TextDocumentContentChangeEvent;

export type SyncProblemKind =
  | 'unknownDocument'
  | 'versionNotIncreasing'
  | 'rangeOutOfBounds'
  | 'alreadyOpen'
  /** A didOpen without a uri and a string text; the document is not opened. */
  | 'malformedOpen'
  /** A change that is neither ranged nor full text (no string `text`, a non-numeric position); it is skipped. */
  | 'malformedChange';

export interface SyncProblem {
  kind: SyncProblemKind;
  message: string;
}

export interface DocumentStoreOptions {
  logger?: Logger;
  /** Journal entries (one per content change) kept per document. @default 512 */
  journalLimit?: number;
}

export type CloseListener = (uri: string) => void;

export class DocumentStore {
  private readonly documents = new Map<string, OpenDocument>();
  private readonly closeListeners = new Set<CloseListener>();
  private readonly logger: Logger;
  private readonly journalLimit: number;

  constructor(options: DocumentStoreOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.journalLimit = options.journalLimit ?? defaultJournalLimit;
  }

  /** Opens a document; re-opening an open one replaces it (its listeners hear a close first). */
  open(raw: OpenParams): SyncProblem[] {
    const problems: SyncProblem[] = [];
    const candidate = raw as Partial<Record<keyof OpenParams, unknown>> | null | undefined;
    if (candidate === null || typeof candidate !== 'object' || typeof candidate.uri !== 'string' || candidate.uri === '' || typeof candidate.text !== 'string') {
      const uri = typeof candidate?.uri === 'string' ? candidate.uri : 'a document';
      this.report(problems, 'malformedOpen', `didOpen of ${uri} without a uri and a text string was ignored; the document is not open.`);
      return problems;
    }
    const version = typeof candidate.version === 'number' && Number.isInteger(candidate.version) ? candidate.version : 0;
    if (version !== candidate.version) {
      this.report(problems, 'malformedOpen', `${candidate.uri}: didOpen version ${JSON.stringify(candidate.version) ?? 'undefined'} is not a whole number; taken as 0.`);
    }
    const params: OpenParams = { uri: candidate.uri, languageId: typeof candidate.languageId === 'string' ? candidate.languageId : '', version, text: candidate.text };
    if (this.documents.has(params.uri)) {
      this.report(problems, 'alreadyOpen', `${params.uri} was opened again without being closed; the new text replaces the old.`);
      this.close(params.uri);
    }
    const textDocument = TextDocument.create(params.uri, params.languageId, params.version, params.text);
    this.documents.set(params.uri, new OpenDocument(textDocument, new EditJournal(params.version, { limit: this.journalLimit }), nextOpenId++));
    return problems;
  }

  /**
   * Applies the client's changes in order. Never throws: an unknown document
   * is reported and ignored; a version that does not increase is reported,
   * applied anyway and resets the journal (older versions are ambiguous now);
   * a range outside the text is reported, clamped to the text and applied.
   */
  change(uri: string, rawVersion: unknown, rawChanges: unknown): SyncProblem[] {
    const problems: SyncProblem[] = [];
    const document = this.documents.get(uri);
    if (document === undefined) {
      this.report(problems, 'unknownDocument', `Changes for ${uri}, which is not open, were ignored.`);
      return problems;
    }
    const fromVersion = document.version;
    if (!Array.isArray(rawChanges)) {
      this.report(problems, 'malformedChange', `${uri}: didChange without a contentChanges list was ignored.`);
      return problems;
    }
    const changes = rawChanges as readonly ContentChange[];
    // A version that is not a whole number cannot be ordered: the changes are still the client's text, so they are
    // applied, as a version that does not increase (the journal starts over).
    let version = fromVersion;
    if (typeof rawVersion === 'number' && Number.isSafeInteger(rawVersion)) version = rawVersion;
    else this.report(problems, 'malformedChange', `${uri}: didChange version ${describeJson(rawVersion)} is not a whole number; the changes were applied at version ${fromVersion}.`);
    const increasing = version > fromVersion;
    if (!increasing) {
      this.report(
        problems,
        'versionNotIncreasing',
        `${uri}: version ${version} does not follow ${fromVersion}; the changes were applied, but edits computed against older versions can no longer be rebased.`,
      );
    }
    let spans: ChangeSpan[];
    try {
      spans = document.apply(version, changes, (kind, message) => this.report(problems, kind, `${uri}: ${message}`));
    } catch (error) {
      // Defensive only: every input is validated first. If it happens anyway,
      // the journal can no longer be trusted, but the server must keep running.
      this.logger.error(`Applying changes to ${uri} failed`, error);
      document.journal.reset(version);
      return problems;
    }
    if (increasing) document.journal.record(fromVersion, version, spans);
    else document.journal.reset(version);
    return problems;
  }

  close(uri: string): boolean {
    if (!this.documents.delete(uri)) return false;
    for (const listener of this.closeListeners) {
      try {
        listener(uri);
      } catch (error) {
        // One feature's cleanup failing must not keep the others from theirs.
        this.logger.error(`A close listener failed for ${uri}`, error);
      }
    }
    return true;
  }

  get(uri: string): TrackedDocument | undefined {
    return this.documents.get(uri);
  }

  uris(): string[] {
    return [...this.documents.keys()];
  }

  get size(): number {
    return this.documents.size;
  }

  /** Characters held across all open documents (for status and memory reports). */
  totalChars(): number {
    let total = 0;
    for (const document of this.documents.values()) total += document.text.length;
    return total;
  }

  /**
   * Called after a document is closed (or replaced by a re-open), so features
   * can drop their per-document state. Returns the unsubscribe function.
   */
  onDidClose(listener: CloseListener): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Reports a notification too malformed to reach a document (no uri); returns the problem. */
  reportMalformed(message: string): SyncProblem[] {
    const problems: SyncProblem[] = [];
    this.report(problems, 'malformedChange', message);
    return problems;
  }

  private report(problems: SyncProblem[], kind: SyncProblemKind, message: string): void {
    problems.push({ kind, message });
    this.logger.warn(message);
  }
}

type ProblemReporter = (kind: SyncProblemKind, message: string) => void;

// Far past any line's end; `offsetAt` clamps it to the end of the line.
const endOfLineCharacter = Number.MAX_SAFE_INTEGER;

/** Shared by every store in the process, so an id never names two openings. */
let nextOpenId = 1;

class OpenDocument implements TrackedDocument {
  constructor(
    readonly textDocument: TextDocument,
    readonly journal: EditJournal,
    readonly openId: number,
  ) {}

  get uri(): string {
    return this.textDocument.uri;
  }
  get languageId(): string {
    return this.textDocument.languageId;
  }
  get version(): number {
    return this.textDocument.version;
  }
  get text(): string {
    return this.textDocument.getText();
  }
  get lineCount(): number {
    return this.textDocument.lineCount;
  }

  get eol(): EndOfLine {
    // Read from the text as it is now, never remembered: a change may replace every line break (a paste over the
    // whole file), and an edit must not bring the old style back. The line table makes this O(1).
    if (this.lineCount < 2) return '\n';
    const secondLineStart = this.lineStartOffset(1);
    const text = this.text;
    return text.charCodeAt(secondLineStart - 1) === 10 && text.charCodeAt(secondLineStart - 2) === 13 ? '\r\n' : '\n';
  }

  offsetAt(position: Position): number {
    return this.textDocument.offsetAt(position);
  }
  positionAt(offset: number): Position {
    return this.textDocument.positionAt(offset);
  }
  lineStartOffset(line: number): number {
    return this.textDocument.offsetAt({ line, character: 0 });
  }
  lineEndOffset(line: number): number {
    return this.textDocument.offsetAt({ line, character: endOfLineCharacter });
  }
  lineText(line: number): string {
    return this.text.substring(this.lineStartOffset(line), this.lineEndOffset(line));
  }

  /**
   * Applies the changes one at a time (each range is in the coordinates of
   * the text left by the previous one) and returns one span per applied change.
   */
  apply(version: number, changes: readonly ContentChange[], report: ProblemReporter): ChangeSpan[] {
    const spans: ChangeSpan[] = [];
    for (const change of changes) {
      const span = this.applyOne(change, version, report);
      if (span !== undefined) spans.push(span);
    }
    // No changes (or only skipped ones) still move the document to `version`.
    if (this.textDocument.version !== version) TextDocument.update(this.textDocument, [], version);
    return spans;
  }

  private applyOne(change: ContentChange, version: number, report: ProblemReporter): ChangeSpan | undefined {
    const candidate = change as Partial<{ range: unknown; text: unknown }> | null | undefined;
    if (candidate === null || typeof candidate !== 'object' || typeof candidate.text !== 'string') {
      report('malformedChange', 'a change without text was skipped.');
      return undefined;
    }
    // A `null` range (not valid LSP, but seen on the wire) reads as "no range".
    if (!('range' in change) || change.range === undefined || change.range === null) return this.applyFullText(change.text, version);
    const range = change.range;
    if (typeof range !== 'object' || !hasNumericLineAndCharacter(range.start) || !hasNumericLineAndCharacter(range.end)) {
      report('malformedChange', `a change with an invalid range (${JSON.stringify(range)}) was skipped.`);
      return undefined;
    }
    const textDocument = this.textDocument;
    const lineCount = textDocument.lineCount;
    let start = range.start;
    let end = range.end;
    let startOffset = offsetIfInside(textDocument, start, lineCount);
    let endOffset = offsetIfInside(textDocument, end, lineCount);
    // TextDocument throws on a `rangeLength` that is not a number; it is
    // deprecated and unused, so such a change is passed on without it.
    let applied: ContentChange =
      change.rangeLength === undefined || typeof change.rangeLength === 'number' ? change : { range, text: change.text };
    if (startOffset === undefined || endOffset === undefined) {
      const clampedStart = clampPosition(textDocument, start, lineCount);
      const clampedEnd = clampPosition(textDocument, end, lineCount);
      if (!clampedStart.inside || !clampedEnd.inside) {
        report(
          'rangeOutOfBounds',
          `range ${formatRange(range)} is outside the text (${lineCount} lines); it was clamped to ${formatRange({ start: clampedStart.position, end: clampedEnd.position })}.`,
        );
      }
      start = clampedStart.position;
      end = clampedEnd.position;
      startOffset = textDocument.offsetAt(start);
      endOffset = textDocument.offsetAt(end);
      applied = { range: { start, end }, text: change.text };
    }
    if (startOffset > endOffset) {
      // A reversed range: TextDocument swaps it, so the span must too.
      [startOffset, endOffset] = [endOffset, startOffset];
    }
    TextDocument.update(textDocument, [applied], version);
    return { start: startOffset, end: endOffset, insertedLength: change.text.length };
  }

  /**
   * A full-text change (e.g. a revert from disk) is journalled as the one span
   * between the common prefix and the common suffix of the old and new text:
   * exact, since everything outside it is unchanged, so edits elsewhere still
   * rebase. It costs O(document), as the full text itself already does.
   */
  private applyFullText(newText: string, version: number): ChangeSpan {
    const oldText = this.text;
    const limit = Math.min(oldText.length, newText.length);
    let prefix = 0;
    while (prefix < limit && oldText.charCodeAt(prefix) === newText.charCodeAt(prefix)) prefix++;
    let suffix = 0;
    while (
      suffix < limit - prefix &&
      oldText.charCodeAt(oldText.length - 1 - suffix) === newText.charCodeAt(newText.length - 1 - suffix)
    ) {
      suffix++;
    }
    TextDocument.update(this.textDocument, [{ text: newText }], version);
    return { start: prefix, end: oldText.length - suffix, insertedLength: newText.length - prefix - suffix };
  }
}

/** Lenient on purpose: a change's position may be fractional or past the text; it is then floored and clamped, as editors do. */
function hasNumericLineAndCharacter(value: unknown): value is Position {
  if (value === null || typeof value !== 'object') return false;
  const { line, character } = value as Partial<Record<'line' | 'character', unknown>>;
  return typeof line === 'number' && typeof character === 'number' && Number.isFinite(line) && Number.isFinite(character);
}

/**
 * The offset of `position` when it lies inside the text, else `undefined`.
 * Inside means: an existing line and a character up to the line's length
 * (before its line break), or the end-of-document position `(lineCount, 0)`.
 */
function offsetIfInside(textDocument: TextDocument, position: Position, lineCount: number): number | undefined {
  const { line, character } = position;
  // `(lineCount, 0)` is inside, but TextDocument's line-table update would
  // misread that line number, so it goes through clamping (silently) too.
  if (line < 0 || character < 0 || line >= lineCount || !Number.isInteger(line) || !Number.isInteger(character)) return undefined;
  const offset = textDocument.offsetAt(position);
  if (character === 0) return offset;
  // offsetAt clamps to the end of the line: a shortfall means past the end.
  return offset - textDocument.offsetAt({ line, character: 0 }) === character ? offset : undefined;
}

function clampPosition(textDocument: TextDocument, position: Position, lineCount: number): { position: Position; inside: boolean } {
  const line = Math.floor(position.line);
  const character = Math.floor(position.character);
  const lastLine = lineCount - 1;
  if (line < 0) return { position: { line: 0, character: 0 }, inside: false };
  if (line > lastLine) {
    const lastLineLength = lineLength(textDocument, lastLine);
    const inside = line === lineCount && character === 0 && position.line === line && position.character === character;
    return { position: { line: lastLine, character: lastLineLength }, inside };
  }
  const clampedCharacter = Math.min(Math.max(character, 0), lineLength(textDocument, line));
  const inside = clampedCharacter === position.character && line === position.line;
  return { position: { line, character: clampedCharacter }, inside };
}

/** Characters on `line`, its line break excluded. */
function lineLength(textDocument: TextDocument, line: number): number {
  return textDocument.offsetAt({ line, character: endOfLineCharacter }) - textDocument.offsetAt({ line, character: 0 });
}

/** A short rendering of a value that came as JSON, safe for any content (no coercion of objects). */
function describeJson(value: unknown): string {
  try {
    const text = JSON.stringify(value) ?? 'undefined';
    return text.length > 40 ? `${text.slice(0, 40)}...` : text;
  } catch {
    return typeof value;
  }
}

function formatRange(range: Range): string {
  return `${range.start.line}:${range.start.character}–${range.end.line}:${range.end.character}`;
}
