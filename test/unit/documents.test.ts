import { describe, expect, it } from 'vitest';
import type { Position, Range } from 'vscode-languageserver-textdocument';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import type { TrackedDocument } from '../../server/src/documents/tracked-document.js';
import type { Logger } from '../../server/src/common/logger.js';

const uri = 'file:///work/project/src/greeter.ts';

const greeter = [
  "import { readFile } from 'node:fs/promises';",
  '',
  'export class Greeter {',
  '  constructor(private readonly name: string) {}',
  '',
  '  greet(): string {',
  '    return `Hello, ${this.name}!`;',
  '  }',
  '}',
  '',
].join('\n');

function positionOf(doc: TrackedDocument, needle: string, occurrence = 0): Position {
  let offset = -1;
  for (let i = 0; i <= occurrence; i++) {
    offset = doc.text.indexOf(needle, offset + 1);
    if (offset < 0) throw new Error(`${JSON.stringify(needle)} not found`);
  }
  return doc.positionAt(offset);
}

function rangeOf(doc: TrackedDocument, needle: string): Range {
  const start = positionOf(doc, needle);
  return { start, end: doc.positionAt(doc.offsetAt(start) + needle.length) };
}

function openGreeter(store = new DocumentStore()): { store: DocumentStore; doc: TrackedDocument } {
  expect(store.open({ uri, languageId: 'typescript', version: 1, text: greeter })).toEqual([]);
  const doc = store.get(uri);
  if (doc === undefined) throw new Error('not open');
  return { store, doc };
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (message: string): void => {
    lines.push(message);
  };
  return { lines, error: push, warn: push, info: push, debug: push };
}

