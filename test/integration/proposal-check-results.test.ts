/**
 * The language-server check of efrit/do's proposals as the user controls and
 * sees it, around pylsp (Debian's python3-pylsp) behind a recorder that logs
 * what efrit-lsp sends it: `agent.checkProposals` off lets a proposal straight
 * through without a shadow document; the outcome of every check is in the
 * result's `checks`; and a model without tools (modelsWithoutTools), which
 * takes one step, has its proposal checked too, with a failure reported, not
 * skipped.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { PublishDiagnosticsParams } from 'vscode-languageserver-protocol';
import type { DoResult } from '../../server/src/protocol.js';
import { shouldRunEditorTests } from '../clients/editors.js';
import { startHarness, type Harness } from '../support/harness.js';
import { repoRoot } from '../support/lsp-client.js';

const pylspAvailable = shouldRunEditorTests('pylsp');
const recorder = join(repoRoot, 'test', 'fixtures', 'proxy', 'recording-server.mjs');
const typescriptCli = join(repoRoot, 'node_modules', 'typescript-language-server', 'lib', 'cli.mjs');
const tsserver = join(repoRoot, 'node_modules', 'typescript', 'lib', 'tsserver.js');

const greeterPy = `import sys


def greet(name):
    return "Hello, " + name
`;
const greeting = '    return "Hello, " + name';
const misspelt = '    return "Hello, " + nmae.upper()';
const shouting = '    return "Hello, " + name.upper()';
const propose = (newText: string) => ({ toolUses: [{ name: 'propose_edits', input: { summary: 'Shout the name.', edits: [{ old_text: greeting, new_text: newText }] } }] });

let harness: Harness | undefined;
/** The project, and beside it the log of what pylsp was sent. */
let scratch: string | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

/** efrit-lsp around pylsp, greeter.py open and checked once by pylsp; `sent()` is everything efrit-lsp wrote to pylsp so far. */
async function start(initializationOptions: object = {}) {
  scratch = await mkdtemp(join(tmpdir(), 'efrit-check-results-'));
  const workspace = join(scratch, 'project');
  await mkdir(workspace);
  await writeFile(join(workspace, 'greeter.py'), greeterPy);
  const log = join(scratch, 'sent-to-pylsp.log');
  await writeFile(log, '');
  harness = await startHarness({ serverArgs: ['--wrap', '--', process.execPath, recorder, log, 'pylsp'], workspaceFolder: workspace, initializationOptions });
  const published: PublishDiagnosticsParams[] = [];
  harness.client.connection.onNotification('textDocument/publishDiagnostics', (params: PublishDiagnosticsParams) => {
    published.push(params);
  });
  const greeter = await harness.client.open('greeter.py', greeterPy, 'python');
  await harness.client.waitFor(() => published.some((p) => p.uri === greeter && p.diagnostics.length > 0), "pyflakes' unused import warning", 30_000);
  const sent = async () => {
    const text = await readFile(log, 'utf8');
    return { text, didOpens: text.split('"method":"textDocument/didOpen"').length - 1 };
  };
  return { harness, greeter, sent };
}

