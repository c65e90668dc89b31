/**
 * The search runner: searches on worker threads, ended at their deadline or
 * on abort, even in the middle of a regex that backtracks for ever, with what
 * they found until then. Deadlines fire when the test says (an injected
 * schedule), after the test has seen the worker get where it should be.
 */
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FromWorker, SearchJob } from '../../server/src/agent/search-messages.js';
import { documentPieceChars, SearchRunner, startSearchWorker, type SearchRunnerOptions } from '../../server/src/agent/search-runner.js';
import { resolveRoots, type WorkspaceRoot } from '../../server/src/agent/workspace-paths.js';

let workspace: string;
let roots: WorkspaceRoot[];

// `(x+x+)+y` finds "xxy" at once and backtracks for ever (2^40 ways) on forty x's without a y.
const explosive = '(x+x+)+y';
const explosiveLog = ['start: xxy', `${'x'.repeat(40)}`, 'never reached: xxy', ''].join('\n');

beforeAll(async () => {
  workspace = await realpath(await mkdtemp(join(tmpdir(), 'efrit-search-runner-')));
  await mkdir(join(workspace, 'src'), { recursive: true });
  await writeFile(join(workspace, 'src', 'cart.ts'), 'export function addItem(cart: string[], sku: string): string[] {\n  return [...cart, sku];\n}\n');
  await writeFile(join(workspace, 'src', 'explosive.log'), explosiveLog);
  roots = await resolveRoots([workspace]);
});

afterAll(async () => {
  await rm(workspace, { recursive: true, force: true });
});

function job(overrides: Partial<SearchJob> = {}): SearchJob {
  return {
    query: 'addItem',
    regex: false,
    caseSensitive: false,
    glob: undefined,
    maxResults: 50,
    maxFilesScanned: 1000,
    maxFileBytes: 1024 * 1024,
    allowSecretFiles: false,
    roots,
    openDocuments: [],
    ...overrides,
  };
}

