/**
 * Proxy mode against a real language server: `efrit-lsp --stdio --wrap -- pylsp`.
 * pylsp's features pass through, its diagnostics feed Efrit's Fix, code
 * actions merge, and when it crashes it is started again while efrit-lsp
 * keeps serving.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CodeAction, CompletionItem, CompletionList, Diagnostic, Hover, InlineCompletionList, PublishDiagnosticsParams, TextDocumentEdit, TextEdit } from 'vscode-languageserver-protocol';
import type { ChatResult } from '../../server/src/protocol.js';
import { shouldRunEditorTests } from '../clients/editors.js';
import { completePy, greeterPy } from '../fixtures/proxy/samples.js';
import { editReply, startHarness, type Harness } from '../support/harness.js';
import { positionOf, rangeOf, type TestClient } from '../support/lsp-client.js';
import { eventually } from '../support/eventually.js';

const runPylsp = shouldRunEditorTests('pylsp');
if (!runPylsp) console.warn('proxy.test.ts: pylsp is not installed (apt-get install python3-pylsp); proxy-mode tests are skipped.');

function childPids(pid: number | undefined): number[] {
  try {
    return execFileSync('ps', ['--ppid', String(pid), '-o', 'pid='], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts the proxy and records pylsp's diagnostics as they arrive. */
async function startProxy(logFile?: string): Promise<{ harness: Harness; diagnostics: Map<string, Diagnostic[]> }> {
  const pylsp = ['pylsp', ...(logFile !== undefined ? ['-vv', '--log-file', logFile] : [])];
  const harness = await startHarness({ serverArgs: ['--wrap', '--', ...pylsp] });
  const diagnostics = new Map<string, Diagnostic[]>();
  harness.client.connection.onNotification('textDocument/publishDiagnostics', (params: PublishDiagnosticsParams) => {
    diagnostics.set(params.uri, params.diagnostics);
  });
  return { harness, diagnostics };
}

const messageOf = (diagnostic: Diagnostic): string => (typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value);

async function diagnosticNamed(client: TestClient, diagnostics: Map<string, Diagnostic[]>, uri: string, text: string): Promise<Diagnostic> {
  // pylsp takes its pyflakes diagnostics from python3-pyflakes; without it this times out.
  await client.waitFor(() => (diagnostics.get(uri) ?? []).some((d) => messageOf(d).includes(text)), `a pyflakes diagnostic "${text}" from pylsp (is pyflakes installed?)`, 15_000);
  return (diagnostics.get(uri) ?? []).find((d) => messageOf(d).includes(text)) as Diagnostic;
}

