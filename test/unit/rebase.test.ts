import { describe, expect, it } from 'vitest';
import type { Position } from 'vscode-languageserver-textdocument';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import { rebaseEdits, toTextEdits } from '../../server/src/documents/rebase.js';
import type { OffsetEdit } from '../../server/src/documents/rebase.js';
import type { TrackedDocument } from '../../server/src/documents/tracked-document.js';

const uri = 'file:///work/project/stats.py';

const stats = [
  'import statistics',
  '',
  'def summarize(values):',
  '    """Mean and spread of a list of numbers."""',
  '    mean = statistics.mean(values)',
  '    spread = statistics.stdev(values)',
  '    return mean, spread',
  '',
  'print(summarize([1, 2, 3, 4]))',
  '',
].join('\n');

function open(journalLimit?: number): { store: DocumentStore; doc: TrackedDocument } {
  const store = new DocumentStore(journalLimit === undefined ? {} : { journalLimit });
  store.open({ uri, languageId: 'python', version: 1, text: stats });
  return { store, doc: store.get(uri) as TrackedDocument };
}

function offsetOf(doc: TrackedDocument, needle: string): number {
  const offset = doc.text.indexOf(needle);
  if (offset < 0) throw new Error(`${JSON.stringify(needle)} not found`);
  return offset;
}

function positionOf(doc: TrackedDocument, needle: string): Position {
  return doc.positionAt(offsetOf(doc, needle));
}

/** Efrit's edit, computed against the text as it is now: replace `needle` with `newText`. */
function editReplacing(doc: TrackedDocument, needle: string, newText: string): OffsetEdit {
  const start = offsetOf(doc, needle);
  return { start, end: start + needle.length, newText };
}

/** The user types `text` at the start of `needle` (or replaces it, with `replace`). */
function userTypes(store: DocumentStore, doc: TrackedDocument, needle: string, text: string, replace = false): void {
  const start = positionOf(doc, needle);
  const end = replace ? doc.positionAt(doc.offsetAt(start) + needle.length) : start;
  store.change(uri, doc.version + 1, [{ range: { start, end }, text }]);
}

function apply(text: string, edits: readonly OffsetEdit[]): string {
  let out = text;
  for (const edit of [...edits].sort((a, b) => b.start - a.start)) out = out.slice(0, edit.start) + edit.newText + out.slice(edit.end);
  return out;
}

