/**
 * queue — the job queue behind every model call (issue #3's figures), through
 * the shipped server over stdio against the fake Messages API on loopback,
 * with fake latencies of 1–3 s as Efrit measured them, drawn from a seeded
 * generator so that both arms of a comparison see the same latencies, job for
 * job (see `model-rig.ts`). `--quick` multiplies every latency, window and
 * retry-after by 0.25 and halves the job counts.
 *
 * 1. Burst: N independent `efrit/chat`s (each a fresh session: interactive)
 *    written at once, at queue.concurrency 1 (Efrit's one at a time) and 4.
 *    The speed-up is compared with the best any 4-slot schedule of these
 *    latencies could give, Σ / max(Σ/4, longest), and shown next to what a
 *    zero-overhead FIFO queue gives for them in arrival order (a queue cannot
 *    know how long a call will take, so the order's tail is not its
 *    overhead).
 *    Overhead per job, two ways. The goal is on the queue's own: the real
 *    `JobQueue` in this process, its handoff from one job's end to the next
 *    job's start at concurrency 1 (and submit → start when idle), against
 *    the same async functions in a plain loop: microseconds, which stdio and
 *    HTTP would drown. End to end, shown but not judged: the server at
 *    concurrency 1 with a short fixed latency, the "handoff gap" (the fake's
 *    receipt of call k+1 − its receipt of call k − call k's latency: the
 *    fake's rendering, stream parsing, finishing the job, starting the next,
 *    building and sending its call) against a bare SDK loop replaying the
 *    server's own request bodies, run alternately; the difference is
 *    everything efrit-lsp does per job besides the SDK.
 * 2. Priority under load: background fix jobs created by prefetch (listing
 *    code actions for a diagnostic with `prefetch` on), then interactive chats
 *    one at a time; each one's start is the fake's receipt minus the client's
 *    send time, compared with the same figure on the same server idle (before
 *    the load and after it is cancelled). At concurrency 1 (preemption) and 4
 *    (the reserved slot). The same policy is also timed in process, without
 *    stdio, against background jobs that never finish by themselves.
 * 3. Backoff: a burst against a fake that accepts 2 requests per 1 s window
 *    and answers 429 with retry-after 1 otherwise (4 per second would never
 *    refuse 4 calls of 1 s or more); every call is read back from the fake's
 *    log. Baselines: the same burst from bare SDK clients that send every call
 *    at once, without retries and with the SDK's own per-call retries.
 */
import { performance } from 'node:perf_hooks';
import type { Diagnostic } from 'vscode-languageserver-protocol';
import type { StatusResult } from '../../../server/src/protocol.js';
import { JobQueue } from '../../../server/src/queue/job-queue.js';
import type { RecordedRequest } from '../../support/fake-anthropic/server.js';
import {
  bareSdkCall,
  clock,
  describeError,
  drawLatencies,
  fixReply,
  functionsDocument,
  listScheduleMakespan,
  ModelRig,
  ms,
  reasonOf,
  retagBody,
  seconds,
  sum,
  tag,
} from '../model-rig.js';
import { fixed, median, percentile, sleep, summarize, verdict, type GoalCheck, type Scenario, type ScenarioContext, type Table } from '../scenario.js';

/** Fixed, arbitrary: the latencies are part of what is compared, so they are the same in every run. */
const seed = 0x3e1f;
const latencyRange = [1000, 3000] as const;

interface Plan {
  mode: 'full' | 'quick';
  /** Every latency, rate window and retry-after is multiplied by this. */
  scale: number;
  burstJobs: number;
  overheadRounds: number;
  overheadSingles: number;
  overheadChain: number;
  backgroundJobs: number;
  /** Idle samples, half before the load and half after it. */
  idleSamples: number;
  loadedSamples: number;
  backoffJobs: number;
  /** Jobs per round of the in-process queue measure, and rounds. */
  inProcessJobs: number;
  inProcessRounds: number;
}

const fullPlan: Plan = {
  mode: 'full',
  scale: 1,
  burstJobs: 16,
  overheadRounds: 4,
  overheadSingles: 8,
  overheadChain: 16,
  backgroundJobs: 32,
  idleSamples: 10,
  loadedSamples: 10,
  backoffJobs: 16,
  inProcessJobs: 2000,
  inProcessRounds: 5,
};
const quickPlan: Plan = {
  mode: 'quick',
  scale: 0.1,
  burstJobs: 8,
  overheadRounds: 2,
  overheadSingles: 4,
  overheadChain: 8,
  backgroundJobs: 16,
  idleSamples: 4,
  loadedSamples: 4,
  backoffJobs: 8,
  inProcessJobs: 500,
  inProcessRounds: 3,
};

/** The overhead sub-measure's fixed latency: long enough to be a real wait, short enough for many samples. */
const overheadLatencyMs = 10;
/** The interactive chats' own latency in the priority part (their start is what is measured, not their end). */
const interactiveLatencyMs = 100;
const samplePauseMs = 50;
const rateLimit = { perWindow: 2, windowMs: 1000, retryAfterSeconds: 1 };
const burstConcurrency = 4;
const efritMaxRetries = 3;
const goalSpeedupShare = 0.9;
const goalOverheadMs = 1;
const goalWaitMs = 5;

export const queueScenario: Scenario = {
  name: 'queue',
  description: 'the job queue over stdio against the fake API (latency 1-3 s): burst at concurrency 1 vs 4, priority under load, 429 backoff',
  async run(context: ScenarioContext) {
    const plan = context.quick ? quickPlan : fullPlan;
    context.progress(`the queue alone, in process: ${plan.inProcessRounds} rounds of ${plan.inProcessJobs} jobs vs a plain loop`);
    const inProcess = await measureQueueInProcess(plan);
    const priorityInProcess = await measurePriorityInProcess(plan);
    const burst = await measureBurst(plan, context);
    const priority = await measurePriority(plan, context);
    const backoff = await measureBackoff(plan, context);
    return report(plan, inProcess, priorityInProcess, burst, priority, backoff);
  },
};

