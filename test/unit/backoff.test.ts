import { describe, expect, it } from 'vitest';
import { EfritError } from '../../server/src/common/errors.js';
import { Backoff, isThrottle, type BackoffOptions } from '../../server/src/queue/backoff.js';
import { ManualClock } from '../support/manual-clock.js';

const rateLimited = (retryAfterSeconds?: number) => new EfritError('rateLimited', 'The API is rate limiting requests (429).', retryAfterSeconds);
const overloaded = () => new EfritError('overloaded', 'The API is overloaded (529).');

/** A backoff driving a queue that only records what it is told to do. */
function backoffFor(options: Partial<BackoffOptions> = {}) {
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock();
  const queue: string[] = [];
  const backoff = new Backoff(
    { concurrency: 4, baseMs: 1_000, maxMs: 60_000, ...options, clock },
    {
      setConcurrency: (slots) => queue.push(`concurrency ${slots}`),
      pause: () => queue.push('pause'),
      resume: () => queue.push('resume'),
    },
  );
  return { backoff, clock, queue };
}

describe('what counts as a throttle', () => {
  it('is a 429 or a 529, nothing else', () => {
    expect(isThrottle(rateLimited())).toBe(true);
    expect(isThrottle(overloaded())).toBe(true);
    expect(isThrottle(new EfritError('unauthorized', 'The API refused the key (401).'))).toBe(false);
    expect(isThrottle(new EfritError('timeout', '"fix" timed out after 120 s.'))).toBe(false);
    expect(isThrottle(new Error('socket hang up'))).toBe(false);
    expect(isThrottle({ reason: 'rateLimited' })).toBe(false);
  });
});

describe('the hold-back', () => {
  it('holds the queue back for retry-after, plus up to a tenth of it as jitter', async () => {
    const { backoff, clock, queue } = backoffFor();
    expect(backoff.state()).toEqual({ active: false, remainingMs: 0, reason: null });
    backoff.throttled(rateLimited(2));
    // 2 s × (1 + 0.1 × 0.5)
    expect(backoff.state()).toEqual({ active: true, remainingMs: 2_100, reason: 'rate limited (429)' });
    expect(queue).toEqual(['concurrency 2', 'pause']);
    await clock.advance(2_099);
    expect(queue).not.toContain('resume');
    expect(backoff.state()).toEqual({ active: true, remainingMs: 1, reason: 'rate limited (429)' });
    await clock.advance(1);
    expect(queue).toEqual(['concurrency 2', 'pause', 'resume']);
    expect(backoff.state()).toEqual({ active: false, remainingMs: 0, reason: null });
  });

  it('without retry-after waits twice as long per throttle in a row, up to the cap, jittered between half and all of it', async () => {
    const { backoff, clock } = backoffFor({ baseMs: 1_000, maxMs: 5_000, clock: new ManualClock(0, 0.5) });
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      backoff.throttled(overloaded());
      waits.push(backoff.state().remainingMs);
      await clock.advance(backoff.state().remainingMs);
    }
    // 1 s at the least jitter (½), then 2 s, 4 s, and the 5 s cap at jitter 0.5 (¾).
    expect(waits).toEqual([500, 1_500, 3_000, 3_750, 3_750]);
  });

  it('starts again from the first step after a success', async () => {
    const { backoff, clock } = backoffFor();
    backoff.throttled(overloaded());
    await clock.advance(750);
    backoff.throttled(overloaded());
    expect(backoff.state().remainingMs).toBe(1_500);
    await clock.advance(1_500);
    backoff.succeeded();
    backoff.throttled(overloaded());
    expect(backoff.state()).toMatchObject({ remainingMs: 750, reason: 'overloaded (529)' });
  });

  it('lengthens the hold-back for a later, longer retry-after, and resumes once', async () => {
    const { backoff, clock, queue } = backoffFor();
    backoff.throttled(rateLimited(1));
    await clock.advance(500);
    backoff.throttled(rateLimited(2));
    expect(backoff.state().remainingMs).toBe(2_100);
    await clock.advance(600);
    expect(queue).toEqual(['concurrency 2', 'pause', 'pause']);
    await clock.advance(1_500);
    expect(queue).toEqual(['concurrency 2', 'pause', 'pause', 'resume']);
  });

  it('never shortens the hold-back for a later, shorter retry-after', async () => {
    const { backoff, clock, queue } = backoffFor();
    backoff.throttled(rateLimited(3));
    await clock.advance(1_000);
    backoff.throttled(rateLimited(1));
    backoff.throttled(rateLimited(1));
    expect(backoff.state().remainingMs).toBe(2_150);
    await clock.advance(2_149);
    expect(queue).toEqual(['concurrency 2', 'pause']);
    await clock.advance(1);
    expect(queue).toEqual(['concurrency 2', 'pause', 'resume']);
  });

  it('pauses once for two jobs refused together with the same retry-after', () => {
    const { backoff, queue } = backoffFor();
    backoff.throttled(rateLimited(1));
    backoff.throttled(rateLimited(1));
    expect(queue).toEqual(['concurrency 2', 'pause']);
  });
});

