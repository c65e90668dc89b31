/**
 * completion — ghost text while a person types (issue #8's figures): a
 * typing replay through the real server's `textDocument/inlineCompletion`,
 * against a naive policy (one model call per keystroke, no cache) measured in
 * the same run.
 *
 * The replay: 300 keystrokes (60 with `--quick`) typed into a generated
 * TypeScript file where a function is being written, at human speed, seeded:
 * bursts of 3–12 keys 60–150 ms apart, pauses of 400–1,500 ms between bursts.
 * Each keystroke is a `didChange` and then an automatic inlineCompletion
 * request at the new cursor (triggerKind 2), not waiting for the answer, as
 * VS Code does. The fake Messages API answers after 300–800 ms (seeded) with
 * the rest of the current line of the text being typed (the next line when
 * the cursor is at a line end) — or, half the time, only its next 8–40
 * characters, cut after a word — so a typist who types what was suggested
 * lets the engine reuse it; one answer in four is a plausible wrong line.
 * `completion.maxCallsPerMinute` is set to its maximum (600) so the cap does
 * not decide; what the default (30) would have refused is replayed from the
 * call times afterwards. The other settings are the defaults (comments and
 * strings skipped, prompt caching on).
 *
 * The naive arm: the engine has no switch for its debounce, cache or
 * typed-ahead reuse, so a second server cannot be made naive. Its figures are
 * computed instead: a call-per-keystroke client makes exactly one call per
 * keystroke, and its tokens are measured by replaying the same keystrokes in
 * a `DocumentStore`, building each keystroke's prompt with the server's own
 * `buildCompletionPrompt` + `completionRequestParts` (what the server would
 * send, byte for byte but for the recent-edit snippets, which this
 * single-file replay has none of), and sending each to a fresh fake (latency
 * 0, same responder), whose usage is summed.
 */
import { existsSync } from 'node:fs';
import type { InlineCompletionList } from 'vscode-languageserver-protocol';
import type { Range } from 'vscode-languageserver-textdocument';
import {
  buildCompletionPrompt,
  completionRequestParts,
  debounceMs,
  defaultInlineCompletionOptions,
} from '../../../server/src/completion/completion-engine.js';
import { DocumentStore } from '../../../server/src/documents/document-store.js';
import type { TrackedDocument } from '../../../server/src/documents/tracked-document.js';
import { Methods, type DocumentTextResult, type StatusResult } from '../../../server/src/protocol.js';
import { startFakeAnthropic, type FakeReply, type RecordedRequest, type RecordedUsage } from '../../support/fake-anthropic/server.js';
import { startFakeOllama } from '../../support/fake-ollama/server.js';
import { startHarness } from '../../support/harness.js';
import { serverEntry, TestClient } from '../../support/lsp-client.js';
import { fixed, sleep, summarize, verdict, type GoalCheck, type Scenario, type ScenarioContext, type ScenarioResult, type Summary, type Table } from '../scenario.js';
import { generateSource, seededRandom } from '../source-text.js';

const seed = 0xc0de8;
const burstKeys = [3, 12] as const;
const keyGapMs = [60, 150] as const;
const pauseGapMs = [400, 1_500] as const;
const modelLatencyMs = [300, 800] as const;
/** One answer in this many is a wrong (but plausible) line. */
const wrongShare = 0.25;
const goalCallsPerKeystroke = 1 / 5;
const goalOverheadP90Ms = 2;
const defaultCap = 30;
const benchCap = 600;
const fastModel = 'claude-haiku-5-5';
const completionMaxTokens = 256;
const relativePath = 'src/typing.ts';

interface Plan {
  mode: 'full' | 'quick';
  keystrokes: number;
}
const fullPlan: Plan = { mode: 'full', keystrokes: 300 };
const quickPlan: Plan = { mode: 'quick', keystrokes: 30 };

// ---------------------------------------------------------------- the replay

interface Keystroke {
  /** Planned time from the first keystroke, ms. */
  at: number;
  char: string;
  /** Where the character goes (the cursor before it). */
  range: Range;
  /** The cursor after it: where the completion is asked for. */
  cursor: { line: number; character: number };
  burst: number;
  lastOfBurst: boolean;
}

interface Replay {
  /** Text before the typing spot (ends with a line break). */
  head: string;
  /** What the typist is writing, longer than what is typed so suggestions run past the end. */
  target: string;
  tail: string;
  openText: string;
  keys: Keystroke[];
  bursts: number;
}

