import { describe, expect, it } from 'vitest';
import { JobQueue, type JobContext } from '../../server/src/queue/job-queue.js';

/** A job body the test finishes by hand, recording when it started and whether it was told to stop. */
function controllable<T>(log: string[], name: string) {
  let finish!: (value: T) => void;
  let signal: AbortSignal | undefined;
  const run = (context: JobContext) => {
    log.push(`start ${name}`);
    signal = context.signal;
    return new Promise<T>((resolve, reject) => {
      finish = resolve;
      context.signal.addEventListener('abort', () => reject(context.signal.reason));
    });
  };
  return { run, finish: (value: T) => finish(value), aborted: () => signal?.aborted ?? false };
}

describe('the job queue', () => {
  it('runs up to its concurrency and starts higher priorities first, FIFO within one', async () => {
    const queue = new JobQueue({ concurrency: 1 });
    const log: string[] = [];
    const first = controllable<string>(log, 'first');
    const jobs = [
      queue.submit({ title: 'first', priority: 'background', run: first.run }),
      queue.submit({ title: 'bg', priority: 'background', run: async () => void log.push('start bg') }),
      queue.submit({ title: 'chat 1', priority: 'interactive', run: async () => void log.push('start chat 1') }),
      queue.submit({ title: 'chat 2', priority: 'interactive', run: async () => void log.push('start chat 2') }),
    ];
    expect(queue.snapshot()).toMatchObject({ running: 1, queued: 3, byPriority: { interactive: { queued: 2 }, background: { running: 1, queued: 1 } } });
    expect(queue.aheadOf(jobs[3]?.id ?? '')).toBe(1);
    first.finish('done');
    await queue.idle();
    expect(log).toEqual(['start first', 'start chat 1', 'start chat 2', 'start bg']);
    await expect(jobs[0]?.result).resolves.toBe('done');
  });

  it('never runs a job cancelled while queued, and answers its waiter at once', async () => {
    const queue = new JobQueue({ concurrency: 1 });
    const log: string[] = [];
    const blocker = controllable<void>(log, 'blocker');
    queue.submit({ title: 'blocker', priority: 'interactive', run: blocker.run });
    const waiting = queue.submit({ title: 'waiting', priority: 'interactive', run: async () => void log.push('start waiting') });
    expect(queue.cancel(waiting.id, 'Not needed.')).toBe(true);
    await expect(waiting.result).rejects.toMatchObject({ reason: 'cancelled', message: 'Not needed.' });
    blocker.finish();
    await queue.idle();
    expect(log).toEqual(['start blocker']);
    expect(waiting.state).toBe('cancelled');
  });

  it('aborts a running job’s signal and settles it without waiting for the job', async () => {
    const queue = new JobQueue();
    const log: string[] = [];
    const body = controllable<void>(log, 'call');
    const job = queue.submit({ title: 'call', priority: 'interactive', sessionId: 's1', run: body.run });
    await new Promise((resolve) => setImmediate(resolve));
    expect(queue.cancelWhere((j) => j.spec.sessionId === 's1')).toBe(1);
    await expect(job.result).rejects.toMatchObject({ reason: 'cancelled' });
    expect(body.aborted()).toBe(true);
  });

  it('times a job out from submission, queue wait included', async () => {
    const queue = new JobQueue({ concurrency: 1, timeoutMs: 5_000 });
    const log: string[] = [];
    let release!: () => void;
    queue.submit({ title: 'slow', priority: 'interactive', run: () => new Promise<void>((resolve) => { log.push('start slow'); release = resolve; }) });
    queue.setTimeoutMs(30);
    const queued = queue.submit({ title: 'queued', priority: 'interactive', run: async () => void log.push('start queued') });
    await expect(queued.result).rejects.toMatchObject({ reason: 'timeout', message: expect.stringContaining('"queued" timed out') });
    expect(log).toEqual(['start slow']);
    release();
  });

  it('finds the job doing the same work by key, and forgets failed ones', async () => {
    const queue = new JobQueue();
    const ok = queue.submit({ title: 'fix', priority: 'interactive', key: 'fix@v1', run: async () => 'edit' });
    expect(queue.findByKey('fix@v1')).toBe(ok);
    await ok.result;
    expect(queue.findByKey('fix@v1')).toBe(ok);
    const failing = queue.submit({ title: 'fix', priority: 'interactive', key: 'fix@v2', run: async () => Promise.reject(new Error('boom')) });
    await expect(failing.result).rejects.toThrow('boom');
    expect(queue.findByKey('fix@v2')).toBeUndefined();
    expect(queue.resultCacheStats()).toMatchObject({ entries: 2, hits: 2, misses: 1 });
  });

  it('remembers a bounded number of finished jobs', async () => {
    const queue = new JobQueue({ finishedLimit: 3 });
    const jobs = Array.from({ length: 5 }, (_, i) => queue.submit({ title: `j${i}`, priority: 'background', run: async () => i }));
    await queue.idle();
    expect(jobs.map((job) => queue.get(job.id) !== undefined)).toEqual([false, false, true, true, true]);
  });
});
