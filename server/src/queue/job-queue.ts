/**
 * Every model call runs as a job in this queue: bounded concurrency,
 * priorities, cancellation, a whole-job timeout, one shared backoff, retries,
 * supersession and a bound on its length. p-queue does the scheduling; the
 * backoff (backoff.ts) and what is remembered of finished jobs
 * (result-cache.ts) are modules of their own.
 *
 * Ordering rules:
 * - interactive (what the user just asked for) > completion > background;
 *   FIFO within a priority, except that a retried job goes first within its
 *   priority (it was asked for earlier);
 * - interactive work is never stuck behind background work. Policy: a
 *   reserved slot. Completion and background jobs pass a gate that lets at
 *   most `concurrency - 1` of them into the main queue, so one slot is always
 *   free for the user. Preempting instead would throw away tokens already
 *   paid for, so it is used only where no slot can be reserved (concurrency
 *   1): there an interactive job aborts the running background attempt, which
 *   is queued again and retried later;
 * - a cancelled queued job never runs; a cancelled running job is told
 *   through its AbortSignal (which aborts its HTTP request) and its result
 *   rejects at once, so no caller waits for the model to notice;
 * - a job submitted with `supersedes` cancels the live jobs with the same
 *   value (a second "explain" of a range replaces the first);
 * - past `maxQueued` waiting jobs, the oldest queued background job is
 *   dropped; an interactive request with nothing to drop gets a clear "busy"
 *   error instead of waiting forever.
 *
 * Backoff: when a job fails with 429 or 529, the whole queue holds back for
 * the API's retry-after (else an exponential backoff with jitter), the failed
 * job is retried a bounded number of times, and concurrency is halved, then
 * grows back by one per `concurrency` successes (AIMD). The SDK's own retries
 * are off, so retries are never doubled.
 */
import PQueue from 'p-queue';
import { EfritError } from '../common/errors.js';
import type { Priority, ServerCancelReason } from '../protocol.js';
import { Backoff, type BackoffState, isThrottle } from './backoff.js';
import { type QueueClock, realClock } from './queue-clock.js';
import { approximateBytes, ResultCache } from './result-cache.js';

export type { BackoffState } from './backoff.js';
export type { QueueClock } from './queue-clock.js';

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

const priorityRank: Record<Priority, number> = { interactive: 2, completion: 1, background: 0 };
const priorities: Priority[] = ['interactive', 'completion', 'background'];
/** A retry goes ahead of fresh jobs of its own priority, never ahead of a higher one. */
const retryBoost = 0.5;

export interface JobContext {
  jobId: string;
  signal: AbortSignal;
}

export interface JobSpec<T> {
  title: string;
  priority: Priority;
  sessionId?: string | undefined;
  uri?: string | undefined;
  /** Jobs with the same key are the same work: `findByKey` returns the live or remembered one. */
  key?: string | undefined;
  /** Live jobs with the same value are cancelled when this one is submitted. */
  supersedes?: string | undefined;
  run(context: JobContext): Promise<T>;
}

export class Job<T = unknown> {
  state: JobState = 'queued';
  priority: Priority;
  readonly result: Promise<T>;
  readonly controller = new AbortController();
  startedAt: number | undefined;
  finishedAt: number | undefined;
  /** Model attempts made: 1 + retries + preemptions. */
  attempts = 0;
  retries = 0;
  /** Rough size of the result (`approximateBytes`), for the byte bound on remembered jobs. */
  resultBytes = 0;
  /** @internal the queue it waits in: the non-interactive gate, the main queue, or none (running or done). */
  queuedIn: 'gate' | 'main' | undefined;
  /** @internal aborts only the current attempt (preemption), not the job. */
  currentAttempt = new AbortController();
  /**
   * The work itself, dropped when the job finishes: its closure may hold
   * captured documents and a session's history, and a remembered job must not
   * keep those alive.
   */
  private work: JobSpec<T>['run'] | undefined;
  /** What the job is, without the work itself. */
  readonly spec: Omit<JobSpec<T>, 'run'>;
  private settle!: { resolve(value: T): void; reject(error: unknown): void };

  constructor(
    readonly id: string,
    spec: JobSpec<T>,
    readonly submittedAt: number,
    readonly sequence: number,
  ) {
    const { run, ...described } = spec;
    this.spec = described;
    this.work = run;
    this.priority = spec.priority;
    this.result = new Promise<T>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // Callers may never await a job (a prefetch, a handed-over resolve); that must not be an unhandled rejection.
    this.result.catch(() => undefined);
  }

