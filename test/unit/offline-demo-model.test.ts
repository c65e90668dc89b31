/**
 * The offline demo model's answers, fed requests built by the server's own
 * parts (capture, prompts, the action catalog) and judged by them: each edit
 * goes through `resolveProposedEdits`, as the server does, and is applied to
 * the text. The demo API itself is driven over loopback HTTP.
 */
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { Diagnostic, Range } from 'vscode-languageserver-types';
import { readOnlyToolDefinitions } from '../../server/src/agent/workspace-tools.js';
import { findAction } from '../../server/src/assistant/action-catalog.js';
import { resolveProposedEdits } from '../../server/src/assistant/edit-proposal.js';
import { captureContext, type CapturedContext } from '../../server/src/context/capture-context.js';
import { DocumentStore } from '../../server/src/documents/document-store.js';
import type { TrackedDocument } from '../../server/src/documents/tracked-document.js';
import { excerptText, proposeEditsTool, systemBlocks, withCacheBreakpoints } from '../../server/src/model/prompts.js';
import { answerDemoRequest, completionFor, offlineLabel, type DemoAnswer } from '../../server/src/offline/demo-answers.js';
import { startOfflineDemoApi, type OfflineDemoApi } from '../../server/src/offline/demo-api.js';
import { readDemoRequest } from '../../server/src/offline/demo-request.js';
import { offlineRequested } from '../../server/src/offline/offline-mode.js';

let opened = 0;

function open(text: string, languageId: string, path: string): TrackedDocument {
  const store = new DocumentStore();
  const uri = `file:///work/shop/${path.replace(/(\.\w+)$/, `${opened++}$1`)}`;
  store.open({ uri, languageId, version: 1, text });
  return store.get(uri) as TrackedDocument;
}

function rangeOf(doc: TrackedDocument, needle: string, length = needle.length): Range {
  const offset = doc.text.indexOf(needle);
  if (offset < 0) throw new Error(`${JSON.stringify(needle)} is not in the document`);
  return { start: doc.positionAt(offset), end: doc.positionAt(offset + length) };
}

/** The request the Assistant sends for an action, built by the same functions. */
function actionRequest(doc: TrackedDocument, range: Range, actionId: string, extra: { diagnostics?: Diagnostic[]; instruction?: string } = {}) {
  const diagnostics = extra.diagnostics ?? [];
  const context = captureContext(doc, range, { linesBefore: 200, linesAfter: 80, maxChars: 24_000, workspaceRoots: ['/work/shop'], diagnostics });
  const action = findAction([], actionId);
  if (action === undefined) throw new Error(`no action ${actionId}`);
  const userText = `${excerptText(context)}\n\n${action.request({ instruction: extra.instruction, diagnostics })}`;
  const body = {
    model: 'efrit-offline-demo',
    max_tokens: 4096,
    system: systemBlocks(true),
    tools: [proposeEditsTool, ...readOnlyToolDefinitions],
    messages: withCacheBreakpoints([{ role: 'user', content: userText }], true),
    tool_choice: action.producesEdit ? { type: 'tool', name: 'propose_edits' } : { type: 'none' },
    stream: true,
  };
  return { body, context };
}

/** The answer's edits as the server resolves them, applied to the document's text. */
function applied(doc: TrackedDocument, range: Range, context: CapturedContext, answer: DemoAnswer): string {
  expect(answer.toolUses?.[0]?.name).toBe('propose_edits');
  const proposal = resolveProposedEdits(answer.toolUses?.[0]?.input, context, doc.eol, doc.offsetAt(range.start));
  expect(proposal.summary.startsWith('Offline demo model: ')).toBe(true);
  let text = doc.text;
  for (const edit of [...proposal.edits].reverse()) text = `${text.slice(0, edit.start)}${edit.newText}${text.slice(edit.end)}`;
  return text;
}

