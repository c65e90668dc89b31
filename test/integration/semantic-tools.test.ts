/**
 * The efrit/do agent asking the user's own language server, in proxy mode
 * around real servers: typescript-language-server (a devDependency) and pylsp
 * (Debian's python3-pylsp). The fake model calls definition, references,
 * hover and the others on a small multi-file project; what comes back is
 * what those servers really found, trimmed to `path:line: text`, and the
 * editor never sees any of that traffic.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageParam, Tool, ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PublishDiagnosticsParams } from 'vscode-languageserver-protocol';
import type { DoResult } from '../../server/src/protocol.js';
import { shouldRunEditorTests } from '../clients/editors.js';
import { startHarness, type Harness } from '../support/harness.js';
import { repoRoot, vscodeCapabilities } from '../support/lsp-client.js';

const cli = join(repoRoot, 'node_modules', 'typescript-language-server', 'lib', 'cli.mjs');
const tsserver = join(repoRoot, 'node_modules', 'typescript', 'lib', 'tsserver.js');
const typescriptAvailable = existsSync(cli) && existsSync(tsserver);
const pylspAvailable = shouldRunEditorTests('pylsp');

const cartTs = `export interface Item {
  name: string;
  price: number;
}

export function cartTotal(items: Item[]): number {
  return items.reduce((sum, item) => sum + item.price, 0);
}
`;
const checkoutTs = `import { cartTotal, type Item } from './cart.js';

export function checkout(items: Item[]): string {
  return \`Total: \${cartTotal(items)}\`;
}
`;
const receiptTs = `import { cartTotal, type Item } from './cart.js';

export function receiptLine(items: Item[]): string {
  return \`\${items.length} items, \${cartTotal(items)}\`;
}
`;

/** The tool results the model was sent in the request after the one numbered `index` (0-based), in call order. */
function toolResults(harness: Harness, index: number): string[] {
  const messages = harness.fake.requests[index]?.body.messages as MessageParam[] | undefined;
  const last = messages?.at(-1);
  if (last === undefined || typeof last.content === 'string') return [];
  const results = last.content.filter((block) => block.type === 'tool_result') as ToolResultBlockParam[];
  return results.map((block) => (typeof block.content === 'string' ? block.content : JSON.stringify(block.content)));
}

function toolNames(harness: Harness, index: number): string[] {
  return ((harness.fake.requests[index]?.body.tools ?? []) as Tool[]).map((tool) => tool.name);
}

