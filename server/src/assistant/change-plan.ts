/**
 * Turns the model's `propose_edits` call into a planned change of the
 * workspace — edits to several files, files created, renamed or deleted — or
 * refuses it whole. Nothing is applied here: the plan records, per file, the
 * text the edits were computed on, so that workspace-edit.ts can check just
 * before sending that the file is still that text (or carry the edits over
 * the user's typing, for an open document) and refuse otherwise.
 *
 * The exact-quote rule holds for every file: a quote must occur exactly once
 * in the lines the model was shown of that file (the request's excerpt, or
 * what the agent read with read_file / read_document in this job). A file the
 * model never read cannot be edited, only created.
 */
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { TextEdit } from 'vscode-languageserver-types';
import { pathToFileURL } from 'node:url';
import { dirname } from 'node:path';
import { EfritError } from '../common/errors.js';
import { isRecord } from '../common/json-shape.js';
import type { OffsetEdit } from '../documents/rebase.js';
import type { TrackedDocument } from '../documents/tracked-document.js';
import type { ReadLedger, ReadOrigin, ReadSnapshot } from '../agent/read-ledger.js';
import { realpathOrUndefined, relativeInside, type Located } from '../agent/workspace-paths.js';
import { invalidEdit, readRawEdit, resolveQuotedEdits, type QuoteSource, type RawEdit } from './edit-proposal.js';

/** What one file of a planned change does. Every kind names the file by `uri` (as the editor knows it) and `displayPath` (as people read it). */
export type PlannedFile =
  /** Edits to a document open in the editor, in the offsets of `baseVersion`: rebased through the journal when sent. */
  | { kind: 'editOpen'; uri: string; displayPath: string; baseVersion: number; baseEpoch: number; openId: number; edits: OffsetEdit[] }
  /** Edits to a file on disk, valid only while the file is byte-identical to what was read (`guard`). */
  | { kind: 'editDisk'; uri: string; displayPath: string; guard: ReadOrigin & { kind: 'disk' }; edits: TextEdit[] }
  | { kind: 'create'; uri: string; displayPath: string; lexicalPath: string; text: string }
  | { kind: 'rename'; uri: string; displayPath: string; lexicalPath: string; newUri: string; newDisplayPath: string; newLexicalPath: string }
  /** Deletes a file the model read, only while it is still what it read (`guard`). */
  | { kind: 'delete'; uri: string; displayPath: string; lexicalPath: string; guard: ReadOrigin };

export interface PlannedChange {
  summary: string;
  files: PlannedFile[];
}

/** The request's own document, with the excerpt the model was shown of it. */
export interface PlanTarget {
  uri: string;
  displayPath: string;
  /** The excerpt, at `baseVersion`. */
  excerpt: QuoteSource;
  baseVersion: number;
  baseEpoch: number;
  openId: number;
}

export interface PlanEnvironment {
  target: PlanTarget;
  /** What the agent read in this job; undefined for a one-shot action, which reads nothing. */
  ledger: ReadLedger | undefined;
  /** Confinement: the same rules as read_file (workspace-tools.ts). */
  locate(path: string): Promise<Located>;
  openDocumentAt(located: Located): Promise<TrackedDocument | undefined>;
  /** The open document `uri` names, if it is open. */
  document(uri: string): TrackedDocument | undefined;
  limits: { maxFiles: number; maxBytes: number };
}

interface RawFileOperation {
  action: 'create' | 'rename' | 'delete';
  path: string;
  newPath: string | undefined;
  text: string | undefined;
}

interface RawProposal {
  summary: string;
  /** Edits with the path they name (undefined: the request's document), in the model's order. */
  edits: Array<{ path: string | undefined; edit: RawEdit; index: number }>;
  files: RawFileOperation[];
}

