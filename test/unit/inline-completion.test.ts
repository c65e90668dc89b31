import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Position } from 'vscode-languageserver-textdocument';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import type { TrackedDocument } from '../../server/src/documents/tracked-document.js';
import {
  InlineCompletionEngine,
  buildCompletionPrompt,
  completionRequestParts,
  debounceMs,
  defaultInlineCompletionOptions,
  inCommentOrString,
  systemClock,
  unlessAborted,
} from '../../server/src/completion/completion-engine.js';
import type { CompletionClock, CompletionModel, CompletionPrompt, InlineCompletionOptions } from '../../server/src/completion/completion-engine.js';

const uri = 'file:///work/project/src/cart.ts';
const cart = [
  "import type { Item } from './item.js';",
  '',
  'export class Cart {',
  '  private readonly items: Item[] = [];',
  '',
  '  total(): number {',
  '    return this.items.reduce(',
  '  }',
  '}',
  '',
].join('\n');

class ManualClock implements CompletionClock {
  time = 0;
  private sleepers: { until: number; resolve: () => void }[] = [];
  now(): number {
    return this.time;
  }
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const sleeper = { until: this.time + ms, resolve };
      this.sleepers.push(sleeper);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }
  async advance(ms: number): Promise<void> {
    this.time += ms;
    const due = this.sleepers.filter((s) => s.until <= this.time);
    this.sleepers = this.sleepers.filter((s) => s.until > this.time);
    for (const s of due) s.resolve();
    await flush();
  }
}

