import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inventoryTs } from '../fixtures/samples.js';
import { startHarness, testApiKey, type Harness } from '../support/harness.js';

let harness: Harness | undefined;
let logDir: string | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
  if (logDir !== undefined) await rm(logDir, { recursive: true, force: true });
});

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
    expect(everything).not.toContain(testApiKey);
    expect(everything).not.toContain(settingsKey);
  });
});
