/**
 * The real server as a child process whose `model` is an `openai:` model,
 * pointed at the fake Chat Completions API on loopback (the real `openai` SDK
 * talks to it). The Anthropic side has no key and no endpoint, so a call that
 * went there by mistake fails loudly.
 */
import { startFakeOpenAI, type FakeChatReply, type FakeOpenAI, type FakeOpenAIOptions } from './fake-openai/server.js';
import { TestClient, type TestClientOptions } from './lsp-client.js';

/** Long enough to look real, so a leak is found by grepping for it. */
export const testOpenAIKey = 'sk-proj-test-0123456789abcdefghijklmnopqrstuvwxyzABCD';
export const openaiModel = 'openai:gpt-4.1';

export interface OpenAIHarness {
  fake: FakeOpenAI;
  client: TestClient;
  stop(): Promise<void>;
}

export async function startOpenAIHarness(
  options: TestClientOptions & { fake?: FakeOpenAIOptions; apiKey?: string | null; settings?: Record<string, unknown> } = {},
): Promise<OpenAIHarness> {
  const fake = await startFakeOpenAI({ apiKey: testOpenAIKey, ...options.fake });
  const key = options.apiKey === null ? undefined : (options.apiKey ?? testOpenAIKey);
  const client = await TestClient.start({
    ...options,
    initializationOptions: { model: openaiModel, fastModel: openaiModel, ...options.settings, openai: { baseURL: fake.baseURL, ...(options.settings?.['openai'] as object | undefined) } },
    env: { OPENAI_API_KEY: key, OPENAI_BASE_URL: undefined, OPENAI_ORG_ID: undefined, OPENAI_PROJECT_ID: undefined, ...options.env },
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

/** The answer a model gives when it edits: one propose_edits function call. */
export function editCall(edits: { old_text: string; new_text: string }[], summary = 'Edited as asked.', extra: Partial<FakeChatReply> = {}): FakeChatReply {
  return { toolCalls: [{ name: 'propose_edits', arguments: { summary, edits } }], ...extra };
}