class FakeModel implements CompletionModel {
  calls: CompletionPrompt[] = [];
  /** The signal of each call, in order: aborted once the engine gave the call up. */
  signals: AbortSignal[] = [];
  private waiting: { resolve: (text: string) => void; reject: (e: unknown) => void }[] = [];
  constructor(private readonly answers: string[], private readonly manual = false) {}
  complete(prompt: CompletionPrompt, signal: AbortSignal): Promise<string> {
    this.calls.push(prompt);
    this.signals.push(signal);
    const answer = this.answers.shift() ?? '';
    if (!this.manual) return Promise.resolve(answer);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve: () => resolve(answer), reject });
      signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
  }
  /** Lets every pending call answer (aborted ones have already rejected). */
  release(): void {
    for (const w of this.waiting.splice(0)) w.resolve('');
  }
  /** Fails every pending call, as an overloaded API would. */
  fail(): void {
    for (const w of this.waiting.splice(0)) w.reject(new Error('529 overloaded'));
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

const baseOptions: InlineCompletionOptions = {
  maxCallsPerMinute: 30,
  skipInCommentsAndStrings: true,
  skipRefusedSpots: true,
  prefixChars: 6000,
  suffixChars: 2000,
  debounce: { minMs: 50, maxMs: 300 },
  cacheEntries: 50,
};

function setup(answers: string[], opts: Partial<InlineCompletionOptions> = {}, manual = false) {
  const store = new DocumentStore();
  store.open({ uri, languageId: 'typescript', version: 1, text: cart });
  const doc = store.get(uri) as TrackedDocument;
  const model = new FakeModel(answers, manual);
  const clock = new ManualClock();
  const engine = new InlineCompletionEngine(model, clock, () => ({ ...baseOptions, ...opts }));
  let version = 1;
  /** Types `text` at `position` as the editor would. */
  const type = (position: Position, text: string): void => {
    store.change(uri, ++version, [{ range: { start: position, end: position }, text }]);
  };
  /** Deletes `length` characters after `position`, as backspacing over them would. */
  const erase = (position: Position, length: number): void => {
    store.change(uri, ++version, [{ range: { start: position, end: { line: position.line, character: position.character + length } }, text: '' }]);
  };
  return { store, doc, model, clock, engine, type, erase };
}

/** `position` moved `n` characters right on its line. */
function right(position: Position, n: number): Position {
  return { line: position.line, character: position.character + n };
}

function endOf(doc: TrackedDocument, needle: string): Position {
  const at = doc.text.indexOf(needle);
  if (at < 0) throw new Error(`${needle} not found`);
  return doc.positionAt(at + needle.length);
}

const never = new AbortController().signal;

describe('InlineCompletionEngine', () => {
  it('calls the model for an invoked request and returns the cleaned suggestion at the cursor', async () => {
    const { doc, model, engine } = setup(['```ts\n(sum, item) => sum + item.price, 0);\n```']);
    const at = endOf(doc, 'reduce(');
    const items = await engine.provide(doc, at, 'invoked', never);
    expect(items).toEqual([{ insertText: '(sum, item) => sum + item.price, 0);', range: { start: at, end: at } }]);
    expect(model.calls).toHaveLength(1);
    expect(model.calls[0]?.prefixLine).toBe('    return this.items.reduce(');
    expect(model.calls[0]?.suffix.startsWith('\n  }\n}')).toBe(true);
    expect(model.calls[0]?.prefixHead.endsWith('  total(): number {\n')).toBe(true);
  });

  it('a newer request answers the older one with [], and takes the rest of its call when the user typed on from there', async () => {
    const { doc, model, engine, type } = setup(['(sum, item) => sum + item.price, 0);'], {}, true);
    const at = endOf(doc, 'reduce(');
    const older = engine.provide(doc, at, 'invoked', never);
    await flush();
    type(at, '(sum');
    const newer = engine.provide(doc, { line: at.line, character: at.character + 4 }, 'invoked', never);
    await expect(older).resolves.toEqual([]);

    model.release();
    const items = await newer;
    expect(items.map((i) => i.insertText)).toEqual([', item) => sum + item.price, 0);']);
    expect(model.calls).toHaveLength(1);
    expect(engine.stats()).toMatchObject({ cancelled: 1, joined: 1, modelCalls: 1 });
  });

  it('aborts the running call when the user types elsewhere, and asks afresh', async () => {
    const { doc, model, engine, type } = setup(['(sum, item) => sum + item.price, 0);', 'iscount: number'], {}, true);
    const older = engine.provide(doc, endOf(doc, 'reduce('), 'invoked', never);
    await flush();
    const elsewhere = endOf(doc, 'total(');
    type(elsewhere, 'd');
    const newer = engine.provide(doc, { line: elsewhere.line, character: elsewhere.character + 1 }, 'invoked', never);
    await flush();
    expect(model.calls).toHaveLength(2);
    expect(model.calls[1]?.prefixLine).toBe('  total(d');

    expect(model.signals[0]?.aborted).toBe(true);
    expect(model.signals[1]?.aborted).toBe(false);
    model.release();
    await expect(older).resolves.toEqual([]);
    expect((await newer).map((i) => i.insertText)).toEqual(['iscount: number']);
    expect(engine.stats()).toMatchObject({ cancelled: 1, joined: 0, modelCalls: 2, errors: 0 });
  });

  it('asks afresh when the running call\'s answer does not begin with what was typed meanwhile', async () => {
    const { doc, model, engine, type } = setup(['(sum, item) => sum + item.price, 0);', 'items) => items.length'], {}, true);
    const at = endOf(doc, 'reduce(');
    void engine.provide(doc, at, 'invoked', never);
    await flush();
    type(at, '(items');
    const newer = engine.provide(doc, { line: at.line, character: at.character + 6 }, 'invoked', never);
    await flush();
    expect(model.calls).toHaveLength(1); // waiting on the first call

    model.release(); // "(sum, …" does not begin with "(items"
    await flush();
    expect(model.calls).toHaveLength(2);
    expect(model.calls[1]?.prefixLine).toBe('    return this.items.reduce((items');
    model.release();
    expect((await newer).map((i) => i.insertText)).toEqual(['items) => items.length']);
    expect(engine.stats().joined).toBe(0);
  });

  it('the client cancelling its request ends it with []', async () => {
    const { doc, engine } = setup(['x'], {}, true);
    const controller = new AbortController();
    const pending = engine.provide(doc, endOf(doc, 'reduce('), 'invoked', controller.signal);
    await flush();
    controller.abort();
    await expect(pending).resolves.toEqual([]);
  });

  it('reuses the last suggestion when the user typed its beginning, without a model call', async () => {
    const { doc, model, engine, type } = setup(['(sum, item) => sum + item.price, 0);']);
    const at = endOf(doc, 'reduce(');
    await engine.provide(doc, at, 'invoked', never);
    type(at, '(sum, ');
    const items = await engine.provide(doc, { line: at.line, character: at.character + 6 }, 'automatic', never);
    expect(items.map((i) => i.insertText)).toEqual(['item) => sum + item.price, 0);']);
    expect(items[0]?.range.start).toEqual({ line: at.line, character: at.character + 6 });
    expect(model.calls).toHaveLength(1);
    expect(engine.stats().typedAhead).toBe(1);
  });

  it('drops a suggestion once the text moved on differently, and one that arrives for an old version', async () => {
    const { doc, model, engine, type } = setup(['(sum, item) => sum + item.price, 0);', 'i => i.price)'], {}, false);
    const at = endOf(doc, 'reduce(');
    await engine.provide(doc, at, 'invoked', never);
    type(at, 'toTotal');
    const items = await engine.provide(doc, { line: at.line, character: at.character + 7 }, 'invoked', never);
    expect(model.calls).toHaveLength(2);
    expect(items[0]?.insertText).toBe('i => i.price)');

    const late = setup(['(sum, item) => sum + item.price, 0);'], {}, true);
    const lateAt = endOf(late.doc, 'reduce(');
    const pending = late.engine.provide(late.doc, lateAt, 'invoked', never);
    await flush();
    late.type(lateAt, 'x');
    late.model.release();
    await expect(pending).resolves.toEqual([]);
    expect(late.engine.stats().stale).toBe(1);
  });

  it('serves the same context from the cache', async () => {
    const { doc, model, engine } = setup(['(sum, item) => sum + item.price, 0);']);
    const at = endOf(doc, 'reduce(');
    await engine.provide(doc, at, 'invoked', never);
    const again = await engine.provide(doc, at, 'invoked', never);
    expect(again[0]?.insertText).toBe('(sum, item) => sum + item.price, 0);');
    expect(model.calls).toHaveLength(1);
    expect(engine.stats().cacheHits).toBe(1);
  });

  it('debounces automatic requests, not invoked ones; a burst makes one model call', async () => {
    const { doc, model, clock, engine, type } = setup(['price', '(sum, item) => sum + item.price, 0);']);
    const at = endOf(doc, 'reduce(');
    const invoked = await engine.provide(doc, at, 'invoked', never);
    expect(invoked).toHaveLength(1);
    expect(model.calls).toHaveLength(1);

    const results: Promise<unknown>[] = [];
    let character = at.character;
    for (const ch of ['x', 'y', 'z']) {
      type({ line: at.line, character }, ch);
      character++;
      await clock.advance(40); // fast typing
      results.push(engine.provide(doc, { line: at.line, character }, 'automatic', never));
      await flush();
    }
    expect(model.calls).toHaveLength(1); // all still waiting
    await clock.advance(300);
    const settled = await Promise.all(results);
    expect(settled.slice(0, 2)).toEqual([[], []]);
    expect(engine.stats().cancelled).toBe(2);
    expect(model.calls).toHaveLength(2);
    expect(model.calls[1]?.prefixLine.endsWith('reduce(xyz')).toBe(true);
  });

  it('waits less after a pause or at the end of a line than while typing fast', () => {
    const d = { minMs: 50, maxMs: 300 };
    expect(debounceMs(d, undefined, false)).toBe(50);
    expect(debounceMs(d, 5000, false)).toBe(50);
    expect(debounceMs(d, 0, false)).toBe(300);
    expect(debounceMs(d, 0, true)).toBe(175);
    expect(debounceMs(d, 100, false)).toBeGreaterThan(debounceMs(d, 600, false));
    expect(debounceMs(d, 500, false)).toBe(175);
    expect(debounceMs(d, 1000, true)).toBe(50);
    expect(debounceMs(d, -20, false)).toBe(300);
  });

  it('keeps the debounce bounds sane: never below 0, the longest never below the shortest', () => {
    expect(debounceMs({ minMs: -10, maxMs: 20 }, undefined, false)).toBe(0);
    expect(debounceMs({ minMs: -10, maxMs: 20 }, 0, false)).toBe(20);
    expect(debounceMs({ minMs: 100, maxMs: 50 }, 0, false)).toBe(100);
  });

  it('stops calling the model past the per-minute cap, and resumes after the minute', async () => {
    const { doc, model, clock, engine, type } = setup(['a1', 'a2', 'a3', 'a4'], { maxCallsPerMinute: 2 });
    const at = endOf(doc, 'reduce(');
    let character = at.character;
    const next = async () => {
      type({ line: at.line, character }, 'q');
      character++;
      return engine.provide(doc, { line: at.line, character }, 'invoked', never);
    };
    await next();
    await next();
    expect(await next()).toEqual([]);
    expect(engine.stats().capped).toBe(1);
    expect(model.calls).toHaveLength(2);
    await clock.advance(60_000);
    expect(await next()).toHaveLength(1);
    expect(model.calls).toHaveLength(3);
  });

  it('skips automatic triggers in comments and strings, unless invoked or turned off', async () => {
    const text = "const greeting = 'Hello, wor\n// compute the tot\n";
    const store = new DocumentStore();
    store.open({ uri, languageId: 'typescript', version: 1, text });
    const doc = store.get(uri) as TrackedDocument;
    const model = new FakeModel(['ld', 'al']);
    const clock = new ManualClock();
    const engine = new InlineCompletionEngine(model, clock, () => baseOptions);
    expect(await engine.provide(doc, { line: 0, character: 28 }, 'automatic', never)).toEqual([]);
    expect(await engine.provide(doc, { line: 1, character: 18 }, 'automatic', never)).toEqual([]);
    expect(engine.stats().skipped).toBe(2);
    expect(model.calls).toHaveLength(0);
    const invoked = await engine.provide(doc, { line: 0, character: 28 }, 'invoked', never);
    expect(invoked[0]?.insertText).toBe('ld');

    const off = new InlineCompletionEngine(model, clock, () => ({ ...baseOptions, skipInCommentsAndStrings: false }));
    const pending = off.provide(doc, { line: 1, character: 18 }, 'automatic', never);
    await clock.advance(1000);
    expect((await pending)[0]?.insertText).toBe('al');
  });

  it('answers [] and reports when the model fails', async () => {
    const errors: unknown[] = [];
    const store = new DocumentStore();
    store.open({ uri, languageId: 'typescript', version: 1, text: cart });
    const doc = store.get(uri) as TrackedDocument;
    const failing: CompletionModel = { complete: () => Promise.reject(new Error('overloaded')) };
    const engine = new InlineCompletionEngine(failing, new ManualClock(), () => baseOptions, { onError: (e) => errors.push(e) });
    expect(await engine.provide(doc, endOf(doc, 'reduce('), 'invoked', never)).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(engine.stats().errors).toBe(1);
  });

  it('skips automatic triggers where the call for the same context was refused, until asked or turned off', async () => {
    const store = new DocumentStore();
    store.open({ uri, languageId: 'typescript', version: 1, text: cart });
    const doc = store.get(uri) as TrackedDocument;
    const answers: (string | Error)[] = [new Error('400 the request was refused'), '(sum, item) => sum + item.price, 0);', new Error('529 overloaded'), 'x'];
    let calls = 0;
    const model: CompletionModel = {
      complete: () => {
        calls++;
        const answer = answers.shift() ?? '';
        return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
      },
    };
    let options = baseOptions;
    const clock = new ManualClock();
    const engine = new InlineCompletionEngine(model, clock, () => options);
    const at = endOf(doc, 'reduce(');
    const automatic = async () => {
      const pending = engine.provide(doc, at, 'automatic', never);
      await clock.advance(1_000);
      return pending;
    };

    expect(await automatic()).toEqual([]);
    expect(calls).toBe(1);
    expect(await automatic()).toEqual([]); // the same spot: not asked again
    expect(calls).toBe(1);
    expect(engine.stats().skipped).toBe(1);

    // Asked for explicitly, it tries again, and success lifts the mark.
    expect((await engine.provide(doc, at, 'invoked', never))[0]?.insertText).toBe('(sum, item) => sum + item.price, 0);');
    expect(calls).toBe(2);

    const other = endOf(doc, 'total(');
    expect(await engine.provide(doc, other, 'invoked', never)).toEqual([]); // refused again, elsewhere
    options = { ...baseOptions, skipRefusedSpots: false };
    const retried = engine.provide(doc, other, 'automatic', never);
    await clock.advance(1_000);
    expect((await retried)[0]?.insertText).toBe('x');
    expect(calls).toBe(4);
  });

  it('quotes recently edited other documents in the prompt', async () => {
    const store = new DocumentStore();
    store.open({ uri, languageId: 'typescript', version: 1, text: cart });
    const itemUri = 'file:///work/project/src/item.ts';
    store.open({ uri: itemUri, languageId: 'typescript', version: 1, text: 'export interface Item {\n  name: string;\n  price: number;\n}\n' });
    const model = new FakeModel(['', 'x']);
    const engine = new InlineCompletionEngine(model, new ManualClock(), () => baseOptions, { getDocument: (u) => store.get(u) });
    await engine.provide(store.get(itemUri) as TrackedDocument, { line: 2, character: 16 }, 'invoked', never);
    const doc = store.get(uri) as TrackedDocument;
    await engine.provide(doc, endOf(doc, 'reduce('), 'invoked', never);
    expect(model.calls[1]?.recentSnippets).toEqual([{ path: '/work/project/src/item.ts', languageId: 'typescript', text: 'export interface Item {\n  name: string;\n  price: number;\n}' }]);
  });
});

describe('InlineCompletionEngine: what it counts and when it lets go', () => {
  it('counts requests and the suggestions it showed; an answer that cleans to nothing shows nothing', async () => {
    const { doc, engine } = setup(['(sum, item) => sum + item.price, 0);', '```ts\n   \n```']);
    expect(await engine.provide(doc, endOf(doc, 'reduce('), 'invoked', never)).toHaveLength(1);
    expect(await engine.provide(doc, endOf(doc, 'total('), 'invoked', never)).toEqual([]);
    expect(engine.stats()).toMatchObject({ requests: 2, modelCalls: 2, shown: 1 });
  });

  it('makes no model call for a request its client cancelled before it arrived', async () => {
    const { doc, model, engine } = setup(['x']);
    const controller = new AbortController();
    controller.abort();
    expect(await engine.provide(doc, endOf(doc, 'reduce('), 'invoked', controller.signal)).toEqual([]);
    expect(model.calls).toHaveLength(0);
    expect(engine.stats().cancelled).toBe(1);
  });

  it("stops listening to the client's cancellation once it has answered", async () => {
    const { doc, engine } = setup(['x']);
    const controller = new AbortController();
    const removed = vi.spyOn(controller.signal, 'removeEventListener');
    await engine.provide(doc, endOf(doc, 'reduce('), 'invoked', controller.signal);
    expect(removed).toHaveBeenCalledWith('abort', expect.any(Function));
  });

  it('counts an accepted suggestion, after which typing its beginning asks again', async () => {
    const { doc, model, engine, type } = setup(['(sum, item) => sum + item.price, 0);', ', item) => sum + item.price, 0);']);
    const at = endOf(doc, 'reduce(');
    await engine.provide(doc, at, 'invoked', never);
    engine.accepted(uri);
    type(at, '(sum');
    expect((await engine.provide(doc, right(at, 4), 'invoked', never))[0]?.insertText).toBe(', item) => sum + item.price, 0);');
    expect(model.calls).toHaveLength(2);
    expect(engine.stats()).toMatchObject({ accepted: 1, typedAhead: 0 });
  });

  it('forgets a closed document: its waiting request answers [], its model call is aborted, its suggestion is not reused', async () => {
    const { doc, model, engine, type } = setup(['(sum, item) => sum + item.price, 0);', 'discount: number', ', item) => sum'], {}, true);
    const at = endOf(doc, 'reduce(');
    const first = engine.provide(doc, at, 'invoked', never);
    await flush();
    model.release();
    await first;
    const waiting = engine.provide(doc, endOf(doc, 'total('), 'invoked', never);
    await flush();
    engine.forget(uri);
    await expect(waiting).resolves.toEqual([]);
    expect(model.signals[1]?.aborted).toBe(true);
    engine.forget(uri); // nothing left to forget: no error

    type(at, '(sum');
    const again = engine.provide(doc, right(at, 4), 'invoked', never);
    await flush();
    expect(model.calls).toHaveLength(3);
    model.release();
    expect((await again)[0]?.insertText).toBe(', item) => sum');
  });

  it('after forgetting a document, its next automatic request waits as after a pause', async () => {
    const { doc, model, clock, engine, type } = setup(['first', 'second']);
    const at = endOf(doc, 'reduce(');
    const first = engine.provide(doc, at, 'automatic', never);
    await clock.advance(50);
    await first;
    engine.forget(uri);
    type(at, 'q');
    void engine.provide(doc, right(at, 1), 'automatic', never);
    await clock.advance(49);
    expect(model.calls).toHaveLength(1);
    await clock.advance(1);
    expect(model.calls).toHaveLength(2);
  });

  it('does not quote a forgotten document in other prompts', async () => {
    const store = new DocumentStore();
    const itemUri = 'file:///work/project/src/item.ts';
    store.open({ uri, languageId: 'typescript', version: 1, text: cart });
    store.open({ uri: itemUri, languageId: 'typescript', version: 1, text: 'export interface Item {\n  price: number;\n}\n' });
    const model = new FakeModel(['', 'x']);
    const engine = new InlineCompletionEngine(model, new ManualClock(), () => baseOptions, { getDocument: (u) => store.get(u) });
    await engine.provide(store.get(itemUri) as TrackedDocument, { line: 1, character: 16 }, 'invoked', never);
    engine.forget(itemUri);
    const doc = store.get(uri) as TrackedDocument;
    await engine.provide(doc, endOf(doc, 'reduce('), 'invoked', never);
    expect(model.calls[1]?.recentSnippets).toEqual([]);
  });
});

describe('InlineCompletionEngine: running calls', () => {
  it('abandons the running call when the user moves elsewhere, even when the cache answers there', async () => {
    const { doc, model, engine } = setup(['(sum, item) => sum + item.price, 0);', 'discount: number'], {}, true);
    const at = endOf(doc, 'reduce(');
    const first = engine.provide(doc, at, 'invoked', never);
    await flush();
    model.release();
    await first;
    void engine.provide(doc, endOf(doc, 'total('), 'invoked', never);
    await flush();
    const back = await engine.provide(doc, at, 'invoked', never);
    expect(back[0]?.insertText).toBe('(sum, item) => sum + item.price, 0);');
    expect(model.signals[1]?.aborted).toBe(true);
  });

  it('keeps the newer call joinable when an abandoned older one settles', async () => {
    const { doc, model, engine, type } = setup(['(sum, item) => sum + item.price, 0);', 'discount: number): number {'], {}, true);
    void engine.provide(doc, endOf(doc, 'reduce('), 'invoked', never);
    await flush();
    const elsewhere = endOf(doc, 'total(');
    void engine.provide(doc, elsewhere, 'invoked', never);
    await flush(); // the first call, abandoned, has settled
    type(elsewhere, 'd');
    const typedOn = engine.provide(doc, right(elsewhere, 1), 'invoked', never);
    await flush();
    expect(model.calls).toHaveLength(2);
    model.release();
    expect((await typedOn).map((i) => i.insertText)).toEqual(['iscount: number']);
    expect(engine.stats().joined).toBe(1);
  });

  it('asks afresh when the call it joined fails', async () => {
    const { doc, model, engine, type } = setup(['(sum, item) => sum + item.price, 0);', ', item) => sum + item.price, 0);'], {}, true);
    const at = endOf(doc, 'reduce(');
    void engine.provide(doc, at, 'invoked', never);
    await flush();
    type(at, '(sum');
    const typedOn = engine.provide(doc, right(at, 4), 'invoked', never);
    await flush();
    model.fail();
    await flush();
    expect(model.calls).toHaveLength(2);
    model.release();
    expect((await typedOn)[0]?.insertText).toBe(', item) => sum + item.price, 0);');
    expect(engine.stats()).toMatchObject({ errors: 1, joined: 0 });
  });

  it('asks afresh when the user typed the whole suggestion the running call brings', async () => {
    const { doc, model, engine, type } = setup(['items)', ', 0);'], {}, true);
    const at = endOf(doc, 'reduce(');
    void engine.provide(doc, at, 'invoked', never);
    await flush();
    type(at, 'items)');
    const typedOn = engine.provide(doc, right(at, 6), 'invoked', never);
    await flush();
    model.release();
    await flush();
    expect(model.calls).toHaveLength(2);
    model.release();
    expect((await typedOn)[0]?.insertText).toBe(', 0);');
    expect(engine.stats().joined).toBe(0);
  });

  it('joins the running call from the same spot', async () => {
    const { doc, model, engine } = setup(['export class Order {}'], {}, true);
    const end = doc.positionAt(doc.text.length);
    const first = engine.provide(doc, end, 'invoked', never);
    await flush();
    const again = engine.provide(doc, end, 'invoked', never);
    await flush();
    model.release();
    expect(await first).toEqual([]);
    expect((await again)[0]?.insertText).toBe('export class Order {}');
    expect(model.calls).toHaveLength(1);
    expect(engine.stats().joined).toBe(1);
  });

  it('does not join the running call from a spot before it, even where the text around looks the same', async () => {
    const { doc, model, engine } = setup(['export class Order {}', '// end of cart'], {}, true);
    const end = doc.positionAt(doc.text.length);
    void engine.provide(doc, end, 'invoked', never);
    await flush();
    // One character left, what follows the cursor still starts with what followed the end (nothing).
    const earlier = engine.provide(doc, doc.positionAt(doc.text.length - 1), 'invoked', never);
    await flush();
    expect(model.calls).toHaveLength(2);
    expect(model.signals[0]?.aborted).toBe(true);
    model.release();
    expect((await earlier)[0]?.insertText).toBe('// end of cart');
    expect(engine.stats().joined).toBe(0);
  });

  it('does not join a call after an edit before where it was made, even one that looks like typing on', async () => {
    const text = "const rule = '-----";
    const store = new DocumentStore();
    store.open({ uri, languageId: 'typescript', version: 1, text });
    const doc = store.get(uri) as TrackedDocument;
    const model = new FakeModel(["-----';", "';"], true);
    const engine = new InlineCompletionEngine(model, new ManualClock(), () => baseOptions);
    const end = doc.positionAt(text.length);
    void engine.provide(doc, end, 'invoked', never);
    await flush();
    store.change(uri, 2, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: 'x' }]);
    const after = engine.provide(doc, right(end, 1), 'invoked', never);
    await flush();
    expect(model.calls).toHaveLength(2);
    model.release();
    expect((await after)[0]?.insertText).toBe("';");
  });

  it('joins a call made more than 1000 characters into the document', async () => {
    const filler = Array.from({ length: 80 }, (_, i) => `const rate${i} = ${i} / 100;`).join('\n');
    const store = new DocumentStore();
    store.open({ uri, languageId: 'typescript', version: 1, text: `${filler}\n${cart}` });
    const doc = store.get(uri) as TrackedDocument;
    const model = new FakeModel(['(sum, item) => sum + item.price, 0);'], true);
    const engine = new InlineCompletionEngine(model, new ManualClock(), () => baseOptions);
    const at = endOf(doc, 'reduce(');
    void engine.provide(doc, at, 'invoked', never);
    await flush();
    store.change(uri, 2, [{ range: { start: at, end: at }, text: '(sum' }]);
    const typedOn = engine.provide(doc, right(at, 4), 'invoked', never);
    await flush();
    model.release();
    expect((await typedOn)[0]?.insertText).toBe(', item) => sum + item.price, 0);');
    expect(model.calls).toHaveLength(1);
  });

  it('drops the joined answer when the text changed while it waited', async () => {
    const { doc, model, engine, type } = setup(['(sum, item) => sum + item.price, 0);'], {}, true);
    const at = endOf(doc, 'reduce(');
    void engine.provide(doc, at, 'invoked', never);
    await flush();
    type(at, '(sum');
    const typedOn = engine.provide(doc, right(at, 4), 'invoked', never);
    await flush();
    type(right(at, 4), ',');
    model.release();
    await expect(typedOn).resolves.toEqual([]);
    expect(engine.stats()).toMatchObject({ stale: 1, joined: 0 });
  });
});

