import { describe, expect, it } from 'vitest';
import { resolveProposedEdits } from '../../server/src/assistant/edit-proposal.js';
import { captureContext } from '../../server/src/context/capture-context.js';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import type { OffsetEdit } from '../../server/src/documents/rebase.js';
import { EfritError } from '../../server/src/common/errors.js';
import { inventoryTs } from '../fixtures/samples.js';
import { rangeOf } from '../support/lsp-client.js';

const uri = 'file:///work/shop/src/inventory.ts';

function setup(text = inventoryTs, selection = 'lowStock', window = { linesBefore: 200, linesAfter: 80 }) {
  const store = new DocumentStore();
  store.open({ uri, languageId: 'typescript', version: 1, text });
  const doc = store.get(uri);
  if (doc === undefined) throw new Error('not opened');
  const range = rangeOf(text, selection);
  const context = captureContext(doc, range, { ...window, maxChars: 24000, workspaceRoots: ['/work/shop'] });
  return { doc, context, selectionStart: doc.offsetAt(range.start) };
}

/** Applies the edits as an editor applies one TextEdit[]: in document order, and where two start at one place, in the order given. */
function apply(text: string, edits: OffsetEdit[]): string {
  let out = '';
  let at = 0;
  for (const edit of edits) {
    if (edit.start < at) throw new Error(`edits out of document order at ${edit.start}`);
    out += text.slice(at, edit.start) + edit.newText;
    at = edit.end;
  }
  return out + text.slice(at);
}

/** The invalidEdit error `run` throws (vitest's toThrow alone would also pass on a throw of undefined). */
function refusal(run: () => unknown): EfritError {
  try {
    run();
  } catch (error) {
    if (error instanceof EfritError && error.reason === 'invalidEdit') return error;
    throw error;
  }
  throw new Error('expected the edit to be refused');
}