function runAction(text: string, languageId: string, path: string, needle: string, actionId: string, extra: { diagnostics?: (doc: TrackedDocument) => Diagnostic[]; instruction?: string } = {}): string {
  const doc = open(text, languageId, path);
  const range = rangeOf(doc, needle);
  const diagnostics = extra.diagnostics?.(doc) ?? [];
  const { body, context } = actionRequest(doc, range, actionId, { diagnostics, ...(extra.instruction === undefined ? {} : { instruction: extra.instruction }) });
  return applied(doc, range, context, answerDemoRequest(body));
}

const cartTs = `import { round } from './money.js';

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
  return round(subtotal * (1 + taxRate));
}

export function formatTotal(total: number, currency: string): string {
  if (!(currency === 'EUR')) {
    return \`\${total.toFixed(2)} \${currencySymbol}\`;
  }
  return \`€\${total.toFixed(2)}\`
}
`;

const inventoryPy = `from dataclasses import dataclass, field
import os


@dataclass
class Item:
    name: str
    quantity: int


def restock(items, name, amount):
    for item in items:
        if item.name == name:
            item.quantity += amount
            return item
    if name == None:
        raise ValueError("no name")
    raise KeyError(name)
`;

function diagnosticAt(doc: TrackedDocument, needle: string, message: string, source = 'ts'): Diagnostic[] {
  return [{ range: rangeOf(doc, needle), severity: 1, source, message }];
}

describe('the offline demo model: Add documentation', () => {
  it('writes a JSDoc comment above the TypeScript function the cursor is in, naming its parameters and return', () => {
    const text = runAction(cartTs, 'typescript', 'src/cart.ts', 'let subtotal', 'document');
    expect(text).toContain(
      ['', '/**', ' * Computes the cart total.', ' *', ' * @param items - the items', ' * @param taxRate - the tax rate', ' * @returns the cart total', ' */', 'export function cartTotal('].join('\n'),
    );
    expect(text.replace(/\/\*\*[\s\S]*?\*\/\n/, '')).toBe(cartTs);
  });

  it('writes a Google-style docstring under a Python def, indented like its body', () => {
    const text = runAction(inventoryPy, 'python', 'src/inventory.py', 'item.quantity += amount', 'document');
    expect(text).toContain('def restock(items, name, amount):\n    """Restocks it.\n\n    Args:\n        items: The items.\n        name: The name.\n        amount: The amount.\n\n    Returns:\n        The result.\n    """\n    for item in items:');
  });

  it('speaks each language: Go, Rust, Lua and Emacs Lisp', () => {
    expect(runAction('package shop\n\nfunc CartTotal(items []Item, rate float64) float64 {\n\treturn 0\n}\n', 'go', 'shop/cart.go', 'return 0', 'document')).toContain(
      '// CartTotal computes the cart total.\nfunc CartTotal(',
    );
    expect(runAction('pub fn cart_total(items: &[Item], tax_rate: f64) -> f64 {\n    0.0\n}\n', 'rust', 'src/cart.rs', '0.0', 'document')).toContain(
      '/// Computes the cart total.\n///\n/// # Arguments\n///\n/// * `items` - the items\n/// * `tax_rate` - the tax rate\npub fn cart_total(',
    );
    expect(runAction('local M = {}\n\nfunction M.cart_total(items, rate)\n  return 0\nend\n\nreturn M\n', 'lua', 'lua/cart.lua', 'return 0', 'document')).toContain(
      '--- Computes the cart total.\n-- @param items the items\n-- @param rate the rate\n-- @return the cart total\nfunction M.cart_total(',
    );
    expect(runAction('(defun shop-cart-total (items rate)\n  (* rate (length items)))\n', 'emacs-lisp', 'shop.el', '(* rate', 'document')).toContain(
      '(defun shop-cart-total (items rate)\n  "Compute the shop cart total from ITEMS and RATE."\n  (* rate',
    );
  });
});

