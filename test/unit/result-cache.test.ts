import { describe, expect, it } from 'vitest';
import { approximateBytes, ResultCache, type RememberedJob } from '../../server/src/queue/result-cache.js';

type State = RememberedJob['state'];

/** A job as the queue hands it over: its id, its key, how it ended, and the size of its result. */
function job(id: string, key?: string, resultBytes = 100): RememberedJob & { state: State } {
  return { id, spec: { key }, state: 'running', resultBytes };
}

function ended<J extends { state: State }>(j: J, state: State): J {
  j.state = state;
  return j;
}

const cacheOf = (maxEntries = 8, maxBytes = 1_000_000, maxEnded?: number) =>
  new ResultCache<RememberedJob>(maxEnded === undefined ? { maxEntries, maxBytes } : { maxEntries, maxBytes, maxEnded });

describe('the result cache', () => {
  it('finds a live job by its key, then its result once it succeeded', () => {
    const cache = cacheOf();
    const fix = job('job-1', 'fix@v1');
    cache.track(fix);
    expect(cache.findByKey('fix@v1')).toBe(fix);
    cache.remember(ended(fix, 'succeeded'));
    expect(cache.findByKey('fix@v1')).toBe(fix);
    expect(cache.get('job-1')).toBe(fix);
    expect(cache.findByKey('fix@v2')).toBeUndefined();
    expect(cache.stats()).toEqual({ entries: 1, bytes: 100, hits: 2, misses: 1 });
  });

  it('never reuses a job that failed or was cancelled, yet still says how it ended', () => {
    const cache = cacheOf();
    const failed = job('job-1', 'fix@v1');
    const cancelled = job('job-2', 'explain@v1');
    cache.track(failed);
    cache.track(cancelled);
    cache.remember(ended(failed, 'failed'));
    cache.remember(ended(cancelled, 'cancelled'));
    expect(cache.findByKey('fix@v1')).toBeUndefined();
    expect(cache.findByKey('explain@v1')).toBeUndefined();
    expect(cache.get('job-1')?.state).toBe('failed');
    expect(cache.get('job-2')?.state).toBe('cancelled');
    expect(cache.stats()).toEqual({ entries: 0, bytes: 0, hits: 0, misses: 2 });
  });

  it('remembers a job without a key by id only', () => {
    const cache = cacheOf();
    const chat = job('job-1');
    cache.track(chat);
    cache.remember(ended(chat, 'succeeded'));
    expect(cache.get('job-1')).toBe(chat);
    expect(cache.get('job-2')).toBeUndefined();
  });

  it('lets a newer job with the same key keep its entry when the older one ends', () => {
    const cache = cacheOf(1);
    const older = job('job-1', 'fix@v1');
    const newer = job('job-2', 'fix@v1');
    cache.track(older);
    cache.track(newer);
    cache.remember(ended(older, 'failed'));
    expect(cache.findByKey('fix@v1')).toBe(newer);
    const other = job('job-3', 'fix@v1');
    cache.track(other);
    cache.remember(ended(newer, 'succeeded'));
    // `newer` is pushed out by the next success; the key still points at the live job.
    cache.remember(ended(job('job-4', 'rename@v1'), 'succeeded'));
    expect(cache.get('job-2')).toBeUndefined();
    expect(cache.findByKey('fix@v1')).toBe(other);
  });

  it('keeps a bounded number of results, dropping the least recently asked-for, key and all', () => {
    const cache = cacheOf(2);
    const [a, b, c] = [job('job-a', 'a'), job('job-b', 'b'), job('job-c', 'c')];
    for (const j of [a, b]) {
      cache.track(j);
      cache.remember(ended(j, 'succeeded'));
    }
    expect(cache.get('job-a')).toBe(a);
    cache.track(c);
    cache.remember(ended(c, 'succeeded'));
    expect(cache.get('job-b')).toBeUndefined();
    expect(cache.findByKey('b')).toBeUndefined();
    expect([cache.findByKey('a'), cache.findByKey('c')]).toEqual([a, c]);
    expect(cache.stats().entries).toBe(2);
  });

  it('keeps results within a byte budget, and never one larger than the whole budget', () => {
    const cache = cacheOf(8, 250);
    const results = [job('job-1', 'one', 100), job('job-2', 'two', 100), job('job-3', 'three', 100)];
    for (const j of results) {
      cache.track(j);
      cache.remember(ended(j, 'succeeded'));
    }
    expect(cache.stats()).toMatchObject({ entries: 2, bytes: 200 });
    expect(cache.findByKey('one')).toBeUndefined();
    const huge = job('job-4', 'huge', 300);
    cache.track(huge);
    cache.remember(ended(huge, 'succeeded'));
    expect(cache.get('job-4')).toBeUndefined();
    expect(cache.findByKey('huge')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ entries: 2, bytes: 200 });
  });

  it('remembers an empty result', () => {
    const cache = cacheOf();
    const empty = job('job-1', 'completion@v1', 0);
    cache.track(empty);
    cache.remember(ended(empty, 'succeeded'));
    expect(cache.findByKey('completion@v1')).toBe(empty);
    expect(cache.stats()).toMatchObject({ entries: 1, bytes: 1 });
  });

  it('keeps failures in a small record of their own, which never pushes a result out', () => {
    const cache = cacheOf(2, 1_000_000, 2);
    const kept = job('job-0', 'fix@v1');
    cache.track(kept);
    cache.remember(ended(kept, 'succeeded'));
    for (let i = 1; i <= 3; i++) cache.remember(ended(job(`job-${i}`), 'failed'));
    expect(cache.get('job-1')).toBeUndefined();
    expect(cache.get('job-2')?.state).toBe('failed');
    expect(cache.get('job-3')?.state).toBe('failed');
    expect(cache.findByKey('fix@v1')).toBe(kept);
    expect(cache.stats().entries).toBe(1);
  });

  it('keeps 64 failures unless told otherwise', () => {
    const cache = cacheOf();
    for (let i = 1; i <= 65; i++) cache.remember(ended(job(`job-${i}`), 'cancelled'));
    expect(cache.get('job-1')).toBeUndefined();
    expect(cache.get('job-2')?.state).toBe('cancelled');
  });
});