  get title(): string {
    return this.spec.title;
  }
  get isFinished(): boolean {
    return this.state === 'succeeded' || this.state === 'failed' || this.state === 'cancelled';
  }

  /** @internal the work to run for an attempt; none once the job has finished. */
  get pendingWork(): JobSpec<T>['run'] | undefined {
    return this.work;
  }

  /** @internal the queue finishes a job once, while it is live. */
  finish(state: 'succeeded' | 'failed' | 'cancelled', value: T | undefined, error: unknown, at: number): void {
    this.work = undefined;
    this.state = state;
    this.finishedAt = at;
    if (state === 'succeeded') this.settle.resolve(value as T);
    else this.settle.reject(error);
  }
}

export interface JobQueueOptions {
  /** Model calls in flight at once, before any backoff lowers it. @default 4 */
  concurrency?: number;
  /** Whole-job timeout from submission, queue wait and backoff included. @default 120000 */
  timeoutMs?: number;
  /** Jobs waiting at once; past it background jobs are dropped first. @default 128 */
  maxQueued?: number;
  /** Retries of a job after 429/529. @default 3 */
  maxRetries?: number;
  /** Exponential backoff without retry-after: first wait, and the cap. @default 1000 / 60000 */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Finished jobs remembered for `get` (efrit.applyJob may come later) and reuse by key. @default 256 */
  finishedLimit?: number;
  /** Bytes of results those remembered jobs may hold. @default 16 MiB */
  finishedMaxBytes?: number;
  clock?: QueueClock;
}

export interface QueueSnapshot {
  running: number;
  queued: number;
  /** In force now: lowered after 429/529, growing back to `configuredConcurrency`. */
  concurrency: number;
  configuredConcurrency: number;
  byPriority: Record<Priority, { running: number; queued: number }>;
  backoff: BackoffState;
  retries: number;
  dropped: number;
  preempted: number;
  superseded: number;
}

export class JobQueue {
  private readonly main: PQueue;
  private readonly gate: PQueue;
  /** Queued and running jobs; a job leaves when it finishes. */
  private readonly live = new Map<string, Job>();
  private readonly remembered: ResultCache<Job>;
  private readonly backoff: Backoff;
  private readonly clock: QueueClock;
  private timeoutMs: number;
  private maxQueued: number;
  private maxRetries: number;
  private nextId = 1;
  private readonly counts = { retries: 0, dropped: 0, preempted: 0, superseded: 0 };

  constructor(options: JobQueueOptions = {}) {
    this.clock = options.clock ?? realClock;
    const concurrency = options.concurrency ?? 4;
    this.main = new PQueue({ concurrency });
    this.gate = new PQueue({ concurrency: gateConcurrency(concurrency) });
    this.backoff = new Backoff(
      { concurrency, baseMs: options.backoffBaseMs ?? 1_000, maxMs: options.backoffMaxMs ?? 60_000, clock: this.clock },
      {
        setConcurrency: (slots) => {
          this.main.concurrency = slots;
          this.gate.concurrency = gateConcurrency(slots);
        },
        pause: () => this.main.pause(),
        resume: () => this.main.start(),
      },
    );
    this.remembered = new ResultCache({ maxEntries: options.finishedLimit ?? 256, maxBytes: options.finishedMaxBytes ?? 16 * 1024 * 1024 });
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.maxQueued = options.maxQueued ?? 128;
    this.maxRetries = options.maxRetries ?? 3;
  }

  /** Applies settings; a lowered backoff concurrency is kept until it grows back. */
  configure(limits: { concurrency?: number; timeoutMs?: number; maxQueued?: number; maxRetries?: number }): void {
    if (limits.timeoutMs !== undefined) this.timeoutMs = limits.timeoutMs;
    if (limits.maxQueued !== undefined) this.maxQueued = limits.maxQueued;
    if (limits.maxRetries !== undefined) this.maxRetries = limits.maxRetries;
    if (limits.concurrency !== undefined) this.backoff.configure(limits.concurrency);
  }

  setConcurrency(concurrency: number): void {
    this.configure({ concurrency });
  }

  setTimeoutMs(timeoutMs: number): void {
    this.configure({ timeoutMs });
  }

