import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { StatusResult } from '../../server/src/protocol.js';
import { startHarness, type Harness } from '../support/harness.js';
import { eglotCapabilities, repoRoot, serverEntry, TestClient } from '../support/lsp-client.js';

const run = promisify(execFile);
const packageJson = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };

let harness: Harness | undefined;
let client: TestClient | undefined;
afterEach(async () => {
  await harness?.stop();
  await client?.stop();
  harness = undefined;
  client = undefined;
});

describe('the command line', () => {
  it('prints its version and help', async () => {
    const version = await run(process.execPath, [serverEntry, '--version']);
    expect(version.stdout.trim()).toBe(packageJson.version);
    // dist/efrit-lsp.js starts the same server, for editor configurations that name it.
    const byOtherName = await run(process.execPath, [join(repoRoot, 'dist', 'efrit-lsp.js'), '--version']);
    expect(byOtherName.stdout.trim()).toBe(packageJson.version);
    const help = await run(process.execPath, [serverEntry, '--help']);
    expect(help.stdout).toContain('efrit-lsp --stdio');
    expect(help.stdout).toContain('ANTHROPIC_API_KEY');
  });

  it('is the package bin, runnable with npx from the repository root', async () => {
    expect(packageJson.bin['efrit-lsp']).toBe('dist/efrit-lsp.cjs');
    const { stdout } = await run('npx', ['--no-install', 'efrit-lsp', '--version'], { cwd: repoRoot });
    expect(stdout.trim()).toBe(packageJson.version);
    // npx itself takes seconds to start on a loaded machine: a generous budget of its own.
  }, 120_000);

  it('refuses to start without a transport and says how to start it', async () => {
    await expect(run(process.execPath, [serverEntry, '--bogus'])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('--stdio') });
  });
});

