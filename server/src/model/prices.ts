/**
 * What model calls cost in money: a price per million tokens for input,
 * output, cache writes and cache reads, per model. The defaults are
 * Anthropic's published list prices for the Claude models (USD, the 5-minute
 * cache write, as of 2026-12; https://platform.claude.com/docs/en/about-claude/pricing);
 * the `prices` setting adds models or overrides these. A model with no price
 * is counted in tokens only: a figure made up for it would be worse than none.
 */
import { modelChoiceOf } from './model-choice.js';
import type { CallUsage } from './usage-meter.js';

/** USD per million tokens. */
export interface TokenRates {
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
}

export interface ModelPrice extends TokenRates {
  /** A second tier some models bill a whole call at when its prompt (input, cache reads and writes) is longer than `thresholdTokens`. */
  longPrompt?: TokenRates & { thresholdTokens: number };
}

/** The model families' rates, named once; several model ids share each. */
const opus4: ModelPrice = { input: 15, output: 75, cacheWrite: 18.75, cacheRead: 1.5 };
const opus45: ModelPrice = { input: 5, output: 25, cacheWrite: 6.25, cacheRead: 0.5 };
const sonnet4: ModelPrice = { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 };
const haiku45: ModelPrice = { input: 1, output: 5, cacheWrite: 1.25, cacheRead: 0.1 };

export const defaultPrices: Readonly<Record<string, ModelPrice>> = {
  'claude-fable-5-1': { input: 10, output: 50, cacheWrite: 12.5, cacheRead: 0.25 },
  'claude-fable-5': { input: 10, output: 50, cacheWrite: 12.5, cacheRead: 1 },
  'claude-opus-5-5': { input: 4, output: 20, cacheWrite: 5, cacheRead: 0.2 },
  'claude-opus-5': opus45,
  'claude-opus-4-8': opus45,
  'claude-opus-4-7': opus45,
  'claude-opus-4-6': opus45,
  'claude-opus-4-5': opus45,
  'claude-opus-4-1': opus4,
  'claude-opus-4-0': opus4,
  'claude-opus-4': opus4,
  'claude-sonnet-5-5': { input: 2, output: 10, cacheWrite: 2.5, cacheRead: 0.1 },
  'claude-sonnet-5': { input: 2, output: 10, cacheWrite: 2.5, cacheRead: 0.2 },
  'claude-sonnet-4-6': sonnet4,
  'claude-sonnet-4-5': sonnet4,
  'claude-sonnet-4-0': sonnet4,
  'claude-sonnet-4': sonnet4,
  'claude-3-7-sonnet': sonnet4,
  'claude-haiku-5-5': {
    input: 0.1,
    output: 0.5,
    cacheWrite: 0.125,
    cacheRead: 0.01,
    longPrompt: { thresholdTokens: 100_000, input: 0.5, output: 2.5, cacheWrite: 0.625, cacheRead: 0.05 },
  },
  'claude-haiku-4-5': haiku45,
  'claude-3-5-haiku': { input: 0.8, output: 4, cacheWrite: 1, cacheRead: 0.08 },
};

/**
 * The price of `model`: the setting's entry first, then the defaults; a
 * dated id (`claude-sonnet-4-5-20250929`) or a context variant
 * (`claude-sonnet-5-5[1m]`) is priced as its model.
 */
export function priceFor(model: string, overrides: Readonly<Record<string, ModelPrice>>): ModelPrice | undefined {
  const base = model.replace(/\[[^\]]*\]$/, '').replace(/-\d{8}$/, '');
  for (const id of [model, base]) {
    if (Object.hasOwn(overrides, id)) return overrides[id];
    if (Object.hasOwn(defaultPrices, id)) return defaultPrices[id];
  }
  return undefined;
}

/**
 * A Bedrock model id that clearly is a Claude model (`anthropic.claude-sonnet-4-5-20250929-v1:0`,
 * or a cross-region inference profile such as `us.anthropic.…` or `global.anthropic.…`),
 * as the Claude model id; undefined for anything else (an ARN, another vendor's model).
 */
export function claudeIdOfBedrockModel(model: string): string | undefined {
  return /^(?:[a-z]{2,6}\.)?anthropic\.(claude-[a-z0-9-]+?)(?:-\d{8})?-v\d+(?::\d+)?$/.exec(model)?.[1];
}

/**
 * A Vertex AI model id that clearly is a Claude model (`claude-sonnet-4-5@20250929`,
 * `claude-opus-4-6`), as the Claude model id; undefined for anything else.
 */
export function claudeIdOfVertexModel(model: string): string | undefined {
  return /^(claude-[a-z0-9-]+?)(?:-\d{8})?(?:@\d{8})?$/.exec(model)?.[1];
}

/**
 * The price of a role's setting (`claude-sonnet-5-5`, `openai:gpt-4.1`). The
 * built-in table is Anthropic's prices for Claude on Anthropic's API, which
 * Bedrock and Vertex AI bill Claude at too, so a Bedrock or Vertex id that
 * clearly names a Claude model is priced as it; any other model on another provider is priced only
 * by the `prices` setting, under the setting as written or its bare model id:
 * a gateway's price for a model of the same name need not be Anthropic's.
 */
export function priceForSetting(setting: string, overrides: Readonly<Record<string, ModelPrice>>): ModelPrice | undefined {
  const choice = modelChoiceOf(setting);
  if (choice.provider === 'anthropic') return priceFor(choice.model, overrides);
  for (const id of [setting, choice.model]) if (Object.hasOwn(overrides, id)) return overrides[id];
  const claude = choice.provider === 'bedrock' ? claudeIdOfBedrockModel(choice.model) : choice.provider === 'vertex' ? claudeIdOfVertexModel(choice.model) : undefined;
  return claude === undefined ? undefined : priceFor(claude, overrides);
}

/** What one call cost, in USD. */
export function costOf(usage: CallUsage, price: ModelPrice): number {
  const prompt = usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
  const rates: TokenRates = price.longPrompt !== undefined && prompt > price.longPrompt.thresholdTokens ? price.longPrompt : price;
  return (usage.inputTokens * rates.input + usage.outputTokens * rates.output + usage.cacheWriteTokens * rates.cacheWrite + usage.cacheReadTokens * rates.cacheRead) / 1_000_000;
}