/** A runner whose workers the test watches, and whose deadlines fire only when the test fires them. */
function watchedRunner(options: SearchRunnerOptions = {}) {
  const workers: Worker[] = [];
  const exited: Promise<number>[] = [];
  const messages: FromWorker[] = [];
  const waiters: { predicate: (message: FromWorker) => boolean; resolve: () => void }[] = [];
  const deadlines: (() => void)[] = [];
  const runner = new SearchRunner({
    startWorker: () => {
      const worker = startSearchWorker();
      workers.push(worker);
      exited.push(new Promise((resolve) => worker.once('exit', resolve)));
      worker.on('message', (message: FromWorker) => {
        messages.push(message);
        for (const waiter of waiters.filter((w) => w.predicate(message))) waiter.resolve();
      });
      return worker;
    },
    schedule: (callback) => {
      deadlines.push(callback);
      return () => undefined;
    },
    ...options,
  });
  return {
    runner,
    workers,
    exited,
    /** Resolves once the worker has said something that passes `predicate`. */
    heard(predicate: (message: FromWorker) => boolean): Promise<void> {
      if (messages.some(predicate)) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
    /** Fires the deadline of the `nth` search asked for (0-based). */
    fireDeadline(nth = 0): void {
      deadlines[nth]?.();
    },
  };
}

describe('SearchRunner', () => {
  it('runs a search on a worker and keeps that worker for the next search', async () => {
    const watched = watchedRunner();
    const first = await watched.runner.run(job(), [], { deadlineMs: 10_000 });
    expect(first).toMatchObject({ stop: 'complete', filesScanned: 2, filesWithMatches: 1 });
    expect(first.matches).toEqual([{ displayPath: 'src/cart.ts', line: 1, text: 'export function addItem(cart: string[], sku: string): string[] {' }]);
    const second = await watched.runner.run(job({ query: 'return', glob: '*.ts' }), [], { deadlineMs: 10_000 });
    expect(second.matches.map((match) => `${match.displayPath}:${match.line}`)).toEqual(['src/cart.ts:2']);
    expect(watched.workers).toHaveLength(1);
    await watched.runner.close();
  });

  it('terminates a worker stuck in a backtracking regex at the deadline, keeping the matches found before', async () => {
    const watched = watchedRunner();
    const running = watched.runner.run(job({ query: explosive, regex: true, glob: '*.log' }), [], { deadlineMs: 2_000 });
    await watched.heard((message) => message.type === 'match');
    watched.fireDeadline();

    const run = await running;
    expect(run.stop).toBe('deadline');
    expect(run.stoppedIn).toBe('src/explosive.log');
    expect(run.matches).toEqual([{ displayPath: 'src/explosive.log', line: 1, text: 'start: xxy' }]);
    expect(run.filesScanned).toBe(1);
    // The worker is gone (V8 interrupted the regex), and the next search gets a fresh one.
    expect(await watched.exited[0]).toBe(1);
    const next = await watched.runner.run(job(), [], { deadlineMs: 10_000 });
    expect(next.stop).toBe('complete');
    expect(watched.workers).toHaveLength(2);
    await watched.runner.close();
  });

  it('terminates the worker when the signal aborts mid-regex', async () => {
    const watched = watchedRunner();
    const controller = new AbortController();
    const running = watched.runner.run(job({ query: explosive, regex: true, glob: '*.log' }), [], { deadlineMs: 10_000, signal: controller.signal });
    await watched.heard((message) => message.type === 'match');
    controller.abort();

    expect(await running).toMatchObject({ stop: 'aborted', stoppedIn: 'src/explosive.log' });
    expect(await watched.exited[0]).toBe(1);
    await watched.runner.close();
  });

  it('answers an already aborted search without starting a worker', async () => {
    const watched = watchedRunner();
    const controller = new AbortController();
    controller.abort();
    expect((await watched.runner.run(job(), [], { deadlineMs: 10_000, signal: controller.signal })).stop).toBe('aborted');
    expect(watched.workers).toHaveLength(0);
  });

  it('runs at most maxWorkers searches at once; one waiting for its turn can be cancelled and never starts', async () => {
    const watched = watchedRunner({ maxWorkers: 1 });
    const stuck = watched.runner.run(job({ query: explosive, regex: true, glob: '*.log' }), [], { deadlineMs: 10_000 });
    await watched.heard((message) => message.type === 'match');
    const controller = new AbortController();
    const waiting = watched.runner.run(job(), [], { deadlineMs: 10_000, signal: controller.signal });
    expect(watched.runner.pending).toBe(2);
    controller.abort();

    expect((await waiting).stop).toBe('aborted');
    expect(watched.workers).toHaveLength(1);
    watched.fireDeadline();
    expect((await stuck).stop).toBe('deadline');
    await watched.runner.close();
  });

  it('counts the deadline from when the search is asked for: one that waited it out answers without running', async () => {
    const watched = watchedRunner({ maxWorkers: 1 });
    const stuck = watched.runner.run(job({ query: explosive, regex: true, glob: '*.log' }), [], { deadlineMs: 10_000 });
    await watched.heard((message) => message.type === 'match');
    const waiting = watched.runner.run(job(), [], { deadlineMs: 10_000 });
    watched.fireDeadline(1);

    expect(await waiting).toMatchObject({ stop: 'deadlineWaiting', matches: [], filesScanned: 0 });
    expect(watched.workers).toHaveLength(1);
    watched.fireDeadline(0);
    expect((await stuck).stop).toBe('deadline');
    await watched.runner.close();
  });

  it('ends an idle worker after keepIdleMs', async () => {
    const watched = watchedRunner({ keepIdleMs: 10 });
    expect((await watched.runner.run(job(), [], { deadlineMs: 10_000 })).stop).toBe('complete');
    expect(await watched.exited[0]).toBe(1);
  });

  it("reads open documents' text from the server's thread in pieces, numbering lines across them", async () => {
    const watched = watchedRunner();
    // Past two pieces, with a \r\n split between the first and the second.
    const firstLine = `// ${'x'.repeat(documentPieceChars - 4)}`;
    const fillerLines = Math.ceil((1.5 * documentPieceChars) / 'const filler = 0;\n'.length);
    const text = `${firstLine}\r\n${'const filler = 0;\n'.repeat(fillerLines)}export const total = 42;\n`;
    expect(text.slice(documentPieceChars - 1, documentPieceChars + 1)).toBe('\r\n');
    expect(text.length).toBeGreaterThan(2 * documentPieceChars);

    const open = [{ lexicalPath: join(workspace, 'src', 'big.ts'), realPath: undefined, root: 0, displayPath: 'src/big.ts' }];
    const run = await watched.runner.run(job({ query: 'export const total', openDocuments: open }), [text], { deadlineMs: 10_000 });
    expect(run.matches).toEqual([{ displayPath: 'src/big.ts', line: fillerLines + 2, text: 'export const total = 42;' }]);
    expect(run.filesScanned).toBe(3);
    await watched.runner.close();
  });

  it('answers as failed, never throws, when the worker dies', async () => {
    const runner = new SearchRunner({ startWorker: () => new Worker('process.exit(3)', { eval: true }) });
    const run = await runner.run(job(), [], { deadlineMs: 10_000 });
    expect(run.stop).toBe('failed');
    expect(run.failure).toContain('exit code 3');
  });
});