  /**
   * Queues a job. Throws `EfritError('busy')` when the queue is full and
   * nothing less important can make room.
   */
  submit<T>(spec: JobSpec<T>): Job<T> {
    this.makeRoomFor(spec.priority);
    if (spec.supersedes !== undefined) {
      const superseded = this.cancelWhere((job) => job.spec.supersedes === spec.supersedes, 'Superseded by a newer request for the same thing.', 'superseded');
      this.counts.superseded += superseded;
    }
    const job = new Job<T>(`job-${this.nextId}`, spec, this.clock.now(), this.nextId) as Job;
    this.nextId += 1;
    this.live.set(job.id, job);
    this.remembered.track(job);
    const timer = this.clock.setTimer(() => {
      this.abort(job, new EfritError('timeout', `"${spec.title}" timed out after ${Math.round(this.timeoutMs / 1000)} s (efrit.queue.timeoutMs).`));
    }, this.timeoutMs);
    job.result.finally(() => timer.cancel()).catch(() => undefined);
    this.enqueue(job, false);
    return job as Job<T>;
  }

  /** Raises a waiting job's priority (a prefetch the user has now asked for). */
  promote(jobId: string, priority: Priority): void {
    const job = this.live.get(jobId);
    if (job === undefined || priorityRank[priority] <= priorityRank[job.priority]) return;
    job.priority = priority;
    if (job.queuedIn === 'gate' && priority === 'interactive') {
      // Leave the gate's line: the gate task sees `queuedIn` changed and steps aside.
      this.addToMain(job, false);
      this.preemptForInteractive();
    } else if (job.queuedIn !== undefined) {
      (job.queuedIn === 'main' ? this.main : this.gate).setPriority(job.id, priorityRank[priority]);
    }
  }

  get(jobId: string): Job | undefined {
    return this.live.get(jobId) ?? this.remembered.get(jobId);
  }

  /** The job doing this work, if one is queued, running or finished successfully and remembered. */
  findByKey(key: string): Job | undefined {
    return this.remembered.findByKey(key);
  }

  /** The remembered results that `findByKey` reuses, as `efrit/status` reports them. */
  resultCacheStats(): { entries: number; bytes: number; hits: number; misses: number } {
    return this.remembered.stats();
  }

  /** `why` is the message a person reads; `reason` tells programs who ended the job (the client, by default). */
  cancel(jobId: string, why = 'Cancelled.', reason: ServerCancelReason = 'cancelled'): boolean {
    const job = this.live.get(jobId);
    if (job === undefined) return false;
    this.abort(job, new EfritError(reason, why));
    return true;
  }