describe.skipIf(!typescriptAvailable)('semantic tools around typescript-language-server', () => {
  let harness: Harness;
  let workspace: string;
  const published: PublishDiagnosticsParams[] = [];

  beforeAll(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'efrit-semantic-ts-'));
    await mkdir(join(workspace, 'src'));
    await writeFile(join(workspace, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, target: 'es2022', module: 'nodenext', noEmit: true }, include: ['src'] }));
    await writeFile(join(workspace, 'src', 'cart.ts'), cartTs);
    await writeFile(join(workspace, 'src', 'checkout.ts'), checkoutTs);
    await writeFile(join(workspace, 'src', 'receipt.ts'), receiptTs);
    await writeFile(join(workspace, '.env'), 'export const secretToken = "do-not-read";\n');
    harness = await startHarness({
      serverArgs: ['--wrap', '--', process.execPath, cli, '--stdio'],
      workspaceFolder: workspace,
      initializationOptions: { tsserver: { path: tsserver } },
      capabilities: { ...vscodeCapabilities, textDocument: { ...vscodeCapabilities.textDocument, publishDiagnostics: { relatedInformation: true } } },
    });
    harness.client.connection.onNotification('textDocument/publishDiagnostics', (params: PublishDiagnosticsParams) => {
      published.push(params);
    });
  });
  afterAll(async () => {
    await harness?.stop();
    await rm(workspace, { recursive: true, force: true });
  });

  it('offers the tools the server declares, after the read-only ones, the same in every request', async () => {
    const { client, fake } = harness;
    const checkout = await client.open('src/checkout.ts', checkoutTs);
    fake.queueReplies({ text: 'Nothing to do.' }, { text: 'Still nothing.' });
    await client.request<DoResult>('efrit/do', { instruction: 'look around', textDocument: { uri: checkout } });
    await client.request<DoResult>('efrit/do', { instruction: 'look again', textDocument: { uri: checkout } });

    const names = toolNames(harness, 0);
    expect(names).toEqual(['propose_edits', 'list_documents', 'read_document', 'read_file', 'search_workspace', 'definition', 'references', 'hover', 'document_symbols', 'workspace_symbols', 'diagnostics']);
    expect(JSON.stringify(fake.requests[1]?.body.tools)).toBe(JSON.stringify(fake.requests[0]?.body.tools));
    await client.close(checkout);
  });

  it('finds the real definition and references across files, including files the editor has not opened', async () => {
    const { client, fake } = harness;
    const checkout = await client.open('src/checkout.ts', checkoutTs);
    // Until tsserver has loaded the project, typescript-language-server answers from its syntax-only server, which cannot follow imports.
    await client.waitFor(() => published.some((p) => p.uri === checkout), 'tsserver checking the open document', 60_000);
    const before = fake.requests.length;
    fake.queueReplies(
      {
        toolUses: [
          { name: 'definition', input: { path: 'src/checkout.ts', line: 4, symbol: 'cartTotal' } },
          // cart.ts is not open in the editor.
          { name: 'references', input: { path: 'src/cart.ts', line: 6, symbol: 'cartTotal' } },
          { name: 'hover', input: { path: 'src/checkout.ts', line: 4, symbol: 'cartTotal' } },
        ],
      },
      { text: 'cartTotal is defined in src/cart.ts and used twice.' },
    );

    const result = await client.request<DoResult>('efrit/do', { instruction: 'where is cartTotal used?', textDocument: { uri: checkout } });

    expect(result.steps).toBe(2);
    const [definition, references, hover] = toolResults(harness, before + 1);
    expect(definition).toBe('Definition of cartTotal at src/checkout.ts:4:\nsrc/cart.ts:6: export function cartTotal(items: Item[]): number {');
    expect(references?.split('\n').slice(1).sort()).toEqual([
      'src/cart.ts:6: export function cartTotal(items: Item[]): number {',
      "src/checkout.ts:1: import { cartTotal, type Item } from './cart.js';",
      'src/checkout.ts:4: return `Total: ${cartTotal(items)}`;',
      "src/receipt.ts:1: import { cartTotal, type Item } from './cart.js';",
      'src/receipt.ts:4: return `${items.length} items, ${cartTotal(items)}`;',
    ]);
    expect(hover).toBe('cartTotal at src/checkout.ts:4:\n(alias) cartTotal(items: Item[]): number\nimport cartTotal');
    // The stream tells the user what the agent asked.
    expect(client.streams.map((s) => s.text)).toEqual(expect.arrayContaining(['references of cartTotal at src/cart.ts:6: 5 locations']));
    await client.close(checkout);
  });

  it('answers symbols and diagnostics, and tells the model how to fix a position it got wrong', async () => {
    const { client, fake } = harness;
    const broken = `${receiptTs}export const count: string = 3;\n`;
    const receipt = await client.open('src/receipt.ts', broken);
    await client.waitFor(() => published.some((p) => p.uri === receipt && p.diagnostics.some((d) => d.code === 2322)), 'tsserver reporting the type error', 30_000);
    const before = fake.requests.length;
    fake.queueReplies(
      {
        toolUses: [
          { name: 'document_symbols', input: { path: 'src/cart.ts' } },
          { name: 'workspace_symbols', input: { query: 'receiptLine' } },
          { name: 'diagnostics', input: { path: 'src/receipt.ts' } },
          { name: 'definition', input: { path: 'src/cart.ts', line: 1, symbol: 'cartTotal' } },
          { name: 'definition', input: { path: '.env', line: 1, symbol: 'secretToken' } },
          // Array.prototype.reduce is declared in TypeScript's lib files, outside the workspace.
          { name: 'definition', input: { path: 'src/cart.ts', line: 7, symbol: 'reduce' } },
        ],
      },
      { text: 'Done looking.' },
    );

    await client.request<DoResult>('efrit/do', { instruction: 'what is in the cart module?', textDocument: { uri: receipt } });

    const [symbols, workspaceSymbols, diagnostics, wrongLine, secret, library] = toolResults(harness, before + 1);
    expect(symbols).toContain('interface Item (line 1)');
    expect(symbols).toContain('function cartTotal (line 6)');
    expect(workspaceSymbols).toContain('src/receipt.ts:3: function receiptLine');
    expect(diagnostics).toContain("src/receipt.ts:6: error: Type 'number' is not assignable to type 'string'.");
    expect(wrongLine).toBe('Invalid input for definition: "cartTotal" does not occur on line 1 of src/cart.ts, which reads: export interface Item {');
    expect(secret).toMatch(/^Invalid input for definition: .*secret/);
    expect(library).toMatch(/^Definition of reduce at src\/cart.ts:7:\n\[\d+ locations? (is|are) outside the workspace or in secret-looking files, so left out.\]$/);
    await client.close(receipt);
  });

  it("never lets the editor see efrit-lsp's own requests, the files it opened for them, or shadow documents", () => {
    const traffic = harness.client.rawTraffic.join('');
    expect(traffic).not.toContain('efrit-own:');
    expect(published.filter((p) => p.uri.includes('.efrit-check-'))).toEqual([]);
    // cart.ts was opened in the server for the references and the outline, never by the editor.
    expect(published.filter((p) => p.uri === harness.client.uriOf('src/cart.ts'))).toEqual([]);
  });
});

