/**
 * An open document as the rest of the server sees it: the editor's text and
 * version (held by `TextDocument`, whose line table makes line ↔ offset
 * lookups O(1) / O(log lines)), plus the journal of recent changes.
 *
 * The interface is read-only on purpose; only the store applies changes.
 */
import type { Position, TextDocument } from 'vscode-languageserver-textdocument';
import type { ReadonlyEditJournal } from './edit-journal.js';

export type EndOfLine = '\n' | '\r\n';

export interface TrackedDocument {
  readonly uri: string;
  /**
   * Which opening of the document this is, unique in the process: a close and
   * re-open is another one, even at the same version. What outlives a request
   * (a planned edit, a remembered result) keeps this, not the document, so it
   * never holds a closed document's text alive.
   */
  readonly openId: number;
  readonly languageId: string;
  readonly version: number;
  /** The whole text; O(1), the string is not copied. */
  readonly text: string;
  /** Lines as the LSP counts them: a trailing line break starts one more, empty, line. */
  readonly lineCount: number;
  /**
   * The document's line break: its first line break as the text is now;
   * `'\n'` while there is none. What Efrit inserts uses it.
   */
  readonly eol: EndOfLine;
  readonly textDocument: TextDocument;
  readonly journal: ReadonlyEditJournal;
  /** Clamps like `TextDocument`: past the end of a line means its end (before the EOL). */
  offsetAt(position: Position): number;
  positionAt(offset: number): Position;
  /** Offset of the first character of `line`; the text's length past the last line. */
  lineStartOffset(line: number): number;
  /** Offset just after the last character of `line`, before its line break. */
  lineEndOffset(line: number): number;
  /** The text of `line` without its line break. */
  lineText(line: number): string;
}
