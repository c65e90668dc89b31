import { describe, expect, it } from 'vitest';
import type { Range } from 'vscode-languageserver-textdocument';
import { captureContext } from '../../server/src/context/capture-context.js';
import type { CaptureOptions, CapturedContext } from '../../server/src/context/capture-context.js';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import type { TrackedDocument } from '../../server/src/documents/tracked-document.js';
import { inventoryPy } from '../fixtures/samples.js';

/**
 * How the window fits its character budget, checked the way the model reads it: every row is parsed back and
 * compared with the document, so a capture that shows a line it should not, or hides what it says it hides, fails.
 */

const inventory = inventoryPy;

let documentCounter = 0;

function open(text: string, languageId = 'python'): TrackedDocument {
  const uri = `file:///work/shop/src/module${documentCounter++}.py`;
  const store = new DocumentStore();
  store.open({ uri, languageId, version: 1, text });
  return store.get(uri) as TrackedDocument;
}

/** The range of the `occurrence`-th `needle`, through the document's own line table. */
function rangeOf(doc: TrackedDocument, needle: string, occurrence = 1): Range {
  let offset = -1;
  for (let n = 0; n < occurrence; n++) {
    offset = doc.text.indexOf(needle, offset + 1);
    if (offset < 0) throw new Error(`${JSON.stringify(needle)} (occurrence ${occurrence}) not found`);
  }
  return { start: doc.positionAt(offset), end: doc.positionAt(offset + needle.length) };
}

interface Row {
  /** 0-based. */
  line: number;
  selected: boolean;
  hiddenBefore: number;
  shown: string;
  hiddenAfter: number;
}

/**
 * Captures, then reads `numbered` back row by row and checks it against the document: the header, consecutive
 * line numbers in a gutter as wide as the last wanted line's number, the selection marker, each row's text and
 * the counts of what its cut markers say is hidden, the offsets and text of the window, and that `truncated` says
 * exactly whether anything of the wanted window or the selection was left out or cut.
 */
function capture(doc: TrackedDocument, range: Range, options: CaptureOptions): { context: CapturedContext; rows: Row[] } {
  const context = captureContext(doc, range, options);
  expect(context.numbered.length).toBeLessThanOrEqual(options.maxChars);
  const { selection } = context;
  const [header, ...texts] = context.numbered.split('\n');
  const at = (position: { line: number; character: number }): string => `${position.line + 1}:${position.character + 1}`;
  expect(header).toBe(
    `${context.relativePath} (${doc.languageId}) - lines ${context.windowStartLine + 1}-${context.windowEndLine + 1} of ${doc.lineCount}, selection at ${at(selection.start)}-${at(selection.end)}`,
  );
  const lastSelected = selection.end.line > selection.start.line && selection.end.character === 0 ? selection.end.line - 1 : selection.end.line;
  const wantedFirst = Math.max(0, selection.start.line - options.linesBefore);
  const wantedLast = Math.min(doc.lineCount - 1, lastSelected + options.linesAfter);

  const rows = texts.map((text, index): Row => {
    const match = /^( *)(\d+)\|([> ])(.*)$/.exec(text);
    if (match === null) throw new Error(`not a row: ${JSON.stringify(text)}`);
    const [, padding, number, marker, content] = match as unknown as [string, string, string, string, string];
    const line = Number(number) - 1;
    expect(line).toBe(context.windowStartLine + index);
    expect(padding.length + number.length).toBe(String(wantedLast + 1).length);
    expect(marker === '>').toBe(line >= selection.start.line && line <= lastSelected);
    const before = /^\.\.\.\[\+(\d+) chars\]/.exec(content);
    const afterCut = content.slice(before?.[0].length ?? 0);
    const after = /\.\.\.\[\+(\d+) chars\]$/.exec(afterCut);
    const shown = afterCut.slice(0, afterCut.length - (after?.[0].length ?? 0));
    const hiddenBefore = Number(before?.[1] ?? 0);
    const hiddenAfter = Number(after?.[1] ?? 0);
    const lineText = doc.lineText(line);
    expect(hiddenBefore + shown.length + hiddenAfter).toBe(lineText.length);
    expect(shown).toBe(lineText.slice(hiddenBefore, lineText.length - hiddenAfter));
    return { line, selected: marker === '>', hiddenBefore, shown, hiddenAfter };
  });
  expect(rows.length).toBeGreaterThan(0);
  const first = rows[0] as Row;
  const last = rows.at(-1) as Row;
  for (const row of rows.slice(1, -1)) expect([row.hiddenBefore, row.hiddenAfter]).toEqual([0, 0]);
  expect(context.windowEndLine).toBe(last.line);
  expect(context.windowStartOffset).toBe(doc.lineStartOffset(first.line) + first.hiddenBefore);
  expect(context.windowEndOffset).toBe(doc.lineEndOffset(last.line) - last.hiddenAfter);
  expect(context.windowText).toBe(doc.text.slice(context.windowStartOffset, context.windowEndOffset));

  const selectionText = doc.text.slice(doc.offsetAt(selection.start), doc.offsetAt(selection.end));
  expect(selectionText.startsWith(context.selectedText)).toBe(true);
  const anythingLeftOut =
    rows.some((row) => row.hiddenBefore > 0 || row.hiddenAfter > 0) ||
    context.windowStartLine > wantedFirst ||
    context.windowEndLine < wantedLast ||
    context.selectedText !== selectionText;
  expect(context.truncated).toBe(anythingLeftOut);
  return { context, rows };
}