describe('the offline demo model: Fix', () => {
  it("makes the diagnostic's own suggestion on its line", () => {
    const text = runAction(cartTs, 'typescript', 'src/cart.ts', 'currencySymbol', 'fix', {
      diagnostics: (doc) => diagnosticAt(doc, 'currencySymbol', "Cannot find name 'currencySymbol'. Did you mean 'currency'?"),
    });
    expect(text).toBe(cartTs.replace('${currencySymbol}', '${currency}'));
  });

  it('without a suggestion, uses the nearest name in view', () => {
    const broken = inventoryPy.replace('item.quantity += amount', 'item.quantity += amout');
    const text = runAction(broken, 'python', 'src/inventory.py', 'amout', 'fix', { diagnostics: (doc) => diagnosticAt(doc, 'amout', "undefined name 'amout'", 'pyflakes') });
    expect(text).toBe(inventoryPy);
  });

  it('removes an unused name from an import list, keeping the others', () => {
    const text = runAction(inventoryPy, 'python', 'src/inventory.py', 'field', 'fix', { diagnostics: (doc) => diagnosticAt(doc, 'field', "'dataclasses.field' imported but unused", 'pyflakes') });
    expect(text).toBe(inventoryPy.replace('from dataclasses import dataclass, field\n', 'from dataclasses import dataclass\n'));
  });

  it('removes a whole unused import line, line break included', () => {
    const text = runAction(inventoryPy, 'python', 'src/inventory.py', 'import os', 'fix', { diagnostics: (doc) => diagnosticAt(doc, 'os', "'os' imported but unused", 'pyflakes') });
    expect(text).toBe(inventoryPy.replace('import os\n', ''));
  });

  it('adds a missing semicolon', () => {
    const text = runAction(cartTs, 'typescript', 'src/cart.ts', 'return `€', 'fix', { diagnostics: (doc) => diagnosticAt(doc, 'return `€', "';' expected.") });
    expect(text).toBe(cartTs.replace('return `€${total.toFixed(2)}`\n', 'return `€${total.toFixed(2)}`;\n'));
  });

  it('otherwise marks the line with a FIXME comment that quotes the diagnostic, in the language\'s comment style', () => {
    const text = runAction(inventoryPy, 'python', 'src/inventory.py', 'raise KeyError', 'fix', { diagnostics: (doc) => diagnosticAt(doc, 'raise KeyError', 'Function is too complex (12)', 'mccabe') });
    expect(text).toContain('    # FIXME: Function is too complex (12) (offline demo model: a real model would change the line below)\n    raise KeyError(name)\n');
  });
});

describe('the offline demo model: Rewrite and Write tests', () => {
  it('turns x = x + y into x += y and !(a === b) into a !== b, and leaves everything else alone', () => {
    const text = runAction(cartTs, 'typescript', 'src/cart.ts', 'subtotal = subtotal +', 'rewrite');
    expect(text).toBe(cartTs.replace('subtotal = subtotal + item', 'subtotal += item'));
    const negated = runAction(cartTs, 'typescript', 'src/cart.ts', "if (!(currency === 'EUR')) {", 'rewrite');
    expect(negated).toBe(cartTs.replace("if (!(currency === 'EUR')) {", "if (currency !== 'EUR') {"));
  });

  it('never rewrites x = x - a + b, which would change its meaning; says so in a comment instead', () => {
    const source = 'let stock = 10;\nstock = stock - sold + returned;\n';
    const text = runAction(source, 'typescript', 'src/stock.ts', 'stock = stock - sold + returned;', 'rewrite');
    expect(text).toContain('stock = stock - sold + returned;');
    expect(text).toContain('// Offline demo model: "Make this code clearer and simpler without changing what it does." needs the real model');
  });

  it('renames as the instruction says, in the selected function only', () => {
    const text = runAction(cartTs, 'typescript', 'src/cart.ts', 'cartTotal', 'rewrite', { instruction: 'rename subtotal to net' });
    expect(text).toContain('  let net = 0;\n  for (const item of items) {\n    net = net + item.unitPrice * item.quantity;\n  }\n  return round(net * (1 + taxRate));');
  });

  it('writes vitest tests after the function, quoting enough of its end to be unambiguous', () => {
    const text = runAction(cartTs, 'typescript', 'src/cart.ts', 'cartTotal', 'tests');
    const inserted = "\n\nimport { describe, expect, it } from 'vitest';\n\ndescribe('cartTotal', () => {\n  it('gives the same answer for the same input', () => {\n    expect(cartTotal([], 0.2)).toEqual(cartTotal([], 0.2));\n";
    expect(text).toContain(`  return round(subtotal * (1 + taxRate));\n}${inserted}`);
  });

  it('writes pytest functions after a Python function', () => {
    const text = runAction(inventoryPy, 'python', 'src/inventory.py', 'def restock', 'tests');
    expect(text.endsWith('    raise KeyError(name)\n\n\ndef test_restock_gives_the_same_answer_for_the_same_input():\n    assert restock([], "sample", 2) == restock([], "sample", 2)\n\n\ndef test_restock_accepts_empty_input():\n    restock([], "sample", 2)\n')).toBe(true);
  });
});