describe.skipIf(!runPylsp)('proxy mode around pylsp', () => {
  let harness: Harness;
  let diagnostics: Map<string, Diagnostic[]>;
  let client: TestClient;
  let uri: string;
  const logDir = mkdtempSync(join(tmpdir(), 'efrit-proxy-'));
  const logFile = join(logDir, 'pylsp.log');

  beforeAll(async () => {
    ({ harness, diagnostics } = await startProxy(logFile));
    client = harness.client;
    uri = await client.open('src/greeter.py', greeterPy, 'python');
  });
  afterAll(async () => {
    await harness?.stop();
    rmSync(logDir, { recursive: true, force: true });
  });

  it('answers initialize with both servers merged', () => {
    const { capabilities, serverInfo } = client.initializeResult;
    expect(serverInfo?.name).toMatch(/^efrit-lsp \+ pylsp/);
    expect(capabilities.hoverProvider).toBeTruthy();
    expect(capabilities.completionProvider).toBeTruthy();
    expect(capabilities.codeActionProvider).toMatchObject({ resolveProvider: true });
    expect(capabilities.executeCommandProvider?.commands).toEqual(expect.arrayContaining(['efrit.runAction', 'efrit.chat']));
    expect(capabilities.textDocumentSync).toMatchObject({ change: 2, openClose: true });
  });

  it('passes completion and hover through to pylsp', async () => {
    const completeUri = await client.open('src/complete.py', completePy, 'python');
    const completion = await client.request<CompletionList | CompletionItem[]>('textDocument/completion', {
      textDocument: { uri: completeUri },
      position: { line: 1, character: 5 },
    });
    const items = Array.isArray(completion) ? completion : completion.items;
    expect(items.map((item) => item.label)).toEqual(expect.arrayContaining([expect.stringMatching(/^path\b/)]));

    const hover = await client.request<Hover>('textDocument/hover', { textDocument: { uri }, position: positionOf(greeterPy, 'greet("world")') });
    expect(JSON.stringify(hover.contents)).toContain('Say hello to NAME, politely.');
  });

  it("forwards pylsp's diagnostics, and merges code actions with pylsp's first", async () => {
    const unused = await diagnosticNamed(client, diagnostics, uri, "'sys' imported but unused");
    expect(unused.source).toBe('pyflakes');

    const actions = (await client.codeActions(uri, unused.range, [unused])) as CodeAction[];
    const titles = actions.map((action) => action.title);
    const firstEfrit = titles.findIndex((title) => title.startsWith('Efrit: '));
    expect(firstEfrit).toBeGreaterThanOrEqual(0);
    // pylsp 1.7 offers none here; whatever it offers comes before Efrit's.
    expect(titles.slice(firstEfrit).every((title) => title.startsWith('Efrit: '))).toBe(true);
    expect(titles[firstEfrit]).toBe("Efrit: Fix: 'sys' imported but unused");
    // The request reached pylsp too.
    await client.waitFor(() => readFileSync(logFile, 'utf8').includes('textDocument/codeAction'), 'pylsp logging the codeAction request', 20_000);

    // An editor that sends no diagnostics still gets a Fix, from the kept copy.
    const withoutContext = (await client.codeActions(uri, unused.range)) as CodeAction[];
    expect(withoutContext.map((action) => action.title)).toContain("Efrit: Fix: 'sys' imported but unused");
  });

  it('resolves an Efrit Fix for a pylsp diagnostic against the model, and pylsp sees the applied edit', async () => {
    const unused = await diagnosticNamed(client, diagnostics, uri, "'sys' imported but unused");
    const [fix] = ((await client.codeActions(uri, unused.range, [unused])) as CodeAction[]).filter((action) => action.title.startsWith('Efrit: Fix'));
    harness.fake.queueReplies(editReply([{ old_text: 'import os\nimport sys\n', new_text: 'import os\n' }], 'Drop the unused import.'));

    const resolved = await client.request<CodeAction>('codeAction/resolve', fix);

    expect(harness.fake.requests).toHaveLength(1);
    expect(JSON.stringify(harness.fake.requests[0]?.body.messages)).toContain("'sys' imported but unused");
    const change = resolved.edit?.documentChanges?.[0] as TextDocumentEdit;
    expect(change.textDocument).toEqual({ uri, version: 1 });
    await client.sendChanges(
      uri,
      (change.edits as TextEdit[]).map((edit) => ({ range: edit.range, text: edit.newText })),
    );
    expect(client.text(uri)).toBe(greeterPy.replace('import sys\n', ''));
    // Both servers got the change: efrit-lsp's copy matches, and pylsp's diagnostics no longer name sys.
    expect((await client.request<{ text: string }>('efrit/documentText', { textDocument: { uri } })).text).toBe(client.text(uri));
    await client.waitFor(() => !(diagnostics.get(uri) ?? []).some((d) => messageOf(d).includes("'sys'")), 'pylsp re-linting the fixed text', 15_000);
  });

  it('routes efrit-lsp server→client requests (workspace/applyEdit) and the command path', async () => {
    await client.edit(uri, 'greet("world")', 'greet("world")\nprint(undefined_name)');
    const undefinedName = await diagnosticNamed(client, diagnostics, uri, "undefined name 'undefined_name'");
    const fix = ((await client.codeActions(uri, undefinedName.range, [undefinedName])) as CodeAction[]).find((a) => a.title.startsWith('Efrit: Fix'));
    harness.fake.queueReplies(editReply([{ old_text: 'print(undefined_name)', new_text: 'print("defined")' }]));
    const result = await client.executeCommand<{ applied: boolean }>('efrit.runAction', { actionId: 'fix', textDocument: { uri }, range: undefinedName.range, diagnostics: [undefinedName] });
    expect(fix).toBeDefined();
    expect(result.applied).toBe(true);
    expect(client.appliedEdits).toHaveLength(1);
    await client.waitFor(() => client.text(uri).includes('print("defined")'), 'the fix in the buffer');
  });

  it("offers efrit-lsp's ghost text beside pylsp, and answers it from the model", async () => {
    expect(client.initializeResult.capabilities.inlineCompletionProvider).toBe(true);
    harness.fake.queueReplies({ text: 'f"Hello, {name}!"' });
    const draftUri = await client.open('src/draft.py', 'def welcome(name):\n    return \n', 'python');
    const cursor = { line: 1, character: '    return '.length };
    const list = await client.request<InlineCompletionList>('textDocument/inlineCompletion', { textDocument: { uri: draftUri }, position: cursor, context: { triggerKind: 1 } });
    expect(list.items.map((item) => item.insertText)).toEqual(['f"Hello, {name}!"']);
    expect(JSON.stringify(harness.fake.requests.at(-1)?.body.messages)).toContain('def welcome(name):');
  });

  it('shuts down with exit code 0 and leaves no process behind', async () => {
    const pids = childPids(client.child.pid);
    expect(pids).toHaveLength(1);
    expect(await client.stop()).toBe(0);
    for (const pid of pids) await client.waitFor(() => !alive(pid), `pylsp (${pid}) to exit`, 20_000);
  });
});

