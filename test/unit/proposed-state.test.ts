/**
 * The files a check's shadow must differ in: the proposed change (as the
 * WorkspaceEdit the editor would get) on top of the editor's unsaved text,
 * placed by real path so a symlinked folder is not replaced by a real one.
 */
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { WorkspaceEdit } from 'vscode-languageserver-types';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { proposedState, shadowFolders } from '../../server/src/agent/proposed-state.js';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import type { TrackedDocument } from '../../server/src/documents/tracked-document.js';

let workspace: string;
beforeEach(async () => {
  workspace = await realpath(await mkdtemp(join(tmpdir(), 'efrit-proposed-')));
  await mkdir(join(workspace, 'lib'));
  await mkdir(join(workspace, 'packages', 'api'), { recursive: true });
  await writeFile(join(workspace, 'lib', 'cart.ts'), 'export const total = 1;\n');
  await writeFile(join(workspace, 'lib', 'old.ts'), 'export const old = true;\n');
  await writeFile(join(workspace, 'lib', 'tax.ts'), 'export const rate = 0.2;\n');
  await writeFile(join(workspace, 'readme.md'), '# shop\n');
  // `src` is how the project names `lib`.
  await symlink('lib', join(workspace, 'src'));
});
afterEach(async () => {
  await rm(workspace, { recursive: true, force: true });
});

const uri = (path: string): string => pathToFileURL(join(workspace, path)).href;
const at = (line: number, character: number) => ({ line, character });
const open = (path: string, text: string, version = 3): TrackedDocument => {
  const store = new DocumentStore();
  store.open({ uri: uri(path), languageId: 'typescript', version, text });
  return store.get(uri(path)) as TrackedDocument;
};

describe('the proposed state of the workspace', () => {
  it('applies edits, creates, renames and deletes, by real path, on the editor text of open documents', async () => {
    const edit: WorkspaceEdit = {
      documentChanges: [
        { kind: 'create', uri: uri('src/fees.ts') },
        { textDocument: { uri: uri('src/fees.ts'), version: null }, edits: [{ range: { start: at(0, 0), end: at(0, 0) }, newText: 'export const fee = 2;\n' }] },
        // Open, with unsaved text: the edit is against the editor's text.
        { textDocument: { uri: uri('src/cart.ts'), version: 3 }, edits: [{ range: { start: at(0, 21), end: at(0, 22) }, newText: '0' }] },
        { kind: 'rename', oldUri: uri('src/tax.ts'), newUri: uri('src/vat.ts') },
        { kind: 'delete', uri: uri('src/old.ts') },
      ],
    };
    const state = await proposedState(edit, { roots: [workspace], openDocuments: () => [open('src/cart.ts', 'export const total = 2; // unsaved\n')], near: uri('src/cart.ts') });
    expect(state.cwd).toBe(workspace);
    expect(state.spec.folders).toEqual([workspace]);
    expect(state.changedFiles).toBe(5);
    expect(state.unsavedFiles).toBe(0);
    expect(state.spec.changes).toEqual([
      { kind: 'write', folder: 0, path: 'lib/fees.ts', text: 'export const fee = 2;\n' },
      { kind: 'write', folder: 0, path: 'lib/cart.ts', text: 'export const total = 0; // unsaved\n' },
      { kind: 'copy', folder: 0, path: 'lib/vat.ts', from: join(workspace, 'src', 'tax.ts') },
      { kind: 'remove', folder: 0, path: 'lib/tax.ts' },
      { kind: 'remove', folder: 0, path: 'lib/old.ts' },
    ]);
  });

  it('carries unsaved editor text of documents the change does not touch, and nothing for saved ones', async () => {
    const documents = [open('readme.md', '# shop\n'), open('lib/tax.ts', 'export const rate = 0.25;\n'), open('notes/new.md', 'not saved yet\n')];
    const state = await proposedState(undefined, { roots: [workspace], openDocuments: () => documents, near: undefined });
    expect(state.changedFiles).toBe(0);
    expect(state.unsavedFiles).toBe(2);
    expect(state.spec.changes).toEqual([
      { kind: 'write', folder: 0, path: 'lib/tax.ts', text: 'export const rate = 0.25;\n' },
      { kind: 'write', folder: 0, path: 'notes/new.md', text: 'not saved yet\n' },
    ]);
  });

  it('removes a symlink itself, not the file it leads to', async () => {
    const edit: WorkspaceEdit = { documentChanges: [{ kind: 'delete', uri: uri('src') }] };
    const state = await proposedState(edit, { roots: [workspace], openDocuments: () => [], near: undefined });
    expect(state.spec.changes).toEqual([{ kind: 'remove', folder: 0, path: 'src' }]);
  });

  it('shadows each folder once: one inside another is covered by the outer one; the command starts in the folder of the task’s document', async () => {
    const other = await realpath(await mkdtemp(join(tmpdir(), 'efrit-proposed-other-')));
    try {
      expect(await shadowFolders([join(workspace, 'packages', 'api'), workspace, join(workspace, 'missing')])).toEqual([workspace]);
      await writeFile(join(other, 'main.ts'), 'main();\n');
      const state = await proposedState(undefined, { roots: [workspace, other], openDocuments: () => [], near: pathToFileURL(join(other, 'main.ts')).href });
      expect(state.cwd).toBe(other);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it('says so when no workspace folder is open', async () => {
    await expect(proposedState(undefined, { roots: [], openDocuments: () => [], near: undefined })).rejects.toThrow('no workspace folder is open, so there is no workspace to run a check in');
  });
});
