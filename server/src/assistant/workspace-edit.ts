/**
 * A planned change as the `WorkspaceEdit` to send now, or a refusal naming
 * the file and why: all or nothing. Built just before it is sent, because
 * that is the last moment the server can look:
 * - an open document's edits are carried over what the user typed since
 *   (the journal), or refused where the typing meets them;
 * - a file not open is re-read and must hash to what the model read: its
 *   edit goes out with `version: null` (the editor has no version for a file
 *   it has not opened), so this check is the only thing that keeps an edit
 *   from landing at stale offsets in a file changed on disk;
 * - a file opened in the editor since it was read must still have the text
 *   that was read, and then its edit carries the editor's version;
 * - created files must still not exist, renamed ones must still exist.
 * Resource operations go only to a client that declares them; every edit
 * carries the "Efrit" change annotation where the client supports those.
 */
import { lstat } from 'node:fs/promises';
import type { AnnotatedTextEdit, ChangeAnnotation, CreateFile, DeleteFile, RenameFile, TextDocumentEdit, TextEdit, WorkspaceEdit } from 'vscode-languageserver-types';
import { EfritError } from '../common/errors.js';
import { rebaseEdits, toTextEdits } from '../documents/rebase.js';
import type { TrackedDocument } from '../documents/tracked-document.js';
import { sha256Of, type ReadOrigin } from '../agent/read-ledger.js';
import type { PlannedChange, PlannedFile } from './change-plan.js';

export type ResourceOperation = 'create' | 'rename' | 'delete';
export type ConfirmPolicy = 'multiFile' | 'always' | 'never';

/** What the client declared it can take (`workspace.workspaceEdit`). */
export interface EditCapabilities {
  documentChanges: boolean;
  resourceOperations: ReadonlySet<string>;
  changeAnnotations: boolean;
}

export interface FileChangeSummary {
  uri: string;
  path: string;
  kind: 'edit' | 'create' | 'rename' | 'delete';
  newUri?: string;
  newPath?: string;
}

export interface BuildEnvironment {
  capabilities: EditCapabilities;
  confirm: ConfirmPolicy;
  /** URIs of files the user rejected in review: their part of the change is left out. */
  exclude: ReadonlySet<string>;
  /** The open document with this URI. */
  document(uri: string): TrackedDocument | undefined;
  /** The open document that is the file at `lexicalPath`, by any of its names. */
  openDocumentFor(lexicalPath: string): Promise<TrackedDocument | undefined>;
  /** The file's text now, read under read_file's rules; undefined when it is gone or refused. */
  readDisk(realPath: string, displayPath: string): Promise<string | undefined>;
  /** Why this text must not be sent (it carries the API key), or undefined. */
  refuseText(text: string): string | undefined;
  /** The summary, as the annotation's description. */
  summary: string;
}

export const efritAnnotationId = 'efrit';

function conflict(displayPath: string, why: string): EfritError {
  return new EfritError('editConflict', `${displayPath} ${why}, so Efrit's change was not applied (no file was changed). Run the task again.`);
}