// ----------------------------------------------------------------------------------- queue in process

interface InProcessFigures {
  /** End of job k's run → start of job k+1's, at concurrency 1 with every job queued (µs). */
  queueHandoffUs: number[];
  /** The same jobs awaited one after another in a plain loop (µs). */
  loopHandoffUs: number[];
  /** `submit` → the job's run starting, on an idle queue (µs). */
  queueStartUs: number[];
  /** Calling the same async function directly → it starting (µs). */
  directStartUs: number[];
}

/**
 * The queue's own overhead, without stdio, the SDK or HTTP in the way: the
 * real `JobQueue` (real clock, timeout timers and all) running jobs whose
 * "model call" is one macrotask, as a socket read is; the baseline runs the
 * same functions in a plain `for … await` loop. Rounds alternate queue and
 * loop so the machine's drift hits both.
 */
async function measureQueueInProcess(plan: Plan): Promise<InProcessFigures> {
  const figures: InProcessFigures = { queueHandoffUs: [], loopHandoffUs: [], queueStartUs: [], directStartUs: [] };
  const now = (): number => performance.now() * 1000;
  const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const n = plan.inProcessJobs;
  const starts = new Float64Array(n);
  const ends = new Float64Array(n);
  const work = async (k: number): Promise<number> => {
    starts[k] = now();
    await macrotask();
    ends[k] = now();
    return k;
  };
  const handoffs = (): number[] => Array.from({ length: n - 1 }, (_, k) => (starts[k + 1] as number) - (ends[k] as number));
  const queueRound = async (): Promise<number[]> => {
    const queue = new JobQueue({ concurrency: 1, maxQueued: n + 1 });
    const jobs = Array.from({ length: n }, (_, k) => queue.submit({ title: 'bench', priority: 'interactive', run: () => work(k) }));
    await Promise.all(jobs.map((job) => job.result));
    return handoffs();
  };
  const loopRound = async (): Promise<number[]> => {
    for (let k = 0; k < n; k++) await work(k);
    return handoffs();
  };
  const startSamples = Math.min(n, 500);
  const queueStarts = async (): Promise<number[]> => {
    const queue = new JobQueue({ concurrency: 4 });
    const out: number[] = [];
    for (let k = 0; k < startSamples; k++) {
      let startedAt = 0;
      const submittedAt = now();
      await queue.submit({
        title: 'bench',
        priority: 'interactive',
        run: async () => {
          startedAt = now();
          await macrotask();
        },
      }).result;
      out.push(startedAt - submittedAt);
    }
    return out;
  };
  const directStarts = async (): Promise<number[]> => {
    const out: number[] = [];
    for (let k = 0; k < startSamples; k++) {
      let startedAt = 0;
      const calledAt = now();
      await (async () => {
        startedAt = now();
        await macrotask();
      })();
      out.push(startedAt - calledAt);
    }
    return out;
  };
  // Warm-up: the first rounds compile the queue's and p-queue's code paths.
  await queueRound();
  await loopRound();
  await queueStarts();
  await directStarts();
  for (let round = 0; round < plan.inProcessRounds; round++) {
    const queueFirst = round % 2 === 0;
    if (queueFirst) figures.queueHandoffUs.push(...(await queueRound()));
    figures.loopHandoffUs.push(...(await loopRound()));
    if (!queueFirst) figures.queueHandoffUs.push(...(await queueRound()));
    figures.queueStartUs.push(...(await queueStarts()));
    figures.directStartUs.push(...(await directStarts()));
  }
  return figures;
}

interface InProcessPriority {
  concurrency: number;
  /** Interactive submit → start on the idle queue (µs). */
  idleUs: number[];
  /** The same with the background jobs running and queued (µs). */
  loadedUs: number[];
  background: { running: number; queued: number };
  preempted: number;
}

/**
 * The priority policy alone: the real `JobQueue` in this process with
 * `backgroundJobs` background jobs that never finish by themselves (a call
 * that only ends when aborted), then interactive jobs one at a time, submit →
 * start; the same on the idle queue first.
 */
async function measurePriorityInProcess(plan: Plan): Promise<InProcessPriority[]> {
  const now = (): number => performance.now() * 1000;
  const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const samples = plan.mode === 'quick' ? 100 : 300;
  const out: InProcessPriority[] = [];
  for (const concurrency of [1, burstConcurrency]) {
    const queue = new JobQueue({ concurrency });
    const ask = async (): Promise<number> => {
      let startedAt = 0;
      const submittedAt = now();
      await queue.submit({
        title: 'interactive',
        priority: 'interactive',
        run: async () => {
          startedAt = now();
          await macrotask();
        },
      }).result;
      return startedAt - submittedAt;
    };
    for (let k = 0; k < 50; k++) await ask();
    const idleUs: number[] = [];
    for (let k = 0; k < samples; k++) idleUs.push(await ask());
    for (let i = 0; i < plan.backgroundJobs; i++) {
      queue.submit({
        title: 'background',
        priority: 'background',
        run: ({ signal }) => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })),
      });
    }
    const slots = Math.max(1, concurrency - 1);
    const backgroundStarted = async (): Promise<void> => {
      // After each interactive job the queue restarts a background one; ask only once it has (as a person would, much later).
      for (let spins = 0; queue.snapshot().byPriority.background.running < slots && spins < 1000; spins++) await macrotask();
    };
    await backgroundStarted();
    const background = queue.snapshot().byPriority.background;
    const loadedUs: number[] = [];
    for (let k = 0; k < samples; k++) {
      await backgroundStarted();
      loadedUs.push(await ask());
    }
    const preempted = queue.snapshot().preempted;
    queue.cancelWhere(() => true);
    out.push({ concurrency, idleUs, loadedUs, background, preempted });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- burst

interface BurstArm {
  concurrency: number;
  makespanMs: number;
  /** Fake's receipt of each job's call, from the first send (ms), in job order. */
  startsMs: number[];
  /** Job indexes in the order the fake received their calls. */
  startOrder: number[];
}

