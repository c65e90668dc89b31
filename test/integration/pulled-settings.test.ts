import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationRequest } from 'vscode-languageserver-protocol/node';
import type { ChatResult, StatusResult } from '../../server/src/protocol.js';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic/server.js';
import { testApiKey } from '../support/harness.js';
import { gate, never } from '../support/gate.js';
import { TestClient } from '../support/lsp-client.js';

let client: TestClient | undefined;
let fake: FakeAnthropic | undefined;
afterEach(async () => {
  await client?.stop();
  await fake?.close();
  client = undefined;
  fake = undefined;
});

/**
 * A client like VS Code with the key in its settings (efrit.apiKey) and none in the environment, whose answer
 * to workspace/configuration waits for `answer`; `asked` opens when the server has asked.
 */
async function clientWithKeyInSettings(answer: Promise<void>, baseURL = 'http://127.0.0.1:9'): Promise<{ client: TestClient; asked: Promise<void> }> {
  const started = await TestClient.start({ initialize: false });
  const asked = gate();
  started.connection.onRequest(ConfigurationRequest.type, async (params) => {
    asked.open();
    await answer;
    return params.items.map((item) => (item.section === 'efrit' ? { apiKey: testApiKey, baseURL } : null));
  });
  await started.initialize();
  return { client: started, asked: asked.opened };
}

describe('settings pulled from the client', () => {
  it('status asked before the pulled settings arrive reports the key they carry, not "no API key"', async () => {
    const settings = gate();
    const started = await clientWithKeyInSettings(settings.opened);
    client = started.client;
    await started.asked;

    const status = client.request<StatusResult>('efrit/status', {});
    // The status request is with the server before the settings are: it must wait for them.
    settings.open();
    expect((await status).apiKeyConfigured).toBe(true);
    expect(JSON.stringify(client.rawTraffic)).not.toContain(testApiKey);
  });

  it('says "no API key" in the log only after the pulled settings arrived without one', async () => {
    const withKey = await clientWithKeyInSettings(Promise.resolve());
    client = withKey.client;
    expect((await client.request<StatusResult>('efrit/status', {})).apiKeyConfigured).toBe(true);
    expect(client.logMessages.map((m) => m.message)).not.toContainEqual(expect.stringContaining('No API key yet'));
    await client.stop();

    client = await TestClient.start({ settings: { model: 'claude-sonnet-5-5' } });
    await client.waitFor(() => client?.logMessages.some((m) => m.message.includes('No API key yet')) ?? false, 'the no-key note');
    expect((await client.request<StatusResult>('efrit/status', {})).apiKeyConfigured).toBe(false);
  });

  it('runs a chat sent before the pulled settings arrive with the key and endpoint they carry', async () => {
    fake = await startFakeAnthropic({ apiKey: testApiKey });
    fake.queueReplies({ text: 'Hello from the configured endpoint.' });
    const settings = gate();
    const started = await clientWithKeyInSettings(settings.opened, fake.url);
    client = started.client;
    await started.asked;

    const reply = client.request<ChatResult>('efrit/chat', { message: 'Hello?' });
    settings.open();

    expect((await reply).reply).toBe('Hello from the configured endpoint.');
    expect(fake.requests.map((request) => request.apiKeyMatched)).toEqual([true]);
  });

  it('still answers status when the client never answers workspace/configuration', async () => {
    const started = await clientWithKeyInSettings(never);
    client = started.client;
    await started.asked;
    const status = await client.request<StatusResult>('efrit/status', {});
    expect(status.apiKeyConfigured).toBe(false);
  });
});