function between(random: () => number, [low, high]: readonly [number, number]): number {
  return low + random() * (high - low);
}

function cutAtLineEnd(text: string): string {
  return text.slice(0, text.lastIndexOf('\n') + 1);
}

function planReplay(keystrokes: number): Replay {
  const random = seededRandom(seed);
  const head = cutAtLineEnd(generateSource(3_000, { seed: seed + 1, asciiOnly: true }));
  // Start the typed text at a function, so it reads like code being written.
  const source = generateSource(keystrokes * 4 + 4_000, { seed: seed + 2, asciiOnly: true });
  const fnAt = source.indexOf('\nexport async function');
  const target = source.slice(fnAt + 1, fnAt + 1 + keystrokes + 400);
  const tail = `\n${cutAtLineEnd(generateSource(1_200, { seed: seed + 3, asciiOnly: true }))}`;
  const openText = head + tail;

  const keys: Keystroke[] = [];
  let line = head.split('\n').length - 1;
  let character = 0;
  let at = 0;
  let burst = 0;
  let leftInBurst = Math.round(between(random, burstKeys));
  for (let i = 0; i < keystrokes; i++) {
    if (i > 0) at += leftInBurst === 0 ? between(random, pauseGapMs) : between(random, keyGapMs);
    if (leftInBurst === 0) {
      burst++;
      leftInBurst = Math.round(between(random, burstKeys));
    }
    const char = target[i] as string;
    const start = { line, character };
    if (char === '\n') {
      line++;
      character = 0;
    } else character++;
    leftInBurst--;
    keys.push({ at, char, range: { start, end: start }, cursor: { line, character }, burst, lastOfBurst: leftInBurst === 0 || i === keystrokes - 1 });
  }
  return { head, target, tail, openText, keys, bursts: burst + 1 };
}

// ---------------------------------------------------------------- the fake model

/** The text before the cursor in a completion request: the `<prefix>` block's two parts. */
function promptPrefix(request: RecordedRequest): string | undefined {
  const content = request.body.messages?.[0]?.content;
  if (!Array.isArray(content)) return undefined;
  const texts = content.map((block) => (block.type === 'text' ? block.text : ''));
  const all = texts.join('');
  const open = all.indexOf('<prefix>\n');
  const close = all.lastIndexOf('</prefix>');
  return open < 0 || close < 0 ? undefined : all.slice(open + '<prefix>\n'.length, close);
}

/**
 * A responder that continues the line being typed: the rest of the target's
 * current line, or the next line when the cursor is at a line end (half the
 * time only its next 8–40 characters); a quarter of the time (seeded) a
 * plausible but wrong line of the same file.
 */
function continuation(replay: Replay, random: () => number, latency: (request: RecordedRequest) => number | undefined) {
  const answer = continuationText(replay, random);
  return (request: RecordedRequest): FakeReply => {
    const latencyMs = latency(request);
    return { text: answer(promptPrefix(request)), ...(latencyMs === undefined ? {} : { latencyMs }) };
  };
}

/** The responder's text for the text before the cursor (see `continuation`); the same for a chat prompt and a FIM prompt. */
function continuationText(replay: Replay, random: () => number): (prefix: string | undefined) => string {
  const wrongLines = replay.target.split('\n').filter((l) => l.trim().length > 8);
  return (prefix) => {
    if (prefix === undefined || !prefix.startsWith(replay.head)) return '';
    const typed = prefix.slice(replay.head.length);
    const wrong = random() < wrongShare;
    let text: string;
    if (wrong) {
      text = (wrongLines[Math.floor(random() * wrongLines.length)] as string).trimStart();
    } else {
      const k = typed.length;
      const lineEnd = replay.target.indexOf('\n', k);
      const rest = replay.target.slice(k, lineEnd < 0 ? undefined : lineEnd);
      let full = rest;
      if (full === '') {
        const nextEnd = replay.target.indexOf('\n', k + 1);
        full = replay.target.slice(k, nextEnd < 0 ? undefined : nextEnd);
      }
      // Half the time the whole line; otherwise only its next 8–40 characters, cut after a word.
      if (random() < 0.5) text = full;
      else {
        const cut = full.slice(0, Math.round(between(random, [8, 40])));
        const word = cut.search(/\W[^\W]*$/);
        text = word > 0 && cut.length < full.length ? cut.slice(0, word + 1) : cut;
      }
    }
    return text;
  };
}

