/**
 * When a fix may be prefetched, and what became of each one. A prefetch is a
 * guess that the user will pick "Efrit: Fix" for a diagnostic, paid for with a
 * model call: so it is off unless asked for, capped per minute, and dropped as
 * soon as the document moves past the version it was made for. The counts
 * (made, used, wasted) let the user judge whether the guesses pay off.
 *
 * The policy only decides and counts; the Assistant starts and cancels the jobs.
 */
import { LRUCache } from 'lru-cache';
import { SlidingWindowLimiter, systemTime, type LimiterClock } from '../common/sliding-window-limiter.js';

export interface PrefetchSettings {
  /** Whether prefetching is on at all. */
  prefetch: boolean;
  /** Most prefetches started in any 60 seconds. */
  prefetchPerMinute: number;
}

export interface PrefetchStats {
  made: number;
  /** Picked by the user (an interactive request found the job). */
  used: number;
  /** Dropped for an older version, or forgotten unpicked. */
  wasted: number;
}

export interface PrefetchPolicyOptions {
  /** @default the system clock */
  clock?: LimiterClock | undefined;
  /** Prefetches remembered for the counts; the least recent one past this counts as wasted if unpicked. @default 256 */
  maxTracked?: number | undefined;
}

interface PrefetchRecord {
  uri: string;
  version: number;
  used: boolean;
  /** Counted once as used or wasted. */
  settled: boolean;
}

export class PrefetchPolicy {
  private readonly records: LRUCache<string, PrefetchRecord>;
  private readonly counts: PrefetchStats = { made: 0, used: 0, wasted: 0 };
  private readonly perMinute: SlidingWindowLimiter;

  constructor(options: PrefetchPolicyOptions = {}) {
    this.perMinute = new SlidingWindowLimiter(60_000, options.clock ?? systemTime);
    this.records = new LRUCache<string, PrefetchRecord>({
      max: options.maxTracked ?? 256,
      // Evicted or dropped: if nobody picked it, the model call was for nothing.
      dispose: (record) => this.settle(record, 'wasted'),
    });
  }

  /** Whether a prefetch may start now: prefetching is on and the per-minute cap has room. */
  mayStart(settings: PrefetchSettings): boolean {
    return settings.prefetch && this.perMinute.hasRoom(settings.prefetchPerMinute);
  }

  /** A prefetch job was started for `version` of `uri`: it counts against the cap and as made. */
  started(jobId: string, uri: string, version: number): void {
    this.perMinute.record();
    this.counts.made += 1;
    this.records.set(jobId, { uri, version, used: false, settled: false });
  }

  /** An interactive request found this job: if it is a prefetch, it counts as used (once). */
  claim(jobId: string): void {
    const record = this.records.get(jobId);
    if (record === undefined || record.used) return;
    record.used = true;
    this.settle(record, 'used');
  }

  /**
   * The unpicked prefetches for `uri` made for another version than
   * `version` (undefined: the document closed). They are forgotten and count
   * as wasted; the caller cancels their jobs.
   */
  outdated(uri: string, version: number | undefined): string[] {
    const jobIds: string[] = [];
    for (const [jobId, record] of this.records.entries()) {
      if (record.uri === uri && record.version !== version && !record.used) jobIds.push(jobId);
    }
    for (const jobId of jobIds) this.records.delete(jobId);
    return jobIds;
  }

  stats(): PrefetchStats {
    return { ...this.counts };
  }

  private settle(record: PrefetchRecord, outcome: 'used' | 'wasted'): void {
    if (record.settled) return;
    record.settled = true;
    this.counts[outcome] += 1;
  }
}
