import { describe, expect, it } from 'vitest';
import { EfritError } from '../../server/src/common/errors.js';
import { JobQueue, type JobContext } from '../../server/src/queue/job-queue.js';
import { ManualClock, tick } from '../support/manual-clock.js';

/** A job body the test finishes by hand, recording when it started and whether (and why) it was told to stop. */
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
  return { run, finish: (value: T) => finish(value), aborted: () => signal?.aborted ?? false, stopReason: () => signal?.reason as unknown };
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
    // 'edit' is 4 characters at two bytes each.
    expect(queue.resultCacheStats()).toEqual({ entries: 1, bytes: 8, hits: 2, misses: 1 });
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
    expect(() => queue.submit({ title: 'chat 3', priority: 'interactive', run: async () => undefined })).toThrow(
      expect.objectContaining({ reason: 'busy', message: expect.stringContaining('busy: 2 requests are already waiting') }),
    );
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

/** A job body that ignores its signal and ends when the test says: a call that finishes whatever happens meanwhile. */
function deferred<T>() {
  let settle!: { resolve(value: T): void; reject(error: unknown): void };
  const run = () => new Promise<T>((resolve, reject) => (settle = { resolve, reject }));
  return { run, resolve: (value: T) => settle.resolve(value), reject: (error: unknown) => settle.reject(error) };
}

/** A job body refused with 429 the first time, answering after that. */
function refusedOnce(log: string[], name: string, retryAfterSeconds = 1) {
  let refused = false;
  return async () => {
    log.push(name);
    if (!refused) {
      refused = true;
      throw throttled('rateLimited', retryAfterSeconds);
    }
    return name;
  };
}

describe('a job, from submission to its end', () => {
  it('says what it is, where it is and how many attempts it took', async () => {
    const clock = new ManualClock();
    const queue = new JobQueue({ clock });
    await clock.advance(1_000);
    const seen: string[] = [];
    let refused = false;
    const job = queue.submit({
      title: 'Fix: typo in lowStock',
      priority: 'interactive',
      run: async () => {
        seen.push(job.state);
        if (!refused) {
          refused = true;
          throw throttled('rateLimited', 1);
        }
        return 'fixed';
      },
    });
    expect(job).toMatchObject({ title: 'Fix: typo in lowStock', state: 'queued', submittedAt: 1_000, attempts: 0, startedAt: undefined });
    expect(job.isFinished).toBe(false);
    await tick();
    expect(job).toMatchObject({ state: 'queued', attempts: 1, retries: 1, startedAt: 1_000 });
    expect(job.isFinished).toBe(false);
    await clock.advance(1_050);
    await expect(job.result).resolves.toBe('fixed');
    expect(seen).toEqual(['running', 'running']);
    // Started when it first ran; finished when the retry answered.
    expect(job).toMatchObject({ state: 'succeeded', attempts: 2, retries: 1, startedAt: 1_000, finishedAt: 2_050 });
    expect(job.isFinished).toBe(true);
  });

  it('never runs a job cancelled as it was submitted, and cancels a job only once', async () => {
    const queue = new JobQueue();
    const log: string[] = [];
    const job = queue.submit({ title: 'explain', priority: 'interactive', run: async () => void log.push('ran') });
    expect(queue.cancel(job.id)).toBe(true);
    await expect(job.result).rejects.toMatchObject({ reason: 'cancelled', message: 'Cancelled.' });
    await queue.idle();
    expect(log).toEqual([]);
    expect(job).toMatchObject({ state: 'cancelled', attempts: 0, startedAt: undefined });
    expect(job.isFinished).toBe(true);
    expect(queue.cancel(job.id)).toBe(false);
    expect(queue.cancel('job-404')).toBe(false);
  });

  it('cancels only the jobs that match, saying "Cancelled." unless told why', async () => {
    const queue = new JobQueue();
    const log: string[] = [];
    const first = queue.submit({ title: 'chat', priority: 'interactive', sessionId: 's1', run: controllable<void>(log, 'chat s1').run });
    const other = queue.submit({ title: 'chat', priority: 'interactive', sessionId: 's2', run: controllable<void>(log, 'chat s2').run });
    await tick();
    expect(queue.cancelWhere((job) => job.spec.sessionId === 's1')).toBe(1);
    await expect(first.result).rejects.toMatchObject({ reason: 'cancelled', message: 'Cancelled.' });
    expect(other.state).toBe('running');
    queue.cancelWhere(() => true);
  });

  it('answers `get` for live jobs and for finished ones it remembers', async () => {
    const queue = new JobQueue();
    const log: string[] = [];
    const running = queue.submit({ title: 'chat', priority: 'interactive', run: controllable<void>(log, 'chat').run });
    const done = queue.submit({ title: 'fix', priority: 'interactive', run: async () => 'edit' });
    const failed = queue.submit({ title: 'fix', priority: 'interactive', run: async () => Promise.reject(new EfritError('unauthorized', 'The API refused the key (401).')) });
    await done.result;
    await failed.result.catch(() => undefined);
    expect([queue.get(running.id), queue.get(done.id), queue.get(failed.id), queue.get('job-404')]).toEqual([running, done, failed, undefined]);
    queue.cancelWhere(() => true);
  });

  it('fails at once on an error that is not a throttle: no retry, no hold-back', async () => {
    const queue = new JobQueue({ clock: new ManualClock() });
    let calls = 0;
    const job = queue.submit({
      title: 'chat',
      priority: 'interactive',
      run: async () => {
        calls += 1;
        throw new EfritError('unauthorized', 'The API refused the key (401).');
      },
    });
    await expect(job.result).rejects.toMatchObject({ reason: 'unauthorized', message: 'The API refused the key (401).' });
    expect(calls).toBe(1);
    expect(job.state).toBe('failed');
    expect(queue.snapshot()).toMatchObject({ concurrency: 4, retries: 0, backoff: { active: false } });
  });

  it('waits in `idle` until the running jobs have finished', async () => {
    const queue = new JobQueue();
    const log: string[] = [];
    const body = controllable<void>(log, 'chat');
    queue.submit({ title: 'chat', priority: 'interactive', run: body.run });
    let idle = false;
    const settled = queue.idle().then(() => (idle = true));
    await tick();
    expect(idle).toBe(false);
    body.finish();
    await settled;
    expect(queue.snapshot()).toMatchObject({ running: 0, queued: 0 });
  });
});