describe('rebaseEdits', () => {
  it('returns edits unchanged when the document has not changed', () => {
    const { doc } = open();
    const edits = [editReplacing(doc, 'statistics.stdev', 'statistics.pstdev')];
    expect(rebaseEdits(edits, doc.version, doc)).toEqual({ ok: true, edits, rebased: false });
  });

  it('shifts an edit when the user typed above it', () => {
    const { store, doc } = open();
    const base = doc.version;
    const edit = editReplacing(doc, 'statistics.stdev', 'statistics.pstdev');
    userTypes(store, doc, 'def summarize', '# Helpers for the weekly report.\n\n');

    const result = rebaseEdits([edit], base, doc);
    expect(result).toMatchObject({ ok: true, rebased: true });
    if (!result.ok) return;
    expect(apply(doc.text, result.edits)).toContain('    spread = statistics.pstdev(values)\n');
    expect(apply(doc.text, result.edits)).toContain('# Helpers for the weekly report.\n\ndef summarize');
  });

  it('leaves an edit in place when the user typed below it', () => {
    const { store, doc } = open();
    const base = doc.version;
    const edit = editReplacing(doc, 'statistics.mean', 'statistics.fmean');
    userTypes(store, doc, '4]', '5, ');

    const result = rebaseEdits([edit], base, doc);
    expect(result).toEqual({ ok: true, edits: [edit], rebased: true });
    expect(apply(doc.text, [edit])).toContain('mean = statistics.fmean(values)');
    expect(doc.text).toContain('[1, 2, 3, 5, 4]');
  });

  it('refuses an edit whose range the user changed meanwhile, naming the line', () => {
    const { store, doc } = open();
    const base = doc.version;
    const edit = editReplacing(doc, '    mean = statistics.mean(values)\n    spread = statistics.stdev(values)', '    mean, spread = _stats(values)');
    userTypes(store, doc, 'def summarize', '# Helpers\n');
    userTypes(store, doc, 'stdev', 'pstdev', true);

    const result = rebaseEdits([edit], base, doc);
    expect(result).toEqual({
      ok: false,
      reason: 'conflict',
      message:
        'The document changed at line 7 while Efrit was working; the edit overlaps your change, so it was not applied. Run the action again.',
    });
    expect(doc.lineText(6)).toContain('pstdev');
  });

  it('refuses an edit that merely touches the user\'s change', () => {
    const { store, doc } = open();
    const base = doc.version;
    const edit = editReplacing(doc, 'values)\n    spread', 'numbers)\n    spread');
    // The user types right after the replaced range.
    userTypes(store, doc, ' = statistics.stdev', ' ');
    expect(rebaseEdits([edit], base, doc)).toMatchObject({ ok: false, reason: 'conflict' });
  });

  it('refuses an insertion where the user inserted at the same offset, but not one a character away', () => {
    const { store, doc } = open();
    const base = doc.version;
    const at = offsetOf(doc, 'print(');
    const insertion: OffsetEdit = { start: at, end: at, newText: 'if __name__ == "__main__":\n    ' };
    userTypes(store, doc, 'print(', '# demo\n');
    expect(rebaseEdits([insertion], base, doc)).toMatchObject({ ok: false, reason: 'conflict' });

    const { store: store2, doc: doc2 } = open();
    const base2 = doc2.version;
    const insertionAtEnd: OffsetEdit = { start: offsetOf(doc2, '\n\nprint('), end: offsetOf(doc2, '\n\nprint('), newText: '  # (mean, stdev)' };
    userTypes(store2, doc2, 'print(', '# demo\n');
    const result = rebaseEdits([insertionAtEnd], base2, doc2);
    expect(result).toMatchObject({ ok: true, rebased: true });
    if (result.ok) expect(apply(doc2.text, result.edits)).toContain('return mean, spread  # (mean, stdev)\n\n# demo\nprint(');
  });

  it('refuses when the version is older than the journal remembers, or unknown', () => {
    const { store, doc } = open(3);
    const base = doc.version;
    const edit = editReplacing(doc, 'import statistics', 'import statistics as stats');
    for (let i = 0; i < 5; i++) userTypes(store, doc, '4]', ', 5');

    const result = rebaseEdits([edit], base, doc);
    expect(result).toMatchObject({ ok: false, reason: 'unknownVersion' });
    if (!result.ok) {
      expect(result.message).toContain('Run the action again.');
      expect(result.message).toContain(`version ${doc.journal.oldestVersion}`);
    }
    expect(rebaseEdits([edit], doc.version + 3, doc)).toMatchObject({ ok: false, reason: 'unknownVersion' });
  });

  it('rebases several edits of one action together, each by the changes before it', () => {
    const { store, doc } = open();
    const base = doc.version;
    const edits = [
      editReplacing(doc, 'import statistics', 'import statistics as st'),
      editReplacing(doc, 'statistics.mean', 'st.mean'),
      editReplacing(doc, 'statistics.stdev', 'st.stdev'),
    ];
    userTypes(store, doc, 'def summarize', '\n');
    userTypes(store, doc, '    return', '    # both floats\n');

    const result = rebaseEdits(edits, base, doc);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(apply(doc.text, result.edits)).toBe(
      stats
        .replace('import statistics', 'import statistics as st')
        .replace('statistics.mean', 'st.mean')
        .replace('statistics.stdev', 'st.stdev')
        .replace('def summarize', '\ndef summarize')
        .replace('    return', '    # both floats\n    return'),
    );
  });

  it('refuses malformed or overlapping edits instead of sending them to the editor', () => {
    const { doc } = open();
    expect(rebaseEdits([{ start: 10, end: 5, newText: '' }], doc.version, doc)).toMatchObject({ ok: false, reason: 'invalidEdit' });
    expect(rebaseEdits([{ start: 0, end: 5, newText: 'a' }, { start: 3, end: 8, newText: 'b' }], doc.version, doc)).toMatchObject({
      ok: false,
      reason: 'invalidEdit',
    });
    expect(rebaseEdits([{ start: 0, end: doc.text.length + 1, newText: '' }], doc.version, doc)).toMatchObject({ ok: false, reason: 'invalidEdit' });
  });

  it('refuses an edit whose range the user changed across its bottom edge, or across its top edge', () => {
    const { store, doc } = open();
    const base = doc.version;
    const edit = editReplacing(doc, 'statistics.mean(values)', 'statistics.fmean(values)');
    // The user selects from inside Efrit's range down into the next line and retypes it.
    const start = doc.positionAt(offsetOf(doc, 'mean(values)') + 'mean'.length);
    const end = doc.positionAt(offsetOf(doc, 'spread ='));
    store.change(uri, doc.version + 1, [{ range: { start, end }, text: '(values)\n    ' }]);
    expect(rebaseEdits([edit], base, doc)).toMatchObject({ ok: false, reason: 'conflict' });

    const { store: store2, doc: doc2 } = open();
    const base2 = doc2.version;
    const edit2 = editReplacing(doc2, 'statistics.mean(values)', 'statistics.fmean(values)');
    store2.change(uri, doc2.version + 1, [{ range: { start: positionOf(doc2, 'mean ='), end: positionOf(doc2, '.mean(') }, text: 'average = stats' }]);
    expect(rebaseEdits([edit2], base2, doc2)).toMatchObject({ ok: false, reason: 'conflict' });
  });

  it('shifts an edit past two changes above it and ignores two below it', () => {
    const { store, doc } = open();
    const base = doc.version;
    const edit = editReplacing(doc, 'statistics.stdev', 'statistics.pstdev');
    userTypes(store, doc, 'import statistics', '"""Summary statistics."""\n');
    userTypes(store, doc, '    mean =', '    values = sorted(values)\n');
    userTypes(store, doc, '    return', '    # population spread\n');
    userTypes(store, doc, '4]', '5, ');

    const result = rebaseEdits([edit], base, doc);
    expect(result).toMatchObject({ ok: true, rebased: true });
    if (!result.ok) return;
    expect(apply(doc.text, result.edits)).toBe(
      [
        '"""Summary statistics."""',
        'import statistics',
        '',
        'def summarize(values):',
        '    """Mean and spread of a list of numbers."""',
        '    values = sorted(values)',
        '    mean = statistics.mean(values)',
        '    spread = statistics.pstdev(values)',
        '    # population spread',
        '    return mean, spread',
        '',
        'print(summarize([1, 2, 3, 5, 4]))',
        '',
      ].join('\n'),
    );
  });

  it('names the line where the conflicting change is now, after the user typed more above it', () => {
    const { store, doc } = open();
    const base = doc.version;
    const edit = editReplacing(doc, 'statistics.stdev', 'statistics.pstdev');
    userTypes(store, doc, 'stdev', 'p');
    userTypes(store, doc, 'def summarize', '# Helpers\n# for the report\n');

    expect(rebaseEdits([edit], base, doc)).toEqual({
      ok: false,
      reason: 'conflict',
      message: 'The document changed at line 8 while Efrit was working; the edit overlaps your change, so it was not applied. Run the action again.',
    });
    expect(doc.lineText(7)).toContain('statistics.pstdev');
  });

  it('names the start of a later paste that swallowed the conflicting change', () => {
    const { store, doc } = open();
    const base = doc.version;
    const edit = editReplacing(doc, 'statistics.stdev', 'statistics.pstdev');
    userTypes(store, doc, 'stdev', 'p');
    // Then the user selects the whole body and pastes a longer one over it.
    const start = positionOf(doc, '    mean =');
    const end = positionOf(doc, '\n\nprint(');
    store.change(uri, doc.version + 1, [
      { range: { start, end }, text: '    mean = statistics.fmean(values)\n    spread = statistics.pstdev(values, mean)\n    return (\n        mean,\n        spread,\n    )' },
    ]);

    expect(rebaseEdits([edit], base, doc)).toMatchObject({
      ok: false,
      reason: 'conflict',
      message: expect.stringContaining('changed at line 5 '),
    });
  });

  it('refuses an edit made before the editor went back to an earlier version, even when the version number matches again', () => {
    const { store, doc } = open();
    const base = doc.version;
    const epoch = doc.journal.epoch;
    const edit = editReplacing(doc, 'statistics.stdev', 'statistics.pstdev');
    // The client reloads the file from disk and starts counting at the same version again.
    store.change(uri, base, [{ text: 'import statistics\n\nprint(statistics.stdev([1, 2]))\n' }]);
    expect(doc.version).toBe(base);

    expect(rebaseEdits([edit], base, doc, epoch)).toEqual({
      ok: false,
      reason: 'unknownVersion',
      message: 'The editor went back to an earlier version of the document while Efrit was working, so the edit was not applied. Run the action again.',
    });
  });

  it('refuses an edit made for a version the editor has not reached, saying both versions', () => {
    const { doc } = open();
    const edit = editReplacing(doc, 'statistics.stdev', 'statistics.pstdev');
    expect(rebaseEdits([edit], doc.version + 2, doc)).toEqual({
      ok: false,
      reason: 'unknownVersion',
      message: "Efrit's edit was made for version 3 of the document, but the editor is at version 1, so it was not applied. Run the action again.",
    });
  });

  it('hands back an array of its own, so the caller may reorder it without touching the edits it passed', () => {
    const { doc } = open();
    const edits = [editReplacing(doc, 'import statistics', 'import statistics as st'), editReplacing(doc, 'statistics.mean', 'st.mean')];
    const result = rebaseEdits(edits, doc.version, doc);
    if (!result.ok) throw new Error(result.message);
    result.edits.reverse();
    expect(edits.map((edit) => edit.newText)).toEqual(['import statistics as st', 'st.mean']);
  });

  it('accepts edits given out of document order and keeps their order', () => {
    const { store, doc } = open();
    const base = doc.version;
    const edits = [
      editReplacing(doc, 'statistics.stdev', 'st.stdev'),
      editReplacing(doc, 'statistics.mean', 'st.mean'),
      editReplacing(doc, 'import statistics', 'import statistics as st'),
    ];
    userTypes(store, doc, '    spread', '    # sample spread\n');

    const result = rebaseEdits(edits, base, doc);
    expect(result).toMatchObject({ ok: true, rebased: true });
    if (!result.ok) return;
    expect(result.edits.map((edit) => edit.newText)).toEqual(['st.stdev', 'st.mean', 'import statistics as st']);
    expect(apply(doc.text, result.edits)).toContain('import statistics as st\n');
    expect(apply(doc.text, result.edits)).toContain('    mean = st.mean(values)\n    # sample spread\n    spread = st.stdev(values)\n');
  });

  it('accepts edits that only touch each other: adjacent replacements, and an insertion at either edge of a replacement', () => {
    const { doc } = open();
    const call = editReplacing(doc, 'statistics.mean', 'statistics.fmean');
    const args = editReplacing(doc, '(values)\n    spread', '(list(values))\n    spread');
    const before: OffsetEdit = { start: call.start, end: call.start, newText: 'float(' };
    const after: OffsetEdit = { start: args.end, end: args.end, newText: ' ' };
    for (const edits of [
      [call, args],
      [args, call],
      [before, call],
      [call, before],
      [args, after],
      [after, args],
    ]) {
      expect(rebaseEdits(edits, doc.version, doc)).toEqual({ ok: true, edits, rebased: false });
    }
  });

  it('refuses overlapping edits in either order, saying where they are', () => {
    const { doc } = open();
    const mean = editReplacing(doc, 'statistics.mean(values)', 'st.fmean(values)');
    const values = editReplacing(doc, 'mean(values)', 'mean(list(values))');
    const message = `Efrit produced overlapping edits (${mean.start}–${mean.end} and ${values.start}–${values.end}), so they were not applied. Run the action again.`;
    expect(rebaseEdits([mean, values], doc.version, doc)).toEqual({ ok: false, reason: 'invalidEdit', message });
    expect(rebaseEdits([values, mean], doc.version, doc)).toEqual({ ok: false, reason: 'invalidEdit', message });
  });

  it('refuses an edit whose range is not a pair of whole offsets in order, saying which range', () => {
    const { doc } = open();
    const fine = editReplacing(doc, 'statistics.mean', 'statistics.fmean');
    for (const [start, end] of [
      [-1, 4],
      [1.5, 4],
      [1, 4.5],
      [Number.NaN, 4],
      [1, Number.NaN],
      [10, 5],
    ] as const) {
      expect(rebaseEdits([fine, { start, end, newText: 'x' }], doc.version, doc)).toEqual({
        ok: false,
        reason: 'invalidEdit',
        message: `Efrit produced an edit with an invalid range (${start}–${end}), so it was not applied. Run the action again.`,
      });
    }
  });

  it('refuses an edit past the end of the text, saying how long the text is', () => {
    const { doc } = open();
    const length = doc.text.length;
    const lastLine = editReplacing(doc, 'print(summarize([1, 2, 3, 4]))\n', 'print(*summarize([1, 2, 3, 4]))\n');
    expect(rebaseEdits([{ ...lastLine, end: length + 2 }], doc.version, doc)).toEqual({
      ok: false,
      reason: 'invalidEdit',
      message: `Efrit produced an edit past the end of the document (offset ${length + 2} of ${length}), so it was not applied. Run the action again.`,
    });
    expect(rebaseEdits([lastLine], doc.version, doc)).toMatchObject({ ok: true });
  });

  it('turns offset edits into LSP text edits', () => {
    const { doc } = open();
    const edit = editReplacing(doc, 'stdev', 'pstdev');
    expect(toTextEdits([edit], doc)).toEqual([
      { range: { start: positionOf(doc, 'stdev'), end: { line: 5, character: positionOf(doc, 'stdev').character + 5 } }, newText: 'pstdev' },
    ]);
  });

  it('commutes with the user\'s changes whenever it does not refuse (random edits)', () => {
    let state = 11;
    const random = (): number => {
      state = (state * 1664525 + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
    let accepted = 0;
    for (let round = 0; round < 200; round++) {
      const { store, doc } = open();
      const base = doc.version;
      const baseText = doc.text;
      const at = Math.floor(random() * baseText.length);
      const edit: OffsetEdit = { start: at, end: Math.min(baseText.length, at + Math.floor(random() * 4)), newText: 'EFRIT' };
      for (let i = 0; i < 3; i++) {
        const start = Math.floor(random() * doc.text.length);
        const end = Math.min(doc.text.length, start + Math.floor(random() * 3));
        store.change(uri, doc.version + 1, [{ range: { start: doc.positionAt(start), end: doc.positionAt(end) }, text: 'u' }]);
      }
      const result = rebaseEdits([edit], base, doc);
      if (!result.ok) {
        expect(result.reason).toBe('conflict');
        continue;
      }
      accepted++;
      // Replaying the user's changes on top of Efrit's edit must give the same text.
      const { store: replay, doc: replayed } = open();
      replay.change(uri, 2, [{ range: { start: replayed.positionAt(edit.start), end: replayed.positionAt(edit.end) }, text: edit.newText }]);
      // Each span is in the coordinates of the user's text before it, where
      // Efrit's range sits at [editStart, editEnd); accepted means every span
      // lies wholly before or wholly after it.
      const editDelta = edit.newText.length - (edit.end - edit.start);
      let editStart = edit.start;
      let editEnd = edit.end;
      let version = 2;
      for (const span of doc.journal.changesSince(base) ?? []) {
        const shift = span.start > editEnd ? editDelta : 0;
        replay.change(uri, ++version, [
          {
            range: { start: replayed.positionAt(span.start + shift), end: replayed.positionAt(span.end + shift) },
            text: 'u'.repeat(span.insertedLength),
          },
        ]);
        if (span.end < editStart) {
          const delta = span.insertedLength - (span.end - span.start);
          editStart += delta;
          editEnd += delta;
        }
      }
      expect(apply(doc.text, result.edits)).toBe(replayed.text);
    }
    expect(accepted).toBeGreaterThan(100);
  });
});
