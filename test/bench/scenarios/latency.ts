/**
 * latency — how soon a person sees the model at work, in two measures read
 * on one clock (this process's `performance.now()`: the fake Messages API
 * runs in this process, and so does the client talking to the server):
 *
 * (a) first text: the fake is about to write a reply's first text delta →
 *     the client has that job's first `efrit/stream` text. Replies stream
 *     with 20 ms between events, so the server is idle when the delta comes,
 *     as it is with a real model. Goal: median < 1 ms. For scale: the same
 *     delta → a bare SDK child's line saying its iterator yielded it (the
 *     floor below), and the round trip of a request the server answers at
 *     once (`efrit/documentText`) on the same connection.
 * (b) request → API: the client sends `efrit/chat` → the fake has read the
 *     HTTP request, against the SDK's own floor: a bare Node child
 *     (`sdk-floor-child.ts`) told over its stdin to make the same streamed
 *     call with the same body (efrit-lsp's, as the fake recorded it). Both
 *     are child processes fed through a pipe; rounds alternate after warm-ups.
 *     Goal: efrit ≤ floor + 1 ms at the median.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChatResult, StreamParams } from '../../../server/src/protocol.js';
import type { FakeReply } from '../../support/fake-anthropic/server.js';
import { startHarness, testApiKey } from '../../support/harness.js';
import { clock, ms } from '../model-rig.js';
import { fixed, summarize, verdict, type Scenario, type ScenarioContext, type Summary } from '../scenario.js';

const floorEntry = fileURLToPath(new URL('../sdk-floor-child.js', import.meta.url));
const firstTextGoalMs = 1;
const requestGoalMs = 1;

const streamedReply: FakeReply = { text: ['Here is ', 'what the ', 'function does: ', 'it filters ', 'items by stock.'], chunkDelayMs: 20 };
const plainReply: FakeReply = { text: 'ok' };
const question = 'What does lowStock return?';

/** The bare SDK child: one call per line written to it, `text` and `done` lines back. */
class SdkFloor {
  private waiting: ((textAt: number | undefined) => void) | undefined;
  private textAt: number | undefined;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'text') this.textAt = clock();
      else if (line === 'done') this.waiting?.(this.textAt);
    });
  }

  /** One call: when the line asking for it was written, and when the child said the first text came out of the SDK. */
  async call(): Promise<{ sentAt: number; textAt: number | undefined }> {
    this.textAt = undefined;
    const done = new Promise<number | undefined>((resolve) => (this.waiting = resolve));
    const sentAt = clock();
    this.child.stdin.write('go\n');
    return { sentAt, textAt: await done };
  }
}

function row(what: string, summary: Summary, goal = '', met?: boolean): string[] {
  return [what, fixed(summary.p50, 2), fixed(summary.p90, 2), fixed(summary.min, 2), fixed(summary.max, 2), goal, met === undefined ? '' : verdict(met)];
}

