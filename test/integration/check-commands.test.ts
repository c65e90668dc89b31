/**
 * efrit/do running the project's own checks (`agent.commands`) on its
 * proposal: the real server, the real SDK talking to the fake API scripted to
 * call run_check, the fixture project's own check script, real namespaces.
 */
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DoResult } from '../../server/src/protocol.js';
import { startHarness, testApiKey, type Harness } from '../support/harness.js';
import { eglotCapabilities, repoRoot, vscodeCapabilities } from '../support/lsp-client.js';
import { treeHash } from '../support/tree-hash.js';

const fixture = join(repoRoot, 'test', 'fixtures', 'check-project');
const node = process.execPath;

let workspace: string;
let outside: string;
let cartJs: string;
beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'efrit-checks-'));
  outside = await mkdtemp(join(tmpdir(), 'efrit-checks-outside-'));
  await cp(fixture, workspace, { recursive: true });
  cartJs = await readFile(join(workspace, 'src', 'cart.js'), 'utf8');
});

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
  await rm(workspace, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

const alwaysAllow = (): string => 'Always for this workspace';
const runCheck = (command: string) => ({ name: 'run_check', input: { command } });
const propose = (summary: string, oldText: string, newText: string) => ({ name: 'propose_edits', input: { summary, edits: [{ old_text: oldText, new_text: newText }] } });
const noFix = propose('Make the total explicit.', 'sum + price, 1)', 'sum + Number(price), 1)');
const fix = propose('Start the total at 0, not 1.', 'sum + price, 1)', 'sum + price, 0)');

/** The tool results the server sent back in request `index`, by the tool they answer. */
function answersIn(index: number): Record<string, string> {
  const request = harness?.fake.requests[index];
  const last = request?.body.messages.at(-1);
  const blocks = Array.isArray(last?.content) ? last.content : [];
  const calls = (request?.body.messages.at(-2)?.content ?? []) as { type: string; id?: string; name?: string }[];
  const answers: Record<string, string> = {};
  for (const block of blocks) {
    if (block.type !== 'tool_result') continue;
    const call = Array.isArray(calls) ? calls.find((c) => c.id === block.tool_use_id) : undefined;
    answers[call?.name ?? block.tool_use_id] = typeof block.content === 'string' ? block.content : JSON.stringify(block.content);
  }
  return answers;
}

async function start(
  commands: Record<string, string[]>,
  options: { capabilities?: typeof vscodeCapabilities; onShowMessageRequest?: () => string | null; maxSteps?: number } = {},
): Promise<Harness> {
  harness = await startHarness({
    workspaceFolder: workspace,
    capabilities: options.capabilities ?? vscodeCapabilities,
    initializationOptions: { agent: { commands, ...(options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps }) } },
    onShowMessageRequest: options.onShowMessageRequest ?? alwaysAllow,
  });
  return harness;
}

