import { describe, expect, it } from 'vitest';
import type { Range } from 'vscode-languageserver-types';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import type { TrackedDocument } from '../../server/src/documents/tracked-document.js';
import { documentTurn, type DeltaOptions, type DocumentTurn } from '../../server/src/sessions/delta-tracker.js';
import { rangeOf } from '../support/lsp-client.js';

const uri = 'file:///work/shop/src/ledger.py';
const options: DeltaOptions = { linesBefore: 8, linesAfter: 8, maxChars: 24_000, workspaceRoots: ['/work/shop'], rebaseShare: 0.5 };

/** A 40-line module: functions `account_0` … `account_9`, four lines each. */
const ledger = Array.from({ length: 10 }, (_, i) => [`def account_${i}(entries):`, `    total = sum(e.amount for e in entries if e.account == ${i})`, `    return round(total, 2)`, ''].join('\n')).join('\n');

function setup(text = ledger) {
  const store = new DocumentStore();
  store.open({ uri, languageId: 'python', version: 1, text });
  const doc = store.get(uri) as TrackedDocument;
  let version = 1;
  /** Replaces the `occurrence`-th `find`, as one incremental change. */
  const edit = (find: string, replacement: string, occurrence = 1): void => {
    version += 1;
    store.change(uri, version, [{ range: rangeOf(doc.text, find, occurrence), text: replacement }]);
  };
  return { doc, edit, store };
}

/** A turn's view, with the view's text checked against the document: what the model knows must be the truth. */
function turnAt(doc: TrackedDocument, range: Range, seen: DocumentTurn | undefined, deltas = true): DocumentTurn {
  const turn = documentTurn(doc, range, seen?.view, options, deltas);
  expect(turn.view.windowText).toBe(doc.text.slice(turn.view.windowStartOffset, turn.view.windowEndOffset));
  expect(turn.match.windowText).toBe(turn.view.windowText);
  return turn;
}

describe('what the model is told about a document, turn by turn', () => {
  it('sends a window first, then only what changed inside it, as unified-diff hunks', () => {
    const { doc, edit } = setup();
    const range = rangeOf(ledger, 'def account_5');
    const first = turnAt(doc, range, undefined);
    expect(first.kind).toBe('full');
    expect(first.text).toContain('21|>def account_5(entries):');
    expect(first.view.windowStartLine).toBe(12);

    edit('2)', '4)', 5); // account_3's rounding, line 15
    const second = turnAt(doc, rangeOf(doc.text, 'def account_5'), first);

    expect(second.kind).toBe('delta');
    expect(second.text).toContain(['@@ -15,1 +15,1 @@', '-    return round(total, 2)', '+    return round(total, 4)'].join('\n'));
    expect(second.text).toContain('Selection: lines 21-21');
    expect(second.bytesSaved).toBeGreaterThan(0);
  });

  it('shows inserted and deleted lines with the numbers on both sides', () => {
    const { doc, edit } = setup();
    const first = turnAt(doc, rangeOf(ledger, 'def account_5'), undefined);
    edit('(entries):\n', '(entries):\n    """Balance of account 5."""\n', 6);
    const inserted = turnAt(doc, rangeOf(doc.text, 'def account_5'), first);
    expect(inserted.kind).toBe('delta');
    expect(inserted.text).toContain(['@@ -21,2 +21,3 @@', '-def account_5(entries):', '-    total = sum(e.amount for e in entries if e.account == 5)', '+def account_5(entries):', '+    """Balance of account 5."""', '+    total = sum(e.amount for e in entries if e.account == 5)'].join('\n'));

    edit('    """Balance of account 5."""\n', '');
    const deleted = turnAt(doc, rangeOf(doc.text, 'def account_5'), inserted);
    expect(deleted.kind).toBe('delta');
    expect(deleted.text).toContain(['@@ -22,2 +22,1 @@', '-    """Balance of account 5."""', '-    total = sum(e.amount for e in entries if e.account == 5)', '+    total = sum(e.amount for e in entries if e.account == 5)'].join('\n'));
  });

  it('says "as you last saw it" when nothing changed, and renumbers when lines above the window moved', () => {
    const { doc, edit } = setup();
    const range = rangeOf(ledger, 'def account_7');
    const first = turnAt(doc, range, undefined);
    expect(turnAt(doc, range, first).text).toBe('src/ledger.py is as you last saw it (now version 1). Selection: lines 29-29 (29:1-29:14).');

    edit('def account_0(entries):\n', '# Ledger totals.\ndef account_0(entries):\n');
    const moved = turnAt(doc, rangeOf(doc.text, 'def account_7'), first);
    expect(moved.kind).toBe('unchanged');
    expect(moved.text).toContain('the excerpt now starts at line 22');
    expect(moved.view.windowStartLine).toBe(first.view.windowStartLine + 1);
  });

  it('sends a fresh window when the range of interest leaves the window the model saw', () => {
    const { doc } = setup();
    const first = turnAt(doc, rangeOf(ledger, 'def account_1'), undefined);
    const elsewhere = turnAt(doc, rangeOf(ledger, 'def account_8'), first);
    expect(elsewhere.kind).toBe('full');
    expect(elsewhere.text).toContain('>def account_8(entries):');
  });

  it('sends a fresh window when a change crosses the window edge or the hunks outgrow the share', () => {
    const { doc, edit } = setup();
    const first = turnAt(doc, rangeOf(ledger, 'def account_5'), undefined);
    // The window starts at line 13 (def account_3); this one change spans lines 11–13.
    edit('    return round(total, 2)\n\ndef account_3', '    pass\n\ndef account_three');
    expect(turnAt(doc, rangeOf(doc.text, 'def account_5'), first).kind).toBe('full');

    const again = turnAt(doc, rangeOf(doc.text, 'def account_5'), undefined);
    const rewritten = Array.from({ length: 8 }, (_, i) => `    # rewritten line ${i} of a long comment that replaces the body`).join('\n');
    edit('    total = sum(e.amount for e in entries if e.account == 5)\n    return round(total, 2)', rewritten);
    expect(turnAt(doc, rangeOf(doc.text, 'def account_5'), again).kind).toBe('full');
  });

  it('always sends the whole window when deltas are off (the baseline)', () => {
    const { doc, edit } = setup();
    const first = turnAt(doc, rangeOf(ledger, 'def account_5'), undefined, false);
    edit('round(total, 2)', 'round(total, 3)');
    const second = turnAt(doc, rangeOf(doc.text, 'def account_5'), first, false);
    expect(second.kind).toBe('full');
    expect(second.bytesSaved).toBe(0);
  });

  it('starts afresh after the client reset its versions', () => {
    const { doc, store } = setup();
    const first = turnAt(doc, rangeOf(ledger, 'def account_5'), undefined);
    store.change(uri, 1, [{ range: rangeOf(doc.text, 'round(total, 2)'), text: 'round(total, 5)' }]);
    expect(turnAt(doc, rangeOf(doc.text, 'def account_5'), first).kind).toBe('full');
  });

  it('keeps CRLF out of the hunks', () => {
    const { doc, edit } = setup(ledger.replace(/\n/g, '\r\n'));
    const first = turnAt(doc, rangeOf(doc.text, 'def account_5'), undefined);
    edit('2)', '6)', 5);
    const second = turnAt(doc, rangeOf(doc.text, 'def account_5'), first);
    expect(second.kind).toBe('delta');
    expect(second.text).toContain('+    return round(total, 6)\n');
    expect(second.text).not.toContain('\r');
  });
});
