/**
 * `efrit-lsp --stdio --offline` and EFRIT_OFFLINE=1: the built server answers
 * from its demo model, with no key and no network, through the whole real
 * path (queue, SDK over HTTP on loopback, SSE, tool calls, edit matching,
 * workspace/applyEdit). Each action ends in an edit a person would recognise,
 * and everything says it is the offline demo.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientCapabilities, Diagnostic } from 'vscode-languageserver-protocol';
import type { ChatResult, DoResult, RunActionResult, StatusResult } from '../../server/src/protocol.js';
import { shouldRunEditorTests } from '../clients/editors.js';
import { eglotCapabilities, rangeOf, TestClient } from '../support/lsp-client.js';
import { applyAsEditor, openTextIn, planWorkspaceEdit } from '../support/workspace-edit-files.js';

const cartTs = `// cart.ts — totals for a small shop.
export interface LineItem {
  name: string;
  unitPrice: number;
  quantity: number;
}

export function cartTotal(items: LineItem[], taxRate: number): number {
  let subtotal = 0;
  for (const item of items) {
    subtotal = subtotal + item.unitPrice * item.quantity;
  }
  return subtotal * (1 + taxRate);
}

export function formatTotal(total: number, currency: string): string {
  return \`\${total.toFixed(2)} \${currencySymbol}\`;
}
`;

const inventoryPy = `import os
from dataclasses import dataclass


@dataclass
class Item:
    name: str
    quantity: int


def restock(items, name, amount):
    for item in items:
        if item.name == name:
            item.quantity += amount
            return item
    raise KeyError(name)
`;

const label = '[offline demo model]';
let client: TestClient | undefined;

afterEach(async () => {
  await client?.stop();
  client = undefined;
});

function startOffline(how: 'flag' | 'environment'): Promise<TestClient> {
  return TestClient.start({
    capabilities: eglotCapabilities,
    ...(how === 'flag' ? { serverArgs: ['--offline'] } : { env: { EFRIT_OFFLINE: '1' } }),
  });
}

async function runAction(uri: string, actionId: string, range: Diagnostic['range'], extra: { diagnostics?: Diagnostic[]; instruction?: string } = {}): Promise<RunActionResult> {
  return (client as TestClient).executeCommand<RunActionResult>('efrit.runAction', { actionId, textDocument: { uri }, range, ...extra });
}

describe.each(['flag', 'environment'] as const)('the offline demo model (started by %s)', (how) => {
  it('is named in efrit/status: offline, the demo model, no key needed', async () => {
    client = await startOffline(how);
    const status = await client.request<StatusResult>('efrit/status', {});
    expect(status).toMatchObject({ offline: true, model: 'efrit-offline-demo', apiKeyConfigured: true });
  });

  it('documents the TypeScript function at the cursor with a JSDoc comment', async () => {
    client = await startOffline(how);
    const uri = await client.open('src/cart.ts', cartTs);
    const result = await runAction(uri, 'document', rangeOf(cartTs, 'let subtotal = 0;'));
    expect(result.applied).toBe(true);
    expect(client.text(uri)).toContain(
      ['/**', ' * Computes the cart total.', ' *', ' * @param items - the items', ' * @param taxRate - the tax rate', ' * @returns the cart total', ' */', 'export function cartTotal('].join('\n'),
    );
  });
});

