/**
 * replies — what it costs to take in a model's answer: the streamed reply
 * read through the real SDK by efrit-lsp's model client (SSE parsing, event
 * handling, tool-input JSON reassembled and parsed, the edit checked) for
 * replies from 1K to 100K characters, text and tool calls, against the raw
 * HTTP read of the same response bytes in the same run (the floor: the
 * network part no parser can avoid). Efrit's figure for "JSON parsing" was
 * 5–7 ms from small to large.
 */
import { ModelClient } from '../../../server/src/model/model-client.js';
import { silentLogger } from '../../../server/src/common/logger.js';
import { startFakeAnthropic, type FakeReply } from '../../support/fake-anthropic/server.js';
import { testApiKey } from '../../support/harness.js';
import { fixed, median, type Scenario, type ScenarioContext } from '../scenario.js';
import { generateSource } from '../source-text.js';

const sizes = [1_000, 10_000, 100_000];

function replyOf(kind: 'text' | 'tool', chars: number): FakeReply {
  const code = generateSource(chars, { asciiOnly: false, seed: chars });
  if (kind === 'text') return { text: code, chunkDelayMs: 0 };
  const half = Math.floor(code.length / 2);
  return { toolUses: [{ name: 'propose_edits', input: { summary: 'Rewrites the module.', edits: [{ old_text: code.slice(0, half), new_text: code.slice(half) }] } }] };
}

const request = {
  model: 'claude-sonnet-5-5',
  maxTokens: 128_000,
  system: [{ type: 'text' as const, text: 'You are a benchmark.' }],
  messages: [{ role: 'user' as const, content: 'Answer.' }],
};

export const repliesScenario: Scenario = {
  name: 'replies',
  description: 'taking in streamed replies of 1K–100K chars (text and tool calls) through the SDK, against a raw HTTP read of the same bytes',
  async run(context: ScenarioContext) {
    const rounds = context.quick ? 5 : 25;
    const fake = await startFakeAnthropic({ apiKey: testApiKey, maxLoggedRequests: 10 });
    const client = new ModelClient(() => ({ apiKey: testApiKey, baseURL: fake.url }), silentLogger);
    const rows: string[][] = [];
    const summary: Record<string, { modelClientMs: number; rawReadMs: number }> = {};
    try {
      for (const kind of ['text', 'tool'] as const) {
        for (const chars of sizes) {
          const reply = replyOf(kind, chars);
          fake.respondWith(() => reply);
          const viaClient: number[] = [];
          const raw: number[] = [];
          for (let round = 0; round < rounds + 2; round++) {
            // The raw read: the same request, the response bytes read to the end and nothing parsed.
            let started = performance.now();
            const response = await fetch(`${fake.url}/v1/messages`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-api-key': testApiKey, 'anthropic-version': '2026-10-21' },
              body: JSON.stringify({ model: request.model, max_tokens: request.maxTokens, system: request.system, messages: request.messages, stream: true }),
            });
            await response.arrayBuffer();
            const rawMs = performance.now() - started;
            started = performance.now();
            const answer = await client.call(request, { signal: new AbortController().signal, stallMs: 30_000 });
            const clientMs = performance.now() - started;
            if (kind === 'text' ? answer.text.length !== chars : answer.toolCalls.length !== 1) throw new Error(`reply of ${chars} chars did not come back whole`);
            // The first two rounds warm up the JIT and the SDK's first import.
            if (round >= 2) {
              raw.push(rawMs);
              viaClient.push(clientMs);
            }
          }
          const clientMedian = median(viaClient);
          const rawMedian = median(raw);
          summary[`${kind}-${chars}`] = { modelClientMs: clientMedian, rawReadMs: rawMedian };
          rows.push([kind === 'text' ? 'text' : 'tool call (propose_edits)', chars.toLocaleString('en-US'), fixed(rawMedian, 2), fixed(clientMedian, 2), fixed(clientMedian - rawMedian, 2)]);
          context.progress(`${kind} ${chars}`);
        }
      }
    } finally {
      await fake.close();
    }
    return {
      tables: [
        {
          title: `replies — a streamed answer taken in, medians of ${rounds} rounds (ms)`,
          columns: [{ header: 'reply', align: 'left' }, { header: 'chars' }, { header: 'raw HTTP read' }, { header: 'model client' }, { header: 'parsing and handling' }],
          rows,
          notes: [
            'raw HTTP read = the same request with fetch, the response read to its end, nothing parsed: the floor for moving these bytes over loopback.',
            'model client = ModelClient.call through the real SDK: SSE events parsed, text deltas and input_json_delta pieces gathered, the tool input JSON parsed.',
            "Efrit's own \"JSON parsing\" figure: 5–7 ms from small to large (its note: mostly a garbage collection inside the timing code).",
          ],
        },
      ],
      summary,
      raw: summary,
      goals: [],
    };
  },
};
