import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from './logger.js';

/**
 * Gives a large closed document's memory back to the system promptly.
 *
 * A document's text is one big string, and every edit makes a new one; once
 * the document is closed they are all garbage, but V8 only unmaps their pages
 * after a major collection. An idle process gets one from V8's memory reducer,
 * usually within 10-15 s, yet on a loaded machine that was seen to take more
 * than 30 s while the server sat on hundreds of megabytes. So after a document
 * of at least `thresholdChars` closes, one full collection is run, once the
 * burst of closes is over. `--expose-gc` is switched on only for the moment it
 * takes to fetch `gc` (the way jest's leak detector does it), so nothing else
 * in the process sees it.
 */
export interface MemoryReleaserOptions {
  readonly logger: Logger;
  /** Closing a document at least this long schedules a collection. */
  readonly thresholdChars?: number;
  /** Quiet time after the last large close before collecting; closes in a burst share one collection. */
  readonly delayMs?: number;
}

export interface MemoryReleaser {
  /** Tells the releaser a document of `chars` characters was closed. */
  documentClosed(chars: number): void;
  /** Cancels a pending collection (server shutdown). */
  dispose(): void;
}

export function createMemoryReleaser(options: MemoryReleaserOptions): MemoryReleaser {
  const thresholdChars = options.thresholdChars ?? 4_000_000;
  const delayMs = options.delayMs ?? 500;
  let timer: NodeJS.Timeout | undefined;

  const collect = (): void => {
    timer = undefined;
    const started = performance.now();
    const collectGarbage = fetchGc();
    if (collectGarbage === undefined) {
      options.logger.debug('Could not run a full collection after a large document closed; V8 will run one when idle.');
      return;
    }
    collectGarbage();
    options.logger.debug(`Ran a full collection after a large document closed (${Math.round(performance.now() - started)} ms).`);
  };

  return {
    documentClosed(chars) {
      if (chars < thresholdChars) return;
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(collect, delayMs);
      // A pending collection must not keep a server that is otherwise done alive.
      timer.unref();
    },
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

function fetchGc(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return exposed as () => void;
  try {
    setFlagsFromString('--expose-gc');
    const fetched: unknown = runInNewContext('gc');
    return typeof fetched === 'function' ? (fetched as () => void) : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