describe('each action offline', () => {
  it('Fix quotes the diagnostic line and makes the suggested change', async () => {
    client = await startOffline('flag');
    const uri = await client.open('src/cart.ts', cartTs);
    const range = rangeOf(cartTs, 'currencySymbol');
    const diagnostic: Diagnostic = { range, severity: 1, source: 'ts', code: 2552, message: "Cannot find name 'currencySymbol'. Did you mean 'currency'?" };
    const result = await runAction(uri, 'fix', range, { diagnostics: [diagnostic] });
    expect(result.applied).toBe(true);
    expect(client.text(uri)).toContain('return `${total.toFixed(2)} ${currency}`;');
    expect(client.text(uri)).not.toContain('currencySymbol');
  });

  it('Rewrite simplifies the selected lines without changing what they do', async () => {
    client = await startOffline('flag');
    const uri = await client.open('src/cart.ts', cartTs);
    const result = await runAction(uri, 'rewrite', rangeOf(cartTs, 'for (const item of items) {\n    subtotal = subtotal + item.unitPrice * item.quantity;\n  }'));
    expect(result.applied).toBe(true);
    expect(client.text(uri)).toContain('    subtotal += item.unitPrice * item.quantity;\n');
  });

  it('Write tests inserts a test block for the function after it', async () => {
    client = await startOffline('flag');
    const uri = await client.open('src/cart.ts', cartTs);
    const result = await runAction(uri, 'tests', rangeOf(cartTs, 'cartTotal'));
    expect(result.applied).toBe(true);
    const text = client.text(uri);
    expect(text).toContain("describe('cartTotal', () => {");
    expect(text).toContain('expect(cartTotal([], 0.2)).toEqual(cartTotal([], 0.2));');
    expect(text.indexOf("describe('cartTotal'")).toBeGreaterThan(text.indexOf('return subtotal * (1 + taxRate);\n}'));
    expect(text.indexOf("describe('cartTotal'")).toBeLessThan(text.indexOf('export function formatTotal'));
  });

  it('Explain streams a text about the selected code that says it is the offline demo', async () => {
    client = await startOffline('flag');
    const uri = await client.open('src/cart.ts', cartTs);
    const result = await runAction(uri, 'explain', rangeOf(cartTs, 'export function cartTotal'));
    const streamed = client.streamedText(result.jobId);
    expect(streamed.startsWith(label)).toBe(true);
    expect(result.text).toBe(streamed);
    expect(streamed).toContain('`cartTotal`');
    expect(streamed).toContain('Lines 8-14');
    expect(streamed).toContain('It loops at line 10');
    expect(streamed).toContain('It returns at line 13');
  });

  it('chat answers in a labelled reply about the question and the code, and remembers the turn', async () => {
    client = await startOffline('flag');
    const uri = await client.open('src/cart.ts', cartTs);
    const first = await client.request<ChatResult>('efrit/chat', { message: 'Why a float for money?', textDocument: { uri }, range: rangeOf(cartTs, 'cartTotal') });
    expect(first.reply.startsWith(label)).toBe(true);
    expect(first.reply).toContain('"Why a float for money?"');
    expect(first.reply).toContain('`cartTotal`');
    expect(client.streamedText(first.jobId)).toBe(first.reply);
    const second = await client.request<ChatResult>('efrit/chat', { sessionId: first.sessionId, message: 'And the tests?' });
    expect(second.reply).toContain('This is turn 2');
  });

  it('do searches the workspace with a tool, then edits: the doc comment lands, in two steps', async () => {
    client = await startOffline('flag');
    const uri = await client.open('src/cart.ts', cartTs);
    const result = await client.request<DoResult>('efrit/do', { instruction: 'Document the function at the cursor', textDocument: { uri }, range: rangeOf(cartTs, 'let subtotal') });
    expect(result).toMatchObject({ steps: 2, applied: true });
    expect(result.summary).toContain('Offline demo model: added a doc comment to `cartTotal`');
    expect(client.text(uri)).toContain(' * Computes the cart total.\n');
    expect(client.streams.filter((note) => note.jobId === result.jobId && note.kind === 'tool').map((note) => note.text).join('\n')).toContain('search');
    expect(client.streamedText(result.jobId).startsWith(label)).toBe(true);
  });

  it('documents a Python function with a docstring under its def', async () => {
    client = await startOffline('environment');
    const uri = await client.open('src/inventory.py', inventoryPy, 'python');
    const result = await runAction(uri, 'document', rangeOf(inventoryPy, 'def restock'));
    expect(result.applied).toBe(true);
    expect(client.text(uri)).toContain(
      ['def restock(items, name, amount):', '    """Restocks it.', '', '    Args:', '        items: The items.', '        name: The name.', '        amount: The amount.', '', '    Returns:', '        The result.', '    """', '    for item in items:'].join('\n'),
    );
  });

  it('fixes a Python unused import by removing its line', async () => {
    client = await startOffline('environment');
    const uri = await client.open('src/inventory.py', inventoryPy, 'python');
    const range = rangeOf(inventoryPy, 'import os');
    const diagnostic: Diagnostic = { range, severity: 2, source: 'pyflakes', message: "'os' imported but unused" };
    const result = await runAction(uri, 'fix', range, { diagnostics: [diagnostic] });
    expect(result.applied).toBe(true);
    expect(client.text(uri).startsWith('from dataclasses import dataclass\n')).toBe(true);
  });
});

const checkoutTs = `import { cartTotal, type LineItem } from './cart.js';

export function amountDue(items: LineItem[]): number {
  return cartTotal(items, 0.2);
}
`;

const receiptTs = `import { cartTotal, formatTotal, type LineItem } from './cart.js';

export function receiptLine(items: LineItem[]): string {
  const net = cartTotal(items, 0);
  return \`net \${formatTotal(net, 'EUR')}\`;
}
`;

/** Eglot with resource operations: it creates files, and reviews Efrit's changes itself (no change annotations). */
const reviewingEditor: ClientCapabilities = {
  ...eglotCapabilities,
  workspace: { ...eglotCapabilities.workspace, workspaceEdit: { documentChanges: true, resourceOperations: ['create', 'rename', 'delete'], failureHandling: 'abort' } },
};

