import { describe, expect, it } from 'vitest';
import { EfritError } from '../../server/src/errors.js';
import { JobQueue, type JobContext } from '../../server/src/queue/job-queue.js';
import { ManualClock, tick } from '../support/manual-clock.js';

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
  it('starts higher priorities first and keeps FIFO within one', async () => {
    const queue = new JobQueue({ concurrency: 2 });
    const log: string[] = [];
    const chat = controllable<string>(log, 'chat 0');
    const bulk = controllable<string>(log, 'bulk 0');
    const jobs = [
      queue.submit({ title: 'chat 0', priority: 'interactive', run: chat.run }),
      queue.submit({ title: 'bulk 0', priority: 'background', run: bulk.run }),
      queue.submit({ title: 'bulk 1', priority: 'background', run: async () => void log.push('start bulk 1') }),
      queue.submit({ title: 'chat 1', priority: 'interactive', run: async () => void log.push('start chat 1') }),
      queue.submit({ title: 'chat 2', priority: 'interactive', run: async () => void log.push('start chat 2') }),
    ];
    await tick();
    expect(queue.snapshot()).toMatchObject({ running: 2, queued: 3, byPriority: { interactive: { running: 1, queued: 2 }, background: { running: 1, queued: 1 } } });
    expect(queue.aheadOf(jobs[4]?.id ?? '')).toBe(1);
    chat.finish('answered');
    await tick();
    bulk.finish('done');
    await queue.idle();
    expect(log).toEqual(['start chat 0', 'start bulk 0', 'start chat 1', 'start chat 2', 'start bulk 1']);
    await expect(jobs[1]?.result).resolves.toBe('done');
  });

  it('keeps a slot for interactive work however much background work is queued', async () => {
    const queue = new JobQueue({ concurrency: 4 });
    const log: string[] = [];
    const background = Array.from({ length: 32 }, (_, i) => controllable<void>(log, `bg ${i}`));
    for (const [i, body] of background.entries()) queue.submit({ title: `bg ${i}`, priority: 'background', run: body.run });
    await tick();
    expect(queue.snapshot().byPriority.background).toEqual({ running: 3, queued: 29 });
    const chat = queue.submit({ title: 'chat', priority: 'interactive', run: async () => void log.push('start chat') });
    await chat.result;
    expect(log).toEqual(['start bg 0', 'start bg 1', 'start bg 2', 'start chat']);
    queue.cancelWhere(() => true);
  });

  it('with a single slot, preempts background work for interactive work and runs it again later', async () => {
    const queue = new JobQueue({ concurrency: 1 });
    const log: string[] = [];
    let attempts = 0;
    const background = queue.submit({
      title: 'prefetch',
      priority: 'background',
      run: ({ signal }) => {
        attempts += 1;
        log.push(`start prefetch #${attempts}`);
        if (attempts > 1) return Promise.resolve('fixed');
        return new Promise<string>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
    });
    await tick();
    const chat = queue.submit({ title: 'chat', priority: 'interactive', run: async () => void log.push('start chat') });
    await chat.result;
    await expect(background.result).resolves.toBe('fixed');
    expect(log).toEqual(['start prefetch #1', 'start chat', 'start prefetch #2']);
    expect(queue.snapshot()).toMatchObject({ preempted: 1 });
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

  it('says who ended a job: the reason given to cancel reaches its waiter and the running work', async () => {
    const queue = new JobQueue();
    const log: string[] = [];
    const body = controllable<void>(log, 'turn');
    let seen: unknown;
    const job = queue.submit({
      title: 'turn',
      priority: 'interactive',
      sessionId: 's1',
      run: async (context) => {
        context.signal.addEventListener('abort', () => (seen = context.signal.reason));
        return body.run(context);
      },
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(queue.cancelWhere((j) => j.spec.sessionId === 's1', 'The session ended.', 'sessionEnded')).toBe(1);
    await expect(job.result).rejects.toMatchObject({ reason: 'sessionEnded', message: 'The session ended.' });
    expect(seen).toMatchObject({ reason: 'sessionEnded' });
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
    // A failure is no result to reuse: it takes no cache entry, yet its job can still be asked how it ended.
    expect(queue.resultCacheStats()).toMatchObject({ entries: 1, hits: 2, misses: 1 });
    expect(queue.get(failing.id)?.state).toBe('failed');
  });

  it('keeps a run of failures from pushing finished results out of the cache', async () => {
    const queue = new JobQueue({ finishedLimit: 2 });
    const kept = [queue.submit({ title: 'fix a', priority: 'interactive', key: 'a', run: async () => 'edit a' }), queue.submit({ title: 'fix b', priority: 'interactive', key: 'b', run: async () => 'edit b' })];
    await queue.idle();
    for (let i = 0; i < 100; i++) {
      const failing = queue.submit({ title: `chat ${i}`, priority: 'interactive', run: async () => Promise.reject(new EfritError('unauthorized', 'The API refused the key (401).')) });
      await failing.result.catch(() => undefined);
    }
    expect(kept.map((job) => queue.findByKey(job.spec.key as string))).toEqual(kept);
    expect(queue.resultCacheStats().entries).toBe(2);
  });

  it('remembers a bounded number of finished jobs', async () => {
    const queue = new JobQueue({ finishedLimit: 3 });
    const jobs = Array.from({ length: 5 }, (_, i) => queue.submit({ title: `j${i}`, priority: 'background', run: async () => i }));
    await queue.idle();
    expect(jobs.map((job) => queue.get(job.id) !== undefined)).toEqual([false, false, true, true, true]);
  });
});

const throttled = (reason: 'rateLimited' | 'overloaded', retryAfterSeconds?: number) =>
  new EfritError(reason, reason === 'rateLimited' ? 'The API is rate limiting requests (429).' : 'The API is overloaded (529).', retryAfterSeconds);

describe('the shared backoff', () => {
  it('holds every job back for retry-after, retries the refused one, and halves concurrency', async () => {
    const clock = new ManualClock();
    const queue = new JobQueue({ concurrency: 4, clock });
    const calls: string[] = [];
    let refuse = true;
    const call = (name: string) => async () => {
      calls.push(name);
      if (name === 'a' && refuse) {
        refuse = false;
        throw throttled('rateLimited', 2);
      }
      return name;
    };
    const a = queue.submit({ title: 'a', priority: 'interactive', run: call('a') });
    await tick();
    expect(calls).toEqual(['a']);
    const b = queue.submit({ title: 'b', priority: 'interactive', run: call('b') });
    await tick();
    // Backoff in force: nothing starts, not even the new job.
    expect(calls).toEqual(['a']);
    expect(queue.snapshot()).toMatchObject({ concurrency: 2, configuredConcurrency: 4, backoff: { active: true, reason: 'rate limited (429)' }, retries: 1 });
    await clock.advance(2_000);
    await clock.advance(100);
    await expect(a.result).resolves.toBe('a');
    await expect(b.result).resolves.toBe('b');
    expect(calls).toEqual(['a', 'a', 'b']);
    expect(queue.snapshot().backoff.active).toBe(false);
  });

  it('backs off exponentially without retry-after and gives up after maxRetries', async () => {
    const clock = new ManualClock();
    const queue = new JobQueue({ concurrency: 2, clock, maxRetries: 2, backoffBaseMs: 1_000 });
    let calls = 0;
    const job = queue.submit({
      title: 'busy API',
      priority: 'interactive',
      run: async () => {
        calls += 1;
        throw throttled('overloaded');
      },
    });
    await tick();
    expect(calls).toBe(1);
    expect(queue.snapshot().backoff.remainingMs).toBe(750); // 1 s × jitter 0.75
    await clock.advance(750);
    expect(calls).toBe(2);
    expect(queue.snapshot().backoff.remainingMs).toBe(1_500); // 2 s × 0.75
    await clock.advance(1_500);
    expect(calls).toBe(3);
    await expect(job.result).rejects.toMatchObject({ reason: 'overloaded', message: expect.stringContaining('gave up after 2 retries') });
  });

  it('grows concurrency back by one per window of successes', async () => {
    const clock = new ManualClock();
    const queue = new JobQueue({ concurrency: 4, clock });
    let refuse = true;
    queue.submit({
      title: 'refused once',
      priority: 'interactive',
      run: async () => {
        if (refuse) {
          refuse = false;
          throw throttled('rateLimited', 1);
        }
      },
    });
    await tick();
    expect(queue.snapshot().concurrency).toBe(2);
    await clock.advance(1_100);
    for (let i = 0; i < 6; i++) await queue.submit({ title: `ok ${i}`, priority: 'interactive', run: async () => i }).result;
    expect(queue.snapshot().concurrency).toBe(4);
  });
});

describe('supersession, bounds and promotion', () => {
  it('cancels the older job when a newer one supersedes it', async () => {
    const queue = new JobQueue();
    const log: string[] = [];
    const older = queue.submit({ title: 'explain v1', priority: 'interactive', supersedes: 'explain:lowStock', run: controllable<string>(log, 'v1').run });
    await tick();
    const newer = queue.submit({ title: 'explain v2', priority: 'interactive', supersedes: 'explain:lowStock', run: async () => 'v2 explained' });
    await expect(older.result).rejects.toMatchObject({ reason: 'superseded', message: expect.stringContaining('Superseded') });
    await expect(newer.result).resolves.toBe('v2 explained');
    expect(queue.snapshot().superseded).toBe(1);
  });

  it('drops the oldest background job when full, and refuses interactive work clearly when nothing can go', async () => {
    const queue = new JobQueue({ concurrency: 2, maxQueued: 2 });
    const log: string[] = [];
    queue.submit({ title: 'chat 0', priority: 'interactive', run: controllable<void>(log, 'chat 0').run });
    queue.submit({ title: 'bg 0', priority: 'background', run: controllable<void>(log, 'bg 0').run });
    await tick();
    const bg1 = queue.submit({ title: 'bg 1', priority: 'background', run: controllable<void>(log, 'bg 1').run });
    queue.submit({ title: 'chat 1', priority: 'interactive', run: controllable<void>(log, 'chat 1').run });
    const chat2 = queue.submit({ title: 'chat 2', priority: 'interactive', run: controllable<void>(log, 'chat 2').run });
    await expect(bg1.result).rejects.toMatchObject({ reason: 'dropped', message: expect.stringContaining('Dropped') });
    expect(() => queue.submit({ title: 'chat 3', priority: 'interactive', run: async () => undefined })).toThrow(/busy: 2 requests are already waiting/);
    expect(queue.snapshot()).toMatchObject({ dropped: 1, queued: 2 });
    queue.cancelWhere(() => true);
    await expect(chat2.result).rejects.toMatchObject({ reason: 'cancelled' });
  });

  it('moves a waiting background job to the front when the user asks for it', async () => {
    const queue = new JobQueue({ concurrency: 2 });
    const log: string[] = [];
    const blockers = [controllable<void>(log, 'bg 0'), controllable<void>(log, 'chat 0')];
    queue.submit({ title: 'bg 0', priority: 'background', run: (blockers[0] as ReturnType<typeof controllable<void>>).run });
    queue.submit({ title: 'chat 0', priority: 'interactive', run: (blockers[1] as ReturnType<typeof controllable<void>>).run });
    await tick();
    queue.submit({ title: 'bg 1', priority: 'background', run: async () => void log.push('start bg 1') });
    const prefetch = queue.submit({ title: 'prefetched fix', priority: 'background', run: async () => void log.push('start prefetched fix') });
    queue.promote(prefetch.id, 'interactive');
    expect(prefetch.priority).toBe('interactive');
    blockers[1]?.finish();
    await prefetch.result;
    expect(log).toEqual(['start bg 0', 'start chat 0', 'start prefetched fix']);
    queue.cancelWhere(() => true);
  });
});
