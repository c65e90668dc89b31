/**
 * "At most N in any window of W milliseconds": the cap on background model
 * calls (prefetched fixes, inline completion) that keeps typing from spending
 * the user's quota. A sliding window of the times calls were let through,
 * rather than a fixed per-minute bucket, so a burst at the end of one minute
 * and another at the start of the next cannot double the cap.
 *
 * The limit is given on each check, not at construction, because it is a
 * setting the user may change while the server runs.
 */

export interface LimiterClock {
  /** Milliseconds on any monotonic-enough scale; only differences are used. */
  now(): number;
}

export const systemTime: LimiterClock = { now: () => Date.now() };

export class SlidingWindowLimiter {
  /**
   * When each call within the window was let through. Only `record` after a
   * `hasRoom` that said yes adds one, so there are never more than the
   * largest limit asked for (a setting, itself bounded).
   */
  // Stryker disable next-line ArrayDeclaration: equivalent, a non-number start entry is filtered out (NaN age) before anything is counted
  private times: number[] = [];

  constructor(
    private readonly windowMs: number,
    private readonly clock: LimiterClock = systemTime,
  ) {}

  /** Whether one more call now stays within `limit` calls per window. */
  hasRoom(limit: number): boolean {
    const now = this.clock.now();
    this.times = this.times.filter((at) => now - at < this.windowMs);
    return this.times.length < limit;
  }

  /** Counts a call made now; callers ask `hasRoom` first. */
  record(): void {
    this.times.push(this.clock.now());
  }

  /** Counts a call now if it stays within `limit`; false (and nothing counted) when it would not. */
  tryTake(limit: number): boolean {
    if (!this.hasRoom(limit)) return false;
    this.record();
    return true;
  }
}
