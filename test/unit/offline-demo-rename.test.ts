/**
 * The offline demo model's rename across files, run through the real parts
 * around it: the demo API over loopback HTTP, the real SDK inside
 * ModelClient, the agent loop of efrit/do, and the workspace tools reading
 * a real folder. Its proposal is judged as the design's exact-quote rule
 * judges one: every quote occurs exactly once in the lines the agent was
 * shown of that file.
 */
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runAgentLoop, type AgentResult } from '../../server/src/agent/do-agent.js';
import { SearchRunner } from '../../server/src/agent/search-runner.js';
import { readOnlyToolDefinitions, WorkspaceTools } from '../../server/src/agent/workspace-tools.js';
import { silentLogger } from '../../server/src/common/logger.js';
import { captureContext } from '../../server/src/context/capture-context.js';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import { ModelClient } from '../../server/src/model/model-client.js';
import { excerptText, proposeEditsTool, systemBlocks, withCacheBreakpoints } from '../../server/src/model/prompts.js';
import { offlineLabel } from '../../server/src/offline/demo-answers.js';
import { startOfflineDemoApi, type OfflineDemoApi } from '../../server/src/offline/demo-api.js';
import { renameEditsIn, renameRequested, testPathFor } from '../../server/src/offline/demo-rename.js';
import { parseReadResult, searchHitPaths } from '../../server/src/offline/demo-request.js';

const cartTs = `export interface LineItem {
  name: string;
  unitPrice: number;
  quantity: number;
}

export function cartTotal(items: LineItem[], taxRate: number): number {
  let subtotal = 0;
  for (const item of items) subtotal += item.unitPrice * item.quantity;
  return subtotal * (1 + taxRate);
}

export function cartTotalWithTax(items: LineItem[]): number {
  return cartTotal(items, 0.2);
}
`;

const checkoutTs = `import { cartTotal, type LineItem } from './cart.js';

export function checkout(items: LineItem[]): string {
  const total = cartTotal(items, 0.2);
  return \`Total: \${total.toFixed(2)}\`;
}

export function preview(items: LineItem[]): number {
  const total = cartTotal(items, 0.2);
  return total;
}
`;

const receiptTs = `import { cartTotal, cartTotalWithTax } from './cart.js';
import type { LineItem } from './cart.js';

export function receiptLines(items: LineItem[]): string[] {
  return [\`net \${cartTotal(items, 0)}\`, \`gross \${cartTotalWithTax(items)}\`];
}
`;

const unrelatedTs = `export const currency = 'EUR';
`;

interface Proposal {
  summary: string;
  edits: { path?: string; old_text: string; new_text: string }[];
  files?: { action: string; path: string; text: string }[];
}

let base: string;
let root: string;
let api: OfflineDemoApi;
let runner: SearchRunner;

async function write(relative: string, text: string): Promise<void> {
  await mkdir(dirname(join(root, relative)), { recursive: true });
  await writeFile(join(root, relative), text);
}

beforeAll(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'efrit-demo-rename-')));
  api = await startOfflineDemoApi({ pieceDelayMs: 0 });
  runner = new SearchRunner();
});

afterAll(async () => {
  await api.close();
  await runner.close();
  await rm(base, { recursive: true, force: true });
});

let workspaceCount = 0;
beforeEach(async () => {
  root = join(base, `shop${workspaceCount++}`);
  await write('src/cart.ts', cartTs);
  await write('src/checkout.ts', checkoutTs);
  await write('src/receipt.ts', receiptTs);
  await write('src/unrelated.ts', unrelatedTs);
});


/** One efrit/do as the server runs it: the cart open in the editor, the instruction, the agent loop with the real tools. */
async function runDo(instruction: string): Promise<{ result: AgentResult; calls: { name: string; input: unknown }[]; notes: string[] }> {
  const documents = new DocumentStore();
  const uri = pathToFileURL(join(root, 'src/cart.ts')).href;
  documents.open({ uri, languageId: 'typescript', version: 1, text: cartTs });
  const doc = documents.get(uri);
  if (doc === undefined) throw new Error('the cart did not open');
  const offset = cartTs.indexOf('cartTotal(items: LineItem[]');
  const range = { start: doc.positionAt(offset), end: doc.positionAt(offset + 'cartTotal'.length) };
  const context = captureContext(doc, range, { linesBefore: 200, linesAfter: 80, maxChars: 24_000, workspaceRoots: [root] });
  const tools = new WorkspaceTools({ roots: () => [root], documents, allowSecretFiles: () => false, searchRunner: runner });
  const model = new ModelClient(() => ({ apiKey: api.apiKey, baseURL: api.baseURL }), silentLogger);
  const calls: { name: string; input: unknown }[] = [];
  const notes: string[] = [];
  const signal = new AbortController().signal;
  const result = await runAgentLoop({
    prefix: [{ role: 'user', content: [{ type: 'text', text: excerptText(context) }, { type: 'text', text: `Instruction: ${instruction}` }] }],
    step: (messages) =>
      model.call(
        { model: 'efrit-offline-demo', maxTokens: 8192, system: systemBlocks(true), messages: withCacheBreakpoints(messages, true), tools: [proposeEditsTool, ...readOnlyToolDefinitions], toolChoice: { type: 'auto' } },
        { signal, stallMs: 30_000 },
      ),
    runTool: (call) => {
      calls.push({ name: call.name, input: call.input });
      return tools.run(call.name, call.input, signal);
    },
    finalTool: proposeEditsTool.name,
    onToolNote: (text) => notes.push(text),
    onStep: () => undefined,
    limits: { maxSteps: 8, tokenBudget: 200_000, logBudgetTokens: 16_000 },
    signal,
  });
  return { result, calls, notes };
}