  /** Cancels every live job that matches; returns how many. */
  cancelWhere(predicate: (job: Job) => boolean, why = 'Cancelled.', reason: ServerCancelReason = 'cancelled'): number {
    let count = 0;
    for (const job of [...this.live.values()]) {
      if (predicate(job)) {
        this.abort(job, new EfritError(reason, why));
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
      if (other.state !== 'queued') continue;
      const rankDiff = priorityRank[other.priority] - priorityRank[job.priority];
      if (rankDiff > 0 || (rankDiff === 0 && other.sequence < job.sequence)) ahead += 1;
    }
    return ahead;
  }

  snapshot(): QueueSnapshot {
    const byPriority = Object.fromEntries(priorities.map((p) => [p, { running: 0, queued: 0 }])) as QueueSnapshot['byPriority'];
    for (const job of this.live.values()) {
      if (job.state === 'running') byPriority[job.priority].running += 1;
      else byPriority[job.priority].queued += 1;
    }
    const running = priorities.reduce((n, p) => n + byPriority[p].running, 0);
    const queued = priorities.reduce((n, p) => n + byPriority[p].queued, 0);
    return {
      running,
      queued,
      concurrency: this.backoff.concurrency,
      configuredConcurrency: this.backoff.configuredConcurrency,
      byPriority,
      backoff: this.backoff.state(),
      ...this.counts,
    };
  }

  /** Settles when nothing is queued or running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.live.size > 0) await Promise.allSettled([...this.live.values()].map((job) => job.result));
    await this.main.onIdle();
  }

  private enqueue(job: Job, isRetry: boolean): void {
    if (job.priority === 'interactive') {
      this.addToMain(job, isRetry);
      this.preemptForInteractive();
      return;
    }
    job.queuedIn = 'gate';
    this.gate
      .add(
        async () => {
          // Promoted to interactive: already in the main queue, this gate place is no longer needed.
          if (job.queuedIn !== 'gate') return;
          await this.addToMain(job, isRetry);
        },
        { priority: rankOf(job, isRetry), id: job.id, signal: job.controller.signal },
      )
      .catch(() => undefined);
  }

  /** Resolves when this attempt has ended, so a gate place is held for exactly that long. */
  private addToMain(job: Job, isRetry: boolean): Promise<void> {
    job.queuedIn = 'main';
    return this.main.add(() => this.runAttempt(job), { priority: rankOf(job, isRetry), id: job.id, signal: job.controller.signal }).catch(() => undefined);
  }

  private async runAttempt(job: Job): Promise<void> {
    // Out of the main queue from now on: a promotion must not look for it there.
    job.queuedIn = undefined;
    // p-queue may start a job inside `submit`: yield once, so the submitter holds the Job (and has announced it)
    // before its work reports anything.
    await Promise.resolve();
    // Cancelled or timed out while p-queue was starting it: it never runs.
    const work = job.pendingWork;
    if (work === undefined) return;
    job.state = 'running';
    job.startedAt ??= this.clock.now();
    job.attempts += 1;
    const attempt = new AbortController();
    job.currentAttempt = attempt;
    try {
      const value = await work({ jobId: job.id, signal: AbortSignal.any([job.controller.signal, attempt.signal]) });
      // Cancelled while the call was ending: its waiters already have their answer.
      if (job.isFinished) return;
      this.finish(job, 'succeeded', value, undefined);
      this.backoff.succeeded();
    } catch (error) {
      if (!job.isFinished) this.attemptFailed(job, attempt, error);
    }
  }

  private attemptFailed(job: Job, attempt: AbortController, error: unknown): void {
    if (attempt.signal.aborted) {
      // Preempted for interactive work: wait again, keep everything else.
      job.state = 'queued';
      this.enqueue(job, true);
    } else if (isThrottle(error)) {
      this.backoff.throttled(error);
      if (job.retries < this.maxRetries) {
        job.retries += 1;
        this.counts.retries += 1;
        job.state = 'queued';
        this.enqueue(job, true);
      } else {
        this.finish(job, 'failed', undefined, withRetryCount(error, job.retries));
      }
    } else {
      this.finish(job, 'failed', undefined, error);
    }
  }

  /** Only where no slot can be reserved: an interactive job waiting aborts a running background attempt. */
  private preemptForInteractive(): void {
    if (this.backoff.concurrency > 1) return;
    // An attempt already told to stop is on its way out: it is not preempted twice.
    const victim = [...this.live.values()].find((job) => job.state === 'running' && job.priority !== 'interactive' && !job.currentAttempt.signal.aborted);
    if (victim === undefined) return;
    this.counts.preempted += 1;
    victim.currentAttempt.abort(new EfritError('cancelled', 'Paused for interactive work; it will run again.'));
  }

  private makeRoomFor(priority: Priority): void {
    let waiting = 0;
    // `live` is in submission order: the first queued background job is the oldest.
    let oldestBackground: Job | undefined;
    for (const job of this.live.values()) {
      if (job.state !== 'queued') continue;
      waiting += 1;
      if (job.priority === 'background') oldestBackground ??= job;
    }
    if (waiting < this.maxQueued) return;
    if (oldestBackground !== undefined && priority !== 'background') {
      this.counts.dropped += 1;
      this.abort(oldestBackground, new EfritError('dropped', 'Dropped: the queue was full and more urgent work arrived.'));
      return;
    }
    throw new EfritError(
      'busy',
      `efrit-lsp is busy: ${waiting} requests are already waiting (efrit.queue.maxQueued). Try again shortly, or cancel some with efrit/cancel.`,
    );
  }

  /** Ends a live job at once: its waiters hear now, whatever the running call is doing. */
  private abort(job: Job, reason: EfritError): void {
    job.controller.abort(reason);
    this.finish(job, 'cancelled', undefined, reason);
  }

  private finish(job: Job, state: 'succeeded' | 'failed' | 'cancelled', value: unknown, error: unknown): void {
    // A job leaves `live` once: the first ending stands.
    if (!this.live.delete(job.id)) return;
    job.finish(state, value, error, this.clock.now());
    job.resultBytes = approximateBytes(value);
    this.remembered.remember(job);
  }
}

function rankOf(job: Job, isRetry: boolean): number {
  return priorityRank[job.priority] + (isRetry ? retryBoost : 0);
}

/** Non-interactive jobs may fill all slots but one; with a single slot, preemption keeps it free instead. */
function gateConcurrency(concurrency: number): number {
  return Math.max(1, concurrency - 1);
}

function withRetryCount(error: EfritError, retries: number): EfritError {
  if (retries === 0) return error;
  return new EfritError(error.reason, `${error.message} (gave up after ${retries} ${retries === 1 ? 'retry' : 'retries'})`, error.retryAfterSeconds);
}