describe.skipIf(!pylspAvailable)('agent.checkProposals', () => {
  it('off: a proposal with an undefined name reaches the editor on step 1, no shadow document is opened, and the language-server tools stay', async () => {
    const { harness, greeter, sent } = await start({ agent: { checkProposals: false } });
    harness.fake.queueReplies(propose(misspelt));

    const result = await harness.client.request<DoResult>('efrit/do', { instruction: 'shout the name', textDocument: { uri: greeter } });

    expect(result).toMatchObject({ applied: true, steps: 1, checks: [] });
    await harness.client.waitFor(() => harness.client.text(greeter).includes('nmae.upper()'), 'the unchecked change applied');
    const { text, didOpens } = await sent();
    expect(text).not.toContain('.efrit-check-');
    // Only the editor's own didOpen of greeter.py reached pylsp.
    expect(didOpens).toBe(1);
    const tools = (harness.fake.requests[0]?.body.tools as { name: string }[]).map((tool) => tool.name);
    expect(tools).toEqual(expect.arrayContaining(['definition', 'references', 'diagnostics']));
  }, 60_000);

  it('on (the default): the same proposal is checked at shadow documents, held back, and the result lists the failed check and the passing one', async () => {
    const { harness, greeter, sent } = await start();
    harness.fake.queueReplies(propose(misspelt), propose(shouting));

    const result = await harness.client.request<DoResult>('efrit/do', { instruction: 'shout the name', textDocument: { uri: greeter } });

    expect(result).toMatchObject({ applied: true, steps: 2, summary: 'Shout the name.' });
    expect((await sent()).text).toContain('greeter.efrit-check-');
    expect(result.checks).toEqual([
      {
        kind: 'languageServer',
        step: 1,
        on: 'proposal',
        outcome: 'failed',
        passed: false,
        latest: false,
        ofFinalChange: false,
        files: ['greeter.py'],
        newErrors: [{ path: 'greeter.py', line: 5, message: "undefined name 'nmae'", source: 'pyflakes' }],
        newErrorCount: 1,
        fixedErrors: 0,
      },
      { kind: 'languageServer', step: 2, on: 'proposal', outcome: 'passed', passed: true, latest: true, ofFinalChange: true, files: ['greeter.py'], newErrors: [], newErrorCount: 0, fixedErrors: 0 },
    ]);
  }, 60_000);
});

describe.skipIf(!pylspAvailable)('what still fails after the last check', () => {
  it('at the last step, a change the language server finds new errors in is handed over, and the summary and the result say what fails', async () => {
    const { harness, greeter } = await start({ agent: { maxSteps: 1 } });
    harness.fake.queueReplies(propose(misspelt));

    const result = await harness.client.request<DoResult>('efrit/do', { instruction: 'shout the name', textDocument: { uri: greeter } });

    expect(result).toMatchObject({ applied: true, steps: 1 });
    expect(result.summary).toBe("Shout the name.\n\nChecks of the proposed change:\n- language server: 1 new error: greeter.py:5: undefined name 'nmae'");
    expect(result.checks).toMatchObject([{ kind: 'languageServer', step: 1, outcome: 'failed', passed: false, latest: true, ofFinalChange: true, newErrorCount: 1 }]);
    const notes = harness.client.streams.filter((note) => note.jobId === result.jobId && note.kind === 'tool').map((note) => note.text);
    expect(notes).toContain('no step left to fix the new errors: the change goes to you with them (see the summary)');
    await harness.client.waitFor(() => harness.client.text(greeter).includes('nmae.upper()'), 'the change applied as it is');
  }, 60_000);
});

describe.skipIf(!pylspAvailable)('a model without tools (modelsWithoutTools)', () => {
  it('has its one-step proposal checked by the language server, and a new error is reported in the summary and the result, not skipped', async () => {
    const { harness, greeter, sent } = await start({ modelsWithoutTools: ['claude-sonnet-5-5'], agent: { commands: { test: ['true'] } } });
    harness.fake.queueReplies({ text: ['Summary: Shout the name.', '<<<<<<< SEARCH', greeting, '=======', misspelt, '>>>>>>> REPLACE', ''].join('\n') });

    const result = await harness.client.request<DoResult>('efrit/do', { instruction: 'shout the name', textDocument: { uri: greeter } });

    expect(result).toMatchObject({ applied: true, steps: 1 });
    expect(result.summary).toBe("Shout the name.\n\nChecks of the proposed change:\n- language server: 1 new error: greeter.py:5: undefined name 'nmae'");
    expect(result.checks).toEqual([
      {
        kind: 'languageServer',
        step: 1,
        on: 'proposal',
        outcome: 'failed',
        passed: false,
        latest: true,
        ofFinalChange: true,
        files: ['greeter.py'],
        newErrors: [{ path: 'greeter.py', line: 5, message: "undefined name 'nmae'", source: 'pyflakes' }],
        newErrorCount: 1,
        fixedErrors: 0,
      },
    ]);
    expect((await sent()).text).toContain('greeter.efrit-check-');
    const notes = harness.client.streams.filter((note) => note.jobId === result.jobId && note.kind === 'tool').map((note) => note.text);
    expect(notes).toContain('this model takes one step: the change goes to you with the new errors (see the summary)');
    // Offered no tools, it could not ask for the command check, and none ran.
    expect(harness.fake.requests[0]?.body.tools ?? []).toEqual([]);
    expect(harness.client.messageRequests).toEqual([]);
  }, 60_000);

  it('a clean one-step proposal goes through with its passing check in the result and nothing added to the summary', async () => {
    const { harness, greeter } = await start({ modelsWithoutTools: ['claude-sonnet-5-5'] });
    harness.fake.queueReplies({ text: ['Summary: Shout the name.', '<<<<<<< SEARCH', greeting, '=======', shouting, '>>>>>>> REPLACE', ''].join('\n') });

    const result = await harness.client.request<DoResult>('efrit/do', { instruction: 'shout the name', textDocument: { uri: greeter } });

    expect(result).toMatchObject({ applied: true, steps: 1, summary: 'Shout the name.' });
    expect(result.checks).toMatchObject([{ kind: 'languageServer', outcome: 'passed', latest: true, ofFinalChange: true }]);
  }, 60_000);
});

