/**
 * `@path` and `@path:LINE` in a chat message or a do instruction: the user
 * pointing the model at a file. Each mention attaches the file's text (or
 * the lines around LINE) to the message, read exactly as the agent's
 * read_file reads it: the path is found by the workspace tools (confinement
 * and secret rules of workspace-paths.ts), an open document's editor text
 * wins over the disk, and the disk is read with `readTextFile` (no symlink
 * out, no hard link, no binary, bounded). A mention that is refused attaches
 * one line saying why, so the model can tell the user.
 *
 * Bounded: at most `maxMentions` distinct mentions per message are looked
 * at (the rest are named in one line), each shown within `maxChars`.
 *
 * What was attached is also handed back per file (`MentionedFile`): the
 * whole text as read and the lines shown, which is what an edit proposed to
 * that file is later checked against.
 */
import { pathToFileURL } from 'node:url';
import type { TrackedDocument } from '../documents/tracked-document.js';
import { linesOf, renderNumberedLines, type LineSource } from './workspace-numbered-lines.js';
import { readTextFile, type Located } from './workspace-paths.js';
import { sha256Of, type ReadOrigin } from './read-ledger.js';

/** What mentions need of the workspace tools (WorkspaceTools has both): the same rules as read_file, not a copy of them. */
export interface MentionReader {
  /** Where a path the user wrote is, or why it may not be read. */
  locate(path: string): Promise<Located>;
  /** The open document that is that file, if it is open. */
  openDocumentAt(located: Located): Promise<TrackedDocument | undefined>;
}

export interface MentionOptions {
  /** Distinct mentions looked at per message. @default 8 */
  maxMentions?: number;
  /** Characters of numbered lines shown per mention. @default 20,000 */
  maxChars?: number;
  /** Lines shown on each side of `:LINE`. @default 40 */
  windowLines?: number;
  /** Bigger files are refused with their size, as read_file refuses them. @default 1 MiB */
  maxFileBytes?: number;
}

export const defaultMaxMentions = 8;
export const defaultMaxMentionChars = 20_000;
export const defaultMentionWindowLines = 40;
const defaultMaxFileBytes = 1024 * 1024;
/** Mentions past the limit are named in one line; this many at most, so a message of a thousand `@`s stays one short line. */
const namedPastLimit = 10;

/** One `@` token as the user wrote it. */
export interface Mention {
  /** As written, without trailing punctuation: `@src/cart.ts:12`. */
  written: string;
  path: string;
  /** 1-based, from `:LINE`. */
  line?: number;
}

/** The record of one attached file: what was read, where from, and which lines the model was shown (what the job's ReadLedger records). */
export interface MentionedFile {
  /** The workspace-relative name, as the model writes it. */
  displayPath: string;
  /** The canonical path on disk, when the file exists there. */
  realPath?: string;
  /** The path as found, symlinks kept (how an editor names the file), when it was read from disk. */
  lexicalPath?: string;
  /** The open document's URI, or the file's `file:` URI when it was read from disk. */
  uri?: string;
  /** The whole text as read (the model was shown `shownLines` of it). */
  text: string;
  /** 1-based, inclusive. */
  shownLines: { start: number; end: number };
  origin: ReadOrigin;
}

export interface AttachedMentions {
  /** One text for the message's block before the user's text: every attachment and refusal, in the order written; undefined when there are no mentions. */
  text: string | undefined;
  /** The files attached, in the order written. */
  files: MentionedFile[];
  /** One line per mention for the user's stream: what was attached, or why not. */
  notes: string[];
}

