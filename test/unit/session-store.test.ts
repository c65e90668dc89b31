import { describe, expect, it } from 'vitest';
import { SessionStore } from '../../server/src/sessions/session-store.js';

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance(ms: number): void } {
  let time = 1_000;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('the session store', () => {
  it('forgets a session left idle past its ttl, and keeps one in use', () => {
    const clock = manualClock();
    const dropped: string[] = [];
    const store = new SessionStore({ ttlMs: 1_000, now: clock.now, onDrop: (id) => dropped.push(id) });
    const idle = store.create();
    const busy = store.create();
    store.admit(idle);
    store.admit(busy);

    clock.advance(600);
    expect(store.get(busy.id)).toBe(busy);
    clock.advance(600);

    expect(store.get(idle.id)).toBeUndefined();
    expect(store.get(busy.id)).toBe(busy);
    clock.advance(1_001);
    expect(store.get(busy.id)).toBeUndefined();
    expect(dropped).toEqual([idle.id, busy.id]);
  });

  it('keeps a created session only once it is admitted', () => {
    const store = new SessionStore({ max: 2 });
    const kept = store.create();
    store.admit(kept);
    for (let i = 0; i < 5; i++) store.create();
    expect(store.size).toBe(1);
    expect(store.get(kept.id)).toBe(kept);
    store.admit(kept);
    expect(store.size).toBe(1);
  });
});
