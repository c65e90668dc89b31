/**
 * What the `queue` and `prefetch` benchmarks share: the shipped server
 * (`dist/efrit-lsp.cjs`) over stdio, pointed at the fake Messages API on
 * loopback, with
 * - replies planned per job: every job carries a tag (`[[bench:ID]]`) in its
 *   prompt (a chat message, a diagnostic's message), and the fake answers a
 *   tagged request with the reply planned for that tag, latency included, so
 *   a retried or re-run job sees the same latency again;
 * - per-job latencies drawn from a seeded generator, so the two arms of a
 *   comparison see the same latencies, job for job, in every run;
 * - one clock for both ends: the fake stamps `receivedAt` with this
 *   process's `performance.now()`, the clock the client's send times are
 *   read from, so "client sent → fake received" is a difference of two
 *   readings of one monotonic clock (sub-millisecond, no wall-clock steps).
 *
 * It also makes the bare SDK call that the queue's overhead is compared with:
 * the request body efrit-lsp sent, replayed with the same SDK, built as the
 * server builds it (a new client per call, no SDK retries).
 */
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import Anthropic from '@anthropic-ai/sdk';
import type { MessageCreateParamsStreaming } from '@anthropic-ai/sdk/resources/messages/messages';
import type { ClientCapabilities, CodeAction, Command, Range, TextEdit } from 'vscode-languageserver-protocol';
import type { StatusResult } from '../../server/src/protocol.js';
import type { FakeReply, RecordedRequest } from '../support/fake-anthropic/server.js';
import { startHarness, testApiKey, type Harness } from '../support/harness.js';
import { serverEntry, type TestClient } from '../support/lsp-client.js';
import { seededRandom } from './source-text.js';

/** The one clock: client send times and the fake's `receivedAt` (ms, sub-ms resolution). */
export const clock = (): number => performance.now();


/** `count` latencies uniform in `range` (ms), times `scale`, whole milliseconds. */
export function drawLatencies(seed: number, count: number, range: readonly [number, number], scale: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => Math.round((range[0] + random() * (range[1] - range[0])) * scale));
}