/**
 * The smallest budget that fits `context` as it is: its rows, plus the header as long as it can get (the budget
 * keeps room for line numbers up to the document's line count).
 */
function budgetFitting(doc: TrackedDocument, context: CapturedContext): number {
  const header = context.numbered.split('\n', 1)[0] as string;
  const longestHeader = header.replace(/ - lines \d+-\d+ of /, ` - lines ${doc.lineCount}-${doc.lineCount} of `);
  return context.numbered.length - header.length + longestHeader.length;
}

/** The length of the header a budget keeps room for: the capture's own, with line numbers up to the line count. */
function longestHeader(doc: TrackedDocument, selection: Range, options: CaptureOptions): number {
  const probe = captureContext(doc, selection, { ...options, maxChars: 1_000_000 });
  const header = probe.numbered.split('\n', 1)[0] as string;
  return header.replace(/ - lines \d+-\d+ of /, ` - lines ${doc.lineCount}-${doc.lineCount} of `).length;
}

/** What one row costs: its newline, a gutter `width` digits wide, the bar and the marker, then `shown` characters. */
const rowCost = (width: number, shown: number): number => 1 + width + 2 + shown;

const linesShown = (rows: readonly Row[]): number[] => rows.map((row) => row.line + 1);

describe('the window within its budget', () => {
  it('takes the farthest context line when it fits exactly, and leaves it out one character short', () => {
    const doc = open(inventory);
    const selection = rangeOf(doc, 'return sum(');
    const options = { linesBefore: 1, linesAfter: 3, maxChars: 10_000 };
    const roomy = capture(doc, selection, options);
    // Planned nearest first, alternating sides: 11 above, 13 below, then 14 and 15 below.
    expect(linesShown(roomy.rows)).toEqual([11, 12, 13, 14, 15]);

    const exact = capture(doc, selection, { ...options, maxChars: budgetFitting(doc, roomy.context) });
    expect(exact.context.numbered).toBe(roomy.context.numbered);
    expect(exact.context.truncated).toBe(false);

    const short = capture(doc, selection, { ...options, maxChars: budgetFitting(doc, roomy.context) - 1 });
    expect(linesShown(short.rows)).toEqual([11, 12, 13, 14]);
    expect(short.context.truncated).toBe(true);
  });

  it('alternates sides from the selection outwards, so a small budget keeps the nearest lines on both', () => {
    const doc = open(inventory);
    const selection = rangeOf(doc, 'if item.name == name:');
    const options = { linesBefore: 3, linesAfter: 3, maxChars: 10_000 };
    const roomy = capture(doc, selection, options);
    expect(linesShown(roomy.rows)).toEqual([14, 15, 16, 17, 18, 19, 20]);
    // Without room for the farthest line on each side (the blank line 14 above, 20 below), the five nearest stay.
    const farthest = rowCost(2, 0) + rowCost(2, '    raise KeyError(name)'.length);
    const nearest = capture(doc, selection, { ...options, maxChars: budgetFitting(doc, roomy.context) - farthest });
    expect(linesShown(nearest.rows)).toEqual([15, 16, 17, 18, 19]);
  });

  it('cuts a long context line at its end when at least 40 of its characters fit, and drops it when fewer do', () => {
    const config = `SETTINGS = {${Array.from({ length: 30 }, (_, i) => `"key_${i}": ${i}`).join(', ')}}`;
    const text = ['import json', '', config, 'def load(path):', '    with open(path) as f:', '        return json.load(f)', ''].join('\n');
    const doc = open(text);
    const selection = rangeOf(doc, 'def load(path):');
    const options = { linesBefore: 1, linesAfter: 0, maxChars: 10_000 };
    const whole = capture(doc, selection, options);
    expect(whole.rows[0]?.shown).toBe(config);

    // A budget leaving exactly 40 characters of the line besides its gutter and cut marker.
    const marker = `...[+${config.length} chars]`.length;
    const selectedOnly = capture(doc, selection, { ...options, linesBefore: 0 });
    const room = budgetFitting(doc, selectedOnly.context) + 1 + 2 + 1 + 40 + marker;
    const cut = capture(doc, selection, { ...options, maxChars: room });
    expect(cut.rows[0]).toMatchObject({ line: 2, hiddenBefore: 0, shown: config.slice(0, 40), hiddenAfter: config.length - 40 });
    expect(cut.context.truncated).toBe(true);

    const dropped = capture(doc, selection, { ...options, maxChars: room - 1 });
    expect(linesShown(dropped.rows)).toEqual([4]);
    expect(dropped.context.truncated).toBe(true);
  });

  it('goes on below after cutting a line above at the cap, with exactly what the cut line left', () => {
    const comment = `# ${'Counted once a day by the night shift, then reconciled with the ledger. '.repeat(4).trim()}`;
    const text = ['import json', comment, 'def load(path):', '    with open(path) as f:', '        return json.load(f)', ''].join('\n');
    const doc = open(text);
    const selection = rangeOf(doc, 'def load(path):');
    const options = { linesBefore: 2, linesAfter: 2, maxChars: 0 };
    // A small budget caps a context line at 240 characters, its cut marker included.
    const kept = 240 - `...[+${comment.length} chars]`.length;
    const rows = [
      rowCost(1, kept + `...[+${comment.length - kept} chars]`.length),
      rowCost(1, 'def load(path):'.length),
      rowCost(1, '    with open(path) as f:'.length),
      rowCost(1, '        return json.load(f)'.length),
    ];
    const budget = longestHeader(doc, selection, options) + rows.reduce((sum, cost) => sum + cost, 0);
    expect(budget).toBeLessThan(4 * 240);

    const fitted = capture(doc, selection, { ...options, maxChars: budget });
    expect(linesShown(fitted.rows)).toEqual([2, 3, 4, 5]);
    expect(fitted.rows[0]).toMatchObject({ shown: comment.slice(0, kept), hiddenAfter: comment.length - kept });

    const lessRoom = capture(doc, selection, { ...options, maxChars: budget - 1 });
    expect(linesShown(lessRoom.rows)).toEqual([2, 3, 4]);
  });

  it('stops on a side at a line it had to cut or drop, and says the window was cut', () => {
    const longLine = `    values = [${Array.from({ length: 80 }, (_, i) => i * 3).join(', ')}]`;
    const text = ['def sample():', '    seed = 7', longLine, '    values.sort()', '    return values', '', 'print(sample())', ''].join('\n');
    const doc = open(text);
    expect(longLine.length).toBeGreaterThan(240);
    // Longer than the cap: cut, and the lines above it are left out; below, the window goes on.
    const cutAbove = capture(doc, rangeOf(doc, '    values.sort()'), { linesBefore: 3, linesAfter: 3, maxChars: 600 });
    expect(linesShown(cutAbove.rows)).toEqual([3, 4, 5, 6, 7]);
    expect(cutAbove.rows[0]?.hiddenAfter).toBeGreaterThan(0);

    const cutBelow = capture(doc, rangeOf(doc, '    seed = 7'), { linesBefore: 1, linesAfter: 3, maxChars: 600 });
    expect(linesShown(cutBelow.rows)).toEqual([1, 2, 3]);
    expect(cutBelow.rows.at(-1)?.hiddenAfter).toBeGreaterThan(0);

    // With too little room to cut it usefully, it is dropped, and the short line above it is not shown in its place.
    const selection = rangeOf(doc, '    values.sort()');
    const options = { linesBefore: 3, linesAfter: 0, maxChars: 0 };
    const budget = longestHeader(doc, selection, options) + rowCost(1, '    values.sort()'.length) + rowCost(1, 30);
    const dropped = capture(doc, selection, { ...options, maxChars: budget });
    expect(linesShown(dropped.rows)).toEqual([4]);
  });

  it('caps one context line at a quarter of the budget, but never under 240 characters', () => {
    const data = `PRIMES = [${Array.from({ length: 900 }, (_, i) => i * 7 + 3).join(', ')}]`;
    const text = ['import math', data, 'def is_prime(n):', '    return n in PRIMES', ''].join('\n');
    const doc = open(text);
    const selection = rangeOf(doc, 'def is_prime(n):');
    const options = { linesBefore: 1, linesAfter: 0, maxChars: 8000 };
    const marker = `...[+${data.length} chars]`.length;

    // The budget for rows is what the longest header leaves of it.
    const large = capture(doc, selection, options);
    const quarter = Math.floor((options.maxChars - longestHeader(doc, selection, options)) / 4);
    expect(large.rows[0]?.shown.length).toBe(quarter - marker);

    const small = capture(doc, selection, { ...options, maxChars: 800 });
    expect(small.rows[0]?.shown.length).toBe(240 - marker);
  });

  it('cuts the header itself when the budget is smaller than it and one row', () => {
    const doc = open(inventory);
    const context = captureContext(doc, rangeOf(doc, 'def total'), { linesBefore: 2, linesAfter: 2, maxChars: 30 });
    expect(context.numbered).toBe(`${context.relativePath} (python) - lines 11-11 of 21, selection at 11:1-11:10\n11|>`.slice(0, 30));
    expect(context.truncated).toBe(true);
    expect(captureContext(doc, rangeOf(doc, 'def total'), { linesBefore: 2, linesAfter: 2, maxChars: -5 }).numbered).toBe('');
  });
});

