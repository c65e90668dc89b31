/**
 * Settings an editor keeps for the server (VS Code's `efrit.apiKey`, …) reach
 * it by `workspace/configuration`: a round trip after `initialized`, and again
 * after each `didChangeConfiguration`. Until the answer is in, the server runs
 * on what it had (initializationOptions, the environment). What reports state
 * those settings decide (`efrit/status`'s `apiKeyConfigured`, the "no API key"
 * note) waits for the pulls in flight first, so a key set as a setting is not
 * reported missing only because its answer is still on the way. The wait is
 * bounded: a client may never answer.
 */
import type { QueueClock } from '../queue/queue-clock.js';

/** Long enough for any editor to answer a configuration request; short enough that a status bar never looks stuck. */
export const settingsWaitMs = 2_000;

export class SettingsPulls {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly clock: Pick<QueueClock, 'setTimer'>,
    private readonly boundMs = settingsWaitMs,
  ) {}

  /** Counts `pull` in flight until it settles; a pull that fails counts as arrived (the settings stay as they were). */
  track(pull: Promise<void>): void {
    const arrived = pull.catch(() => undefined);
    this.inFlight.add(arrived);
    void arrived.then(() => this.inFlight.delete(arrived));
  }

  /** Resolves once every pull started before the call has settled, or after the bound, whichever comes first. */
  settled(): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = this.clock.setTimer(resolve, this.boundMs);
      void Promise.all([...this.inFlight]).then(() => {
        timer.cancel();
        resolve();
      });
    });
  }
}
