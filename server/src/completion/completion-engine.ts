/**
 * Inline completion (ghost text, LSP 3.18 `textDocument/inlineCompletion`)
 * as plain domain logic: the feature handler translates the request, and the
 * composition root adapts ModelClient + JobQueue (fast model, `completion`
 * priority) to `CompletionModel`. Nothing here touches the connection.
 *
 * Order of work for one request, cheapest first, so most keystrokes never
 * reach the model:
 *   1. supersede: a newer request for the same uri ends the older one with [];
 *      the older one's model call goes on only while the user keeps typing
 *      where it was made (it is aborted as soon as they type elsewhere);
 *   2. typed-ahead: the user typed the beginning of the last suggestion → the rest;
 *   3. skip: automatic triggers in comments/strings, or where the model call
 *      for the same context just failed or was refused (settings);
 *   4. cache: same language and text around the cursor → the same answer;
 *   5. join: a model call still running for the spot the user is typing on →
 *      wait for it, and the rest of its answer if it begins with what they
 *      typed meanwhile (otherwise go on to 6);
 *   6. debounce (automatic only, adaptive), then the per-minute cap;
 *   7. the model; its answer is cleaned, cached, and dropped if the text moved on.
 */
import { LRUCache } from 'lru-cache';
import type { Position, Range } from 'vscode-languageserver-textdocument';
import type { TrackedDocument } from '../documents/tracked-document.js';
import type { CompletionStats } from '../protocol.js';
import { SlidingWindowLimiter } from '../common/sliding-window-limiter.js';
import { cleanSuggestion, indentationOf, type SuggestionContext } from './clean-suggestion.js';
import { inCommentOrString } from './comment-or-string.js';
import { buildCompletionPrompt, pathOfUri } from './completion-prompt.js';
import type { CompletionPrompt, RecentSnippet } from './completion-prompt.js';

export { cleanSuggestion, stripFences } from './clean-suggestion.js';
export type { SuggestionContext } from './clean-suggestion.js';
export { inCommentOrString } from './comment-or-string.js';
export { buildCompletionPrompt, completionRequestParts, completionSystemPrompt, fillInMiddleParts } from './completion-prompt.js';
export type { CompletionPrompt, FillInMiddleParts, PromptBudget, RecentSnippet } from './completion-prompt.js';

export interface CompletionModel {
  /** The raw text the model wrote for the prompt; rejects (any error) when aborted or failed. */
  complete(prompt: CompletionPrompt, signal: AbortSignal): Promise<string>;
}

export interface CompletionClock {
  now(): number;
  /** Resolves after `ms`, or rejects/resolves early once `signal` aborts (either is fine: the engine checks the signal). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: CompletionClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    }),
};

export interface InlineCompletionOptions {
  /** Model calls allowed in any 60-second window; requests past it answer []. @default 30 */
  maxCallsPerMinute: number;
  /** Skip automatic triggers when the cursor is in a comment or a string (invoked ones always run). @default true */
  skipInCommentsAndStrings: boolean;
  /** Skip automatic triggers where the model call for the same context failed or was refused (invoked ones always run). @default true */
  skipRefusedSpots: boolean;
  /** Prompt budget before the cursor, in characters. @default 6000 */
  prefixChars: number;
  /** Prompt budget after the cursor, in characters. @default 2000 */
  suffixChars: number;
  /** Wait before an automatic request calls the model: `minMs` after a pause, up to `maxMs` while typing fast. @default { minMs: 75, maxMs: 350 } */
  debounce: { minMs: number; maxMs: number };
  /** Suggestions kept in the LRU cache. @default 200 */
  cacheEntries: number;
}

export const defaultInlineCompletionOptions: InlineCompletionOptions = {
  maxCallsPerMinute: 30,
  skipInCommentsAndStrings: true,
  skipRefusedSpots: true,
  prefixChars: 6000,
  suffixChars: 2000,
  debounce: { minMs: 75, maxMs: 350 },
  cacheEntries: 200,
};

export interface InlineCompletionDeps {
  /** Looks up an open document, for the recent-edit snippets; without it prompts carry none. */
  getDocument?(uri: string): TrackedDocument | undefined;
  /** A model failure other than cancellation (the request still answers []). */
  onError?(error: unknown): void;
  /**
   * How a document is named in the prompt: relative to the workspace, so the
   * prompt never carries the user's absolute paths. @default the URI's path
   */
  displayPath?(uri: string): string;
}