describe('selected lines within the budget', () => {
  const dump = `    blob = "${'0123456789abcdef'.repeat(400)}"`;
  const text = ['def encode(data):', '    header = b"EFRT"', dump, '    return header + blob', ''].join('\n');

  it('always shows the first selected line, even when only its gutter fits', () => {
    const doc = open(text);
    const selection = rangeOf(doc, dump);
    const options = { linesBefore: 1, linesAfter: 1, maxChars: 0 };
    const budget = longestHeader(doc, selection, options) + rowCost(1, 0);
    const context = captureContext(doc, selection, { ...options, maxChars: budget });
    expect(context.numbered).toHaveLength(budget);
    expect(context.numbered.split('\n')[1]).toBe('3|>');
    expect(context).toMatchObject({ windowStartLine: 2, windowEndLine: 2, truncated: true });
  });

  it('shows a selected line whole when it fits exactly', () => {
    const doc = open(text);
    const selection = rangeOf(doc, '    header = b"EFRT"');
    const options = { linesBefore: 0, linesAfter: 0, maxChars: 0 };
    const exact = capture(doc, selection, { ...options, maxChars: longestHeader(doc, selection, options) + rowCost(1, '    header = b"EFRT"'.length) });
    expect(exact.rows).toEqual([{ line: 1, selected: true, hiddenBefore: 0, shown: '    header = b"EFRT"', hiddenAfter: 0 }]);
    expect(exact.context.truncated).toBe(false);
  });

  it('shows the start of a later selected line it cuts, wherever the selection started on the first', () => {
    const versioned = '    header = b"EFRT" + VERSION.to_bytes(2, "big")';
    const doc = open(['def encode(data):', versioned, dump, '    return header + blob', ''].join('\n'));
    // From the end of line 2 to the start of line 4: line 3, the dump, is selected whole, and cut to 40 characters.
    const selection = { start: rangeOf(doc, versioned).end, end: { line: 3, character: 0 } };
    const options = { linesBefore: 0, linesAfter: 0, maxChars: 0 };
    const { rows } = capture(doc, selection, { ...options, maxChars: longestHeader(doc, selection, options) + rowCost(1, versioned.length) + rowCost(1, 40) });
    expect(linesShown(rows)).toEqual([2, 3]);
    expect(rows[1]).toMatchObject({ hiddenBefore: 0, shown: dump.slice(0, 40 - `...[+${dump.length} chars]`.length) });
  });

  it('cuts a later selected line when at least 40 characters are left for it, and drops it otherwise', () => {
    const doc = open(text);
    const both: Range = { start: rangeOf(doc, '    header').start, end: { line: 2, character: 20 } };
    const options = { linesBefore: 0, linesAfter: 0, maxChars: 0 };
    const room = longestHeader(doc, both, options) + rowCost(1, '    header = b"EFRT"'.length) + rowCost(1, 40);
    const cut = capture(doc, both, { ...options, maxChars: room });
    expect(linesShown(cut.rows)).toEqual([2, 3]);
    expect(cut.rows[1]).toMatchObject({ hiddenBefore: 0, selected: true });
    expect(cut.rows[1]?.hiddenAfter).toBeGreaterThan(0);

    const dropped = capture(doc, both, { ...options, maxChars: room - 1 });
    expect(linesShown(dropped.rows)).toEqual([2]);
    expect(dropped.context.truncated).toBe(true);
  });

});

