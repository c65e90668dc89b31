/**
 * Runs `search_workspace` searches on worker threads, so that no pattern and
 * no workspace can hold up the server's own thread: a regex with nested
 * repetition can backtrack for hours on one line, and JavaScript cannot
 * interrupt a regex on the thread running it. Here the server's thread only
 * posts the search and collects its matches as they come; a search that runs
 * past its deadline, or whose job is cancelled, gets its worker terminated,
 * which V8 does even in the middle of a backtracking regex, and answers with
 * what was found until then. The next search starts a fresh worker.
 *
 * Bounds: at most `maxWorkers` searches run at once (the others wait for a
 * turn, cancellably). The deadline counts from when the search is asked for,
 * the wait for a turn included, so that however many searches an agent's
 * step asks for, they have all answered by the deadline. One finished
 * worker is kept for `keepIdleMs`, so that the next search of an agent's turn
 * skips the worker's start (a tiny search takes about 40 ms on a fresh worker
 * and 5 ms on a kept one; an idle worker holds about 9 MB: `npm run bench --
 * --only search`), then ended; an idle worker never keeps the process alive. Open documents' text is handed over in pieces of
 * `documentPieceChars`, as the worker asks for it, so that one copy never
 * takes the server's thread more than a moment, whatever the document's size.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import PQueue from 'p-queue';
import type { FromWorker, SearchJob, ToWorker } from './search-messages.js';
import { emptyCounts, type SearchCounts, type SearchMatch, type SearchStop } from './workspace-search.js';

/**
 * The worker's bundled source, set by the build (scripts/server-bundle.ts)
 * and by vitest.config.ts; run from tsc's output, the worker is the
 * `search-worker.js` beside this file instead.
 */
declare const EFRIT_SEARCH_WORKER_SOURCE: string | undefined;

/** `deadline`: stopped while it ran; `deadlineWaiting`: its time ran out before a worker was free to run it. */
export type SearchRunStop = SearchStop | 'deadline' | 'deadlineWaiting' | 'aborted' | 'failed';

export interface SearchRun extends SearchCounts {
  /** What was found, also when the search stopped early. */
  matches: SearchMatch[];
  stop: SearchRunStop;
  /** The file being searched when the search was stopped (`deadline`, `aborted`). */
  stoppedIn?: string;
  /** With `failed`: what went wrong. */
  failure?: string;
}

export interface SearchRunnerOptions {
  /** Searches running at once; more wait for a turn. @default one less than the cores, between 1 and 4 */
  maxWorkers?: number;
  /** How long a finished worker is kept for the next search. @default 30_000 */
  keepIdleMs?: number;
  /** Starts a worker running search-worker.ts. @default the worker built into the bundle */
  startWorker?: () => Worker;
  /** Calls `callback` after `ms` unless the returned function is called first; the deadline's clock. @default setTimeout */
  schedule?: (callback: () => void, ms: number) => () => void;
}

export interface SearchRunOptions {
  /** The search is stopped this long after run() is called, waiting for a turn included. */
  deadlineMs: number;
  signal?: AbortSignal | undefined;
}

/** Open documents' text is sent to the worker in pieces of this many characters (a 1M-character copy takes about a millisecond). */
export const documentPieceChars = 1 << 20;

export class SearchRunner {
  private readonly turns: PQueue;
  private readonly keepIdleMs: number;
  private readonly startWorker: () => Worker;
  private readonly schedule: (callback: () => void, ms: number) => () => void;
  private idle: { worker: Worker; timer: NodeJS.Timeout; onExit: () => void } | undefined;
  /** Every worker alive (running or idle), for close(). */
  private readonly workers = new Set<Worker>();

  constructor(options: SearchRunnerOptions = {}) {
    this.turns = new PQueue({ concurrency: options.maxWorkers ?? Math.max(1, Math.min(4, availableParallelism() - 1)) });
    this.keepIdleMs = options.keepIdleMs ?? 30_000;
    this.startWorker = options.startWorker ?? startSearchWorker;
    this.schedule = options.schedule ?? scheduleWithTimer;
  }

