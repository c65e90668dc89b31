/**
 * efrit/do checks its proposal with the user's own language server before
 * the editor sees it, around real servers: typescript-language-server (a
 * devDependency) and pylsp (Debian's python3-pylsp). A proposal that brings
 * a new error is refused back to the model, which fixes it on its next step;
 * only the fixed change reaches the editor, and every publishDiagnostics the
 * editor saw while the check ran is the user's own, unchanged.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageParam, ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { Diagnostic, PublishDiagnosticsParams } from 'vscode-languageserver-protocol';
import type { DoResult } from '../../server/src/protocol.js';
import { shouldRunEditorTests } from '../clients/editors.js';
import { startHarness, type Harness } from '../support/harness.js';
import { repoRoot, vscodeCapabilities } from '../support/lsp-client.js';

const cli = join(repoRoot, 'node_modules', 'typescript-language-server', 'lib', 'cli.mjs');
const tsserver = join(repoRoot, 'node_modules', 'typescript', 'lib', 'tsserver.js');
const typescriptAvailable = existsSync(cli) && existsSync(tsserver);
const pylspAvailable = shouldRunEditorTests('pylsp');

/** The last tool results the model was sent in request `index` (0-based). */
function toolResults(harness: Harness, index: number): string[] {
  const messages = harness.fake.requests[index]?.body.messages as MessageParam[] | undefined;
  const last = messages?.at(-1);
  if (last === undefined || typeof last.content === 'string') return [];
  const results = last.content.filter((block) => block.type === 'tool_result') as ToolResultBlockParam[];
  return results.map((block) => (typeof block.content === 'string' ? block.content : JSON.stringify(block.content)));
}

interface Recorded {
  /** Every publishDiagnostics the editor got, in order. */
  published: PublishDiagnosticsParams[];
  /** How many had arrived when the change reached the editor. */
  atApplyEdit: number | undefined;
}

let harness: Harness | undefined;
let workspace: string | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
  if (workspace !== undefined) await rm(workspace, { recursive: true, force: true });
});

async function start(files: Record<string, string>, serverArgs: string[], extra: { initializationOptions?: unknown } = {}): Promise<{ harness: Harness; recorded: Recorded }> {
  workspace = await mkdtemp(join(tmpdir(), 'efrit-proposal-'));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(workspace, path, '..'), { recursive: true });
    await writeFile(join(workspace, path), text);
  }
  const recorded: Recorded = { published: [], atApplyEdit: undefined };
  harness = await startHarness({
    serverArgs,
    workspaceFolder: workspace,
    ...extra,
    capabilities: {
      ...vscodeCapabilities,
      workspace: { ...vscodeCapabilities.workspace, workspaceEdit: { documentChanges: true, resourceOperations: ['create', 'rename', 'delete'] } },
      textDocument: { ...vscodeCapabilities.textDocument, publishDiagnostics: { relatedInformation: true } },
    },
    onApplyEdit: () => {
      recorded.atApplyEdit ??= recorded.published.length;
      return undefined;
    },
  });
  harness.client.connection.onNotification('textDocument/publishDiagnostics', (params: PublishDiagnosticsParams) => {
    recorded.published.push(params);
  });
  return { harness, recorded };
}

/** The user's diagnostics for `uri` as the editor last had them before `index`. */
function lastBefore(recorded: Recorded, uri: string, index: number): Diagnostic[] | undefined {
  return recorded.published.slice(0, index).findLast((p) => p.uri === uri)?.diagnostics;
}

/** Every publish between the do's start and the change reaching the editor: none for a shadow, and the user's unchanged. */
function expectUndisturbed(recorded: Recorded, from: number, uri: string): void {
  const baseline = lastBefore(recorded, uri, from);
  expect(recorded.atApplyEdit).toBeDefined();
  const during = recorded.published.slice(from, recorded.atApplyEdit);
  for (const params of during) {
    expect(params.uri).not.toContain('.efrit-check-');
    expect(params.uri).toBe(uri);
    expect(params.diagnostics).toEqual(baseline);
  }
  // Nor after: shadows stay open in the server between checks, and their diagnostics still go nowhere.
  expect(recorded.published.filter((params) => params.uri.includes('.efrit-check-'))).toEqual([]);
}

const cartTs = `export function cartTotal(prices: number[]): number {
  return prices.reduce((sum, price) => sum + price, 0);
}
`;
const checkoutTs = `import { cartTotal } from './cart.js';

export function checkout(prices: number[]): string {
  return \`Total: \${cartTotal(prices)}\`;
}

export const unused: string = 'kept';
`;

/** efrit-lsp around typescript-language-server on a strict project of cart.ts and checkout.ts, checkout.ts open and checked once. */
async function startCheckoutProject() {
  const { harness, recorded } = await start(
    {
      'tsconfig.json': JSON.stringify({ compilerOptions: { strict: true, target: 'es2022', module: 'nodenext', noEmit: true }, include: ['src'] }),
      'src/cart.ts': cartTs,
      'src/checkout.ts': checkoutTs,
    },
    ['--wrap', '--', process.execPath, cli, '--stdio'],
    { initializationOptions: { tsserver: { path: tsserver } } },
  );
  const checkout = await harness.client.open('src/checkout.ts', checkoutTs);
  await harness.client.waitFor(() => recorded.published.some((p) => p.uri === checkout), 'tsserver checking the open document', 60_000);
  return { harness, recorded, checkout };
}

