/**
 * The editor's side of a change across files, as the demo, the benchmarks and
 * tests play it: every file's text before and after worked out in memory (the
 * review), then written only when all of it checks out.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Range, WorkspaceEdit } from 'vscode-languageserver-protocol';
import { planWorkspaceEdit, writePlannedChanges } from '../support/workspace-edit-files.js';

let root: string;
const uriOf = (path: string): string => pathToFileURL(join(root, path)).href;
const checkout = "import { cartTotal } from './cart.js';\n\nexport const due = (items) => cartTotal(items, 0.2);\n";

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'efrit-edit-files-'));
  mkdirSync(join(root, 'src'));
  writeFileSync(join(root, 'src/checkout.ts'), checkout);
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Each `cartTotal` of the checkout's text, as a range. */
function usesOfCartTotal(text: string): Range[] {
  return text.split('\n').flatMap((line, index) => {
    const at = line.indexOf('cartTotal');
    return at < 0 ? [] : [{ start: { line: index, character: at }, end: { line: index, character: at + 'cartTotal'.length } }];
  });
}

const renameInCheckout = (version: number | null): WorkspaceEdit['documentChanges'] => [
  { textDocument: { uri: uriOf('src/checkout.ts'), version }, edits: usesOfCartTotal(checkout).map((range) => ({ range, newText: 'orderTotal' })) },
];

describe('a workspace edit played by the editor', () => {
  it('shows an unopened file edited and a new file created, then writes both only when asked', () => {
    const plan = planWorkspaceEdit(
      {
        documentChanges: [
          ...(renameInCheckout(null) ?? []),
          { kind: 'create', uri: uriOf('test/order-total.test.ts'), options: { overwrite: false, ignoreIfExists: false } },
          { textDocument: { uri: uriOf('test/order-total.test.ts'), version: null }, edits: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: "it('sums');\n" }] },
        ],
      },
      () => undefined,
    );
    if (!plan.ok) throw new Error(plan.reason);
    expect(plan.changes.map(({ kind, before, after }) => ({ kind, before, after }))).toEqual([
      { kind: 'edit', before: checkout, after: checkout.replaceAll('cartTotal', 'orderTotal') },
      { kind: 'create', before: undefined, after: "it('sums');\n" },
    ]);
    expect(readFileSync(join(root, 'src/checkout.ts'), 'utf8')).toBe(checkout);
    expect(existsSync(join(root, 'test/order-total.test.ts'))).toBe(false);

    expect(writePlannedChanges(plan.changes)).toEqual([]);
    expect(readFileSync(join(root, 'src/checkout.ts'), 'utf8')).toBe(checkout.replaceAll('cartTotal', 'orderTotal'));
    expect(readFileSync(join(root, 'test/order-total.test.ts'), 'utf8')).toBe("it('sums');\n");
  });

  it('takes an open document from the editor, and refuses an edit for another version of it', () => {
    const editorText = checkout.replace('0.2', '0.25');
    const open = (uri: string) => (uri === uriOf('src/checkout.ts') ? { text: editorText, version: 4 } : undefined);
    const plan = planWorkspaceEdit({ documentChanges: renameInCheckout(4) ?? [] }, open);
    if (!plan.ok) throw new Error(plan.reason);
    expect(plan.changes[0]).toMatchObject({ open: true, before: editorText, after: editorText.replaceAll('cartTotal', 'orderTotal') });
    expect(writePlannedChanges(plan.changes)).toHaveLength(1);
    expect(readFileSync(join(root, 'src/checkout.ts'), 'utf8')).toBe(checkout);

    expect(planWorkspaceEdit({ documentChanges: renameInCheckout(3) ?? [] }, open)).toEqual({ ok: false, reason: `${uriOf('src/checkout.ts')} is at version 4, the edit is for version 3` });
  });

  it('refuses to create a file that exists, and a text edit to a file that does not', () => {
    expect(planWorkspaceEdit({ documentChanges: [...(renameInCheckout(null) ?? []), { kind: 'create', uri: uriOf('src/checkout.ts') }] }, () => undefined)).toEqual({
      ok: false,
      reason: `${uriOf('src/checkout.ts')} exists already`,
    });
    expect(planWorkspaceEdit({ changes: { [uriOf('src/gone.ts')]: [] } }, () => undefined)).toEqual({ ok: false, reason: `${uriOf('src/gone.ts')} does not exist` });
  });

  it('renames and deletes files', () => {
    const plan = planWorkspaceEdit({ documentChanges: [{ kind: 'rename', oldUri: uriOf('src/checkout.ts'), newUri: uriOf('src/pay.ts') }, { kind: 'delete', uri: uriOf('src/pay.ts') }] }, () => undefined);
    if (!plan.ok) throw new Error(plan.reason);
    expect(plan.changes.map(({ kind, after }) => ({ kind, after }))).toEqual([
      { kind: 'rename', after: undefined },
      { kind: 'delete', after: undefined },
    ]);
    writePlannedChanges(plan.changes);
    expect(existsSync(join(root, 'src/checkout.ts'))).toBe(false);
    expect(existsSync(join(root, 'src/pay.ts'))).toBe(false);
  });
});
