import { describe, expect, it } from 'vitest';
import { PrefetchPolicy } from '../../server/src/assistant/prefetch-policy.js';

const cart = 'file:///work/shop/src/cart.ts';
const item = 'file:///work/shop/src/item.ts';
const on = { prefetch: true, prefetchPerMinute: 2 };

function manualTime() {
  const clock = { time: 0, now: () => clock.time };
  return clock;
}

describe('PrefetchPolicy', () => {
  it('allows nothing while prefetching is off, whatever the cap', () => {
    const policy = new PrefetchPolicy({ clock: manualTime() });
    expect(policy.mayStart({ prefetch: false, prefetchPerMinute: 600 })).toBe(false);
    expect(policy.mayStart(on)).toBe(true);
  });

  it('caps prefetches started per minute; a check alone starts nothing', () => {
    const clock = manualTime();
    const policy = new PrefetchPolicy({ clock });
    expect(policy.mayStart(on)).toBe(true);
    expect(policy.mayStart(on)).toBe(true);
    policy.started('job-1', cart, 1);
    clock.time += 1_000;
    expect(policy.mayStart(on)).toBe(true);
    policy.started('job-2', cart, 1);
    expect(policy.mayStart(on)).toBe(false);
    clock.time += 59_000;
    expect(policy.mayStart(on)).toBe(true);
    expect(policy.stats()).toEqual({ made: 2, used: 0, wasted: 0 });
  });

  it('counts a prefetch the user picked as used, once, however often it is picked', () => {
    const policy = new PrefetchPolicy({ clock: manualTime() });
    policy.started('job-1', cart, 1);
    policy.claim('job-1');
    policy.claim('job-1');
    policy.claim('job-9'); // not a prefetch: an ordinary job found by key
    expect(policy.stats()).toEqual({ made: 1, used: 1, wasted: 0 });
  });

  it('drops the unpicked prefetches for other versions of a changed document, counting them wasted', () => {
    const policy = new PrefetchPolicy({ clock: manualTime() });
    policy.started('job-1', cart, 1);
    policy.started('job-2', cart, 2);
    policy.started('job-3', item, 1);
    policy.started('job-4', cart, 1);
    policy.claim('job-4');

    // job-2 is for the version the document is at now; job-3 is another document; job-4 was picked.
    expect(policy.outdated(cart, 2)).toEqual(['job-1']);
    expect(policy.stats()).toEqual({ made: 4, used: 1, wasted: 1 });
    expect(policy.outdated(cart, 2)).toEqual([]);
    expect(policy.stats().wasted).toBe(1);

    // Closed (no version): every unpicked prefetch of the document goes.
    expect(policy.outdated(cart, undefined)).toEqual(['job-2']);
    expect(policy.stats()).toEqual({ made: 4, used: 1, wasted: 2 });
    // A dropped prefetch is forgotten: finding its job later is not a use.
    policy.claim('job-1');
    expect(policy.stats().used).toBe(1);
  });

  it('remembers a bounded number of prefetches; one forgotten unpicked counts as wasted, a picked one does not', () => {
    const policy = new PrefetchPolicy({ clock: manualTime(), maxTracked: 2 });
    policy.started('job-1', cart, 1);
    policy.claim('job-1');
    policy.started('job-2', cart, 1);
    policy.started('job-3', cart, 1); // job-1 (picked) is forgotten
    expect(policy.stats()).toEqual({ made: 3, used: 1, wasted: 0 });
    policy.started('job-4', cart, 1); // job-2 (unpicked) is forgotten
    expect(policy.stats()).toEqual({ made: 4, used: 1, wasted: 1 });
    policy.claim('job-2');
    expect(policy.stats().used).toBe(1);
  });

  it('remembers 256 prefetches by default', () => {
    const policy = new PrefetchPolicy({ clock: manualTime() });
    for (let i = 1; i <= 256; i++) policy.started(`job-${i}`, cart, 1);
    expect(policy.stats().wasted).toBe(0);
    policy.started('job-257', cart, 1);
    expect(policy.stats().wasted).toBe(1);
  });

  it('hands out a copy of its counts', () => {
    const policy = new PrefetchPolicy();
    const stats = policy.stats();
    stats.made = 99;
    expect(policy.stats().made).toBe(0);
  });
});
