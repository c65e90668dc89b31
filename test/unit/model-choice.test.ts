import { describe, expect, it } from 'vitest';
import { modelChoiceOf, parseModelChoice } from '../../server/src/model/model-choice.js';
import { priceForSetting } from '../../server/src/model/prices.js';
import { emptyCallUsage, UsageMeter } from '../../server/src/model/usage-meter.js';

describe('a role setting names a provider and a model', () => {
  it('reads a bare id as Claude on Anthropic, so settings written before providers mean what they meant', () => {
    expect(parseModelChoice('claude-sonnet-5-5')).toEqual({ provider: 'anthropic', model: 'claude-sonnet-5-5' });
    expect(parseModelChoice('  claude-haiku-5-5 ')).toEqual({ provider: 'anthropic', model: 'claude-haiku-5-5' });
  });

  it('reads the provider from the prefix and keeps every later colon in the model id', () => {
    expect(parseModelChoice('openai:gpt-4.1')).toEqual({ provider: 'openai', model: 'gpt-4.1' });
    expect(parseModelChoice('openai:qwen2.5-coder:7b')).toEqual({ provider: 'openai', model: 'qwen2.5-coder:7b' });
    expect(parseModelChoice('openai: gpt-4.1-mini ')).toEqual({ provider: 'openai', model: 'gpt-4.1-mini' });
    expect(parseModelChoice('ollama:qwen2.5-coder:7b')).toEqual({ provider: 'ollama', model: 'qwen2.5-coder:7b' });
    expect(parseModelChoice('anthropic:claude-opus-5-5')).toEqual({ provider: 'anthropic', model: 'claude-opus-5-5' });
    expect(parseModelChoice('vertex:claude-sonnet-4-5@20250929')).toEqual({ provider: 'vertex', model: 'claude-sonnet-4-5@20250929' });
  });

  it('names what is wrong with a setting that names no model', () => {
    expect(parseModelChoice('opneai:gpt-4.1')).toEqual({ problem: '"opneai" is not a provider; expected one of "anthropic:<model>", "openai:<model>", "ollama:<model>", "bedrock:<model>", "vertex:<model>", or a Claude model id without a prefix' });
    expect(parseModelChoice(':gpt-4.1')).toEqual({ problem: expect.stringContaining('"" is not a provider') });
    expect(parseModelChoice('llama3:8b')).toEqual({ problem: expect.stringContaining('"openai:<model>"') });
    expect(parseModelChoice('openai:')).toEqual({ problem: 'expected a model id after "openai:"' });
    expect(parseModelChoice('  ')).toEqual({ problem: expect.stringContaining('expected a model id') });
    expect(parseModelChoice('x'.repeat(257))).toEqual({ problem: 'expected a model id of at most 256 characters' });
    expect(parseModelChoice('x'.repeat(256))).toEqual({ provider: 'anthropic', model: 'x'.repeat(256) });
  });

  it('sends a setting that names no provider to Anthropic as written, which refuses it by name', () => {
    expect(modelChoiceOf('opneai:gpt-4.1')).toEqual({ provider: 'anthropic', model: 'opneai:gpt-4.1' });
    expect(modelChoiceOf('openai:gpt-4.1')).toEqual({ provider: 'openai', model: 'gpt-4.1' });
  });
});

describe('pricing a role setting', () => {
  const gpt = { input: 2, output: 8, cacheWrite: 2, cacheRead: 0.5 };

  it('prices Claude on Anthropic from the built-in table, with or without the prefix', () => {
    expect(priceForSetting('claude-haiku-4-5', {})).toMatchObject({ input: 1, output: 5 });
    expect(priceForSetting('anthropic:claude-haiku-4-5', {})).toMatchObject({ input: 1, output: 5 });
  });

  it('prices another provider only from the prices setting: as written first, then by its bare id', () => {
    expect(priceForSetting('openai:gpt-4.1', {})).toBeUndefined();
    expect(priceForSetting('openai:gpt-4.1', { 'gpt-4.1': gpt })).toBe(gpt);
    const local = { ...gpt, input: 0, output: 0 };
    expect(priceForSetting('openai:gpt-4.1', { 'gpt-4.1': gpt, 'openai:gpt-4.1': local })).toBe(local);
    // A gateway's "claude-haiku-4-5" is not priced at Anthropic's list price.
    expect(priceForSetting('openai:claude-haiku-4-5', {})).toBeUndefined();
  });
});

describe('usage per provider', () => {
  it('counts each call under the provider its model names, priced or not', () => {
    const meter = new UsageMeter(() => ({ 'gpt-4.1': { input: 2, output: 8, cacheWrite: 2, cacheRead: 0.5 } }));
    const call = (inputTokens: number, cacheReadTokens = 0) => ({ ...emptyCallUsage(), inputTokens, outputTokens: 10, cacheReadTokens });
    meter.recordCall(call(1_000_000), { model: 'claude-haiku-4-5' });
    meter.recordCall(call(1_000_000, 2_000_000), { model: 'openai:gpt-4.1' });
    meter.recordCall(call(500), { model: 'openai:qwen2.5-coder:7b' });
    // A call with no model named (none in the server today) counts in the totals only.
    meter.recordCall(call(7));

    expect(meter.byProvider()).toEqual({
      anthropic: { requests: 1, inputTokens: 1_000_000, outputTokens: 10, cacheReadTokens: 0, cacheWriteTokens: 0, usd: 1.00005, unpricedRequests: 0 },
      openai: { requests: 2, inputTokens: 1_000_500, outputTokens: 20, cacheReadTokens: 2_000_000, cacheWriteTokens: 0, usd: 3.00008, unpricedRequests: 1 },
    });
    expect(meter.summary().requests).toBe(4);
  });
});
