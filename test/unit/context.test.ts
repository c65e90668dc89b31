import { describe, expect, it } from 'vitest';
import type { Diagnostic } from 'vscode-languageserver';
import type { Position, Range } from 'vscode-languageserver-textdocument';
import { captureContext, relativePathOf, validateRange } from '../../server/src/context/capture-context.js';
import type { CaptureOptions } from '../../server/src/context/capture-context.js';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import type { TrackedDocument } from '../../server/src/documents/tracked-document.js';

const inventory = [
  'from dataclasses import dataclass',
  '',
  '',
  '@dataclass',
  'class Item:',
  '    name: str',
  '    price: float',
  '    quantity: int = 0',
  '',
  '',
  'def total(items):',
  '    return sum(item.price * item.quantity for item in items)',
  '',
  '',
  'def restock(items, name, amount):',
  '    for item in items:',
  '        if item.name == name:',
  '            item.quantity += amount',
  '            return item',
  '    raise KeyError(name)',
  '',
].join('\n');

let documentCounter = 0;

function openDocument(text: string, uri = `file:///work/shop/src/inventory${documentCounter++}.py`, languageId = 'python'): TrackedDocument {
  const store = new DocumentStore();
  store.open({ uri, languageId, version: 3, text });
  return store.get(uri) as TrackedDocument;
}

function positionOf(doc: TrackedDocument, needle: string): Position {
  const offset = doc.text.indexOf(needle);
  if (offset < 0) throw new Error(`${JSON.stringify(needle)} not found`);
  return doc.positionAt(offset);
}

function rangeOf(doc: TrackedDocument, needle: string): Range {
  const start = positionOf(doc, needle);
  return { start, end: doc.positionAt(doc.offsetAt(start) + needle.length) };
}