describe('cutting a selected line too long for the budget', () => {
  /** `...[+10017 chars]`: the marker a cut of this line is planned with, as long as any marker it can have. */
  const marker = 17;
  const line = `const table = "${'ABCDEFGHIJ'.repeat(1000)}";`;
  const length = line.length;
  /** What is left for the selected line's text and cut markers. */
  const available = 400;

  /** The selected line's row when `available` characters are left for it. */
  function cutRow(start: { line: number; character: number }, end: { line: number; character: number }, doc = open(`${line}\n`, 'typescript')): Row {
    const selection = { start, end };
    const options = { linesBefore: 0, linesAfter: 0, maxChars: 0 };
    const budget = longestHeader(doc, selection, options) + rowCost(1, available);
    const { rows } = capture(doc, selection, { ...options, maxChars: budget });
    expect(rows).toHaveLength(1);
    return rows[0] as Row;
  }
  const onLine = (character: number) => ({ line: 0, character });

  it('shows the start of the line when the selection ends within what fits with one marker', () => {
    expect(marker).toBe(`...[+${length} chars]`.length);
    expect(cutRow(onLine(100), onLine(available - marker))).toMatchObject({ hiddenBefore: 0, hiddenAfter: length - (available - marker) });
  });

  it('centres a selection further along in what fits between two markers', () => {
    const keep = available - 2 * marker;
    const row = cutRow(onLine(5000), onLine(5010));
    expect(row.hiddenBefore).toBe(5000 - Math.floor((keep - 10) / 2));
    expect(row.shown).toHaveLength(keep);
    // Just past what one marker allows: centred too.
    const end = available - marker + 1;
    expect(cutRow(onLine(380), onLine(end)).hiddenBefore).toBe(380 - Math.floor((keep - (end - 380)) / 2));
  });

  it('shows the start of a selection longer than what fits', () => {
    const keep = available - 2 * marker;
    expect(cutRow(onLine(3000), onLine(6000))).toMatchObject({ hiddenBefore: 3000, hiddenAfter: length - 3000 - keep });
    // From the line's start: its start, with one marker.
    expect(cutRow(onLine(0), onLine(6000))).toMatchObject({ hiddenBefore: 0, hiddenAfter: length - (available - marker) });
  });

  it('shows the end of the line, with one marker, when the selection is near it', () => {
    const keep = available - 2 * marker;
    expect(cutRow(onLine(length - 10), onLine(length))).toMatchObject({ hiddenBefore: length - (available - marker), hiddenAfter: 0 });
    // Centred, the shown part would end exactly at the line's end: the same.
    const start = length - keep + Math.floor((keep - 10) / 2);
    expect(cutRow(onLine(start), onLine(start + 10))).toMatchObject({ hiddenBefore: length - (available - marker), hiddenAfter: 0 });
  });

  it('centres on where a selection of several lines starts, not on where it ends', () => {
    const doc = open(`${line}\n${line}\n`, 'typescript');
    const keep = available - 2 * marker;
    const row = cutRow(onLine(5000), { line: 1, character: 7000 }, doc);
    expect(row.hiddenBefore).toBe(5000 - Math.floor(keep / 2));
  });
});