function unsupported(operation: ResourceOperation, displayPath: string): EfritError {
  return new EfritError(
    'editRejected',
    `This editor cannot ${operation} files through the language server (it does not declare workspace.workspaceEdit.resourceOperations "${operation}"), and Efrit's change would ${operation} ${displayPath}; nothing was changed.`,
  );
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

export function summarizeFiles(change: PlannedChange): FileChangeSummary[] {
  return change.files.map((file): FileChangeSummary => {
    if (file.kind === 'rename') return { uri: file.uri, path: file.displayPath, kind: 'rename', newUri: file.newUri, newPath: file.newDisplayPath };
    return { uri: file.uri, path: file.displayPath, kind: file.kind === 'editOpen' || file.kind === 'editDisk' ? 'edit' : file.kind };
  });
}

/** Whether the editor should ask the user before applying, per `edits.confirm`. */
export function needsConfirmation(change: PlannedChange, policy: ConfirmPolicy): boolean {
  if (policy !== 'multiFile') return policy === 'always';
  return change.files.length > 1 || change.files.some((file) => file.kind !== 'editOpen' && file.kind !== 'editDisk');
}

export async function buildWorkspaceEdit(change: PlannedChange, env: BuildEnvironment): Promise<WorkspaceEdit> {
  const files = change.files.filter((file) => !env.exclude.has(file.uri));
  if (files.length === 0) throw new EfritError('editRejected', 'Every file of the change was rejected; nothing was applied.');
  const { capabilities } = env;
  for (const file of files) {
    const operation = file.kind === 'create' || file.kind === 'rename' || file.kind === 'delete' ? file.kind : undefined;
    if (operation !== undefined && !(capabilities.documentChanges && capabilities.resourceOperations.has(operation))) throw unsupported(operation, file.displayPath);
    const text = file.kind === 'create' ? [file.text] : file.kind === 'editOpen' || file.kind === 'editDisk' ? file.edits.map((edit) => edit.newText) : [];
    for (const piece of text) {
      const why = env.refuseText(piece);
      if (why !== undefined) throw new EfritError('invalidEdit', why);
    }
  }

  const annotate = capabilities.documentChanges && capabilities.changeAnnotations;
  const withAnnotation = (edits: TextEdit[]): Array<TextEdit | AnnotatedTextEdit> => (annotate ? edits.map((edit) => ({ ...edit, annotationId: efritAnnotationId })) : edits);
  const operationAnnotation = annotate ? { annotationId: efritAnnotationId } : {};

  // Each file is checked on its own (a locate, a read and a hash for a file on disk), all at once: on a busy machine
  // ten files checked one after another wait ten times for the disk. The refusal is still the first file's, in order.
  const checked = await Promise.allSettled(files.map((file) => checkFile(file, env, withAnnotation, operationAnnotation)));
  const creates: Array<CreateFile | TextDocumentEdit> = [];
  const edits: Array<{ uri: string; version: number | null; edits: TextEdit[] }> = [];
  const moves: Array<RenameFile | DeleteFile> = [];
  for (const result of checked) {
    if (result.status === 'rejected') throw result.reason;
    const part = result.value;
    if (part.kind === 'create') creates.push(...part.changes);
    else if (part.kind === 'edit') edits.push(part.edit);
    else moves.push(part.change);
  }

  if (!capabilities.documentChanges) {
    return { changes: Object.fromEntries(edits.map((edit) => [edit.uri, edit.edits])) };
  }
  const documentChanges = [
    ...creates,
    ...edits.map((edit): TextDocumentEdit => ({ textDocument: { uri: edit.uri, version: edit.version }, edits: withAnnotation(edit.edits) })),
    ...moves,
  ];
  if (!annotate) return { documentChanges };
  const annotation: ChangeAnnotation = { label: 'Efrit', needsConfirmation: needsConfirmation({ ...change, files }, env.confirm) };
  if (env.summary !== '') annotation.description = env.summary;
  return { documentChanges, changeAnnotations: { [efritAnnotationId]: annotation } };
}

type CheckedFile =
  | { kind: 'create'; changes: Array<CreateFile | TextDocumentEdit> }
  | { kind: 'edit'; edit: { uri: string; version: number | null; edits: TextEdit[] } }
  | { kind: 'move'; change: RenameFile | DeleteFile };

/** One file's part of the WorkspaceEdit, checked against the file as it is now. */
async function checkFile(
  file: PlannedFile,
  env: BuildEnvironment,
  withAnnotation: (edits: TextEdit[]) => Array<TextEdit | AnnotatedTextEdit>,
  operationAnnotation: { annotationId?: string },
): Promise<CheckedFile> {
  switch (file.kind) {
    case 'editOpen':
      return { kind: 'edit', edit: openEdits(file, env) };
    case 'editDisk':
      return { kind: 'edit', edit: await diskEdits(file, env) };
    case 'create': {
      if (await exists(file.lexicalPath)) throw conflict(file.displayPath, 'was created by someone else while Efrit was working');
      const changes: Array<CreateFile | TextDocumentEdit> = [{ kind: 'create', uri: file.uri, options: { overwrite: false, ignoreIfExists: false }, ...operationAnnotation }];
      if (file.text !== '') {
        changes.push({ textDocument: { uri: file.uri, version: null }, edits: withAnnotation([{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: file.text }]) });
      }
      return { kind: 'create', changes };
    }
    case 'rename':
      if (!(await exists(file.lexicalPath))) throw conflict(file.displayPath, 'was removed while Efrit was working');
      if (await exists(file.newLexicalPath)) throw conflict(file.newDisplayPath, 'was created while Efrit was working');
      return { kind: 'move', change: { kind: 'rename', oldUri: file.uri, newUri: file.newUri, options: { overwrite: false, ignoreIfExists: false }, ...operationAnnotation } };
    case 'delete':
      await requireAsRead(file.guard, file.displayPath, file.lexicalPath, env);
      return { kind: 'move', change: { kind: 'delete', uri: file.uri, options: { recursive: false, ignoreIfNotExists: false }, ...operationAnnotation } };
  }
}

function openEdits(file: PlannedFile & { kind: 'editOpen' }, env: BuildEnvironment): { uri: string; version: number; edits: TextEdit[] } {
  const doc = env.document(file.uri);
  if (doc === undefined || doc.openId !== file.openId) {
    throw new EfritError('documentNotOpen', `${file.displayPath} was closed while Efrit was working; the change was not applied (no file was changed). Run the task again.`);
  }
  const rebased = rebaseEdits(file.edits, file.baseVersion, doc, file.baseEpoch);
  if (!rebased.ok) throw new EfritError('editConflict', `${file.displayPath}: ${rebased.message}`);
  return { uri: doc.uri, version: doc.version, edits: toTextEdits(rebased.edits, doc) };
}

async function diskEdits(file: PlannedFile & { kind: 'editDisk' }, env: BuildEnvironment): Promise<{ uri: string; version: number | null; edits: TextEdit[] }> {
  const open = await env.openDocumentFor(file.guard.lexicalPath);
  if (open !== undefined) {
    // Opened since it was read: the editor's text must still be the text the positions were computed on.
    if (sha256Of(open.text) !== file.guard.sha256) throw conflict(file.displayPath, 'was changed in the editor after Efrit read it');
    return { uri: open.uri, version: open.version, edits: file.edits };
  }
  await requireAsRead(file.guard, file.displayPath, file.guard.lexicalPath, env);
  return { uri: file.uri, version: null, edits: file.edits };
}

/** The file is still exactly what the model read, or the change is refused. */
async function requireAsRead(guard: ReadOrigin, displayPath: string, lexicalPath: string, env: BuildEnvironment): Promise<void> {
  if (guard.kind === 'editor') {
    const doc = env.document(guard.uri);
    if (doc === undefined || doc.openId !== guard.openId) throw conflict(displayPath, 'was closed after Efrit read it');
    if (doc.version !== guard.version || doc.journal.epoch !== guard.epoch) throw conflict(displayPath, 'was changed after Efrit read it');
    return;
  }
  const open = await env.openDocumentFor(lexicalPath);
  const now = open !== undefined ? open.text : await env.readDisk(guard.realPath, displayPath);
  if (now === undefined) throw conflict(displayPath, 'is gone or can no longer be read');
  if (sha256Of(now) !== guard.sha256) throw conflict(displayPath, 'changed on disk after Efrit read it');
}

/**
 * The files of `change` that no longer look as they did when `sent` went
 * out, after the editor answered that it did not apply it: an editor that
 * stops at the failing part (LSP's "abort") may have applied the parts
 * before it, and one that says nothing may have applied any of them. Looked
 * at, not guessed from the client's declared failure handling. (An open
 * document the user typed in since counts as changed: the message asks to
 * check it, which is right either way.)
 */
export async function filesChangedSince(change: PlannedChange, sent: WorkspaceEdit, env: Pick<BuildEnvironment, 'document' | 'openDocumentFor' | 'readDisk'>): Promise<string[]> {
  const sentVersions = new Map<string, number | null>();
  for (const part of sent.documentChanges ?? []) if ('textDocument' in part) sentVersions.set(part.textDocument.uri, part.textDocument.version);
  const changed = await Promise.all(
    change.files.map(async (file): Promise<boolean> => {
      switch (file.kind) {
        case 'editOpen': {
          const doc = env.document(file.uri);
          const version = sentVersions.get(file.uri);
          return doc !== undefined && version !== undefined && version !== null && doc.version !== version;
        }
        case 'editDisk': {
          const open = await env.openDocumentFor(file.guard.lexicalPath);
          const now = open !== undefined ? open.text : await env.readDisk(file.guard.realPath, file.displayPath);
          return now === undefined || sha256Of(now) !== file.guard.sha256;
        }
        case 'create':
          return exists(file.lexicalPath);
        case 'rename':
          return !(await exists(file.lexicalPath)) || (await exists(file.newLexicalPath));
        case 'delete':
          return !(await exists(file.lexicalPath));
      }
    }),
  );
  return change.files.filter((_, index) => changed[index]).map((file) => file.displayPath);
}

/** The file a `failedChange` index of this edit names, for the message. */
export function changeAt(edit: WorkspaceEdit, index: number): string | undefined {
  const change = edit.documentChanges?.[index];
  if (change === undefined) return undefined;
  if ('textDocument' in change) return change.textDocument.uri;
  return change.kind === 'rename' ? change.oldUri : change.uri;
}
