import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from './logger.js';

/**
 * Gives the memory of discarded document text back to the system promptly.
 *
 * A document's text is one big string, and every edit makes a new one; the
 * old ones, and all of a closed document's, are garbage, but V8 only unmaps
 * their pages after a major collection. An idle process gets one from V8's
 * memory reducer, usually within 10-15 s, yet on a loaded machine that was
 * seen to take more than 30 s while the server sat on hundreds of megabytes
 * after a large file closed; and after a burst of typing in a 100K file the
 * server idled 20 MB above where it started. So once `thresholdChars` of text
 * has been discarded, one full collection runs after `delayMs` of quiet (every
 * discard meanwhile pushes it back, so it never lands mid-burst).
 * `--expose-gc` is switched on only for the moment it takes to fetch `gc` (the
 * way jest's leak detector does it), so nothing else in the process sees it.
 */
export interface MemoryReleaserOptions {
  readonly logger: Logger;
  /** Discarded text, in characters, that makes a collection worth it. */
  readonly thresholdChars?: number;
  /** Quiet time after the last discard before collecting. */
  readonly delayMs?: number;
}

export interface MemoryReleaser {
  /** `chars` characters of document text became garbage: a document closed, or an edit replaced its text. */
  textDiscarded(chars: number): void;
  /** Cancels a pending collection (server shutdown). */
  dispose(): void;
}

export function createMemoryReleaser(options: MemoryReleaserOptions): MemoryReleaser {
  const thresholdChars = options.thresholdChars ?? 4_000_000;
  const delayMs = options.delayMs ?? 500;
  let discarded = 0;
  let timer: NodeJS.Timeout | undefined;

  const collect = (): void => {
    timer = undefined;
    discarded = 0;
    const started = performance.now();
    if (!collectGarbageNow()) {
      options.logger.debug('Could not run a full collection after discarding document text; V8 will run one when idle.');
      return;
    }
    options.logger.debug(`Ran a full collection after discarding document text (${Math.round(performance.now() - started)} ms).`);
  };

  return {
    textDiscarded(chars) {
      discarded += chars;
      if (timer !== undefined) {
        timer.refresh();
        return;
      }
      if (discarded < thresholdChars) return;
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

/** `gc`, fetched once: switching V8's flags is not free, and not something to do often. */
let fetchedGc: (() => void) | null | undefined;

/** Runs one full collection now; false when V8 would not hand out `gc`. */
export function collectGarbageNow(): boolean {
  if (fetchedGc === undefined) fetchedGc = fetchGc() ?? null;
  fetchedGc?.();
  return fetchedGc !== null;
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
