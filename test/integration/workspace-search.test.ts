/**
 * search_workspace under patterns that take exponential time as a
 * backtracking regex, through the real server: the model (the fake API) asks
 * for them in an efrit/do, and the server must go on answering everything
 * else while the search runs, end the search when the job is cancelled, stop
 * it by itself at its deadline with what it found, and never run more than
 * its cap of tool calls in one step.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CancelResult, DoResult, DocumentTextResult, StatusResult } from '../../server/src/protocol.js';
import { startHarness, type Harness } from '../support/harness.js';

/** LSP `ServerCancelled`: efrit/cancel ends the job, so the request waiting on it hears from the server. */
const serverCancelled = -32802;

const cartTs = `export function cartTotal(prices: number[]): number {
  return prices.reduce((sum, price) => sum + price, 0);
}
`;

let workspace: string;
let harness: Harness | undefined;

beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'efrit-search-ws-'));
  await mkdir(join(workspace, 'src'), { recursive: true });
  await mkdir(join(workspace, 'logs'), { recursive: true });
  await writeFile(join(workspace, 'src', 'cart.ts'), cartTs);
  // One line each regex below finds at once, then one on which each backtracks for ever.
  await writeFile(join(workspace, 'logs', 'build.log'), ['start: xxy', `${'a'.repeat(60)}!`, `${'x'.repeat(60)}`, ''].join('\n'));
});

afterEach(async () => {
  await harness?.stop();
  harness = undefined;
  await rm(workspace, { recursive: true, force: true });
});

interface SentBlock {
  type: string;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
}

/** The tool results the server sent to the model in its request number `request` (0-based). */
function toolResults(h: Harness, request: number): SentBlock[] {
  const messages = h.fake.requests[request]?.body.messages as { role: string; content: string | SentBlock[] }[] | undefined;
  const last = messages?.at(-1);
  return last === undefined || typeof last.content === 'string' ? [] : last.content.filter((block) => block.type === 'tool_result');
}

/** The server answers status, takes an edit and gives back the edited text: what an editor needs while the agent works. */
async function expectServerAnswers(h: Harness, uri: string, round: number): Promise<void> {
  const status = await h.client.request<StatusResult>('efrit/status', {});
  expect(status.queue.running).toBe(1);
  await h.client.edit(uri, round === 0 ? 'sum + price' : `sum + price /* ${round - 1} */`, `sum + price /* ${round} */`);
  const serverCopy = await h.client.request<DocumentTextResult>('efrit/documentText', { textDocument: { uri } });
  expect(serverCopy.text).toBe(h.client.text(uri));
}

