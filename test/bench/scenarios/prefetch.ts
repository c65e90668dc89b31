/**
 * prefetch — what `prefetch: true` buys and costs, through the shipped server
 * over stdio as VS Code drives it (codeAction/resolve for edits), against the
 * fake Messages API with latencies of 1–3 s drawn from a seeded generator, the
 * same round for round in both arms (`model-rig.ts`).
 *
 * A round: the client lists code actions for a range with a diagnostic (with
 * prefetch on, that starts the fix in the background), the user pauses 2 s
 * reading the list, then either picks "Efrit: Fix" — codeAction/resolve,
 * timed from the pick to the action coming back with its edit, which the
 * client then applies — or moves on by typing elsewhere, which drops the
 * prefetch (wasted). Which rounds pick is a seeded half. The prefetch
 * counters are read from efrit/status; the fake's log says which wasted
 * calls had already completed (tokens spent) and which were aborted.
 *
 * With prefetch off nothing runs while the user reads, so that arm does not
 * wait out the pause: it would change none of its figures. `--quick`
 * multiplies latencies and the pause by 0.25 and plays fewer rounds.
 */
import type { CodeAction, Command, Diagnostic } from 'vscode-languageserver-protocol';
import type { StatusResult } from '../../../server/src/protocol.js';
import {
  clock,
  contentChangesOf,
  drawLatencies,
  fixReply,
  functionsDocument,
  isCodeAction,
  ModelRig,
  ms,
  seededShuffle,
  tag,
} from '../model-rig.js';
import { fixed, median, sleep, verdict, type GoalCheck, type Scenario, type ScenarioContext, type Table } from '../scenario.js';

const seed = 0x9f3c;
const latencyRange = [1000, 3000] as const;
const pauseMs = 2000;

interface Plan {
  mode: 'full' | 'quick';
  scale: number;
  rounds: number;
}

const fullPlan: Plan = { mode: 'full', scale: 1, rounds: 10 };
const quickPlan: Plan = { mode: 'quick', scale: 0.25, rounds: 4 };

interface Round {
  round: number;
  pick: boolean;
  latencyMs: number;
  /** Pick → resolve answered with the edit (ms); picking rounds only. */
  timeToEditMs?: number;
  /** What was left of the prefetched call when the user picked: max(0, fake receipt + latency − pick). */
  remainingAtPickMs?: number;
}

interface Arm {
  prefetch: boolean;
  rounds: Round[];
  status: StatusResult;
  /** Calls the fake received, per round. */
  callsPerRound: number[];
  /** Outcome of each call, by round: completed (tokens spent) or aborted-by-client. */
  outcomes: string[][];
}

export const prefetchScenario: Scenario = {
  name: 'prefetch',
  description: 'pick "Efrit: Fix" → edit, prefetch on vs off (latency 1-3 s, 2 s pause), and the share of prefetches wasted when half the lists are not picked',
  async run(context: ScenarioContext) {
    const plan = context.quick ? quickPlan : fullPlan;
    const latencies = drawLatencies(seed, plan.rounds, latencyRange, plan.scale);
    const picks = seededShuffle(seed, Array.from({ length: plan.rounds }, (_, i) => i < plan.rounds / 2));
    const arms: Arm[] = [];
    for (const prefetch of [false, true]) {
      context.progress(`${plan.rounds} rounds (${picks.filter(Boolean).length} picks), prefetch ${prefetch ? 'on' : 'off'}`);
      arms.push(await runArm(prefetch, plan, latencies, picks));
    }
    return report(plan, latencies, picks, arms);
  },
};