const roomy: CaptureOptions = { linesBefore: 3, linesAfter: 3, maxChars: 10_000 };

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('captureContext', () => {
  it('numbers the window, marks the selection and keeps the raw text', () => {
    const doc = openDocument(inventory, 'file:///work/shop/src/inventory.py');
    const context = captureContext(doc, rangeOf(doc, 'item.quantity += amount'), { ...roomy, workspaceRoots: ['/work/shop'] });
    expect(context.numbered).toBe(
      [
        'src/inventory.py (python) - lines 15-21 of 21, selection at 18:13-18:36',
        '15| def restock(items, name, amount):',
        '16|     for item in items:',
        '17|         if item.name == name:',
        '18|>            item.quantity += amount',
        '19|             return item',
        '20|     raise KeyError(name)',
        '21| ',
      ].join('\n'),
    );
    expect(context).toMatchObject({
      uri: 'file:///work/shop/src/inventory.py',
      relativePath: 'src/inventory.py',
      languageId: 'python',
      version: 3,
      windowStartLine: 14,
      windowEndLine: 20,
      selectedText: 'item.quantity += amount',
      truncated: false,
      totalLines: 21,
      diagnostics: [],
    });
    expect(context.windowText).toBe(doc.text.slice(context.windowStartOffset, context.windowEndOffset));
    expect(context.windowText.startsWith('def restock(')).toBe(true);
    expect(context.windowEndOffset).toBe(doc.text.length);
  });

  it('stops at the start of the file', () => {
    const doc = openDocument(inventory);
    const context = captureContext(doc, rangeOf(doc, 'dataclasses'), roomy);
    expect(context.windowStartLine).toBe(0);
    expect(context.windowEndLine).toBe(3);
    expect(context.numbered.split('\n')[1]).toBe('1|>from dataclasses import dataclass');
    expect(context.truncated).toBe(false);
  });

  it('stops at the end of the file, including the empty line after the last line break', () => {
    const doc = openDocument(inventory);
    const end = doc.positionAt(doc.text.length);
    const context = captureContext(doc, { start: end, end }, roomy);
    expect(context.windowStartLine).toBe(17);
    expect(context.windowEndLine).toBe(20);
    expect(context.numbered.split('\n').at(-1)).toBe('21|>');
    expect(context.selectedText).toBe('');
  });

  it('captures an empty file', () => {
    const doc = openDocument('', 'untitled:Untitled-1', 'plaintext');
    const context = captureContext(doc, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, roomy);
    expect(context.numbered).toBe('untitled:Untitled-1 (plaintext) - lines 1-1 of 1, selection at 1:1-1:1\n1|>');
    expect(context).toMatchObject({ windowText: '', windowStartOffset: 0, windowEndOffset: 0, totalLines: 1, truncated: false });
  });

  it('shows CRLF lines without their \\r, while windowText keeps them', () => {
    const doc = openDocument(inventory.replaceAll('\n', '\r\n'));
    const context = captureContext(doc, rangeOf(doc, 'def total'), { linesBefore: 1, linesAfter: 1, maxChars: 1000 });
    expect(context.numbered).not.toContain('\r');
    expect(context.numbered.split('\n').slice(1)).toEqual(['10| ', '11|>def total(items):', '12|     return sum(item.price * item.quantity for item in items)']);
    expect(context.windowText).toBe('\r\ndef total(items):\r\n    return sum(item.price * item.quantity for item in items)');
  });

  it('does not mark the line a whole-line selection ends on at column 0', () => {
    const doc = openDocument(inventory);
    const start = positionOf(doc, 'def total');
    const context = captureContext(doc, { start, end: { line: start.line + 2, character: 0 } }, { linesBefore: 0, linesAfter: 1, maxChars: 1000 });
    expect(context.numbered.split('\n').slice(1)).toEqual([
      '11|>def total(items):',
      '12|>    return sum(item.price * item.quantity for item in items)',
      '13| ',
    ]);
  });

  it('shrinks the window from the side farther from the selection first', () => {
    const doc = openDocument(inventory);
    const selection = rangeOf(doc, 'item.quantity += amount');
    const full = captureContext(doc, selection, { linesBefore: 10, linesAfter: 2, maxChars: 10_000 });
    expect([full.windowStartLine, full.windowEndLine]).toEqual([7, 19]);

    const tight = captureContext(doc, selection, { linesBefore: 10, linesAfter: 2, maxChars: 300 });
    expect(tight.numbered.length).toBeLessThanOrEqual(300);
    expect(tight.truncated).toBe(true);
    // Both lines below (the nearer side) survive; lines far above went first.
    expect(tight.windowEndLine).toBe(19);
    expect(tight.windowStartLine).toBeGreaterThan(7);
    expect(tight.numbered).toContain('18|>            item.quantity += amount');
    expect(tight.windowText).toBe(doc.text.slice(tight.windowStartOffset, tight.windowEndOffset));

    for (let maxChars = 120; maxChars <= 700; maxChars += 7) {
      const context = captureContext(doc, selection, { linesBefore: 10, linesAfter: 2, maxChars });
      expect(context.numbered.length).toBeLessThanOrEqual(maxChars);
      expect(context.numbered).toContain('item.quantity += amount');
    }
  });

  it('cuts a huge minified line around the selection and says how much is hidden', () => {
    const chunk = 'function a(b){return b.map(function(c){return c*2})};';
    const line = chunk.repeat(20_000);
    const needle = 'window.efritTarget=42;';
    const middle = Math.floor(line.length / 2);
    const text = `${line.slice(0, middle)}${needle}${line.slice(middle)}`;
    const doc = openDocument(text, 'file:///work/shop/dist/app.min.js', 'javascript');
    const context = captureContext(doc, rangeOf(doc, needle), { linesBefore: 3, linesAfter: 3, maxChars: 2000 });

    expect(context.numbered.length).toBeLessThanOrEqual(2000);
    expect(context.truncated).toBe(true);
    const row = context.numbered.split('\n')[1] as string;
    const match = /^1\|>\.\.\.\[\+(\d+) chars\](.*)\.\.\.\[\+(\d+) chars\]$/.exec(row);
    expect(match).not.toBeNull();
    const [, hiddenBefore, shown, hiddenAfter] = match as unknown as [string, string, string, string];
    expect(shown).toContain(needle);
    expect(Number(hiddenBefore) + shown.length + Number(hiddenAfter)).toBe(text.length);
    expect(context.windowText).toBe(shown);
    expect(text.slice(context.windowStartOffset, context.windowEndOffset)).toBe(shown);
    expect(context.selectedText).toBe(needle);
  });

  it('never splits an astral character (𝒳, emoji) at a cut', () => {
    const line = `const banner = "${'𝒳🚀'.repeat(3000)}";`;
    const text = `// banner\n${line}\nexport default banner;\n`;
    const doc = openDocument(text, 'file:///work/shop/src/banner.ts', 'typescript');
    const lineNumber = 1;
    for (let maxChars = 150; maxChars < 260; maxChars++) {
      for (const character of [17, 18, 19, 1000, 1001, line.length - 3]) {
        const position = { line: lineNumber, character };
        const context = captureContext(doc, { start: position, end: { line: lineNumber, character: character + 3 } }, { linesBefore: 1, linesAfter: 1, maxChars });
        expect(context.numbered.length).toBeLessThanOrEqual(maxChars);
        expect(context.numbered).not.toMatch(loneSurrogate);
        expect(context.windowText).not.toMatch(loneSurrogate);
      }
    }
  });

  it('keeps the start of a selection larger than the budget', () => {
    const lines = Array.from({ length: 400 }, (_, i) => `    total += prices[${i}] * quantities[${i}]`);
    const text = ['def grand_total(prices, quantities):', '    total = 0', ...lines, '    return total', ''].join('\n');
    const doc = openDocument(text);
    const all: Range = { start: { line: 0, character: 0 }, end: doc.positionAt(doc.text.length) };
    const context = captureContext(doc, all, { linesBefore: 5, linesAfter: 5, maxChars: 1500 });
    expect(context.numbered.length).toBeLessThanOrEqual(1500);
    expect(context.truncated).toBe(true);
    expect(context.windowStartLine).toBe(0);
    expect(context.numbered.split('\n')[1]).toBe('  1|>def grand_total(prices, quantities):');
    expect(context.windowEndLine).toBeLessThan(60);
    expect(context.selectedText.length).toBeLessThanOrEqual(1500);
    expect(text.startsWith(context.selectedText)).toBe(true);
  });

  it('formats the diagnostics inside the window, one line each', () => {
    const doc = openDocument(inventory);
    const diagnostics: Diagnostic[] = [
      {
        range: rangeOf(doc, 'KeyError'),
        severity: 2,
        source: 'pyright',
        code: 'reportUndefinedVariable',
        message: 'Raising KeyError with a\n  bare name.',
      },
      { range: rangeOf(doc, 'item.quantity +='), severity: 1, source: 'ts', code: 2304, message: "Cannot find name 'foo'." },
      { range: rangeOf(doc, 'amount'), message: 'Unused parameter.' },
      { range: rangeOf(doc, 'dataclasses'), severity: 3, message: 'Far above the window.' },
      { range: rangeOf(doc, 'return item'), severity: 4, source: 'hints', message: 'Return early.' },
    ];
    const context = captureContext(doc, rangeOf(doc, 'item.quantity += amount'), { ...roomy, diagnostics });
    expect(context.diagnostics).toEqual([
      'line 15:26 error Unused parameter.',
      "line 18:13 error [ts 2304] Cannot find name 'foo'.",
      'line 19:13 hint [hints] Return early.',
      'line 20:11 warning [pyright reportUndefinedVariable] Raising KeyError with a bare name.',
    ]);
  });
});

