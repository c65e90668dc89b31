/** Token, byte and money accounting, per call, per session and for the server's lifetime. */
import { LRUCache } from 'lru-cache';
import type { ProviderUsageSummary, SpendSummary, UsageSummary } from '../protocol.js';
import { modelChoiceOf } from './model-choice.js';
import { costOf, priceForSetting, type ModelPrice } from './prices.js';

export interface CallUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  requestBytes: number;
}

export function emptyCallUsage(): CallUsage {
  return { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, requestBytes: 0 };
}

export function addCallUsage(into: CallUsage, more: CallUsage): CallUsage {
  into.inputTokens += more.inputTokens;
  into.outputTokens += more.outputTokens;
  into.cacheReadTokens += more.cacheReadTokens;
  into.cacheWriteTokens += more.cacheWriteTokens;
  into.requestBytes += more.requestBytes;
  return into;
}

/** Sessions whose spend is kept: the recent ones, as many as a user could look at. */
const sessionsSpendKept = 256;

interface Spend {
  usd: number;
  requests: number;
  unpricedRequests: number;
}

/** Running totals behind `efrit/status`; fixed size or bounded by count, so bounded by construction. */
export class UsageMeter {
  private readonly spendTotal: Spend = { usd: 0, requests: 0, unpricedRequests: 0 };
  private readonly spendBySession = new LRUCache<string, Spend>({ max: sessionsSpendKept });
  /** One entry per provider that answered: bounded by the providers there are. */
  private readonly providers = new Map<string, ProviderUsageSummary>();

  /** `prices`: the `prices` setting, read on every call so a change applies at once. */
  constructor(private readonly prices: () => Readonly<Record<string, ModelPrice>> = () => ({})) {}

  private readonly totals: UsageSummary = {
    requests: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    requestBytes: 0,
    bytesSavedByDeltas: 0,
  };

  /** `call`: which model answered (the role's setting, provider prefix and all), and for which session, so the call is priced and counted there. */
  recordCall(usage: CallUsage, call?: { model: string; sessionId?: string | undefined }): void {
    if (call !== undefined) this.recordProvider(usage, call.model, this.recordSpend(usage, call.model, call.sessionId));
    this.totals.requests += 1;
    this.totals.inputTokens += usage.inputTokens;
    this.totals.outputTokens += usage.outputTokens;
    this.totals.cacheReadTokens += usage.cacheReadTokens;
    this.totals.cacheWriteTokens += usage.cacheWriteTokens;
    this.totals.requestBytes += usage.requestBytes;
  }

  recordDeltaSaving(bytes: number): void {
    this.totals.bytesSavedByDeltas += bytes;
  }

  summary(): UsageSummary {
    return { ...this.totals };
  }

  /** Money spent in all and per recent session (most recent first); calls to a model with no price count in `unpricedRequests`, never as 0. */
  spend(): SpendSummary {
    const sessions = [...this.spendBySession.entries()].map(([sessionId, spend]) => ({ sessionId, ...roundedSpend(spend) }));
    return { ...roundedSpend(this.spendTotal), sessions };
  }

  /** Usage and spend per provider, in the order they first answered. */
  byProvider(): Record<string, ProviderUsageSummary> {
    return Object.fromEntries([...this.providers].map(([provider, summary]) => [provider, { ...summary, usd: Math.round(summary.usd * 1e6) / 1e6 }]));
  }

  private recordProvider(usage: CallUsage, model: string, cost: number | undefined): void {
    const { provider } = modelChoiceOf(model);
    const summary = this.providers.get(provider) ?? { requests: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, usd: 0, unpricedRequests: 0 };
    this.providers.set(provider, summary);
    summary.requests += 1;
    summary.inputTokens += usage.inputTokens;
    summary.outputTokens += usage.outputTokens;
    summary.cacheReadTokens += usage.cacheReadTokens;
    summary.cacheWriteTokens += usage.cacheWriteTokens;
    if (cost === undefined) summary.unpricedRequests += 1;
    else summary.usd += cost;
  }

  /** Returns what the call cost, or undefined when its model has no price. */
  private recordSpend(usage: CallUsage, model: string, sessionId: string | undefined): number | undefined {
    const price = priceForSetting(model, this.prices());
    const cost = price === undefined ? undefined : costOf(usage, price);
    const targets = [this.spendTotal];
    if (sessionId !== undefined) {
      const session = this.spendBySession.get(sessionId) ?? { usd: 0, requests: 0, unpricedRequests: 0 };
      this.spendBySession.set(sessionId, session);
      targets.push(session);
    }
    for (const spend of targets) {
      spend.requests += 1;
      if (cost === undefined) spend.unpricedRequests += 1;
      else spend.usd += cost;
    }
    return cost;
  }
}

/** To the millionth of a dollar: finer is noise from floating point, coarser would hide a cheap model's calls. */
function roundedSpend(spend: Spend): Spend {
  return { usd: Math.round(spend.usd * 1e6) / 1e6, requests: spend.requests, unpricedRequests: spend.unpricedRequests };
}

/** A call's usage in the protocol's shape, for results such as `efrit/chat`'s. */
export function toUsageSummary(usage: CallUsage, requests: number): UsageSummary {
  return { requests, ...usage, bytesSavedByDeltas: 0 };
}