describe('a change across files offline', () => {
  let workspace: string | undefined;
  afterEach(() => {
    if (workspace !== undefined) rmSync(workspace, { recursive: true, force: true });
    workspace = undefined;
  });

  async function startInWorkspace(): Promise<{ client: TestClient; root: string; uri: string }> {
    const root = mkdtempSync(join(tmpdir(), 'efrit-offline-rename-'));
    workspace = root;
    for (const [path, text] of Object.entries({ 'src/cart.ts': cartTs, 'src/checkout.ts': checkoutTs, 'src/receipt.ts': receiptTs })) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    let editor: TestClient | undefined;
    const started = await TestClient.start({
      serverArgs: ['--offline'],
      workspaceFolder: root,
      capabilities: reviewingEditor,
      onApplyEdit: (params) => (editor === undefined ? { applied: false, failureReason: 'not started' } : applyAsEditor(editor, params)),
    });
    editor = started;
    client = started;
    const uri = await started.open('src/cart.ts', cartTs);
    return { client: started, root, uri };
  }

  it('do renames a function used in three files and adds a test file; the change waits for review (apply: false), then lands with efrit.applyJob', async () => {
    const { client: editor, root, uri } = await startInWorkspace();
    const result = await editor.request<DoResult>('efrit/do', { instruction: 'rename cartTotal to orderTotal and add a test', textDocument: { uri }, range: rangeOf(cartTs, 'cartTotal'), apply: false });
    expect(result).toMatchObject({ applied: false, steps: 3 });
    expect(result.summary).toBe('Offline demo model: renamed `cartTotal` to `orderTotal` in 3 files (5 edits) and added test/order-total.test.ts.');
    const notes = editor.streams.filter((note) => note.jobId === result.jobId && note.kind === 'tool').map((note) => note.text);
    expect(notes).toEqual(expect.arrayContaining([expect.stringMatching(/^searched for "cartTotal"/), expect.stringMatching(/^read src\/checkout\.ts/), expect.stringMatching(/^read src\/receipt\.ts/)]));

    // The review: the whole change, worked out against the editor's text and the disk, with nothing written yet.
    if (result.edit === null) throw new Error('no change was proposed');
    const review = planWorkspaceEdit(result.edit, openTextIn(editor));
    if (!review.ok) throw new Error(review.reason);
    const reviewed = review.changes.map((change) => [change.kind, change.uri.slice(change.uri.lastIndexOf('/') + 1)]);
    expect(reviewed.sort((a, b) => String(a[1]).localeCompare(String(b[1])))).toEqual([
      ['edit', 'cart.ts'],
      ['edit', 'checkout.ts'],
      ['create', 'order-total.test.ts'],
      ['edit', 'receipt.ts'],
    ]);
    expect(readFileSync(join(root, 'src/checkout.ts'), 'utf8')).toBe(checkoutTs);
    expect(existsSync(join(root, 'test/order-total.test.ts'))).toBe(false);
    expect(editor.appliedEdits).toEqual([]);

    const accepted = await editor.executeCommand<{ applied: boolean }>('efrit.applyJob', { jobId: result.jobId });
    expect(accepted).toEqual({ applied: true });
    expect(editor.appliedEdits).toHaveLength(1);
    expect(editor.text(uri)).toBe(cartTs.replace('export function cartTotal(', 'export function orderTotal('));
    expect(readFileSync(join(root, 'src/checkout.ts'), 'utf8')).toBe(checkoutTs.replaceAll('cartTotal', 'orderTotal'));
    expect(readFileSync(join(root, 'src/receipt.ts'), 'utf8')).toBe(receiptTs.replaceAll('cartTotal', 'orderTotal'));
    const testFile = readFileSync(join(root, 'test/order-total.test.ts'), 'utf8');
    expect(testFile).toContain("import { orderTotal } from '../src/cart.js';");
    expect(testFile).toContain('expect(orderTotal([], 0.2)).toEqual(orderTotal([], 0.2));');
  });
});

describe.skipIf(!shouldRunEditorTests('pylsp'))('offline behind the proxy', () => {
  it('efrit-lsp --stdio --offline --wrap -- pylsp answers from the demo model too', async () => {
    client = await TestClient.start({ capabilities: eglotCapabilities, serverArgs: ['--offline', '--wrap', '--', 'pylsp'] });
    expect(await client.request<StatusResult>('efrit/status', {})).toMatchObject({ offline: true, model: 'efrit-offline-demo' });
    const uri = await client.open('src/inventory.py', inventoryPy, 'python');
    const result = await runAction(uri, 'document', rangeOf(inventoryPy, 'def restock'));
    expect(result.applied).toBe(true);
    expect(client.text(uri)).toContain('def restock(items, name, amount):\n    """Restocks it.\n');
  });
});
