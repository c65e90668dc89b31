import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemPrompt } from '../../server/src/model/prompts.js';
import type { ChatResult, DoResult } from '../../server/src/protocol.js';
import { flattenPrompt } from '../support/fake-anthropic/cache-accounting.js';
import type { RecordedRequest } from '../support/fake-anthropic/server.js';
import { startHarness, type Harness } from '../support/harness.js';

/** A small project on disk with its own instructions for coding assistants. */
let workspace: string;

const agentsMd = `# Working on the shop

- Money is kept in integer cents; never use floats for prices.
- Every exported function has a unit test in test/.
`;
const cartTs = `import { formatMoney } from './util/money.js';

export function cartTotal(prices: number[]): string {
  return formatMoney(prices.reduce((sum, price) => sum + price, 0));
}
`;
const moneyTs = `export function formatMoney(cents: number): string {
  return (cents / 100).toFixed(2);
}
`;

beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'efrit-instructions-ws-'));
  await mkdir(join(workspace, 'src', 'util'), { recursive: true });
  await writeFile(join(workspace, 'src', 'cart.ts'), cartTs);
  await writeFile(join(workspace, 'src', 'util', 'money.ts'), moneyTs);
  await writeFile(join(workspace, 'AGENTS.md'), agentsMd);
  await writeFile(join(workspace, '.env'), 'STRIPE_KEY=sk_live_not_for_the_model\n');
});

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
  await rm(workspace, { recursive: true, force: true });
});

interface SentBlock {
  type: string;
  text?: string;
  cache_control?: unknown;
}
const systemOf = (request: RecordedRequest | undefined): SentBlock[] => (request?.body.system ?? []) as SentBlock[];
const lastUserBlocks = (request: RecordedRequest | undefined): SentBlock[] => {
  const messages = (request?.body.messages ?? []) as { role: string; content: string | SentBlock[] }[];
  const last = messages.at(-1);
  return last === undefined || typeof last.content === 'string' ? [] : last.content;
};
const breakpointsIn = (request: RecordedRequest | undefined): number => JSON.stringify(request?.body ?? {}).split('"cache_control"').length - 1;

describe('project instructions', () => {
  it('reach the model as a cached second system block, byte-identical on every call, after the unchanged fixed prompt', async () => {
    harness = await startHarness({ workspaceFolder: workspace });
    const { client, fake } = harness;
    fake.queueReplies(
      { text: 'Prices are cents.' },
      { text: 'Yes.' },
      { text: 'Let me look at the helper.', toolUses: [{ name: 'read_file', input: { path: 'src/util/money.ts' } }] },
      { text: 'It formats cents already; nothing to change.' },
    );
    const uri = await client.open('src/cart.ts', cartTs);

    const first = await client.request<ChatResult>('efrit/chat', { message: 'How are prices kept here?' });
    await client.request<ChatResult>('efrit/chat', { sessionId: first.sessionId, message: 'Always?' });
    await client.request<DoResult>('efrit/do', { instruction: 'check cartTotal formats money right', textDocument: { uri } });

    expect(fake.requests).toHaveLength(4);
    const instructions = systemOf(fake.requests[0])[1];
    expect(instructions?.text).toContain('--- AGENTS.md ---\n# Working on the shop\n\n- Money is kept in integer cents; never use floats for prices.');
    expect(instructions?.cache_control).toEqual({ type: 'ephemeral' });
    for (const request of fake.requests) {
      expect(systemOf(request)).toEqual([{ type: 'text', text: systemPrompt }, instructions]);
      expect(request.status).toBe(200);
      expect(breakpointsIn(request)).toBeLessThanOrEqual(4);
    }
    // The prefix the first call wrote (tools, prompt, instructions) is read from the cache by every later one, the do's new session too.
    const prefixTokens = flattenPrompt(fake.requests[0]?.body as unknown as Record<string, unknown>).blocks.find((block) => block.location === 'system.1')?.cumulativeTokens ?? 0;
    expect(prefixTokens).toBeGreaterThan(1024);
    expect(fake.requests[0]?.usage?.cache_creation_input_tokens).toBeGreaterThanOrEqual(prefixTokens);
    for (const request of fake.requests.slice(1)) expect(request.usage?.cache_read_input_tokens).toBeGreaterThanOrEqual(prefixTokens);
  });

  it('picks up a change to AGENTS.md on the next job', async () => {
    harness = await startHarness({ workspaceFolder: workspace });
    const { client, fake } = harness;
    fake.queueReplies({ text: 'Cents.' }, { text: 'Euros, rounded.' });

    const first = await client.request<ChatResult>('efrit/chat', { message: 'How are prices kept?' });
    await writeFile(join(workspace, 'AGENTS.md'), `${agentsMd}- Prices shown to people are rounded to whole euros.\n`);
    await client.request<ChatResult>('efrit/chat', { sessionId: first.sessionId, message: 'And shown?' });

    expect(systemOf(fake.requests[0])[1]?.text).not.toContain('whole euros');
    expect(systemOf(fake.requests[1])[1]?.text).toContain('- Prices shown to people are rounded to whole euros.');
  });

  it('are not sent with agent.projectInstructions off: the fixed prompt alone, marked for the cache as before', async () => {
    harness = await startHarness({ workspaceFolder: workspace, initializationOptions: { agent: { projectInstructions: false } } });
    const { client, fake } = harness;
    fake.queueReplies({ text: 'I do not know the conventions.' });

    await client.request<ChatResult>('efrit/chat', { message: 'How are prices kept?' });

    expect(systemOf(fake.requests[0])).toEqual([{ type: 'text', text: systemPrompt, cache_control: { type: 'ephemeral' } }]);
    expect(JSON.stringify(fake.requests[0]?.body)).not.toContain('integer cents');
  });
});

