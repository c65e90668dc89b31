import { describe, expect, it } from 'vitest';
import { EditJournal, mapThroughSpan } from '../../server/src/documents/edit-journal.js';
import type { ChangeSpan } from '../../server/src/documents/edit-journal.js';

/** The obvious journal: every step in an array, nothing dropped. */
class NaiveJournal {
  readonly steps: { from: number; to: number; spans: ChangeSpan[] }[] = [];
  since(version: number): ChangeSpan[] {
    const index = this.steps.findIndex((step) => step.from === version);
    return index < 0 ? [] : this.steps.slice(index).flatMap((step) => step.spans);
  }
}

describe('EditJournal', () => {
  it('keeps the newest steps within its limit while its rings wrap around and grow', () => {
    let state = 3;
    const random = (): number => {
      state = (state * 1664525 + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
    for (const limit of [1, 5, 37, 512]) {
      const journal = new EditJournal(10, { limit });
      const naive = new NaiveJournal();
      let version = 10;
      for (let step = 0; step < 3000; step++) {
        const spans = Array.from({ length: Math.floor(random() * 4) }, () => {
          const start = Math.floor(random() * 1000);
          return { start, end: start + Math.floor(random() * 5), insertedLength: Math.floor(random() * 5) };
        });
        const next = version + 1 + Math.floor(random() * 3);
        journal.record(version, next, spans);
        naive.steps.push({ from: version, to: next, spans });
        version = next;

        expect(journal.currentVersion).toBe(version);
        expect(journal.size).toBeLessThanOrEqual(limit);
        if (step % 11 !== 0) continue;
        const oldest = journal.oldestVersion;
        expect(journal.changesSince(oldest)).toEqual(naive.since(oldest));
        if (oldest > 10) expect(journal.changesSince(oldest - 1)).toBeUndefined();
        const recent = naive.steps.at(-2)?.from;
        if (recent !== undefined && recent >= oldest) expect(journal.changesSince(recent)).toEqual(naive.since(recent));
      }
    }
  });

  it('starts over when a step does not continue from the current version', () => {
    const journal = new EditJournal(1);
    journal.record(1, 2, [{ start: 0, end: 0, insertedLength: 1 }]);
    journal.record(5, 6, [{ start: 0, end: 0, insertedLength: 1 }]);
    expect(journal.oldestVersion).toBe(6);
    expect(journal.changesSince(1)).toBeUndefined();
    journal.record(6, 6, []);
    expect(journal.currentVersion).toBe(6);
    expect(journal.changesSince(6)).toEqual([]);
  });

  it('maps offsets at the edges of a replacement to their unchanged neighbours', () => {
    const replace: ChangeSpan = { start: 10, end: 14, insertedLength: 2 };
    expect(mapThroughSpan(9, replace, 'after')).toBe(9);
    expect(mapThroughSpan(10, replace, 'after')).toBe(10);
    expect(mapThroughSpan(12, replace, 'before')).toBe(10);
    expect(mapThroughSpan(12, replace, 'after')).toBe(12);
    expect(mapThroughSpan(14, replace, 'before')).toBe(12);
    expect(mapThroughSpan(20, replace, 'before')).toBe(18);
    const insert: ChangeSpan = { start: 10, end: 10, insertedLength: 3 };
    expect(mapThroughSpan(10, insert, 'before')).toBe(10);
    expect(mapThroughSpan(10, insert, 'after')).toBe(13);
  });
});
