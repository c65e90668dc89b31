/**
 * Proxy mode around a second real language server, typescript-language-server
 * (4.x, a devDependency) driving the repository's own tsserver:
 * `efrit-lsp --stdio --wrap -- node …/typescript-language-server/lib/cli.mjs --stdio`.
 * Hover and completion pass through, tsserver's diagnostics reach the editor
 * and feed Efrit's Fix, code actions merge (tsserver's first), and shutdown
 * leaves none of the three processes (the language server, its tsservers) behind.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CodeAction, CompletionItem, CompletionList, Diagnostic, Hover, PublishDiagnosticsParams, TextDocumentEdit, TextEdit } from 'vscode-languageserver-protocol';
import { editReply, startHarness, type Harness } from '../support/harness.js';
import { positionOf, repoRoot, vscodeCapabilities, type TestClient } from '../support/lsp-client.js';

const cli = join(repoRoot, 'node_modules', 'typescript-language-server', 'lib', 'cli.mjs');
const tsserver = join(repoRoot, 'node_modules', 'typescript', 'lib', 'tsserver.js');
const available = existsSync(cli) && existsSync(tsserver);
if (!available) console.warn('proxy-typescript.test.ts: typescript-language-server is not installed (npm install); skipped.');

/** `total` is a type error (2322); `ad` an unknown name (2304) tsserver offers a quick fix for. */
const mathTs = `export function add(a: number, b: number): number {
  return a + b;
}

export const total: string = add(1, 2);
export const other = ad(3, 4);
`;