describe('AIMD concurrency', () => {
  it('halves once per hold-back window, however many jobs are refused in it', async () => {
    const { backoff, clock, queue } = backoffFor({ concurrency: 8 });
    for (let i = 0; i < 3; i++) backoff.throttled(rateLimited(1));
    expect(backoff.concurrency).toBe(4);
    // A throttle as the window ends opens the next window.
    await clock.advance(1_050);
    backoff.throttled(rateLimited(1));
    expect(backoff.concurrency).toBe(2);
    expect(queue.filter((event) => event.startsWith('concurrency'))).toEqual(['concurrency 4', 'concurrency 2']);
  });

  it('rounds down when halving, and never goes below one slot', async () => {
    const { backoff, clock } = backoffFor({ concurrency: 3 });
    backoff.throttled(rateLimited(1));
    expect(backoff.concurrency).toBe(1);
    await clock.advance(1_050);
    backoff.throttled(rateLimited(1));
    expect(backoff.concurrency).toBe(1);
  });

  it('grows back by one slot per window of successes as long as the slots in force, never past the cap', async () => {
    const { backoff, clock, queue } = backoffFor({ concurrency: 4 });
    backoff.throttled(rateLimited(1));
    await clock.advance(1_050);
    backoff.succeeded();
    expect(backoff.concurrency).toBe(2);
    backoff.succeeded();
    expect(backoff.concurrency).toBe(3);
    backoff.succeeded();
    backoff.succeeded();
    expect(backoff.concurrency).toBe(3);
    backoff.succeeded();
    expect(backoff.concurrency).toBe(4);
    for (let i = 0; i < 12; i++) backoff.succeeded();
    expect(backoff.concurrency).toBe(4);
    expect(queue.filter((event) => event.startsWith('concurrency'))).toEqual(['concurrency 2', 'concurrency 3', 'concurrency 4']);
  });

  it('counts a new window of successes from each halving', async () => {
    const { backoff, clock } = backoffFor({ concurrency: 8 });
    backoff.throttled(rateLimited(1));
    await clock.advance(1_050);
    for (let i = 0; i < 3; i++) backoff.succeeded();
    backoff.throttled(rateLimited(1));
    expect(backoff.concurrency).toBe(2);
    // The three successes before the halving do not count towards growing from 2.
    backoff.succeeded();
    expect(backoff.concurrency).toBe(2);
    backoff.succeeded();
    expect(backoff.concurrency).toBe(3);
  });
});

describe('a new cap from the settings', () => {
  it('is in force at once outside a hold-back window, even while growing back', async () => {
    const { backoff, clock } = backoffFor({ concurrency: 4 });
    backoff.throttled(rateLimited(1));
    await clock.advance(1_050);
    backoff.configure(6);
    expect(backoff.concurrency).toBe(6);
    expect(backoff.configuredConcurrency).toBe(6);
  });

  it('keeps the lowered concurrency inside a hold-back window, capped by the new value', () => {
    const { backoff } = backoffFor({ concurrency: 8 });
    backoff.throttled(rateLimited(1));
    backoff.configure(6);
    expect(backoff.concurrency).toBe(4);
    backoff.configure(2);
    expect(backoff.concurrency).toBe(2);
    expect(backoff.configuredConcurrency).toBe(2);
  });

  it('changes nothing when the cap is the same (settings re-read unchanged)', async () => {
    const { backoff, clock, queue } = backoffFor({ concurrency: 4 });
    backoff.throttled(rateLimited(1));
    await clock.advance(1_050);
    backoff.configure(4);
    expect(backoff.concurrency).toBe(2);
    expect(queue).toEqual(['concurrency 2', 'pause', 'resume']);
  });
});
