import type { QueueClock } from '../../server/src/queue/queue-clock.js';

/** Lets promise callbacks and queued tasks run: one turn of the event loop. */
export const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A QueueClock the test moves by hand: timers fire only when `advance` passes
 * them, and `random` returns what the test says (0.5 unless told).
 */
export class ManualClock implements QueueClock {
  private time = 0;
  private timers: { at: number; callback: () => void; cancelled: boolean }[] = [];
  private randomValues: number[];

  constructor(...randomValues: number[]) {
    this.randomValues = randomValues.length > 0 ? randomValues : [0.5];
  }

  now = () => this.time;

  /** The given values in turn, the last one repeated. */
  random = () => (this.randomValues.length > 1 ? (this.randomValues.shift() as number) : (this.randomValues[0] as number));

  setTimer = (callback: () => void, ms: number) => {
    const timer = { at: this.time + ms, callback, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  };

  /** Timers set and neither fired nor cancelled. */
  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time on, fires the timers it passes (in the order they are due), then lets the queue react. */
  async advance(ms: number): Promise<void> {
    this.time += ms;
    const due = this.timers.filter((t) => !t.cancelled && t.at <= this.time).sort((a, b) => a.at - b.at);
    for (const timer of due) {
      // An earlier callback may have cancelled it.
      if (timer.cancelled) continue;
      timer.cancelled = true;
      timer.callback();
    }
    await tick();
  }
}