/** The excerpt's row for 1-based line `line`, gutter and all, as a model might copy it. */
function row(numbered: string, line: number): string {
  const found = numbered.split('\n').find((l) => new RegExp(`^ *${line}\\|`).test(l));
  if (found === undefined) throw new Error(`no row for line ${line}`);
  return found;
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
    ).toThrow(
      expect.objectContaining({
        reason: 'invalidEdit',
        message: "The model's edit 1 would cut a \\r\\n line break in two (src/inventory.ts mixes line endings); nothing was changed. Try again.",
      }),
    );
  });

  it.each([
    [{ summary: 'x', edits: [{ old_text: 'items.sort()', new_text: 'y' }] }, "The model's edit 1 quotes text that is not in src/inventory.ts; nothing was changed. Try again."],
    [{ summary: 'x', edits: [{ old_text: 'item.stock', new_text: 'y' }] }, "The model's edit 1 is ambiguous: its text occurs at lines 15 and 19; nothing was changed. Try again."],
    [{ summary: 'x', edits: [] }, "The model's edit was not usable (it proposed no edits); nothing was changed. Try again."],
    [{ summary: 'x' }, 'The model\'s edit was not usable ("edits" is not a list); nothing was changed. Try again.'],
    ['not an object', "The model's edit was not usable (its arguments are not an object); nothing was changed. Try again."],
    [null, "The model's edit was not usable (its arguments are not an object); nothing was changed. Try again."],
    [[{ old_text: 'a', new_text: 'b' }], "The model's edit was not usable (its arguments are not an object); nothing was changed. Try again."],
    [{ summary: 'x', edits: [{ old_text: 'stock: number;' }] }, "The model's edit was not usable (edit 1 lacks old_text or new_text); nothing was changed. Try again."],
    [{ summary: 'x', edits: [{ new_text: 'stock: bigint;' }] }, "The model's edit was not usable (edit 1 lacks old_text or new_text); nothing was changed. Try again."],
    [{ summary: 'x', edits: [{ old_text: 42, new_text: 'stock: bigint;' }] }, "The model's edit was not usable (edit 1 lacks old_text or new_text); nothing was changed. Try again."],
    [{ summary: 'x', edits: [{ old_text: 'sku', new_text: 'id' }, null] }, "The model's edit was not usable (edit 2 lacks old_text or new_text); nothing was changed. Try again."],
    [{ summary: 'x', edits: [{ old_text: 'sku', new_text: 'id' }, 'name -> title'] }, "The model's edit was not usable (edit 2 lacks old_text or new_text); nothing was changed. Try again."],
    [
      { summary: 'x', edits: [{ old_text: 'sku: string;\n  name: string;', new_text: 'a' }, { old_text: 'name: string;\n  stock', new_text: 'b' }] },
      "The model's edits to src/inventory.ts overlap each other; nothing was changed. Try again.",
    ],
    [
      { summary: 'x', edits: [{ old_text: '', new_text: '// one\n' }, { old_text: '', new_text: '// two\n' }] },
      "The model's edits to src/inventory.ts overlap each other; nothing was changed. Try again.",
    ],
  ])('refuses an unusable proposal: %j', (input, message) => {
    const { context, doc, selectionStart } = setup();
    expect(refusal(() => resolveProposedEdits(input, context, doc.eol, selectionStart)).message).toBe(message);
  });

  it('numbers the edit that failed, counting from 1', () => {
    const { context, doc, selectionStart } = setup();
    const edits = [{ old_text: 'sku: string;', new_text: 'id: string;' }];
    const missing = { summary: '', edits: [...edits, { old_text: 'price: number;', new_text: 'cost: number;' }] };
    expect(refusal(() => resolveProposedEdits(missing, context, doc.eol, selectionStart)).message).toMatch(/^The model's edit 2 quotes text that is not in/);
    const ambiguous = { summary: '', edits: [...edits, { old_text: 'item.stock', new_text: 'item.count' }] };
    expect(refusal(() => resolveProposedEdits(ambiguous, context, doc.eol, selectionStart)).message).toMatch(/^The model's edit 2 is ambiguous/);
  });

  it('names the lines of an ambiguous quote as the user sees them, wherever the excerpt starts', () => {
    // The window starts at the blank line 2, so the excerpt begins with a line break.
    const { context, doc, selectionStart } = setup(inventoryTs, 'export interface Item', { linesBefore: 1, linesAfter: 3 });
    expect(context.windowText.startsWith('\n')).toBe(true);
    const input = { summary: '', edits: [{ old_text: 'string;', new_text: 'String;' }] };
    expect(refusal(() => resolveProposedEdits(input, context, doc.eol, selectionStart)).message).toContain('its text occurs at lines 4 and 5;');

    // A quote that begins with a line break starts on the line that break ends.
    const whole = setup();
    const closing = { summary: '', edits: [{ old_text: '\n}\n', new_text: '\n};\n' }] };
    expect(refusal(() => resolveProposedEdits(closing, whole.context, whole.doc.eol, whole.selectionStart)).message).toContain('its text occurs at lines 6 and 11;');
  });

  it('names the lines of an ambiguous quote on the last line of an excerpt that ends without a line break', () => {
    const text = 'const a = total(1);\nconst b = total(2);\nconst c = total(1);';
    const { context, doc, selectionStart } = setup(text, 'const b');
    const input = { summary: '', edits: [{ old_text: 'total(1)', new_text: 'sum(1)' }] };
    expect(refusal(() => resolveProposedEdits(input, context, doc.eol, selectionStart)).message).toContain('its text occurs at lines 1 and 3;');
  });

  it('finds a quote at the very start of the excerpt', () => {
    const { context, doc, selectionStart } = setup();
    const result = resolveProposedEdits({ summary: '', edits: [{ old_text: "import { readFile } from 'node:fs/promises';", new_text: "import { readFile } from 'node:fs/promises';\nimport { join } from 'node:path';" }] }, context, doc.eol, selectionStart);
    expect(result.edits).toEqual([{ start: 0, end: 44, newText: "import { readFile } from 'node:fs/promises';\nimport { join } from 'node:path';" }]);
  });

  it('places edits in the document, not the excerpt, when the excerpt starts further down', () => {
    const { context, doc, selectionStart } = setup(inventoryTs, 'lowStock', { linesBefore: 1, linesAfter: 1 });
    expect(context.windowStartOffset).toBeGreaterThan(0);
    const result = resolveProposedEdits({ summary: '', edits: [{ old_text: '< treshold', new_text: '< threshold' }] }, context, doc.eol, selectionStart);
    expect(apply(inventoryTs, result.edits)).toBe(inventoryTs.replace('< treshold', '< threshold'));
  });

  it('gives an empty summary when the model left it out or sent something other than text', () => {
    const { context, doc, selectionStart } = setup();
    const edits = [{ old_text: 'treshold', new_text: 'threshold' }];
    expect(resolveProposedEdits({ edits }, context, doc.eol, selectionStart).summary).toBe('');
    expect(resolveProposedEdits({ summary: 42, edits }, context, doc.eol, selectionStart).summary).toBe('');
    expect(resolveProposedEdits({ summary: ['Fix it.'], edits }, context, doc.eol, selectionStart).summary).toBe('');
  });

  it('applies edits the model listed bottom-up, returning them in document order', () => {
    const { context, doc, selectionStart } = setup();
    const result = resolveProposedEdits(
      { summary: '', edits: [{ old_text: 'stock: item.stock + amount', new_text: 'stock: item.stock + Math.max(0, amount)' }, { old_text: 'sku: string;', new_text: 'sku: string; // unique' }] },
      context,
      doc.eol,
      selectionStart,
    );
    expect(apply(inventoryTs, result.edits)).toBe(inventoryTs.replace('sku: string;', 'sku: string; // unique').replace('+ amount', '+ Math.max(0, amount)'));
  });

  it('accepts edits that touch without overlapping', () => {
    const { context, doc, selectionStart } = setup();
    const result = resolveProposedEdits(
      { summary: '', edits: [{ old_text: '\n  name: string;', new_text: '\n  title: string;' }, { old_text: 'sku: string;', new_text: 'id: string;' }] },
      context,
      doc.eol,
      selectionStart,
    );
    expect(apply(inventoryTs, result.edits)).toContain('export interface Item {\n  id: string;\n  title: string;\n  stock: number;');
  });

  it('inserts at the selection alongside a change elsewhere, and before a change that starts at the selection', () => {
    const comment = '/** Items below the threshold. */\n';
    const { context, doc, selectionStart } = setup(inventoryTs, 'export function lowStock');
    const elsewhere = resolveProposedEdits({ summary: '', edits: [{ old_text: 'sku: string;', new_text: 'id: string;' }, { old_text: '', new_text: comment }] }, context, doc.eol, selectionStart);
    expect(apply(inventoryTs, elsewhere.edits)).toBe(inventoryTs.replace('sku: string;', 'id: string;').replace('export function lowStock', `${comment}export function lowStock`));

    const rename = { old_text: 'export function lowStock(', new_text: 'export function lowStockItems(' };
    const insert = { old_text: '', new_text: comment };
    const expected = inventoryTs.replace('export function lowStock(', `${comment}export function lowStockItems(`);
    for (const edits of [[rename, insert], [insert, rename]]) {
      const result = resolveProposedEdits({ summary: '', edits }, context, doc.eol, selectionStart);
      expect(apply(inventoryTs, result.edits)).toBe(expected);
    }
  });

  it('keeps a deletion, and leaves out an edit that changes nothing', () => {
    const { context, doc, selectionStart } = setup();
    const result = resolveProposedEdits(
      { summary: '', edits: [{ old_text: '', new_text: '' }, { old_text: "  return JSON.parse(raw) as Item[];\n", new_text: '' }] },
      context,
      doc.eol,
      selectionStart,
    );
    expect(result.edits).toHaveLength(1);
    expect(apply(inventoryTs, result.edits)).toBe(inventoryTs.replace("  return JSON.parse(raw) as Item[];\n", ''));
  });

  it('accepts several copied excerpt rows, including a blank row whose trailing space was dropped', () => {
    const { context, doc, selectionStart } = setup();
    const rows = [row(context.numbered, 12), row(context.numbered, 13).trimEnd(), row(context.numbered, 14)];
    expect(rows).toEqual(['12| }', '13|', '14|>export function lowStock(items: Item[], threshold: number): Item[] {']);
    const result = resolveProposedEdits({ summary: '', edits: [{ old_text: `${rows.join('\n')}\n`, new_text: '}\n\n/** Items to reorder. */\nexport function lowStock(items: Item[], threshold: number): Item[] {\n' }] }, context, doc.eol, selectionStart);
    expect(apply(inventoryTs, result.edits)).toContain('}\n\n/** Items to reorder. */\nexport function lowStock(');
  });

  it('does not strip line numbers from a quote where only some lines carry them', () => {
    const { context, doc, selectionStart } = setup();
    const mixed = `${row(context.numbered, 4)}\n  name: string;`;
    const input = { summary: '', edits: [{ old_text: mixed, new_text: '  id: string;\n  title: string;' }] };
    expect(refusal(() => resolveProposedEdits(input, context, doc.eol, selectionStart)).message).toMatch(/quotes text that is not in src\/inventory\.ts/);
  });

  it('takes a quote found as written as written, even when it looks like excerpt line numbers', () => {
    const snapshot = 'expect(excerpt).toBe(`\n 1| const a = 1;\n`);\n';
    const { context, doc, selectionStart } = setup(snapshot, 'excerpt');
    const result = resolveProposedEdits({ summary: '', edits: [{ old_text: ' 1| const a = 1;', new_text: ' 1| const a = 2;' }] }, context, doc.eol, selectionStart);
    expect(apply(snapshot, result.edits)).toBe(snapshot.replace('a = 1', 'a = 2'));
    expect(result.edits[0]?.start).toBe(snapshot.indexOf(' 1|'));
  });

  it('accepts a quote that starts just after a lone \\r line break: only a \\r\\n pair can be cut', () => {
    const classicMac = 'const a = 1;\rconst b = 2;\rconst c = 3;\r';
    const { context, doc, selectionStart } = setup(classicMac, 'const b');
    const result = resolveProposedEdits({ summary: '', edits: [{ old_text: 'const b = 2;', new_text: 'const b = 4;' }] }, context, doc.eol, selectionStart);
    expect(apply(classicMac, result.edits)).toBe(classicMac.replace('b = 2', 'b = 4'));
  });

  it('accepts an edit in a mixed-line-ending file that cuts no \\r\\n pair', () => {
    // \n first, so quotes are matched with \n; a \r\n pair elsewhere, one quote length before the quote, is no concern of it.
    const mixed = 'let a = 1;\nlet b = 2;\r\nc = 345;\nlet d = 4;\n';
    const { context, doc, selectionStart } = setup(mixed, 'let d');
    expect(doc.eol).toBe('\n');
    const at = mixed.indexOf('let d = 4;');
    expect(mixed.slice(at - 'let d = 4;'.length - 1, at - 'let d = 4;'.length + 1)).toBe('\r\n');
    const result = resolveProposedEdits({ summary: '', edits: [{ old_text: 'let d = 4;', new_text: 'let d = 5;' }] }, context, doc.eol, selectionStart);
    expect(apply(mixed, result.edits)).toBe(mixed.replace('d = 4', 'd = 5'));
  });
});