export interface InlineCompletionItem {
  insertText: string;
  /** Always the cursor (start = end): a pure insertion, on one line as the spec requires. */
  range: Range;
}

/** The engine's counters, as `efrit/status` reports them. */
export type InlineCompletionStats = CompletionStats;

/** Characters before/after the cursor that key the cache and the typed-ahead check. */
export const contextKeyChars = { before: 1000, after: 300 } as const;
/** A gap between requests this long counts as a pause: the shortest debounce. */
export const pauseMs = 1000;
/** Other documents quoted in the prompt, and lines around each one's last edit. */
export const recentDocuments = 3;
export const recentLinesAround = 5;

/** Where a suggestion was asked for: the offset and the text just around it then. */
interface Spot {
  offset: number;
  before: string;
  after: string;
}

interface LastSuggestion extends Spot {
  version: number;
  text: string;
}

interface RunningCall extends Spot {
  controller: AbortController;
  /** The cleaned suggestion; undefined when the call failed or was aborted. */
  suggestion: Promise<string | undefined>;
}

/**
 * What was typed at `spot` since, when the text around it is otherwise
 * unchanged and the cursor is at or after it; undefined when the user moved
 * or edited elsewhere around it.
 */
function typedSince(spot: Spot, text: string, offset: number): string | undefined {
  if (offset < spot.offset) return undefined;
  const typed = text.slice(spot.offset, offset);
  const unchangedAround =
    text.slice(Math.max(0, spot.offset - spot.before.length), spot.offset) === spot.before &&
    text.slice(offset, offset + spot.after.length) === spot.after;
  return unchangedAround ? typed : undefined;
}

/** `promise`'s value (undefined if it rejects), or undefined as soon as `signal` aborts. */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(undefined);
    // Removed once the promise settles, so a long-lived signal does not collect listeners.
    signal.addEventListener('abort', onAbort);
    void promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(undefined);
      },
    );
  });
}

export class InlineCompletionEngine {
  private readonly pending = new Map<string, AbortController>();
  /** At most one model call per document: starting one, or typing elsewhere, aborts the previous. */
  private readonly running = new Map<string, RunningCall>();
  private readonly lastRequestAt = new Map<string, number>();
  /** Bounded: one per uri, the most recent documents only. */
  private readonly lastSuggestion = new LRUCache<string, LastSuggestion>({ max: 64 });
  /** Where each document was last asked about, newest last: the source of recent snippets. */
  private readonly recentEdits = new LRUCache<string, number>({ max: 16 });
  private cache: LRUCache<string, string>;
  /** Contexts (cache keys) whose model call failed or was refused: automatic triggers there are skipped. */
  private readonly refused = new LRUCache<string, true>({ max: 64 });
  private readonly callsPerMinute: SlidingWindowLimiter;
  private readonly counters: InlineCompletionStats = {
    requests: 0, modelCalls: 0, cacheHits: 0, typedAhead: 0, cancelled: 0, capped: 0, skipped: 0, stale: 0, errors: 0, joined: 0, shown: 0, accepted: 0,
  };

  constructor(
    private readonly model: CompletionModel,
    private readonly clock: CompletionClock,
    private readonly options: () => InlineCompletionOptions,
    private readonly deps: InlineCompletionDeps = {},
  ) {
    this.cache = new LRUCache({ max: Math.max(1, options().cacheEntries) });
    this.callsPerMinute = new SlidingWindowLimiter(60_000, clock);
  }

  stats(): InlineCompletionStats {
    return { ...this.counters };
  }

  /**
   * The client inserted a suggestion it was given for `uri`. The rest of that
   * suggestion is no longer ahead of the cursor, so typed-ahead reuse of it ends.
   */
  accepted(uri: string): void {
    this.counters.accepted++;
    this.lastSuggestion.delete(uri);
  }

  /** Forget a closed document. */
  forget(uri: string): void {
    this.pending.get(uri)?.abort();
    this.pending.delete(uri);
    this.abandonCall(uri);
    this.lastRequestAt.delete(uri);
    this.lastSuggestion.delete(uri);
    this.recentEdits.delete(uri);
  }