  /**
   * Runs one search. `documentTexts[i]` is open document i's text, taken when
   * the search was asked for, so edits made meanwhile do not mix versions.
   * Never throws: a failure is a run that stopped with `failed`.
   */
  async run(job: SearchJob, documentTexts: readonly string[], options: SearchRunOptions): Promise<SearchRun> {
    const { signal } = options;
    if (signal?.aborted === true) return { matches: [], stop: 'aborted', ...emptyCounts() };
    // Ends the wait for a turn (through p-queue) and the run alike: the job's cancel, or the deadline.
    const stop = new AbortController();
    const onAbort = (): void => stop.abort('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    const cancelDeadline = this.schedule(() => stop.abort('deadline'), options.deadlineMs);
    try {
      return await this.turns.add(() => this.runOnWorker(job, documentTexts, stop.signal), { signal: stop.signal });
    } catch (error) {
      // p-queue refuses a task whose signal turned while it waited for its turn.
      if (stop.signal.aborted) return { matches: [], stop: stop.signal.reason === 'deadline' ? 'deadlineWaiting' : 'aborted', ...emptyCounts() };
      return { matches: [], stop: 'failed', failure: error instanceof Error ? error.message : String(error), ...emptyCounts() };
    } finally {
      cancelDeadline();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Searches running or waiting for a turn. */
  get pending(): number {
    return this.turns.size + this.turns.pending;
  }

  /** Ends every worker, running or idle; searches running answer as failed. */
  async close(): Promise<void> {
    this.takeIdle();
    await Promise.all([...this.workers].map((worker) => worker.terminate()));
  }

  /** Runs the search on a worker until it ends or `stop` turns (its reason says why: `deadline` or `aborted`). */
  private runOnWorker(job: SearchJob, documentTexts: readonly string[], stop: AbortSignal): Promise<SearchRun> {
    if (stop.aborted) return Promise.resolve({ matches: [], stop: stop.reason === 'deadline' ? 'deadlineWaiting' : 'aborted', ...emptyCounts() });
    const worker = this.takeIdle() ?? this.newWorker();
    worker.ref();
    return new Promise<SearchRun>((resolve) => {
      const run: SearchRun = { matches: [], stop: 'complete', ...emptyCounts() };
      let currentFile: string | undefined;
      let settled = false;
      const finish = (why: SearchRunStop, reuse: boolean, failure?: string): void => {
        if (settled) return;
        settled = true;
        stop.removeEventListener('abort', onStop);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (reuse) this.keepIdle(worker);
        else void worker.terminate();
        const where = why === 'deadline' || why === 'aborted' ? currentFile : undefined;
        resolve({ ...run, stop: why, ...(where === undefined ? {} : { stoppedIn: where }), ...(failure === undefined ? {} : { failure }) });
      };
      const onMessage = (message: FromWorker): void => {
        switch (message.type) {
          case 'readDocument': {
            const text = documentTexts[message.document] ?? '';
            const piece = text.slice(message.from, message.from + documentPieceChars);
            const reply: ToWorker = { type: 'documentText', document: message.document, from: message.from, text: piece, last: message.from + piece.length >= text.length };
            worker.postMessage(reply);
            break;
          }
          case 'match':
            run.matches.push(message.match);
            Object.assign(run, message.counts);
            break;
          case 'progress':
            currentFile = message.file;
            Object.assign(run, message.counts);
            break;
          case 'done':
            Object.assign(run, message.counts);
            finish(message.stop, true);
            break;
          case 'failed':
            finish('failed', false, message.message);
            break;
        }
      };
      const onError = (error: Error): void => finish('failed', false, error.message);
      const onExit = (code: number): void => finish('failed', false, `the search worker stopped unexpectedly (exit code ${code})`);
      const onStop = (): void => finish(stop.reason === 'deadline' ? 'deadline' : 'aborted', false);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      stop.addEventListener('abort', onStop, { once: true });
      const start: ToWorker = { type: 'search', job };
      worker.postMessage(start);
    });
  }

  private newWorker(): Worker {
    const worker = this.startWorker();
    this.workers.add(worker);
    worker.once('exit', () => this.workers.delete(worker));
    // Anything the worker printed would land in the LSP stream on stdout: read it and drop it.
    worker.stdout?.resume();
    worker.stderr?.resume();
    return worker;
  }

  /** Keeps one finished worker for the next search; a second is ended at once. */
  private keepIdle(worker: Worker): void {
    worker.unref();
    if (this.idle !== undefined || this.keepIdleMs <= 0) {
      void worker.terminate();
      return;
    }
    const onExit = (): void => {
      if (this.idle?.worker === worker) this.takeIdle();
    };
    const timer = setTimeout(() => {
      if (this.idle?.worker === worker) void this.takeIdle()?.terminate();
    }, this.keepIdleMs);
    timer.unref();
    worker.once('exit', onExit);
    this.idle = { worker, timer, onExit };
  }

  private takeIdle(): Worker | undefined {
    const idle = this.idle;
    if (idle === undefined) return undefined;
    this.idle = undefined;
    clearTimeout(idle.timer);
    idle.worker.off('exit', idle.onExit);
    return idle.worker;
  }
}

function scheduleWithTimer(callback: () => void, ms: number): () => void {
  const timer = setTimeout(callback, ms);
  return () => clearTimeout(timer);
}

/** A worker running search-worker.ts: from the source the bundle carries, or from the file beside this one. */
export function startSearchWorker(): Worker {
  // Its own output is read and dropped (see newWorker); none of the server's node flags (an editor's --inspect, say) apply to it.
  const options = { stdout: true, stderr: true, execArgv: [] };
  if (typeof EFRIT_SEARCH_WORKER_SOURCE === 'string') return new Worker(EFRIT_SEARCH_WORKER_SOURCE, { ...options, eval: true });
  return new Worker(new URL('./search-worker.js', import.meta.url), options);
}