// ---------------------------------------------------------------- the policy arm

interface KeyFigures {
  sentAt: number;
  answeredAt: number;
  items: number;
  /** Client-side gap to the previous request (ms), as the engine's debounce sees it. */
  gapMs: number | undefined;
  /** The fake request that answered it, when a model call did. */
  modelCall: number | undefined;
  /** That call was already running when the request was sent (the engine joined it). */
  joinedCall: boolean;
}

interface PolicyArm {
  keys: KeyFigures[];
  status: StatusResult;
  fakeRequests: { index: number; receivedAt: number; latencyMs: number; usage: RecordedUsage | undefined; outcome: string }[];
  textMatched: boolean;
  /** Round trips of a request the server answers at once, on the same connection after the replay (ms). */
  baselineRoundTrips: number[];
}

/** A method no server registers: vscode-jsonrpc answers MethodNotFound at once, so its round trip is transport and dispatch alone. */
const baselineMethod = 'efrit/benchRoundTrip';
const baselineRounds = { full: 120, quick: 40 } as const;
const baselineGapMs = 25;

function tokensOf(usage: RecordedUsage | undefined): number {
  return usage === undefined ? 0 : usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens + usage.output_tokens;
}

/**
 * Types the replay into the open document at its recorded pace (a benchmark of
 * a typist, so the real clock sets the pace), asking for a suggestion after
 * each key as an editor does; resolves once every request is answered and a
 * last model call, if any, has had time to finish.
 */
async function typeReplay(client: TestClient, uri: string, replay: Replay, progress: (done: number) => void): Promise<KeyFigures[]> {
  const keys: KeyFigures[] = [];
  const answers: Promise<void>[] = [];
  const start = performance.now();
  let previousSent: number | undefined;
  for (const [i, key] of replay.keys.entries()) {
    const wait = start + key.at - performance.now();
    if (wait > 0) await sleep(wait);
    if (i % 50 === 0) progress(i);
    void client.change(uri, key.range, key.char);
    const sentAt = performance.now();
    const figures: KeyFigures = { sentAt, answeredAt: Number.NaN, items: 0, gapMs: previousSent === undefined ? undefined : sentAt - previousSent, modelCall: undefined, joinedCall: false };
    previousSent = sentAt;
    keys.push(figures);
    answers.push(
      client
        .request<InlineCompletionList>('textDocument/inlineCompletion', { textDocument: { uri }, position: key.cursor, context: { triggerKind: 2 } })
        .then((list) => {
          figures.answeredAt = performance.now();
          figures.items = list.items.filter((item) => (typeof item.insertText === 'string' ? item.insertText : item.insertText.value) !== '').length;
        }),
    );
  }
  await Promise.all(answers);
  // Let a last call (if any) finish before the fake's log is read.
  await sleep(modelLatencyMs[1] + 100);
  return keys;
}

