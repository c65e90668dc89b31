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

/** A ranged change in the store's terms, found by text: replace `needle` in `text` with `replacement`. */
function replacing(text: string, needle: string, replacement: string, from = 0): ChangeSpan {
  const start = text.indexOf(needle, from);
  if (start < 0) throw new Error(`${JSON.stringify(needle)} not found`);
  return { start, end: start + needle.length, insertedLength: replacement.length };
}

const handler = ['export function handle(request: Request): Response {', '  const user = request.user;', '  return new Response(user.name);', '}', ''].join('\n');

describe('EditJournal steps', () => {
  it('starts over, counting a new epoch, when a step does not move forward', () => {
    const journal = new EditJournal(1);
    expect(journal.epoch).toBe(0);
    journal.record(1, 2, [replacing(handler, 'user', 'account')]);
    expect(journal.epoch).toBe(0);

    journal.record(2, 2, [replacing(handler, 'name', 'displayName')]);
    expect(journal.epoch).toBe(1);
    expect(journal.oldestVersion).toBe(2);
    expect(journal.changesSince(1)).toBeUndefined();

    journal.record(2, 1, [replacing(handler, 'name', 'id')]);
    expect(journal.epoch).toBe(2);
    expect(journal.currentVersion).toBe(1);
    expect(journal.oldestVersion).toBe(1);
    expect(journal.changesSince(2)).toBeUndefined();
    journal.reset(1);
    expect(journal.epoch).toBe(3);
  });

  it('keeps a step with exactly as many spans as its limit, but not one with more', () => {
    const journal = new EditJournal(1, { limit: 3 });
    // A rename of `user` at its three places, in one didChange.
    const rename = [replacing(handler, 'user', 'caller'), replacing(handler, 'user', 'caller', 40), replacing(handler, 'user.', 'caller.')];
    journal.record(1, 2, rename);
    expect(journal.changesSince(1)).toEqual(rename);
    expect(journal.epoch).toBe(0);

    journal.record(2, 3, [...rename, replacing(handler, 'name', 'displayName')]);
    expect(journal.epoch).toBe(1);
    expect(journal.oldestVersion).toBe(3);
    expect(journal.size).toBe(0);
  });

  it('keeps only its limit of steps when the changes carry no spans, so version bumps alone cannot grow it', () => {
    const journal = new EditJournal(1, { limit: 2 });
    for (let version = 1; version < 6; version++) journal.record(version, version + 1, []);
    expect(journal.oldestVersion).toBe(4);
    expect(journal.changesSince(4)).toEqual([]);
    expect(journal.covers(3)).toBe(false);
  });

  it('with a limit of 0 keeps nothing, and only the current version is answered for', () => {
    const journal = new EditJournal(1, { limit: 0 });
    journal.record(1, 2, []);
    journal.record(2, 3, [replacing(handler, 'user', 'account')]);
    expect(journal.currentVersion).toBe(3);
    expect(journal.oldestVersion).toBe(3);
    expect(journal.covers(2)).toBe(false);
    expect(journal.changesSince(3)).toEqual([]);
    expect(journal.size).toBe(0);
  });
});

describe('EditJournal queries', () => {
  it('answers nothing, rather than an unchanged offset or no regions, for a version it does not cover', () => {
    const journal = new EditJournal(4);
    journal.record(4, 5, [replacing(handler, 'Response(user.name)', 'Response(user.name ?? "")')]);
    for (const version of [3, 6]) {
      expect(journal.covers(version)).toBe(false);
      expect(journal.mapOffset(10, version, 'before')).toBeUndefined();
      expect(journal.changedRegionsSince(version)).toBeUndefined();
    }
    expect(journal.mapOffset(10, 4, 'before')).toBe(10);
  });

  it('maps an offset through the kept spans only, not through a slot its ring reused', () => {
    // A ring of two: the third keystroke reuses the first one's slot.
    const journal = new EditJournal(1, { limit: 2 });
    let text = handler;
    const type = (version: number, needle: string, replacement: string): void => {
      const span = replacing(text, needle, replacement);
      journal.record(version, version + 1, [span]);
      text = text.slice(0, span.start) + replacement + text.slice(span.end);
    };
    type(1, 'export ', 'export async ');
    type(2, 'export ', '/** Answers one request. */\nexport ');
    type(3, 'new Response(', 'Response.json(');
    const returnAt = text.indexOf('  return');
    expect(journal.mapOffset(returnAt, 4, 'before')).toBe(returnAt);
    expect(journal.mapOffset(returnAt, 3, 'before')).toBe(returnAt);
  });

  it('merges a change made right before an earlier one into the same region', () => {
    const journal = new EditJournal(1);
    const user = handler.indexOf('user.name');
    // The user turns `user.name` into a greeting, then goes back and types a tag right before it.
    journal.record(1, 2, [replacing(handler, 'user.name', '`Hi ${user.name}`')]);
    journal.record(2, 3, [{ start: user, end: user, insertedLength: "'<p>' + ".length }]);
    expect(journal.changedRegionsSince(1)).toEqual([
      { start: user, end: user + "'<p>' + `Hi ${user.name}`".length, oldStart: user, oldEnd: user + 'user.name'.length },
    ]);
  });
});

describe('EditJournal memory', () => {
  it('costs under a kilobyte for a document that was barely edited, even by one change at sixteen places', () => {
    const typed = new EditJournal(1);
    for (let version = 1; version < 4; version++) typed.record(version, version + 1, [{ start: 30 + version, end: 30 + version, insertedLength: 1 }]);
    expect(typed.retainedBytes).toBeGreaterThan(0);
    expect(typed.retainedBytes).toBeLessThan(1024);

    const renamed = new EditJournal(1);
    renamed.record(1, 2, Array.from({ length: 16 }, (_, i) => ({ start: i * 40, end: i * 40 + 4, insertedLength: 7 })));
    expect(renamed.changesSince(1)).toHaveLength(16);
    expect(renamed.retainedBytes).toBeLessThan(1024);
  });

  it('holds no more than its limit of spans and steps in memory, however long the document is edited', () => {
    const limit = 64;
    const journal = new EditJournal(1, { limit });
    for (let version = 1; version < 5000; version++) {
      const spans = version % 3 === 0 ? [] : [{ start: version % 200, end: version % 200, insertedLength: 1 }];
      journal.record(version, version + 1, spans);
    }
    expect(journal.size).toBeGreaterThan(0);
    expect(journal.size).toBeLessThanOrEqual(limit);
    expect(journal.retainedBytes).toBeLessThanOrEqual(limit * 6 * Float64Array.BYTES_PER_ELEMENT);
  });
});
