/**
 * Every model call runs as a job in this queue (p-queue underneath): bounded
 * concurrency, priorities (interactive before completion before background,
 * FIFO within one), cancellation of queued and running jobs, and a whole-job
 * timeout that counts from submission, because a user waiting on a queued job
 * is waiting all the same.
 *
 * Ordering rules: a job with a higher priority starts before any queued job
 * with a lower one; equal priorities start in submission order. A cancelled
 * queued job never runs. A running job is told through its AbortSignal, and its
 * result promise rejects at once with the cancellation, so no caller waits for
 * the model to notice.
 */
import PQueue from 'p-queue';
import { LRUCache } from 'lru-cache';
import { EfritError } from '../errors.js';
import type { Priority } from '../protocol.js';

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

const priorityRank: Record<Priority, number> = { interactive: 2, completion: 1, background: 0 };
const priorities: Priority[] = ['interactive', 'completion', 'background'];

export interface JobContext {
  jobId: string;
  signal: AbortSignal;
}

export interface JobSpec<T> {
  title: string;
  priority: Priority;
  sessionId?: string | undefined;
  uri?: string | undefined;
  /** Jobs with the same key are the same work: `findByKey` returns the live one. */
  key?: string | undefined;
  run(context: JobContext): Promise<T>;
}

export class Job<T = unknown> {
  state: JobState = 'queued';
  readonly result: Promise<T>;
  readonly controller = new AbortController();
  startedAt: number | undefined;
  finishedAt: number | undefined;
  /** Rough size of the result, for the byte bound on remembered jobs. */
  resultBytes = 0;
  private settle!: { resolve(value: T): void; reject(error: unknown): void };

  constructor(
    readonly id: string,
    readonly spec: JobSpec<T>,
    readonly submittedAt: number,
  ) {
    this.result = new Promise<T>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // Callers may never await a job (a prefetch, a handed-over resolve); that must not be an unhandled rejection.
    this.result.catch(() => undefined);
  }

  get title(): string {
    return this.spec.title;
  }
  get priority(): Priority {
    return this.spec.priority;
  }
  get isFinished(): boolean {
    return this.state === 'succeeded' || this.state === 'failed' || this.state === 'cancelled';
  }

  /** @internal */
  finish(state: 'succeeded' | 'failed' | 'cancelled', value: T | undefined, error: unknown, at: number): void {
    if (this.isFinished) return;
    this.state = state;
    this.finishedAt = at;
    if (state === 'succeeded') this.settle.resolve(value as T);
    else this.settle.reject(error);
  }
}

export interface JobQueueOptions {
  /** @default 4 */
  concurrency?: number;
  /** Whole-job timeout from submission. @default 120000 */
  timeoutMs?: number;
  /** Finished jobs remembered for `get` (efrit.applyJob may come later) and reuse by key. @default 256 */
  finishedLimit?: number;
  /** Bytes of results those remembered jobs may hold. @default 16 MiB */
  finishedMaxBytes?: number;
  now?: () => number;
}

export interface QueueSnapshot {
  running: number;
  queued: number;
  concurrency: number;
  byPriority: Record<Priority, { running: number; queued: number }>;
}

export class JobQueue {
  private readonly pqueue: PQueue;
  private readonly live = new Map<string, Job>();
  private readonly finished: LRUCache<string, Job>;
  private readonly byKey = new Map<string, Job>();
  private timeoutMs: number;
  private readonly now: () => number;
  private nextId = 1;
  private keyHits = 0;
  private keyMisses = 0;

  constructor(options: JobQueueOptions = {}) {
    this.pqueue = new PQueue({ concurrency: options.concurrency ?? 4 });
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.finished = new LRUCache({
      max: options.finishedLimit ?? 256,
      maxSize: options.finishedMaxBytes ?? 16 * 1024 * 1024,
      sizeCalculation: (job) => Math.max(1, job.resultBytes),
    });
    this.now = options.now ?? Date.now;
  }

  setConcurrency(concurrency: number): void {
    this.pqueue.concurrency = concurrency;
  }

  setTimeoutMs(timeoutMs: number): void {
    this.timeoutMs = timeoutMs;
  }