  async provide(doc: TrackedDocument, position: Position, trigger: 'invoked' | 'automatic', signal: AbortSignal): Promise<InlineCompletionItem[]> {
    this.counters.requests++;
    const options = this.options();
    const uri = doc.uri;
    const version = doc.version;
    const offset = doc.offsetAt(position);
    const cursor = doc.positionAt(offset); // clamped, so the range is always valid
    const text = doc.text;
    const lineText = doc.lineText(cursor.line);
    const linePrefix = lineText.slice(0, cursor.character);
    const suffixOnLine = lineText.slice(cursor.character);
    const reply = (insertText: string): InlineCompletionItem[] => {
      if (insertText === '') return [];
      this.counters.shown++;
      return [{ insertText, range: { start: cursor, end: cursor } }];
    };

    this.pending.get(uri)?.abort();
    const controller = new AbortController();
    this.pending.set(uri, controller);
    const onClientAbort = (): void => controller.abort();
    signal.addEventListener('abort', onClientAbort);
    if (signal.aborted) controller.abort();

    const now = this.clock.now();
    const previousAt = this.lastRequestAt.get(uri);
    this.lastRequestAt.set(uri, now);
    this.recentEdits.set(uri, cursor.line);

    const join = this.callToJoin(uri, text, offset);

    try {
      const typed = this.typedAhead(uri, text, offset);
      if (typed !== undefined) {
        this.counters.typedAhead++;
        return reply(typed);
      }

      if (trigger === 'automatic' && options.skipInCommentsAndStrings && inCommentOrString(linePrefix, doc.languageId)) {
        this.counters.skipped++;
        return [];
      }

      const before = text.slice(Math.max(0, offset - contextKeyChars.before), offset);
      const after = text.slice(offset, offset + contextKeyChars.after);
      const key = `${doc.languageId}\u0000${before}\u0000${after}`;
      const cacheMax = Math.max(1, options.cacheEntries);
      if (this.cache.max !== cacheMax) this.cache = new LRUCache({ max: cacheMax });
      if (trigger === 'automatic' && options.skipRefusedSpots && this.refused.has(key)) {
        this.counters.skipped++;
        return [];
      }
      const cached = this.cache.get(key);
      if (cached !== undefined) {
        this.counters.cacheHits++;
        this.lastSuggestion.set(uri, { version, offset, before, after, text: cached });
        return reply(cached);
      }

      if (join !== undefined) {
        const suggestion = await unlessAborted(join.call.suggestion, controller.signal);
        if (controller.signal.aborted) {
          this.counters.cancelled++;
          return [];
        }
        if (suggestion !== undefined && suggestion.length > join.typed.length && suggestion.startsWith(join.typed)) {
          if (doc.version !== version) {
            this.counters.stale++;
            return [];
          }
          this.counters.joined++;
          return reply(suggestion.slice(join.typed.length));
        }
        // It did not fit what was typed meanwhile: ask afresh.
      }

      if (trigger === 'automatic') {
        const wait = debounceMs(options.debounce, previousAt === undefined ? undefined : now - previousAt, suffixOnLine.trim() === '');
        await this.clock.sleep(wait, controller.signal).catch(() => undefined);
      }
      if (controller.signal.aborted) {
        this.counters.cancelled++;
        return [];
      }

      if (!this.callsPerMinute.tryTake(options.maxCallsPerMinute)) {
        this.counters.capped++;
        return [];
      }

      // Past the last line this is the end of the text: positions clamp to the document, as in LSP.
      const followingStart = doc.lineStartOffset(cursor.line + 1);
      const call = this.startCall(uri, buildCompletionPrompt(doc, cursor, options, this.recentSnippets(uri), this.displayPath(uri)), { version, offset, before, after, key }, {
        linePrefix,
        suffixOnLine,
        followingText: text.slice(followingStart, followingStart + 400),
        indent: indentationOf(lineText),
        eol: doc.eol,
      });
      const suggestion = await unlessAborted(call.suggestion, controller.signal);
      if (controller.signal.aborted) {
        this.counters.cancelled++;
        return [];
      }
      if (suggestion === undefined) return [];
      if (doc.version !== version) {
        this.counters.stale++;
        return [];
      }
      return reply(suggestion);
    } finally {
      signal.removeEventListener('abort', onClientAbort);
      // Stryker disable next-line ConditionalExpression: equivalent when always false, a finished request's controller left behind is only aborted again (a no-op) and goes with forget()
      if (this.pending.get(uri) === controller) this.pending.delete(uri);
    }
  }

