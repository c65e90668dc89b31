/**
 * The workspace as a check must see it: the files on disk, with the editor's
 * unsaved text for open documents, and the proposed change applied on top,
 * described as the few files that differ (see shadow-workspace.ts, which
 * mounts them over the unchanged rest).
 *
 * The change comes in as the `WorkspaceEdit` that would be sent to the
 * editor now (workspace-edit.ts): rebased over the user's typing and checked
 * against what was read, so the check sees exactly what the user would get.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { TextEdit, WorkspaceEdit } from 'vscode-languageserver-types';
import type { TrackedDocument } from '../documents/tracked-document.js';
import { insideFolder, type ShadowChange, type ShadowSpec } from './shadow-workspace.js';
import { realpathOrUndefined, resolveRoots } from './workspace-paths.js';

export interface ProposedStateEnvironment {
  /** The workspace folders as configured. */
  roots: readonly string[];
  /** Every open document, for their unsaved text. */
  openDocuments(): TrackedDocument[];
  /** The document the task is about: the command starts in its folder. */
  near: string | undefined;
}

export interface ProposedState {
  spec: ShadowSpec;
  /** The folder the command starts in (real path). */
  cwd: string;
  /** Files the change writes, creates, renames or deletes. */
  changedFiles: number;
  /** Open documents whose unsaved text differs from the file. */
  unsavedFiles: number;
}

/** Folders to shadow: canonical, and none inside another (the outer one's overlay already covers it). */
export async function shadowFolders(roots: readonly string[]): Promise<string[]> {
  const real = (await resolveRoots(roots)).map((root) => root.realPath).sort((a, b) => a.length - b.length);
  const outer: string[] = [];
  for (const folder of real) if (!outer.some((other) => insideFolder(other, folder) !== undefined)) outer.push(folder);
  return outer;
}

type FileState = { kind: 'text'; text: string } | { kind: 'copy'; from: string } | { kind: 'removed' };

export async function proposedState(edit: WorkspaceEdit | undefined, env: ProposedStateEnvironment): Promise<ProposedState> {
  const folders = await shadowFolders(env.roots);
  if (folders.length === 0) throw new Error('no workspace folder is open, so there is no workspace to run a check in');
  const open = new Map(env.openDocuments().map((document) => [document.uri, document]));
  const files = new Map<string, FileState>();
  const current = async (path: string, uri: string): Promise<FileState> => {
    const known = files.get(path);
    if (known !== undefined) return known;
    const document = open.get(uri);
    if (document !== undefined) return { kind: 'text', text: document.text };
    return { kind: 'text', text: await readFile(path, 'utf8') };
  };
  const textOf = async (path: string, uri: string): Promise<string> => {
    const state = await current(path, uri);
    if (state.kind === 'text') return state.text;
    if (state.kind === 'copy') return readFile(state.from, 'utf8');
    throw new Error(`${path} is deleted earlier in the same change`);
  };

  for (const change of edit?.documentChanges ?? []) {
    if ('textDocument' in change) {
      const path = fileURLToPath(change.textDocument.uri);
      // The server builds this edit itself: plain text edits, never snippets.
      files.set(path, { kind: 'text', text: applied(await textOf(path, change.textDocument.uri), change.edits as TextEdit[]) });
    } else if (change.kind === 'create') {
      files.set(fileURLToPath(change.uri), { kind: 'text', text: '' });
    } else if (change.kind === 'rename') {
      const from = fileURLToPath(change.oldUri);
      const state = files.get(from) ?? (open.has(change.oldUri) ? await current(from, change.oldUri) : { kind: 'copy' as const, from });
      files.set(fileURLToPath(change.newUri), state);
      files.set(from, { kind: 'removed' });
    } else {
      files.set(fileURLToPath(change.uri), { kind: 'removed' });
    }
  }
  for (const [uri, edits] of Object.entries(edit?.changes ?? {})) {
    const path = fileURLToPath(uri);
    files.set(path, { kind: 'text', text: applied(await textOf(path, uri), edits) });
  }
  const changedFiles = files.size;

  let unsavedFiles = 0;
  for (const document of open.values()) {
    if (!document.uri.startsWith('file:')) continue;
    const path = fileURLToPath(document.uri);
    if (files.has(path)) continue;
    const onDisk = await readFile(path, 'utf8').catch(() => undefined);
    if (onDisk === document.text) continue;
    files.set(path, { kind: 'text', text: document.text });
    unsavedFiles++;
  }

  const changes: ShadowChange[] = [];
  for (const [path, state] of files) {
    // A removed symlink is the link itself, not the file it leads to.
    const place = state.kind === 'removed' ? await placeOf(path, folders, true) : await placeOf(path, folders);
    // An open document outside every folder is not the workspace's: the check does not see it.
    if (place === undefined) continue;
    if (state.kind === 'removed') changes.push({ kind: 'remove', ...place });
    else if (state.kind === 'copy') changes.push({ kind: 'copy', ...place, from: state.from });
    else changes.push({ kind: 'write', ...place, text: state.text });
  }
  const near = env.near?.startsWith('file:') === true ? await placeOf(fileURLToPath(env.near), folders) : undefined;
  return { spec: { folders, changes }, cwd: folders[near?.folder ?? 0] as string, changedFiles, unsavedFiles };
}

function applied(text: string, edits: readonly TextEdit[]): string {
  return TextDocument.applyEdits(TextDocument.create('file:///shadow', 'plaintext', 0, text), [...edits]);
}

/**
 * Which folder holds the file and where, by real path: a file reached through
 * a symlinked folder must land where the link leads, or the shadow would get
 * a real folder in place of the link. A file that does not exist yet is
 * placed by its nearest existing folder; `itself`: the entry, not what a link
 * there leads to.
 */
async function placeOf(path: string, folders: readonly string[], itself = false): Promise<{ folder: number; path: string } | undefined> {
  const rest: string[] = itself ? [basename(path)] : [];
  let existing = itself ? dirname(path) : path;
  let real = await realpathOrUndefined(existing);
  while (real === undefined) {
    const parent = dirname(existing);
    if (parent === existing) return undefined;
    rest.unshift(basename(existing));
    existing = parent;
    real = await realpathOrUndefined(existing);
  }
  const full = rest.length === 0 ? real : join(real, ...rest);
  for (const [index, folder] of folders.entries()) {
    const relative = insideFolder(folder, full);
    if (relative !== undefined && relative !== '') return { folder: index, path: relative };
  }
  return undefined;
}