describe('relativePathOf', () => {
  it('names the file relative to the innermost workspace root', () => {
    const roots = ['/work/shop', '/work/shop/packages/api', '/work/other'];
    expect(relativePathOf('file:///work/shop/packages/api/src/server.ts', roots)).toBe('src/server.ts');
    expect(relativePathOf('file:///work/shop/README.md', roots)).toBe('README.md');
    expect(relativePathOf('file:///work/shop/packages/web/index.ts', roots)).toBe('packages/web/index.ts');
    expect(relativePathOf('file:///work/shop/packages/web/index.ts', ['file:///work/shop/packages/'])).toBe('web/index.ts');
  });

  it('decodes percent-escapes and falls back to the file name or the URI', () => {
    expect(relativePathOf('file:///work/my%20shop/src/a%23b.ts', ['/work/my shop'])).toBe('src/a#b.ts');
    expect(relativePathOf('file:///tmp/scratch/notes%20draft.md', ['/work/shop'])).toBe('notes draft.md');
    expect(relativePathOf('file:///work/shopping/list.ts', ['/work/shop'])).toBe('list.ts');
    expect(relativePathOf('untitled:Untitled-2', ['/work/shop'])).toBe('untitled:Untitled-2');
    expect(relativePathOf('file://server/share/x.ts', [])).toBe('file://server/share/x.ts');
  });
});

