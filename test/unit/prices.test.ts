/**
 * Money per call and in all: the price table, the `prices` setting and the
 * meter that adds them up per session.
 */
import { describe, expect, it } from 'vitest';
import { costOf, defaultPrices, priceFor } from '../../server/src/model/prices.js';
import { emptyCallUsage, UsageMeter, type CallUsage } from '../../server/src/model/usage-meter.js';
import { applySettings, defaultSettings, pricesOf } from '../../server/src/settings/config.js';

const usage = (parts: Partial<CallUsage>): CallUsage => ({ ...emptyCallUsage(), ...parts });

describe('the price of a call', () => {
  it('bills each kind of token at its own rate', () => {
    const price = { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 };
    expect(costOf(usage({ inputTokens: 1_000_000 }), price)).toBe(3);
    expect(costOf(usage({ outputTokens: 2_000_000 }), price)).toBe(30);
    expect(costOf(usage({ cacheWriteTokens: 1_000_000 }), price)).toBe(3.75);
    expect(costOf(usage({ cacheReadTokens: 10_000_000 }), price)).toBe(3);
  });

  it('bills a whole call at the long-prompt rates once its prompt, cache included, passes the threshold', () => {
    const haiku = defaultPrices['claude-haiku-5-5'];
    if (haiku === undefined) throw new Error('no Haiku 5.5 price');
    expect(costOf(usage({ inputTokens: 50_000, cacheReadTokens: 50_000, outputTokens: 1_000_000 }), haiku)).toBeCloseTo(0.005 + 0.0005 + 0.5, 10);
    expect(costOf(usage({ inputTokens: 50_000, cacheReadTokens: 50_001, outputTokens: 1_000_000 }), haiku)).toBeCloseTo(0.025 + (50_001 * 0.05) / 1e6 + 2.5, 10);
  });

  it('finds a dated id or a context variant under its model, the setting first, and nothing for an unknown model', () => {
    expect(priceFor('claude-sonnet-4-5-20250929', {})).toBe(defaultPrices['claude-sonnet-4-5']);
    expect(priceFor('claude-sonnet-5-5[1m]', {})).toBe(defaultPrices['claude-sonnet-5-5']);
    const mine = { input: 0, output: 0, cacheWrite: 0, cacheRead: 0 };
    expect(priceFor('claude-sonnet-5-5', { 'claude-sonnet-5-5': mine })).toBe(mine);
    expect(priceFor('qwen2.5-coder:7b', {})).toBeUndefined();
    expect(priceFor('constructor', {})).toBeUndefined();
  });
});

describe('the prices setting', () => {
  it('fills the cache rates with the input rate when they are left out', () => {
    const { settings, warnings } = applySettings(defaultSettings(), { prices: { 'local-coder': { input: 0.2, output: 0.4 } } });
    expect(warnings).toEqual([]);
    expect(pricesOf(settings)).toEqual({ 'local-coder': { input: 0.2, output: 0.4, cacheWrite: 0.2, cacheRead: 0.2 } });
  });

  it.each([
    [[1, 2], 'expected an object of model id'],
    [{ m: 3 }, 'the price of "m" is not an object'],
    [{ m: { output: 1 } }, 'needs "input" as a number of USD per million tokens, 0 or more'],
    [{ m: { input: -1, output: 1 } }, 'needs "input"'],
    [{ m: { input: 1, output: 1, cacheRead: 'cheap' } }, 'needs "cacheRead"'],
    [{ m: { input: 1, output: 1, perRequest: 2 } }, 'has "perRequest", which is not one of input, output, cacheWrite, cacheRead'],
  ])('refuses %j, naming what is wrong, and keeps the last good prices', (value, message) => {
    const { settings, warnings } = applySettings(defaultSettings(), { prices: value });
    expect(warnings).toEqual([expect.stringContaining(message)]);
    expect(settings.prices).toEqual({});
  });
});

describe('spend in efrit/status', () => {
  it('adds up money per session and in all, and counts calls to unpriced models without pricing them', () => {
    const meter = new UsageMeter(() => ({ 'local-coder': { input: 1, output: 2, cacheWrite: 1, cacheRead: 1 } }));
    meter.recordCall(usage({ inputTokens: 1_000_000, outputTokens: 100_000 }), { model: 'claude-sonnet-5-5', sessionId: 's1' });
    meter.recordCall(usage({ inputTokens: 500_000 }), { model: 'local-coder', sessionId: 's2' });
    meter.recordCall(usage({ inputTokens: 9_000_000 }), { model: 'mystery-model', sessionId: 's1' });
    meter.recordCall(usage({ outputTokens: 1_000_000 }), { model: 'claude-haiku-5-5' });
    meter.recordCall(usage({ outputTokens: 1_000_000 }));

    expect(meter.spend()).toEqual({
      usd: 3 + 0.5 + 0.5,
      requests: 4,
      unpricedRequests: 1,
      sessions: [
        { sessionId: 's1', usd: 3, requests: 2, unpricedRequests: 1 },
        { sessionId: 's2', usd: 0.5, requests: 1, unpricedRequests: 0 },
      ],
    });
    expect(meter.summary().requests).toBe(5);
  });
});