  /**
   * One model call for `uri`, replacing any still running. It outlives the
   * request that made it: a newer request typed on from the same spot joins
   * it, and its answer is cleaned (against the text as it was when asked),
   * cached and remembered for typed-ahead reuse whoever is still waiting.
   */
  private startCall(uri: string, prompt: CompletionPrompt, made: Spot & { version: number; key: string }, around: SuggestionContext): RunningCall {
    this.abandonCall(uri);
    this.counters.modelCalls++;
    const controller = new AbortController();
    const suggestion = this.model.complete(prompt, controller.signal).then(
      (raw) => {
        const cleaned = cleanSuggestion(raw, around);
        // Cached and remembered even if the text has moved on: the context key
        // and the typed-ahead check still make it right for a later matching request.
        this.cache.set(made.key, cleaned);
        this.refused.delete(made.key);
        this.lastSuggestion.set(uri, { version: made.version, offset: made.offset, before: made.before, after: made.after, text: cleaned });
        return cleaned;
      },
      (error: unknown) => {
        if (!controller.signal.aborted) {
          this.counters.errors++;
          // Stryker disable next-line BooleanLiteral: equivalent, only whether a key is there is read
          this.refused.set(made.key, true);
          this.deps.onError?.(error);
        }
        return undefined;
      },
    );
    const call: RunningCall = { offset: made.offset, before: made.before, after: made.after, controller, suggestion };
    this.running.set(uri, call);
    void suggestion.finally(() => {
      if (this.running.get(uri) === call) this.running.delete(uri);
    });
    return call;
  }

  /**
   * The call still running for `uri` and what was typed since it was made,
   * when the user typed on from where it was made; a call made elsewhere can
   * no longer serve them, so it is abandoned.
   */
  private callToJoin(uri: string, text: string, offset: number): { call: RunningCall; typed: string } | undefined {
    const call = this.running.get(uri);
    if (call === undefined) return undefined;
    const typed = typedSince(call, text, offset);
    if (typed === undefined) {
      this.abandonCall(uri);
      return undefined;
    }
    return { call, typed };
  }

  private abandonCall(uri: string): void {
    this.running.get(uri)?.controller.abort();
    this.running.delete(uri);
  }

  /**
   * The rest of the last suggestion for `uri` when everything the user typed
   * since it was made is its beginning, with the text around it unchanged;
   * otherwise undefined, and a suggestion that no longer fits is dropped.
   */
  private typedAhead(uri: string, text: string, offset: number): string | undefined {
    const last = this.lastSuggestion.get(uri);
    if (last === undefined) return undefined;
    const typed = typedSince(last, text, offset);
    // The same spot again (typed nothing) is left to the cache.
    if (typed === '') return undefined;
    // Anything but the beginning of the suggestion (an empty one has none) moved on from it.
    if (typed === undefined || typed.length >= last.text.length || !last.text.startsWith(typed)) {
      this.lastSuggestion.delete(uri);
      return undefined;
    }
    return last.text.slice(typed.length);
  }

  private displayPath(uri: string): string {
    return this.deps.displayPath?.(uri) ?? pathOfUri(uri);
  }

  private recentSnippets(currentUri: string): RecentSnippet[] {
    const getDocument = this.deps.getDocument;
    if (getDocument === undefined) return [];
    const snippets: RecentSnippet[] = [];
    // LRUCache iterates most recently used first.
    for (const [uri, line] of this.recentEdits.entries()) {
      if (snippets.length >= recentDocuments) break;
      if (uri === currentUri) continue;
      const other = getDocument(uri);
      if (other === undefined) continue;
      // Lines before the first or past the last clamp to the document, as LSP positions do.
      const text = other.text.slice(other.lineStartOffset(line - recentLinesAround), other.lineEndOffset(line + recentLinesAround)).trimEnd();
      if (text !== '') snippets.push({ path: this.displayPath(uri), languageId: other.languageId, text });
    }
    return snippets;
  }
}

/**
 * The adaptive debounce. `gapMs` is the time since the previous request for
 * the document: a pause (no previous request, or ≥ `pauseMs`) gets `minMs`;
 * fast typing gets up to `maxMs`, linearly in how short the gap was — a fast
 * typist would otherwise pay for a call per keystroke that is never shown. At
 * the end of a line (where a completion is most useful and the line is least
 * likely to change under it) the wait is halved towards `minMs`.
 */
export function debounceMs(debounce: { minMs: number; maxMs: number }, gapMs: number | undefined, atEndOfLine: boolean): number {
  const min = Math.max(0, debounce.minMs);
  const max = Math.max(min, debounce.maxMs);
  if (gapMs === undefined) return min;
  // A gap of `pauseMs` or more is a pause: the shortest wait.
  const typing = max - (max - min) * (Math.min(pauseMs, Math.max(0, gapMs)) / pauseMs);
  return Math.round(atEndOfLine ? min + (typing - min) / 2 : typing);
}