function readProposal(input: unknown): RawProposal {
  if (!isRecord(input)) throw invalidEdit('its arguments are not an object');
  const summary = typeof input['summary'] === 'string' ? input['summary'] : '';
  const rawEdits = input['edits'] ?? [];
  const rawFiles = input['files'] ?? [];
  if (!Array.isArray(rawEdits)) throw invalidEdit('"edits" is not a list');
  if (!Array.isArray(rawFiles)) throw invalidEdit('"files" is not a list');
  if (rawEdits.length === 0 && rawFiles.length === 0) throw invalidEdit('it proposed no edits');
  const edits = rawEdits.map((raw: unknown, index) => {
    const edit = readRawEdit(raw, index);
    const path = isRecord(raw) ? raw['path'] : undefined;
    if (path !== undefined && path !== null && typeof path !== 'string') throw invalidEdit(`edit ${index + 1} has a "path" that is not a string`);
    return { path: typeof path === 'string' && path.trim() !== '' ? path : undefined, edit, index };
  });
  const files = rawFiles.map((raw: unknown, index): RawFileOperation => {
    const what = `file operation ${index + 1}`;
    if (!isRecord(raw)) throw invalidEdit(`${what} is not an object`);
    const action = raw['action'];
    if (action !== 'create' && action !== 'rename' && action !== 'delete') throw invalidEdit(`${what} has action ${JSON.stringify(action)}; it must be "create", "rename" or "delete"`);
    const path = raw['path'];
    if (typeof path !== 'string' || path.trim() === '') throw invalidEdit(`${what} lacks "path"`);
    const newPath = raw['new_path'];
    if (action === 'rename' && (typeof newPath !== 'string' || newPath.trim() === '')) throw invalidEdit(`${what} (rename ${path}) lacks "new_path"`);
    const text = raw['text'];
    if (action === 'create' && typeof text !== 'string') throw invalidEdit(`${what} (create ${path}) lacks "text", the new file's whole content`);
    return { action, path, newPath: typeof newPath === 'string' ? newPath : undefined, text: typeof text === 'string' ? text : undefined };
  });
  return { summary, edits, files };
}

/** The file's line break as its text shows it: the first one; `\n` while there is none. */
export function eolOf(text: string): '\n' | '\r\n' {
  const at = text.indexOf('\n');
  return at > 0 && text.charCodeAt(at - 1) === 13 ? '\r\n' : '\n';
}

/** `[start, end)` offsets of 1-based inclusive line ranges in `text`. */
function spansOf(text: string, lines: ReadonlyArray<[number, number]>): Array<[number, number]> {
  const document = TextDocument.create('', '', 0, text);
  return lines.map(([first, last]) => [document.offsetAt({ line: first - 1, character: 0 }), last >= document.lineCount ? text.length : document.offsetAt({ line: last, character: 0 })]);
}

function snapshotQuoteSource(snapshot: ReadSnapshot, insertAt: number | undefined): QuoteSource {
  return {
    displayPath: snapshot.displayPath,
    text: snapshot.text,
    textOffset: 0,
    firstLine: 0,
    spans: spansOf(snapshot.text, snapshot.shownLines),
    eol: eolOf(snapshot.text),
    insertAt,
  };
}

function refusedPath(path: string, reason: string): EfritError {
  return new EfritError('invalidEdit', `The model's change names ${path}, which Efrit may not change: ${reason} Nothing was changed.`);
}

function notRead(displayPath: string): EfritError {
  return new EfritError(
    'invalidEdit',
    `The model's change edits ${displayPath}, which it has not read in this task (or read too long ago to remember); read it with read_file, then propose the edit again. Nothing was changed.`,
  );
}

/** Resolved `path` of the model's: where it is, and whether it is the request's document. */
interface Place {
  displayPath: string;
  located: Located & { kind: 'inside' };
  uri: string;
  isTarget: boolean;
}