async function runArm(prefetch: boolean, plan: Plan, latencies: readonly number[], picks: readonly boolean[]): Promise<Arm> {
  const rig = await ModelRig.start({ settings: { prefetch, prefetchPerMinute: 600 } });
  try {
    await rig.warmUp();
    const doc = functionsDocument(plan.rounds);
    const uri = await rig.client.open('src/bench-prefetch.ts', doc.text);
    const pause = Math.round(pauseMs * plan.scale);
    const rounds: Round[] = [];
    let edits = 0;
    for (let r = 0; r < plan.rounds; r++) {
      const id = `pf-${r}`;
      const latencyMs = latencies[r] as number;
      const pick = picks[r] as boolean;
      rig.plan(id, fixReply(r, latencyMs));
      const range = doc.fixRange(r);
      const diagnostic: Diagnostic = { range, message: `Cannot find name 'offset${r}'. ${tag(id)}`, severity: 1, source: 'ts' };
      const listed = await rig.request<(CodeAction | Command)[]>('textDocument/codeAction', { textDocument: { uri }, range, context: { diagnostics: [diagnostic] } });
      const fix = listed.filter(isCodeAction).find((action) => action.title.startsWith('Efrit: Fix'));
      if (fix === undefined) throw new Error(`round ${r}: no "Efrit: Fix" among ${listed.map((a) => a.title).join(', ')}`);
      if (prefetch) await sleep(pause);
      if (pick) {
        const pickedAt = clock();
        const resolved = await rig.request<CodeAction>('codeAction/resolve', fix);
        const timeToEditMs = clock() - pickedAt;
        const changes = contentChangesOf(resolved);
        if (changes.length === 0) throw new Error(`round ${r}: resolve came back without an edit${resolved.command === undefined ? '' : ` (handed over to ${resolved.command.command})`}`);
        const receivedAt = rig.receivedAt(id);
        const remainingAtPickMs = receivedAt === undefined ? Number.NaN : Math.max(0, receivedAt + latencyMs - pickedAt);
        rounds.push({ round: r, pick, latencyMs, timeToEditMs, remainingAtPickMs });
        // As VS Code does: the resolved edit is applied, and comes back to the server as a didChange.
        await rig.client.sendChanges(uri, changes);
      } else {
        rounds.push({ round: r, pick, latencyMs });
        // Moving on: the user types elsewhere.
        await rig.client.edit(uri, `edited ${edits} times`, `edited ${edits + 1} times`);
        edits++;
      }
    }
    // The last edit must have reached the server (and dropped its prefetch) before the counters are read.
    await rig.waitForStatus((status) => status.queue.running === 0 && status.queue.queued === 0, 'the queue to empty');
    const status = await rig.status();
    const perRound = rounds.map((round) => rig.requestsTagged(`pf-${round.round}`).filter(({ id }) => id === `pf-${round.round}`));
    return {
      prefetch,
      rounds,
      status,
      callsPerRound: perRound.map((calls) => calls.length),
      outcomes: perRound.map((calls) => calls.map(({ request }) => request.outcome)),
    };
  } finally {
    await rig.stop();
  }
}