describe('InlineCompletionEngine: the cache', () => {
  it('is keyed by the text around the cursor: an edit just after it is a new context', async () => {
    const { doc, model, engine, type } = setup(['(sum, item) => sum + item.price, 0);', 'items.length']);
    const at = endOf(doc, 'reduce(');
    await engine.provide(doc, at, 'invoked', never);
    type(endOf(doc, '  }'), ' // total');
    expect((await engine.provide(doc, at, 'invoked', never))[0]?.insertText).toBe('items.length');
    expect(model.calls).toHaveLength(2);
  });

  it('ignores edits more than 1000 characters before the cursor', async () => {
    const filler = Array.from({ length: 80 }, (_, i) => `const rate${i} = ${i} / 100;`).join('\n');
    const text = `${filler}\n${cart}`;
    const store = new DocumentStore();
    store.open({ uri, languageId: 'typescript', version: 1, text });
    const doc = store.get(uri) as TrackedDocument;
    const model = new FakeModel(['(sum, item) => sum + item.price, 0);']);
    const engine = new InlineCompletionEngine(model, new ManualClock(), () => baseOptions);
    const at = endOf(doc, 'reduce(');
    await engine.provide(doc, at, 'invoked', never);
    store.change(uri, 2, [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '// Rates.\n' }]);
    const moved = { line: at.line + 1, character: at.character };
    expect((await engine.provide(doc, moved, 'invoked', never))[0]?.insertText).toBe('(sum, item) => sum + item.price, 0);');
    expect(model.calls).toHaveLength(1);
  });

  it('keeps cacheEntries suggestions, follows a change of that setting, and keeps at least one', async () => {
    let options = { ...baseOptions, cacheEntries: 2 };
    const store = new DocumentStore();
    store.open({ uri, languageId: 'typescript', version: 1, text: cart });
    const doc = store.get(uri) as TrackedDocument;
    const model = new FakeModel(['a1', 'b1', 'a2', 'b2', 'a3']);
    const engine = new InlineCompletionEngine(model, new ManualClock(), () => options);
    const a = endOf(doc, 'reduce(');
    const b = endOf(doc, 'total(');
    const ask = async (at: Position) => (await engine.provide(doc, at, 'invoked', never))[0]?.insertText;
    expect([await ask(a), await ask(b), await ask(a), await ask(b)]).toEqual(['a1', 'b1', 'a1', 'b1']);
    expect(model.calls).toHaveLength(2);
    options = { ...options, cacheEntries: 1 };
    expect([await ask(a), await ask(b), await ask(a)]).toEqual(['a2', 'b2', 'a3']);
    options = { ...options, cacheEntries: 0 };
    expect([await ask(a), await ask(a)]).toEqual(['a3', 'a3']);

    const none = new InlineCompletionEngine(new FakeModel(['a1']), new ManualClock(), () => ({ ...baseOptions, cacheEntries: 0 }));
    expect([(await none.provide(doc, a, 'invoked', never))[0]?.insertText, (await none.provide(doc, a, 'invoked', never))[0]?.insertText]).toEqual(['a1', 'a1']);
  });

  it('serves typed-ahead from a suggestion that came from the cache', async () => {
    const { doc, model, engine, type } = setup(['(sum, item) => sum + item.price, 0);', 'discount: number']);
    const at = endOf(doc, 'reduce(');
    await engine.provide(doc, at, 'invoked', never);
    await engine.provide(doc, endOf(doc, 'total('), 'invoked', never);
    await engine.provide(doc, at, 'invoked', never); // from the cache
    type(at, '(sum');
    expect((await engine.provide(doc, right(at, 4), 'invoked', never))[0]?.insertText).toBe(', item) => sum + item.price, 0);');
    expect(model.calls).toHaveLength(2);
    expect(engine.stats()).toMatchObject({ cacheHits: 1, typedAhead: 1 });
  });

  it('asks for what comes next once the user typed the whole last suggestion', async () => {
    const { doc, model, engine, type } = setup(['items)', ', 0);']);
    const at = endOf(doc, 'reduce(');
    await engine.provide(doc, at, 'invoked', never);
    type(at, 'items)');
    expect((await engine.provide(doc, right(at, 6), 'invoked', never))[0]?.insertText).toBe(', 0);');
    expect(model.calls).toHaveLength(2);
    expect(engine.stats().typedAhead).toBe(0);
  });

  it('does not offer again a suggestion the user typed away from', async () => {
    const { doc, engine, type, erase } = setup(['items.length', 'unused'], { maxCallsPerMinute: 1 });
    const at = endOf(doc, 'reduce(');
    expect(await engine.provide(doc, at, 'invoked', never)).toHaveLength(1);
    type(at, 'x');
    expect(await engine.provide(doc, right(at, 1), 'invoked', never)).toEqual([]); // capped
    erase(at, 1);
    type(at, 'i');
    expect(await engine.provide(doc, right(at, 1), 'invoked', never)).toEqual([]);
    expect(engine.stats()).toMatchObject({ typedAhead: 0, capped: 2 });
  });
});