describe('the size of a result', () => {
  it('counts two bytes a character of text, and a little for everything else', () => {
    expect(approximateBytes('')).toBe(0);
    expect(approximateBytes('const total = 0;')).toBe(32);
    expect(approximateBytes(42)).toBe(8);
    expect(approximateBytes(true)).toBe(8);
    expect(approximateBytes(null)).toBe(8);
    expect(approximateBytes(undefined)).toBe(8);
  });

  it('walks the edits and texts a result holds', () => {
    // 16 for the object, and for each field 8 plus its value.
    expect(approximateBytes({ newText: 'qty', applied: true })).toBe(16 + 8 + 6 + 8 + 8);
    expect(approximateBytes(['ab', 1])).toBe(16 + 8 + 4 + 8 + 8);
    const edit = { range: { start: { line: 3, character: 4 }, end: { line: 3, character: 9 } }, newText: 'count' };
    const point = 16 + 2 * (8 + 8);
    expect(approximateBytes(edit)).toBe(16 + (8 + 16 + 2 * (8 + point)) + (8 + 10));
  });

  it('stops walking past a depth no result reaches, so a cycle costs a bounded amount', () => {
    const nested = (levels: number): unknown => (levels === 0 ? 'x' : [nested(levels - 1)]);
    // Nine levels are walked to the text; at the tenth the innermost array counts as 64.
    expect(approximateBytes(nested(9))).toBe(9 * 24 + 2);
    expect(approximateBytes(nested(10))).toBe(9 * 24 + 64);
    const cycle: unknown[] = [];
    cycle.push(cycle);
    expect(approximateBytes(cycle)).toBe(9 * 24 + 64);
  });
});