describe('DocumentStore', () => {
  it('opens, changes and closes a document', () => {
    const { store, doc } = openGreeter();
    expect(store.size).toBe(1);
    expect(store.uris()).toEqual([uri]);
    expect(doc.languageId).toBe('typescript');
    expect(doc.lineCount).toBe(10);
    expect(doc.lineText(2)).toBe('export class Greeter {');
    expect(doc.lineStartOffset(2)).toBe(greeter.indexOf('export'));
    expect(doc.eol).toBe('\n');

    const problems = store.change(uri, 2, [{ range: rangeOf(doc, 'Hello'), text: 'Welcome' }]);
    expect(problems).toEqual([]);
    expect(doc.version).toBe(2);
    expect(doc.text).toContain('return `Welcome, ${this.name}!`;');
    expect(store.totalChars()).toBe(greeter.length + 2);

    const closed: string[] = [];
    store.onDidClose((closedUri) => closed.push(closedUri));
    expect(store.close(uri)).toBe(true);
    expect(store.close(uri)).toBe(false);
    expect(closed).toEqual([uri]);
    expect(store.get(uri)).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('applies several incremental changes in order, each against the text the previous one left', () => {
    const { store, doc } = openGreeter();
    const greet = rangeOf(doc, '  greet(): string {\n    return `Hello, ${this.name}!`;\n  }');
    store.change(uri, 2, [
      // Replace the whole method (three lines) by a one-liner...
      { range: greet, text: '  greet = (): string => `Hi, ${this.name}`;' },
      // ...then, in the new coordinates, add a field on the line after the class opens.
      { range: { start: { line: 3, character: 0 }, end: { line: 3, character: 0 } }, text: '  count = 0;\n' },
    ]);
    expect(doc.text).toBe(
      [
        "import { readFile } from 'node:fs/promises';",
        '',
        'export class Greeter {',
        '  count = 0;',
        '  constructor(private readonly name: string) {}',
        '',
        '  greet = (): string => `Hi, ${this.name}`;',
        '}',
        '',
      ].join('\n'),
    );
    expect(doc.lineCount).toBe(9);
    expect(doc.journal.changesSince(1)).toHaveLength(2);
  });

  it('ignores changes for a document that is not open', () => {
    const logger = recordingLogger();
    const store = new DocumentStore({ logger });
    const problems = store.change('file:///nowhere.ts', 3, [{ text: 'x' }]);
    expect(problems.map((p) => p.kind)).toEqual(['unknownDocument']);
    expect(store.size).toBe(0);
    expect(logger.lines.join('\n')).toContain('file:///nowhere.ts');
  });

  it('applies changes whose version goes backwards, but forgets older versions', () => {
    const { store, doc } = openGreeter();
    store.change(uri, 5, [{ range: rangeOf(doc, 'Hello'), text: 'Hi' }]);
    expect(doc.journal.covers(1)).toBe(true);

    const problems = store.change(uri, 4, [{ range: rangeOf(doc, 'Hi'), text: 'Hey' }]);
    expect(problems.map((p) => p.kind)).toEqual(['versionNotIncreasing']);
    expect(doc.text).toContain('`Hey, ${this.name}!`');
    expect(doc.version).toBe(4);
    expect(doc.journal.covers(1)).toBe(false);
    expect(doc.journal.changesSince(5)).toBeUndefined();
    expect(doc.journal.changesSince(4)).toEqual([]);

    // The same version again is not an increase either.
    expect(store.change(uri, 4, []).map((p) => p.kind)).toEqual(['versionNotIncreasing']);
  });

  it('clamps a range outside the text, as VS Code does, and still applies it', () => {
    const { store, doc } = openGreeter();
    const closeBrace = { line: positionOf(doc, '\n}\n').line + 1, character: 0 };
    expect(doc.lineText(closeBrace.line)).toBe('}');

    // Past the end of the `}` line: clamped to the end of that line.
    let problems = store.change(uri, 2, [
      { range: { start: { line: closeBrace.line, character: 1 }, end: { line: closeBrace.line, character: 40 } }, text: ' // Greeter' },
    ]);
    expect(problems.map((p) => p.kind)).toEqual(['rangeOutOfBounds']);
    expect(doc.lineText(closeBrace.line)).toBe('} // Greeter');
    expect(doc.lineText(closeBrace.line + 1)).toBe('');

    // Lines past the end: clamped to the end of the document.
    problems = store.change(uri, 3, [{ range: { start: { line: 90, character: 0 }, end: { line: 99, character: 5 } }, text: 'export default Greeter;\n' }]);
    expect(problems.map((p) => p.kind)).toEqual(['rangeOutOfBounds']);
    expect(doc.text.endsWith('} // Greeter\nexport default Greeter;\n')).toBe(true);
    expect(doc.journal.changesSince(1)).toHaveLength(2);

    // (lineCount, 0) is the end of the document: valid, no problem.
    problems = store.change(uri, 4, [{ range: { start: { line: doc.lineCount, character: 0 }, end: { line: doc.lineCount, character: 0 } }, text: '// end\n' }]);
    expect(problems).toEqual([]);
    expect(doc.text.endsWith('export default Greeter;\n// end\n')).toBe(true);

    // A negative position is clamped to the start.
    problems = store.change(uri, 5, [{ range: { start: { line: -1, character: 0 }, end: { line: 0, character: 0 } }, text: '// start\n' }]);
    expect(problems.map((p) => p.kind)).toEqual(['rangeOutOfBounds']);
    expect(doc.lineText(0)).toBe('// start');
  });

  it('skips a malformed change without throwing, and still moves to the new version', () => {
    const { store, doc } = openGreeter();
    const problems = store.change(uri, 2, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } } as never]);
    expect(problems.map((p) => p.kind)).toEqual(['malformedChange']);
    expect(doc.text).toBe(greeter);
    expect(doc.version).toBe(2);
    expect(store.change(uri, 3, [{ range: { start: { line: 'one' }, end: null }, text: '#' } as never]).map((p) => p.kind)).toEqual([
      'malformedChange',
    ]);
    expect(store.change(uri, 4, [null as never, { range: null, text: 'print("reloaded")\n' } as never])).toHaveLength(1);
    expect(doc.text).toBe('print("reloaded")\n');
  });

  it('keeps CRLF documents intact and reports their line break', () => {
    const store = new DocumentStore();
    const text = 'def area(r):\r\n    return 3.14159 * r * r\r\n\r\nprint(area(2))\r\n';
    store.open({ uri: 'file:///work/project/area.py', languageId: 'python', version: 1, text });
    const doc = store.get('file:///work/project/area.py') as TrackedDocument;
    expect(doc.eol).toBe('\r\n');
    expect(doc.lineCount).toBe(5);
    expect(doc.lineText(1)).toBe('    return 3.14159 * r * r');
    expect(doc.lineEndOffset(1)).toBe(text.indexOf('\r\n\r\n'));

    store.change(doc.uri, 2, [{ range: rangeOf(doc, '3.14159'), text: 'math.pi' }]);
    store.change(doc.uri, 3, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'import math\r\n\r\n' }]);
    expect(doc.text).toBe('import math\r\n\r\ndef area(r):\r\n    return math.pi * r * r\r\n\r\nprint(area(2))\r\n');
    expect(doc.lineText(3)).toBe('    return math.pi * r * r');
    expect(doc.lineCount).toBe(7);
  });

  it('sniffs the line break once the document has one', () => {
    const store = new DocumentStore();
    store.open({ uri: 'untitled:Untitled-1', languageId: 'plaintext', version: 1, text: 'notes' });
    const doc = store.get('untitled:Untitled-1') as TrackedDocument;
    expect(doc.eol).toBe('\n');
    store.change(doc.uri, 2, [{ range: { start: { line: 0, character: 5 }, end: { line: 0, character: 5 } }, text: '\r\n- milk' }]);
    expect(doc.eol).toBe('\r\n');
  });

  it('takes the line break from the text as it is now, after a change replaced every line break', () => {
    const store = new DocumentStore();
    const crlf = 'def area(r):\r\n    return 3.14159 * r * r\r\n';
    store.open({ uri: 'file:///work/project/area.py', languageId: 'python', version: 1, text: crlf });
    const doc = store.get('file:///work/project/area.py') as TrackedDocument;
    expect(doc.eol).toBe('\r\n');
    // Select all, paste the same code with Unix line breaks: an incremental change, not a full-text one.
    const all = { start: { line: 0, character: 0 }, end: { line: doc.lineCount - 1, character: 0 } };
    store.change(doc.uri, 2, [{ range: all, text: 'def area(r):\n    return 3.14159 * r * r\n' }]);
    expect(doc.text).not.toContain('\r');
    expect(doc.eol).toBe('\n');
    store.change(doc.uri, 3, [{ range: { start: { line: 0, character: 0 }, end: { line: 2, character: 0 } }, text: 'import math\r\nPI = math.pi\r\n' }]);
    expect(doc.eol).toBe('\r\n');
  });

  it('replaces a document opened twice and tells close listeners', () => {
    const { store } = openGreeter();
    const closed: string[] = [];
    store.onDidClose((closedUri) => closed.push(closedUri));
    const problems = store.open({ uri, languageId: 'typescript', version: 7, text: 'export {};\n' });
    expect(problems.map((p) => p.kind)).toEqual(['alreadyOpen']);
    expect(closed).toEqual([uri]);
    expect(store.get(uri)?.text).toBe('export {};\n');
    expect(store.get(uri)?.version).toBe(7);
    expect(store.size).toBe(1);
  });

  it('keeps going when a close listener throws, and can unsubscribe', () => {
    const logger = recordingLogger();
    const { store } = openGreeter(new DocumentStore({ logger }));
    const heard: string[] = [];
    store.onDidClose(() => {
      throw new Error('listener broke');
    });
    const unsubscribe = store.onDidClose((closedUri) => heard.push(closedUri));
    expect(store.close(uri)).toBe(true);
    expect(heard).toEqual([uri]);
    expect(logger.lines.some((line) => line.includes('close listener'))).toBe(true);

    unsubscribe();
    openGreeter(store);
    store.close(uri);
    expect(heard).toEqual([uri]);
  });

  it('journals a full-text change as the one span between common prefix and suffix', () => {
    const { store, doc } = openGreeter();
    const edited = greeter.replace('Hello', 'Good morning');
    store.change(uri, 2, [{ text: edited }]);
    expect(doc.text).toBe(edited);
    const start = greeter.indexOf('Hello');
    expect(doc.journal.changesSince(1)).toEqual([{ start, end: start + 'Hello'.length, insertedLength: 'Good morning'.length }]);

    // The same text again (some clients send it on save) changes nothing.
    store.change(uri, 3, [{ text: edited }]);
    expect(doc.journal.changesSince(2)).toEqual([{ start: edited.length, end: edited.length, insertedLength: 0 }]);
    expect(doc.journal.changedRegionsSince(2)).toEqual([{ start: edited.length, end: edited.length, oldStart: edited.length, oldEnd: edited.length }]);
  });
});