describe('@-mentions', () => {
  it("attach the mentioned file's text before the chat message, and a refused one says why", async () => {
    harness = await startHarness({ workspaceFolder: workspace });
    const { client, fake } = harness;
    fake.queueReplies({ text: 'It divides by 100.' });

    const chat = await client.request<ChatResult>('efrit/chat', { message: 'What does @src/util/money.ts:2 do with @.env?' });

    const blocks = lastUserBlocks(fake.requests[0]);
    expect(blocks.map((block) => block.type)).toEqual(['text', 'text']);
    expect(blocks[0]?.text).toContain('Attached by the user (@src/util/money.ts:2): src/util/money.ts - lines 1-4 of 4, from disk\n1| export function formatMoney(cents: number): string {');
    expect(blocks[0]?.text).toContain('@.env was not attached: .env looks like it holds secrets');
    expect(blocks[1]?.text).toBe('What does @src/util/money.ts:2 do with @.env?');
    expect(JSON.stringify(fake.requests[0]?.body)).not.toContain('sk_live_not_for_the_model');
    // The user sees what was attached and what was not, in the job's stream.
    const notes = client.streams.filter((s) => s.jobId === chat.jobId && s.kind === 'tool').map((s) => s.text);
    expect(notes).toContain('attached src/util/money.ts lines 1–4');
    expect(notes.find((note) => note.startsWith('@.env was not attached: .env looks like it holds secrets'))).toBeDefined();
  });

  it("attach the mentioned file to a do instruction, between the document and the instruction", async () => {
    harness = await startHarness({ workspaceFolder: workspace });
    const { client, fake } = harness;
    fake.queueReplies({ text: 'formatMoney takes cents, as cartTotal passes them.' });
    const uri = await client.open('src/cart.ts', cartTs);

    await client.request<DoResult>('efrit/do', { instruction: 'does cartTotal use @src/util/money.ts right?', textDocument: { uri } });

    const blocks = lastUserBlocks(fake.requests[0]);
    expect(blocks).toHaveLength(3);
    expect(blocks[0]?.text).toContain('export function cartTotal');
    expect(blocks[1]?.text).toContain('Attached by the user (@src/util/money.ts): src/util/money.ts');
    expect(blocks[1]?.text).toContain('2|   return (cents / 100).toFixed(2);');
    expect(blocks[2]?.text).toBe('Instruction: does cartTotal use @src/util/money.ts right?');
  });

  it('count as read for the exact-quote rule: the agent may change a mentioned file it never opened, within the lines shown', async () => {
    const longMoney = `${moneyTs}${Array.from({ length: 120 }, (_, i) => `export const rate${i + 1} = ${i + 1};`).join('\n')}\n`;
    await writeFile(join(workspace, 'src', 'util', 'money.ts'), longMoney);
    harness = await startHarness({ workspaceFolder: workspace });
    const { client, fake } = harness;
    const euro = { path: 'src/util/money.ts', old_text: '  return (cents / 100).toFixed(2);', new_text: '  return `€${(cents / 100).toFixed(2)}`;' };
    const lastRate = { path: 'src/util/money.ts', old_text: 'export const rate120 = 120;', new_text: 'export const rate120 = 121;' };
    fake.queueReplies(
      // Line 2 is in the window around line 3; line 123 is not.
      { toolUses: [{ name: 'propose_edits', input: { summary: 'Both.', edits: [euro, lastRate] } }] },
      { toolUses: [{ name: 'propose_edits', input: { summary: 'formatMoney shows the euro sign.', edits: [euro] } }] },
    );
    const uri = await client.open('src/cart.ts', cartTs);

    const result = await client.request<DoResult>('efrit/do', { instruction: 'show a euro sign in formatMoney, @src/util/money.ts:3', textDocument: { uri } });

    expect(result).toMatchObject({ applied: true, steps: 2, summary: 'formatMoney shows the euro sign.' });
    expect(await readFile(join(workspace, 'src', 'util', 'money.ts'), 'utf8')).toBe(longMoney.replace('  return (cents / 100).toFixed(2);', '  return `€${(cents / 100).toFixed(2)}`;'));
    // The first proposal quoted a line the mention did not show: refused back to the model, naming the file.
    const refusal = lastUserBlocks(fake.requests[1])[0] as SentBlock & { content?: unknown; is_error?: boolean };
    expect(refusal).toMatchObject({ type: 'tool_result', is_error: true });
    expect(JSON.stringify(refusal.content)).toContain('src/util/money.ts');
  });
});