describe('run_check: the project’s own checks on the proposed change', () => {
  it('is offered to the model only when agent.commands names some, with those names', async () => {
    const { client, fake } = await start({ test: [node, 'test/check-cart.js'] });
    fake.queueReplies({ text: 'Nothing to do.' });
    const uri = await client.open('src/cart.js', cartJs, 'javascript');
    await client.request<DoResult>('efrit/do', { instruction: 'look', textDocument: { uri } });
    const tools = fake.requests[0]?.body.tools as { name: string; input_schema: unknown }[];
    expect(tools.find((tool) => tool.name === 'run_check')?.input_schema).toMatchObject({ properties: { command: { enum: ['test'] } } });
    await harness?.stop();

    harness = await startHarness({ workspaceFolder: workspace });
    harness.fake.queueReplies({ text: 'Nothing to do.' });
    const again = await harness.client.open('src/cart.js', cartJs, 'javascript');
    await harness.client.request<DoResult>('efrit/do', { instruction: 'look', textDocument: { uri: again } });
    expect((harness.fake.requests[0]?.body.tools as { name: string }[]).map((tool) => tool.name)).not.toContain('run_check');
  });

  it('runs the check on the proposal: a proposal it fails is held back and the fixed one, which passes, is what reaches the editor', async () => {
    const { client, fake } = await start({ test: [node, 'test/check-cart.js'] });
    fake.queueReplies({ toolUses: [noFix, runCheck('test')] }, { toolUses: [fix, runCheck('test')] });
    const uri = await client.open('src/cart.js', cartJs, 'javascript');

    const result = await client.request<DoResult>('efrit/do', { instruction: 'cartTotal is off by one; fix it', textDocument: { uri } });

    // The first proposal went back to the model with the check's output, failures first.
    const first = answersIn(1);
    expect(first['run_check']).toMatch(/^Check "test" \(`.*test\/check-cart\.js`\) FAILED with exit code 1 after [\d.]+ s, on the workspace with your proposed change applied/);
    expect(first['run_check']).toContain('Lines that look like failures (4):\nFAIL cartTotal([1,2]) = 4, expected 3\nFAIL cartTotal([]) = 1, expected 0\n');
    expect(first['propose_edits']).toMatch(/^The change was held back, not handed to the user: test failed/);
    // Only the second, passing, proposal was applied.
    expect(result).toMatchObject({ applied: true, steps: 2 });
    expect(client.appliedEdits).toHaveLength(1);
    await client.waitFor(() => client.text(uri).includes('sum + price, 0)'), 'the fix in the editor');
    expect(result.summary).toBe('Start the total at 0, not 1.\n\nChecks of the proposed change:\n- test: passed');
    // The result lists both runs: the failure that was fixed, then the pass of the change handed over.
    expect(result.checks).toEqual([
      { kind: 'command', name: 'test', step: 1, on: 'proposal', outcome: 'failed', passed: false, latest: false, ofFinalChange: false, exitCode: 1, output: expect.stringContaining('FAIL cartTotal([1,2]) = 4, expected 3') },
      { kind: 'command', name: 'test', step: 2, on: 'proposal', outcome: 'passed', passed: true, latest: true, ofFinalChange: true, exitCode: 0, output: expect.any(String) },
    ]);
    // The user's file on disk was never touched by the checks.
    expect(await readFile(join(workspace, 'src', 'cart.js'), 'utf8')).toBe(cartJs);
    const notes = client.streams.filter((note) => note.jobId === result.jobId && note.kind === 'tool').map((note) => note.text);
    expect(notes).toContainEqual(expect.stringMatching(/^check test failed \(exit code 1, [\d.]+ s\)\nLines that look like failures \(4\):\nFAIL cartTotal\(\[1,2\]\) = 4, expected 3/));
    expect(notes).toContainEqual(expect.stringMatching(/^check test passed \([\d.]+ s\)$/));
  });

  it('checks each new version of the proposal with the same check, however many it takes', async () => {
    const { client, fake } = await start({ test: [node, 'test/check-cart.js'] });
    const otherNoFix = propose('Round the total.', 'sum + price, 1)', 'Math.round(sum + price), 1)');
    fake.queueReplies({ toolUses: [noFix, runCheck('test')] }, { toolUses: [otherNoFix, runCheck('test')] }, { toolUses: [fix, runCheck('test')] });
    const uri = await client.open('src/cart.js', cartJs, 'javascript');
    const result = await client.request<DoResult>('efrit/do', { instruction: 'cartTotal is off by one; fix it', textDocument: { uri } });
    expect(result).toMatchObject({ applied: true, steps: 3, summary: 'Start the total at 0, not 1.\n\nChecks of the proposed change:\n- test: passed' });
    expect(answersIn(2)['run_check']).toContain('FAILED with exit code 1');
  });

  it('runs on the workspace as it is when no proposal comes with it', async () => {
    const { client, fake } = await start({ test: [node, 'test/check-cart.js'] });
    fake.queueReplies({ toolUses: [runCheck('test')] }, { toolUses: [fix] });
    const uri = await client.open('src/cart.js', cartJs, 'javascript');
    await client.request<DoResult>('efrit/do', { instruction: 'is cartTotal right?', textDocument: { uri } });
    expect(answersIn(1)['run_check']).toMatch(/FAILED with exit code 1 .* on the workspace as it is now \(no proposal in this turn\)/);
  });

  it('leaves the workspace byte-identical when the check deletes and rewrites files, and reports what still fails in the summary', async () => {
    const before = await treeHash(workspace);
    const { client, fake } = await start({ build: [node, 'test/clean-build.js'] });
    fake.queueReplies({ toolUses: [fix, runCheck('build')] }, { text: 'The build check fails whatever I change: it deletes the sources. I left the code as it was.' });
    const uri = await client.open('src/cart.js', cartJs, 'javascript');

    const result = await client.request<DoResult>('efrit/do', { instruction: 'fix cartTotal and check the build', textDocument: { uri } });

    // In the shadow the check did delete and rewrite what it meant to...
    expect(answersIn(1)['run_check']).toContain(`left in ${workspace}: dist, package.json, test`);
    // ...and none of it reached the user's files.
    expect(await treeHash(workspace)).toBe(before);
    expect(result).toMatchObject({ applied: false, edit: null });
    expect(result.summary).toBe(
      'The build check fails whatever I change: it deletes the sources. I left the code as it was.\n\nChecks:\n- build: FAILED (exit code 1) on a proposed change that was not handed over: FAIL the build found no sources to bundle',
    );
  });

  it('hands a proposal over unchanged when the model proposes it again without the check, and the summary says the check failed', async () => {
    const { client, fake } = await start({ test: [node, 'test/check-cart.js'] });
    fake.queueReplies({ toolUses: [noFix, runCheck('test')] }, { toolUses: [noFix] });
    const uri = await client.open('src/cart.js', cartJs, 'javascript');
    const result = await client.request<DoResult>('efrit/do', { instruction: 'make the sum explicit', textDocument: { uri } });
    expect(result).toMatchObject({ applied: true, steps: 2 });
    expect(result.summary).toBe(
      'Make the total explicit.\n\nChecks of the proposed change:\n- test: FAILED (exit code 1): FAIL cartTotal([1,2]) = 4, expected 3',
    );
  });

  it('at the last step, hands the proposal over whatever its check said, and the summary says what failed', async () => {
    const { client, fake } = await start({ test: [node, 'test/check-cart.js'] }, { maxSteps: 1 });
    fake.queueReplies({ toolUses: [noFix, runCheck('test')] });
    const uri = await client.open('src/cart.js', cartJs, 'javascript');
    const result = await client.request<DoResult>('efrit/do', { instruction: 'make the sum explicit', textDocument: { uri } });
    expect(result).toMatchObject({ applied: true, steps: 1 });
    expect(result.summary).toBe('Make the total explicit.\n\nChecks of the proposed change:\n- test: FAILED (exit code 1): FAIL cartTotal([1,2]) = 4, expected 3');
    // What still fails is in the result too, on the very change handed over.
    expect(result.checks).toEqual([
      {
        kind: 'command',
        name: 'test',
        step: 1,
        on: 'proposal',
        outcome: 'failed',
        passed: false,
        latest: true,
        ofFinalChange: true,
        exitCode: 1,
        output: expect.stringMatching(/^Lines that look like failures \(4\):\nFAIL cartTotal\(\[1,2\]\) = 4, expected 3\n/),
      },
    ]);
    expect(result.checks[0]?.output?.length).toBeLessThanOrEqual(1_500);
  });

  it('says so when the change handed over is not the one the check ran on', async () => {
    const { client, fake } = await start({ test: [node, 'test/check-cart.js'] });
    fake.queueReplies({ toolUses: [noFix, runCheck('test')] }, { toolUses: [fix] });
    const uri = await client.open('src/cart.js', cartJs, 'javascript');
    const result = await client.request<DoResult>('efrit/do', { instruction: 'fix cartTotal', textDocument: { uri } });
    expect(result.summary).toBe(
      'Start the total at 0, not 1.\n\nChecks of the proposed change:\n- test: FAILED (exit code 1) on an earlier version of the change (the final one was not checked): FAIL cartTotal([1,2]) = 4, expected 3',
    );
  });
});

