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