interface OverheadFigures {
  efritStartMs: number[];
  bareStartMs: number[];
  efritGapMs: number[];
  bareGapMs: number[];
}

interface BurstResult {
  latencies: number[];
  arms: BurstArm[];
  overhead: OverheadFigures;
}

async function measureBurst(plan: Plan, context: ScenarioContext): Promise<BurstResult> {
  const latencies = drawLatencies(seed, plan.burstJobs, latencyRange, plan.scale);
  const arms: BurstArm[] = [];
  let overhead: OverheadFigures | undefined;
  for (const concurrency of [1, burstConcurrency]) {
    const rig = await ModelRig.start({ settings: { queue: { concurrency } } });
    try {
      await rig.warmUp();
      if (concurrency === 1) {
        context.progress(`overhead: ${plan.overheadRounds} rounds of efrit-lsp vs a bare SDK loop, latency ${overheadLatencyMs} ms`);
        overhead = await measureOverhead(rig, plan);
      }
      context.progress(`burst of ${plan.burstJobs} chats at concurrency ${concurrency} (Σ latency ${seconds(sum(latencies))})`);
      arms.push(await runBurst(rig, concurrency, latencies));
    } finally {
      await rig.stop();
    }
  }
  return { latencies, arms, overhead: overhead as OverheadFigures };
}

