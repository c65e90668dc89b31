/** Token and byte accounting, per call and for the server's lifetime. */
import type { UsageSummary } from '../protocol.js';

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

/** Running totals behind `efrit/status`; fixed size, so it is bounded by construction. */
export class UsageMeter {
  private readonly totals: UsageSummary = {
    requests: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    requestBytes: 0,
    bytesSavedByDeltas: 0,
  };

  recordCall(usage: CallUsage): void {
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
}

/** A call's usage in the protocol's shape, for results such as `efrit/chat`'s. */
export function toUsageSummary(usage: CallUsage, requests: number): UsageSummary {
  return { requests, ...usage, bytesSavedByDeltas: 0 };
}