function report(plan: Plan, latencies: readonly number[], picks: readonly boolean[], arms: Arm[]) {
  const off = arms.find((arm) => !arm.prefetch) as Arm;
  const on = arms.find((arm) => arm.prefetch) as Arm;
  const picked = (arm: Arm): Round[] => arm.rounds.filter((round) => round.pick);
  const times = (arm: Arm): number[] => picked(arm).map((round) => round.timeToEditMs as number);
  const pickCount = picks.filter(Boolean).length;
  const offMedian = median(times(off));
  const onMedian = median(times(on));
  const onOverIdeal = picked(on).map((round) => (round.timeToEditMs as number) - (round.remainingAtPickMs as number));
  const offOverLatency = picked(off).map((round) => (round.timeToEditMs as number) - round.latencyMs);
  const wastedRounds = on.rounds.filter((round) => !round.pick);
  const wastedOutcomes = wastedRounds.flatMap((round) => on.outcomes[round.round] ?? []);
  const wastedCompleted = wastedOutcomes.filter((outcome) => outcome === 'completed').length;
  const wastedAborted = wastedOutcomes.filter((outcome) => outcome === 'aborted-by-client').length;
  const calls = (arm: Arm): number => arm.callsPerRound.reduce((a, b) => a + b, 0);
  const counters = on.status.prefetch;
  const wastedShare = counters.made === 0 ? Number.NaN : counters.wasted / counters.made;

  const goals: GoalCheck[] = [];
  const reuseMet = counters.used === pickCount && picked(on).every((round) => on.callsPerRound[round.round] === 1);
  goals.push({ name: 'prefetch: every picked fix reused its prefetch (one call per round)', goal: `${pickCount} used`, actual: `${counters.used} used`, met: reuseMet });
  const fasterMet = onMedian < offMedian;
  goals.push({ name: 'prefetch: pick → edit, median, on vs off', goal: `< ${ms(offMedian, 0)}`, actual: ms(onMedian, 0), met: fasterMet });

  const scaledPause = Math.round(pauseMs * plan.scale);
  const range = (values: number[]): string => (values.length === 0 ? 'n/a' : `${fixed(Math.min(...values), 0)}–${fixed(Math.max(...values), 0)} ms`);
  const table: Table = {
    title: `prefetch — pick "Efrit: Fix" → edit (codeAction/resolve, VS Code-like client), fake latency ${latencyRange[0] * plan.scale}–${latencyRange[1] * plan.scale} ms, ${plan.rounds} rounds, ${pickCount} picked`,
    columns: [{ header: 'measure', align: 'left' }, { header: 'prefetch off' }, { header: 'prefetch on' }, { header: 'goal (on)', align: 'left' }, { header: 'met?', align: 'left' }],
    rows: [
      ['pick → edit, median', ms(offMedian, 0), ms(onMedian, 0), `< off`, verdict(fasterMet)],
      ['pick → edit, range', range(times(off)), range(times(on)), '', ''],
      ['model latency of the picked rounds, median', ms(median(picked(off).map((round) => round.latencyMs)), 0), ms(median(picked(on).map((round) => round.latencyMs)), 0), '', ''],
      ['left of the call at the pick, median', 'all of it', ms(median(picked(on).map((round) => round.remainingAtPickMs as number)), 0), '', ''],
      ['pick → edit beyond the model\'s remaining time, median', ms(median(offOverLatency), 1), ms(median(onOverIdeal), 1), '', ''],
      ['model calls (rounds)', `${calls(off)} (${plan.rounds})`, `${calls(on)} (${plan.rounds})`, '', ''],
      ['prefetches made / used / wasted', 'n/a', `${counters.made} / ${counters.used} / ${counters.wasted}`, `${pickCount} used`, verdict(reuseMet)],
      ['share of prefetches wasted', 'n/a', `${fixed(wastedShare * 100, 0)} %`, '', ''],
      ['wasted calls: completed / aborted', 'n/a', `${wastedCompleted} / ${wastedAborted}`, '', ''],
    ],
    notes: [
      ...(plan.mode === 'quick' ? [`QUICK MODE: latencies and the pause ×${plan.scale}, ${plan.rounds} rounds; the full run has the issue's figures.`] : []),
      `Each round lists code actions for a new diagnostic; the user reads the list for ${scaledPause} ms (prefetch on; with it off nothing runs meanwhile, so that arm`,
      'does not wait), then picks "Efrit: Fix" (resolve, timed to the edit, then applied) or moves on by typing elsewhere. Which rounds pick: a seeded half.',
      'The same per-round latencies in both arms (seeded). Left of the call at the pick: max(0, fake receipt of the prefetch + its latency − pick).',
      'Beyond the remaining time: pick → edit minus what the model still had to do (off: its whole latency): the server\'s and the protocol\'s part.',
      'Counters from efrit/status prefetch {made, used, wasted}; completed wasted calls cost full tokens, aborted ones were dropped by the edit while running.',
      `prefetchPerMinute is 600 so the cap never decides; at the default (6) a user who reads lists faster than one per 10 s runs out of prefetches.`,
    ],
  };
  return {
    tables: [table],
    summary: {
      mode: plan.mode,
      pickToEditMedianMs: { off: offMedian, on: onMedian },
      overRemainingMedianMs: { off: median(offOverLatency), on: median(onOverIdeal) },
      prefetch: counters,
      wastedShare,
      calls: { off: calls(off), on: calls(on) },
    },
    raw: { plan, seed, latencies, picks, arms },
    goals,
  };
}