describe('InlineCompletionEngine: the debounce', () => {
  it('waits the shortest time for the first automatic request', async () => {
    const { doc, model, clock, engine } = setup(['first']);
    void engine.provide(doc, endOf(doc, 'return this'), 'automatic', never);
    await clock.advance(49);
    expect(model.calls).toHaveLength(0);
    await clock.advance(1);
    expect(model.calls).toHaveLength(1);
  });

  it('waits longer while the user types fast in the middle of a line', async () => {
    const { doc, model, clock, engine, type } = setup(['first', 'second']);
    await clock.advance(3_600_000); // an hour into the session
    const mid = endOf(doc, 'return this');
    const first = engine.provide(doc, mid, 'automatic', never);
    await clock.advance(50);
    await first;
    await clock.advance(50);
    type(mid, 'q');
    void engine.provide(doc, right(mid, 1), 'automatic', never);
    await clock.advance(274); // 300 - (300 - 50) × 100/1000
    expect(model.calls).toHaveLength(1);
    await clock.advance(1);
    expect(model.calls).toHaveLength(2);
  });

  it('waits half as much longer at the end of a line, spaces after the cursor included', async () => {
    const { doc, model, clock, engine, type } = setup(['first', 'second']);
    await clock.advance(3_600_000); // an hour into the session
    const at = endOf(doc, 'reduce(');
    type(at, '  ');
    const first = engine.provide(doc, at, 'automatic', never);
    await clock.advance(50);
    await first;
    await clock.advance(50);
    type(at, 'q');
    void engine.provide(doc, right(at, 1), 'automatic', never);
    await clock.advance(162); // 50 + (275 - 50) / 2, rounded
    expect(model.calls).toHaveLength(1);
    await clock.advance(1);
    expect(model.calls).toHaveLength(2);
  });

  it('ends a superseded request with [] also with a clock whose sleep rejects when aborted', async () => {
    const store = new DocumentStore();
    store.open({ uri, languageId: 'typescript', version: 1, text: cart });
    const doc = store.get(uri) as TrackedDocument;
    const manual = new ManualClock();
    const rejecting: CompletionClock = {
      now: () => manual.now(),
      sleep: (ms, signal) =>
        new Promise((resolve, reject) => {
          void manual.sleep(ms, signal).then(() => (signal.aborted ? reject(new Error('aborted')) : resolve()));
        }),
    };
    const engine = new InlineCompletionEngine(new FakeModel(['x']), rejecting, () => baseOptions);
    const older = engine.provide(doc, endOf(doc, 'reduce('), 'automatic', never);
    await flush();
    void engine.provide(doc, endOf(doc, 'total('), 'automatic', never);
    await expect(older).resolves.toEqual([]);
    expect(engine.stats().cancelled).toBe(1);
  });
});

