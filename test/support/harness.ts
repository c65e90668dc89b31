/**
 * One line to get what most integration tests need: the fake Messages API on
 * loopback and the real server as a child process pointed at it.
 */
import { startFakeAnthropic, type FakeAnthropic, type FakeAnthropicOptions, type FakeReply } from './fake-anthropic/server.js';
import { TestClient, type TestClientOptions } from './lsp-client.js';

/** Long enough to look real, so a leak is found by grepping for it. */
export const testApiKey = 'sk-ant-test-0123456789abcdefghijklmnopqrstuvwxyz';

export interface Harness {
  fake: FakeAnthropic;
  client: TestClient;
  stop(): Promise<void>;
}

export async function startHarness(options: TestClientOptions & { fake?: FakeAnthropicOptions; apiKey?: string | null } = {}): Promise<Harness> {
  const fake = await startFakeAnthropic({ apiKey: testApiKey, ...options.fake });
  const key = options.apiKey === null ? undefined : (options.apiKey ?? testApiKey);
  const client = await TestClient.start({
    ...options,
    env: { ANTHROPIC_API_KEY: key, ANTHROPIC_BASE_URL: fake.url, ...options.env },
  });
  return {
    fake,
    client,
    async stop() {
      await client.stop();
      await fake.close();
    },
  };
}

/** The reply a model gives when it edits: one propose_edits call. */
export function editReply(edits: { old_text: string; new_text: string }[], summary = 'Edited as asked.', extra: Partial<FakeReply> = {}): FakeReply {
  return { toolUses: [{ name: 'propose_edits', input: { summary, edits } }], ...extra };
}