async function runBurst(rig: ModelRig, concurrency: number, latencies: readonly number[]): Promise<BurstArm> {
  const prefix = `burst-c${concurrency}`;
  const ids = latencies.map((_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
  ids.forEach((id, i) => rig.plan(id, { text: 'ok', latencyMs: latencies[i] as number }));
  const sends = ids.map((id) => rig.chat(id));
  const outcomes = await Promise.all(sends.map((send) => send.done));
  const failure = outcomes.find((outcome) => !outcome.ok);
  if (failure !== undefined && !failure.ok) throw new Error(`${prefix}: a chat failed: ${describeError(failure.error)}`);
  const first = (sends[0] as (typeof sends)[number]).sentAt;
  const calls = rig.requestsTagged(`${prefix}-`);
  if (calls.length !== ids.length) throw new Error(`${prefix}: the fake received ${calls.length} calls for ${ids.length} jobs`);
  return {
    concurrency,
    makespanMs: Math.max(...outcomes.map((outcome) => outcome.doneAt)) - first,
    startsMs: ids.map((id) => (rig.receivedAt(id) as number) - first),
    startOrder: calls.map((call) => ids.indexOf(call.id)),
  };
}

/** Gaps between consecutive calls of one chain, minus the latency of the earlier one. */
function handoffGaps(calls: { request: RecordedRequest }[], latencyMs: number): number[] {
  const times = calls.map((call) => call.request.receivedAt).sort((a, b) => a - b);
  return times.slice(1).map((time, k) => time - (times[k] as number) - latencyMs);
}

async function measureOverhead(rig: ModelRig, plan: Plan): Promise<OverheadFigures> {
  const figures: OverheadFigures = { efritStartMs: [], bareStartMs: [], efritGapMs: [], bareGapMs: [] };
  let template: { id: string; request: RecordedRequest } | undefined;
  const planned = (id: string): string => {
    rig.plan(id, { text: 'ok', latencyMs: overheadLatencyMs });
    return id;
  };
  const efritSingles = async (round: number): Promise<void> => {
    for (let k = 0; k < plan.overheadSingles; k++) {
      const id = planned(`ovh-r${round}-es-${k}`);
      const send = rig.chat(id);
      const outcome = await send.done;
      if (!outcome.ok) throw new Error(`overhead chat failed: ${describeError(outcome.error)}`);
      figures.efritStartMs.push((rig.receivedAt(id) as number) - send.sentAt);
      template ??= rig.requestsTagged(id)[0];
    }
  };
  const bareSingles = async (round: number): Promise<void> => {
    const from = template as { id: string; request: RecordedRequest };
    for (let k = 0; k < plan.overheadSingles; k++) {
      const id = planned(`ovh-r${round}-bs-${k}`);
      const call = await bareSdkCall(rig.baseURL, retagBody(from.request, from.id, id));
      figures.bareStartMs.push((rig.receivedAt(id) as number) - call.calledAt);
    }
  };
  const efritChain = async (round: number): Promise<void> => {
    const prefix = `ovh-r${round}-ec-`;
    const sends = Array.from({ length: plan.overheadChain }, (_, k) => rig.chat(planned(`${prefix}${k}`)));
    for (const outcome of await Promise.all(sends.map((send) => send.done))) {
      if (!outcome.ok) throw new Error(`overhead chat failed: ${describeError(outcome.error)}`);
    }
    figures.efritGapMs.push(...handoffGaps(rig.requestsTagged(prefix), overheadLatencyMs));
  };
  const bareChain = async (round: number): Promise<void> => {
    const from = template as { id: string; request: RecordedRequest };
    const prefix = `ovh-r${round}-bc-`;
    for (let k = 0; k < plan.overheadChain; k++) await bareSdkCall(rig.baseURL, retagBody(from.request, from.id, planned(`${prefix}${k}`)));
    figures.bareGapMs.push(...handoffGaps(rig.requestsTagged(prefix), overheadLatencyMs));
  };
  // One unmeasured pass of each warms the bench's own SDK and HTTP pool as much as the server's.
  await efritSingles(-1);
  await bareSingles(-1);
  figures.efritStartMs.length = 0;
  figures.bareStartMs.length = 0;
  for (let round = 0; round < plan.overheadRounds; round++) {
    // Alternating which goes first, so a drift of the machine's load hits both alike.
    if (round % 2 === 0) {
      await efritSingles(round);
      await bareSingles(round);
      await efritChain(round);
      await bareChain(round);
    } else {
      await bareSingles(round);
      await efritSingles(round);
      await bareChain(round);
      await efritChain(round);
    }
  }
  return figures;
}

// ------------------------------------------------------------------------------------------- priority

interface PriorityArm {
  concurrency: number;
  idleMs: number[];
  loadedMs: number[];
  /** Background jobs running and queued just before each loaded sample was asked. */
  backgroundAtAsk: { running: number; queued: number }[];
  prefetchesMade: number;
  queueAfterLoad: StatusResult['queue'];
}

async function measurePriority(plan: Plan, context: ScenarioContext): Promise<PriorityArm[]> {
  const arms: PriorityArm[] = [];
  for (const concurrency of [1, burstConcurrency]) {
    context.progress(`priority: ${plan.backgroundJobs} prefetched background fixes, then interactive chats, at concurrency ${concurrency}`);
    arms.push(await priorityArm(concurrency, plan));
  }
  return arms;
}

async function priorityArm(concurrency: number, plan: Plan): Promise<PriorityArm> {
  const rig = await ModelRig.start({ settings: { queue: { concurrency }, prefetch: true, prefetchPerMinute: 600 } });
  try {
    await rig.warmUp();
    const doc = functionsDocument(plan.backgroundJobs);
    const uri = await rig.client.open('src/bench-priority.ts', doc.text);
    const interactiveLatency = Math.round(interactiveLatencyMs * plan.scale);
    let asked = 0;
    const ask = async (): Promise<number> => {
      const id = `pri-c${concurrency}-i-${asked++}`;
      rig.plan(id, { text: 'ok', latencyMs: interactiveLatency });
      const send = rig.chat(id);
      const outcome = await send.done;
      if (!outcome.ok) throw new Error(`interactive chat failed: ${describeError(outcome.error)}`);
      const wait = (rig.receivedAt(id) as number) - send.sentAt;
      await sleep(samplePauseMs);
      return wait;
    };
    const idleMs: number[] = [];
    const idleBefore = Math.ceil(plan.idleSamples / 2);
    for (let k = 0; k < idleBefore; k++) idleMs.push(await ask());

    // The load: one prefetched fix per diagnostic, each its own range.
    const latencies = drawLatencies(seed + concurrency, plan.backgroundJobs, latencyRange, plan.scale);
    const bgPrefix = `pri-c${concurrency}-bg-`;
    const lists = latencies.map((latency, i) => {
      const id = `${bgPrefix}${i}`;
      rig.plan(id, fixReply(i, latency));
      const diagnostic: Diagnostic = { range: doc.fixRange(i), message: `Cannot find name 'offset${i}'. ${tag(id)}`, severity: 1, source: 'ts' };
      return rig.request('textDocument/codeAction', { textDocument: { uri }, range: doc.fixRange(i), context: { diagnostics: [diagnostic] } });
    });
    await Promise.all(lists);
    const slots = Math.max(1, concurrency - 1);
    const loaded = await rig.waitForStatus(
      (status) => status.prefetch.made === plan.backgroundJobs && status.queue.byPriority.background.running === slots,
      'the background jobs to start',
    );
    const deadline = Date.now() + 5000;
    while (rig.requestsTagged(bgPrefix).length < slots && Date.now() < deadline) await sleep(5);

    const loadedMs: number[] = [];
    const backgroundAtAsk: { running: number; queued: number }[] = [];
    for (let k = 0; k < plan.loadedSamples; k++) {
      backgroundAtAsk.push((await rig.status()).queue.byPriority.background);
      loadedMs.push(await ask());
    }
    const queueAfterLoad = (await rig.status()).queue;

    await rig.request('efrit/cancel', {});
    await rig.waitForStatus((status) => status.queue.running === 0 && status.queue.queued === 0, 'the queue to empty after cancelling the load');
    for (let k = idleBefore; k < plan.idleSamples; k++) idleMs.push(await ask());
    return { concurrency, idleMs, loadedMs, backgroundAtAsk, prefetchesMade: loaded.prefetch.made, queueAfterLoad };
  } finally {
    await rig.stop();
  }
}

// -------------------------------------------------------------------------------------------- backoff

interface CallRecord {
  job: number;
  at: number;
  status: number | undefined;
}

interface BackoffArm {
  label: 'efrit' | 'naive' | 'sdk';
  /** How the table heads its column. */
  header: string;
  makespanMs: number;
  calls: CallRecord[];
  failed: number;
  failureReasons: string[];
  /** efrit-lsp's queue when the burst was over. */
  queueAfter?: StatusResult['queue'];
}

interface BackoffResult {
  latencies: number[];
  windowMs: number;
  retryAfterMs: number;
  arms: BackoffArm[];
}

/**
 * One rig (one fake, one limit) for all three clients, one after the other
 * with two empty windows between them: efrit-lsp's queue, then two bare SDK
 * clients sending every call at once, one without retries and one with the
 * SDK's own (each call retried by itself after the retry-after it was given:
 * no shared backoff). The bare clients replay efrit-lsp's request body.
 */
async function measureBackoff(plan: Plan, context: ScenarioContext): Promise<BackoffResult> {
  const latencies = drawLatencies(seed + 7, plan.backoffJobs, latencyRange, plan.scale);
  const windowMs = rateLimit.windowMs * plan.scale;
  const retryAfterSeconds = rateLimit.retryAfterSeconds * plan.scale;
  const arms: BackoffArm[] = [];
  const rig = await ModelRig.start({ settings: { queue: { concurrency: burstConcurrency, maxRetries: efritMaxRetries } } });
  try {
    await rig.warmUp();
    const accepted: number[] = [];
    rig.planner = (request, id, planned) => {
      if (id === undefined || planned === undefined) return planned ?? { text: 'ok', latencyMs: 0 };
      const now = request.receivedAt;
      while (accepted.length > 0 && (accepted[0] as number) <= now - windowMs) accepted.shift();
      if (accepted.length >= rateLimit.perWindow) return { fault: { kind: 'status', status: 429, retryAfterSeconds }, latencyMs: 0 };
      accepted.push(now);
      return planned;
    };
    const planBurst = (label: string): string[] =>
      latencies.map((latency, i) => {
        const id = `bo-${label}-${i}`;
        rig.plan(id, { text: 'ok', latencyMs: latency });
        return id;
      });
    const collect = (label: BackoffArm['label'], header: string, ids: string[], first: number, outcomes: { ok: boolean; error?: unknown; doneAt: number }[]): BackoffArm => {
      const failures = outcomes.flatMap((outcome) => (outcome.ok ? [] : [reasonOf(outcome.error) ?? errorName(outcome.error)]));
      return {
        label,
        header,
        makespanMs: Math.max(...outcomes.map((outcome) => outcome.doneAt)) - first,
        calls: rig.requestsTagged(`bo-${label}-`).map(({ id, request }) => ({ job: ids.indexOf(id), at: request.receivedAt - first, status: request.status })),
        failed: failures.length,
        failureReasons: [...new Set(failures)],
      };
    };

    context.progress(`backoff: ${plan.backoffJobs} chats against ${rateLimit.perWindow} calls per ${windowMs} ms: efrit-lsp (concurrency ${burstConcurrency}, ${efritMaxRetries} retries)`);
    const efritIds = planBurst('efrit');
    const sends = efritIds.map((id) => rig.chat(id));
    const efritOutcomes = await Promise.all(sends.map((send) => send.done));
    const efrit = collect('efrit', `efrit-lsp (c${burstConcurrency}, ${efritMaxRetries} retries)`, efritIds, (sends[0] as (typeof sends)[number]).sentAt, efritOutcomes);
    efrit.queueAfter = (await rig.status()).queue;
    arms.push(efrit);

    const template = rig.requestsTagged('bo-efrit-0')[0] as { id: string; request: RecordedRequest };
    for (const [label, sdkRetries, header] of [
      ['naive', 0, 'bare SDK, all at once, no retries'],
      ['sdk', 2, 'bare SDK, all at once, SDK retries (2)'],
    ] as const) {
      await sleep(2 * windowMs);
      context.progress(`backoff: the same burst from a ${header}`);
      const ids = planBurst(label);
      const first = clock();
      const outcomes = await Promise.all(
        ids.map((id) =>
          bareSdkCall(rig.baseURL, retagBody(template.request, template.id, id), sdkRetries).then(
            (call) => ({ ok: true, doneAt: call.doneAt }),
            (error: unknown) => ({ ok: false, error, doneAt: clock() }),
          ),
        ),
      );
      arms.push(collect(label, header, ids, first, outcomes));
    }
  } finally {
    await rig.stop();
  }
  return { latencies, windowMs, retryAfterMs: retryAfterSeconds * 1000, arms };
}

function errorName(error: unknown): string {
  if (error instanceof Error) return 'status' in error && typeof error.status === 'number' ? `${error.name} (${error.status})` : error.name;
  return describeError(error);
}

interface BackoffFigures {
  calls: number;
  refused: number;
  retries: number;
  /** Per job: calls after its first. */
  maxRetriesOfOneJob: number;
  /** Smallest time from a 429 to the same job's next call. */
  minRetryGapMs: number;
  /** Retries sent before the retry-after of the 429 before them had passed. */
  earlyRetries: number;
  /** Most calls of one job inside one retry-after window. */
  maxPerJobPerWindow: number;
  /** Most calls (all jobs) inside one rate window. */
  peakPerWindow: number;
}

function backoffFigures(arm: BackoffArm, windowMs: number, retryAfterMs: number): BackoffFigures {
  const byJob = new Map<number, CallRecord[]>();
  for (const call of arm.calls) byJob.set(call.job, [...(byJob.get(call.job) ?? []), call]);
  let minRetryGapMs = Number.POSITIVE_INFINITY;
  let earlyRetries = 0;
  let maxPerJobPerWindow = 0;
  let maxRetriesOfOneJob = 0;
  for (const calls of byJob.values()) {
    calls.sort((a, b) => a.at - b.at);
    maxRetriesOfOneJob = Math.max(maxRetriesOfOneJob, calls.length - 1);
    calls.forEach((call, i) => {
      const next = calls[i + 1];
      if (call.status === 429 && next !== undefined) {
        // The fake answers a 429 at once (latency 0), so its receipt is when the retry-after starts.
        const gap = next.at - call.at;
        minRetryGapMs = Math.min(minRetryGapMs, gap);
        if (gap < retryAfterMs) earlyRetries++;
      }
      maxPerJobPerWindow = Math.max(maxPerJobPerWindow, calls.filter((other) => other.at >= call.at && other.at < call.at + retryAfterMs).length);
    });
  }
  const times = arm.calls.map((call) => call.at).sort((a, b) => a - b);
  let peakPerWindow = 0;
  times.forEach((time, i) => {
    let n = 0;
    for (let j = i; j < times.length && (times[j] as number) < time + windowMs; j++) n++;
    peakPerWindow = Math.max(peakPerWindow, n);
  });
  const refused = arm.calls.filter((call) => call.status === 429).length;
  return {
    calls: arm.calls.length,
    refused,
    retries: arm.calls.length - byJob.size,
    maxRetriesOfOneJob,
    minRetryGapMs,
    earlyRetries,
    maxPerJobPerWindow,
    peakPerWindow,
  };
}

// --------------------------------------------------------------------------------------------- report

function report(plan: Plan, inProcess: InProcessFigures, priorityInProcess: InProcessPriority[], burst: BurstResult, priority: PriorityArm[], backoff: BackoffResult) {
  const goals: GoalCheck[] = [];
  const tables: Table[] = [];
  const quickNote =
    plan.mode === 'quick'
      ? [`QUICK MODE: latencies, rate window and retry-after ×${plan.scale}, fewer jobs and samples; the full run has the issue's figures.`]
      : [];
  const latencyText = `${latencyRange[0] * plan.scale}–${latencyRange[1] * plan.scale} ms`;

  // Burst.
  const work = sum(burst.latencies);
  const longest = Math.max(...burst.latencies);
  const bound = Math.max(work / burstConcurrency, longest);
  const fifo = listScheduleMakespan(burst.latencies, burstConcurrency);
  const one = burst.arms.find((arm) => arm.concurrency === 1) as BurstArm;
  const four = burst.arms.find((arm) => arm.concurrency === burstConcurrency) as BurstArm;
  const speedup = one.makespanMs / four.makespanMs;
  const idealSpeedup = work / bound;
  // FIFO within a priority is what the queue must do (issue #3), so the zero-overhead FIFO queue is the bar, not the clairvoyant ideal.
  const fifoSpeedup = work / fifo;
  const speedupGoal = goalSpeedupShare * fifoSpeedup;
  const speedupMet = speedup >= speedupGoal;
  goals.push({ name: `burst speed-up, concurrency ${burstConcurrency} vs 1`, goal: `≥ ${fixed(speedupGoal, 2)}×`, actual: `${fixed(speedup, 2)}×`, met: speedupMet });
  const criticalPerJob = (one.makespanMs - work) / burst.latencies.length;
  const fifoOrderKept = four.startOrder.every((job, i) => job === i);
  tables.push({
    title: `queue — burst of ${burst.latencies.length} independent chats written at once, fake latency ${latencyText} (seeded), concurrency 1 vs ${burstConcurrency}`,
    columns: [{ header: 'measure', align: 'left' }, { header: 'value' }, { header: 'goal', align: 'left' }, { header: 'met?', align: 'left' }],
    rows: [
      ['Σ latencies (the work)', seconds(work), '', ''],
      ['makespan, concurrency 1', seconds(one.makespanMs), '', ''],
      [`makespan, concurrency ${burstConcurrency}`, seconds(four.makespanMs), '', ''],
      [`best any ${burstConcurrency}-slot schedule can do: max(Σ/${burstConcurrency}, longest)`, seconds(bound), '', ''],
      [`zero-overhead FIFO queue, ${burstConcurrency} slots, arrival order`, seconds(fifo), '', ''],
      [`speed-up, makespan 1 / makespan ${burstConcurrency}`, `${fixed(speedup, 2)}×`, `≥ ${goalSpeedupShare} × FIFO ${fixed(fifoSpeedup, 2)}× = ${fixed(speedupGoal, 2)}×`, verdict(speedupMet)],
      ['speed-up a zero-overhead FIFO queue would get', `${fixed(fifoSpeedup, 2)}×`, '', ''],
      [`speed-up of the best ${burstConcurrency}-slot schedule (knowing every latency in advance)`, `${fixed(idealSpeedup, 2)}×`, '', ''],
      [`concurrency ${burstConcurrency} vs that FIFO queue`, `${four.makespanMs >= fifo ? '+' : ''}${ms(four.makespanMs - fifo)}`, '', ''],
      ['per job on the critical path at concurrency 1: (makespan − Σ) / n', ms(criticalPerJob, 2), '', ''],
    ],
    notes: [
      ...quickNote,
      `Ideal speed-up = Σ latencies / max(Σ/${burstConcurrency}, longest latency), the lower bound on any ${burstConcurrency}-slot schedule's makespan (it is ${burstConcurrency}× when no single call dominates).`,
      'A queue cannot know how long a call will take, so it starts jobs in arrival order; the FIFO rows show what that order costs with zero overhead',
      `(a long call started last sets the makespan). Calls reached the fake in submission order at concurrency ${burstConcurrency}: ${fifoOrderKept ? 'yes' : 'NO'}.`,
      'Makespan: from writing the first request to the last answer, on the client.',
    ],
  });

  // Overhead.
  const sorted = (values: number[]): Float64Array => Float64Array.from(values).sort();
  const pct = (values: number[], p: number): number => percentile(sorted(values), p);
  const ip = inProcess;
  const queueOwnP50 = pct(ip.queueHandoffUs, 50) - pct(ip.loopHandoffUs, 50);
  const queueOwnP99 = pct(ip.queueHandoffUs, 99) - pct(ip.loopHandoffUs, 99);
  const queueOwnMet = queueOwnP99 < goalOverheadMs * 1000;
  goals.push({ name: "queue's own overhead per job (handoff, p99, queue − plain loop)", goal: `< ${goalOverheadMs} ms`, actual: `${fixed(queueOwnP99, 1)} µs`, met: queueOwnMet });
  const ov = burst.overhead;
  const efritGap = median(ov.efritGapMs);
  const bareGap = median(ov.bareGapMs);
  const endToEndMs = efritGap - bareGap;
  const efritStart = median(ov.efritStartMs);
  const bareStart = median(ov.bareStartMs);
  const us = (value: number): string => `${fixed(value, 1)} µs`;
  const diffUs = (value: number): string => `${value >= 0 ? '+' : ''}${fixed(value, 1)} µs`;
  const diffMs = (value: number): string => `${value >= 0 ? '+' : ''}${ms(value, 2)}`;
  tables.push({
    title: 'queue — overhead per job: the queue alone (in process) and efrit-lsp end to end (stdio + fake API) against baselines run alternately',
    columns: [
      { header: 'measure', align: 'left' },
      { header: 'with queue' },
      { header: 'baseline' },
      { header: 'difference' },
      { header: 'goal', align: 'left' },
      { header: 'met?', align: 'left' },
    ],
    rows: [
      [`queue alone: handoff at concurrency 1, p50 (n=${ip.queueHandoffUs.length})`, us(pct(ip.queueHandoffUs, 50)), us(pct(ip.loopHandoffUs, 50)), diffUs(queueOwnP50), '', ''],
      ['queue alone: handoff at concurrency 1, p99', us(pct(ip.queueHandoffUs, 99)), us(pct(ip.loopHandoffUs, 99)), diffUs(queueOwnP99), `< ${goalOverheadMs} ms`, verdict(queueOwnMet)],
      [`queue alone: submit → start on an idle queue, p50 (n=${ip.queueStartUs.length})`, us(pct(ip.queueStartUs, 50)), us(pct(ip.directStartUs, 50)), diffUs(pct(ip.queueStartUs, 50) - pct(ip.directStartUs, 50)), '', ''],
      ['queue alone: submit → start on an idle queue, p99', us(pct(ip.queueStartUs, 99)), us(pct(ip.directStartUs, 99)), diffUs(pct(ip.queueStartUs, 99) - pct(ip.directStartUs, 99)), '', ''],
      [`end to end: handoff gap, median (n=${ov.efritGapMs.length}/${ov.bareGapMs.length})`, ms(efritGap, 2), ms(bareGap, 2), diffMs(endToEndMs), '', ''],
      ['end to end: handoff gap, p90', ms(pct(ov.efritGapMs, 90), 2), ms(pct(ov.bareGapMs, 90), 2), diffMs(pct(ov.efritGapMs, 90) - pct(ov.bareGapMs, 90)), '', ''],
      [`end to end: start of an un-waited job, median (n=${ov.efritStartMs.length}/${ov.bareStartMs.length})`, ms(efritStart, 2), ms(bareStart, 2), diffMs(efritStart - bareStart), '', ''],
    ],
    notes: [
      ...quickNote,
      `Queue alone: the real JobQueue (real clock and timeout timers) in this process, ${plan.inProcessRounds} rounds of ${plan.inProcessJobs} jobs whose "call" is one macrotask (as a`,
      'socket read is). Handoff = start of job k+1\'s run − end of job k\'s, all jobs queued at concurrency 1; baseline: the same functions awaited in a plain',
      'loop. Submit → start: queue.submit() to the run starting on an idle queue; baseline: calling the function. This is the goal: what the queue adds.',
      `End to end: the server over stdio at concurrency 1, fake latency ${overheadLatencyMs} ms, ${plan.overheadRounds} rounds alternating with a bare SDK loop that replays the`,
      'server\'s own request bodies (a new SDK client per call, as the server makes one). Handoff gap = fake receipt of call k+1 − receipt of call k − latency:',
      'the fake rendering the answer, parsing the stream, finishing job k, starting job k+1, building and sending its call. The difference is everything',
      'efrit-lsp does per job besides the SDK (stream watchdog, efrit/stream and $/progress notifications, the JSON-RPC answer, the queue): an upper bound',
      'on the queue\'s share, shown, not judged. Start: client send → fake receipt vs SDK create() → fake receipt (efrit-lsp\'s includes the stdio hop).',
    ],
  });

  // Priority.
  const priorityRows: string[][] = [];
  const prioritySummary: Record<string, unknown> = {};
  for (const arm of priority) {
    const idle = median(arm.idleMs);
    const loaded = median(arm.loadedMs);
    const caused = loaded - idle;
    const met = caused < goalWaitMs;
    const policy = arm.concurrency === 1 ? 'preemption' : 'reserved slot';
    goals.push({ name: `interactive wait caused by ${plan.backgroundJobs} background jobs, concurrency ${arm.concurrency} (${policy})`, goal: `< ${goalWaitMs} ms`, actual: ms(caused, 2), met });
    const minQueued = Math.min(...arm.backgroundAtAsk.map((b) => b.queued));
    const running = arm.backgroundAtAsk.map((b) => b.running);
    priorityRows.push([
      `${arm.concurrency} (${policy})`,
      `${Math.min(...running)}–${Math.max(...running)} / ≥${minQueued}`,
      ms(idle, 2),
      ms(loaded, 2),
      ms(pct(arm.loadedMs, 90), 2),
      ms(Math.max(...arm.loadedMs), 2),
      ms(caused, 2),
      `< ${goalWaitMs} ms`,
      verdict(met),
      String(arm.queueAfterLoad.preempted),
    ]);
    prioritySummary[`c${arm.concurrency}`] = { idleMedianMs: idle, loadedMedianMs: loaded, loadedMaxMs: Math.max(...arm.loadedMs), causedMs: caused };
  }
  tables.push({
    title: `queue — priority under load: ${plan.backgroundJobs} prefetched background fixes (latency ${latencyText}), then one interactive chat at a time`,
    columns: [
      { header: 'concurrency', align: 'left' },
      { header: 'bg running / queued' },
      { header: 'start idle (med)' },
      { header: 'start loaded (med)' },
      { header: 'loaded p90' },
      { header: 'loaded max' },
      { header: 'caused by load' },
      { header: 'goal', align: 'left' },
      { header: 'met?', align: 'left' },
      { header: 'preempted' },
    ],
    rows: priorityRows,
    notes: [
      ...quickNote,
      'Start: the fake\'s receipt of the interactive call − the client\'s send time (one clock; includes stdio, parsing and the SDK call, hence the idle baseline).',
      `Idle: the same server with nothing queued, ${Math.ceil(plan.idleSamples / 2)} samples before the load and ${Math.floor(plan.idleSamples / 2)} after it was cancelled; loaded: ${plan.loadedSamples} samples.`,
      '"Caused by load" = loaded median − idle median: the wait in the queue. bg running / queued: background jobs when each chat was asked (efrit/status).',
      'The load is real prefetch: listing code actions for a range with a diagnostic (prefetch: true) starts a background fix, one per diagnostic.',
      `Interactive chats answer after ${Math.round(interactiveLatencyMs * plan.scale)} ms; only their start is measured. Preempted: background attempts aborted for them (policy at concurrency 1).`,
    ],
  });

  tables.push({
    title: `queue — the same policy without stdio: the real JobQueue in process, ${plan.backgroundJobs} background jobs, interactive submit → start`,
    columns: [
      { header: 'concurrency', align: 'left' },
      { header: 'bg running / queued' },
      { header: 'idle p50' },
      { header: 'idle p99' },
      { header: 'loaded p50' },
      { header: 'loaded p99' },
      { header: 'caused (p50)' },
      { header: 'preempted' },
    ],
    rows: priorityInProcess.map((arm) => [
      `${arm.concurrency} (${arm.concurrency === 1 ? 'preemption' : 'reserved slot'})`,
      `${arm.background.running} / ${arm.background.queued}`,
      `${fixed(pct(arm.idleUs, 50), 1)} µs`,
      `${fixed(pct(arm.idleUs, 99), 1)} µs`,
      `${fixed(pct(arm.loadedUs, 50), 1)} µs`,
      `${fixed(pct(arm.loadedUs, 99), 1)} µs`,
      `${fixed(pct(arm.loadedUs, 50) - pct(arm.idleUs, 50), 1)} µs`,
      String(arm.preempted),
    ]),
    notes: [
      `${priorityInProcess[0]?.loadedUs.length ?? 0} samples each. Background jobs here never finish by themselves (a call that ends only when aborted), so the load stays`,
      'the same throughout; at concurrency 1 every interactive job aborts the running background attempt, which is queued again. "Caused" = loaded − idle.',
    ],
  });

  // Backoff.
  const figures = backoff.arms.map((arm) => ({ arm, figures: backoffFigures(arm, backoff.windowMs, backoff.retryAfterMs) }));
  const efrit = figures.find((f) => f.arm.label === 'efrit') as (typeof figures)[number];
  const n = backoff.latencies.length;
  const limitBound = (Math.ceil(n / rateLimit.perWindow) - 1) * backoff.windowMs + Math.min(...backoff.latencies);
  const stormMet = efrit.figures.maxPerJobPerWindow <= 1;
  const honourMet = efrit.figures.earlyRetries === 0;
  const answeredMet = efrit.arm.failed === 0;
  goals.push({ name: 'backoff: calls of one job per retry-after window', goal: '≤ 1', actual: String(efrit.figures.maxPerJobPerWindow), met: stormMet });
  goals.push({ name: 'backoff: retries sent before retry-after passed', goal: '0', actual: String(efrit.figures.earlyRetries), met: honourMet });
  goals.push({ name: 'backoff: jobs answered despite the limit', goal: `${n}/${n}`, actual: `${n - efrit.arm.failed}/${n}`, met: answeredMet });
  const gapText = (value: number): string => (Number.isFinite(value) ? ms(value, 0) : 'n/a');
  const row = (label: string, pick: (f: (typeof figures)[number]) => string, goal = '', met = ''): string[] => [label, ...figures.map(pick), goal, met];
  const queueAfter = efrit.arm.queueAfter;
  tables.push({
    title: `queue — backoff: ${n} chats written at once, the fake allows ${rateLimit.perWindow} calls per ${backoff.windowMs} ms window, else 429 retry-after ${backoff.retryAfterMs / 1000} s`,
    columns: [
      { header: 'measure', align: 'left' },
      ...figures.map((f) => ({ header: f.arm.header })),
      { header: 'goal (efrit-lsp)', align: 'left' },
      { header: 'met?', align: 'left' },
    ],
    rows: [
      row('calls made', (f) => String(f.figures.calls)),
      row('of which 429', (f) => String(f.figures.refused)),
      row('retries (most of one job)', (f) => `${f.figures.retries} (${f.figures.maxRetriesOfOneJob})`),
      row('jobs answered', (f) => `${n - f.arm.failed}/${n}`, `${n}/${n}`, verdict(answeredMet)),
      row('calls of one job per retry-after window, most', (f) => String(f.figures.maxPerJobPerWindow), '≤ 1', verdict(stormMet)),
      row('retries before retry-after passed', (f) => String(f.figures.earlyRetries), '0', verdict(honourMet)),
      row("shortest 429 → same job's next call", (f) => gapText(f.figures.minRetryGapMs)),
      row(`most calls in one ${backoff.windowMs} ms window (limit ${rateLimit.perWindow})`, (f) => String(f.figures.peakPerWindow)),
      row('makespan', (f) => seconds(f.arm.makespanMs)),
    ],
    notes: [
      ...quickNote,
      `Every call is read back from the fake's log (receipt time, status, job tag). Accepted calls answer after ${latencyText} (seeded, the same in every column); 429s at once.`,
      `Under the limit no client can finish before (⌈${n}/${rateLimit.perWindow}⌉ − 1) × ${backoff.windowMs} ms + the shortest latency = ${seconds(limitBound)}.`,
      'Bare SDK columns: the same request body sent by the SDK from the bench, every call at once (what a client without a queue does); "SDK retries":',
      'the SDK\'s own, each call retried by itself after the retry-after it got, with no backoff shared between calls. One fake and one limit for all,',
      'the clients one after the other with two empty windows between.',
      ...(queueAfter === undefined
        ? []
        : [`efrit-lsp after the burst: concurrency ${queueAfter.concurrency} of ${queueAfter.configuredConcurrency} (AIMD), ${queueAfter.retries} retries counted by the queue.`]),
      ...figures.filter((f) => f.arm.failureReasons.length > 0).map((f) => `${f.arm.header} failures: ${f.arm.failureReasons.join(', ')}.`),
    ],
  });

  return {
    tables,
    summary: {
      mode: plan.mode,
      burst: {
        jobs: burst.latencies.length,
        workMs: work,
        makespanC1Ms: one.makespanMs,
        makespanC4Ms: four.makespanMs,
        speedup,
        idealSpeedup,
        fifoSpeedup,
      },
      queueOwnHandoffUs: { p50: queueOwnP50, p99: queueOwnP99 },
      endToEndHandoffExtraMs: endToEndMs,
      priority: prioritySummary,
      priorityInProcessUs: Object.fromEntries(priorityInProcess.map((arm) => [`c${arm.concurrency}`, { idleP50: pct(arm.idleUs, 50), loadedP50: pct(arm.loadedUs, 50), loadedP99: pct(arm.loadedUs, 99) }])),
      backoff: Object.fromEntries(figures.map((f) => [f.arm.label, { ...f.figures, failed: f.arm.failed, makespanMs: f.arm.makespanMs }])),
    },
    raw: {
      plan,
      seed,
      // Ten thousand samples are summarized (µs); the rest is every figure as measured.
      inProcess: {
        queueHandoffUs: summarize(ip.queueHandoffUs),
        loopHandoffUs: summarize(ip.loopHandoffUs),
        queueStartUs: summarize(ip.queueStartUs),
        directStartUs: summarize(ip.directStartUs),
      },
      priorityInProcess,
      burst,
      priority,
      backoff,
    },
    goals,
  };
}
