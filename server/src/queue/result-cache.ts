/**
 * What the queue remembers of its jobs once they have finished.
 *
 * - Jobs that succeeded are the result cache: `get` by id (efrit.applyJob may
 *   come after the code action that started the job) and `findByKey`, so
 *   identical work shares one model call. Bounded by count and by the bytes
 *   their results hold; the least recently asked-for go first.
 * - Jobs that failed or were cancelled are kept in a small record of their
 *   own, only so that `get` can still say how they ended: a run of failures
 *   never pushes a useful result out, and a failure is never reused.
 *
 * The key index also holds live jobs (`track`), so a request for work already
 * queued or running joins it; an entry leaves with its job (failed, cancelled,
 * or evicted), which keeps the index no larger than what it can point at.
 */
import { LRUCache } from 'lru-cache';

/** What the cache needs of a job. */
export interface RememberedJob {
  readonly id: string;
  readonly spec: { readonly key?: string | undefined };
  readonly state: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  /** Rough size of the result (`approximateBytes`), for the byte bound. */
  readonly resultBytes: number;
}

export interface ResultCacheOptions {
  /** Successful jobs remembered. */
  maxEntries: number;
  /** Bytes their results may hold; a result larger than this alone is not remembered. */
  maxBytes: number;
  /** Failed and cancelled jobs remembered. @default 64 */
  maxEnded?: number;
}

export interface ResultCacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
}

export class ResultCache<J extends RememberedJob> {
  private readonly succeeded: LRUCache<string, J>;
  private readonly ended: LRUCache<string, J>;
  /** Looked up by a job's key, which may be none: no entry is ever made under none. */
  private readonly byKey = new Map<string | undefined, J>();
  private hits = 0;
  private misses = 0;

  constructor(options: ResultCacheOptions) {
    this.succeeded = new LRUCache<string, J>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      // lru-cache wants a positive size; an empty string is a result too.
      sizeCalculation: (job) => Math.max(1, job.resultBytes),
      dispose: (job) => this.forgetKey(job),
    });
    this.ended = new LRUCache<string, J>({ max: options.maxEnded ?? 64 });
  }

  /** A job just queued: while it is live (and after, if it succeeds), `findByKey` answers with it. */
  track(job: J): void {
    const key = job.spec.key;
    // Stryker disable next-line ConditionalExpression: equivalent, findByKey takes a string so an entry under no key is never found (and only the latest unkeyed job would sit there)
    if (key !== undefined) this.byKey.set(key, job);
  }

  /** A job just finished (its state says how). */
  remember(job: J): void {
    if (job.state === 'succeeded') {
      this.succeeded.set(job.id, job);
      // Too large to keep: nothing may point at it.
      if (!this.succeeded.has(job.id)) this.forgetKey(job);
    } else {
      this.ended.set(job.id, job);
      this.forgetKey(job);
    }
  }

  /** A finished job by id; asking for a successful one keeps it longer. */
  get(jobId: string): J | undefined {
    return this.succeeded.get(jobId) ?? this.ended.get(jobId);
  }

  /** The job doing this work, if one is live or succeeded and is still remembered. */
  findByKey(key: string): J | undefined {
    const job = this.byKey.get(key);
    if (job === undefined) this.misses += 1;
    else this.hits += 1;
    return job;
  }

  /** As `efrit/status` reports the cache. */
  stats(): ResultCacheStats {
    return { entries: this.succeeded.size, bytes: this.succeeded.calculatedSize, hits: this.hits, misses: this.misses };
  }

  private forgetKey(job: J): void {
    // A newer job with the same key keeps its entry.
    if (this.byKey.get(job.spec.key) === job) this.byKey.delete(job.spec.key);
  }
}

/**
 * Roughly what a result holds, in bytes, without serializing it: strings at
 * two bytes a character, a little for everything else. Results hold their
 * edits and texts, never a document, so this is what they keep alive.
 */
export function approximateBytes(value: unknown, depth = 0): number {
  if (typeof value === 'string') return 2 * value.length;
  if (typeof value !== 'object' || value === null) return 8;
  // Deeper than any result goes: a cycle or a foreign object is not walked on.
  if (depth > 8) return 64;
  let bytes = 16;
  for (const item of Object.values(value)) bytes += 8 + approximateBytes(item, depth + 1);
  return bytes;
}