async function runPolicy(replay: Replay, context: ScenarioContext, plan: Plan): Promise<PolicyArm> {
  const latencyRandom = seededRandom(seed + 10);
  const latencies = new Map<number, number>();
  const harness = await startHarness({
    initializationOptions: { completion: { maxCallsPerMinute: benchCap } },
    fake: { now: () => performance.now() },
  });
  try {
    const { client, fake } = harness;
    fake.respondWith(
      continuation(replay, seededRandom(seed + 11), (request) => {
        const ms = Math.round(between(latencyRandom, modelLatencyMs));
        latencies.set(request.index, ms);
        return ms;
      }),
    );
    const uri = await client.open(relativePath, replay.openText);
    // Warm-up: a round trip, so the first keystroke does not pay for the server's first request.
    await client.request(Methods.status, {});

    const keys = await typeReplay(client, uri, replay, (done) => context.progress(`keystroke ${done}/${replay.keys.length}`));
    const status = await client.request<StatusResult>(Methods.status, {});
    const fakeRequests = fake.requests
      .filter((r) => r.path.endsWith('/messages'))
      .map((r) => ({ index: r.index, receivedAt: r.receivedAt, latencyMs: latencies.get(r.index) ?? Number.NaN, usage: r.usage, outcome: String(r.outcome) }));
    // Which fake request answered a non-empty answer: the last one running at some time between the
    // request and its answer (received before the answer, its latency not over when the request was sent).
    for (const figures of keys) {
      if (figures.items === 0) continue;
      const running = fakeRequests.filter((r) => r.receivedAt <= figures.answeredAt && r.receivedAt + r.latencyMs >= figures.sentAt);
      const call = running.at(-1);
      figures.modelCall = call?.index;
      figures.joinedCall = call !== undefined && call.receivedAt < figures.sentAt;
    }
    const expected = replay.head + replay.target.slice(0, replay.keys.length) + replay.tail;
    const synced = await client.request<DocumentTextResult>(Methods.documentText, { textDocument: { uri } });
    const textMatched = synced.text === expected && client.text(uri) === expected;

    // The baseline: the same connection and server, at a typist's pace.
    const baselineRoundTrips: number[] = [];
    for (let i = 0; i < baselineRounds[plan.mode]; i++) {
      await sleep(baselineGapMs);
      const sentAt = performance.now();
      const refused = await client.request(baselineMethod, {}).then(
        () => false,
        () => true,
      );
      if (!refused) throw new Error(`${baselineMethod} was answered with a result; the baseline needs a method the server does not have`);
      baselineRoundTrips.push(performance.now() - sentAt);
    }
    return { keys, status, fakeRequests, textMatched, baselineRoundTrips };
  } finally {
    await harness.stop();
  }
}

// ---------------------------------------------------------------- the naive arm

interface NaiveArm {
  calls: number;
  tokens: number;
  inputTokens: number;
  outputTokens: number;
}