describe('the offline demo model: text answers', () => {
  it('explains the selected function by its lines, starting with the label', () => {
    const doc = open(cartTs, 'typescript', 'src/cart.ts');
    const range = rangeOf(doc, 'export function cartTotal');
    const { body } = actionRequest(doc, range, 'explain');
    const answer = answerDemoRequest(body);
    expect(answer.toolUses).toBeUndefined();
    expect(answer.text?.startsWith(offlineLabel)).toBe(true);
    expect(answer.text).toContain('Lines 9-15 of `src/cart');
    expect(answer.text).toContain('are `cartTotal`, taking `items`, `taxRate`');
    expect(answer.text).toContain('It loops at line 11: `for (const item of items) {`.');
    expect(answer.text).toContain('It calls `round`.');
    expect(answer.text).toContain('It returns at line 14: `return round(subtotal * (1 + taxRate));`.');
  });

  it('answers chat by quoting the question and counting the turns', () => {
    const messages: MessageParam[] = [
      { role: 'user', content: [{ type: 'text', text: 'Is this thread-safe?' }] },
      { role: 'assistant', content: [{ type: 'text', text: `${offlineLabel} …` }] },
      { role: 'user', content: [{ type: 'text', text: 'And the tests?' }] },
    ];
    const answer = answerDemoRequest({ model: 'x', max_tokens: 100, system: systemBlocks(false), messages, tool_choice: { type: 'none' } });
    expect(answer.text).toMatch(/^\[offline demo model\] You asked: "And the tests\?"\. .* This is turn 2 of our conversation/);
    expect(answer.text).toContain('No code came with this message.');
  });
});

describe('the offline demo model: the do agent', () => {
  const doc = open(cartTs, 'typescript', 'src/cart.ts');
  const range = rangeOf(doc, 'let subtotal');
  const context = captureContext(doc, range, { linesBefore: 200, linesAfter: 80, maxChars: 24_000, workspaceRoots: ['/work/shop'] });
  const instruction = (text: string): MessageParam => ({ role: 'user', content: [{ type: 'text', text: excerptText(context) }, { type: 'text', text: `Instruction: ${text}` }] });
  const request = (messages: MessageParam[]) => ({ model: 'x', max_tokens: 4096, system: systemBlocks(true), tools: [proposeEditsTool, ...readOnlyToolDefinitions], messages, tool_choice: { type: 'auto' } });

  it('first searches the workspace for the function at the cursor', () => {
    const answer = answerDemoRequest(request([instruction('Add tests for this')]));
    expect(answer.text).toBe(`${offlineLabel} First, where \`cartTotal\` is used.`);
    expect(answer.toolUses).toEqual([{ name: 'search_workspace', input: { query: 'cartTotal', max_results: 20 } }]);
  });

  it('then, with the search result, edits as the instruction says and reports what it found', () => {
    const messages: MessageParam[] = [
      instruction('Document this function'),
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'search_workspace', input: { query: 'cartTotal' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'src/cart.ts:9: export function cartTotal(\nsrc/checkout.ts:4: cartTotal(items, 0.2)' }] },
    ];
    const answer = answerDemoRequest(request(messages));
    expect(answer.text).toBe(`${offlineLabel} The search found 2 lines in 2 files (src/cart.ts, src/checkout.ts). Now the edit.`);
    const text = applied(doc, range, context, answer);
    expect(text).toContain(' * Computes the cart total.\n');
  });

  it('answers in words when the instruction is nothing it can do', () => {
    const messages: MessageParam[] = [
      instruction('Port this to Haskell'),
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'search_workspace', input: { query: 'cartTotal' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'No matches.' }] },
    ];
    const answer = answerDemoRequest(request(messages));
    expect(answer.toolUses).toBeUndefined();
    expect(answer.text).toContain('"Port this to Haskell" needs the real model');
  });
});