function proposalOf(result: AgentResult): Proposal {
  const call = result.finalReply.toolCalls.find((candidate) => candidate.name === 'propose_edits');
  if (call === undefined) throw new Error(`no proposal; the model said: ${result.finalReply.text}`);
  return call.input as Proposal;
}

/** The proposal applied as the design's rule allows: each quote found exactly once in the file as read (here: whole). */
function applyToFiles(proposal: Proposal, files: Record<string, string>): Record<string, string> {
  const out = { ...files };
  for (const edit of proposal.edits) {
    const path = edit.path ?? '';
    const text = out[path];
    if (text === undefined) throw new Error(`${path} was not read`);
    const at = text.indexOf(edit.old_text);
    expect(at, `${JSON.stringify(edit.old_text)} in ${path}`).toBeGreaterThanOrEqual(0);
    expect(text.indexOf(edit.old_text, at + 1), `${JSON.stringify(edit.old_text)} occurs once in ${path}`).toBe(-1);
    out[path] = `${text.slice(0, at)}${edit.new_text}${text.slice(at + edit.old_text.length)}`;
  }
  for (const file of proposal.files ?? []) {
    expect(file.action).toBe('create');
    expect(out[file.path]).toBeUndefined();
    out[file.path] = file.text;
  }
  return out;
}

describe('the offline demo model renames a function across the workspace', () => {
  it('searches, reads every file that uses the name in one step, then proposes one change over all of them with a test file', async () => {
    const { result, calls, notes } = await runDo('rename cartTotal to orderTotal and add a test');

    expect(result.steps).toBe(3);
    expect(calls).toEqual([
      { name: 'search_workspace', input: { query: 'cartTotal', case_sensitive: true, max_results: 50 } },
      { name: 'read_file', input: { path: 'src/cart.ts' } },
      { name: 'read_file', input: { path: 'src/checkout.ts' } },
      { name: 'read_file', input: { path: 'src/receipt.ts' } },
      { name: 'read_file', input: { path: 'test/order-total.test.ts' } },
    ]);
    expect(notes).toContain('read_file: test/order-total.test.ts not found');

    const proposal = proposalOf(result);
    expect(proposal.summary).toBe('Offline demo model: renamed `cartTotal` to `orderTotal` in 3 files (7 edits) and added test/order-total.test.ts.');
    expect(new Set(proposal.edits.map((edit) => edit.path))).toEqual(new Set(['src/cart.ts', 'src/checkout.ts', 'src/receipt.ts']));

    const after = applyToFiles(proposal, { 'src/cart.ts': cartTs, 'src/checkout.ts': checkoutTs, 'src/receipt.ts': receiptTs });
    expect(after['src/cart.ts']).toBe(cartTs.replace('export function cartTotal(', 'export function orderTotal(').replace('return cartTotal(items, 0.2);', 'return orderTotal(items, 0.2);'));
    expect(after['src/checkout.ts']).toBe(checkoutTs.replaceAll('cartTotal', 'orderTotal'));
    expect(after['src/receipt.ts']).toBe(receiptTs.replace('{ cartTotal, cartTotalWithTax }', '{ orderTotal, cartTotalWithTax }').replace('${cartTotal(items, 0)}', '${orderTotal(items, 0)}'));
    expect(after['test/order-total.test.ts']).toBe(
      [
        '// Offline demo model: a first test for orderTotal (renamed from cartTotal).',
        "import { describe, expect, it } from 'vitest';",
        "import { orderTotal } from '../src/cart.js';",
        '',
        "describe('orderTotal', () => {",
        "  it('gives the same answer for the same input', () => {",
        '    expect(orderTotal([], 0.2)).toEqual(orderTotal([], 0.2));',
        '  });',
        '});',
        '',
      ].join('\n'),
    );
  });

  it('quotes a line that occurs twice with the line after it, so each quote is found once', async () => {
    const { result } = await runDo('rename cartTotal to orderTotal');
    const checkoutQuotes = proposalOf(result)
      .edits.filter((edit) => edit.path === 'src/checkout.ts')
      .map((edit) => edit.old_text);
    expect(checkoutQuotes).toEqual([
      "import { cartTotal, type LineItem } from './cart.js';",
      '  const total = cartTotal(items, 0.2);\n  return `Total: ${total.toFixed(2)}`;',
      '  const total = cartTotal(items, 0.2);\n  return total;',
    ]);
  });

  it('adds no test file where one of that name exists already, and says so', async () => {
    await write('test/order-total.test.ts', "import { it } from 'vitest';\n");
    const { result } = await runDo('Rename `cartTotal` to `orderTotal`');
    const proposal = proposalOf(result);
    expect(proposal.files).toBeUndefined();
    expect(proposal.summary).toContain('Note: test/order-total.test.ts exists already, so no test file was added.');
  });

  it('answers in words when nothing in the workspace uses the name', async () => {
    const { result } = await runDo('rename grandTotal to orderTotal');
    expect(result.steps).toBe(2);
    expect(result.finalReply.toolCalls).toEqual([]);
    expect(result.finalReply.text).toBe(`${offlineLabel} No file in the workspace uses \`grandTotal\`, so there is nothing to rename.`);
  });

  it('leaves a longer name that contains the old one alone', async () => {
    const { result } = await runDo('rename cartTotal to orderTotal');
    for (const edit of proposalOf(result).edits) expect(edit.new_text).not.toContain('orderTotalWithTax');
  });
});

