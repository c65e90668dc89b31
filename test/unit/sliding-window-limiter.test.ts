import { describe, expect, it } from 'vitest';
import { SlidingWindowLimiter, systemTime } from '../../server/src/common/sliding-window-limiter.js';

/** Time that moves only when the test says so. */
function manualTime(start = 1_000_000) {
  const clock = { time: start, now: () => clock.time };
  return clock;
}

const minute = 60_000;

describe('SlidingWindowLimiter', () => {
  it('lets through up to the limit in a window, then refuses without counting the refusal', () => {
    const clock = manualTime();
    const limiter = new SlidingWindowLimiter(minute, clock);
    expect(limiter.tryTake(3)).toBe(true);
    clock.time += 10;
    expect(limiter.tryTake(3)).toBe(true);
    expect(limiter.tryTake(3)).toBe(true);
    expect(limiter.tryTake(3)).toBe(false);
    expect(limiter.hasRoom(3)).toBe(false);
    // The refusals took nothing: once the first call leaves the window, exactly one more fits.
    clock.time += minute - 10;
    expect(limiter.tryTake(3)).toBe(true);
    expect(limiter.tryTake(3)).toBe(false);
  });

  it('frees a slot exactly one window after the call that took it, not before', () => {
    const clock = manualTime();
    const limiter = new SlidingWindowLimiter(minute, clock);
    expect(limiter.tryTake(1)).toBe(true);
    clock.time += minute - 1;
    expect(limiter.hasRoom(1)).toBe(false);
    clock.time += 1;
    expect(limiter.hasRoom(1)).toBe(true);
  });

  it('slides: a burst at the end of one minute still counts at the start of the next', () => {
    const clock = manualTime();
    const limiter = new SlidingWindowLimiter(minute, clock);
    clock.time += 50_000;
    expect(limiter.tryTake(2)).toBe(true);
    expect(limiter.tryTake(2)).toBe(true);
    clock.time += 20_000; // a new calendar minute, but both calls are 20 s old
    expect(limiter.tryTake(2)).toBe(false);
    clock.time += 40_000;
    expect(limiter.tryTake(2)).toBe(true);
  });

  it('checks without counting: hasRoom alone never uses up the cap, record does', () => {
    const clock = manualTime();
    const limiter = new SlidingWindowLimiter(minute, clock);
    for (let i = 0; i < 5; i++) expect(limiter.hasRoom(1)).toBe(true);
    limiter.record();
    expect(limiter.hasRoom(1)).toBe(false);
  });

  it('follows a limit changed between calls, and a limit of 0 lets nothing through', () => {
    const clock = manualTime();
    const limiter = new SlidingWindowLimiter(minute, clock);
    expect(limiter.tryTake(0)).toBe(false);
    expect(limiter.tryTake(1)).toBe(true);
    expect(limiter.tryTake(1)).toBe(false);
    expect(limiter.tryTake(2)).toBe(true);
    expect(limiter.hasRoom(2)).toBe(false);
  });

  it('reads the time when a call is recorded, not when room was last checked', () => {
    const clock = manualTime();
    const limiter = new SlidingWindowLimiter(minute, clock);
    expect(limiter.hasRoom(1)).toBe(true);
    clock.time += 30_000;
    limiter.record();
    clock.time += minute - 1;
    expect(limiter.hasRoom(1)).toBe(false);
  });

  it('uses the system clock when none is given', () => {
    const before = Date.now();
    const now = systemTime.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
    const limiter = new SlidingWindowLimiter(minute);
    expect(limiter.tryTake(1)).toBe(true);
    expect(limiter.tryTake(1)).toBe(false);
  });
});