/** `.,;:)` and the like end a sentence or a parenthesis, not a path. */
const trailingPunctuation = /[.,;:!?)\]}>'"`]+$/;
// An `@` at the start or after a space or an opening bracket or quote: `a@b.com` and `@@ -1 +1 @@` are no mentions.
const mentionPattern = /(^|[\s([{<'"`])@([^\s@]\S*)/g;
// Pasted code (decorators, annotations) is no mention: fenced blocks are skipped, an unclosed fence to the end.
const fencedCode = /```[\s\S]*?(?:```|$)/g;

/** The distinct mentions in `message`, in the order written. */
export function parseMentions(message: string): Mention[] {
  // A space in its place, so a mention right after a fence still starts a word.
  const prose = message.replace(fencedCode, ' ');
  const mentions: Mention[] = [];
  const seen = new Set<string>();
  for (const match of prose.matchAll(mentionPattern)) {
    const token = (match[2] as string).replace(trailingPunctuation, '');
    if (token === '') continue;
    const withLine = /(.+):(\d{1,9})$/.exec(token);
    const mention: Mention =
      withLine === null ? { written: `@${token}`, path: token } : { written: `@${token}`, path: withLine[1] as string, line: Math.max(1, Number(withLine[2])) };
    if (seen.has(mention.written)) continue;
    seen.add(mention.written);
    mentions.push(mention);
  }
  return mentions;
}

/** Reads every mention in `message` and renders what the model is shown. Never throws. */
export async function attachMentions(message: string, reader: MentionReader, options: MentionOptions = {}): Promise<AttachedMentions> {
  const maxMentions = options.maxMentions ?? defaultMaxMentions;
  const mentions = parseMentions(message);
  if (mentions.length === 0) return { text: undefined, files: [], notes: [] };
  const parts: string[] = [];
  const files: MentionedFile[] = [];
  const notes: string[] = [];
  for (const mention of mentions.slice(0, maxMentions)) {
    const attached = await attachOne(mention, reader, options).catch(
      (error: unknown): Attached => refusal(mention, `it could not be read (${error instanceof Error ? error.message : String(error)}).`),
    );
    parts.push(attached.text);
    if (attached.file !== undefined) files.push(attached.file);
    notes.push(attached.file === undefined ? attached.text : noteFor(attached.file));
  }
  const past = mentions.slice(maxMentions);
  if (past.length > 0) {
    const named = past.slice(0, namedPastLimit).map((mention) => mention.written);
    const more = past.length > named.length ? ` and ${past.length - named.length} more` : '';
    const line = `${named.join(', ')}${more} ${past.length === 1 ? 'was' : 'were'} not attached: at most ${maxMentions} mention${maxMentions === 1 ? '' : 's'} per message ${maxMentions === 1 ? 'is' : 'are'} attached.`;
    parts.push(line);
    notes.push(line);
  }
  return { text: parts.join('\n\n'), files, notes };
}

function noteFor(file: MentionedFile): string {
  if (file.text === '') return `attached ${file.displayPath} (empty)`;
  return `attached ${file.displayPath} lines ${file.shownLines.start}–${file.shownLines.end}${file.origin.kind === 'editor' ? ' (editor text)' : ''}`;
}

interface Attached {
  text: string;
  file?: MentionedFile;
}

async function attachOne(mention: Mention, reader: MentionReader, options: MentionOptions): Promise<Attached> {
  const located = await reader.locate(mention.path);
  if (located.kind === 'refused') return refusal(mention, located.reason);
  const document = await reader.openDocumentAt(located);
  if (document !== undefined) {
    const origin: ReadOrigin = { kind: 'editor', uri: document.uri, version: document.version, openId: document.openId, epoch: document.journal.epoch };
    return render(mention, located.displayPath, document, `the editor's text (version ${document.version}), which may have unsaved changes`, options, (shownLines) => ({
      displayPath: located.displayPath,
      ...(located.realPath === undefined ? {} : { realPath: located.realPath }),
      uri: document.uri,
      text: document.text,
      shownLines,
      origin,
    }));
  }
  if (located.realPath === undefined) return refusal(mention, `there is no file ${located.displayPath} in the workspace (nor open in the editor).`);
  const { realPath, lexicalPath, displayPath } = located;
  const read = await readTextFile(realPath, { maxFileBytes: options.maxFileBytes ?? defaultMaxFileBytes, displayPath });
  if (read.kind === 'refused') return refusal(mention, read.reason);
  const file = (shownLines: MentionedFile['shownLines']): MentionedFile => ({
    displayPath,
    realPath,
    lexicalPath,
    uri: pathToFileURL(lexicalPath).href,
    text: read.text,
    shownLines,
    // Hashed as read_file hashes what it reads: a later edit of this file is checked against it.
    origin: { kind: 'disk', realPath, lexicalPath, sha256: sha256Of(read.text) },
  });
  if (read.bytes === 0) return { text: `Attached by the user (${mention.written}): ${displayPath} is empty (0 bytes).`, file: file({ start: 1, end: 1 }) };
  return render(mention, displayPath, linesOf(read.text), 'from disk', options, file);
}

function render(
  mention: Mention,
  displayPath: string,
  source: LineSource,
  originLabel: string,
  options: MentionOptions,
  file: (shownLines: MentionedFile['shownLines']) => MentionedFile,
): Attached {
  const maxChars = options.maxChars ?? defaultMaxMentionChars;
  const windowLines = options.windowLines ?? defaultMentionWindowLines;
  const lineCount = source.lineCount;
  const trailer: string[] = [];
  let first = 1;
  let last = lineCount;
  if (mention.line !== undefined) {
    const centre = Math.min(mention.line, lineCount);
    if (mention.line > lineCount) trailer.push(`[Line ${mention.line} is past the end: ${displayPath} has ${lineCount} line${lineCount === 1 ? '' : 's'}.]`);
    first = Math.max(1, centre - windowLines);
    last = Math.min(lineCount, centre + windowLines);
  }
  const rendered = renderNumberedLines(source, first, last, maxChars);
  const shownLast = rendered.lastShown;
  if (rendered.lineCut) trailer.push(`[Line ${shownLast} is longer than the ${maxChars}-character limit of an attached file; only its start is shown.]`);
  if (shownLast < last) {
    trailer.push(`[Cut at line ${shownLast} to stay within ${maxChars} characters; lines ${shownLast + 1}-${last} were not shown. @${displayPath}:LINE shows the lines around LINE.]`);
  }
  const header = `Attached by the user (${mention.written}): ${displayPath} - lines ${first}-${shownLast} of ${lineCount}, ${originLabel}`;
  return { text: [header, rendered.text, ...trailer].join('\n'), file: file({ start: first, end: shownLast }) };
}

function refusal(mention: Mention, reason: string): Attached {
  return { text: `${mention.written} was not attached: ${reason}` };
}