describe('what the rename reads and writes', () => {
  it('reads a rename from the instruction, with quotes, "as", "into" or "->"', () => {
    expect(renameRequested('please rename `total` to `sum` everywhere')).toEqual({ from: 'total', to: 'sum' });
    expect(renameRequested("Rename 'a$b' into 'c'")).toEqual({ from: 'a$b', to: 'c' });
    expect(renameRequested('rename x -> y')).toEqual({ from: 'x', to: 'y' });
    expect(renameRequested('rename x to x')).toBeUndefined();
    expect(renameRequested('make it faster')).toBeUndefined();
  });

  it('names the test file after the new name, in the language of the definition', () => {
    expect(testPathFor({ from: 'a', to: 'orderTotal' }, 'ts')).toBe('test/order-total.test.ts');
    expect(testPathFor({ from: 'a', to: 'orderTotal' }, 'tsx')).toBe('test/order-total.test.ts');
    expect(testPathFor({ from: 'a', to: 'order_total' }, 'py')).toBe('test/test_order_total.py');
    expect(testPathFor({ from: 'a', to: 'orderTotal' }, 'go')).toBeUndefined();
  });

  it('reads a read_file result: path, language, numbered lines, and whether it stopped before the end', () => {
    const read = parseReadResult(
      "src/a.ts (typescript) - lines 1-3 of 9, open in the editor: this is the editor's text (version 2), which may have unsaved changes\n1| const a = 1;\n2| \n3| const b = a;...[+40 chars]\n[Cut at line 3 to stay within 20000 characters]",
    );
    expect(read).toMatchObject({ path: 'src/a.ts', language: 'typescript', totalLines: 9, cut: true });
    expect(read?.lines.map((line) => [line.number, line.text, line.cut])).toEqual([
      [1, 'const a = 1;', false],
      [2, '', false],
      [3, 'const b = a;...[+40 chars]', true],
    ]);
    expect(parseReadResult('src/b.ts - lines 1-1 of 1, from disk\n1| x')).toMatchObject({ path: 'src/b.ts', language: '', cut: false });
    expect(parseReadResult('3 matches for "x"')).toBeUndefined();
  });

  it('lists the files a search found, each once, in its order', () => {
    expect(searchHitPaths('3 matches for "a" in 2 files (9 files searched):\nsrc/b.ts:4: a()\nsrc/a.ts:1: a\nsrc/b.ts:9: a\n[Stopped at 3 matches]')).toEqual(['src/b.ts', 'src/a.ts']);
  });

  it('never quotes a cut line, and merges quotes that grow into each other', () => {
    const read = parseReadResult('src/a.ts - lines 1-5 of 5, from disk\n1| f(x);\n2| g();\n3| f(x);\n4| f(y);\n5| long f(x)...[+9 chars]');
    if (read === undefined) throw new Error('not read');
    // Lines 1 and 3 are alike: line 1 grows down to 2, line 3 to 4, which uses f too: one quote for 3-4.
    expect(renameEditsIn(read, { from: 'f', to: 'h' })).toEqual([
      { path: 'src/a.ts', old_text: 'f(x);\ng();', new_text: 'h(x);\ng();' },
      { path: 'src/a.ts', old_text: 'f(x);\nf(y);', new_text: 'h(x);\nh(y);' },
    ]);
  });
});