describe('search_workspace with catastrophic patterns', () => {
  it('keeps the server answering while a backtracking regex runs, and efrit/cancel ends the job', async () => {
    harness = await startHarness({ workspaceFolder: workspace });
    const h = harness;
    const uri = await h.client.open('src/cart.ts', cartTs);
    const shapes = ['(a|a)+$', '((a+))+$', '(a*)*b', '(\\w+\\s?)+$', '(a|aa)+$', '^(([a-z])+.)+[A-Z]([a-z])+$', '(x+x+)+y'];

    for (const [index, query] of shapes.entries()) {
      const requestsBefore = h.fake.requests.length;
      h.fake.queueReplies({ toolUses: [{ name: 'search_workspace', input: { query, regex: true, glob: 'logs/*.log' } }] });
      let settled = false;
      const doing = h.client.request<DoResult>('efrit/do', { instruction: `find where the build log repeats (${index})`, textDocument: { uri } });
      void doing.then(
        () => (settled = true),
        () => (settled = true),
      );
      // The model's reply is in; the server has gone on to run its search.
      await h.client.waitFor(() => h.fake.requests[requestsBefore]?.outcome === 'completed', 'the model to ask for the search');

      for (let round = 0; round < 3; round++) await expectServerAnswers(h, uri, index * 3 + round);
      // All of that was answered while the search still ran: the job never went back to the model.
      expect(settled).toBe(false);
      expect(h.fake.requests).toHaveLength(requestsBefore + 1);

      const jobId = h.client.streams.filter((s) => s.kind === 'status').at(-1)?.jobId;
      expect(await h.client.request<CancelResult>('efrit/cancel', { jobId })).toEqual({ cancelled: 1 });
      await expect(doing, query).rejects.toMatchObject({ code: serverCancelled, data: { reason: 'cancelled' } });
      expect(h.fake.requests).toHaveLength(requestsBefore + 1);
    }
  });

  it('stops a search at its deadline and tells the model what it found and why it stopped', async () => {
    // A quarter of the job's timeout: the search stops after 2 s, and the job goes on.
    harness = await startHarness({ workspaceFolder: workspace, initializationOptions: { queue: { timeoutMs: 8_000 } } });
    const h = harness;
    h.fake.queueReplies({ toolUses: [{ name: 'search_workspace', input: { query: '(x+x+)+y', regex: true } }] }, { text: 'The regex was too slow; I will simplify it.' });
    const uri = await h.client.open('src/cart.ts', cartTs);

    const doing = h.client.request<DoResult>('efrit/do', { instruction: 'find the build steps', textDocument: { uri } });
    await h.client.waitFor(() => h.fake.requests[0]?.outcome === 'completed', 'the model to ask for the search');
    await expectServerAnswers(h, uri, 0);
    const result = await doing;

    expect(result).toMatchObject({ steps: 2, summary: 'The regex was too slow; I will simplify it.' });
    const [answer] = toolResults(h, 1);
    expect(answer?.is_error).toBeUndefined();
    const content = String(answer?.content);
    expect(content).toContain('logs/build.log:1: start: xxy');
    expect(content).toContain('before the search was stopped');
    expect(content).toContain('[The search was stopped after 2 s, its time limit, while searching logs/build.log; what it found until then is shown');
    expect(content).toContain('A regex with nested or overlapping repetition');
  });

  it('matches a glob that is exponential as a regex against long file names, and stays answering', async () => {
    for (let i = 0; i < 5; i++) await writeFile(join(workspace, 'logs', `${'a'.repeat(60 + i)}.txt`), 'nothing to see\n');
    await writeFile(join(workspace, 'logs', `${'a'.repeat(60)}b`), 'the one the glob wants\n');
    harness = await startHarness({ workspaceFolder: workspace });
    const h = harness;
    h.fake.queueReplies(
      {
        toolUses: [
          { name: 'search_workspace', input: { query: 'the one', glob: '*a*a*a*a*a*a*a*a*b' } },
          { name: 'search_workspace', input: { query: 'nothing', glob: 'logs/**/*a*a*a*a*a*a*a*a*a*a*a*a*.{txt,log}' } },
        ],
      },
      { text: 'Found it.' },
    );
    const uri = await h.client.open('src/cart.ts', cartTs);

    const doing = h.client.request<DoResult>('efrit/do', { instruction: 'which log mentions the one?', textDocument: { uri } });
    await h.client.waitFor(() => h.fake.requests[0]?.outcome === 'completed', 'the model to ask for the searches');
    const status = await h.client.request<StatusResult>('efrit/status', {});
    expect(status.documents.open).toBe(1);
    expect(await doing).toMatchObject({ steps: 2, summary: 'Found it.' });

    const [wanted, logs] = toolResults(h, 1).map((block) => String(block.content));
    expect(wanted).toContain(`logs/${'a'.repeat(60)}b:1: the one the glob wants`);
    expect(logs).toContain('5 matches for "nothing" in logs/**/*a*a*a*a*a*a*a*a*a*a*a*a*.{txt,log} in 5 files');
  });

  it('runs at most 16 of 400 tool calls in one step, answers all 400, and the job goes on', async () => {
    harness = await startHarness({ workspaceFolder: workspace });
    const h = harness;
    const calls = Array.from({ length: 400 }, (_, i) => ({ name: 'search_workspace', input: { query: `price${i}` } }));
    h.fake.queueReplies({ toolUses: calls }, { text: 'Nothing by those names.' });
    const uri = await h.client.open('src/cart.ts', cartTs);

    const result = await h.client.request<DoResult>('efrit/do', { instruction: 'look for every price variable', textDocument: { uri } });

    expect(result).toMatchObject({ steps: 2, summary: 'Nothing by those names.' });
    const answers = toolResults(h, 1);
    expect(answers).toHaveLength(400);
    expect(answers.filter((answer) => String(answer.content).startsWith('No matches for "price'))).toHaveLength(16);
    const notRun = answers.filter((answer) => String(answer.content).startsWith('Not run: this step asked for 400 tool calls'));
    expect(notRun).toHaveLength(384);
    expect(notRun.every((answer) => answer.is_error === true)).toBe(true);
    // The user hears of the step, not of each of its 400 calls: one "writing" note per tool, one note for the calls not run.
    const notes = h.client.streams.filter((s) => s.jobId === result.jobId && s.kind === 'tool').map((s) => s.text);
    expect(notes.filter((text) => text === 'writing search_workspace')).toHaveLength(1);
    expect(notes.filter((text) => text.includes('not run'))).toEqual(['384 more tool calls not run: at most 16 run per step']);
    expect(notes.length).toBeLessThan(20);
  });
});
