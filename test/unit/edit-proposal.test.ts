import { describe, expect, it } from 'vitest';
import { resolveProposedEdits } from '../../server/src/assistant/edit-proposal.js';
import { captureContext } from '../../server/src/context/capture-context.js';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import type { OffsetEdit } from '../../server/src/documents/rebase.js';
import { inventoryTs } from '../fixtures/samples.js';
import { rangeOf } from '../support/lsp-client.js';

const uri = 'file:///work/shop/src/inventory.ts';

function setup(text = inventoryTs, selection = 'lowStock') {
  const store = new DocumentStore();
  store.open({ uri, languageId: 'typescript', version: 1, text });
  const doc = store.get(uri);
  if (doc === undefined) throw new Error('not opened');
  const range = rangeOf(text, selection);
  const context = captureContext(doc, range, { linesBefore: 200, linesAfter: 80, maxChars: 24000, workspaceRoots: ['/work/shop'] });
  return { doc, context, selectionStart: doc.offsetAt(range.start) };
}

function apply(text: string, edits: OffsetEdit[]): string {
  let out = text;
  for (const edit of [...edits].sort((a, b) => b.start - a.start)) out = out.slice(0, edit.start) + edit.newText + out.slice(edit.end);
  return out;
}

describe('resolving the model’s proposed edits', () => {
  it('finds each quoted text once and replaces it', () => {
    const { context, doc, selectionStart } = setup();
    const result = resolveProposedEdits(
      { summary: 'Fix the typo.', edits: [{ old_text: 'item.stock < treshold', new_text: 'item.stock < threshold' }] },
      context,
      doc.eol,
      selectionStart,
    );
    expect(result.summary).toBe('Fix the typo.');
    expect(apply(inventoryTs, result.edits)).toBe(inventoryTs.replace('< treshold', '< threshold'));
  });

  it('accepts quotes the model copied with the excerpt’s line numbers', () => {
    const { context, doc, selectionStart } = setup();
    const gutterLine = context.numbered.split('\n').find((line) => line.includes('item.stock < treshold')) ?? '';
    const result = resolveProposedEdits({ summary: '', edits: [{ old_text: gutterLine, new_text: '  return items.filter((item) => item.stock < threshold);' }] }, context, doc.eol, selectionStart);
    expect(apply(inventoryTs, result.edits)).toContain('item.stock < threshold);');
  });

  it('inserts at the selection when old_text is empty', () => {
    const { context, doc, selectionStart } = setup(inventoryTs, 'export function lowStock');
    const result = resolveProposedEdits({ summary: '', edits: [{ old_text: '', new_text: '/** Items below the threshold. */\n' }] }, context, doc.eol, selectionStart);
    expect(apply(inventoryTs, result.edits)).toContain('/** Items below the threshold. */\nexport function lowStock');
  });

  it('writes CRLF into a CRLF document', () => {
    const crlf = inventoryTs.replace(/\n/g, '\r\n');
    const { context, doc, selectionStart } = setup(crlf);
    const result = resolveProposedEdits(
      { summary: '', edits: [{ old_text: 'export interface Item {\n  sku: string;', new_text: 'export interface Item {\n  /** Stock keeping unit. */\n  sku: string;' }] },
      context,
      doc.eol,
      selectionStart,
    );
    expect(apply(crlf, result.edits)).toContain('export interface Item {\r\n  /** Stock keeping unit. */\r\n  sku: string;');
  });

  it('writes every line break as the document does, whatever mix the model sent', () => {
    const crlf = inventoryTs.replace(/\n/g, '\r\n');
    const { context, doc, selectionStart } = setup(crlf);
    const result = resolveProposedEdits(
      { summary: '', edits: [{ old_text: 'export interface Item {\r\n  sku: string;', new_text: 'export interface Item {\r  /** Stock keeping unit. */\n  /** Unique. */\r\n  sku: string;' }] },
      context,
      doc.eol,
      selectionStart,
    );
    const edited = apply(crlf, result.edits);
    expect(edited).toContain('export interface Item {\r\n  /** Stock keeping unit. */\r\n  /** Unique. */\r\n  sku: string;');
    expect(edited.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);

    const lf = setup();
    const unix = resolveProposedEdits({ summary: '', edits: [{ old_text: 'export interface Item {', new_text: '/** An item. */\r\nexport interface Item {' }] }, lf.context, lf.doc.eol, lf.selectionStart);
    expect(apply(inventoryTs, unix.edits)).toContain('/** An item. */\nexport interface Item {');
    expect(apply(inventoryTs, unix.edits)).not.toContain('\r');
  });

  it('refuses an edit that would cut a \\r\\n pair in two in a file that mixes line endings', () => {
    // The first line break is \n, so quotes are matched with \n; further down the file uses \r\n.
    const mixed = inventoryTs.replace(/\n(?=export function)/g, '\r\n');
    expect(mixed).toContain('\r\nexport function');
    const { context, doc, selectionStart } = setup(mixed);
    expect(doc.eol).toBe('\n');
    expect(() =>
      resolveProposedEdits({ summary: '', edits: [{ old_text: '\nexport function lowStock', new_text: ' export function lowStock' }] }, context, doc.eol, selectionStart),
    ).toThrow(expect.objectContaining({ reason: 'invalidEdit', message: expect.stringMatching(/cut a \\r\\n line break in two/) }));
  });

  it.each([
    [{ summary: 'x', edits: [{ old_text: 'items.sort()', new_text: 'y' }] }, /not in src\/inventory\.ts/],
    [{ summary: 'x', edits: [{ old_text: 'item', new_text: 'y' }] }, /ambiguous: its text occurs at lines/],
    [{ summary: 'x', edits: [] }, /proposed no edits/],
    [{ summary: 'x' }, /"edits" is not a list/],
    ['not an object', /arguments are not an object/],
    [{ summary: 'x', edits: [{ old_text: 'stock: number;' }] }, /lacks old_text or new_text/],
    [
      { summary: 'x', edits: [{ old_text: 'sku: string;\n  name: string;', new_text: 'a' }, { old_text: 'name: string;\n  stock', new_text: 'b' }] },
      /overlap each other/,
    ],
  ])('refuses an unusable proposal: %j', (input, message) => {
    const { context, doc, selectionStart } = setup();
    expect(() => resolveProposedEdits(input, context, doc.eol, selectionStart)).toThrow(message);
  });
});