/** Every descendant of a process, children before grandchildren. */
function descendants(pid: number | undefined): number[] {
  const found: number[] = [];
  let level = pid === undefined ? [] : [pid];
  while (level.length > 0) {
    const next: number[] = [];
    for (const parent of level) {
      try {
        const out = execFileSync('ps', ['--ppid', String(parent), '-o', 'pid='], { encoding: 'utf8' });
        for (const line of out.split('\n')) if (Number(line.trim()) > 0) next.push(Number(line.trim()));
      } catch {
        // No children: ps exits 1.
      }
    }
    found.push(...next);
    level = next;
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const messageOf = (diagnostic: Diagnostic): string => (typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value);

describe.skipIf(!available)('proxy mode around typescript-language-server', () => {
  let harness: Harness;
  let client: TestClient;
  let uri: string;
  const diagnostics = new Map<string, Diagnostic[]>();
  const workspace = mkdtempSync(join(tmpdir(), 'efrit-proxy-ts-'));

  async function diagnosticWithCode(code: number, timeoutMs = 20_000): Promise<Diagnostic> {
    const find = () => (diagnostics.get(uri) ?? []).find((d) => d.code === code);
    await client.waitFor(() => find() !== undefined, `tsserver diagnostic ${code}`, timeoutMs);
    return find() as Diagnostic;
  }

  beforeAll(async () => {
    mkdirSync(join(workspace, 'src'));
    writeFileSync(join(workspace, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, target: 'es2022', module: 'es2022', noEmit: true }, include: ['src'] }));
    writeFileSync(join(workspace, 'src', 'math.ts'), mathTs);
    harness = await startHarness({
      serverArgs: ['--wrap', '--', process.execPath, cli, '--stdio'],
      workspaceFolder: workspace,
      // The efrit section is efrit-lsp's, the rest the wrapped server's.
      initializationOptions: { efrit: { model: 'claude-opus-5-5' }, tsserver: { path: tsserver } },
      // typescript-language-server publishes diagnostics only to a client that says it takes them (VS Code does).
      capabilities: { ...vscodeCapabilities, textDocument: { ...vscodeCapabilities.textDocument, publishDiagnostics: { relatedInformation: true } } },
    });
    client = harness.client;
    client.connection.onNotification('textDocument/publishDiagnostics', (params: PublishDiagnosticsParams) => {
      diagnostics.set(params.uri, params.diagnostics);
    });
    uri = await client.open('src/math.ts', mathTs, 'typescript');
  });
  afterAll(async () => {
    await harness?.stop();
    rmSync(workspace, { recursive: true, force: true });
  });

  it('splits initializationOptions: efrit-lsp takes its section, the wrapped server the rest', async () => {
    const status = await client.request<{ model: string }>('efrit/status', {});
    expect(status.model).toBe('claude-opus-5-5');
    expect(client.logMessages.map((m) => m.message).join('\n')).not.toContain('unknown setting "efrit.tsserver');
  });

  it('answers initialize with both servers merged', () => {
    const { capabilities, serverInfo } = client.initializeResult;
    // typescript-language-server 4 sends no serverInfo, so the merged name is efrit-lsp's alone.
    expect(serverInfo?.name).toMatch(/^efrit-lsp/);
    expect(capabilities.hoverProvider).toBeTruthy();
    expect(capabilities.completionProvider).toBeTruthy();
    expect(capabilities.codeActionProvider).toMatchObject({ resolveProvider: true });
    expect(capabilities.executeCommandProvider?.commands).toEqual(expect.arrayContaining(['efrit.runAction']));
  });

  it("shows a function's type on hover", async () => {
    const hover = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: positionOf(mathTs, 'add(1, 2)') });
    expect(JSON.stringify(hover.contents)).toContain('function add(a: number, b: number): number');
  });

  it('passes completion through', async () => {
    const completionUri = await client.open('src/use.ts', 'import { add } from "./math";\nMath.', 'typescript');
    const completion = await client.request<CompletionList | CompletionItem[]>('textDocument/completion', {
      textDocument: { uri: completionUri },
      position: { line: 1, character: 5 },
      context: { triggerKind: 2, triggerCharacter: '.' },
    });
    const items = Array.isArray(completion) ? completion : completion.items;
    expect(items.map((item) => item.label)).toEqual(expect.arrayContaining(['max', 'floor']));
    await client.close(completionUri);
  });

  it("forwards tsserver's diagnostics, and merges code actions with tsserver's first", async () => {
    const typeError = await diagnosticWithCode(2322);
    expect(messageOf(typeError)).toContain("Type 'number' is not assignable to type 'string'");
    const unknownName = await diagnosticWithCode(2304);

    const actions = (await client.codeActions(uri, unknownName.range, [unknownName])) as CodeAction[];
    const titles = actions.map((action) => action.title);
    const firstEfrit = titles.findIndex((title) => title.startsWith('Efrit: '));
    expect(firstEfrit).toBeGreaterThan(0);
    expect(titles.slice(0, firstEfrit)).toContain("Add missing function declaration 'ad'");
    expect(titles.slice(firstEfrit).every((title) => title.startsWith('Efrit: '))).toBe(true);
    expect(titles[firstEfrit]).toMatch(/^Efrit: Fix: Cannot find name 'ad'/);

    // An editor that sends no diagnostics still gets a Fix, from the proxy's kept copy.
    const withoutContext = (await client.codeActions(uri, typeError.range)) as CodeAction[];
    expect(withoutContext.map((action) => action.title)).toEqual(expect.arrayContaining([expect.stringMatching(/^Efrit: Fix: Type 'number'/)]));
  });

  it('resolves an Efrit Fix for the tsserver diagnostic against the model, and tsserver sees the edit', async () => {
    const typeError = await diagnosticWithCode(2322);
    const fix = ((await client.codeActions(uri, typeError.range, [typeError])) as CodeAction[]).find((action) => action.title.startsWith('Efrit: Fix'));
    expect(fix).toBeDefined();
    harness.fake.queueReplies(editReply([{ old_text: 'export const total: string = add(1, 2);', new_text: 'export const total: number = add(1, 2);' }], 'Type it as a number.'));

    const resolved = await client.request<CodeAction>('codeAction/resolve', fix);

    expect(harness.fake.requests).toHaveLength(1);
    expect(JSON.stringify(harness.fake.requests[0]?.body.messages)).toContain("Type 'number' is not assignable to type 'string'");
    const change = resolved.edit?.documentChanges?.[0] as TextDocumentEdit;
    expect(change.textDocument).toEqual({ uri, version: 1 });
    await client.sendChanges(
      uri,
      (change.edits as TextEdit[]).map((edit) => ({ range: edit.range, text: edit.newText })),
    );
    expect(client.text(uri)).toBe(mathTs.replace('total: string', 'total: number'));
    expect((await client.request<{ text: string }>('efrit/documentText', { textDocument: { uri } })).text).toBe(client.text(uri));
    // tsserver got the change too: the type error goes, the misspelling stays.
    await client.waitFor(
      () => {
        const codes = (diagnostics.get(uri) ?? []).map((d) => d.code);
        return !codes.includes(2322) && codes.includes(2304);
      },
      'tsserver re-checking the fixed text',
      20_000,
    );
  });

  it('shuts down with exit code 0 and leaves no process behind', async () => {
    const pids = descendants(client.child.pid);
    // typescript-language-server and at least one tsserver under it.
    expect(pids.length).toBeGreaterThanOrEqual(2);
    expect(await client.stop()).toBe(0);
    for (const pid of pids) await client.waitFor(() => !alive(pid), `process ${pid} to exit`, 20_000);
  });
});