describe('InlineCompletionEngine: the line around the cursor', () => {
  it('is not in a comment when the comment comes after the cursor', async () => {
    const { doc, model, clock, engine, type } = setup(['(sum, item) => sum + item.price, 0);']);
    const at = endOf(doc, 'reduce(');
    type(at, ' // sum the prices');
    const pending = engine.provide(doc, at, 'automatic', never);
    await clock.advance(1000);
    expect(await pending).toHaveLength(1);
    expect(model.calls).toHaveLength(1);
  });

  it('drops the lines of an answer that repeat the lines after the cursor', async () => {
    const { doc, engine } = setup(['(sum, item) => sum + item.price, 0);\n  }\n}']);
    expect((await engine.provide(doc, endOf(doc, 'reduce('), 'invoked', never))[0]?.insertText).toBe('(sum, item) => sum + item.price, 0);');
  });

  it("indents an answer written at column 0 after a block opener to the cursor line's indentation", async () => {
    const { doc, engine } = setup(['\nreturn 0;\n}']);
    expect((await engine.provide(doc, endOf(doc, 'total(): number {'), 'invoked', never))[0]?.insertText).toBe('\n  return 0;\n  }');
  });
});

describe('InlineCompletionEngine: recently edited documents in the prompt', () => {
  function workspace(files: Record<string, string>) {
    const store = new DocumentStore();
    for (const [name, text] of Object.entries(files)) store.open({ uri: `file:///work/project/src/${name}`, languageId: 'typescript', version: 1, text });
    const get = (name: string) => store.get(`file:///work/project/src/${name}`) as TrackedDocument;
    return { store, get };
  }
  const short = (name: string) => `export const ${name.replace('.ts', '')} = 1;\n`;

  it('quotes none without a way to look documents up', async () => {
    const { get } = workspace({ 'a.ts': short('a.ts'), 'b.ts': short('b.ts') });
    const model = new FakeModel(['', '']);
    const engine = new InlineCompletionEngine(model, new ManualClock(), () => baseOptions);
    await engine.provide(get('a.ts'), { line: 0, character: 5 }, 'invoked', never);
    await engine.provide(get('b.ts'), { line: 0, character: 5 }, 'invoked', never);
    expect(model.calls[1]?.recentSnippets).toEqual([]);
  });

  it('quotes the three most recent other documents that are still open', async () => {
    const names = ['a.ts', 'b.ts', 'c.ts', 'd.ts', 'e.ts', 'f.ts'];
    const { store, get } = workspace(Object.fromEntries(names.map((n) => [n, short(n)])));
    const model = new FakeModel([]);
    const engine = new InlineCompletionEngine(model, new ManualClock(), () => baseOptions, { getDocument: (u) => store.get(u) });
    for (const name of names.slice(0, 5)) await engine.provide(get(name), { line: 0, character: 5 }, 'invoked', never);
    store.close('file:///work/project/src/d.ts');
    await engine.provide(get('f.ts'), { line: 0, character: 5 }, 'invoked', never);
    expect(model.calls[5]?.recentSnippets?.map((s) => s.path)).toEqual(['/work/project/src/e.ts', '/work/project/src/c.ts', '/work/project/src/b.ts']);
  });

  it('quotes five lines either side of where the other document was last edited, and nothing when they are blank', async () => {
    const long = Array.from({ length: 30 }, (_, i) => `const line${i} = ${i};`).join('\n');
    const blankTop = `${'\n'.repeat(12)}export const late = 1;\n`;
    const { store, get } = workspace({ 'long.ts': long, 'blank.ts': blankTop, 'cart.ts': cart });
    const model = new FakeModel([]);
    const engine = new InlineCompletionEngine(model, new ManualClock(), () => baseOptions, { getDocument: (u) => store.get(u) });
    await engine.provide(get('blank.ts'), { line: 2, character: 0 }, 'invoked', never);
    await engine.provide(get('long.ts'), { line: 15, character: 4 }, 'invoked', never);
    await engine.provide(get('cart.ts'), endOf(get('cart.ts'), 'reduce('), 'invoked', never);
    const expected = Array.from({ length: 11 }, (_, i) => `const line${i + 10} = ${i + 10};`).join('\n');
    expect(model.calls[2]?.recentSnippets).toEqual([{ path: '/work/project/src/long.ts', languageId: 'typescript', text: expected }]);
  });
});

