import { describe, expect, it } from 'vitest';
import type { Position } from 'vscode-languageserver-textdocument';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import type { TrackedDocument } from '../../server/src/documents/tracked-document.js';
import {
  InlineCompletionEngine,
  buildCompletionPrompt,
  completionRequestParts,
  debounceMs,
  inCommentOrString,
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
  private waiting: { resolve: (text: string) => void; reject: (e: unknown) => void }[] = [];
  constructor(private readonly answers: string[], private readonly manual = false) {}
  complete(prompt: CompletionPrompt, signal: AbortSignal): Promise<string> {
    this.calls.push(prompt);
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
  return { store, doc, model, clock, engine, type };
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