export async function planChange(input: unknown, env: PlanEnvironment): Promise<PlannedChange> {
  const proposal = readProposal(input);
  const places = new Map<string, Place>();
  const place = async (path: string): Promise<Place> => {
    const known = places.get(path);
    if (known !== undefined) return known;
    const located = await env.locate(path);
    if (located.kind === 'refused') throw refusedPath(path, located.reason);
    const open = await env.openDocumentAt(located);
    const uri = open?.uri ?? pathToFileURL(located.lexicalPath).href;
    const found: Place = { displayPath: located.displayPath, located, uri, isTarget: uri === env.target.uri };
    places.set(path, found);
    return found;
  };

  // Every path located at once (a realpath and a look among the open documents each); a refusal is raised below, in
  // the model's order, when its path comes up again.
  // Stryker disable next-line all: equivalent, only a speed-up: every path is located again below, in the model's order
  const named = [...proposal.edits.flatMap((entry) => (entry.path === undefined ? [] : [entry.path])), ...proposal.files.flatMap((operation) => [operation.path, ...(operation.newPath === undefined ? [] : [operation.newPath])])];
  // Stryker disable next-line all: equivalent, as above
  await Promise.allSettled([...new Set(named)].map(place));

  // Edits grouped per file, in the model's order within each.
  const groups = new Map<string, { place: Place | undefined; edits: Array<{ edit: RawEdit; index: number }> }>();
  for (const { path, edit, index } of proposal.edits) {
    const where = path === undefined ? undefined : await place(path);
    const key = where === undefined || where.isTarget ? env.target.uri : where.uri;
    const group = groups.get(key) ?? { place: where?.isTarget === true ? undefined : where, edits: [] };
    group.edits.push({ edit, index });
    groups.set(key, group);
  }

  const files: PlannedFile[] = [];
  const touched = new Set<string>();
  let bytes = 0;
  const count = (text: string): void => {
    bytes += Buffer.byteLength(text, 'utf8');
    if (bytes > env.limits.maxBytes) {
      throw new EfritError('invalidEdit', `The model's change writes more than efrit.edits.maxBytes (${env.limits.maxBytes} bytes) in all; nothing was changed. Ask for a smaller change.`);
    }
  };
  for (const [uri, group] of groups) {
    touched.add(uri);
    for (const { edit } of group.edits) count(edit.new_text);
    files.push(group.place === undefined ? planTargetEdits(group.edits, env) : planOtherEdits(group.place, group.edits, env));
  }

  const operationPaths = new Set<string>();
  for (const operation of proposal.files) {
    const where = await place(operation.path);
    if (operationPaths.has(where.uri)) throw invalidEdit(`it names ${where.displayPath} in two file operations`);
    operationPaths.add(where.uri);
    touched.add(where.uri);
    if (operation.action === 'create') {
      if (groups.has(where.uri)) throw invalidEdit(`it both creates and edits ${where.displayPath}; put the whole text in the create`);
      if (where.located.realPath !== undefined || (await env.openDocumentAt(where.located)) !== undefined) {
        throw new EfritError('invalidEdit', `The model's change creates ${where.displayPath}, which already exists; it should edit it instead. Nothing was changed.`);
      }
      await requireConfinedParent(where);
      const text = operation.text ?? '';
      count(text);
      files.push({ kind: 'create', uri: where.uri, displayPath: where.displayPath, lexicalPath: where.located.lexicalPath, text });
    } else if (operation.action === 'delete') {
      if (groups.has(where.uri)) throw invalidEdit(`it both edits and deletes ${where.displayPath}`);
      const snapshot = env.ledger?.get(where.displayPath);
      if (snapshot === undefined) throw notRead(where.displayPath);
      files.push({ kind: 'delete', uri: where.uri, displayPath: where.displayPath, lexicalPath: where.located.lexicalPath, guard: snapshot.origin });
    } else {
      if (where.located.realPath === undefined) throw new EfritError('invalidEdit', `The model's change renames ${where.displayPath}, which does not exist. Nothing was changed.`);
      const to = await place(operation.newPath as string);
      if (to.located.realPath !== undefined || (await env.openDocumentAt(to.located)) !== undefined) {
        throw new EfritError('invalidEdit', `The model's change renames ${where.displayPath} to ${to.displayPath}, which already exists. Nothing was changed.`);
      }
      if (operationPaths.has(to.uri) || groups.has(to.uri)) throw invalidEdit(`it renames ${where.displayPath} onto ${to.displayPath}, which it also changes`);
      await requireConfinedParent(to);
      operationPaths.add(to.uri);
      touched.add(to.uri);
      files.push({
        kind: 'rename',
        uri: where.uri,
        displayPath: where.displayPath,
        lexicalPath: where.located.lexicalPath,
        newUri: to.uri,
        newDisplayPath: to.displayPath,
        newLexicalPath: to.located.lexicalPath,
      });
    }
  }
  if (touched.size > env.limits.maxFiles) {
    throw new EfritError('invalidEdit', `The model's change touches ${touched.size} files, more than efrit.edits.maxFiles (${env.limits.maxFiles}); nothing was changed. Ask for a smaller change.`);
  }
  const changed = files.filter((file) => !(file.kind === 'editOpen' || file.kind === 'editDisk') || file.edits.length > 0);
  if (changed.length === 0) throw invalidEdit('its edits change nothing');
  return { summary: proposal.summary, files: changed };
}