async function runNaive(replay: Replay): Promise<NaiveArm> {
  const fake = await startFakeAnthropic({});
  try {
    fake.respondWith(continuation(replay, seededRandom(seed + 11), () => 0));
    const store = new DocumentStore();
    const uri = `file:///bench/${relativePath}`;
    store.open({ uri, languageId: 'typescript', version: 1, text: replay.openText });
    const doc = store.get(uri) as TrackedDocument;
    for (const key of replay.keys) {
      store.change(uri, doc.version + 1, [{ range: key.range, text: key.char }]);
      const prompt = buildCompletionPrompt(doc, key.cursor, defaultInlineCompletionOptions);
      const body = { model: fastModel, max_tokens: completionMaxTokens, ...completionRequestParts(prompt, true), stream: false };
      const response = await fetch(`${fake.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'bench' },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`the naive arm's request failed: ${response.status} ${await response.text()}`);
      await response.arrayBuffer();
    }
    const usages = fake.requests.map((r) => r.usage);
    const inputTokens = usages.reduce((sum, u) => sum + (u === undefined ? 0 : u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens), 0);
    const outputTokens = usages.reduce((sum, u) => sum + (u?.output_tokens ?? 0), 0);
    return { calls: replay.keys.length, tokens: inputTokens + outputTokens, inputTokens, outputTokens };
  } finally {
    await fake.close();
  }
}

// ---------------------------------------------------------------- figures

/** Calls the default cap would have refused, replaying the engine's sliding window over the call times. */
function refusedAtCap(callTimes: readonly number[], cap: number): number {
  let allowed: number[] = [];
  let refused = 0;
  for (const t of callTimes) {
    allowed = allowed.filter((a) => t - a < 60_000);
    if (allowed.length >= cap) refused++;
    else allowed.push(t);
  }
  return refused;
}

function row(s: Summary, digits: number): string[] {
  return [String(s.n), fixed(s.p50, digits), fixed(s.p90, digits), fixed(s.p99, digits), fixed(s.max, digits)];
}

function report(plan: Plan, replay: Replay, policy: PolicyArm, naive: NaiveArm) {
  const n = replay.keys.length;
  const keys = policy.keys;
  const shown = keys.filter((k) => k.items > 0).length;

  // Last keystroke of a burst → the suggestion its request answered (none when it answered empty).
  const burstLatency: number[] = [];
  let burstsWithout = 0;
  for (const [i, key] of replay.keys.entries()) {
    if (!key.lastOfBurst) continue;
    const figures = keys[i] as KeyFigures;
    if (figures.items > 0) burstLatency.push(figures.answeredAt - figures.sentAt);
    else burstsWithout++;
  }
  const burst = summarize(burstLatency);

  // Server overhead, two readings.
  const noModel = keys.filter((k) => k.items > 0 && k.modelCall === undefined).map((k) => k.answeredAt - k.sentAt);
  const latencyOf = new Map(policy.fakeRequests.map((r) => [r.index, r.latencyMs]));
  const receivedAtOf = new Map(policy.fakeRequests.map((r) => [r.index, r.receivedAt]));
  const modelPath = keys
    .filter((k) => k.items > 0 && k.modelCall !== undefined && !k.joinedCall)
    .map((k) => k.answeredAt - k.sentAt - debounceMs(defaultInlineCompletionOptions.debounce, k.gapMs, true) - (latencyOf.get(k.modelCall as number) ?? Number.NaN));
  // A joined answer waited for a call made earlier: what is left after the fake's latency ran out.
  const joinedPath = keys
    .filter((k) => k.items > 0 && k.joinedCall)
    .map((k) => k.answeredAt - ((receivedAtOf.get(k.modelCall as number) ?? Number.NaN) + (latencyOf.get(k.modelCall as number) ?? Number.NaN)));
  const joinedPathSummary = summarize(joinedPath);
  const noModelSummary = summarize(noModel);
  const modelPathSummary = summarize(modelPath);
  const baseline = summarize(policy.baselineRoundTrips);
  const ownP50 = noModelSummary.p50 - baseline.p50;
  const ownP90 = noModelSummary.p90 - baseline.p90;

  const status = policy.status.completion;
  const reachedApi = policy.fakeRequests.length;
  const answeredCalls = policy.fakeRequests.filter((r) => r.usage !== undefined).length;
  const tokens = policy.fakeRequests.reduce((sum, r) => sum + tokensOf(r.usage), 0);
  const inputTokens = policy.fakeRequests.reduce((sum, r) => sum + tokensOf(r.usage) - (r.usage?.output_tokens ?? 0), 0);
  const calls = Math.max(status.modelCalls, reachedApi);
  const callsPerKey = calls / n;
  const refused = refusedAtCap(policy.fakeRequests.map((r) => r.receivedAt), defaultCap);
  const durationS = ((replay.keys.at(-1)?.at ?? 0) + 1) / 1000;

  const goals: GoalCheck[] = [
    { name: 'model calls per keystroke', goal: `≤ ${fixed(goalCallsPerKeystroke, 2)}`, actual: fixed(callsPerKey, 3), met: callsPerKey <= goalCallsPerKeystroke },
    {
      name: 'server\'s own latency p90 (answers without a model call − round-trip baseline)',
      goal: `< ${goalOverheadP90Ms} ms`,
      actual: `${fixed(ownP90, 2)} ms (${fixed(noModelSummary.p90, 2)} − ${fixed(baseline.p90, 2)}, n=${noModelSummary.n})`,
      met: noModelSummary.n > 0 && ownP90 < goalOverheadP90Ms,
    },
  ];

  const tables: Table[] = [
    {
      title: `completion — ${n} keystrokes in ${replay.bursts} bursts over ${fixed(durationS, 1)} s (${plan.mode} mode${plan.mode === 'quick' ? `, ${quickPlan.keystrokes} keystrokes instead of ${fullPlan.keystrokes}` : ''}), fake latency ${modelLatencyMs[0]}–${modelLatencyMs[1]} ms`,
      columns: [
        { header: 'policy', align: 'left' },
        { header: 'model calls' },
        { header: 'calls/key' },
        { header: 'shown' },
        { header: 'burst→ghost p50 ms' },
        { header: 'p90 ms' },
        { header: 'tokens in+out' },
        { header: 'tokens/key' },
      ],
      rows: [
        ['engine (debounce, cache, typed-ahead, join)', String(calls), fixed(callsPerKey, 3), String(shown), fixed(burst.p50, 0), fixed(burst.p90, 0), String(tokens), fixed(tokens / n, 0)],
        ['naive (a call per keystroke, computed)', String(naive.calls), fixed(naive.calls / n, 3), 'n/a', 'n/a', 'n/a', String(naive.tokens), fixed(naive.tokens / n, 0)],
        ['engine / naive', '', `${fixed((100 * calls) / naive.calls, 1)}%`, '', '', '', `${fixed((100 * tokens) / naive.tokens, 1)}%`, ''],
      ],
      notes: [
        `model calls: the engine's own count (efrit/status modelCalls ${status.modelCalls}) or the requests that reached the fake (${reachedApi}), whichever is larger.`,
        `shown: requests answered with a non-empty item. burst→ghost: from the last keystroke of a burst to its request's non-empty answer; ${burstLatency.length} of ${replay.bursts} bursts got one, ${burstsWithout} ended with none (skipped in a comment/string, wrong suggestion dropped, or the answer was empty).`,
        `tokens: the fake's usage, input (uncached + cache write + cache read) + output, summed over the calls it answered (${answeredCalls} of ${reachedApi}; a call cancelled before its answer is not counted — the API would not bill output, and may not bill input). Engine input ${inputTokens}, naive input ${naive.inputTokens}, naive output ${naive.outputTokens}.`,
        'naive: the engine has no switch for debounce/cache/typed-ahead, so a naive server cannot be run; a call-per-keystroke client makes one call per keystroke by definition, and its tokens are measured by sending each keystroke\'s prompt (the server\'s buildCompletionPrompt + completionRequestParts on the same text) to a fresh fake with the same responder. Its burst→ghost time would be about one model latency (300–800 ms) with no debounce; it is not timed.',
      ],
    },
    {
      title: 'completion — how the engine answered (efrit/status) and the per-minute cap',
      columns: [
        { header: 'requests' },
        { header: 'model calls' },
        { header: 'typed-ahead' },
        { header: 'joined' },
        { header: 'cache hits' },
        { header: 'cancelled' },
        { header: 'skipped' },
        { header: 'stale' },
        { header: 'capped' },
        { header: 'errors' },
        { header: `refused at cap ${defaultCap}/min` },
      ],
      rows: [[String(status.requests), String(status.modelCalls), String(status.typedAhead), String(status.joined), String(status.cacheHits), String(status.cancelled), String(status.skipped), String(status.stale), String(status.capped), String(status.errors), String(refused)]],
      notes: [
        `The cap was set to ${benchCap}/min so it did not decide. "refused at cap ${defaultCap}/min" replays the engine's 60-second sliding window over the times the calls reached the fake; it is a lower bound on the effect (a refused call's answer would also have been missing for typed-ahead reuse later).`,
        'skipped: automatic triggers with the cursor in a comment or a string (completion.skipInCommentsAndStrings, default on).',
      ],
    },
    {
      title: 'completion — the server\'s own latency, ms',
      columns: [{ header: 'reading', align: 'left' }, { header: 'n' }, { header: 'p50' }, { header: 'p90' }, { header: 'p99' }, { header: 'max' }, { header: 'goal', align: 'left' }, { header: 'met?', align: 'left' }],
      rows: [
        ['answers without a model call (typed-ahead, cache): request → answer', ...row(noModelSummary, 2), '', ''],
        [`baseline: a request answered at once (${baselineMethod}, MethodNotFound), same connection`, ...row(baseline, 2), '', ''],
        ['server\'s own: answers without a model call − baseline', '', fixed(ownP50, 2), fixed(ownP90, 2), '', '', `p90 < ${goalOverheadP90Ms} ms`, verdict(goals[1]?.met ?? false)],
        ['answers from their own model call: answer − debounce − fake latency', ...row(modelPathSummary, 2), '', ''],
        ['answers from a call already running (joined): answer − end of the fake\'s latency', ...row(joinedPathSummary, 2), '', ''],
        ['model calls per keystroke', '', fixed(callsPerKey, 3), '', '', '', `≤ ${fixed(goalCallsPerKeystroke, 2)}`, verdict(goals[0]?.met ?? false)],
      ],
      notes: [
        'A non-empty answer with no fake request running between the request and the answer never waited on a debounce or the model: its request → answer time is the server\'s work (the keystroke\'s didChange included) plus the stdio/JSON-RPC round trip. The baseline is that round trip alone, measured after the replay on the same connection, a request every 25 ms (120 of them; 40 in quick mode); the goal is judged on the difference of the two at p90 (a difference of percentiles, not a percentile of differences).',
        'The second reading subtracts from request → answer the debounce the engine applied (recomputed with its debounceMs from the client-side gap between requests, always at a line end here) and the latency the fake was told to wait; what is left also holds the job queue, the SDK\'s HTTP request and stream parsing, and timer lateness (setTimeout fires ≥ 1 ms late), so it is informational.',
      ],
    },
  ];

  return {
    tables,
    summary: {
      keystrokes: n,
      bursts: replay.bursts,
      modelCalls: calls,
      callsPerKeystroke: callsPerKey,
      suggestionsShown: shown,
      burstToSuggestionMs: { p50: burst.p50, p90: burst.p90, n: burst.n },
      tokens,
      naive: { calls: naive.calls, tokens: naive.tokens },
      overheadNoModelMs: { p50: noModelSummary.p50, p90: noModelSummary.p90, n: noModelSummary.n },
      baselineRoundTripMs: { p50: baseline.p50, p90: baseline.p90, n: baseline.n },
      ownLatencyMs: { p50: ownP50, p90: ownP90 },
      overheadModelPathMs: { p50: modelPathSummary.p50, p90: modelPathSummary.p90, n: modelPathSummary.n },
      overheadJoinedPathMs: { p50: joinedPathSummary.p50, p90: joinedPathSummary.p90, n: joinedPathSummary.n },
      refusedAtDefaultCap: refused,
    },
    raw: { status: policy.status, keys: policy.keys, fakeRequests: policy.fakeRequests, naive, burstLatency, noModel, modelPath, joinedPath, baselineRoundTrips: policy.baselineRoundTrips },
    goals,
  };
}

export const completionScenario: Scenario = {
  name: 'completion',
  description: 'ghost text while typing 300 keys at human speed (fake model 300–800 ms): model calls, suggestions, latency, tokens, vs a call per keystroke',
  async run(context: ScenarioContext) {
    if (!existsSync(serverEntry)) throw new Error(`${serverEntry} is missing: build first (npm run build)`);
    const plan = context.quick ? quickPlan : fullPlan;
    const replay = planReplay(plan.keystrokes);
    context.progress(`${plan.keystrokes} keystrokes in ${replay.bursts} bursts through the server`);
    const policy = await runPolicy(replay, context, plan);
    if (!policy.textMatched) throw new Error("the server's replay went wrong: the client's text after the keystrokes is not the planned text");
    context.progress('the naive policy: the same keystrokes\' prompts through a fresh fake');
    const naive = await runNaive(replay);
    return report(plan, replay, policy, naive);
  },
};

// ---------------------------------------------------------------- the FIM variant

const fimModel = 'ollama:qwen2.5-coder:7b';

interface FimArm {
  keys: { items: number; sentAt: number; answeredAt: number }[];
  status: StatusResult;
  generateCalls: number;
  abortedByClient: number;
  chatCalls: number;
  lookUps: number;
  textMatched: boolean;
}

/**
 * The same replay with `fastModel` on an Ollama code model that fills in the
 * middle: the real `ollama` library against the fake Ollama, whose
 * `/api/show` reports `insert`, so every model call is an `/api/generate`
 * with `prompt` and `suffix`. The fake answers with the same responder (the
 * text before the cursor is the `prompt`), after the same seeded latency.
 */
async function runFimPolicy(replay: Replay, context: ScenarioContext): Promise<FimArm> {
  const latencyRandom = seededRandom(seed + 10);
  const fake = await startFakeOllama();
  const answer = continuationText(replay, seededRandom(seed + 11));
  fake.respondWith((request) => ({ text: answer(request.body.prompt), hold: { until: sleep(Math.round(between(latencyRandom, modelLatencyMs))), afterLines: 0 } }));
  const client = await TestClient.start({
    initializationOptions: { model: fimModel, fastModel: fimModel, completion: { maxCallsPerMinute: benchCap }, ollama: { baseURL: fake.baseURL } },
    env: { ANTHROPIC_API_KEY: undefined, OLLAMA_HOST: undefined },
  });
  try {
    const uri = await client.open(relativePath, replay.openText);
    await client.request(Methods.status, {});
    const keys = await typeReplay(client, uri, replay, (done) => context.progress(`FIM: keystroke ${done}/${replay.keys.length}`));
    const status = await client.request<StatusResult>(Methods.status, {});
    const expected = replay.head + replay.target.slice(0, replay.keys.length) + replay.tail;
    const generate = fake.requests.filter((r) => r.path === '/api/generate');
    return {
      keys,
      status,
      generateCalls: generate.length,
      abortedByClient: generate.filter((r) => r.outcome === 'aborted-by-client').length,
      chatCalls: fake.requests.filter((r) => r.path === '/api/chat').length,
      lookUps: fake.shown.length,
      textMatched: client.text(uri) === expected,
    };
  } finally {
    await client.stop();
    await fake.close();
  }
}

function reportFim(plan: Plan, replay: Replay, arm: FimArm): ScenarioResult {
  const n = replay.keys.length;
  const calls = Math.max(arm.status.completion.modelCalls, arm.generateCalls + arm.chatCalls);
  const callsPerKey = calls / n;
  const shown = arm.keys.filter((k) => k.items > 0).length;
  const burstLatency: number[] = [];
  for (const [i, key] of replay.keys.entries()) {
    const figures = arm.keys[i];
    if (key.lastOfBurst && figures !== undefined && figures.items > 0) burstLatency.push(figures.answeredAt - figures.sentAt);
  }
  const burst = summarize(burstLatency);
  const status = arm.status.completion;
  const goals: GoalCheck[] = [
    { name: 'FIM model calls per keystroke', goal: `≤ ${fixed(goalCallsPerKeystroke, 2)}`, actual: fixed(callsPerKey, 3), met: callsPerKey <= goalCallsPerKeystroke && arm.chatCalls === 0 },
  ];
  const tables: Table[] = [
    {
      title: `completion-fim — ${n} keystrokes in ${replay.bursts} bursts (${plan.mode} mode), fastModel ${fimModel} filling in the middle on the fake Ollama, latency ${modelLatencyMs[0]}–${modelLatencyMs[1]} ms`,
      columns: [
        { header: '/api/generate calls' },
        { header: '/api/chat calls' },
        { header: 'calls/key' },
        { header: 'goal', align: 'left' },
        { header: 'met?', align: 'left' },
        { header: 'shown' },
        { header: 'burst→ghost p50 ms' },
        { header: 'p90 ms' },
        { header: 'aborted by the client' },
        { header: '/api/show look-ups' },
      ],
      rows: [
        [
          String(arm.generateCalls),
          String(arm.chatCalls),
          fixed(callsPerKey, 3),
          `≤ ${fixed(goalCallsPerKeystroke, 2)}`,
          verdict(goals[0]?.met ?? false),
          String(shown),
          fixed(burst.p50, 0),
          fixed(burst.p90, 0),
          String(arm.abortedByClient),
          String(arm.lookUps),
        ],
      ],
      notes: [
        `The same seeded replay and responder as the completion scenario, the model on Ollama's /api/generate with prompt and suffix through the real ollama library. Engine: ${status.requests} requests, ${status.modelCalls} model calls, ${status.typedAhead} typed-ahead, ${status.joined} joined, ${status.cacheHits} cache hits, ${status.cancelled} cancelled, ${status.skipped} skipped, ${status.stale} stale, ${status.errors} errors.`,
        'aborted by the client: generate requests whose HTTP request the server hung up on (the user typed away, or a newer call superseded it). /api/show: the capability look-ups, cached per model.',
      ],
    },
  ];
  return {
    tables,
    summary: { keystrokes: n, modelCalls: calls, callsPerKeystroke: callsPerKey, generateCalls: arm.generateCalls, chatCalls: arm.chatCalls, suggestionsShown: shown, burstToSuggestionMs: { p50: burst.p50, p90: burst.p90, n: burst.n }, lookUps: arm.lookUps },
    raw: { status: arm.status, keys: arm.keys, burstLatency },
    goals,
  };
}

export const completionFimScenario: Scenario = {
  name: 'completion-fim',
  description: 'ghost text while typing, fastModel an Ollama code model filling in the middle (/api/generate with suffix, fake 300–800 ms): model calls per keystroke',
  async run(context: ScenarioContext) {
    if (!existsSync(serverEntry)) throw new Error(`${serverEntry} is missing: build first (npm run build)`);
    const plan = context.quick ? quickPlan : fullPlan;
    const replay = planReplay(plan.keystrokes);
    context.progress(`${plan.keystrokes} keystrokes in ${replay.bursts} bursts through the server, filling in the middle`);
    const arm = await runFimPolicy(replay, context);
    if (!arm.textMatched) throw new Error("the server's replay went wrong: the client's text after the keystrokes is not the planned text");
    return reportFim(plan, replay, arm);
  },
};
