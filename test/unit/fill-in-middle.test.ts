/**
 * The pieces of fill-in-the-middle completion that are plain logic: which
 * models fill in the middle and call tools (what the provider says, the
 * settings where it says nothing), how long that is remembered, what a FIM
 * request holds, and the cleaning of an answer stopped inside a \r\n.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../../server/src/common/logger.js';
import { cleanSuggestion } from '../../server/src/completion/clean-suggestion.js';
import { buildCompletionPrompt, fillInMiddleParts } from '../../server/src/completion/completion-prompt.js';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import type { TrackedDocument } from '../../server/src/documents/tracked-document.js';
import { ModelCapabilityCache, type CapabilitySettings } from '../../server/src/model/model-capabilities.js';
import { capabilitiesOf } from '../../server/src/model/ollama-provider.js';
import type { CallOptions, ModelCapabilities } from '../../server/src/model/provider.js';
import { gate } from '../support/gate.js';

const coder = 'ollama:qwen2.5-coder:7b';
const chatty = 'ollama:llama3.2:3b';
const noSettings: CapabilitySettings = { modelsWithoutTools: [], fillInMiddleModels: [] };

/** A capability source that answers from a table, counting its look-ups; `undefined` in the table is an older server that does not say. */
function tableSource(table: Record<string, ModelCapabilities | undefined | Error>) {
  const asked: string[] = [];
  const options: CallOptions[] = [];
  return {
    asked,
    options,
    describe(model: string, given: CallOptions): Promise<ModelCapabilities | undefined> {
      asked.push(model);
      options.push(given);
      const answer = table[model];
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  };
}

function cacheOver(source: ReturnType<typeof tableSource>, more: { now?: () => number; ttlMs?: number; maxModels?: number; logger?: Logger } = {}): ModelCapabilityCache {
  return new ModelCapabilityCache({ source, logger: silentLogger, stallMs: () => 30_000, ...more });
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const record = (message: string): void => void lines.push(message);
  return { lines, error: record, warn: record, info: record, debug: record } as unknown as Logger & { lines: string[] };
}

describe('ModelCapabilityCache: what the provider says decides', () => {
  it('fills in the middle with a model whose server reports insert, and chats with one that does not', async () => {
    const source = tableSource({ [coder]: { fillInMiddle: true, tools: true }, [chatty]: { fillInMiddle: false, tools: true } });
    const cache = cacheOver(source);

    expect(await cache.fillsInMiddle(noSettings, coder)).toBe(true);
    expect(await cache.fillsInMiddle(noSettings, chatty)).toBe(false);
    // The server's word wins over the setting, which is only for servers that do not say.
    expect(await cache.fillsInMiddle({ ...noSettings, fillInMiddleModels: [chatty] }, chatty)).toBe(false);
  });

  it('offers tools as the server reports them, except to a model listed in modelsWithoutTools', async () => {
    const source = tableSource({ [coder]: { fillInMiddle: true, tools: true }, [chatty]: { fillInMiddle: false, tools: false } });
    const cache = cacheOver(source);

    expect(await cache.callsTools(noSettings, coder)).toBe(true);
    expect(await cache.callsTools(noSettings, chatty)).toBe(false);
    expect(await cache.callsTools({ ...noSettings, modelsWithoutTools: [` ${coder} `] }, coder)).toBe(false);
  });
});

describe('ModelCapabilityCache: the settings decide where the provider says nothing', () => {
  it('fills in the middle only with a model named in fillInMiddleModels, and offers tools unless modelsWithoutTools names it', async () => {
    const cache = cacheOver(tableSource({ [coder]: undefined, 'openai:qwen2.5-coder-7b': undefined }));
    const settings = { modelsWithoutTools: ['openai:qwen2.5-coder-7b'], fillInMiddleModels: [coder, 'openai:qwen2.5-coder-7b'] };

    expect(await cache.fillsInMiddle(settings, coder)).toBe(true);
    expect(await cache.fillsInMiddle(noSettings, coder)).toBe(false);
    expect(await cache.fillsInMiddle(settings, 'openai:qwen2.5-coder-7b')).toBe(true);
    // Names compare without the spaces around them, on either side.
    expect(await cache.fillsInMiddle(settings, ' openai:qwen2.5-coder-7b ')).toBe(true);
    expect(await cache.callsTools(settings, coder)).toBe(true);
    expect(await cache.callsTools(settings, 'openai:qwen2.5-coder-7b')).toBe(false);
  });

  it('always chats with Claude, even when a setting names it, without a look-up', async () => {
    const source = tableSource({});
    const cache = cacheOver(source);

    expect(await cache.fillsInMiddle({ ...noSettings, fillInMiddleModels: ['claude-haiku-5-5'] }, 'claude-haiku-5-5')).toBe(false);
    expect(source.asked).toEqual([]);
  });

  it('falls back to the settings when the look-up fails, and asks again next time', async () => {
    const source = tableSource({ [coder]: new Error('connect ECONNREFUSED 127.0.0.1:11434') });
    const cache = cacheOver(source);

    expect(await cache.fillsInMiddle({ ...noSettings, fillInMiddleModels: [coder] }, coder)).toBe(true);
    expect(await cache.callsTools(noSettings, coder)).toBe(true);
    expect(source.asked).toEqual([coder, coder]);
  });
});

describe('ModelCapabilityCache: remembering', () => {
  it('looks a model up once while its answer holds, and again after it expires', async () => {
    let now = 5_000;
    const source = tableSource({ [coder]: { fillInMiddle: true, tools: true } });
    const cache = cacheOver(source, { now: () => now, ttlMs: 60_000 });

    await cache.fillsInMiddle(noSettings, coder);
    now += 59_999;
    await cache.callsTools(noSettings, coder);
    expect(source.asked).toEqual([coder]);

    now += 2;
    await cache.fillsInMiddle(noSettings, coder);
    expect(source.asked).toEqual([coder, coder]);
  });

  it('remembers at most maxModels models, the least recently used forgotten first', async () => {
    const source = tableSource({ a: undefined, b: undefined, c: undefined });
    const cache = cacheOver(source, { maxModels: 2 });

    for (const model of ['ollama:a', 'ollama:b', 'ollama:a', 'ollama:c', 'ollama:a', 'ollama:b']) await cache.discovered(model);

    expect(source.asked).toEqual(['ollama:a', 'ollama:b', 'ollama:c', 'ollama:b']);
  });

  it('forgets every answer on clear (another endpoint may serve the same name)', async () => {
    const source = tableSource({ [coder]: { fillInMiddle: true, tools: true } });
    const cache = cacheOver(source);
    await cache.discovered(coder);

    cache.clear();
    await cache.discovered(coder);

    expect(source.asked).toEqual([coder, coder]);
  });

  it('shares one look-up among callers while it runs; a caller that gives up gets undefined at once, and the look-up goes on for the others', async () => {
    const answer = gate();
    const asked: string[] = [];
    const source = {
      async describe(model: string): Promise<ModelCapabilities | undefined> {
        asked.push(model);
        await answer.opened;
        return { fillInMiddle: true, tools: false };
      },
    };
    const cache = new ModelCapabilityCache({ source, logger: silentLogger, stallMs: () => 30_000 });
    const impatient = new AbortController();

    const first = cache.discovered(coder, impatient.signal);
    const second = cache.discovered(coder);
    impatient.abort();

    expect(await first).toBeUndefined();
    answer.open();
    expect(await second).toEqual({ fillInMiddle: true, tools: false });
    expect(asked).toEqual([coder]);
    expect(await cache.discovered(coder, AbortSignal.abort())).toBeUndefined();
  });
});

describe('ModelCapabilityCache: look-ups', () => {
  it('gives a look-up the stall bound of the settings and a signal of its own, and leaves no listener on a caller\'s signal', async () => {
    const source = tableSource({ [coder]: { fillInMiddle: true, tools: true } });
    const cache = cacheOver(source);
    const caller = new AbortController();

    expect(await cache.discovered(coder, caller.signal)).toEqual({ fillInMiddle: true, tools: true });

    expect(source.options[0]?.stallMs).toBe(30_000);
    expect(source.options[0]?.signal).toBeInstanceOf(AbortSignal);
    expect(source.options[0]?.signal).not.toBe(caller.signal);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('leaves no listener on the signal of a caller that gave up', async () => {
    const answer = gate();
    const cache = new ModelCapabilityCache({ source: { describe: () => answer.opened.then(() => undefined) }, logger: silentLogger, stallMs: () => 30_000 });
    const caller = new AbortController();

    const waiting = cache.discovered(coder, caller.signal);
    caller.abort();

    expect(await waiting).toBeUndefined();
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
    answer.open();
  });

  it('does not let a failed look-up forget the answer of a newer one for the same model', async () => {
    const failing = gate();
    let calls = 0;
    const source = {
      describe(): Promise<ModelCapabilities | undefined> {
        calls += 1;
        return calls === 1 ? failing.opened.then(() => Promise.reject(new Error('Ollama restarted'))) : Promise.resolve({ fillInMiddle: true, tools: true });
      },
    };
    const cache = new ModelCapabilityCache({ source, logger: silentLogger, stallMs: () => 30_000 });
    const old = cache.discovered(coder);
    cache.clear();
    expect(await cache.discovered(coder)).toEqual({ fillInMiddle: true, tools: true });

    failing.open();
    expect(await old).toBeUndefined();
    expect(await cache.discovered(coder)).toEqual({ fillInMiddle: true, tools: true });
    expect(calls).toBe(2);
  });

  it('logs what each look-up found, or that it failed, naming the model', async () => {
    const logger = recordingLogger();
    const cache = cacheOver(tableSource({ [coder]: { fillInMiddle: true, tools: false }, 'ollama:old': undefined, 'ollama:gone': new Error('model not found') }), { logger });

    await cache.discovered(coder);
    await cache.discovered('ollama:old');
    await cache.discovered('ollama:gone');

    expect(logger.lines).toEqual([
      'capabilities of ollama:qwen2.5-coder:7b: {"fillInMiddle":true,"tools":false}',
      'capabilities of ollama:old: not reported, the settings decide',
      'capabilities of ollama:gone could not be looked up; the settings decide',
    ]);
  });
});

describe("Ollama's /api/show capabilities", () => {
  it('reads insert and tools, and says nothing for a server that does not report them', () => {
    expect(capabilitiesOf({ capabilities: ['completion', 'insert', 'tools'] })).toEqual({ fillInMiddle: true, tools: true });
    expect(capabilitiesOf({ capabilities: ['completion', 'vision'] })).toEqual({ fillInMiddle: false, tools: false });
    expect(capabilitiesOf({ modelfile: 'FROM x', template: '{{ .Prompt }}' })).toBeUndefined();
    expect(capabilitiesOf({ capabilities: 'insert' })).toBeUndefined();
    expect(capabilitiesOf(null)).toBeUndefined();
  });
});

describe('fillInMiddleParts', () => {
  const uri = 'file:///work/project/src/pricing.ts';
  const text = ['export function orderTotal(order: Order): number {', '  const total = ;', '  return ', '}', ''].join('\n');

  function partsAt(line: number, character: number, budget = { prefixChars: 6000, suffixChars: 2000 }) {
    const store = new DocumentStore();
    store.open({ uri, languageId: 'typescript', version: 1, text });
    return fillInMiddleParts(buildCompletionPrompt(store.get(uri) as TrackedDocument, { line, character }, budget));
  }

  it('sends the text before and after the cursor, and stops at a blank line at the end of a line', () => {
    const parts = partsAt(2, '  return '.length);

    expect(parts).toEqual({ prefix: text.slice(0, text.indexOf('  return ') + '  return '.length), suffix: '\n}\n', stop: ['\n\n', '\r\n\r\n'] });
  });

  it('stops at the end of the line mid-line', () => {
    expect(partsAt(1, '  const total = '.length).stop).toEqual(['\n']);
  });

  it('counts a rest of the line of spaces alone as the end of the line', () => {
    const store = new DocumentStore();
    store.open({ uri, languageId: 'typescript', version: 1, text: 'const total = \t \nreturn total;\n' });
    const parts = fillInMiddleParts(buildCompletionPrompt(store.get(uri) as TrackedDocument, { line: 0, character: 'const total = '.length }, { prefixChars: 100, suffixChars: 100 }));

    expect(parts.stop).toEqual(['\n\n', '\r\n\r\n']);
  });

  it('keeps to the completion prompt\'s budgets before and after the cursor', () => {
    const parts = partsAt(2, '  return '.length, { prefixChars: 20, suffixChars: 2 });

    expect(parts.prefix).toBe('  return ');
    expect(parts.suffix.length).toBeLessThanOrEqual(2);
  });
});

describe('cleanSuggestion: an answer stopped inside a line break', () => {
  it('reads a lone \\r as the line break it was: a mid-line suggestion stays on its line', () => {
    expect(cleanSuggestion('order.unitPrice * order.quantity\r', { linePrefix: '  const total = ', suffixOnLine: ';', indent: '  ', eol: '\r\n' })).toBe('order.unitPrice * order.quantity');
  });
});