describe('the offline demo model: completion and requests', () => {
  it('completes by closing the brackets the line left open, ignoring those inside strings', () => {
    expect(completionFor('  total = round(prices[index')).toBe('])');
    expect(completionFor("  log('(' + name")).toBe(')');
    expect(completionFor('  done();')).toBe('');
  });

  it('reads an inline completion request as one', () => {
    const answer = answerDemoRequest({
      model: 'x',
      max_tokens: 256,
      system: [{ type: 'text', text: 'You are a code completion engine inside the user\'s editor.' }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'File: src/cart.ts (typescript)\n<prefix>\nconst a = 1;\n' }, { type: 'text', text: 'const b = max(a, 2</prefix>\n<suffix>\n</suffix>' }] }],
    });
    expect(answer).toEqual({ text: ')' });
  });

  it('refuses a body that is not a Messages request, with a message saying what it expected', () => {
    expect(() => readDemoRequest({ prompt: 'hi' })).toThrow(expect.objectContaining({ message: 'expected a Messages API request with a "messages" list' }));
  });

  it('is asked for by --offline or EFRIT_OFFLINE=1/true/yes/on, and by nothing else', () => {
    expect(offlineRequested(['--stdio', '--offline'], {})).toBe(true);
    for (const value of ['1', 'true', 'YES', ' on ']) expect(offlineRequested(['--stdio'], { EFRIT_OFFLINE: value })).toBe(true);
    for (const value of ['', '0', 'false', 'no']) expect(offlineRequested(['--stdio'], { EFRIT_OFFLINE: value })).toBe(false);
  });
});

