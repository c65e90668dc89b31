import { describe, expect, it } from 'vitest';
import type { Diagnostic } from 'vscode-languageserver';
import type { Position, Range } from 'vscode-languageserver-textdocument';
import { captureContext, relativePathOf, validateRange } from '../../server/src/context/capture-context.js';
import type { CaptureOptions } from '../../server/src/context/capture-context.js';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import type { TrackedDocument } from '../../server/src/documents/tracked-document.js';
import { inventoryPy } from '../fixtures/samples.js';

const inventory = inventoryPy;

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

  it('leaves out, and says so, the half of an emoji a selection ends in', () => {
    const doc = openDocument('label = "launch 🚀 now"\n');
    const start = positionOf(doc, 'launch');
    const inside = { line: start.line, character: doc.text.indexOf('🚀') + 1 };
    const context = captureContext(doc, { start, end: inside }, { linesBefore: 0, linesAfter: 0, maxChars: 1000 });
    expect(context.selectedText).toBe('launch ');
    expect(context.truncated).toBe(true);

    // A cursor there leaves nothing out.
    const cursor = captureContext(doc, { start: inside, end: inside }, { linesBefore: 0, linesAfter: 0, maxChars: 1000 });
    expect(cursor).toMatchObject({ selectedText: '', truncated: false });
  });

  it('marks every line of a selection that ends inside its last line', () => {
    const doc = openDocument(inventory);
    const selection = { start: positionOf(doc, 'def total'), end: rangeOf(doc, '    return sum').end };
    const context = captureContext(doc, selection, { linesBefore: 0, linesAfter: 1, maxChars: 1000 });
    expect(context.numbered.split('\n').slice(1)).toEqual(['11|>def total(items):', '12|>    return sum(item.price * item.quantity for item in items)', '13| ']);
  });

  it('orders a backwards selection and clamps one outside the document, as the editor would', () => {
    const doc = openDocument(inventory);
    const name = rangeOf(doc, 'name: str');
    const options = { linesBefore: 0, linesAfter: 0, maxChars: 1000 };
    expect(captureContext(doc, { start: name.end, end: name.start }, options)).toMatchObject({ selection: name, selectedText: 'name: str' });
    const across = { start: positionOf(doc, 'price'), end: positionOf(doc, 'name: str') };
    expect(captureContext(doc, { start: across.start, end: across.end }, options).selection).toEqual({ start: across.end, end: across.start });

    const lastLine = doc.lineCount - 1;
    const start = { line: 0, character: 0 };
    const end = { line: lastLine, character: 0 };
    expect(captureContext(doc, { start: { line: -3, character: 4 }, end: { line: 0, character: 4 } }, options).selection.start).toEqual(start);
    expect(captureContext(doc, { start: { line: 2, character: 0 }, end: { line: doc.lineCount, character: 7 } }, options).selection.end).toEqual(end);
    expect(captureContext(doc, { start: { line: 2, character: 0 }, end: { line: doc.lineCount + 1, character: 7 } }, options).selection.end).toEqual(end);
    const line = positionOf(doc, 'class Item').line;
    expect(captureContext(doc, { start: { line: Number.NaN, character: 3 }, end: { line, character: Number.NaN } }, options).selection).toEqual({ start: { line: 0, character: 3 }, end: { line, character: 0 } });
    expect(captureContext(doc, { start: { line, character: -4 }, end: { line: line + 0.7, character: 5.9 } }, options).selection).toEqual({ start: { line, character: 0 }, end: { line, character: 5 } });
    expect(captureContext(doc, { start: { line, character: 2 }, end: { line, character: 99 } }, options).selectedText).toBe('ass Item:');
  });

  it('takes a number of context lines that is not a whole one from 0 as its whole part, or none', () => {
    const doc = openDocument(inventory);
    const selection = rangeOf(doc, 'def total');
    for (const [linesBefore, linesAfter, first, last] of [
      [2.9, -1, 9, 11],
      [Number.NaN, Number.POSITIVE_INFINITY, 11, 11],
      [-0.5, 1.2, 11, 12],
    ] as const) {
      const context = captureContext(doc, selection, { linesBefore, linesAfter, maxChars: 10_000 });
      expect([context.windowStartLine + 1, context.windowEndLine + 1]).toEqual([first, last]);
    }
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

describe('the diagnostics of the window', () => {
  const doc = openDocument(inventory);
  // Lines 4-8: from `@dataclass` to `quantity: int = 0`.
  const selection = rangeOf(doc, 'name: str');
  const options = { linesBefore: 2, linesAfter: 2, maxChars: 10_000 };
  const at = (needle: string, message: string, extra: Partial<Diagnostic> = {}): Diagnostic => ({ range: rangeOf(doc, needle), message, ...extra });

  it('keeps those touching the window, even from outside it, and drops the rest', () => {
    const spanning = (from: string, to: string, message: string): Diagnostic => ({ range: { start: positionOf(doc, from), end: rangeOf(doc, to).end }, message, severity: 2 });
    const context = captureContext(doc, selection, {
      ...options,
      diagnostics: [
        at('dataclasses', 'Above the window.'),
        spanning('from dataclasses', '@dataclass', 'Ends on the first line.'),
        spanning('quantity', 'def total', 'Starts on the last line.'),
        at('def total', 'Below the window.'),
      ],
    });
    expect(context.diagnostics).toEqual(['line 1:1 warning Ends on the first line.', 'line 8:5 warning Starts on the last line.']);
  });

  it('orders them by line, then by column', () => {
    const context = captureContext(doc, selection, {
      ...options,
      diagnostics: [at('float', 'Third.'), at('price', 'Second.'), at('name: str', 'First.'), at('    price', 'Before the second.')],
    });
    expect(context.diagnostics).toEqual(['line 6:5 error First.', 'line 7:1 error Before the second.', 'line 7:5 error Second.', 'line 7:12 error Third.']);
  });

  it('names every severity, and shows an unknown one as an error', () => {
    const severities = [1, 2, 3, 4, 9] as const;
    const context = captureContext(doc, selection, {
      ...options,
      diagnostics: severities.map((severity, i) => ({ range: { start: { line: 3 + i, character: 0 }, end: { line: 3 + i, character: 1 } }, message: `Severity ${severity}.`, severity: severity as NonNullable<Diagnostic['severity']> })),
    });
    expect(context.diagnostics.map((line) => line.split(' ')[2])).toEqual(['error', 'warning', 'info', 'hint', 'error']);
  });

  it('tags them with source and code when there are any', () => {
    const context = captureContext(doc, selection, {
      ...options,
      diagnostics: [
        at('@dataclass', 'Code only.', { code: 'E302' }),
        at('class Item', 'Empty source and code.', { source: '', code: '' }),
        at('name: str', 'Code zero.', { source: 'mypy', code: 0 }),
      ],
    });
    expect(context.diagnostics).toEqual(['line 4:1 error [E302] Code only.', 'line 5:1 error Empty source and code.', 'line 6:5 error [mypy 0] Code zero.']);
  });

  it('puts a message on one line, from plain text or markdown, and cuts a very long one', () => {
    const long = `Type of "price" is partially unknown: ${'float | '.repeat(80)}None.`;
    const astral = `${'x'.repeat(499)}😀 and more`;
    const context = captureContext(doc, selection, {
      ...options,
      diagnostics: [
        at('@dataclass', '  Decorator\r\n    applied twice.  '),
        at('class Item', { kind: 'markdown', value: 'Prefer `slots=True`.' } as unknown as string),
        at('name: str', long),
        at('price', astral),
        at('quantity', 'y'.repeat(500)),
      ],
    });
    expect(context.diagnostics).toEqual([
      'line 4:1 error Decorator applied twice.',
      'line 5:1 error Prefer `slots=True`.',
      `line 6:5 error ${long.slice(0, 500)}...`,
      `line 7:5 error ${'x'.repeat(499)}...`,
      `line 8:5 error ${'y'.repeat(500)}`,
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

  it('prefers the innermost root whatever the order, and skips roots it cannot read', () => {
    expect(relativePathOf('file:///work/shop/packages/api/src/server.ts', ['/work/shop/packages/api', '/work/shop'])).toBe('src/server.ts');
    expect(relativePathOf('file:///work/shop/src/app.ts', ['file://server/share', '/work/shop'])).toBe('src/app.ts');
    expect(relativePathOf('file:///work/shop/src/app.ts', ['/'])).toBe('work/shop/src/app.ts');
  });

  it('names a file that is a root itself, or above a root, by its base name', () => {
    expect(relativePathOf('file:///work/shop/notes.md', ['/work/shop/notes.md'])).toBe('notes.md');
    expect(relativePathOf('file:///work/shop', ['/work/shop/packages'])).toBe('shop');
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
    expect(validateRange(doc, { start: { line: 4, character: 30 }, end: { line: 4, character: 5 } })).toBe('Range 4:30–4:5 ends before it starts.');
    expect(validateRange(doc, { start: { line: 4, character: 8 }, end: { line: 5, character: 2 } })).toBeUndefined();
    for (const position of [{ line: 1.5, character: 0 }, { line: 1, character: 0.5 }, { line: -1, character: 0 }, { line: 1, character: -2 }, { line: Number.NaN, character: 0 }]) {
      expect(validateRange(doc, { start: { line: 0, character: 0 }, end: position })).toBe(
        `Range 0:0–${position.line}:${position.character} is not a valid range: lines and characters are whole numbers from 0.`,
      );
    }
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
