/**
 * large-document — a 50 MB document opened, edited in place 200 times and
 * closed: how long `efrit/status` takes while the edits arrive (each rebuilds
 * a 50 MB string), and how much of the memory the server gives back once the
 * document is closed. V8 returns the pages of large strings only after a major
 * collection, which its idle memory reducer runs by itself; the goal is that
 * this happens within 30 s of the close, judged against the server's own
 * resident memory before it opened the document.
 */
import type { DocumentTextResult, StatusResult } from '../../../server/src/protocol.js';
import { TestClient } from '../../support/lsp-client.js';
import { fixed, percentile, residentMB, type Scenario, type ScenarioContext } from '../scenario.js';

const settleLimitMs = 30_000;

export const largeDocumentScenario: Scenario = {
  name: 'large-document',
  description: 'a 50 MB document edited in place: status round trips meanwhile, and memory given back within 30 s of closing it',
  async run(context: ScenarioContext) {
    const lines = context.quick ? 100_000 : 500_000;
    const line = `${'abcdefghij'.repeat(9)}ZZZZZZZZZ\n`;
    const text = line.repeat(lines);
    const client = await TestClient.start();
    try {
      const pid = client.child.pid as number;
      await client.request<StatusResult>('efrit/status', {});
      const baseMB = residentMB(pid);
      let peakMB = baseMB;
      const sample = (): void => {
        peakMB = Math.max(peakMB, residentMB(pid));
      };

      const uri = await client.open('big/fifty-megabytes.txt', text, 'plaintext');
      await client.request<StatusResult>('efrit/status', {});
      sample();
      const statusMs: number[] = [];
      for (let k = 0; k < 200; k++) {
        const at = (k * 2_477) % lines;
        await client.change(uri, { start: { line: at, character: 10 }, end: { line: at, character: 15 } }, k % 10 === 0 ? `edit ${k}\nsplit` : `e${k}`);
        if (k % 20 === 19) {
          const started = performance.now();
          await client.request<StatusResult>('efrit/status', {});
          statusMs.push(performance.now() - started);
          sample();
        }
        if (k % 50 === 49) context.progress(`${k + 1}/200 edits`);
      }
      const copy = await client.request<DocumentTextResult>('efrit/documentText', { textDocument: { uri } });
      if (copy.text !== client.text(uri)) throw new Error("the server's copy differs from the client's after the edits");
      sample();

      await client.close(uri);
      await client.request<StatusResult>('efrit/status', {});
      const grewMB = peakMB - baseMB;
      const boundMB = baseMB + Math.max(96, grewMB * 0.2);
      const closedAt = performance.now();
      let afterMB = residentMB(pid);
      while (afterMB > boundMB && performance.now() - closedAt < settleLimitMs) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        afterMB = residentMB(pid);
      }
      const settledS = (performance.now() - closedAt) / 1000;
      const met = afterMB <= boundMB;
      const p99 = percentile([...statusMs].sort((a, b) => a - b), 99);
      return {
        tables: [
          {
            title: `large-document — ${fixed(text.length / 1e6, 0)} MB opened, 200 edits, closed`,
            columns: [{ header: 'measure', align: 'left' }, { header: 'value' }],
            rows: [
              ['RSS before opening (MB)', fixed(baseMB)],
              ['RSS peak (MB)', fixed(peakMB)],
              ['efrit/status while the edits arrive, p99 (ms)', fixed(p99)],
              [`RSS after closing (MB), bound ${fixed(boundMB)}`, fixed(afterMB)],
              ['seconds from the close until within the bound', met ? fixed(settledS) : `> ${settleLimitMs / 1000}`],
            ],
            notes: ['Each edit makes V8 build a new 50 MB string; the old ones are garbage until a major collection, which V8 runs by itself once the server is idle.'],
          },
        ],
        summary: { baseMB, peakMB, afterMB, boundMB, settledS, statusP99Ms: p99 },
        raw: { statusMs },
        goals: [
          {
            name: 'memory given back after closing a 50 MB document',
            goal: `≤ base + max(96 MB, 20% of growth) within ${settleLimitMs / 1000} s`,
            actual: `${fixed(afterMB)} MB after ${fixed(settledS)} s (base ${fixed(baseMB)}, bound ${fixed(boundMB)})`,
            met,
          },
        ],
      };
    } finally {
      await client.stop();
    }
  },
};
