/**
 * What an editor does with a `WorkspaceEdit` that reaches past its open
 * buffers, for the demo, the benchmarks and tests that play the editor:
 * - `planWorkspaceEdit` works out every file's text before and after, in
 *   memory (an open document's from the editor, any other file's from disk),
 *   checking what an editor checks: a versioned edit matches the open
 *   document's version, a created file does not exist yet, an edited or
 *   renamed one does. This is also the review: a diff per file, before
 *   anything is written.
 * - `writePlannedChanges` then writes the files that are not open and hands
 *   the open documents' edits back, to be sent as `didChange` as an editor
 *   reports its own edits.
 * Nothing is written unless every change checks out.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApplyWorkspaceEditParams, ApplyWorkspaceEditResult, CreateFile, DeleteFile, RenameFile, TextDocumentEdit, TextEdit, WorkspaceEdit } from 'vscode-languageserver-protocol';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { TestClient } from './lsp-client.js';

export interface OpenText {
  text: string;
  version: number;
}

export type FileChangeKind = 'edit' | 'create' | 'rename' | 'delete';

export interface PlannedFileChange {
  uri: string;
  kind: FileChangeKind;
  /** Absent: the file does not exist before the change. */
  before: string | undefined;
  /** Absent: the file does not exist after it (deleted, or renamed away). */
  after: string | undefined;
  /** Where a renamed file goes. */
  newUri?: string;
  /** The open document's edits, in the order sent, for its `didChange`. */
  openEdits: TextEdit[];
  /** The document is open in the editor: its text is the editor's, not the disk's. */
  open: boolean;
}

export type PlanOutcome = { ok: true; changes: PlannedFileChange[] } | { ok: false; reason: string };

function diskText(uri: string): string | undefined {
  const path = fileURLToPath(uri);
  try {
    if (!statSync(path).isFile()) return undefined;
  } catch {
    return undefined;
  }
  return readFileSync(path, 'utf8');
}

function applied(text: string, edits: readonly TextEdit[]): string {
  return TextDocument.applyEdits(TextDocument.create('file:///planned', 'plaintext', 0, text), [...edits]);
}

/** Every file's text before and after the edit; the first change an editor would refuse ends the plan with its reason. */
export function planWorkspaceEdit(edit: WorkspaceEdit, openText: (uri: string) => OpenText | undefined): PlanOutcome {
  const changes = new Map<string, PlannedFileChange>();
  const current = (uri: string): string | undefined => {
    const planned = changes.get(uri);
    if (planned !== undefined) return planned.after;
    return openText(uri)?.text ?? diskText(uri);
  };
  const entry = (uri: string, kind: FileChangeKind): PlannedFileChange => {
    let change = changes.get(uri);
    if (change === undefined) {
      const before = openText(uri)?.text ?? diskText(uri);
      change = { uri, kind, before, after: before, openEdits: [], open: openText(uri) !== undefined };
      changes.set(uri, change);
    }
    return change;
  };

  const textEdit = (uri: string, version: number | null, edits: readonly TextEdit[]): string | undefined => {
    const open = openText(uri);
    if (version !== null && open?.version !== version) return `${uri} is at version ${String(open?.version ?? 'none (not open)')}, the edit is for version ${version}`;
    const text = current(uri);
    if (text === undefined) return `${uri} does not exist`;
    const change = entry(uri, 'edit');
    change.after = applied(text, edits);
    if (change.open) change.openEdits.push(...edits);
    return undefined;
  };

  for (const documentChange of edit.documentChanges ?? []) {
    let problem: string | undefined;
    if ('kind' in documentChange) {
      if (documentChange.kind === 'create') {
        const create = documentChange as CreateFile;
        const exists = current(create.uri) !== undefined;
        if (exists && create.options?.overwrite !== true) {
          if (create.options?.ignoreIfExists === true) continue;
          problem = `${create.uri} exists already`;
        } else {
          const change = entry(create.uri, 'create');
          change.kind = change.before === undefined ? 'create' : 'edit';
          change.after = '';
        }
      } else if (documentChange.kind === 'rename') {
        const rename = documentChange as RenameFile;
        const text = current(rename.oldUri);
        if (text === undefined) problem = `${rename.oldUri} does not exist`;
        else if (current(rename.newUri) !== undefined && rename.options?.overwrite !== true) problem = `${rename.newUri} exists already`;
        else {
          const from = entry(rename.oldUri, 'rename');
          from.kind = 'rename';
          from.newUri = rename.newUri;
          from.after = undefined;
          const to = entry(rename.newUri, 'create');
          to.after = text;
        }
      } else {
        const remove = documentChange as DeleteFile;
        if (current(remove.uri) === undefined && remove.options?.ignoreIfNotExists !== true) problem = `${remove.uri} does not exist`;
        else {
          const change = entry(remove.uri, 'delete');
          change.kind = 'delete';
          change.after = undefined;
        }
      }
    } else {
      const { textDocument, edits } = documentChange as TextDocumentEdit;
      problem = textEdit(textDocument.uri, textDocument.version, edits as TextEdit[]);
    }
    if (problem !== undefined) return { ok: false, reason: problem };
  }
  for (const [uri, edits] of Object.entries(edit.changes ?? {})) {
    const problem = textEdit(uri, null, edits);
    if (problem !== undefined) return { ok: false, reason: problem };
  }
  return { ok: true, changes: [...changes.values()] };
}

/** Writes the planned changes of files that are not open; returns the open documents' changes, for their `didChange`. */
export function writePlannedChanges(changes: readonly PlannedFileChange[]): PlannedFileChange[] {
  const open: PlannedFileChange[] = [];
  for (const change of changes) {
    if (change.open && change.after !== undefined && change.kind === 'edit') {
      open.push(change);
      continue;
    }
    const path = fileURLToPath(change.uri);
    if (change.kind === 'rename' && change.newUri !== undefined) {
      mkdirSync(dirname(fileURLToPath(change.newUri)), { recursive: true });
      renameSync(path, fileURLToPath(change.newUri));
    } else if (change.after === undefined) {
      if (change.kind === 'delete') rmSync(path, { force: true });
    } else if (change.before !== change.after || change.kind === 'create') {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, change.after);
    }
  }
  return open;
}

/** An open document's edits as `didChange` content changes: last first, so each range is still where the edit meant it. */
export function contentChangesOf(edits: readonly TextEdit[]): { range: TextEdit['range']; text: string }[] {
  return [...edits]
    .sort((a, b) => b.range.start.line - a.range.start.line || b.range.start.character - a.range.start.character)
    .map((edit) => ({ range: edit.range, text: edit.newText }));
}

/** The text and version of a document open in the test client, as `planWorkspaceEdit` asks for it. */
export function openTextIn(client: TestClient): (uri: string) => OpenText | undefined {
  return (uri) => {
    const doc = client.documents.get(uri);
    return doc === undefined ? undefined : { text: doc.getText(), version: doc.version };
  };
}

/**
 * A `workspace/applyEdit` answered as an editor with resource operations
 * answers it: all of it or none, open documents through their buffers
 * (reported back as `didChange`), other files on disk.
 */
export function applyAsEditor(client: TestClient, params: ApplyWorkspaceEditParams): ApplyWorkspaceEditResult {
  const plan = planWorkspaceEdit(params.edit, openTextIn(client));
  if (!plan.ok) return { applied: false, failureReason: plan.reason };
  for (const change of writePlannedChanges(plan.changes)) void client.sendChanges(change.uri, contentChangesOf(change.openEdits));
  return { applied: true };
}