describe('timeouts', () => {
  it('ends a job timeoutMs after submission, saying which setting to raise, and stops its call', async () => {
    const clock = new ManualClock();
    const queue = new JobQueue({ concurrency: 1, timeoutMs: 5_000, clock });
    const log: string[] = [];
    const body = controllable<void>(log, 'slow');
    const job = queue.submit({ title: 'slow', priority: 'interactive', run: body.run });
    await clock.advance(4_999);
    expect(job.state).toBe('running');
    await clock.advance(1);
    expect(job.state).toBe('cancelled');
    await expect(job.result).rejects.toMatchObject({ reason: 'timeout', message: '"slow" timed out after 5 s (efrit.queue.timeoutMs).' });
    expect(body.aborted()).toBe(true);
  });

  it('leaves no timer behind once a job has finished', async () => {
    const clock = new ManualClock();
    const queue = new JobQueue({ clock });
    await queue.submit({ title: 'fix', priority: 'interactive', run: async () => 'edit' }).result;
    await tick();
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('settings', () => {
  it('has defaults: 4 slots, 1 s first backoff, 3 retries, 2 minutes to finish, 256 results', async () => {
    const clock = new ManualClock();
    const queue = new JobQueue({ clock });
    expect(queue.snapshot()).toMatchObject({ concurrency: 4, configuredConcurrency: 4 });
    const refused = queue.submit({ title: 'refused', priority: 'interactive', run: async () => Promise.reject(throttled('overloaded')) });
    await tick();
    expect(queue.snapshot().backoff.remainingMs).toBe(750);
    await clock.advance(750);
    await clock.advance(1_500);
    await clock.advance(3_000);
    await expect(refused.result).rejects.toMatchObject({ message: 'The API is overloaded (529). (gave up after 3 retries)' });

    const log: string[] = [];
    const slow = queue.submit({ title: 'slow', priority: 'interactive', run: controllable<void>(log, 'slow').run });
    await clock.advance(119_999);
    expect(slow.state).toBe('running');
    await clock.advance(1);
    await expect(slow.result).rejects.toMatchObject({ message: '"slow" timed out after 120 s (efrit.queue.timeoutMs).' });

    const jobs = [];
    for (let i = 0; i < 257; i++) {
      const job = queue.submit({ title: `fix ${i}`, priority: 'interactive', run: async () => i });
      jobs.push(job);
      await job.result;
    }
    expect(queue.get(jobs[0]?.id ?? '')).toBeUndefined();
    expect(queue.get(jobs[1]?.id ?? '')?.state).toBe('succeeded');
  });

  it('lets 128 requests wait by default', async () => {
    const queue = new JobQueue({ concurrency: 1 });
    const log: string[] = [];
    queue.submit({ title: 'blocker', priority: 'interactive', run: controllable<void>(log, 'blocker').run });
    await tick();
    for (let i = 0; i < 128; i++) queue.submit({ title: `chat ${i}`, priority: 'interactive', run: async () => undefined });
    expect(() => queue.submit({ title: 'one more', priority: 'interactive', run: async () => undefined })).toThrow(
      expect.objectContaining({ reason: 'busy', message: expect.stringContaining('128 requests are already waiting') }),
    );
    queue.cancelWhere(() => true);
  });

  it('applies only the settings it is given', async () => {
    const clock = new ManualClock();
    const queue = new JobQueue({ concurrency: 2, timeoutMs: 5_000, maxQueued: 1, maxRetries: 1, clock });
    queue.configure({ concurrency: 4 });
    expect(queue.snapshot()).toMatchObject({ concurrency: 4, configuredConcurrency: 4 });
    const log: string[] = [];
    const slow = queue.submit({ title: 'slow', priority: 'interactive', run: controllable<void>(log, 'slow').run });
    await tick();
    const refused = queue.submit({ title: 'refused', priority: 'interactive', run: async () => Promise.reject(throttled('rateLimited', 1)) });
    await tick();
    // The retry waits: one request, as many as may.
    expect(queue.snapshot()).toMatchObject({ queued: 1, concurrency: 2 });
    expect(() => queue.submit({ title: 'chat', priority: 'interactive', run: async () => undefined })).toThrow(expect.objectContaining({ reason: 'busy' }));
    await clock.advance(1_050);
    await expect(refused.result).rejects.toMatchObject({ message: 'The API is rate limiting requests (429). (gave up after 1 retry)' });
    expect(slow.state).toBe('running');
    await clock.advance(3_950);
    expect(slow.state).toBe('cancelled');
    await expect(slow.result).rejects.toMatchObject({ reason: 'timeout' });
  });

  it('applies each new setting', async () => {
    const clock = new ManualClock();
    const queue = new JobQueue({ concurrency: 1, timeoutMs: 5_000, maxQueued: 1, maxRetries: 1, clock });
    queue.configure({ maxRetries: 0, maxQueued: 2, timeoutMs: 2_000 });
    queue.setConcurrency(2);
    expect(queue.snapshot()).toMatchObject({ concurrency: 2, configuredConcurrency: 2 });
    const log: string[] = [];
    const chat = (title: string) => queue.submit({ title, priority: 'interactive', run: controllable<void>(log, title).run });
    const first = chat('chat 0');
    chat('chat 1');
    await tick();
    chat('chat 2');
    chat('chat 3');
    await tick();
    expect(queue.snapshot()).toMatchObject({ running: 2, queued: 2 });
    await clock.advance(2_000);
    expect(first.state).toBe('cancelled');
    await expect(first.result).rejects.toMatchObject({ message: '"chat 0" timed out after 2 s (efrit.queue.timeoutMs).' });
    const refused = queue.submit({ title: 'refused', priority: 'interactive', run: async () => Promise.reject(throttled('overloaded')) });
    await expect(refused.result).rejects.toMatchObject({ message: 'The API is overloaded (529).' });
  });
});

describe('order and the reserved slot', () => {
  it('lets completion work through the gate before background work', async () => {
    const queue = new JobQueue({ concurrency: 2 });
    const log: string[] = [];
    const prefetch = controllable<void>(log, 'prefetch 0');
    queue.submit({ title: 'prefetch 0', priority: 'background', run: prefetch.run });
    queue.submit({ title: 'prefetch 1', priority: 'background', run: async () => void log.push('start prefetch 1') });
    const completion = queue.submit({ title: 'completion', priority: 'completion', run: async () => void log.push('start completion') });
    await tick();
    prefetch.finish();
    await completion.result;
    await queue.idle();
    expect(log).toEqual(['start prefetch 0', 'start completion', 'start prefetch 1']);
  });

  it('says how many queued jobs will start first', async () => {
    const queue = new JobQueue({ concurrency: 1 });
    const log: string[] = [];
    const submit = (title: string, priority: 'interactive' | 'completion' | 'background') => queue.submit({ title, priority, run: controllable<void>(log, title).run });
    const running = submit('chat 0', 'interactive');
    await tick();
    const [bg1, chat1, completion1, chat2, bg2] = [submit('bg 1', 'background'), submit('chat 1', 'interactive'), submit('completion 1', 'completion'), submit('chat 2', 'interactive'), submit('bg 2', 'background')];
    const ahead = (job: { id: string } | undefined) => queue.aheadOf(job?.id ?? '');
    expect([ahead(chat1), ahead(chat2), ahead(completion1), ahead(bg1), ahead(bg2)]).toEqual([0, 1, 2, 3, 4]);
    expect([ahead(running), queue.aheadOf('job-404')]).toEqual([0, 0]);
    expect(queue.snapshot()).toMatchObject({
      running: 1,
      queued: 5,
      byPriority: { interactive: { running: 1, queued: 2 }, completion: { running: 0, queued: 1 }, background: { running: 0, queued: 2 } },
    });
    queue.cancelWhere(() => true);
  });

  it('retries a job refused with 429 before the jobs of its priority queued after it, and says it waits', async () => {
    const clock = new ManualClock();
    const queue = new JobQueue({ concurrency: 1, clock });
    const log: string[] = [];
    const refused = queue.submit({ title: 'a', priority: 'interactive', run: refusedOnce(log, 'a') });
    const later = queue.submit({ title: 'b', priority: 'interactive', run: async () => void log.push('b') });
    await tick();
    expect(refused.state).toBe('queued');
    expect(queue.aheadOf(later.id)).toBe(1);
    await clock.advance(1_050);
    await later.result;
    expect(log).toEqual(['a', 'a', 'b']);
  });

  it('halves the slots in use after a throttle, the gate’s with them', async () => {
    const clock = new ManualClock();
    const queue = new JobQueue({ concurrency: 4, clock });
    const refused = queue.submit({ title: 'refused once', priority: 'interactive', run: refusedOnce([], 'refused') });
    await tick();
    await clock.advance(1_050);
    await refused.result;
    expect(queue.snapshot().concurrency).toBe(2);
    const log: string[] = [];
    for (const title of ['bg 0', 'bg 1', 'bg 2']) queue.submit({ title, priority: 'background', run: controllable<void>(log, title).run });
    for (const title of ['chat 0', 'chat 1']) queue.submit({ title, priority: 'interactive', run: controllable<void>(log, title).run });
    await tick();
    expect(queue.snapshot().byPriority).toMatchObject({ background: { running: 1, queued: 2 }, interactive: { running: 1, queued: 1 } });
    queue.cancelWhere(() => true);
  });
});

describe('preemption (a single slot)', () => {
  it('tells the preempted work why, and runs it again before background work queued after it', async () => {
    const queue = new JobQueue({ concurrency: 1 });
    const log: string[] = [];
    const first = controllable<string>(log, 'prefetch a');
    let attempts = 0;
    const a = queue.submit({
      title: 'prefetch a',
      priority: 'background',
      run: (context) => {
        attempts += 1;
        return attempts === 1 ? first.run(context) : Promise.resolve(String(log.push('start prefetch a again')));
      },
    });
    const b = queue.submit({ title: 'prefetch b', priority: 'background', run: async () => void log.push('start prefetch b') });
    await tick();
    const asked = controllable<void>(log, 'chat');
    const chat = queue.submit({ title: 'chat', priority: 'interactive', run: asked.run });
    await tick();
    // Waiting again, first of the background work.
    expect(a.state).toBe('queued');
    expect(queue.aheadOf(a.id)).toBe(0);
    asked.finish();
    await chat.result;
    await Promise.all([a.result, b.result]);
    expect(first.stopReason()).toMatchObject({ reason: 'cancelled', message: 'Paused for interactive work; it will run again.' });
    expect(log).toEqual(['start prefetch a', 'start chat', 'start prefetch a again', 'start prefetch b']);
  });

  it('counts one preemption when two interactive requests arrive together', async () => {
    const queue = new JobQueue({ concurrency: 1 });
    const log: string[] = [];
    queue.submit({ title: 'prefetch', priority: 'background', run: controllable<void>(log, 'prefetch').run });
    await tick();
    queue.submit({ title: 'chat 0', priority: 'interactive', run: async () => undefined });
    queue.submit({ title: 'chat 1', priority: 'interactive', run: async () => undefined });
    expect(queue.snapshot().preempted).toBe(1);
    queue.cancelWhere(() => true);
  });

  it('never preempts interactive work, and counts no waiting job as preempted', async () => {
    const queue = new JobQueue({ concurrency: 1 });
    const log: string[] = [];
    const chat = controllable<void>(log, 'chat 0');
    queue.submit({ title: 'chat 0', priority: 'interactive', run: chat.run });
    await tick();
    queue.submit({ title: 'prefetch', priority: 'background', run: controllable<void>(log, 'prefetch').run });
    queue.submit({ title: 'chat 1', priority: 'interactive', run: controllable<void>(log, 'chat 1').run });
    await tick();
    expect(chat.aborted()).toBe(false);
    expect(queue.snapshot()).toMatchObject({ preempted: 0, running: 1 });
    queue.cancelWhere(() => true);
  });

  it('does not preempt where a slot is reserved', async () => {
    const queue = new JobQueue({ concurrency: 2 });
    const log: string[] = [];
    const prefetch = controllable<void>(log, 'prefetch');
    const running = queue.submit({ title: 'prefetch', priority: 'background', run: prefetch.run });
    queue.submit({ title: 'chat 0', priority: 'interactive', run: controllable<void>(log, 'chat 0').run });
    await tick();
    queue.submit({ title: 'chat 1', priority: 'interactive', run: controllable<void>(log, 'chat 1').run });
    await tick();
    expect(prefetch.aborted()).toBe(false);
    expect(queue.snapshot().preempted).toBe(0);
    // Running: nothing is ahead of it, though more urgent work waits.
    expect(queue.aheadOf(running.id)).toBe(0);
    queue.cancelWhere(() => true);
  });
});

describe('promotion', () => {
  it('ignores a promotion to the same or a lower priority, and of a job it does not hold', async () => {
    const queue = new JobQueue({ concurrency: 1 });
    const log: string[] = [];
    queue.submit({ title: 'chat', priority: 'interactive', run: controllable<void>(log, 'chat').run });
    const completion = queue.submit({ title: 'completion', priority: 'completion', run: controllable<void>(log, 'completion').run });
    queue.promote(completion.id, 'background');
    expect(completion.priority).toBe('completion');
    expect(() => queue.promote('job-404', 'interactive')).not.toThrow();
    queue.cancelWhere(() => true);
  });

  it('keeps a retried job ahead of its priority when the same work is asked for again', async () => {
    const clock = new ManualClock();
    const queue = new JobQueue({ concurrency: 1, clock });
    const log: string[] = [];
    const refused = queue.submit({ title: 'a', priority: 'interactive', run: refusedOnce(log, 'a') });
    const later = queue.submit({ title: 'b', priority: 'interactive', run: async () => void log.push('b') });
    await tick();
    queue.promote(refused.id, 'interactive');
    await clock.advance(1_050);
    await later.result;
    expect(log).toEqual(['a', 'a', 'b']);
  });

  it('queues a promoted prefetch behind the interactive work asked for before it', async () => {
    const queue = new JobQueue({ concurrency: 2 });
    const log: string[] = [];
    const chat = controllable<void>(log, 'chat 0');
    queue.submit({ title: 'prefetch 0', priority: 'background', run: controllable<void>(log, 'prefetch 0').run });
    queue.submit({ title: 'chat 0', priority: 'interactive', run: chat.run });
    await tick();
    queue.submit({ title: 'chat 1', priority: 'interactive', run: async () => void log.push('start chat 1') });
    const prefetch = queue.submit({ title: 'prefetch 1', priority: 'background', run: async () => void log.push('start prefetch 1') });
    queue.promote(prefetch.id, 'interactive');
    chat.finish();
    await prefetch.result;
    expect(log).toEqual(['start prefetch 0', 'start chat 0', 'start chat 1', 'start prefetch 1']);
    queue.cancelWhere(() => true);
  });

  it('runs a promoted prefetch once, though its place at the gate comes up later', async () => {
    const queue = new JobQueue({ concurrency: 2 });
    const log: string[] = [];
    const first = controllable<void>(log, 'prefetch 0');
    queue.submit({ title: 'prefetch 0', priority: 'background', run: first.run });
    const promoted = controllable<void>(log, 'prefetch 1');
    const prefetch = queue.submit({ title: 'prefetch 1', priority: 'background', run: promoted.run });
    await tick();
    queue.promote(prefetch.id, 'interactive');
    await tick();
    first.finish();
    await tick();
    await tick();
    expect(log).toEqual(['start prefetch 0', 'start prefetch 1']);
    promoted.finish();
    await prefetch.result;
  });

  it('moves a job waiting for a slot ahead of lower priorities', async () => {
    const queue = new JobQueue({ concurrency: 4 });
    const log: string[] = [];
    const chats = ['chat 0', 'chat 1', 'chat 2', 'chat 3'].map((title) => controllable<void>(log, title));
    for (const [i, body] of chats.entries()) queue.submit({ title: `chat ${i}`, priority: 'interactive', run: body.run });
    await tick();
    // Past the gate (3 of 4 slots), waiting in the main queue.
    const waiting = ['prefetch 0', 'prefetch 1', 'prefetch 2'].map((title) => queue.submit({ title, priority: 'background', run: controllable<void>(log, title).run }));
    queue.promote(waiting[2]?.id ?? '', 'completion');
    chats[0]?.finish();
    await tick();
    await tick();
    expect(log.slice(4)).toEqual(['start prefetch 2']);
    queue.cancelWhere(() => true);
  });

  it('moves a background job waiting at the gate ahead of other background work, keeping the slot reserved', async () => {
    const queue = new JobQueue({ concurrency: 2 });
    const log: string[] = [];
    const first = controllable<void>(log, 'prefetch 0');
    queue.submit({ title: 'prefetch 0', priority: 'background', run: first.run });
    queue.submit({ title: 'prefetch 1', priority: 'background', run: controllable<void>(log, 'prefetch 1').run });
    const asked = queue.submit({ title: 'prefetch 2', priority: 'background', run: controllable<void>(log, 'prefetch 2').run });
    await tick();
    queue.promote(asked.id, 'completion');
    await tick();
    expect(queue.snapshot().running).toBe(1);
    first.finish();
    await tick();
    await tick();
    expect(log).toEqual(['start prefetch 0', 'start prefetch 2']);
    queue.cancelWhere(() => true);
  });

  it('raises the priority of a job already starting or running, and nothing else', async () => {
    const queue = new JobQueue();
    const log: string[] = [];
    const starting = queue.submit({ title: 'completion', priority: 'completion', run: async () => String(log.push('start completion')) });
    expect(() => queue.promote(starting.id, 'interactive')).not.toThrow();
    expect(starting.priority).toBe('interactive');
    await expect(starting.result).resolves.toBe('1');
    const running = queue.submit({ title: 'prefetch', priority: 'background', run: controllable<void>(log, 'prefetch').run });
    await tick();
    expect(() => queue.promote(running.id, 'interactive')).not.toThrow();
    await tick();
    expect(running).toMatchObject({ state: 'running', priority: 'interactive' });
    // Started once each: a promotion never queues the work a second time.
    expect(log).toEqual(['start completion', 'start prefetch']);
    queue.cancelWhere(() => true);
  });
});

describe('supersession, the bound on waiting work, and late endings', () => {
  it('cancels only the live jobs the new one supersedes', async () => {
    const queue = new JobQueue();
    const log: string[] = [];
    const lowStock = queue.submit({ title: 'explain lowStock', priority: 'interactive', supersedes: 'explain:lowStock', run: controllable<string>(log, 'lowStock').run });
    const restock = queue.submit({ title: 'explain restock', priority: 'interactive', supersedes: 'explain:restock', run: controllable<string>(log, 'restock').run });
    const chat = queue.submit({ title: 'chat', priority: 'interactive', run: controllable<string>(log, 'chat').run });
    await tick();
    queue.submit({ title: 'explain lowStock again', priority: 'interactive', supersedes: 'explain:lowStock', run: controllable<string>(log, 'lowStock again').run });
    await expect(lowStock.result).rejects.toMatchObject({ reason: 'superseded' });
    expect([restock.state, chat.state]).toEqual(['running', 'running']);
    expect(queue.snapshot().superseded).toBe(1);
    queue.cancelWhere(() => true);
  });

  it('drops the oldest waiting background job, never interactive work or a newer background job', async () => {
    const queue = new JobQueue({ concurrency: 1, maxQueued: 3 });
    const log: string[] = [];
    queue.submit({ title: 'chat 0', priority: 'interactive', run: controllable<void>(log, 'chat 0').run });
    await tick();
    const [chat1, oldest, newer] = [
      queue.submit({ title: 'chat 1', priority: 'interactive', run: controllable<void>(log, 'chat 1').run }),
      queue.submit({ title: 'bg 0', priority: 'background', run: controllable<void>(log, 'bg 0').run }),
      queue.submit({ title: 'bg 1', priority: 'background', run: controllable<void>(log, 'bg 1').run }),
    ];
    queue.submit({ title: 'chat 2', priority: 'interactive', run: controllable<void>(log, 'chat 2').run });
    await expect(oldest.result).rejects.toMatchObject({ reason: 'dropped', message: 'Dropped: the queue was full and more urgent work arrived.' });
    expect([chat1.state, newer.state]).toEqual(['queued', 'queued']);
    expect(queue.snapshot()).toMatchObject({ dropped: 1, queued: 3 });
    queue.cancelWhere(() => true);
  });

  it('refuses background work when full instead of dropping other background work', async () => {
    const queue = new JobQueue({ concurrency: 1, maxQueued: 2 });
    const log: string[] = [];
    queue.submit({ title: 'chat 0', priority: 'interactive', run: controllable<void>(log, 'chat 0').run });
    await tick();
    const waiting = [
      queue.submit({ title: 'bg 0', priority: 'background', run: controllable<void>(log, 'bg 0').run }),
      queue.submit({ title: 'bg 1', priority: 'background', run: controllable<void>(log, 'bg 1').run }),
    ];
    expect(() => queue.submit({ title: 'bg 2', priority: 'background', run: async () => undefined })).toThrow(
      expect.objectContaining({
        reason: 'busy',
        message: 'efrit-lsp is busy: 2 requests are already waiting (efrit.queue.maxQueued). Try again shortly, or cancel some with efrit/cancel.',
      }),
    );
    expect(waiting.map((job) => job.state)).toEqual(['queued', 'queued']);
    expect(queue.snapshot().dropped).toBe(0);
    queue.cancelWhere(() => true);
  });

  it('says how many retries it gave up after', async () => {
    const clock = new ManualClock();
    const once = new JobQueue({ clock, maxRetries: 1 });
    const job = once.submit({ title: 'fix', priority: 'interactive', run: async () => Promise.reject(throttled('rateLimited', 1)) });
    await tick();
    await clock.advance(1_050);
    await expect(job.result).rejects.toMatchObject({ reason: 'rateLimited', retryAfterSeconds: 1, message: 'The API is rate limiting requests (429). (gave up after 1 retry)' });
    expect(job).toMatchObject({ state: 'failed', attempts: 2 });
    expect(job.isFinished).toBe(true);
  });

  it('ignores how a cancelled job’s call ends: a late answer grows nothing, a late 429 holds nothing back', async () => {
    const clock = new ManualClock();
    const queue = new JobQueue({ concurrency: 6, clock });
    const refused = queue.submit({ title: 'refused once', priority: 'interactive', run: refusedOnce([], 'refused') });
    await tick();
    await clock.advance(1_050);
    await refused.result;
    // Three slots; one success of the three that grow them back is in.
    expect(queue.snapshot().concurrency).toBe(3);
    const calls = [deferred<string>(), deferred<string>(), deferred<string>()];
    const jobs = calls.map((call, i) => queue.submit({ title: `fix ${i}`, priority: 'interactive', key: `fix ${i}`, run: call.run }));
    await tick();
    queue.cancelWhere(() => true);
    calls[0]?.resolve('late edit');
    calls[1]?.resolve('late edit');
    calls[2]?.reject(throttled('rateLimited', 30));
    await tick();
    expect(jobs.map((job) => job.state)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(queue.findByKey('fix 0')).toBeUndefined();
    expect(queue.snapshot()).toMatchObject({ concurrency: 3, retries: 1, backoff: { active: false } });
  });
});
