/**
 * The SDK's own floor for the `latency` scenario: a bare Node process that
 * makes one streamed Messages call per line it reads on stdin — the body it
 * was started with, one SDK client made at start, as any program would —
 * writes `text` when the first text delta comes out of the SDK's iterator and
 * `done` when the answer has ended. Started like the server (a child with
 * piped stdio), so both arms pay the same process hops; only what efrit-lsp
 * adds differs.
 *
 *   node sdk-floor-child.js BASE_URL API_KEY BODY_FILE
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import Anthropic from '@anthropic-ai/sdk';
import type { MessageCreateParamsStreaming } from '@anthropic-ai/sdk/resources/messages/messages';

const [baseURL, apiKey, bodyFile] = process.argv.slice(2);
if (baseURL === undefined || apiKey === undefined || bodyFile === undefined) throw new Error('usage: sdk-floor-child.js BASE_URL API_KEY BODY_FILE');
const body = JSON.parse(readFileSync(bodyFile, 'utf8')) as MessageCreateParamsStreaming;
const client = new Anthropic({ apiKey, baseURL, maxRetries: 0, logLevel: 'off' });

for await (const _line of createInterface({ input: process.stdin })) {
  const stream = await client.messages.create({ ...body, stream: true });
  let sawText = false;
  for await (const event of stream) {
    if (!sawText && event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
      sawText = true;
      process.stdout.write('text\n');
    }
  }
  process.stdout.write('done\n');
}
