/**
 * The API key never reaches the client, the log file or stderr: not as
 * written, not encoded (percent, JSON, HTML), not split across streamed
 * deltas; in notifications, results and errors alike.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatResult, DoResult } from '../../server/src/protocol.js';
import { shouldRunEditorTests } from '../clients/editors.js';
import { inventoryTs } from '../fixtures/samples.js';
import { editReply, startHarness, testApiKey, type Harness } from '../support/harness.js';
import type { TestClient } from '../support/lsp-client.js';

let harness: Harness | undefined;
let logDir: string | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
  if (logDir !== undefined) await rm(logDir, { recursive: true, force: true });
  logDir = undefined;
});

/** A server at the debug log level, also logging to a file, with the test key. */
async function startLogged(): Promise<{ harness: Harness; logFile: string }> {
  logDir = await mkdtemp(join(tmpdir(), 'efrit-secrets-'));
  const logFile = join(logDir, 'efrit.log');
  harness = await startHarness({ env: { EFRIT_LOG_FILE: logFile }, initializationOptions: { logLevel: 'debug' } });
  return { harness, logFile };
}

const percentEncoded = (text: string): string => [...text].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join('');
const jsonEscaped = (text: string): string => [...text].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');

/** `text` with percent-encoding (twice over), JSON \u escapes and HTML references decoded, to look for an encoded key. */
function decoded(text: string): string {
  let out = text;
  for (let round = 0; round < 2; round++) out = out.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return out
    .replace(/\\u([0-9a-f]{4})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
    .replace(/&#x([0-9a-f]+);?/gi, (_, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16)))
    .replace(/&#(\d+);?/g, (_, decimal: string) => String.fromCodePoint(Number.parseInt(decimal, 10)));
}

/** Everything the client was sent (raw, and the streamed text of every job joined), its stderr, and the log file. */
async function everythingSeen(client: TestClient, logFile?: string): Promise<string> {
  const streamedPerJob = [...new Set(client.streams.map((s) => s.jobId))].map((jobId) => client.streamedText(jobId));
  return [
    client.rawTraffic.join(''),
    ...streamedPerJob,
    client.stderr,
    logFile === undefined ? '' : await readFile(logFile, 'utf8'),
  ].join('\n');
}

function expectNoKey(seen: string, key = testApiKey): void {
  expect(seen).not.toContain(key);
  expect(decoded(seen)).not.toContain(key);
}

/** Not even a third of the key, anywhere. */
function expectNoPartOfKey(seen: string): void {
  const plain = decoded(seen);
  for (let at = 0; at + 16 <= testApiKey.length; at++) expect(plain).not.toContain(testApiKey.slice(at, at + 16));
}

describe('the API key', () => {
  it('reaches no log line (at debug level, file included), error, notification or status, even when the API refuses it', async () => {
    logDir = await mkdtemp(join(tmpdir(), 'efrit-secrets-'));
    const logFile = join(logDir, 'efrit.log');
    const settingsKey = 'sk-ant-settings-key-9876543210zyxwvutsrqponm';
    harness = await startHarness({
      env: { EFRIT_LOG_FILE: logFile },
      // A client that pushes its settings, so the key given below is the one used.
      capabilities: { workspace: { applyEdit: true } },
      initializationOptions: { logLevel: 'debug' },
      fake: { apiKey: 'sk-ant-the-one-the-fake-expects-000000000000' },
    });
    const { client } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);
    await expect(client.request('efrit/chat', { message: 'hello', textDocument: { uri } })).rejects.toMatchObject({ data: { reason: 'unauthorized' } });
    // A key given as a setting (and then refused too) is as secret as the environment's.
    await client.connection.sendNotification('workspace/didChangeConfiguration', { settings: { efrit: { apiKey: settingsKey } } });
    await client.waitFor(() => client.logMessages.some((m) => m.message.includes('settings changed: apiKey')), 'the key setting to apply');
    await expect(client.request('efrit/chat', { message: 'hello again' })).rejects.toMatchObject({ data: { reason: 'unauthorized' } });
    await expect(client.request('efrit/chat', { message: 'and a wrong type', sessionId: 42 })).rejects.toBeDefined();
    const status = JSON.stringify(await client.request('efrit/status', {}));

    const log = await readFile(logFile, 'utf8');
    expect(log).toContain('DEBUG');
    const everything = [client.rawTraffic.join(''), client.stderr, log, status, JSON.stringify(client.logMessages), JSON.stringify(client.shownMessages)].join('\n');
    expectNoKey(everything);
    expectNoKey(everything, settingsKey);
  });

  it.each([
    ['two', ['Your key is sk-ant-test-0123', '456789abcdefghijklmnopqrstuvwxyz. Keep it out of the repository.']],
    ['three', ['Your key is sk-ant-', 'test-0123456789', 'abcdefghijklmnopqrstuvwxyz. Keep it out of the repository.']],
    ['many one-character', [...`Your key is ${testApiKey}. Keep it out of the repository.`]],
  ])('is redacted when the model quotes it across %s stream deltas, in the stream and in the reply', async (_how, deltas) => {
    const { harness, logFile } = await startLogged();
    const { client, fake } = harness;
    fake.queueReplies({ text: deltas });

    const result = await client.request<ChatResult>('efrit/chat', { message: 'What is my API key?' });

    expect(result.reply).toBe('Your key is [redacted]. Keep it out of the repository.');
    await client.waitFor(() => client.streams.some((s) => s.jobId === result.jobId && s.kind === 'done'), 'the end of the stream');
    expect(client.streamedText(result.jobId)).toBe('Your key is [redacted]. Keep it out of the repository.');
    expectNoKey(await everythingSeen(client, logFile));
  });

  it("is redacted from a do summary, written plainly or percent-encoded", async () => {
    const { harness, logFile } = await startLogged();
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);
    fake.queueReplies(
      editReply(
        [{ old_text: '  return items.filter((item) => item.stock < treshold);', new_text: '  return items.filter((item) => item.stock < threshold);' }],
        `Fixed the typo. (Called with key ${testApiKey}, or ${percentEncoded(testApiKey)} in the URL.)`,
      ),
    );

    const result = await client.request<DoResult>('efrit/do', { instruction: 'fix the typo', textDocument: { uri }, apply: false });

    expect(result.summary).toBe('Fixed the typo. (Called with key [redacted], or [redacted] in the URL.)');
    expectNoKey(await everythingSeen(client, logFile));
  });

  it('refuses an edit that would write the key into a file, rather than apply it as "[redacted]"', async () => {
    const { harness, logFile } = await startLogged();
    const { client, fake } = harness;
    const uri = await client.open('src/inventory.ts', inventoryTs);
    fake.queueReplies(
      editReply([{ old_text: 'export function lowStock', new_text: `const apiKey = '${testApiKey}';\n\nexport function lowStock` }], 'Hard-coded the key.'),
    );

    await expect(client.request<DoResult>('efrit/do', { instruction: 'hard-code my key', textDocument: { uri } })).rejects.toMatchObject({
      data: { reason: 'invalidEdit' },
      message: expect.stringContaining('contains the API key'),
    });
    expect(client.appliedEdits).toEqual([]);
    expect(client.text(uri)).toBe(inventoryTs);
    expectNoKey(await everythingSeen(client, logFile));
  });

  it.each([
    ['percent-encoded', `Invalid header value for x-api-key: ${percentEncoded(testApiKey)}`],
    ['percent-encoded in lower case, partly', `Bad request to /v1/messages?key=${encodeURIComponent(testApiKey).replace(/[a-z]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)}`],
    ['JSON-escaped', `{"header":"${jsonEscaped(testApiKey)}"} is not a valid header`],
    ['as HTML references', `<p>Unknown key &#${[...testApiKey].map((c) => c.charCodeAt(0)).join(';&#')};</p>`],
  ])('is redacted when a 400 error body echoes it %s', async (_how, message) => {
    const { harness, logFile } = await startLogged();
    const { client, fake } = harness;
    fake.queueReplies({ fault: { kind: 'status', status: 400, message } });

    await expect(client.request('efrit/chat', { message: 'Hello?' })).rejects.toMatchObject({
      data: { reason: 'badRequest' },
      message: expect.stringMatching(/The API rejected the request \(400\)\. The API said: .*\[redacted\]/),
    });

    await client.waitFor(() => client.streams.some((s) => s.kind === 'error'), 'the error note on efrit/stream');
    expectNoKey(await everythingSeen(client, logFile));
  });

  it("leaves no part of the key behind where a long error body's message is cut short", async () => {
    const { harness, logFile } = await startLogged();
    const { client, fake } = harness;
    // The API's explanation is shown up to 300 characters; the key straddles the cut.
    const message = `${'The request could not be processed. '.repeat(7)}Invalid x-api-key: ${testApiKey}`;
    fake.queueReplies({ fault: { kind: 'status', status: 400, message } });

    await expect(client.request('efrit/chat', { message: 'Hello?' })).rejects.toMatchObject({ data: { reason: 'badRequest' } });

    await client.waitFor(() => client.streams.some((s) => s.kind === 'error'), 'the error note on efrit/stream');
    expectNoPartOfKey(await everythingSeen(client, logFile));
  });

  it.skipIf(!shouldRunEditorTests('pylsp'))('is redacted in proxy mode too (--wrap -- pylsp), split across deltas', async () => {
    logDir = await mkdtemp(join(tmpdir(), 'efrit-secrets-'));
    const logFile = join(logDir, 'efrit.log');
    harness = await startHarness({ serverArgs: ['--wrap', '--', 'pylsp'], env: { EFRIT_LOG_FILE: logFile }, initializationOptions: { logLevel: 'debug' } });
    const { client, fake } = harness;
    fake.queueReplies({ text: ['Your key is sk-ant-test-0123', '456789abcdefghijklmnopqrstuvwxyz.'] });

    const result = await client.request<ChatResult>('efrit/chat', { message: 'What is my API key?' });

    expect(result.reply).toBe('Your key is [redacted].');
    await client.waitFor(() => client.streams.some((s) => s.jobId === result.jobId && s.kind === 'done'), 'the end of the stream');
    expect(client.streamedText(result.jobId)).toBe('Your key is [redacted].');
    expectNoKey(await everythingSeen(client, logFile));
  });

  it.skipIf(!shouldRunEditorTests('pylsp'))('never reaches the wrapped server, whose stderr is redacted on its way to the editor', async () => {
    logDir = await mkdtemp(join(tmpdir(), 'efrit-secrets-'));
    // A wrapped server that prints its environment's key, and a file's copy of it, to stderr before it starts.
    const keyFile = join(logDir, 'deploy.txt');
    await writeFile(keyFile, `token=${testApiKey}\n`);
    const script = `echo "child sees key: [$ANTHROPIC_API_KEY]" >&2; cat '${keyFile}' >&2; exec pylsp`;
    harness = await startHarness({ serverArgs: ['--wrap', '--', 'sh', '-c', script] });
    const { client } = harness;
    await client.open('src/app.py', 'import os\n', 'python');
    await client.waitFor(() => client.stderr.includes('token='), "the wrapped server's stderr");
    expect(client.stderr).toContain('child sees key: []');
    expect(client.stderr).toContain('token=[redacted]');
    expectNoKey(await everythingSeen(client));
  });
});