export const latencyScenario: Scenario = {
  name: 'latency',
  description: "first streamed text after the API's first delta, and efrit/chat → HTTP request at the API against a bare SDK call",
  async run(context: ScenarioContext) {
    const rounds = context.quick ? 15 : 60;
    let reply = plainReply;
    /** Request index → when the fake was about to write its first text delta. */
    const firstDeltaAt = new Map<number, number>();
    const harness = await startHarness({
      fake: {
        now: clock,
        maxLoggedRequests: 10_000,
        respond: () => reply,
        onStreamEvent: (request, event) => {
          if (event.type === 'content_block_delta' && event.delta.type === 'text_delta' && !firstDeltaAt.has(request.index)) firstDeltaAt.set(request.index, clock());
        },
      },
    });
    const { client, fake } = harness;
    /** Job id → when its first text arrived. */
    const firstTextAt = new Map<string, number>();
    client.connection.onNotification('efrit/stream', (params: StreamParams) => {
      if (params.kind === 'text' && !firstTextAt.has(params.jobId)) firstTextAt.set(params.jobId, clock());
    });
    const scratch = mkdtempSync(join(tmpdir(), 'efrit-latency-'));
    let floor: SdkFloor | undefined;
    try {
      const uri = await client.open('src/inventory.ts', 'export const threshold = 3;\n');
      const chat = async (): Promise<{ sentAt: number; result: ChatResult }> => {
        const sentAt = clock();
        const result = await client.request<ChatResult>('efrit/chat', { message: question });
        return { sentAt, result };
      };
      const lastRequest = () => {
        const request = fake.requests.at(-1);
        if (request === undefined) throw new Error('the fake saw no request');
        return request;
      };

      // Warm both processes' paths; the floor replays the body efrit-lsp sent.
      for (let warm = 0; warm < 3; warm++) await chat();
      const bodyFile = join(scratch, 'body.json');
      writeFileSync(bodyFile, JSON.stringify(lastRequest().body));
      floor = new SdkFloor(spawn(process.execPath, [floorEntry, fake.url, testApiKey, bodyFile], { stdio: 'pipe' }));
      for (let warm = 0; warm < 3; warm++) await floor.call();

      // (a) first text, against the bare SDK seeing the same delta, and an immediate answer's round trip.
      reply = streamedReply;
      const firstText: number[] = [];
      const sdkFirstText: number[] = [];
      const roundTrip: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const { result } = await chat();
        const sent = firstDeltaAt.get(lastRequest().index);
        const seen = firstTextAt.get(result.jobId);
        if (sent === undefined || seen === undefined) throw new Error(`no first text measured for ${result.jobId}`);
        firstText.push(seen - sent);
        const { textAt } = await floor.call();
        const floorSent = firstDeltaAt.get(lastRequest().index);
        if (textAt === undefined || floorSent === undefined) throw new Error('the bare SDK child saw no text');
        sdkFirstText.push(textAt - floorSent);
        const asked = clock();
        await client.request('efrit/documentText', { textDocument: { uri } });
        roundTrip.push(clock() - asked);
        if (round % 10 === 9) context.progress(`first text: ${round + 1}/${rounds}`);
      }

      // (b) efrit/chat → HTTP request, against the bare SDK child making the same call.
      reply = plainReply;
      const viaEfrit: number[] = [];
      const viaSdk: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const { sentAt } = await chat();
        viaEfrit.push(lastRequest().receivedAt - sentAt);
        const { sentAt: askedAt } = await floor.call();
        viaSdk.push(lastRequest().receivedAt - askedAt);
        if (round % 10 === 9) context.progress(`request → API: ${round + 1}/${rounds}`);
      }

      const text = summarize(firstText);
      const sdkText = summarize(sdkFirstText);
      const trip = summarize(roundTrip);
      const efrit = summarize(viaEfrit);
      const sdk = summarize(viaSdk);
      const added = efrit.p50 - sdk.p50;
      const textMet = text.p50 < firstTextGoalMs;
      const requestMet = added <= requestGoalMs;
      const columns = [
        { header: 'what', align: 'left' as const },
        { header: 'median' },
        { header: 'p90' },
        { header: 'min' },
        { header: 'max' },
        { header: 'goal' },
        { header: 'met?', align: 'left' as const },
      ];
      return {
        tables: [
          {
            title: `latency — the API's first text delta → the client's first efrit/stream, ${rounds} chats (ms)`,
            columns,
            rows: [
              row('first text delta written by the API → first efrit/stream text at the client', text, `< ${firstTextGoalMs}`, textMet),
              row('for scale: the same delta → a bare SDK child writes a line on seeing it', sdkText),
              row('for scale: efrit/documentText round trip on the same connection', trip),
            ],
            notes: [
              'One clock: the fake API and the client both run in the benchmark process; the server is a child over stdio, as editors run it.',
              'Replies stream 20 ms apart, so the server is waiting when the first delta comes; later deltas may be coalesced (15 ms after a send).',
            ],
          },
          {
            title: `latency — request → HTTP request read by the API, ${rounds} alternating rounds (ms)`,
            columns,
            rows: [
              row('efrit/chat written to the server → its Messages request read by the API', efrit),
              row('floor: a line to a bare SDK child → the same request read by the API', sdk),
              ['efrit − floor, at the median', fixed(added, 2), '', '', '', `≤ ${requestGoalMs}`, verdict(requestMet)],
            ],
            notes: [
              'The floor is a Node process that made one SDK client at start and calls messages.create (stream: true) with the body efrit-lsp sent, on each line it reads.',
              'Both include a pipe hop and a JSON parse on the way in; efrit adds the chat handler, session, queue and request building.',
            ],
          },
        ],
        summary: { firstTextMedianMs: text.p50, sdkFirstTextMedianMs: sdkText.p50, roundTripMedianMs: trip.p50, requestMedianMs: efrit.p50, sdkFloorMedianMs: sdk.p50, addedMs: added },
        raw: { firstText, sdkFirstText, roundTrip, viaEfrit, viaSdk },
        goals: [
          { name: "first text: API delta → client's efrit/stream, median", goal: `< ${firstTextGoalMs} ms`, actual: ms(text.p50, 2), met: textMet },
          {
            name: 'request → API: efrit − bare SDK child, median',
            goal: `≤ ${requestGoalMs} ms`,
            actual: `${ms(added, 2)} (${fixed(efrit.p50, 2)} − ${fixed(sdk.p50, 2)})`,
            met: requestMet,
          },
        ],
      };
    } finally {
      floor?.child.kill();
      await harness.stop();
      rmSync(scratch, { recursive: true, force: true });
    }
  },
};