/** A seeded shuffle (Fisher-Yates), for patterns such as "which rounds pick". */
export function seededShuffle<T>(seed: number, items: readonly T[]): T[] {
  const random = seededRandom(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** The text that marks a prompt as job `id`'s. */
export const tag = (id: string): string => `[[bench:${id}]]`;
const tagPattern = /\[\[bench:([\w.-]+)\]\]/;

export function tagOf(request: RecordedRequest): string | undefined {
  return tagPattern.exec(JSON.stringify(request.body.messages ?? []))?.[1];
}

/** Decides a reply when the planned one is not enough (a rate limit, say); `planned` is the tag's plan. */
export type Planner = (request: RecordedRequest, id: string | undefined, planned: FakeReply | undefined) => FakeReply;

export interface RigOptions {
  /** Merged into `initializationOptions` (the `efrit` settings). */
  settings?: Record<string, unknown>;
  capabilities?: ClientCapabilities;
}

export interface Timed<T> {
  /** `clock()` just before the request was handed to the connection. */
  sentAt: number;
  done: Promise<{ ok: true; value: T; doneAt: number } | { ok: false; error: unknown; doneAt: number }>;
}

/** Longer than any job here (latencies ≤ 3 s, a 16-job burst at concurrency 1 ≈ 35 s). */
const requestTimeoutMs = 90_000;

/** Replies when nothing is planned: the warm-up calls. */
const unplannedReply: FakeReply = { text: 'ok', latencyMs: 0 };

export class ModelRig {
  readonly plans = new Map<string, FakeReply>();
  planner: Planner | undefined;
  private harness!: Harness;

  private constructor() {}

  static async start(options: RigOptions = {}): Promise<ModelRig> {
    if (!existsSync(serverEntry)) throw new Error(`${serverEntry} is missing: build first (npm run build)`);
    const rig = new ModelRig();
    rig.harness = await startHarness({
      ...(options.capabilities !== undefined ? { capabilities: options.capabilities } : {}),
      initializationOptions: { ...options.settings },
      fake: {
        now: clock,
        maxLoggedRequests: 100_000,
        respond: (request) => {
          const id = tagOf(request);
          const planned = id === undefined ? undefined : rig.plans.get(id);
          if (rig.planner !== undefined) return rig.planner(request, id, planned);
          return planned ?? unplannedReply;
        },
      },
    });
    return rig;
  }

  get client(): TestClient {
    return this.harness.client;
  }

  get baseURL(): string {
    return this.harness.fake.url;
  }

  /** Every request the fake received, oldest first. */
  get requests(): RecordedRequest[] {
    return this.harness.fake.requests;
  }

  plan(id: string, reply: FakeReply): void {
    this.plans.set(id, reply);
  }

  /** The requests of jobs whose tag starts with `prefix`, in the order received. */
  requestsTagged(prefix: string): { id: string; request: RecordedRequest }[] {
    return this.requests.flatMap((request) => {
      const id = tagOf(request);
      return id !== undefined && id.startsWith(prefix) ? [{ id, request }] : [];
    });
  }

  /** When the fake received job `id`'s first request. */
  receivedAt(id: string): number | undefined {
    return this.requests.find((request) => tagOf(request) === id)?.receivedAt;
  }

  /** A request that fails the run instead of hanging it when the server stops answering. */
  request<T>(method: string, params: unknown, timeoutMs = requestTimeoutMs): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${method}: no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([this.client.request<T>(method, params), timeout]).finally(() => clearTimeout(timer));
  }

  timed<T>(method: string, params: unknown): Timed<T> {
    const sentAt = clock();
    const done = this.request<T>(method, params).then(
      (value) => ({ ok: true as const, value, doneAt: clock() }),
      (error: unknown) => ({ ok: false as const, error, doneAt: clock() }),
    );
    return { sentAt, done };
  }

  /** An `efrit/chat` (a fresh session: interactive priority) tagged as job `id`. */
  chat(id: string): Timed<{ reply: string; jobId: string }> {
    return this.timed('efrit/chat', { message: `Answer briefly. ${tag(id)}` });
  }

  status(): Promise<StatusResult> {
    return this.request<StatusResult>('efrit/status', {});
  }

  /** Loads the SDK in the server and warms both processes' paths; none of it is measured. */
  async warmUp(calls = 3): Promise<void> {
    for (let i = 0; i < calls; i++) {
      const outcome = await this.timed('efrit/chat', { message: 'warm-up' }).done;
      if (!outcome.ok) throw new Error(`warm-up chat failed: ${describeError(outcome.error)}`);
    }
  }

  /** Polls `efrit/status` until `predicate` holds. */
  async waitForStatus(predicate: (status: StatusResult) => boolean, what: string, timeoutMs = 20_000): Promise<StatusResult> {
    const deadline = clock() + timeoutMs;
    for (;;) {
      const status = await this.status();
      if (predicate(status)) return status;
      if (clock() > deadline) throw new Error(`timed out waiting for ${what}; queue: ${JSON.stringify(status.queue)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async stop(): Promise<void> {
    await this.harness.stop();
  }
}

/**
 * One bare SDK call against the fake, built as the server's model client
 * builds it (a new client per call, SDK retries off, streamed, every event
 * read): the baseline for "what does the queue add".
 */
export async function bareSdkCall(baseURL: string, body: MessageCreateParamsStreaming, maxRetries = 0): Promise<{ calledAt: number; doneAt: number }> {
  const calledAt = clock();
  const client = new Anthropic({ apiKey: testApiKey, baseURL, maxRetries, logLevel: 'off', timeout: requestTimeoutMs });
  const stream = await client.messages.create(body);
  let stopped = false;
  for await (const event of stream) if (event.type === 'message_stop') stopped = true;
  if (!stopped) throw new Error('the bare SDK call ended without message_stop');
  return { calledAt, doneAt: clock() };
}

/** A recorded body with its tag replaced, to replay as another job. */
export function retagBody(request: RecordedRequest, fromId: string, toId: string): MessageCreateParamsStreaming {
  return JSON.parse(JSON.stringify(request.body).split(tag(fromId)).join(tag(toId))) as MessageCreateParamsStreaming;
}

export function describeError(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const reason = (error as { data?: { reason?: unknown } }).data?.reason;
    const message = (error as { message?: unknown }).message;
    return `${typeof reason === 'string' ? `${reason}: ` : ''}${typeof message === 'string' ? message : String(error)}`;
  }
  return String(error);
}

export function reasonOf(error: unknown): string | undefined {
  const reason = typeof error === 'object' && error !== null ? (error as { data?: { reason?: unknown } }).data?.reason : undefined;
  return typeof reason === 'string' ? reason : undefined;
}

/**
 * A TypeScript file of `count` small functions, each with a line the fake
 * "fixes": `  return input * i + offsetI;` (unique in the file, so the fix's
 * old_text is found exactly once). Line 0 is a comment that "moving on"
 * edits.
 */
export function functionsDocument(count: number): { text: string; fixLine(i: number): number; fixRange(i: number): Range; fixText(i: number): string } {
  const lines = ['// bench document, edited 0 times'];
  for (let i = 0; i < count; i++) lines.push(`export function step${i}(input: number): number {`, fixTextOf(i), '}', '');
  const fixLine = (i: number): number => 2 + 4 * i;
  return {
    text: lines.join('\n'),
    fixLine,
    fixRange: (i) => ({ start: { line: fixLine(i), character: 0 }, end: { line: fixLine(i), character: fixTextOf(i).length } }),
    fixText: fixTextOf,
  };
}

function fixTextOf(i: number): string {
  return `  return input * ${i} + offset${i};`;
}

/** The model's fix for function `i`: one propose_edits call, valid against the excerpt. */
export function fixReply(i: number, latencyMs: number): FakeReply {
  return {
    toolUses: [{ name: 'propose_edits', input: { summary: `Dropped the undefined offset${i}.`, edits: [{ old_text: fixTextOf(i), new_text: `  return input * ${i};` }] } }],
    latencyMs,
  };
}

export function isCodeAction(item: CodeAction | Command): item is CodeAction {
  // A bare Command's `command` is the command's name; a CodeAction's, if any, is an object.
  return typeof (item as Command).command !== 'string';
}

/** The text edits of a resolved action's `documentChanges`, as `didChange` content changes. */
export function contentChangesOf(action: CodeAction): { range: Range; text: string }[] {
  const changes = action.edit?.documentChanges ?? [];
  const edits: TextEdit[] = [];
  for (const change of changes) if ('edits' in change) edits.push(...(change.edits as TextEdit[]));
  return edits
    .sort((a, b) => b.range.start.line - a.range.start.line || b.range.start.character - a.range.start.character)
    .map((edit) => ({ range: edit.range, text: edit.newText }));
}

/** Finish times of a list schedule: jobs in order, each to the machine free first (FIFO queue, no overhead). */
export function listScheduleMakespan(latencies: readonly number[], machines: number): number {
  const free = new Array<number>(machines).fill(0);
  for (const latency of latencies) {
    let earliest = 0;
    for (let m = 1; m < machines; m++) if ((free[m] as number) < (free[earliest] as number)) earliest = m;
    free[earliest] = (free[earliest] as number) + latency;
  }
  return Math.max(...free);
}

export function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

export function ms(value: number | undefined, digits = 1): string {
  return value === undefined || !Number.isFinite(value) ? 'n/a' : `${value.toFixed(digits)} ms`;
}

export function seconds(valueMs: number | undefined, digits = 2): string {
  return valueMs === undefined || !Number.isFinite(valueMs) ? 'n/a' : `${(valueMs / 1000).toFixed(digits)} s`;
}
