import { describe, expect, it } from 'vitest';
import type { Diagnostic, Range } from 'vscode-languageserver-types';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import type { TrackedDocument } from '../../server/src/documents/tracked-document.js';
import { captureContext } from '../../server/src/context/capture-context.js';
import { documentTurn, type DeltaOptions, type DocumentTurn, type DocumentView } from '../../server/src/sessions/delta-tracker.js';
import { rangeOf } from '../support/lsp-client.js';

const uri = 'file:///work/shop/src/ledger.py';
const options: DeltaOptions = { linesBefore: 8, linesAfter: 8, maxChars: 24_000, workspaceRoots: ['/work/shop'], rebaseShare: 0.5 };

/** A 40-line module: functions `account_0` … `account_9`, four lines each. */
const ledger = Array.from({ length: 10 }, (_, i) => [`def account_${i}(entries):`, `    total = sum(e.amount for e in entries if e.account == ${i})`, `    return round(total, 2)`, ''].join('\n')).join('\n');

function setup(text = ledger, journalLimit?: number) {
  const store = new DocumentStore(journalLimit === undefined ? {} : { journalLimit });
  store.open({ uri, languageId: 'python', version: 1, text });
  const doc = store.get(uri) as TrackedDocument;
  let version = 1;
  /** Replaces the `occurrence`-th `find`, as one incremental change. */
  const edit = (find: string, replacement: string, occurrence = 1): void => {
    version += 1;
    store.change(uri, version, [{ range: rangeOf(doc.text, find, occurrence), text: replacement }]);
  };
  /** Replaces `range`, as one incremental change. */
  const replaceRange = (range: Range, replacement: string): void => {
    version += 1;
    store.change(uri, version, [{ range, text: replacement }]);
  };
  return { doc, edit, replaceRange, store };
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

  it('keeps CRLF out of the hunks, and out of what a fresh window would have cost', () => {
    const crlf = ledger.replace(/\n/g, '\r\n');
    const { doc, edit } = setup(crlf);
    const first = turnAt(doc, rangeOf(doc.text, 'def account_5'), undefined);
    edit('2)', '6)', 5);
    const second = nextTurn(doc, rangeOf(doc.text, 'def account_5'), first, replaceNth(first.view.windowText, '2)', 1, '6)'));
    expect(second.kind).toBe('delta');
    expect(second.text).toContain('+    return round(total, 6)\n');
    expect(second.text).not.toContain('\r');
  });

  it('numbers lines as the editor does when a line ends in a lone carriage return', () => {
    // An old Mac line break on line 14: the editor, and the window the model was sent, count it as a line break.
    const text = ledger.replace('e.account == 3)\n', 'e.account == 3)\r');
    const { doc, replaceRange } = setup(text);
    const first = turnAt(doc, rangeIn(doc, 'def account_5'), undefined);
    expect(first.text).toContain('15|     return round(total, 2)\n');
    replaceRange(rangeIn(doc, 'e.account == 5)'), 'e.account == 5 and e.posted)');
    const second = nextTurn(doc, rangeIn(doc, 'def account_5'), first, first.view.windowText.replace('e.account == 5)', 'e.account == 5 and e.posted)'));
    expect(second.text).toContain(
      [
        '@@ -22,1 +22,1 @@',
        '-    total = sum(e.amount for e in entries if e.account == 5)',
        '+    total = sum(e.amount for e in entries if e.account == 5 and e.posted)',
      ].join('\n'),
    );
  });

  it('follows line breaks turned from CRLF into LF in a change sent as the whole text', () => {
    const crlf = ledger.replace(/\n/g, '\r\n');
    const { doc, store } = setup(crlf);
    const first = turnAt(doc, rangeIn(doc, 'def account_5'), undefined);
    // A tool rewrote the line breaks of lines 23 and 24 (a blank one): the change the journal sees runs from the
    // first \r to the \n of the second line break, so it ends inside a line break.
    const rewritten = crlf.replace('    return round(total, 2)\r\n\r\ndef account_6', '    return round(total, 2)\n\ndef account_6');
    store.change(uri, 2, [{ text: rewritten }]);
    expect(doc.journal.changesSince(1)).toEqual([{ start: rewritten.indexOf('\n\ndef account_6'), end: rewritten.indexOf('\n\ndef account_6') + 3, insertedLength: 1 }]);
    const expected = first.view.windowText.replace('    return round(total, 2)\r\n\r\ndef account_6', '    return round(total, 2)\n\ndef account_6');
    const second = nextTurn(doc, rangeIn(doc, 'def account_5'), first, expected, { ...options, rebaseShare: 1 });
    expect(second.kind).toBe('delta');
    expect(second.text).toContain(
      ['@@ -23,3 +23,3 @@', '-    return round(total, 2)', '-', '-def account_6(entries):', '+    return round(total, 2)', '+', '+def account_6(entries):'].join('\n'),
    );
  });

  it('adds the diagnostics of the window to a fresh window, one a line', () => {
    const { doc } = setup();
    const diagnostics = [
      { range: rangeOf(ledger, 'round', 6), message: 'Rounding a float to cents;\n  use Decimal.', severity: 2, source: 'ledger-lint' },
      { range: rangeOf(ledger, 'entries', 11), message: 'Missing type annotation.', severity: 3 },
    ] satisfies Diagnostic[];
    const full = documentTurn(doc, rangeOf(ledger, 'def account_5'), undefined, { ...options, diagnostics }, true);
    expect(full.text).toMatch(
      /\n29\| def account_7\(entries\):\n\nDiagnostics:\nline 21:15 info Missing type annotation\.\nline 23:12 warning \[ledger-lint\] Rounding a float to cents; use Decimal\.$/,
    );

    const quiet = documentTurn(doc, rangeOf(ledger, 'def account_5'), undefined, options, true);
    expect(quiet.text).toBe(captureContext(doc, rangeOf(ledger, 'def account_5'), options).numbered);
  });

  it('keeps hunks exactly as large as the rebase share, and sends a fresh window for larger ones', () => {
    const { doc, edit } = setup();
    const first = turnAt(doc, rangeOf(ledger, 'def account_5'), undefined);
    edit('round(total, 2)', 'round(total, 4)', 6);
    const expected = replaceNth(first.view.windowText, 'round(total, 2)', 3, 'round(total, 4)');
    const generous = nextTurn(doc, rangeOf(doc.text, 'def account_5'), first, expected, { ...options, rebaseShare: 1 });
    const hunk = generous.text.slice(generous.text.indexOf('@@'), generous.text.lastIndexOf('\nSelection:'));
    const share = hunk.length / first.view.windowText.length;
    expect(share * first.view.windowText.length).toBe(hunk.length);

    expect(nextTurn(doc, rangeOf(doc.text, 'def account_5'), first, expected, { ...options, rebaseShare: share }).kind).toBe('delta');
    expect(nextTurn(doc, rangeOf(doc.text, 'def account_5'), first, expected, { ...options, rebaseShare: share * 0.99 }).kind).toBe('full');
  });

  it('counts what a fresh window would have cost with the gutter as wide as its last line number', () => {
    const { doc, edit } = setup();
    // Lines 1-10: the last number is two digits wide, so every row's gutter is.
    const first = turnAt(doc, rangeOf(ledger, 'total = sum(e.amount for e in entries if e.account == 0)'), undefined);
    expect(first.text).toContain('\n 1| def account_0(entries):\n');
    expect(first.text).toMatch(/\n10\|     total = sum\(e\.amount for e in entries if e\.account == 2\)$/);
    const unchanged = nextTurn(doc, rangeOf(ledger, 'total = sum(e.amount for e in entries if e.account == 0)'), first, first.view.windowText);
    expect(unchanged.bytesSaved).toBeGreaterThan(0);
    edit('e.account == 1)', 'e.account == 1 or e.account is None)');
    const delta = nextTurn(doc, rangeOf(doc.text, 'total = sum(e.amount for e in entries if e.account == 0)'), first, first.view.windowText.replace('e.account == 1)', 'e.account == 1 or e.account is None)'), { ...options, rebaseShare: 1 });
    expect(delta.kind).toBe('delta');
  });
});