describe('validateRange', () => {
  const doc = openDocument(inventory);

  it('accepts ranges inside the document, the end of a line and the end of the document', () => {
    expect(validateRange(doc, rangeOf(doc, 'def total'))).toBeUndefined();
    const lineLength = doc.lineText(4).length;
    expect(validateRange(doc, { start: { line: 4, character: 0 }, end: { line: 4, character: lineLength } })).toBeUndefined();
    expect(validateRange(doc, { start: { line: 0, character: 0 }, end: { line: doc.lineCount, character: 0 } })).toBeUndefined();
  });

  it('takes a character past the end of its line as the line end, as the LSP spec says', () => {
    expect(validateRange(doc, { start: { line: 4, character: 0 }, end: { line: 4, character: 30 } })).toBeUndefined();
    const context = captureContext(doc, { start: { line: 4, character: 0 }, end: { line: 4, character: 30 } }, { linesBefore: 1, linesAfter: 1, maxChars: 2000 });
    expect(context.selection.end).toEqual({ line: 4, character: doc.lineText(4).length });
    // Both ends past the line's end are the same place, not a backwards range.
    expect(validateRange(doc, { start: { line: 4, character: 50 }, end: { line: 4, character: 30 } })).toBeUndefined();
  });

  it('explains what is wrong', () => {
    expect(validateRange(doc, { start: { line: 40, character: 0 }, end: { line: 41, character: 0 } })).toBe(
      'Range 40:0–41:0 is outside the document (it has 21 lines).',
    );
    expect(validateRange(doc, { start: { line: 21, character: 1 }, end: { line: 21, character: 1 } })).toBe(
      'Range 21:1–21:1 is outside the document (it has 21 lines).',
    );
    expect(validateRange(doc, { start: { line: 5, character: 0 }, end: { line: 4, character: 0 } })).toBe('Range 5:0–4:0 ends before it starts.');
    expect(validateRange(doc, { start: { line: -1, character: 0 }, end: { line: 4, character: 0 } })).toContain('is not a valid range');
    expect(validateRange(openDocument(''), { start: { line: 3, character: 0 }, end: { line: 3, character: 0 } })).toBe(
      'Range 3:0–3:0 is outside the document (it has 1 line).',
    );
  });
});

describe('capture cost', () => {
  /** Counts the document's line lookups: the work a capture does, measured without a clock. */
  function countingLineLookups(doc: TrackedDocument): { doc: TrackedDocument; lookups: () => number } {
    let lookups = 0;
    const counted = new Proxy(doc, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (property === 'lineStartOffset' || property === 'lineText' || property === 'lineEndOffset' || property === 'offsetAt') lookups += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    return { doc: counted, lookups: () => lookups };
  }

  it('depends on the window, not on the size of the document', () => {
    const program = (lineCount: number) =>
      ['def run(values):', ...Array.from({ length: lineCount }, (_, i) => `    values[${i}] = compute(values[${i - 1}], ${i}) # step`), ''].join('\n');
    const options: CaptureOptions = { linesBefore: 20, linesAfter: 20, maxChars: 8000 };
    const lookupsFor = (lineCount: number): number => {
      const { doc, lookups } = countingLineLookups(openDocument(program(lineCount)));
      const middle = positionOf(doc, `values[${lineCount / 2}] =`);
      const context = captureContext(doc, { start: middle, end: middle }, options);
      expect(context.windowEndLine - context.windowStartLine).toBe(40);
      return lookups();
    };
    // The same window in a 1,000-line and a 100,000-line (4 MB) file: the same work.
    expect(lookupsFor(100_000)).toBe(lookupsFor(1_000));
  });
});