  submit<T>(spec: JobSpec<T>): Job<T> {
    const job = new Job<T>(`job-${this.nextId++}`, spec, this.now());
    this.live.set(job.id, job as Job);
    if (spec.key !== undefined) this.byKey.set(spec.key, job as Job);

    const timer = setTimeout(() => {
      this.abort(job, new EfritError('timeout', `"${spec.title}" timed out after ${Math.round(this.timeoutMs / 1000)} s (efrit.queue.timeoutMs).`));
    }, this.timeoutMs);
    timer.unref();

    this.pqueue
      .add(
        async () => {
          if (job.controller.signal.aborted) return;
          job.state = 'running';
          job.startedAt = this.now();
          try {
            const value = await spec.run({ jobId: job.id, signal: job.controller.signal });
            if (job.controller.signal.aborted) this.finish(job, 'cancelled', undefined, job.controller.signal.reason);
            else this.finish(job, 'succeeded', value, undefined);
          } catch (error) {
            const aborted = job.controller.signal.aborted;
            this.finish(job, aborted ? 'cancelled' : 'failed', undefined, aborted ? job.controller.signal.reason : error);
          }
        },
        { priority: priorityRank[spec.priority], signal: job.controller.signal },
      )
      .catch(() => {
        // p-queue rejects when a queued job's signal aborts; `abort` has already settled the job.
      })
      .finally(() => clearTimeout(timer));
    return job;
  }

  get(jobId: string): Job | undefined {
    return this.live.get(jobId) ?? this.finished.get(jobId);
  }

  /** The job doing this work, if one is queued, running or finished successfully and remembered. */
  findByKey(key: string): Job | undefined {
    const job = this.byKey.get(key);
    const usable = job !== undefined && !(job.state === 'failed' || job.state === 'cancelled') && (!job.isFinished || this.finished.has(job.id));
    if (job !== undefined && !usable) this.byKey.delete(key);
    if (usable) this.keyHits += 1;
    else this.keyMisses += 1;
    return usable ? job : undefined;
  }

  /** The remembered results that `findByKey` reuses, as `efrit/status` reports them. */
  resultCacheStats(): { entries: number; bytes: number; hits: number; misses: number } {
    return { entries: this.finished.size, bytes: this.finished.calculatedSize, hits: this.keyHits, misses: this.keyMisses };
  }

  cancel(jobId: string, why = 'Cancelled.'): boolean {
    const job = this.live.get(jobId);
    if (job === undefined) return false;
    this.abort(job, new EfritError('cancelled', why));
    return true;
  }

  /** Cancels every live job that matches; returns how many. */
  cancelWhere(predicate: (job: Job) => boolean, why = 'Cancelled.'): number {
    let count = 0;
    for (const job of [...this.live.values()]) {
      if (predicate(job)) {
        this.abort(job, new EfritError('cancelled', why));
        count += 1;
      }
    }
    return count;
  }

  /** Jobs that will start before this one, for "queued (n ahead)". */
  aheadOf(jobId: string): number {
    const job = this.live.get(jobId);
    if (job === undefined || job.state !== 'queued') return 0;
    let ahead = 0;
    for (const other of this.live.values()) {
      if (other === job || other.state !== 'queued') continue;
      const rankDiff = priorityRank[other.priority] - priorityRank[job.priority];
      if (rankDiff > 0 || (rankDiff === 0 && other.submittedAt <= job.submittedAt && other.id < job.id)) ahead += 1;
    }
    return ahead;
  }

  snapshot(): QueueSnapshot {
    const byPriority = Object.fromEntries(priorities.map((p) => [p, { running: 0, queued: 0 }])) as QueueSnapshot['byPriority'];
    for (const job of this.live.values()) {
      if (job.state === 'running') byPriority[job.priority].running += 1;
      else if (job.state === 'queued') byPriority[job.priority].queued += 1;
    }
    const running = priorities.reduce((n, p) => n + byPriority[p].running, 0);
    const queued = priorities.reduce((n, p) => n + byPriority[p].queued, 0);
    return { running, queued, concurrency: this.pqueue.concurrency, byPriority };
  }

  /** Settles when nothing is queued or running (tests, shutdown). */
  async idle(): Promise<void> {
    await this.pqueue.onIdle();
  }

  private abort(job: Job, reason: EfritError): void {
    if (job.isFinished) return;
    job.controller.abort(reason);
    // Settle now: callers hear of the cancellation at once, whatever the running call is doing.
    this.finish(job, 'cancelled', undefined, reason);
  }

  private finish(job: Job, state: 'succeeded' | 'failed' | 'cancelled', value: unknown, error: unknown): void {
    if (job.isFinished) return;
    job.finish(state, value, error, this.now());
    job.resultBytes = approximateBytes(value);
    this.live.delete(job.id);
    this.finished.set(job.id, job);
    const key = job.spec.key;
    if (key !== undefined && state !== 'succeeded' && this.byKey.get(key) === job) this.byKey.delete(key);
    this.pruneKeys();
  }

  /** Keeps the key index no larger than what it can point at. */
  private pruneKeys(): void {
    if (this.byKey.size <= this.finished.max + this.live.size) return;
    for (const [key, job] of this.byKey) {
      if (job.isFinished && !this.finished.has(job.id)) this.byKey.delete(key);
    }
  }
}

function approximateBytes(value: unknown): number {
  if (value === undefined) return 0;
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    return 1024;
  }
}
