import { describe, expect, it } from 'vitest';
import { SettingsPulls } from '../../server/src/features/settings-pulls.js';
import { gate } from '../support/gate.js';
import { ManualClock, tick } from '../support/manual-clock.js';

/** Whether the promise has settled after one turn of the event loop. */
async function settledYet(promise: Promise<void>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await tick();
  return done;
}

describe('SettingsPulls', () => {
  it('is settled at once when no pull is in flight, and sets no timer', async () => {
    const clock = new ManualClock();
    const pulls = new SettingsPulls(clock, 2000);
    const settled = pulls.settled();
    expect(clock.pendingTimers()).toBe(0);
    expect(await settledYet(settled)).toBe(true);
  });

  it('waits for every pull in flight, then sets no timer going', async () => {
    const clock = new ManualClock();
    const pulls = new SettingsPulls(clock, 2000);
    const first = gate();
    const second = gate();
    pulls.track(first.opened);
    pulls.track(second.opened);
    const settled = pulls.settled();
    first.open();
    expect(await settledYet(settled)).toBe(false);
    second.open();
    expect(await settledYet(settled)).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
    // Arrived pulls are forgotten: the next wait has nothing to wait for.
    const next = pulls.settled();
    expect(clock.pendingTimers()).toBe(0);
    expect(await settledYet(next)).toBe(true);
  });

  it('counts a pull that failed as arrived', async () => {
    const pulls = new SettingsPulls(new ManualClock(), 2000);
    pulls.track(Promise.reject(new Error('the client refused workspace/configuration')));
    expect(await settledYet(pulls.settled())).toBe(true);
  });

  it('gives up waiting after the bound when a client never answers', async () => {
    const clock = new ManualClock();
    const pulls = new SettingsPulls(clock, 2000);
    pulls.track(new Promise(() => undefined));
    const settled = pulls.settled();
    await clock.advance(1999);
    expect(await settledYet(settled)).toBe(false);
    await clock.advance(1);
    expect(await settledYet(settled)).toBe(true);
  });
});
