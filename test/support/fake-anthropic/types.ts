/**
 * The public shapes of the fake Messages API. Kept apart from `server.ts` so
 * the responder and rendering modules can share them without an import cycle.
 */
import type { MessageCreateParamsBase, RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages/messages';

export interface FakeAnthropicOptions {
  /** TCP port on 127.0.0.1. @default 0 (ephemeral) */
  port?: number;
  /**
   * When set, a request whose key differs gets 401 authentication_error. The key
   * is read from `x-api-key` or from `Authorization: Bearer …` (how SDK 1.x sends `apiKey`).
   */
  apiKey?: string;
  /** Decides each reply once the scripted queue is empty. @default defaultResponder */
  respond?: Responder;
  /** Delay before the response headers; a pair is a uniform random range. @default 0 */
  latencyMs?: number | [number, number];
  /** Breakpoint prefixes shorter than this are not cached, as on the real API. @default 1024 */
  minCacheableTokens?: number;
  /** Clock (ms) for cache TTLs and `receivedAt`, injectable for TTL tests. @default Date.now */
  now?: () => number;
  /** Bound on `requests`; the oldest entries are dropped first. @default 1000 */
  maxLoggedRequests?: number;
  /** Bound on the summed `rawBytes` of `requests` (the newest entry is always kept). @default 64 MiB */
  maxLoggedBytes?: number;
  /** Bound on cached prefixes; the least recently written is evicted first. @default 10000 */
  maxCacheEntries?: number;
  /**
   * While a reply waits `chunkDelayMs` between events, a keep-alive `ping` is
   * sent this often, as the real API does on slow streams. @default 250
   */
  pingIntervalMs?: number;
  /**
   * Called just before each scripted event of a streamed reply is written to
   * the socket (not for keep-alive pings or fault payloads): benchmarks time
   * from here to what the client sees.
   */
  onStreamEvent?: (request: RecordedRequest, event: RawMessageStreamEvent | { type: 'ping' }) => void;
}

/** `index` is `request.index`: the request's position among all requests received, rejected ones included. */
export type Responder = (request: RecordedRequest, index: number) => FakeReply | Promise<FakeReply>;

export interface FakeToolUse {
  name: string;
  input: unknown;
  /** @default a fresh `toolu_…` id */
  id?: string;
}

export interface FakeReply {
  /** One text block; an array gives the `text_delta` chunks exactly as sent. */
  text?: string | string[];
  /** `tool_use` blocks after the text, their input streamed as `input_json_delta` pieces. */
  toolUses?: FakeToolUse[];
  /** A thinking block before everything else. */
  thinking?: string;
  /** @default 'tool_use' when there are tool uses, else 'end_turn' */
  stopReason?: 'end_turn' | 'tool_use' | 'max_tokens' | 'stop_sequence';
  /** Overrides the estimate (utf-8 bytes / 4 of the generated content). */
  outputTokens?: number;
  /** Overrides the server-level latency before the headers of this reply. */
  latencyMs?: number;
  /** Delay between streamed events. @default 0 */
  chunkDelayMs?: number;
  /**
   * Holds the reply until `until` settles, so a test can keep a model call
   * running for exactly as long as it needs, with no latency to guess: before
   * the response headers, or after `afterEvents` stream events (keep-alive
   * pings go out meanwhile, as on a slow stream). See `gate()` in
   * test/support/gate.ts.
   */
  hold?: { until: Promise<unknown>; afterEvents?: number };
  fault?: FakeFault;
}

export type FakeFault =
  /** An error response instead of a reply; `errorCode` fills `error.details.error_code`. */
  | {
      kind: 'status';
      status: number;
      errorType?: string;
      message?: string;
      retryAfterSeconds?: number;
      errorCode?: string;
    }
  /** Sends N events, then goes silent until the client aborts or the fake closes. */
  | { kind: 'stall'; afterEvents: number }
  /** Destroys the socket after N events. */
  | { kind: 'drop'; afterEvents: number }
  /** After N events sends one whose data is not JSON, then ends the response. */
  | { kind: 'malformed'; afterEvents: number }
  /** Sends everything except `message_stop` and ends the response cleanly. */
  | { kind: 'noStop' }
  /** After N events sends `event: error` (default overloaded_error) and ends the response. */
  | { kind: 'streamError'; afterEvents: number; errorType?: string; message?: string }
  /** Closes the socket without any response once the request has been read. */
  | { kind: 'refuseConnection' }
  /**
   * An answer no real API could send at `max_tokens`: after `message_start`, one
   * block streams deltas of `deltaChars` characters (default 1024) of code-like
   * filler. Without `totalChars` it never ends (until the client aborts or the
   * fake closes); with it, the block ends after that many filler characters and
   * the answer completes normally. The deltas are generated as they are sent, so
   * a 100 MB answer never exists as one string in the fake. Streamed requests
   * only; a plain request gets its reply as usual.
   */
  | { kind: 'flood'; block: FloodedBlock; totalChars?: number; deltaChars?: number }
  /** After N events starts one event whose `data:` line never ends, until the client aborts or the fake closes (streamed requests only). */
  | { kind: 'endlessLine'; afterEvents: number };

/** What a `flood` fault fills. */
export type FloodedBlock =
  | { type: 'text' }
  | { type: 'thinking' }
  /** A tool call whose input JSON is `inputBefore`, then the filler (JSON-escaped), then `inputAfter`. */
  | { type: 'toolInput'; name: string; inputBefore: string; inputAfter: string }
  /** An open text block that gets nothing but `ping` events. */
  | { type: 'pings' };

export type RequestOutcome = 'pending' | 'completed' | 'error-status' | 'aborted-by-client' | 'fault';

export interface RecordedUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
}

export interface RecordedRequest {
  /** 0-based position among all requests this fake has received (not reset when the log drops entries). */
  index: number;
  method: string;
  /** Path without the query string. */
  path: string;
  /** Lower-cased names; credentials (`x-api-key`, `authorization`) replaced by '[present]'. */
  headers: Record<string, string>;
  /** True when no key is configured or the presented key (`x-api-key` or bearer token) equals it. */
  apiKeyMatched: boolean;
  /**
   * The JSON body as received. Typed as what the SDK sends; when the body is
   * not a JSON object it is `{}` and `bodyError` says why.
   */
  body: MessageCreateParamsBase;
  bodyError?: string;
  /** Size of the request body on the wire (before any content-encoding is undone). */
  rawBytes: number;
  receivedAt: number;
  outcome: RequestOutcome;
  /** HTTP status sent, once headers are out. */
  status?: number;
  /** The `error.type` of an error response or stream error event. */
  errorType?: string;
  /** The fault injected into this reply, if any. */
  faultKind?: FakeFault['kind'];
  /** Present once the prompt was processed and the cache accounted: every reply past validation and `status`/`refuseConnection` faults. */
  usage?: RecordedUsage;
}

export interface FakeAnthropic {
  /** e.g. http://127.0.0.1:PORT — usable as the SDK's `baseURL`. */
  url: string;
  port: number;
  /** Oldest first, bounded by `maxLoggedRequests`. */
  requests: RecordedRequest[];
  respondWith(responder: Responder): void;
  /** One-shot replies, consumed in order before the responder is asked. */
  queueReplies(...replies: FakeReply[]): void;
  resetCache(): void;
  /** Resolves once at least `n` requests have been received in total. @default timeoutMs 5000 */
  waitForRequests(n: number, timeoutMs?: number): Promise<void>;
  /** Closes the server and destroys every open socket, stalled streams included. */
  close(): Promise<void>;
}