describe('the offline demo API on loopback', () => {
  let api: OfflineDemoApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  const post = (target: OfflineDemoApi, body: string, key = target.apiKey) =>
    fetch(`${target.baseURL}/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });

  it('listens on 127.0.0.1 only and answers only its own key', async () => {
    api = await startOfflineDemoApi();
    expect(api.baseURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const refused = await post(api, '{"messages":[]}', 'sk-ant-someone-else');
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
  });

  it('refuses a body over its limit unread, and a body that is not JSON, as the API would', async () => {
    api = await startOfflineDemoApi({ maxBodyBytes: 1024 });
    expect((await post(api, JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(4096) }] }))).status).toBe(413);
    const notJson = await post(api, 'hello');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { type: 'invalid_request_error', message: 'The request body is not JSON.' } });
  });

  it('cuts an answer at max_tokens and says so in stop_reason', async () => {
    api = await startOfflineDemoApi();
    const response = await post(api, JSON.stringify({ model: 'x', max_tokens: 5, messages: [{ role: 'user', content: 'Tell me everything.' }] }));
    const message = (await response.json()) as { stop_reason: string; content: { text: string }[]; model: string };
    expect(message.model).toBe('efrit-offline-demo');
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.content[0]?.text).toBe(`${offlineLabel} You a`.slice(0, 20));
  });
});

describe('how the offline demo model reads a request', () => {
  const excerpt = [
    'src/cart.ts (typescript) - lines 3-7 of 40, selection at 4:3-6:1',
    '3| export function cartTotal(items: LineItem[]): number {',
    '4|>  let subtotal = 0;',
    '5|>  for (const item of items) subtotal += item.price;',
    '6|   return subtotal; // ...[+120 chars]',
    '7| }',
    '',
    'Diagnostics:',
    "line 5:34 warning [eslint prefer-const] 'item' is never reassigned.",
    'line 6:3 hint Unreachable code.',
  ].join('\n');
  const body = (messages: unknown[], extra: Record<string, unknown> = {}) => ({ model: 'x', max_tokens: 300, system: systemBlocks(false), messages, ...extra });

  it('reads the excerpt: header, numbered rows with their selection and cut marks, and each diagnostic', () => {
    const request = readDemoRequest(body([{ role: 'user', content: `${excerpt}\n\nFix the problem in the selected code.` }], { tool_choice: { type: 'tool', name: 'propose_edits' } }));
    expect(request.kind).toBe('edit');
    expect(request.maxTokens).toBe(300);
    expect(request.instruction).toBe('Fix the problem in the selected code.');
    expect(request.excerpt).toEqual({
      path: 'src/cart.ts',
      language: 'typescript',
      totalLines: 40,
      selection: { startLine: 4, startColumn: 3, endLine: 6, endColumn: 1 },
      lines: [
        { number: 3, text: 'export function cartTotal(items: LineItem[]): number {', selected: false, cut: false },
        { number: 4, text: '  let subtotal = 0;', selected: true, cut: false },
        { number: 5, text: '  for (const item of items) subtotal += item.price;', selected: true, cut: false },
        { number: 6, text: '  return subtotal; // ...[+120 chars]', selected: false, cut: true },
        { number: 7, text: '}', selected: false, cut: false },
      ],
      diagnostics: [
        { line: 5, column: 34, severity: 'warning', tag: 'eslint prefer-const', message: "'item' is never reassigned." },
        { line: 6, column: 3, severity: 'hint', tag: '', message: 'Unreachable code.' },
      ],
    });
  });

  it('on a later turn, takes the excerpt from history and the selection the turn names (a selection ending at column 1 leaves that line out)', () => {
    const request = readDemoRequest(
      body([
        { role: 'user', content: [{ type: 'text', text: excerpt }, { type: 'text', text: 'What does this do?' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'It sums.' }] },
        { role: 'user', content: [{ type: 'text', text: 'src/cart.ts is as you last saw it (now version 4). Selection: lines 3-5 (3:1-5:1).' }, { type: 'text', text: 'And now?' }] },
      ]),
    );
    expect(request.kind).toBe('text');
    expect(request.userTurns).toBe(2);
    expect(request.instruction).toBe('And now?');
    // The "unchanged" note ends with the selection; a delta puts it on a line of its own.
    expect(request.excerpt?.selection).toEqual({ startLine: 3, startColumn: 1, endLine: 5, endColumn: 1 });
    const delta = readDemoRequest(
      body([
        { role: 'user', content: [{ type: 'text', text: excerpt }, { type: 'text', text: 'What does this do?' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'It sums.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Changes to src/cart.ts since you last saw it:\n@@ -7,1 +7,1 @@\n-}\n+}\nSelection: lines 3-5 (3:1-5:1).' }, { type: 'text', text: 'And now?' }] },
      ]),
    );
    expect(delta.excerpt?.selection).toEqual({ startLine: 3, startColumn: 1, endLine: 5, endColumn: 1 });
    expect(delta.excerpt?.lines.filter((line) => line.selected).map((line) => line.number)).toEqual([3, 4]);
  });

  it("counts the agent's steps since the instruction and reads the tool results, in either content form", () => {
    const request = readDemoRequest(
      body(
        [
          { role: 'user', content: [{ type: 'text', text: excerpt }, { type: 'text', text: 'Instruction: Document it' }] },
          { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'search_workspace', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'src/a.ts:1: cartTotal' }] },
          { role: 'assistant', content: [{ type: 'tool_use', id: 't2', name: 'read_file', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't2', content: [{ type: 'text', text: 'line one' }, { type: 'text', text: 'line two' }] }, { nothing: true }] },
        ],
        { tool_choice: { type: 'auto' } },
      ),
    );
    expect(request).toMatchObject({ kind: 'agent', agentSteps: 2, instruction: 'Document it', toolResults: ['line one\nline two'] });
    expect(readDemoRequest(body([{ role: 'user', content: 'Instruction: x' }], { tool_choice: { type: 'any' } })).kind).toBe('agent');
  });

  it("finds a do's instruction in a message whose blocks were joined into one text, as Chat Completions and Ollama carry it", () => {
    const joined = `${excerpt}\n\nInstruction: rename cartTotal to orderTotal\n\nand add a test`;
    const request = readDemoRequest(
      body(
        [
          { role: 'user', content: joined },
          { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'search_workspace', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'src/a.ts:1: cartTotal' }] },
        ],
        { tool_choice: { type: 'auto' } },
      ),
    );
    expect(request).toMatchObject({ kind: 'agent', agentSteps: 1, instruction: 'rename cartTotal to orderTotal\n\nand add a test' });
    // Its own block still wins: a joined text is only looked into when no block opens with the label.
    const apart = readDemoRequest(body([{ role: 'user', content: [{ type: 'text', text: `${excerpt}\n\nInstruction: not this one` }, { type: 'text', text: 'Instruction: this one' }] }], { tool_choice: { type: 'auto' } }));
    expect(apart.instruction).toBe('this one');
    const none = readDemoRequest(body([{ role: 'user', content: `${excerpt}\nInstruction: inside a line run, not a paragraph` }], { tool_choice: { type: 'auto' } }));
    expect(none.instruction).not.toMatch(/^inside/);
  });

  it('reads a completion: the language, the text before the cursor on its line, and after it', () => {
    const request = readDemoRequest(
      body([{ role: 'user', content: [{ type: 'text', text: 'File: src/a.py (python)\n<prefix>\nimport os\n' }, { type: 'text', text: 'print(os.getcwd(</prefix>\n<suffix>\nx = 1\n</suffix>' }] }], { system: [{ type: 'text', text: 'Something else' }] }),
    );
    expect(request.kind).toBe('completion');
    expect(request.completion).toEqual({ prefixLine: 'print(os.getcwd(', suffix: '\nx = 1\n', language: 'python' });
  });

  it('takes a chat message without code whole, and 4096 tokens when max_tokens is missing or nonsense', () => {
    const request = readDemoRequest({ messages: [{ role: 'user', content: 'First line.\n\nSecond paragraph.' }], max_tokens: -3 });
    expect(request).toMatchObject({ kind: 'text', maxTokens: 4096, instruction: 'First line.\n\nSecond paragraph.', excerpt: undefined, agentSteps: 0 });
  });
});

describe('the offline demo model in more languages and corners', () => {
  it('writes Go, Rust, Lua (busted) and Emacs Lisp (ERT) tests after the function', () => {
    expect(runAction('package shop\n\nfunc CartTotal(items []Item, rate float64) float64 {\n\treturn 0\n}\n', 'go', 'shop/cart.go', 'return 0', 'tests')).toContain(
      '}\n\nfunc TestCartTotal(t *testing.T) {\n\tfirst := CartTotal(nil, 0.2)\n\tif again := CartTotal(nil, 0.2); again != first {\n\t\tt.Errorf("CartTotal gave %v, then %v for the same input", first, again)\n\t}\n}\n',
    );
    expect(runAction('pub fn cart_total(items: &[Item], tax_rate: f64) -> f64 {\n    0.0\n}\n', 'rust', 'src/cart.rs', '0.0', 'tests')).toContain(
      '}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn cart_total_gives_the_same_answer_for_the_same_input() {\n        assert_eq!(cart_total(&[], 0.2), cart_total(&[], 0.2));\n    }\n}\n',
    );
    expect(runAction('local function total(items)\n  return #items\nend\n', 'lua', 'lua/total.lua', 'return #items', 'tests')).toContain(
      'end\n\ndescribe("total", function()\n  it("gives the same answer for the same input", function()\n    assert.are.same(total({}), total({}))\n  end)\nend)\n',
    );
    expect(runAction('(defun shop-count (items)\n  (length items))\n', 'emacs-lisp', 'shop.el', '(length', 'tests')).toContain(
      "(length items))\n\n(ert-deftest shop-count-gives-the-same-answer ()\n  (should (equal (shop-count '()) (shop-count '()))))\n",
    );
  });

  it('notes in a comment what tests a Java method needs, rather than guessing a framework', () => {
    const java = 'class Cart {\n  public int total(int count) {\n    return count * 2;\n  }\n}\n';
    expect(runAction(java, 'java', 'src/Cart.java', 'return count', 'tests')).toContain('  }\n\n// Tests for total: the same input gives the same answer; empty input is accepted.\n}\n');
  });

  it('documents a Java method with @param and @return, and a shell function with # comments', () => {
    const java = 'class Cart {\n  public int countItems(int limit) {\n    return limit;\n  }\n}\n';
    expect(runAction(java, 'java', 'src/Cart.java', 'return limit', 'document')).toContain('  /**\n   * Counts the items.\n   *\n   * @param limit the limit\n   * @return the items\n   */\n  public int countItems(');
    expect(runAction('#!/bin/sh\nbuild_site() {\n  make all\n}\n', 'shellscript', 'build.sh', 'make all', 'document')).toContain('# Builds the site.\nbuild_site() {');
  });

  it('summarises names by their verb: is/has ask a question, to converts, on handles, nouns are computed', () => {
    const doc = (name: string) => runAction(`export function ${name}(value: number) {\n  return value;\n}\n`, 'typescript', 'src/names.ts', 'return value', 'document').split('\n')[1];
    expect(doc('isEmpty')).toBe(' * Tells whether it is empty.');
    expect(doc('hasItems')).toBe(' * Tells whether it has items.');
    expect(doc('toCents')).toBe(' * Converts the value to cents.');
    expect(doc('onClick')).toBe(' * Handles the click event.');
    expect(doc('parseAmount')).toBe(' * Parses the amount.');
    expect(doc('shippingCost')).toBe(' * Computes the shipping cost.');
  });

  it('without a function at the cursor, documents the selected line with a comment above it', () => {
    const text = runAction('const rate = 0.2;\nconst limit = 10;\n', 'typescript', 'src/config.ts', 'const limit', 'document');
    expect(text).toBe('const rate = 0.2;\n// The limit.\nconst limit = 10;\n');
  });

  it('Fix with no diagnostic marks the selected line for a look', () => {
    const text = runAction(cartTs, 'typescript', 'src/cart.ts', 'let subtotal = 0;', 'fix');
    expect(text).toContain('  // FIXME: check this line (offline demo model: no diagnostic was given to fix).\n  let subtotal = 0;\n');
  });

  it('Rewrite says `is None` in Python rather than `== None`', () => {
    const text = runAction(inventoryPy, 'python', 'src/inventory.py', '    if name == None:', 'rewrite');
    expect(text).toBe(inventoryPy.replace('if name == None:', 'if name is None:'));
  });

  it('explains a selection outside any function by its lines and what they do', () => {
    const doc = open('const rates = load();\nif (rates.length === 0) {\n  throw new Error("none");\n}\n', 'typescript', 'src/rates.ts');
    const range = { start: { line: 0, character: 0 }, end: { line: 3, character: 1 } };
    const { body } = actionRequest(doc, range, 'explain');
    const text = answerDemoRequest(body).text ?? '';
    expect(text).toContain('Lines 1-4 of `src/rates');
    expect(text).toContain('are 4 lines of typescript.');
    expect(text).toContain('It branches at line 2: `if (rates.length === 0) {`.');
    expect(text).toContain('It calls `load`, `Error`.');
  });

  it('the do agent lists the open documents first when the cursor is in no function, and fixes or tests as told', () => {
    const doc = open('const limit = 10;\n', 'typescript', 'src/config.ts');
    const context = captureContext(doc, { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, { linesBefore: 5, linesAfter: 5, maxChars: 2000 });
    const first = answerDemoRequest({ model: 'x', max_tokens: 500, messages: [{ role: 'user', content: [{ type: 'text', text: excerptText(context) }, { type: 'text', text: 'Instruction: Fix it' }] }], tool_choice: { type: 'auto' } });
    expect(first.toolUses).toEqual([{ name: 'list_documents', input: {} }]);
  });
});