describe('the LSP lifecycle', () => {
  it('announces incremental sync, resolvable code actions and every efrit command', async () => {
    client = await TestClient.start();
    const { capabilities, serverInfo } = client.initializeResult;
    expect(serverInfo).toEqual({ name: 'efrit-lsp', version: packageJson.version });
    expect(capabilities.textDocumentSync).toMatchObject({ openClose: true, change: 2 });
    expect(capabilities.codeActionProvider).toMatchObject({ resolveProvider: true });
    expect(capabilities.executeCommandProvider?.commands).toEqual([
      'efrit.runAction',
      'efrit.applyJob',
      'efrit.rejectJob',
      'efrit.chat',
      'efrit.do',
      'efrit.cancel',
      'efrit.status',
      'efrit.completionAccepted',
    ]);
  });

  it('exits 0 after shutdown and exit', async () => {
    client = await TestClient.start();
    expect(await client.stop()).toBe(0);
    client = undefined;
  });

  it('exits 1 on exit without shutdown', async () => {
    client = await TestClient.start();
    await client.connection.sendNotification('exit');
    expect(await client.waitForExit()).toBe(1);
    client = undefined;
  });

  it('exits when the editor goes away (stdin closes)', async () => {
    client = await TestClient.start();
    client.child.stdin.end();
    const code = await client.waitForExit();
    expect(code).not.toBeNull();
    client = undefined;
  });

  it('serves everything that needs no model without a key, and status says no key', async () => {
    client = await TestClient.start();
    const status = await client.request<StatusResult>('efrit/status', {});
    expect(status).toMatchObject({ version: packageJson.version, model: 'claude-sonnet-5-5', apiKeyConfigured: false, documents: { open: 0 } });
    expect(await client.executeCommand<StatusResult>('efrit.status')).toMatchObject({ apiKeyConfigured: false });
    // Its own memory, as /proc sees it.
    const residentKb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${client.child.pid}/status`, 'utf8'))?.[1]);
    expect(Math.abs(status.memory.rss / 1024 - residentKb)).toBeLessThan(0.2 * residentKb);
    expect(status.memory.heapUsed).toBeLessThanOrEqual(status.memory.heapTotal);
  });
});

describe('requests outside the server\'s lifetime', () => {
  const range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

  it('refuses every request before initialize with ServerNotInitialized, drops notifications, and calls no model', async () => {
    harness = await startHarness({ initialize: false });
    const { client, fake } = harness;
    const uri = client.uriOf('src/early.ts');
    // An editor that skips initialize: the document it opens now is not taken.
    await client.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'typescript', version: 1, text: 'const early = 1;\n' } });
    const early: [string, unknown][] = [
      ['efrit/chat', { message: 'Are you there?' }],
      ['efrit/do', { instruction: 'Tidy up.', textDocument: { uri } }],
      ['efrit/status', {}],
      ['efrit/documentText', { textDocument: { uri } }],
      ['workspace/executeCommand', { command: 'efrit.chat', arguments: [{ message: 'Hello?' }] }],
      ['textDocument/codeAction', { textDocument: { uri }, range, context: { diagnostics: [] } }],
    ];
    for (const [method, params] of early) {
      await expect(client.request(method, params), method).rejects.toMatchObject({ code: -32002, data: { reason: 'notInitialized' }, message: expect.stringContaining('initialize') });
    }

    await client.initialize();
    await expect(client.request('efrit/documentText', { textDocument: { uri } })).rejects.toMatchObject({ data: { reason: 'documentNotOpen' } });
    expect(fake.requests).toHaveLength(0);
    fake.queueReplies({ text: 'Here now.' });
    expect(await client.request('efrit/chat', { message: 'And now?' })).toMatchObject({ reply: 'Here now.' });
  });

  it('refuses every request after shutdown with InvalidRequest, calls no model, and still exits 0', async () => {
    harness = await startHarness();
    const { client, fake } = harness;
    const uri = await client.open('src/late.ts', 'const late = 1;\n');
    await client.request('shutdown');
    for (const [method, params] of [
      ['efrit/chat', { message: 'Still there?' }],
      ['efrit/do', { instruction: 'Tidy up.', textDocument: { uri } }],
      ['efrit/status', {}],
      ['workspace/executeCommand', { command: 'efrit.runAction', arguments: [{ actionId: 'explain', textDocument: { uri }, range }] }],
    ] as const) {
      await expect(client.request(method, params), method).rejects.toMatchObject({ code: -32600, data: { reason: 'shutDown' } });
    }
    expect(fake.requests).toHaveLength(0);
    await client.connection.sendNotification('exit');
    expect(await client.waitForExit()).toBe(0);
  });
});

describe('progress and streaming by client capability', () => {
  it('reports $/progress begin, report and end when the client supports work-done progress', async () => {
    harness = await startHarness();
    harness.fake.queueReplies({ text: 'Fine.' });
    await harness.client.request('efrit/chat', { message: 'ok?' });
    await harness.client.waitFor(() => harness?.client.progress.some((p) => p.value.kind === 'end') ?? false, 'progress end');
    const kinds = harness.client.progress.map((p) => p.value.kind);
    expect(kinds[0]).toBe('begin');
    expect(kinds).toContain('report');
    expect(harness.client.progress[0]?.value.title).toBe('Efrit: Chat');
  });

  it('sends no $/progress to a client without it (eglot 1.9), but still streams efrit/stream', async () => {
    harness = await startHarness({ capabilities: eglotCapabilities });
    harness.fake.queueReplies({ text: 'Fine.' });
    const result = await harness.client.request<{ jobId: string }>('efrit/chat', { message: 'ok?' });
    await harness.client.waitFor(() => harness?.client.streams.some((s) => s.kind === 'done') ?? false, 'done note');
    expect(harness.client.progress).toEqual([]);
    expect(harness.client.streamedText(result.jobId)).toBe('Fine.');
  });
});

describe('settings', () => {
  it('accepts initializationOptions wrapped in { efrit } or bare', async () => {
    client = await TestClient.start({ initializationOptions: { efrit: { model: 'claude-opus-5-5', queue: { concurrency: 2 } } } });
    expect(await client.request<StatusResult>('efrit/status', {})).toMatchObject({ model: 'claude-opus-5-5', queue: { concurrency: 2 } });
    await client.stop();
    client = await TestClient.start({ initializationOptions: { model: 'claude-haiku-5-5' } });
    expect(await client.request<StatusResult>('efrit/status', {})).toMatchObject({ model: 'claude-haiku-5-5' });
  });

  it('pulls the efrit section with workspace/configuration and uses it for model calls', async () => {
    harness = await startHarness({ settings: { model: 'claude-fable-5-2', maxTokens: 512 } });
    await harness.client.waitFor(() => harness?.client.logMessages.some((m) => m.message.includes('workspace/configuration')) ?? false, 'settings pulled');
    harness.fake.queueReplies({ text: 'ok' });
    await harness.client.request('efrit/chat', { message: 'which model?' });
    expect(harness.fake.requests[0]?.body).toMatchObject({ model: 'claude-fable-5-2', max_tokens: 512 });
  });

  it('re-reads settings on didChangeConfiguration from clients that push them', async () => {
    client = await TestClient.start({ capabilities: { workspace: { applyEdit: true } } });
    await client.connection.sendNotification('workspace/didChangeConfiguration', { settings: { efrit: { model: 'claude-mythos-5-2' } } });
    await client.waitFor(() => client?.logMessages.some((m) => m.message.includes('settings changed: model')) ?? false, 'settings applied');
    expect(await client.request<StatusResult>('efrit/status', {})).toMatchObject({ model: 'claude-mythos-5-2' });
  });
});
