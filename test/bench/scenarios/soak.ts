/**
 * soak — a long session of ordinary work against one server, with its
 * resident memory sampled: typing, code actions listed and run, chat turns,
 * sessions ended and sessions left to expire, documents opened and closed.
 * Everything in the server is bounded (queue, remembered results, sessions,
 * journals), so memory should level off after warm-up; this measures whether
 * it does. Growth is the median RSS of the last quarter of the samples over
 * the median of the second quarter (the first quarter is warm-up: module
 * loading, the SDK's first import, JIT).
 */
import type { CodeAction, Diagnostic } from 'vscode-languageserver-protocol';
import type { ChatResult, StatusResult } from '../../../server/src/protocol.js';
import { startFakeAnthropic } from '../../support/fake-anthropic/server.js';
import { editReply, testApiKey } from '../../support/harness.js';
import { rangeOf, TestClient } from '../../support/lsp-client.js';
import { fixed, median, residentMB, sleep, verdict, type GoalCheck, type Scenario, type ScenarioContext } from '../scenario.js';
import { generateSource } from '../source-text.js';

const growthGoal = 0.1;

export const soakScenario: Scenario = {
  name: 'soak',
  description: 'resident memory over a long run of edits, code actions, chats and expiring sessions: flat after warm-up?',
  async run(context: ScenarioContext) {
    // Quick mode only shows the shape: warm-up alone takes longer than it runs, so growth is judged in full mode.
    const durationMs = context.quick ? 4_000 : 180_000;
    const fake = await startFakeAnthropic({
      apiKey: testApiKey,
      respond: (request) => {
        const body = request.body as { tool_choice?: { type?: string } };
        if (body.tool_choice?.type === 'tool') return editReply([{ old_text: 'SOAK_MARKER_A', new_text: 'SOAK_MARKER_B' }], 'Renamed the marker.');
        return { text: 'A short answer about the selected code, as a model would give it.' };
      },
    });
    const client = await TestClient.start({
      env: { ANTHROPIC_API_KEY: testApiKey, ANTHROPIC_BASE_URL: fake.url },
      initializationOptions: { sessions: { ttlMs: 2_000 }, codeActions: { resolveBudgetMs: 5_000 } },
    });
    const pid = client.child.pid as number;
    const samples: { atMs: number; rssMB: number }[] = [];
    const started = Date.now();
    const counts = { edits: 0, listings: 0, fixes: 0, chats: 0, sessionsEnded: 0, documents: 0 };
    let lastSample = 0;
    const idleLooksMs = context.quick ? [3_000] : [3_000, 10_000, 30_000];
    const idle: { afterMs: number; rssMB: number; heapTotalMB: number; heapUsedMB: number }[] = [];
    try {
      const base = `${generateSource(40_000, { asciiOnly: true })}\n// SOAK_MARKER_A\n`;
      let round = 0;
      while (Date.now() - started < durationMs) {
        round += 1;
        const uri = await client.open(`src/soak-${round % 50}.ts`, base);
        counts.documents += 1;
        let sessionId: string | undefined;
        for (let turn = 0; turn < 5; turn++) {
          for (let key = 0; key < 20; key++) {
            await client.change(uri, { start: { line: 3 + turn, character: 0 }, end: { line: 3 + turn, character: 0 } }, 'x');
            counts.edits += 1;
          }
          const text = client.text(uri);
          const diagnostic: Diagnostic = { range: rangeOf(text, 'SOAK_MARKER_A'), severity: 2, message: `Marker ${round}.${turn} should be renamed.` };
          const actions = (await client.codeActions(uri, diagnostic.range, [diagnostic])) as CodeAction[];
          counts.listings += 1;
          if (turn === 0) {
            await client.request('codeAction/resolve', actions[0]);
            counts.fixes += 1;
          }
          const chat: ChatResult = await client.request('efrit/chat', {
            message: `Question ${turn}?`,
            textDocument: { uri },
            range: rangeOf(text, 'SOAK_MARKER_A'),
            ...(sessionId !== undefined ? { sessionId } : {}),
          });
          sessionId = chat.sessionId;
          counts.chats += 1;
        }
        // Half the sessions are ended, half left to expire.
        if (round % 2 === 0 && sessionId !== undefined) {
          await client.request('efrit/endSession', { sessionId });
          counts.sessionsEnded += 1;
        }
        await client.close(uri);
        if (Date.now() - lastSample > 1_000) {
          lastSample = Date.now();
          samples.push({ atMs: lastSample - started, rssMB: residentMB(pid) });
          context.progress(`soak: ${Math.round((lastSample - started) / 1000)} s, ${samples.at(-1)?.rssMB.toFixed(1)} MB`);
        }
      }
      // Then idle: sessions expire (ttl 2 s), and the server settles as it would when its user stops.
      const loadEndedAt = Date.now();
      for (const afterMs of idleLooksMs) {
        await sleep(afterMs - (Date.now() - loadEndedAt));
        const rssMB = residentMB(pid);
        const { memory } = await client.request<StatusResult>('efrit/status', {});
        idle.push({ afterMs, rssMB, heapTotalMB: memory.heapTotal / 2 ** 20, heapUsedMB: memory.heapUsed / 2 ** 20 });
      }
    } finally {
      await client.stop();
      await fake.close();
    }

    const quarter = Math.max(1, Math.floor(samples.length / 4));
    const warm = median(samples.slice(quarter, 2 * quarter).map((s) => s.rssMB));
    const late = median(samples.slice(-quarter).map((s) => s.rssMB));
    const growth = (late - warm) / warm;
    const goals: GoalCheck[] = context.quick
      ? []
      : [{ name: 'RSS growth after warm-up', goal: `< ${growthGoal * 100}%`, actual: `${fixed(growth * 100)}%`, met: growth < growthGoal }];
    return {
      tables: [
        {
          title: `soak — ${Math.round(durationMs / 1000)} s of edits, code actions, chats and sessions ending or expiring (sessions.ttlMs 2 s)`,
          columns: [{ header: 'measure', align: 'left' }, { header: 'value' }, { header: 'goal' }, { header: 'met?', align: 'left' }],
          rows: [
            ['work done', `${counts.edits} edits, ${counts.listings} listings, ${counts.fixes} fixes, ${counts.chats} chats`, '', ''],
            ['sessions ended / left to expire', `${counts.sessionsEnded} / ${counts.documents - counts.sessionsEnded}`, '', ''],
            // The fake logs only its latest requests; their indexes count them all.
            ['model calls (the fake saw)', String((fake.requests.at(-1)?.index ?? -1) + 1), '', ''],
            ['RSS first sample (MB)', fixed(samples[0]?.rssMB), '', ''],
            ['RSS after warm-up, median of 2nd quarter (MB)', fixed(warm), '', ''],
            ['RSS at the end, median of last quarter (MB)', fixed(late), '', ''],
            ['RSS growth after warm-up', `${fixed(growth * 100)}%`, `< ${growthGoal * 100}%`, verdict(growth < growthGoal)],
            ['RSS max (MB)', fixed(Math.max(...samples.map((s) => s.rssMB))), '', ''],
            ...idle.map((look) => [
              `RSS idle ${look.afterMs / 1000} s after the last request (MB); V8 heap committed / used`,
              `${fixed(look.rssMB)}; ${fixed(look.heapTotalMB)} / ${fixed(look.heapUsedMB)}`,
              '',
              '',
            ]),
          ],
          notes: [
            `${samples.length} samples of VmRSS, about one a second, under load; the first quarter is warm-up. Under this load (thousands of edits a second) V8 lets the heap grow; the idle rows show what the server keeps once its user stops.`,
            ...(context.quick ? ['Quick mode: too short to get past warm-up, so growth is shown but not judged; run the full mode for the goal.'] : []),
          ],
        },
      ],
      summary: { durationMs, counts, warmMB: warm, lateMB: late, growth, idleAfterMB: Object.fromEntries(idle.map((look) => [`${look.afterMs / 1000}s`, look.rssMB])) },
      raw: { samples, idle },
      goals,
    };
  },
};