const greeterPy = `def greet(name):
    """Say hello to NAME."""
    return "Hello, " + name


def shout(name):
    return greet(name).upper()
`;
const mainPy = `from greeter import greet, shout

print(greet("world"))
print(shout("you"))
`;

describe.skipIf(!pylspAvailable)('semantic tools around pylsp', () => {
  let harness: Harness;
  let workspace: string;

  beforeAll(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'efrit-semantic-py-'));
    await writeFile(join(workspace, 'greeter.py'), greeterPy);
    await writeFile(join(workspace, 'main.py'), mainPy);
    harness = await startHarness({ serverArgs: ['--wrap', '--', 'pylsp'], workspaceFolder: workspace });
  });
  afterAll(async () => {
    await harness?.stop();
    await rm(workspace, { recursive: true, force: true });
  });

  it('offers only what pylsp declares, and finds the real definition and references', async () => {
    const { client, fake } = harness;
    const main = await client.open('main.py', mainPy, 'python');
    fake.queueReplies(
      {
        toolUses: [
          { name: 'definition', input: { path: 'main.py', line: 3, symbol: 'greet' } },
          { name: 'references', input: { path: 'greeter.py', line: 1, symbol: 'greet' } },
        ],
      },
      { text: 'greet is defined in greeter.py.' },
    );

    await client.request<DoResult>('efrit/do', { instruction: 'where is greet used?', textDocument: { uri: main } });

    // pylsp 1.7 declares no workspace symbols.
    expect(toolNames(harness, 0).slice(5)).toEqual(['definition', 'references', 'hover', 'document_symbols', 'diagnostics']);
    const [definition, references] = toolResults(harness, 1);
    expect(definition).toBe('Definition of greet at main.py:3:\ngreeter.py:1: def greet(name):');
    expect(references?.split('\n').slice(1).sort()).toEqual(['greeter.py:1: def greet(name):', 'greeter.py:7: return greet(name).upper()', 'main.py:1: from greeter import greet, shout', 'main.py:3: print(greet("world"))']);
  });
});