describe.skipIf(!runPylsp)('proxy mode when pylsp crashes', () => {
  let harness: Harness | undefined;
  afterAll(async () => harness?.stop());

  it('says so, starts pylsp again with the documents as they are now, keeps efrit-lsp serving, and still exits cleanly', async () => {
    harness = await startHarness({ serverArgs: ['--wrap', '--', 'pylsp'] });
    const { client, fake } = harness;
    const uri = await client.open('src/greeter.py', greeterPy, 'python');
    await client.request('textDocument/hover', { textDocument: { uri }, position: positionOf(greeterPy, 'greet("world")') });
    const [crashed] = childPids(client.child.pid);
    expect(crashed).toBeGreaterThan(0);

    process.kill(crashed as number, 'SIGKILL');

    await client.waitFor(() => client.shownMessages.some((m) => m.message.includes('pylsp')), 'a message about pylsp');
    const shown = client.shownMessages.find((m) => m.message.includes('pylsp'));
    expect(shown).toMatchObject({ type: 2, message: expect.stringMatching(/wrapped language server "pylsp" was killed by SIGKILL; restarting it/) });
    // Edited while pylsp is away: the new one must see this text, not the old.
    await client.edit(uri, 'greet("world")', 'greet("you")');
    fake.queueReplies({ text: 'It greets.' });
    const chat = await client.request<ChatResult>('efrit/chat', { message: 'What does greet do?', textDocument: { uri }, range: rangeOf(greeterPy, 'greet') });
    expect(chat.reply).toBe('It greets.');

    const edited = client.text(uri);
    // pylsp answers once it is up again; until then the proxy says it is not running.
    const hover = await eventually(
      () => client.request<Hover | null>('textDocument/hover', { textDocument: { uri }, position: positionOf(edited, 'greet("you")') }).then((answer) => answer ?? undefined, () => undefined),
      'the restarted pylsp to answer hover',
      20_000,
    );
    expect(JSON.stringify(hover?.contents)).toContain('Say hello to NAME, politely.');
    const [restarted] = childPids(client.child.pid);
    expect(restarted).toBeGreaterThan(0);
    expect(restarted).not.toBe(crashed);
    expect(alive(crashed as number)).toBe(false);
    expect((await client.request<{ text: string }>('efrit/documentText', { textDocument: { uri } })).text).toBe(edited);

    expect(await client.stop()).toBe(0);
    harness = undefined;
    await client.waitFor(() => !alive(restarted as number), `the restarted pylsp (${restarted}) to exit`, 20_000);
    await fake.close();
  });
});