describe('consent before a check runs', () => {
  /** A check whose only trace is a file it writes outside the workspace (the shadow covers only the workspace). */
  const marking = (): string[] => [node, '-e', `require('node:fs').appendFileSync(${JSON.stringify(join(outside, 'ran'))}, 'ran\\n')`];

  it('Deny: the command never starts, the model is told, and the change goes through without it', async () => {
    // An argv that carries the API key (a user's curl with a header, say): the question must not show it.
    const { client, fake } = await start({ test: [...marking(), testApiKey] }, { onShowMessageRequest: () => 'Deny' });
    fake.queueReplies({ toolUses: [fix, runCheck('test')] }, { toolUses: [fix] });
    const uri = await client.open('src/cart.js', cartJs, 'javascript');

    const result = await client.request<DoResult>('efrit/do', { instruction: 'fix cartTotal', textDocument: { uri } });

    expect(client.messageRequests).toHaveLength(1);
    expect(client.messageRequests[0]).toMatchObject({
      type: 2,
      message: expect.stringMatching(/^Efrit's agent wants to run the check "test": .* in .*efrit-checks-/),
      actions: [{ title: 'Allow once' }, { title: 'Always for this workspace' }, { title: 'Deny' }],
    });
    expect(client.messageRequests[0]?.message).not.toContain(testApiKey);
    expect(await readdir(outside)).toEqual([]);
    expect(answersIn(1)['run_check']).toBe('The check "test" was not run: the user denied it. Do not ask for it again in this task.');
    expect(result).toMatchObject({ applied: true });
    expect(result.summary).toBe('Start the total at 0, not 1.\n\nChecks of the proposed change:\n- test: not run (the user denied it)');
    expect(result.checks).toEqual([
      { kind: 'command', name: 'test', step: 1, on: 'proposal', outcome: 'notRun', passed: false, latest: true, ofFinalChange: true, reason: 'the user denied it' },
    ]);
  });

  it('Always for this workspace: the user is not asked again there', async () => {
    const { client, fake } = await start({ test: marking() });
    fake.queueReplies({ toolUses: [fix, runCheck('test')] }, { toolUses: [fix, runCheck('test')] });
    const uri = await client.open('src/cart.js', cartJs, 'javascript');
    await client.request<DoResult>('efrit/do', { instruction: 'fix cartTotal', textDocument: { uri } });
    const second = await client.open('src/cart-copy.js', cartJs, 'javascript');
    await client.request<DoResult>('efrit/do', { instruction: 'fix cartTotal', textDocument: { uri: second } });

    expect(client.messageRequests).toHaveLength(1);
    expect(await readFile(join(outside, 'ran'), 'utf8')).toBe('ran\nran\n');
  });

  it('without isolation (no unshare on the PATH): the command is not run, the user is not asked, and the result says why', async () => {
    const emptyPath = await mkdtemp(join(tmpdir(), 'efrit-no-tools-'));
    try {
      harness = await startHarness({
        workspaceFolder: workspace,
        env: { PATH: emptyPath },
        initializationOptions: { agent: { commands: { test: marking() } } },
        onShowMessageRequest: alwaysAllow,
      });
      const { client, fake } = harness;
      fake.queueReplies({ toolUses: [fix, runCheck('test')] }, { toolUses: [fix] });
      const uri = await client.open('src/cart.js', cartJs, 'javascript');

      const result = await client.request<DoResult>('efrit/do', { instruction: 'fix cartTotal', textDocument: { uri } });

      expect(client.messageRequests).toEqual([]);
      expect(await readdir(outside)).toEqual([]);
      expect(result).toMatchObject({ applied: true, steps: 2 });
      expect(result.summary).toMatch(/^Start the total at 0, not 1\.\n\nChecks of the proposed change:\n- test: not run \(it can only run isolated from the user's files, and an overlay in a private user namespace \(unshare\)/);
      expect(result.checks).toEqual([
        {
          kind: 'command',
          name: 'test',
          step: 1,
          on: 'proposal',
          outcome: 'notRun',
          passed: false,
          latest: true,
          ofFinalChange: true,
          reason: expect.stringMatching(/^it can only run isolated from the user's files, and an overlay in a private user namespace \(unshare\)/),
        },
      ]);
    } finally {
      await rm(emptyPath, { recursive: true, force: true });
    }
  });

  describe('"Always" across restarts, in the user\'s state file', () => {
    let state: string;
    beforeEach(async () => {
      state = await mkdtemp(join(tmpdir(), 'efrit-checks-state-'));
    });
    afterEach(async () => {
      await rm(state, { recursive: true, force: true });
    });

    /** One server's life: a do whose proposal runs the check `test` with `argv`, answering the question with `answer`. */
    async function oneServer(argv: string[], answer: string): Promise<{ asked: number; result: DoResult }> {
      harness = await startHarness({
        workspaceFolder: workspace,
        env: { EFRIT_STATE_DIR: state },
        initializationOptions: { agent: { commands: { test: argv } } },
        onShowMessageRequest: () => answer,
      });
      const { client, fake } = harness;
      fake.queueReplies({ toolUses: [fix, runCheck('test')] });
      const uri = await client.open('src/cart.js', cartJs, 'javascript');
      const result = await client.request<DoResult>('efrit/do', { instruction: 'fix cartTotal', textDocument: { uri } });
      const asked = client.messageRequests.length;
      await harness.stop();
      harness = undefined;
      return { asked, result };
    }

    it('Always, then a restart: not asked again; the file is the user\'s alone (0600); a changed argv is asked about again', async () => {
      expect((await oneServer(marking(), 'Always for this workspace')).asked).toBe(1);
      expect((await stat(join(state, 'check-consent.json'))).mode & 0o777).toBe(0o600);

      // Asked again, the user would deny: the check running shows it was not asked.
      const again = await oneServer(marking(), 'Deny');
      expect(again.asked).toBe(0);
      expect(again.result.checks).toMatchObject([{ name: 'test', outcome: 'passed' }]);
      expect(await readFile(join(outside, 'ran'), 'utf8')).toBe('ran\nran\n');

      const changed = await oneServer([...marking(), '--changed'], 'Deny');
      expect(changed.asked).toBe(1);
      expect(changed.result.checks).toMatchObject([{ name: 'test', outcome: 'notRun', reason: 'the user denied it' }]);
    });

    it('a corrupt state file: asked again, the server keeps working, and the new answer replaces the file', async () => {
      await writeFile(join(state, 'check-consent.json'), '{"version": 1, "entries": [', { mode: 0o600 });
      const first = await oneServer(marking(), 'Always for this workspace');
      expect(first.asked).toBe(1);
      expect(first.result.checks).toMatchObject([{ name: 'test', outcome: 'passed' }]);
      expect((await oneServer(marking(), 'Deny')).asked).toBe(0);
    });
  });

  it('a client without window/showMessageRequest: the command is not run and the model is told why', async () => {
    const { client, fake } = await start({ test: marking() }, { capabilities: eglotCapabilities });
    fake.queueReplies({ toolUses: [fix, runCheck('test')] }, { text: 'The check could not run here; the fix is ready.' });
    const uri = await client.open('src/cart.js', cartJs, 'javascript');
    const result = await client.request<DoResult>('efrit/do', { instruction: 'fix cartTotal', textDocument: { uri } });

    expect(client.messageRequests).toEqual([]);
    expect(await readdir(outside)).toEqual([]);
    const why = 'this editor cannot ask the user for consent (it does not support window/showMessageRequest), and checks never run without it';
    expect(result.summary).toBe(`The check could not run here; the fix is ready.\n\nChecks:\n- test: not run (${why})`);
    expect(result.checks).toEqual([{ kind: 'command', name: 'test', step: 1, on: 'proposal', outcome: 'notRun', passed: false, latest: true, ofFinalChange: false, reason: why }]);
    expect(answersIn(1)['run_check']).toBe(
      'The check "test" was not run: this editor cannot ask the user for consent (it does not support window/showMessageRequest), and checks never run without it. Do not ask for it again in this task.',
    );
  });
});