describe('cuts next to characters outside the Basic Multilingual Plane', () => {
  const isHigh = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
  const isLow = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;
  /** Whether cutting `text` at `index` would split a surrogate pair. */
  const splitsPair = (text: string, index: number): boolean => isHigh(text.charCodeAt(index - 1)) && isLow(text.charCodeAt(index));
  const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

  // Emoji among plain text, and the first and last code points of both surrogate ranges (U+10000 is D800 DC00,
  // U+103FF is D800 DFFF, U+10FC00 is DBFF DC00, U+10FFFF is DBFF DFFF).
  const labels = `  LABELS = ["on 😀 sale", "wörld 🚀 x", "\u{10000}a\u{103FF}b\u{10FC00}c\u{10FFFF}d", ${'"🎉", '.repeat(20)}"end"]`;
  const text = ['def labels():', labels, '    return LABELS', ''].join('\n');

  it('ends a cut context line before a pair it would split, and nowhere else', () => {
    const doc = open(text);
    const selection = rangeOf(doc, 'def labels():');
    const options = { linesBefore: 0, linesAfter: 1, maxChars: 0 };
    const base = longestHeader(doc, selection, options) + rowCost(1, 'def labels():'.length);
    const marker = `...[+${labels.length} chars]`.length;
    let splits = 0;
    for (let kept = 40; kept < 120; kept++) {
      const { rows } = capture(doc, selection, { ...options, maxChars: base + rowCost(1, kept + marker) });
      const shown = rows[1]?.shown ?? '';
      if (splitsPair(labels, kept)) splits++;
      expect(shown).toBe(labels.slice(0, splitsPair(labels, kept) ? kept - 1 : kept));
      expect(shown).not.toMatch(loneSurrogate);
    }
    expect(splits).toBeGreaterThan(5);
  });

  it('starts and ends a cut selected line outside a pair', () => {
    const long = `  LABELS = [${Array.from({ length: 200 }, (_, i) => `"${['😀', 'a', '\u{10000}', 'bc', '\u{10FFFF}'][i % 5]}"`).join(', ')}]`;
    const doc = open(['def labels():', long, ''].join('\n'));
    const options = { linesBefore: 0, linesAfter: 0, maxChars: 0 };
    let startsMoved = 0;
    for (let column = 300; column < 360; column++) {
      const selection = { start: { line: 1, character: column }, end: { line: 1, character: column + 2 } };
      const { rows } = capture(doc, selection, { ...options, maxChars: longestHeader(doc, selection, options) + rowCost(1, 150) });
      const row = rows[0] as Row;
      expect(row.shown).not.toMatch(loneSurrogate);
      const marker = `...[+${long.length} chars]`.length;
      const centred = column - Math.floor((150 - 2 * marker - 2) / 2);
      expect(row.hiddenBefore).toBe(splitsPair(long, centred) ? centred + 1 : centred);
      if (row.hiddenBefore !== centred) startsMoved++;
      const end = centred + 150 - 2 * marker;
      expect(row.hiddenBefore + row.shown.length).toBe(splitsPair(long, end) ? end - 1 : end);
    }
    expect(startsMoved).toBeGreaterThan(5);
  });

  it('cuts text with lone surrogates (malformed, but a client may send it) where the budget says: only a whole pair moves a cut', () => {
    // A lone high surrogate before a letter and before a fullwidth sign, a lone low one after a letter and after a
    // fullwidth sign, each repeated so that cuts fall on both sides of every one of them.
    const broken = `  RAW = "${'a\uD800b\uDC00c\uFF01\uDC00\uD83D\uFF01d'.repeat(20)}"`;
    const doc = open(['def raw():', broken, '    return RAW', ''].join('\n'));
    const selection = rangeOf(doc, 'def raw():');
    const options = { linesBefore: 0, linesAfter: 1, maxChars: 0 };
    const base = longestHeader(doc, selection, options) + rowCost(1, 'def raw():'.length);
    const marker = `...[+${broken.length} chars]`.length;
    for (let kept = 40; kept < 70; kept++) {
      const { rows } = capture(doc, selection, { ...options, maxChars: base + rowCost(1, kept + marker) });
      expect(rows[1]?.shown).toBe(broken.slice(0, kept));
    }

    const selectedOptions = { linesBefore: 0, linesAfter: 0, maxChars: 0 };
    const keep = 100 - 2 * marker;
    for (let column = 86; column < 106; column++) {
      const around = { start: { line: 1, character: column }, end: { line: 1, character: column + 2 } };
      const row = capture(doc, around, { ...selectedOptions, maxChars: longestHeader(doc, around, selectedOptions) + rowCost(1, 100) }).rows[0] as Row;
      expect(row.hiddenBefore).toBe(column - Math.floor((keep - 2) / 2));
    }
  });
});