describe('systemClock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('tells the system time', () => {
    vi.useFakeTimers({ now: 1_750_000_000_000 });
    expect(systemClock.now()).toBe(1_750_000_000_000);
  });

  it('sleeps for the time asked, then lets go of the abort signal', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const removed = vi.spyOn(controller.signal, 'removeEventListener');
    let woke = false;
    void systemClock.sleep(100, controller.signal).then(() => (woke = true));
    await vi.advanceTimersByTimeAsync(99);
    expect(woke).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(woke).toBe(true);
    expect(removed).toHaveBeenCalledWith('abort', expect.any(Function));
  });

  it('wakes as soon as the signal aborts, leaving no timer behind', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    let woke = false;
    void systemClock.sleep(10_000, controller.signal).then(() => (woke = true));
    expect(vi.getTimerCount()).toBe(1);
    controller.abort();
    await flush();
    expect(woke).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not sleep at all on a signal already aborted', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    controller.abort();
    let woke = false;
    void systemClock.sleep(10_000, controller.signal).then(() => (woke = true));
    await flush();
    expect(woke).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('unlessAborted', () => {
  it("gives the promise's value, and undefined when it rejects, then lets go of the signal", async () => {
    const controller = new AbortController();
    const removed = vi.spyOn(controller.signal, 'removeEventListener');
    await expect(unlessAborted(Promise.resolve('text'), controller.signal)).resolves.toBe('text');
    expect(removed).toHaveBeenCalledTimes(1);
    expect(removed).toHaveBeenLastCalledWith('abort', expect.any(Function));
    await expect(unlessAborted(Promise.reject(new Error('overloaded')), controller.signal)).resolves.toBeUndefined();
    expect(removed).toHaveBeenCalledTimes(2);
    expect(removed).toHaveBeenLastCalledWith('abort', expect.any(Function));
  });

  it('gives undefined as soon as the signal aborts, without waiting for the promise', async () => {
    const controller = new AbortController();
    const pending = unlessAborted(new Promise<string>(() => undefined), controller.signal);
    controller.abort();
    await expect(pending).resolves.toBeUndefined();
    const already = unlessAborted(new Promise<string>(() => undefined), controller.signal);
    await expect(already).resolves.toBeUndefined();
  });
});

describe('defaultInlineCompletionOptions', () => {
  it('are the documented defaults', () => {
    expect(defaultInlineCompletionOptions).toEqual({
      maxCallsPerMinute: 30,
      skipInCommentsAndStrings: true,
      skipRefusedSpots: true,
      prefixChars: 6000,
      suffixChars: 2000,
      debounce: { minMs: 75, maxMs: 350 },
      cacheEntries: 200,
    });
  });
});

describe('inCommentOrString', () => {
  it('follows each language’s comment markers and quotes', () => {
    expect(inCommentOrString('  // the total', 'typescript')).toBe(true);
    expect(inCommentOrString("const url = 'http://example.com", 'typescript')).toBe(true);
    expect(inCommentOrString("const url = 'http://example.com' + ", 'typescript')).toBe(false);
    expect(inCommentOrString('x = "a \\" b', 'python')).toBe(true);
    expect(inCommentOrString('x = 1  # note', 'python')).toBe(true);
    expect(inCommentOrString('color = "#fff" + ', 'python')).toBe(false);
    expect(inCommentOrString('SELECT 1 -- why', 'sql')).toBe(true);
    expect(inCommentOrString("(setq x 'foo) ; why", 'emacs-lisp')).toBe(true);
    expect(inCommentOrString("(setq x 'foo", 'emacs-lisp')).toBe(false);
    expect(inCommentOrString('   * @param name', 'typescript')).toBe(true);
    expect(inCommentOrString('#include <stdio.h>', 'c')).toBe(false);
  });
});

describe('buildCompletionPrompt', () => {
  it('keeps the head stable while typing on one line and caches it', () => {
    const lines = Array.from({ length: 200 }, (_, i) => `const value${i} = compute(${i});`);
    const store = new DocumentStore();
    store.open({ uri, languageId: 'typescript', version: 1, text: lines.join('\n') });
    const doc = store.get(uri) as TrackedDocument;
    const budget = { prefixChars: 2000, suffixChars: 300 };
    const a = buildCompletionPrompt(doc, { line: 150, character: 10 }, budget);
    const b = buildCompletionPrompt(doc, { line: 150, character: 20 }, budget);
    const c = buildCompletionPrompt(doc, { line: 151, character: 5 }, budget);
    expect(a.prefixHead).toBe(b.prefixHead);
    expect(c.prefixHead.startsWith(a.prefixHead)).toBe(true);
    expect(a.prefixHead.length + a.prefixLine.length).toBeLessThanOrEqual(2000);
    expect(a.prefixHead.startsWith('const value')).toBe(true);
    expect(a.suffix.endsWith('\n')).toBe(true);
    expect(a.suffix.length).toBeLessThanOrEqual(300);
    const parts = completionRequestParts(a, true);
    const content = parts.messages[0]?.content;
    expect(Array.isArray(content) && content[0]?.type === 'text' && content[0].cache_control).toEqual({ type: 'ephemeral' });
    expect(completionRequestParts(c, true).system).toEqual(parts.system);
  });
});
