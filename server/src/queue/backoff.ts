/**
 * The queue's answer to "too many requests" (429) and "overloaded" (529):
 * one hold-back shared by every job, and AIMD concurrency.
 *
 * - Hold-back: the queue stops starting jobs for the API's `retry-after`
 *   (plus up to 10% jitter, so clients told the same second do not return
 *   together), else for an exponential backoff (`baseMs`, doubling with each
 *   throttle in a row, capped at `maxMs`) jittered between half and all of it.
 *   A later throttle may lengthen the hold-back, never shorten it.
 * - Concurrency: halved (never below 1) once per hold-back window however many
 *   jobs were refused in it; then one more slot per window of successes as
 *   long as the slots now in force, never past the configured cap.
 */
import { type EfritError, isEfritError } from '../common/errors.js';
import type { QueueClock } from './queue-clock.js';

export interface BackoffState {
  active: boolean;
  remainingMs: number;
  /** Why: "rate limited (429)" or "overloaded (529)". */
  reason: string | null;
}

/** What the backoff drives: the queue that starts jobs. */
export interface BackoffTarget {
  /** The slots in force changed (halved, grown back, or reconfigured). */
  setConcurrency(concurrency: number): void;
  /** Start no job until `resume`. */
  pause(): void;
  resume(): void;
}

export interface BackoffOptions {
  /** The configured cap on slots. */
  concurrency: number;
  /** First wait without retry-after; doubled per throttle in a row. */
  baseMs: number;
  /** Longest wait without retry-after. */
  maxMs: number;
  clock: QueueClock;
}

/** A 429 or 529 from the API, as the model client maps them: the errors the backoff answers. */
export function isThrottle(error: unknown): error is EfritError {
  return isEfritError(error) && (error.reason === 'rateLimited' || error.reason === 'overloaded');
}

export class Backoff {
  private configured: number;
  private effective: number;
  private successesSinceChange = 0;
  private throttlesInARow = 0;
  private holdUntil = 0;
  private reason: string | null = null;
  private resumeTimer: { cancel(): void } | undefined;

  constructor(
    private readonly options: BackoffOptions,
    private readonly target: BackoffTarget,
  ) {
    this.configured = options.concurrency;
    this.effective = options.concurrency;
  }

  /** The slots in force now: lowered after a throttle, growing back to `configuredConcurrency`. */
  get concurrency(): number {
    return this.effective;
  }

  get configuredConcurrency(): number {
    return this.configured;
  }

  /**
   * A new cap from the settings. Inside a hold-back window the lowered
   * concurrency is kept (capped by the new value); outside one the new cap is
   * in force at once. The same cap again changes nothing, so re-reading
   * unchanged settings does not cut short the growth back.
   */
  configure(concurrency: number): void {
    if (concurrency === this.configured) return;
    this.configured = concurrency;
    this.setEffective(Math.min(concurrency, this.isHoldingBack() ? this.effective : concurrency));
  }

  /** A job was refused with 429 or 529. */
  throttled(error: EfritError): void {
    this.throttlesInARow += 1;
    const jitter = this.options.clock.random();
    const waitMs =
      error.retryAfterSeconds !== undefined
        ? error.retryAfterSeconds * 1000 * (1 + 0.1 * jitter)
        : Math.min(this.options.maxMs, this.options.baseMs * 2 ** (this.throttlesInARow - 1)) * (0.5 + 0.5 * jitter);
    this.reason = error.reason === 'rateLimited' ? 'rate limited (429)' : 'overloaded (529)';
    if (!this.isHoldingBack()) {
      // Multiplicative decrease, once per window however many jobs hit the limit in it.
      this.setEffective(Math.max(1, Math.floor(this.effective / 2)));
      this.successesSinceChange = 0;
    }
    const until = this.options.clock.now() + waitMs;
    if (until <= this.holdUntil) return;
    this.holdUntil = until;
    this.target.pause();
    this.resumeTimer?.cancel();
    this.resumeTimer = this.options.clock.setTimer(() => this.target.resume(), waitMs);
  }

  /** A job succeeded: the API has room again. */
  succeeded(): void {
    this.throttlesInARow = 0;
    if (this.effective >= this.configured) return;
    this.successesSinceChange += 1;
    if (this.successesSinceChange >= this.effective) {
      this.successesSinceChange = 0;
      this.setEffective(this.effective + 1);
    }
  }

  state(): BackoffState {
    const remainingMs = Math.max(0, this.holdUntil - this.options.clock.now());
    const active = remainingMs > 0;
    return { active, remainingMs, reason: active ? this.reason : null };
  }

  private isHoldingBack(): boolean {
    return this.holdUntil > this.options.clock.now();
  }

  private setEffective(concurrency: number): void {
    this.effective = concurrency;
    this.target.setConcurrency(concurrency);
  }
}
