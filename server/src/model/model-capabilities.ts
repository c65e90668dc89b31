/**
 * What a model can do, decided once per model for its callers: whether inline
 * completion may ask it to fill in the middle (a prefix and a suffix on the
 * provider's completion endpoint) rather than chat, and whether it may be
 * offered tools.
 *
 * Where the provider says (Ollama's `/api/show` `capabilities`: `insert`,
 * `tools`), that decides, except that a model listed in `modelsWithoutTools`
 * is never offered tools (the user knows better than a template). Where it
 * does not (Anthropic, OpenAI-compatible servers, an Ollama too old to report
 * capabilities, or a look-up that failed) the settings decide: a model fills
 * in the middle only when `fillInMiddleModels` names it, and calls tools
 * unless `modelsWithoutTools` names it. Claude always completes through chat.
 *
 * Look-ups are cached per model, bounded in count and time (a model pulled
 * again may change its template), and shared while one is in flight; a failed
 * look-up is not cached, so the next asks again. A caller never waits for a
 * look-up past its own cancellation.
 */
import { LRUCache } from 'lru-cache';
import type { Logger } from '../common/logger.js';
import { modelChoiceOf } from './model-choice.js';
import type { CallOptions, ModelCapabilities } from './provider.js';

/** The settings that decide where the provider does not say. */
export interface CapabilitySettings {
  modelsWithoutTools: readonly string[];
  fillInMiddleModels: readonly string[];
}

/** Where capabilities come from: `ModelClient.describe`. */
export interface CapabilitySource {
  describe(model: string, options: CallOptions): Promise<ModelCapabilities | undefined>;
}

export interface ModelCapabilityCacheOptions {
  source: CapabilitySource;
  logger: Logger;
  /** The stall bound of one look-up (the `queue.stallMs` setting). */
  stallMs: () => number;
  /** Models remembered. @default 32 */
  maxModels?: number;
  /** How long an answer holds. @default 10 minutes */
  ttlMs?: number;
  /** The clock of the expiry. @default performance.now */
  now?: () => number;
}

const defaultMaxModels = 32;
const defaultTtlMs = 10 * 60_000;
/** A look-up that failed, told apart from one that found nothing to say. */
const failed = Symbol('failed');

function listed(models: readonly string[], model: string): boolean {
  return models.some((name) => name.trim() === model.trim());
}

/** `promise`'s value, or undefined as soon as `signal` aborts (the promise goes on for whoever else waits). */
function unlessAborted<T>(promise: Promise<T | undefined>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then((value) => {
      signal.removeEventListener('abort', onAbort);
      resolve(value);
    });
  });
}

export class ModelCapabilityCache {
  private readonly known: LRUCache<string, Promise<ModelCapabilities | undefined>>;

  constructor(private readonly options: ModelCapabilityCacheOptions) {
    const now = options.now;
    this.known = new LRUCache({
      max: options.maxModels ?? defaultMaxModels,
      ttl: options.ttlMs ?? defaultTtlMs,
      // An injected clock is read on every get: lru-cache otherwise caches `now` for a millisecond on a timer.
      ...(now === undefined ? {} : { perf: { now }, ttlResolution: 0 }),
    });
  }

  /** What the provider says the model can do; undefined where it does not say. */
  discovered(model: string, signal?: AbortSignal): Promise<ModelCapabilities | undefined> {
    let lookup = this.known.get(model);
    if (lookup === undefined) {
      const started: Promise<ModelCapabilities | undefined> = this.lookUp(model).then((said) => {
        if (said !== failed) return said;
        // Not remembered: the next caller asks again (the server may have been starting, or the model being pulled).
        if (this.known.peek(model) === started) this.known.delete(model);
        return undefined;
      });
      lookup = started;
      this.known.set(model, lookup);
    }
    return unlessAborted(lookup, signal);
  }

  /** Whether inline completion with `model` fills in the middle rather than chats. */
  async fillsInMiddle(settings: CapabilitySettings, model: string, signal?: AbortSignal): Promise<boolean> {
    if (modelChoiceOf(model).provider === 'anthropic') return false;
    const said = await this.discovered(model, signal);
    return said !== undefined ? said.fillInMiddle : listed(settings.fillInMiddleModels, model);
  }

  /** Whether `model` may be offered tools. */
  async callsTools(settings: CapabilitySettings, model: string, signal?: AbortSignal): Promise<boolean> {
    if (listed(settings.modelsWithoutTools, model)) return false;
    return (await this.discovered(model, signal))?.tools ?? true;
  }

  /** Forgets every answer: the endpoints may have changed. */
  clear(): void {
    this.known.clear();
  }

  private async lookUp(model: string): Promise<ModelCapabilities | undefined | typeof failed> {
    try {
      // Its own signal, not a caller's: others may be waiting for the same look-up. The stall watchdog bounds it.
      const said = await this.options.source.describe(model, { signal: new AbortController().signal, stallMs: this.options.stallMs() });
      this.options.logger.debug(`capabilities of ${model}: ${said === undefined ? 'not reported, the settings decide' : JSON.stringify(said)}`);
      return said;
    } catch (error) {
      this.options.logger.debug(`capabilities of ${model} could not be looked up; the settings decide`, error);
      return failed;
    }
  }
}