function planTargetEdits(edits: ReadonlyArray<{ edit: RawEdit; index: number }>, env: PlanEnvironment): PlannedFile {
  const { target } = env;
  const raw = edits.map((entry) => entry.edit);
  const numbering = (position: number): number => (edits[position] as { index: number }).index;
  const base = { kind: 'editOpen' as const, uri: target.uri, displayPath: target.displayPath, openId: target.openId };
  try {
    return { ...base, baseVersion: target.baseVersion, baseEpoch: target.baseEpoch, edits: resolveQuotedEdits(raw, target.excerpt, numbering) };
  } catch (error) {
    // The agent may have read more of the document than the excerpt (read_document): its quotes come from there.
    const snapshot = env.ledger?.get(target.displayPath);
    if (snapshot?.origin.kind !== 'editor' || snapshot.origin.openId !== target.openId) throw error;
    const insertAt = snapshot.origin.version === target.baseVersion ? target.excerpt.insertAt : undefined;
    const { version, epoch } = snapshot.origin;
    return { ...base, baseVersion: version, baseEpoch: epoch, edits: resolveQuotedEdits(raw, snapshotQuoteSource(snapshot, insertAt), numbering) };
  }
}

function planOtherEdits(where: Place, edits: ReadonlyArray<{ edit: RawEdit; index: number }>, env: PlanEnvironment): PlannedFile {
  const snapshot = env.ledger?.get(where.displayPath);
  if (snapshot === undefined) throw notRead(where.displayPath);
  const source = snapshotQuoteSource(snapshot, undefined);
  const resolved = resolveQuotedEdits(
    edits.map((entry) => entry.edit),
    source,
    (position) => (edits[position] as { index: number }).index,
  );
  const origin = snapshot.origin;
  if (origin.kind === 'editor') {
    return { kind: 'editOpen', uri: origin.uri, displayPath: where.displayPath, baseVersion: origin.version, baseEpoch: origin.epoch, openId: origin.openId, edits: resolved };
  }
  // Positions now, against the text read: only that exact text will ever receive them.
  const document = TextDocument.create(where.uri, '', 0, snapshot.text);
  return {
    kind: 'editDisk',
    uri: where.uri,
    displayPath: where.displayPath,
    guard: origin,
    edits: resolved.map((edit) => ({ range: { start: document.positionAt(edit.start), end: document.positionAt(edit.end) }, newText: edit.newText })),
  };
}

/**
 * A new name's folder must resolve inside the workspace: `src/` may be a
 * symlink to a folder outside, and the editor would follow it when it
 * creates the file. The nearest folder that exists is what decides.
 */
async function requireConfinedParent(where: Place): Promise<void> {
  const root = where.located.root.realPath;
  for (let folder = dirname(where.located.lexicalPath); ; folder = dirname(folder)) {
    const real = await realpathOrUndefined(folder);
    if (real !== undefined) {
      if (relativeInside(root, real) === undefined) throw refusedPath(where.displayPath, 'its folder leads outside the workspace.');
      return;
    }
    if (dirname(folder) === folder) throw refusedPath(where.displayPath, 'none of its folders exists.');
  }
}