describe.skipIf(!existsSync(typescriptCli))('agent.checkProposals around typescript-language-server, whose shadows are kept warm during a job', () => {
  const cartTs = `export function cartTotal(prices: number[]): number {
  return prices.reduce((sum, price) => sum + price, 0);
}
`;
  const body = '  return prices.reduce((sum, price) => sum + price, 0);';
  const broken = '  const total: string = prices.reduce((sum, price) => sum + price, 0);\n  return total;';

  async function startTypescript(agent: object) {
    scratch = await mkdtemp(join(tmpdir(), 'efrit-check-results-ts-'));
    const workspace = join(scratch, 'project');
    await mkdir(workspace);
    await writeFile(join(workspace, 'cart.ts'), cartTs);
    const log = join(scratch, 'sent-to-tsls.log');
    await writeFile(log, '');
    harness = await startHarness({
      serverArgs: ['--wrap', '--', process.execPath, recorder, log, process.execPath, typescriptCli, '--stdio'],
      workspaceFolder: workspace,
      initializationOptions: { agent, tsserver: { path: tsserver } },
    });
    const cart = await harness.client.open('cart.ts', cartTs, 'typescript');
    return { harness, cart, sent: () => readFile(log, 'utf8') };
  }

  it('off: no shadow is opened, not even to warm the project up while the model writes, and the change goes straight on', async () => {
    const { harness, cart, sent } = await startTypescript({ checkProposals: false });
    harness.fake.queueReplies({ toolUses: [{ name: 'propose_edits', input: { summary: 'Type the total.', edits: [{ old_text: body, new_text: broken }] } }] });

    const result = await harness.client.request<DoResult>('efrit/do', { instruction: 'type the total', textDocument: { uri: cart } });

    expect(result).toMatchObject({ applied: true, steps: 1, checks: [] });
    await harness.client.waitFor(() => harness.client.text(cart).includes('const total: string'), 'the unchecked change applied');
    expect(await sent()).not.toContain('.efrit-check-');
  }, 90_000);

  it('on: the job opens a shadow of the document it works on, and the type error is held back', async () => {
    const { harness, cart, sent } = await startTypescript({ maxSteps: 1 });
    harness.fake.queueReplies({ toolUses: [{ name: 'propose_edits', input: { summary: 'Type the total.', edits: [{ old_text: body, new_text: broken }] } }] });

    const result = await harness.client.request<DoResult>('efrit/do', { instruction: 'type the total', textDocument: { uri: cart } });

    expect(await sent()).toContain('cart.efrit-check-');
    expect(result.checks).toEqual([expect.objectContaining({ kind: 'languageServer', outcome: 'failed', latest: true, files: ['cart.ts'] })]);
  }, 90_000);
});
