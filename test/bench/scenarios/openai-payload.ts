/**
 * openai-payload — the payload/caching benchmark (see payload.ts) on the
 * OpenAI-compatible path: the same seeded 20-turn efrit/chat session (8 with
 * `--quick`) on a 2,000-line file, `model` set to `openai:gpt-4.1`, the real
 * `openai` SDK talking to the fake Chat Completions API, which caches as
 * OpenAI documents it: automatically, no markers, a repeated prefix of at
 * least 1,024 tokens served from cache in 128-token steps
 * (test/support/fake-openai/prefix-cache.ts).
 *
 * Two arms, each its own server and fake: deltas on (what efrit-lsp does) and
 * deltas off (every turn resends the whole window). The baseline is the full
 * resend as it is billed without any cache: every prompt token of the off
 * arm at the input price. The on arm is billed as OpenAI bills it: uncached
 * prompt tokens at the input price, cached ones at gpt-4.1's cached-input
 * price, a quarter of it ($0.50 against $2.00 per million). The off arm with
 * OpenAI's automatic caching is shown too, so the share the deltas earn and
 * the share the cache earns read apart.
 */
import { existsSync } from 'node:fs';
import { Methods, type DocumentTextResult } from '../../../server/src/protocol.js';
import type { RecordedChatRequest } from '../../support/fake-openai/server.js';
import { startOpenAIHarness } from '../../support/openai-harness.js';
import { serverEntry } from '../../support/lsp-client.js';
import { fixed, type Scenario, type ScenarioContext, type Table } from '../scenario.js';
import { planSession, playSession, type Session } from './payload.js';

const goalBilledShare = 0.25;
/** gpt-4.1: cached input $0.50 per million against $2.00 uncached. */
const cachedPrice = 0.25;
const reply = 'Noted.';

interface TurnFigures {
  turn: number;
  rawBytes: number;
  promptTokens: number;
  cachedTokens: number;
  /** Uncached × 1 + cached × 0.25. */
  billed: number;
  /** What the server counted for the call (efrit/chat's usage): must split the same way. */
  serverInput: number;
  serverCacheRead: number;
}

interface Arm {
  name: 'on' | 'off';
  turns: TurnFigures[];
}

export const openaiPayloadScenario: Scenario = {
  name: 'openai-payload',
  description: 'the 20-turn payload session on an openai: model against a fake with OpenAI’s automatic prefix caching: billed input, deltas vs full resend',
  async run(context: ScenarioContext) {
    if (!existsSync(serverEntry)) throw new Error(`${serverEntry} is missing: build first (npm run build)`);
    const turns = context.quick ? 8 : 20;
    const session = planSession(turns);
    const arms: Arm[] = [];
    for (const [name, deltas] of [['on', true], ['off', false]] as const) {
      context.progress(`${turns} turns on openai:gpt-4.1, deltas ${deltas ? 'on' : 'off'}`);
      arms.push(await runArm(name, deltas, session));
    }
    const [on, off] = arms as [Arm, Arm];
    const sum = (arm: Arm, pick: (turn: TurnFigures) => number): number => arm.turns.reduce((total, turn) => total + pick(turn), 0);
    const fullResend = sum(off, (turn) => turn.promptTokens);
    const onBilled = sum(on, (turn) => turn.billed);
    const offBilled = sum(off, (turn) => turn.billed);
    const share = onBilled / fullResend;
    const table: Table = {
      title: `openai-payload: ${turns} turns, billed input tokens (cached at ${cachedPrice}×)`,
      columns: [{ header: 'turn' }, { header: 'on: bytes' }, { header: 'on: prompt' }, { header: 'on: cached' }, { header: 'on: billed' }, { header: 'off: bytes' }, { header: 'off: prompt' }, { header: 'off: cached' }],
      rows: on.turns.map((turn, index) => {
        const offTurn = off.turns[index] as TurnFigures;
        return [String(turn.turn), String(turn.rawBytes), String(turn.promptTokens), String(turn.cachedTokens), fixed(turn.billed, 0), String(offTurn.rawBytes), String(offTurn.promptTokens), String(offTurn.cachedTokens)];
      }),
      notes: [
        `full resend, uncached: ${fullResend} tokens; off arm as OpenAI bills it (automatic caching): ${fixed(offBilled, 0)} (${fixed((offBilled / fullResend) * 100)}%)`,
        `deltas on, as billed: ${fixed(onBilled, 0)} tokens = ${fixed(share * 100)}% of the full resend`,
        'tokens are the fake’s estimate (4 utf-8 bytes each); cached tokens come in 128-token steps from 1,024 on, as OpenAI documents',
      ],
    };
    return {
      tables: [table],
      summary: { turns, fullResendTokens: fullResend, onBilledTokens: onBilled, offBilledTokens: offBilled, billedShare: Math.round(share * 10_000) / 10_000 },
      raw: { on: on.turns, off: off.turns },
      goals: [{ name: `billed input over ${turns} turns vs full resend (openai)`, goal: `≤ ${goalBilledShare * 100}%`, actual: `${fixed(share * 100)}%`, met: share <= goalBilledShare }],
    };
  },
};

async function runArm(name: Arm['name'], deltas: boolean, session: Session): Promise<Arm> {
  const harness = await startOpenAIHarness({ settings: { logLevel: 'warn', deltas, promptCaching: deltas }, fake: { maxLoggedRequests: 10_000, respond: () => ({ text: reply }) } });
  try {
    const { client, fake } = harness;
    const uri = await client.open('src/bench-payload.ts', session.openText);
    const turns = await playSession(client, uri, session, reply, () => fake.requests.length, (planned, result): TurnFigures => {
      const request = fake.requests.at(-1) as RecordedChatRequest;
      const usage = request.usage;
      if (request.outcome !== 'completed' || usage === undefined) throw new Error(`turn ${planned.turn}: the request ended ${request.outcome} (${request.errorMessage ?? ''})`);
      const uncached = usage.prompt_tokens - usage.cached_tokens;
      if (result.usage.inputTokens !== uncached || result.usage.cacheReadTokens !== usage.cached_tokens) {
        throw new Error(`turn ${planned.turn}: the server counted ${result.usage.inputTokens} + ${result.usage.cacheReadTokens} cached, the fake billed ${uncached} + ${usage.cached_tokens}`);
      }
      return {
        turn: planned.turn,
        rawBytes: request.rawBytes,
        promptTokens: usage.prompt_tokens,
        cachedTokens: usage.cached_tokens,
        billed: Math.round((uncached + usage.cached_tokens * cachedPrice) * 100) / 100,
        serverInput: result.usage.inputTokens,
        serverCacheRead: result.usage.cacheReadTokens,
      };
    });
    const synced = await client.request<DocumentTextResult>(Methods.documentText, { textDocument: { uri } });
    if (synced.text !== session.finalText) throw new Error(`the ${name} arm's server text is not the planned final text`);
    return { name, turns };
  } finally {
    await harness.stop();
  }
}