describe.skipIf(!typescriptAvailable)('checking a proposal with typescript-language-server', () => {
  it('refuses a change with a type error back to the model, and only the fixed change reaches the editor', async () => {
    const { harness, recorded, checkout } = await startCheckoutProject();
    const { client, fake } = harness;
    const broken = 'return cartTotal(prices);';
    const fixed = 'return `Total: ${cartTotal(prices).toFixed(2)}`;';
    fake.queueReplies(
      { toolUses: [{ name: 'propose_edits', input: { summary: 'Return the total.', edits: [{ old_text: 'return `Total: ${cartTotal(prices)}`;', new_text: broken }] } }] },
      { toolUses: [{ name: 'propose_edits', input: { summary: 'Show the total with cents.', edits: [{ old_text: 'return `Total: ${cartTotal(prices)}`;', new_text: fixed }] } }] },
    );
    const from = recorded.published.length;

    const result = await client.request<DoResult>('efrit/do', { instruction: 'show cents in the total', textDocument: { uri: checkout } });

    expect(result).toMatchObject({ applied: true, steps: 2, summary: 'Show the total with cents.' });
    const [refusal] = toolResults(harness, 1);
    expect(refusal).toContain('The language server reports 1 new error in the change as proposed');
    expect(refusal).toContain("src/checkout.ts:4: Type 'number' is not assignable to type 'string'. [typescript 2322]\n    4| return cartTotal(prices);");
    const notes = client.streams.filter((s) => s.kind === 'tool').map((s) => s.text);
    expect(notes).toEqual(expect.arrayContaining(['1 new error in src/checkout.ts; fixing', 'checked src/checkout.ts: no new errors']));
    // One edit reached the editor: the fixed one.
    expect(client.appliedEdits).toHaveLength(1);
    await client.waitFor(() => client.text(checkout) === checkoutTs.replace('return `Total: ${cartTotal(prices)}`;', fixed), 'the fixed change applied');
    expectUndisturbed(recorded, from, checkout);
  }, 120_000);

  it('checks a file the change creates, and lets a clean change through on the first step', async () => {
    const { harness, recorded, checkout } = await startCheckoutProject();
    const { client, fake } = harness;
    const helper = "import { cartTotal } from './cart.js';\n\nexport const twice = (prices: number[]): number => 2 * cartTotal(prices);\n";
    fake.queueReplies({
      toolUses: [{ name: 'propose_edits', input: { summary: 'Add a helper.', edits: [], files: [{ action: 'create', path: 'src/twice.ts', text: helper }] } }],
    });
    const from = recorded.published.length;

    const result = await client.request<DoResult>('efrit/do', { instruction: 'add a helper', textDocument: { uri: checkout } });

    expect(result).toMatchObject({ steps: 1 });
    const notes = client.streams.filter((s) => s.kind === 'tool').map((s) => s.text);
    expect(notes).toContain('checked src/twice.ts: no new errors');
    expectUndisturbed(recorded, from, checkout);
  }, 120_000);
});

const greeterPy = `import sys


def greet(name):
    return "Hello, " + name
`;

describe.skipIf(!pylspAvailable)('checking a proposal with pylsp', () => {
  it('refuses a change with an undefined name, keeps the existing warning out of it, and applies the fix', async () => {
    const { harness, recorded } = await start({ 'greeter.py': greeterPy }, ['--wrap', '--', 'pylsp']);
    const { client, fake } = harness;
    const greeter = await client.open('greeter.py', greeterPy, 'python');
    await client.waitFor(() => recorded.published.some((p) => p.uri === greeter && p.diagnostics.length > 0), "pyflakes' unused import warning", 30_000);
    fake.queueReplies(
      { toolUses: [{ name: 'propose_edits', input: { summary: 'Shout.', edits: [{ old_text: '    return "Hello, " + name', new_text: '    return "Hello, " + nmae.upper()' }] } }] },
      { toolUses: [{ name: 'propose_edits', input: { summary: 'Shout.', edits: [{ old_text: '    return "Hello, " + name', new_text: '    return "Hello, " + name.upper()' }] } }] },
    );
    const from = recorded.published.length;

    const result = await client.request<DoResult>('efrit/do', { instruction: 'shout the name', textDocument: { uri: greeter } });

    expect(result).toMatchObject({ applied: true, steps: 2 });
    const [refusal] = toolResults(harness, 1);
    expect(refusal).toContain("greeter.py:5: undefined name 'nmae' [pyflakes]");
    // The unused import was there before: not the change's.
    expect(refusal).not.toContain('sys');
    await client.waitFor(() => client.text(greeter).includes('name.upper()'), 'the fixed change applied');
    expectUndisturbed(recorded, from, greeter);
  }, 60_000);
});
