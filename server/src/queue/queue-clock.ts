/**
 * Time, timers and randomness for the queue (job timeouts, the backoff's
 * hold-back and its jitter), behind one interface so tests can drive them by
 * hand instead of waiting.
 */
export interface QueueClock {
  now(): number;
  setTimer(callback: () => void, ms: number): { cancel(): void };
  /** In [0, 1), like Math.random. */
  random(): number;
}

export const realClock: QueueClock = {
  now: () => Date.now(),
  setTimer(callback, ms) {
    const timer = setTimeout(callback, ms);
    // A pending job timeout or backoff must not keep the process alive once the editor has gone.
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
  random: () => Math.random(),
};