describe('the edit journal of a document', () => {
  it('answers changesSince, mapOffset and changedRegionsSince after several edits', () => {
    const { store, doc } = openGreeter();
    const original = doc.text;
    const nameOffset = original.indexOf('this.name');
    const importEnd = original.indexOf(';') + 1;

    // v2: rename the parameter in the constructor (above `this.name`).
    store.change(uri, 2, [{ range: rangeOf(doc, 'name: string'), text: 'who: string' }]);
    // v3: add a blank line + comment at the top.
    store.change(uri, 3, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '// Greets people.\n' }]);
    // v4: use the new name.
    store.change(uri, 4, [{ range: rangeOf(doc, 'this.name'), text: 'this.who' }]);

    expect(doc.journal.changesSince(4)).toEqual([]);
    expect(doc.journal.changesSince(3)).toEqual([{ start: doc.text.indexOf('this.who'), end: doc.text.indexOf('this.who') + 9, insertedLength: 8 }]);
    expect(doc.journal.changesSince(1)).toHaveLength(3);
    expect(doc.journal.changesSince(0)).toBeUndefined();
    expect(doc.journal.changesSince(9)).toBeUndefined();

    // The end of the import line moved down by the comment only.
    expect(doc.journal.mapOffset(importEnd, 1, 'before')).toBe(importEnd + '// Greets people.\n'.length);
    expect(doc.text.slice(0, doc.journal.mapOffset(importEnd, 1, 'after'))).toMatch(/promises';$/);
    // Inside the replaced `this.name`: 'before' sticks to its start, 'after' to its end.
    const nowAt = doc.text.indexOf('this.who');
    expect(doc.journal.mapOffset(nameOffset + 6, 1, 'before')).toBe(nowAt);
    expect(doc.journal.mapOffset(nameOffset + 6, 1, 'after')).toBe(nowAt + 'this.who'.length);
    expect(doc.journal.mapOffset(0, 2, 'before')).toBe(0);
    expect(doc.journal.mapOffset(0, 2, 'after')).toBe('// Greets people.\n'.length);

    const regions = doc.journal.changedRegionsSince(1) ?? [];
    expect(regions.map((r) => doc.text.slice(r.start, r.end))).toEqual(['// Greets people.\n', 'who: string', 'this.who']);
    expect(regions.map((r) => original.slice(r.oldStart, r.oldEnd))).toEqual(['', 'name: string', 'this.name']);
    expect(doc.journal.changedRegionsSince(4)).toEqual([]);
  });

  it('merges changes that touch into one region, such as typing a word', () => {
    const { store, doc } = openGreeter();
    const at = doc.offsetAt(positionOf(doc, '!`'));
    let version = 1;
    for (const ch of ' and welcome') {
      const position = doc.positionAt(at + version - 1);
      store.change(uri, ++version, [{ range: { start: position, end: position }, text: ch }]);
    }
    expect(doc.text).toContain('Hello, ${this.name} and welcome!');
    expect(doc.journal.changedRegionsSince(1)).toEqual([{ start: at, end: at + ' and welcome'.length, oldStart: at, oldEnd: at }]);
  });

  it('keeps at most journalLimit entries and knows the oldest version it can answer for', () => {
    const store = new DocumentStore({ journalLimit: 4 });
    const { doc } = openGreeter(store);
    for (let version = 2; version <= 7; version++) {
      store.change(uri, version, [{ range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, text: '#' }]);
    }
    expect(doc.journal.oldestVersion).toBe(3);
    expect(doc.journal.changesSince(2)).toBeUndefined();
    expect(doc.journal.changesSince(3)).toHaveLength(4);
    expect(doc.lineText(1)).toBe('######');

    // A step larger than the whole limit cannot be kept at all.
    const many = Array.from({ length: 5 }, () => ({ range: { start: { line: 1, character: 0 }, end: { line: 1, character: 0 } }, text: '!' }));
    store.change(uri, 8, many);
    expect(doc.journal.oldestVersion).toBe(8);
    expect(doc.journal.changesSince(7)).toBeUndefined();
  });

  it('does not answer for a version it never saw', () => {
    const { store, doc } = openGreeter();
    store.change(uri, 5, [{ range: rangeOf(doc, 'Hello'), text: 'Hi' }]);
    store.change(uri, 9, [{ range: rangeOf(doc, 'Hi'), text: 'Hey' }]);
    expect(doc.journal.changesSince(5)).toHaveLength(1);
    expect(doc.journal.changesSince(7)).toBeUndefined();
  });

  it('agrees with the text after many random edits (regions reproduce the new text from the old)', () => {
    const random = seededRandom(7);
    const { store, doc } = openGreeter();
    const snapshots = new Map<number, string>([[1, doc.text]]);
    for (let version = 2; version <= 120; version++) {
      const changes = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
        const length = doc.text.length;
        const a = Math.floor(random() * (length + 1));
        const b = Math.min(length, a + Math.floor(random() * 6));
        const text = ['', 'x', 'let y = 1;\n', '\n', '()'][Math.floor(random() * 5)] as string;
        return { a, b, text };
      });
      // Offsets are drawn against the current text; applied one by one.
      for (const { a, b, text } of changes) {
        const length = doc.text.length;
        const start = doc.positionAt(Math.min(a, length));
        const end = doc.positionAt(Math.min(b, length));
        store.change(uri, version, [{ range: { start, end }, text }]);
        version++;
      }
      version--;
      snapshots.set(version, doc.text);
    }
    for (const [version, old] of snapshots) {
      const regions = doc.journal.changedRegionsSince(version);
      expect(regions).toBeDefined();
      let rebuilt = '';
      let oldCursor = 0;
      for (const region of regions ?? []) {
        rebuilt += old.slice(oldCursor, region.oldStart) + doc.text.slice(region.start, region.end);
        oldCursor = region.oldEnd;
      }
      rebuilt += old.slice(oldCursor);
      expect(rebuilt).toBe(doc.text);
    }
  });
});

function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}