/** The lines of a text as the editor counts them (`\r\n`, `\r` and `\n` each end one). */
function linesOf(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

/** A range found by text through the document's own line table (right for every kind of line break). */
function rangeIn(doc: TrackedDocument, needle: string): Range {
  const offset = doc.text.indexOf(needle);
  if (offset < 0) throw new Error(`${JSON.stringify(needle)} not found`);
  return { start: doc.positionAt(offset), end: doc.positionAt(offset + needle.length) };
}

/**
 * What the model believes the window holds after a turn: the lines it saw, with the turn's hunks applied. Checks on
 * the way that each hunk's old lines are the ones the model saw at those numbers, that hunks come in order without
 * overlapping, and that each hunk's new number is where its lines now are in the window.
 */
function windowAsModelSeesIt(seen: DocumentView, turn: DocumentTurn): string[] {
  const old = linesOf(seen.windowText);
  if (turn.kind === 'unchanged') return old;
  expect(turn.kind).toBe('delta');
  const rows = turn.text.split('\n');
  expect(rows[0]).toBe(
    `Changes to ${seen.relativePath} since you last saw it (now version ${turn.view.version}; old line numbers as you saw them, new as they are now):`,
  );
  expect(rows.at(-1)).toMatch(/^Selection: lines \d+-\d+ \(\d+:\d+-\d+:\d+\)\.$/);
  const result: string[] = [];
  let oldNext = 0;
  let row = 1;
  while (row < rows.length - 1) {
    const header = /^@@ -(\d+),(\d+) \+(\d+),(\d+) @@$/.exec(rows[row] as string);
    if (header === null) throw new Error(`not a hunk header: ${rows[row]}`);
    const [oldFirst, oldCount, newFirst, newCount] = header.slice(1).map(Number) as [number, number, number, number];
    const oldIndex = oldFirst - 1 - seen.windowStartLine;
    expect(oldCount).toBeGreaterThan(0);
    expect(oldIndex).toBeGreaterThanOrEqual(oldNext);
    result.push(...old.slice(oldNext, oldIndex));
    expect(rows.slice(row + 1, row + 1 + oldCount)).toEqual(old.slice(oldIndex, oldIndex + oldCount).map((line) => `-${line}`));
    const added = rows.slice(row + 1 + oldCount, row + 1 + oldCount + newCount);
    expect(added.every((line) => line.startsWith('+'))).toBe(true);
    expect(newFirst - 1 - turn.view.windowStartLine).toBe(result.length);
    result.push(...added.map((line) => line.slice(1)));
    oldNext = oldIndex + oldCount;
    row += 1 + oldCount + newCount;
  }
  result.push(...old.slice(oldNext));
  return result;
}

/** The bytes of the numbered rows a fresh window of the view's lines would have (its header aside). */
function freshRowsBytes(doc: TrackedDocument, view: DocumentView): number {
  const first = doc.positionAt(view.windowStartOffset).line;
  const last = doc.positionAt(view.windowEndOffset).line;
  const atFirst = { line: first, character: 0 };
  const fresh = captureContext(doc, { start: atFirst, end: atFirst }, { linesBefore: 0, linesAfter: last - first, maxChars: 1_000_000 });
  return Buffer.byteLength(fresh.numbered.slice(fresh.numbered.indexOf('\n') + 1));
}

/**
 * The next turn after `seen`, checked as the model would use it: the window it now knows must be `expectedWindow`
 * (the text it saw, with the changes inside it made), and `bytesSaved` what a fresh window of those lines would have
 * cost beyond the turn's text.
 */
function nextTurn(doc: TrackedDocument, range: Range, seen: DocumentTurn, expectedWindow: string, turnOptions = options): DocumentTurn {
  const turn = documentTurn(doc, range, seen.view, turnOptions, true);
  expect(turn.view.windowText).toBe(doc.text.slice(turn.view.windowStartOffset, turn.view.windowEndOffset));
  expect(turn.match).toMatchObject({
    windowText: turn.view.windowText,
    windowStartOffset: turn.view.windowStartOffset,
    windowStartLine: turn.view.windowStartLine,
    relativePath: seen.view.relativePath,
  });
  if (turn.kind === 'full') return turn;
  expect(turn.view.windowText).toBe(expectedWindow);
  expect(turn.view.windowStartLine).toBe(doc.positionAt(turn.view.windowStartOffset).line);
  expect(turn.view.version).toBe(doc.version);
  expect(windowAsModelSeesIt(seen.view, turn)).toEqual(linesOf(expectedWindow));
  expect(turn.bytesSaved).toBe(Math.max(0, freshRowsBytes(doc, turn.view) - Buffer.byteLength(turn.text)));
  return turn;
}

describe('where a change is, relative to the window the model saw', () => {
  /** The window around account_5 is lines 13-29: from `def account_3` to `def account_7(entries):`. */
  function windowAroundAccount5() {
    const { doc, edit, replaceRange } = setup();
    const first = turnAt(doc, rangeOf(ledger, 'def account_5'), undefined);
    expect(first.view.windowText.startsWith('def account_3(entries):\n')).toBe(true);
    expect(first.view.windowText.endsWith('\n\ndef account_7(entries):')).toBe(true);
    return { doc, edit, replaceRange, first };
  }

  it("sends a fresh window when a change crosses the window's bottom edge", () => {
    const { doc, edit, first } = windowAroundAccount5();
    // From the window's last line into the first line below it.
    edit('(entries):\n    total', '(entries, *, strict=False):\n    total', 8);
    expect(nextTurn(doc, rangeOf(doc.text, 'def account_5'), first, '', { ...options, rebaseShare: Number.POSITIVE_INFINITY }).kind).toBe('full');
  });

  it('tells nothing new when only lines below the window changed, even the line right after it', () => {
    const { doc, edit, first } = windowAroundAccount5();
    edit('def account_8(entries):', 'def account_eight(entries):');
    const below = nextTurn(doc, rangeOf(doc.text, 'def account_5'), first, first.view.windowText);
    expect(below.kind).toBe('unchanged');
    expect(below.text).toBe('src/ledger.py is as you last saw it (now version 2). Selection: lines 21-21 (21:1-21:14).');

    // The user deletes the line after the window, from the window's last character on.
    edit('\n    total = sum(e.amount for e in entries if e.account == 7)', '');
    expect(nextTurn(doc, rangeOf(doc.text, 'def account_5'), below, first.view.windowText).kind).toBe('unchanged');
  });

  it('keeps to the window for a selection up to its last character, and sends a fresh one for a selection reaching above it', () => {
    const { doc, first } = windowAroundAccount5();
    const toTheEnd = nextTurn(doc, rangeOf(ledger, 'def account_7(entries):'), first, first.view.windowText);
    expect(toTheEnd.kind).toBe('unchanged');
    expect(toTheEnd.text).toContain('Selection: lines 29-29 (29:1-29:24).');

    const fromAbove = { start: rangeOf(ledger, '    return round(total, 2)', 3).start, end: rangeOf(ledger, 'def account_5').end };
    const turn = nextTurn(doc, fromAbove, first, '');
    expect(turn.kind).toBe('full');
    expect(turn.text).toContain('\n11|>    return round(total, 2)\n');
  });

  it("shows typing at the very end of the window's last line, and a change of its last characters", () => {
    const { doc, edit, first } = windowAroundAccount5();
    edit('def account_7(entries):', 'def account_7(entries):  # unused');
    const typed = nextTurn(doc, rangeOf(doc.text, 'def account_5'), first, `${first.view.windowText}  # unused`);
    expect(typed.kind).toBe('delta');
    expect(typed.text).toContain(['@@ -29,1 +29,1 @@', '-def account_7(entries):', '+def account_7(entries):  # unused'].join('\n'));

    edit('unused', 'deprecated');
    const changed = nextTurn(doc, rangeOf(doc.text, 'def account_5'), typed, `${first.view.windowText}  # deprecated`);
    expect(changed.text).toContain(['@@ -29,1 +29,1 @@', '-def account_7(entries):  # unused', '+def account_7(entries):  # deprecated'].join('\n'));
  });

  it('shows a line typed at the very start of the window, and a change of its first word', () => {
    const { doc, edit, first } = windowAroundAccount5();
    edit('def account_3', '@cached\ndef account_3');
    const typed = nextTurn(doc, rangeOf(doc.text, 'def account_5'), first, `@cached\n${first.view.windowText}`);
    expect(typed.kind).toBe('delta');
    expect(typed.view.windowStartLine).toBe(first.view.windowStartLine);
    expect(typed.text).toContain(['@@ -13,1 +13,2 @@', '-def account_3(entries):', '+@cached', '+def account_3(entries):'].join('\n'));

    edit('@cached', '@functools.cache');
    const renamed = nextTurn(doc, rangeOf(doc.text, 'def account_5'), typed, `@functools.cache\n${first.view.windowText}`);
    expect(renamed.text).toContain(['@@ -13,1 +13,1 @@', '-@cached', '+@functools.cache'].join('\n'));
  });

  it('renumbers without a hunk when the blank line just above the window was deleted, or lines above it grew', () => {
    const { doc, replaceRange, edit, first } = windowAroundAccount5();
    const windowStart = doc.positionAt(first.view.windowStartOffset);
    expect(doc.lineText(windowStart.line - 1)).toBe('');
    replaceRange({ start: { line: windowStart.line - 1, character: 0 }, end: windowStart }, '');
    const deleted = nextTurn(doc, rangeIn(doc, 'def account_5'), first, first.view.windowText);
    expect(deleted.kind).toBe('unchanged');
    expect(deleted.text).toContain('Lines above it changed: the excerpt now starts at line 12.');

    edit('    return round(total, 2)', '    return round(\n        total,\n        2,\n    )', 2);
    const grown = nextTurn(doc, rangeIn(doc, 'def account_5'), deleted, first.view.windowText);
    expect(grown.kind).toBe('unchanged');
    expect(grown.view.windowStartLine).toBe(first.view.windowStartLine + 2);
    expect(grown.text).toBe(
      'src/ledger.py is as you last saw it (now version 3). Lines above it changed: the excerpt now starts at line 15. Selection: lines 23-23 (23:1-23:14).',
    );
  });

  it('sends one hunk per place for two changes far apart in the window, numbered after the first one moved lines', () => {
    const { doc, edit, first } = windowAroundAccount5();
    edit('    return round(total, 2)', '    # Rounded to cents.\n    return round(total, 2)', 4);
    edit('e.account == 6)', 'e.account == 6 and not e.void)');
    const expected = first.view.windowText
      .replace('    return round(total, 2)', '    # Rounded to cents.\n    return round(total, 2)')
      .replace('e.account == 6)', 'e.account == 6 and not e.void)');
    // Two hunks cost more than half this short window: let them through.
    const both = nextTurn(doc, rangeOf(doc.text, 'def account_5'), first, expected, { ...options, rebaseShare: 1 });
    expect(both.kind).toBe('delta');
    expect(both.text.match(/^@@ /gm)).toHaveLength(2);
    expect(both.text).toContain(['@@ -15,1 +15,2 @@', '-    return round(total, 2)', '+    # Rounded to cents.', '+    return round(total, 2)'].join('\n'));
    expect(both.text).toContain(
      [
        '@@ -26,1 +27,1 @@',
        '-    total = sum(e.amount for e in entries if e.account == 6)',
        '+    total = sum(e.amount for e in entries if e.account == 6 and not e.void)',
      ].join('\n'),
    );
  });

  it('joins changes on the same line, even one running into the next line, into one hunk', () => {
    const { doc, edit, first } = windowAroundAccount5();
    edit('def ', 'async def ', 6);
    // Then, further along the same line, a change that runs into the next line and adds one.
    edit('(entries):\n    total', '(entries):\n    """Balance of account 5."""\n    total', 6);
    const expected = first.view.windowText.replace('def account_5(entries):\n', 'async def account_5(entries):\n    """Balance of account 5."""\n');
    const joined = nextTurn(doc, rangeOf(doc.text, 'async def account_5'), first, expected);
    expect(joined.text.match(/^@@ /gm)).toHaveLength(1);
    expect(joined.text).toContain(
      [
        '@@ -21,2 +21,3 @@',
        '-def account_5(entries):',
        '-    total = sum(e.amount for e in entries if e.account == 5)',
        '+async def account_5(entries):',
        '+    """Balance of account 5."""',
        '+    total = sum(e.amount for e in entries if e.account == 5)',
      ].join('\n'),
    );
  });

  it('shows a line whose text was cleared as an empty line that is still there', () => {
    const { doc, edit, first } = windowAroundAccount5();
    edit('    return round(total, 2)', '', 6);
    const expected = first.view.windowText.replace('    return round(total, 2)\n\ndef account_6', '\n\ndef account_6');
    const cleared = nextTurn(doc, rangeOf(doc.text, 'def account_5'), first, expected);
    expect(cleared.text).toContain(['@@ -23,1 +23,1 @@', '-    return round(total, 2)', '+'].join('\n'));
  });

  it('numbers lines right in a window that starts with a blank line', () => {
    const { doc, edit } = setup();
    const fromBlank = { ...options, linesBefore: 9 };
    const first = documentTurn(doc, rangeOf(ledger, 'def account_5'), undefined, fromBlank, true);
    expect(first.view.windowText.startsWith('\ndef account_3(entries):')).toBe(true);
    edit('round(total, 2)', 'round(total, 3)', 6);
    const expected = replaceNth(first.view.windowText, 'round(total, 2)', 3, 'round(total, 3)');
    const turn = nextTurn(doc, rangeOf(doc.text, 'def account_5'), first, expected, fromBlank);
    expect(turn.text).toContain(['@@ -23,1 +23,1 @@', '-    return round(total, 2)', '+    return round(total, 3)'].join('\n'));
  });

  it('sends a fresh window once the journal no longer reaches back to what the model saw', () => {
    const { doc, edit } = setup(ledger, 2);
    const first = turnAt(doc, rangeOf(ledger, 'def account_5'), undefined);
    edit('e.account == 3)', 'e.account == 3.0)');
    edit('e.account == 4)', 'e.account == 4.0)');
    edit('e.account == 5)', 'e.account == 5.0)');
    const turn = nextTurn(doc, rangeOf(doc.text, 'def account_5'), first, '');
    expect(turn.kind).toBe('full');
    expect(turn.text).toContain('14|     total = sum(e.amount for e in entries if e.account == 3.0)');
  });
});

function replaceNth(text: string, needle: string, occurrence: number, replacement: string): string {
  let index = -1;
  for (let n = 0; n < occurrence; n++) index = text.indexOf(needle, index + 1);
  if (index < 0) throw new Error(`${JSON.stringify(needle)} (occurrence ${occurrence}) not found`);
  return text.slice(0, index) + replacement + text.slice(index + needle.length);
}

/** A TypeScript module for the random edits: short functions with blank lines between them. */
const inventory = [
  "import { readFile } from 'node:fs/promises';",
  "import type { Item } from './item.js';",
  '',
  'export interface Stock {',
  '  item: Item;',
  '  count: number;',
  '}',
  '',
  '/** Loads the stock list, one item per line: `sku,count`. */',
  'export async function loadStock(path: string): Promise<Stock[]> {',
  "  const text = await readFile(path, 'utf8');",
  '  const stock: Stock[] = [];',
  "  for (const line of text.split('\\n')) {",
  "    if (line.trim() === '') continue;",
  "    const [sku, count] = line.split(',');",
  "    stock.push({ item: { sku: sku ?? '' }, count: Number(count) });",
  '  }',
  '  return stock;',
  '}',
  '',
  'export function lowStock(stock: Stock[], threshold = 5): Stock[] {',
  '  return stock.filter((entry) => entry.count < threshold);',
  '}',
  '',
  'export function totalCount(stock: Stock[]): number {',
  '  let total = 0;',
  '  for (const entry of stock) total += entry.count;',
  '  return total;',
  '}',
  '',
  'export function restock(stock: Stock[], sku: string, count: number): Stock[] {',
  '  return stock.map((entry) => (entry.item.sku === sku ? { ...entry, count: entry.count + count } : entry));',
  '}',
  '',
  'export function report(stock: Stock[]): string {',
  '  const lines = stock.map((entry) => `${entry.item.sku}: ${entry.count}`);',
  '  lines.push(`total: ${totalCount(stock)}`);',
  "  return lines.join('\\n');",
  '}',
  '',
].join('\n');

describe('what the model knows after random edits around its window', () => {
  it('is the document itself: the window it saw with the hunks applied, numbered as the editor numbers it', () => {
    const random = seededRandom(13);
    const replacements = ['', 'x', 'await ', '\n', '\n  // checked\n', 'entry.count', ')'];
    const kinds = { delta: 0, unchanged: 0, moved: 0 };
    for (let round = 0; round < 150; round++) {
      const lineBreak = ['\n', '\r\n', '\r'][round % 3] as string;
      const text = inventory.replace(/\n/g, lineBreak);
      const { doc, replaceRange } = setup(text);
      const lines = linesOf(text);
      const selectable = lines.flatMap((line, index) => (line.trim() !== '' && lines.indexOf(line) === lines.lastIndexOf(line) ? [index] : []));
      const selected = selectable[Math.floor(random() * selectable.length)] as number;
      const selectedLength = (lines[selected] as string).length;
      const turnOptions = { ...options, linesBefore: 1 + Math.floor(random() * 6), linesAfter: 1 + Math.floor(random() * 6), rebaseShare: Number.POSITIVE_INFINITY };
      const first = documentTurn(doc, { start: { line: selected, character: 0 }, end: { line: selected, character: selectedLength } }, undefined, turnOptions, true);
      const { windowStartOffset, windowEndOffset } = first.view;
      const selectedOffset = doc.offsetAt({ line: selected, character: 0 });

      // One to three changes, each inside one line (not the selected one), applied from the bottom up so that the
      // offsets of the original text stay right for the ones still to come.
      const changed = new Set<number>();
      const wanted = 1 + Math.floor(random() * 3);
      while (changed.size < wanted) {
        const line = Math.floor(random() * lines.length);
        if (line !== selected) changed.add(line);
      }
      let expectedWindow = first.view.windowText;
      let shift = 0;
      let selectionShift = 0;
      let inside = false;
      for (const line of [...changed].sort((a, b) => b - a)) {
        const lineStart = doc.offsetAt({ line, character: 0 });
        const length = (lines[line] as string).length;
        const start = lineStart + Math.floor(random() * (length + 1));
        const end = Math.min(lineStart + length, start + Math.floor(random() * 6));
        let replacement = (replacements[Math.floor(random() * replacements.length)] as string).replace(/\n/g, lineBreak);
        if (start === end && replacement === '') replacement = 'x';
        const delta = replacement.length - (end - start);
        if (start < windowStartOffset) shift += delta;
        else if (start <= windowEndOffset) {
          inside = true;
          expectedWindow = expectedWindow.slice(0, start - windowStartOffset) + replacement + expectedWindow.slice(end - windowStartOffset);
        }
        if (line < selected) selectionShift += delta;
        replaceRange({ start: doc.positionAt(start), end: doc.positionAt(end) }, replacement);
      }

      const range = { start: doc.positionAt(selectedOffset + selectionShift), end: doc.positionAt(selectedOffset + selectionShift + selectedLength) };
      expect(doc.text.slice(selectedOffset + selectionShift).startsWith(lines[selected] as string)).toBe(true);
      const turn = nextTurn(doc, range, first, expectedWindow, turnOptions);
      expect(turn.kind).toBe(inside ? 'delta' : 'unchanged');
      expect(turn.view.windowStartOffset).toBe(windowStartOffset + shift);
      kinds[turn.kind === 'delta' ? 'delta' : 'unchanged']++;
      if (turn.kind === 'unchanged') {
        const moved = turn.view.windowStartLine !== first.view.windowStartLine;
        if (moved) kinds.moved++;
        expect(turn.text.includes(`Lines above it changed: the excerpt now starts at line ${turn.view.windowStartLine + 1}.`)).toBe(moved);
      }
    }
    expect(kinds.delta).toBeGreaterThan(40);
    expect(kinds.unchanged).toBeGreaterThan(20);
    expect(kinds.moved).toBeGreaterThan(5);
  });
});

function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}
