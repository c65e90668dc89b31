import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { realClock } from '../../server/src/queue/queue-clock.js';

describe('the real clock behind the queue', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('tells the time of day', () => {
    vi.setSystemTime(new Date('2026-03-01T09:30:00Z'));
    expect(realClock.now()).toBe(Date.parse('2026-03-01T09:30:00Z'));
  });

  it('fires a timer when it is due, and never once cancelled', () => {
    const fired: string[] = [];
    realClock.setTimer(() => fired.push('timeout'), 1_000);
    const backoff = realClock.setTimer(() => fired.push('resume'), 2_000);
    vi.advanceTimersByTime(999);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['timeout']);
    backoff.cancel();
    vi.advanceTimersByTime(5_000);
    expect(fired).toEqual(['timeout']);
  });

  it('draws jitter from [0, 1)', () => {
    const draws = Array.from({ length: 20 }, () => realClock.random());
    expect(draws.every((n) => typeof n === 'number' && n >= 0 && n < 1)).toBe(true);
    expect(new Set(draws).size).toBeGreaterThan(1);
  });
});
