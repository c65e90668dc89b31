/**
 * The fake Messages API, driven by the real SDK over HTTP: if the SDK can
 * consume it, so can the product code the other tests point at it.
 */
import Anthropic, {
  APIConnectionError,
  APIError,
  AuthenticationError,
  BadRequestError,
  OverloadedError,
  RateLimitError,
} from '@anthropic-ai/sdk';
import type {
  MessageCreateParamsStreaming,
  RawMessageStreamEvent,
  TextBlockParam,
} from '@anthropic-ai/sdk/resources/messages/messages';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCliArguments } from '../support/fake-anthropic/cli-arguments.js';
import {
  minimalValueForSchema,
  startFakeAnthropic,
  type FakeAnthropic,
  type FakeAnthropicOptions,
  type RecordedRequest,
} from '../support/fake-anthropic/server.js';

const silentLogger = { error() {}, warn() {}, info() {}, debug() {} };
const MODEL = 'claude-sonnet-5-5';
const API_KEY = 'sk-test-fake-anthropic-key';

let fake: FakeAnthropic | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function setup(
  options: FakeAnthropicOptions = {},
  clientKey = API_KEY,
): Promise<{ fake: FakeAnthropic; client: Anthropic }> {
  fake = await startFakeAnthropic(options);
  const client = new Anthropic({ apiKey: clientKey, baseURL: fake.url, maxRetries: 0, logger: silentLogger });
  return { fake, client };
}

function streamParams(text = 'hello there', extra: Partial<MessageCreateParamsStreaming> = {}): MessageCreateParamsStreaming {
  return { model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: text }], stream: true, ...extra };
}

async function collect(stream: AsyncIterable<RawMessageStreamEvent>): Promise<RawMessageStreamEvent[]> {
  const events: RawMessageStreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

function textDeltas(events: RawMessageStreamEvent[]): string[] {
  return events.flatMap((event) =>
    event.type === 'content_block_delta' && event.delta.type === 'text_delta' ? [event.delta.text] : [],
  );
}

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function only(requests: RecordedRequest[], index = 0): RecordedRequest {
  const request = requests[index];
  if (request === undefined) throw new Error(`no request #${index} recorded`);
  return request;
}

/** About `tokens` tokens of stable text, under the fake's bytes/4 estimate. */
function filler(tokens: number): string {
  return 'The quick brown fox jumps over the lazy dog. '.repeat(Math.ceil((tokens * 4) / 45));
}

async function rawSseEvents(url: string, body: unknown): Promise<Array<{ event: string | undefined; data: string }>> {
  const response = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2026-10-21', 'x-api-key': API_KEY },
    body: JSON.stringify(body),
  });
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((frame) => frame !== '')
    .map((frame) => {
      const lines = frame.split('\n');
      return {
        event: lines.find((line) => line.startsWith('event: '))?.slice('event: '.length),
        data: lines.find((line) => line.startsWith('data: '))?.slice('data: '.length) ?? '',
      };
    });
}

describe('fake Anthropic: streaming replies', () => {
  it('streams scripted text as the given text_delta chunks, in the real event order', async () => {
    const { fake, client } = await setup();
    fake.queueReplies({ text: ['Hel', 'lo ', 'world'] });

    const events = await collect(await client.messages.create(streamParams()));

    expect(textDeltas(events)).toEqual(['Hel', 'lo ', 'world']);
    expect(events.map((event) => event.type)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const start = events[0];
    expect(start?.type === 'message_start' && start.message.id).toMatch(/^msg_01/);
    const delta = events.find((event) => event.type === 'message_delta');
    expect(delta?.type === 'message_delta' && delta.delta.stop_reason).toBe('end_turn');

    const request = only(fake.requests);
    expect(request.outcome).toBe('completed');
    expect(request.body.messages).toEqual([{ role: 'user', content: 'hello there' }]);
    // SDK 1.x sends `apiKey` as a bearer token, not as x-api-key.
    expect(request.headers['authorization']).toBe('[present]');
    expect(JSON.stringify(fake.requests)).not.toContain(API_KEY);
    expect(request.rawBytes).toBeGreaterThan(0);
  });

  it('frames every event with an event: line and sends a ping after the first block opens', async () => {
    const { fake } = await setup();
    fake.queueReplies({ text: 'one two three' });

    const frames = await rawSseEvents(fake.url, streamParams());

    expect(frames.every((frame) => frame.event !== undefined && JSON.parse(frame.data).type === frame.event)).toBe(true);
    expect(frames.slice(0, 3).map((frame) => frame.event)).toEqual(['message_start', 'content_block_start', 'ping']);
    expect(frames.at(-1)?.event).toBe('message_stop');
  });

  it('keeps a slow stream alive with pings between delayed events', async () => {
    const { fake } = await setup({ pingIntervalMs: 20 });
    fake.queueReplies({ text: ['a', 'b'], chunkDelayMs: 50 });

    const frames = await rawSseEvents(fake.url, streamParams());

    const pings = frames.filter((frame) => frame.event === 'ping').length;
    expect(pings).toBeGreaterThan(5);
  });

  it('echoes the last user message by default, in several chunks', async () => {
    const { client } = await setup();

    const events = await collect(await client.messages.create(streamParams('please rename the variable foo to bar')));

    expect(textDeltas(events).length).toBeGreaterThan(1);
    expect(textDeltas(events).join('')).toBe('(fake) You said: please rename the variable foo to bar');
  });

  it('streams a tool_use whose input_json_delta pieces reassemble into the scripted input', async () => {
    const { fake, client } = await setup();
    const input = { path: 'src/a.ts', edits: [{ line: 3, text: 'const x = "é🙂";' }], dryRun: false };
    fake.queueReplies({ text: 'Editing.', toolUses: [{ name: 'apply_edit', input }] });

    const events = await collect(await client.messages.create(streamParams()));

    const pieces = events.flatMap((event) =>
      event.type === 'content_block_delta' && event.delta.type === 'input_json_delta' ? [event.delta.partial_json] : [],
    );
    expect(pieces.filter((piece) => piece !== '').length).toBeGreaterThan(2);
    expect(JSON.parse(pieces.join(''))).toEqual(input);
    const toolStart = events.find((event) => event.type === 'content_block_start' && event.index === 1);
    expect(toolStart?.type === 'content_block_start' && toolStart.content_block).toMatchObject({
      type: 'tool_use',
      name: 'apply_edit',
      id: expect.stringMatching(/^toolu_01/),
    });
    const delta = events.find((event) => event.type === 'message_delta');
    expect(delta?.type === 'message_delta' && delta.delta.stop_reason).toBe('tool_use');
  });

  it("is accumulated by the SDK's MessageStream into the final message", async () => {
    const { fake, client } = await setup();
    fake.queueReplies({ thinking: 'Let me think.', text: 'Done.', toolUses: [{ name: 'run', input: { cmd: 'ls' }, id: 'toolu_fixed' }] });

    const message = await client.messages
      .stream({ model: MODEL, max_tokens: 2048, messages: [{ role: 'user', content: 'go' }] })
      .finalMessage();

    expect(message.content.map((block) => block.type)).toEqual(['thinking', 'text', 'tool_use']);
    expect(message.content[2]).toMatchObject({ type: 'tool_use', id: 'toolu_fixed', input: { cmd: 'ls' } });
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage.output_tokens).toBeGreaterThan(1);
  });

  it('answers a forced tool_choice with a minimal input built from the schema', async () => {
    const { client } = await setup();
    const schema = {
      type: 'object' as const,
      properties: { title: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } }, note: { type: 'string' } },
      required: ['title', 'tags'],
    };

    const message = await client.messages.create({
      model: MODEL,
      max_tokens: 256,
      messages: [{ role: 'user', content: 'name it' }],
      tools: [{ name: 'set_title', description: 'Sets the title', input_schema: schema }],
      tool_choice: { type: 'tool', name: 'set_title' },
    });

    expect(message.content).toEqual([
      expect.objectContaining({ type: 'tool_use', name: 'set_title', input: { title: '', tags: [] } }),
    ]);
    expect(minimalValueForSchema({ type: ['integer', 'null'], minimum: 2 })).toBe(2);
  });
});

describe('fake Anthropic: usage and prompt caching', () => {
  const cachedSystem = (ttl?: '1h'): TextBlockParam[] => [
    { type: 'text', text: filler(2000), cache_control: ttl === undefined ? { type: 'ephemeral' } : { type: 'ephemeral', ttl } },
  ];

  it('writes a breakpoint prefix on first sight and reads it on an identical prefix', async () => {
    const { fake, client } = await setup();

    const first = await collect(
      await client.messages.create(streamParams('first question', { system: cachedSystem() })),
    );
    const second = await collect(
      await client.messages.create(streamParams('a different second question', { system: cachedSystem() })),
    );

    const firstStart = first[0];
    if (firstStart?.type !== 'message_start') throw new Error('no message_start');
    const written = firstStart.message.usage.cache_creation_input_tokens ?? 0;
    expect(written).toBeGreaterThanOrEqual(1024);
    expect(firstStart.message.usage.cache_read_input_tokens).toBe(0);
    expect(firstStart.message.usage.cache_creation).toEqual({ ephemeral_5m_input_tokens: written, ephemeral_1h_input_tokens: 0 });
    expect(firstStart.message.usage.input_tokens).toBeGreaterThan(0);

    const finalUsage = second.find((event) => event.type === 'message_delta');
    if (finalUsage?.type !== 'message_delta') throw new Error('no message_delta');
    expect(finalUsage.usage.cache_read_input_tokens).toBe(written);
    expect(finalUsage.usage.cache_creation_input_tokens).toBe(0);
    expect(only(fake.requests, 1).usage).toMatchObject({ cache_read_input_tokens: written, cache_creation_input_tokens: 0 });
  });

  it('does not cache a prefix shorter than the minimum', async () => {
    const { fake, client } = await setup();
    const shortSystem: TextBlockParam[] = [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }];

    await collect(await client.messages.create(streamParams('q1', { system: shortSystem })));
    await collect(await client.messages.create(streamParams('q2', { system: shortSystem })));

    for (const request of fake.requests) {
      expect(request.usage).toMatchObject({ cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
      expect(request.usage?.input_tokens).toBeGreaterThan(0);
    }
  });

  it('expires a 5m entry on the injected clock, keeps a 1h one, and forgets everything on resetCache', async () => {
    let clock = 1_000_000;
    const { fake, client } = await setup({ now: () => clock });
    const send = async (system: TextBlockParam[]): Promise<void> => {
      await client.messages.create({ model: MODEL, max_tokens: 64, system, messages: [{ role: 'user', content: 'hi' }] });
    };

    await send(cachedSystem());
    clock += 6 * 60_000;
    await send(cachedSystem());
    expect(only(fake.requests, 1).usage?.cache_read_input_tokens).toBe(0);
    expect(only(fake.requests, 1).usage?.cache_creation_input_tokens).toBeGreaterThan(0);

    await send(cachedSystem('1h'));
    clock += 30 * 60_000;
    await send(cachedSystem('1h'));
    expect(only(fake.requests, 3).usage?.cache_read_input_tokens).toBeGreaterThan(0);

    fake.resetCache();
    await send(cachedSystem('1h'));
    expect(only(fake.requests, 4).usage?.cache_read_input_tokens).toBe(0);
  });

  it('pre-warms the cache with max_tokens 0 and generates nothing', async () => {
    const { fake, client } = await setup();

    const warm = await client.messages.create({ model: MODEL, max_tokens: 0, system: cachedSystem(), messages: [{ role: 'user', content: 'hi' }] });
    await client.messages.create({ model: MODEL, max_tokens: 64, system: cachedSystem(), messages: [{ role: 'user', content: 'real' }] });

    expect(warm).toMatchObject({ content: [], stop_reason: 'max_tokens', usage: { output_tokens: 0 } });
    expect(only(fake.requests, 1).usage?.cache_read_input_tokens).toBe(warm.usage.cache_creation_input_tokens);
  });

  it('rejects a 1h breakpoint after a 5m one, as longer TTLs must come first', async () => {
    const { client } = await setup();
    const system: TextBlockParam[] = [
      { type: 'text', text: 'a', cache_control: { type: 'ephemeral' } },
      { type: 'text', text: 'b', cache_control: { type: 'ephemeral', ttl: '1h' } },
    ];

    await expect(client.messages.create(streamParams('x', { system }))).rejects.toBeInstanceOf(BadRequestError);
  });

  it('with top-level automatic caching, a growing conversation reads what the previous turn wrote', async () => {
    const { fake, client } = await setup();
    const turn1 = [{ role: 'user' as const, content: filler(1500) }];
    const turn2 = [
      ...turn1,
      { role: 'assistant' as const, content: 'Noted.' },
      { role: 'user' as const, content: 'And now?' },
    ];

    await client.messages.create({ model: MODEL, max_tokens: 64, cache_control: { type: 'ephemeral' }, messages: turn1 });
    await client.messages.create({ model: MODEL, max_tokens: 64, cache_control: { type: 'ephemeral' }, messages: turn2 });

    const first = only(fake.requests, 0).usage;
    const second = only(fake.requests, 1).usage;
    expect(first?.cache_creation_input_tokens).toBeGreaterThan(0);
    expect(first?.input_tokens).toBe(0);
    expect(second?.cache_read_input_tokens).toBe(first?.cache_creation_input_tokens);
    expect(second?.cache_creation_input_tokens).toBeGreaterThan(0);
  });
});

describe('fake Anthropic: errors', () => {
  it('answers a scripted 429 with retry-after, surfacing as RateLimitError', async () => {
    const { fake, client } = await setup();
    fake.queueReplies({ fault: { kind: 'status', status: 429, retryAfterSeconds: 7 } });

    const error = await client.messages.create(streamParams()).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(RateLimitError);
    const rateLimit = error as RateLimitError;
    expect(rateLimit.headers.get('retry-after')).toBe('7');
    expect(rateLimit.type).toBe('rate_limit_error');
    expect(rateLimit.requestID).toMatch(/^req_01/);
    expect(rateLimit.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' }, request_id: rateLimit.requestID });
    expect(only(fake.requests).outcome).toBe('error-status');
  });

  it('answers a scripted 529 as OverloadedError, and maps an error code to the details', async () => {
    const { fake, client } = await setup();
    fake.queueReplies({ fault: { kind: 'status', status: 529 } }, { fault: { kind: 'status', status: 429, errorCode: 'ramp_limit_exceeded' } });

    const overloaded = await client.messages.create(streamParams()).catch((caught: unknown) => caught);
    const ramp = await client.messages.create(streamParams()).catch((caught: unknown) => caught);

    expect(overloaded).toBeInstanceOf(OverloadedError);
    expect((overloaded as OverloadedError).type).toBe('overloaded_error');
    expect((ramp as APIError).errorCode).toBe('ramp_limit_exceeded');
  });

  it('rejects a wrong API key with 401, accepts the right one, and never logs either', async () => {
    const { fake, client } = await setup({ apiKey: 'sk-the-right-key' }, 'sk-a-wrong-key');
    const rightClient = new Anthropic({ apiKey: 'sk-the-right-key', baseURL: fake.url, maxRetries: 0, logger: silentLogger });

    await expect(client.messages.create(streamParams())).rejects.toBeInstanceOf(AuthenticationError);
    await collect(await rightClient.messages.create(streamParams()));
    const viaHeader = await fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'anthropic-version': '2026-10-21', 'x-api-key': 'sk-the-right-key' },
      body: JSON.stringify({ ...streamParams(), stream: false }),
    });

    expect(fake.requests.map((request) => request.apiKeyMatched)).toEqual([false, true, true]);
    expect(viaHeader.status).toBe(200);
    expect(JSON.stringify(fake.requests)).not.toMatch(/sk-a-wrong-key|sk-the-right-key/);
  });

  it('rejects temperature, which this API version removed', async () => {
    const { client } = await setup();
    const withTemperature = { ...streamParams(), temperature: 0.2 };

    const error = await client.messages.create(withTemperature).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).apiMessage).toContain('temperature');
  });

  it('rejects five cache breakpoints with the real message', async () => {
    const { client } = await setup();
    const system: TextBlockParam[] = Array.from({ length: 5 }, (_, index) => ({
      type: 'text',
      text: `part ${index}`,
      cache_control: { type: 'ephemeral' },
    }));

    const error = await client.messages.create(streamParams('hi', { system })).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).apiMessage).toBe('A maximum of 4 blocks with cache_control may be provided. Found 5.');
  });

  it('checks tool_result ids against the previous assistant turn and tool_choice against tools', async () => {
    const { client } = await setup();
    const tools = [{ name: 'read_file', input_schema: { type: 'object' as const, properties: {} } }];
    const conversation = (...answeredIds: string[]): MessageCreateParamsStreaming['messages'] => [
      { role: 'user', content: 'read it' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'read_file', input: {} }] },
      { role: 'user', content: answeredIds.map((id) => ({ type: 'tool_result' as const, tool_use_id: id, content: 'text' })) },
    ];

    await expect(
      collect(await client.messages.create(streamParams('x', { tools, messages: conversation('toolu_1') }))),
    ).resolves.toBeDefined();
    await expect(
      client.messages.create(streamParams('x', { tools, messages: conversation('toolu_1', 'toolu_2') })),
    ).rejects.toThrow(/unexpected `tool_use_id` found in `tool_result` blocks: toolu_2/);
    await expect(client.messages.create(streamParams('x', { tools, messages: conversation('toolu_9') }))).rejects.toThrow(
      /`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1/,
    );
    await expect(
      client.messages.create(streamParams('x', { tools, tool_choice: { type: 'tool', name: 'write_file' } })),
    ).rejects.toBeInstanceOf(BadRequestError);
  });

  it('answers other paths with 404 and a missing anthropic-version with 400, in the real error shape', async () => {
    const { fake } = await setup();

    const notFound = await fetch(`${fake.url}/v1/complete`, { method: 'POST', body: '{}' });
    const noVersion = await fetch(`${fake.url}/v1/messages`, { method: 'POST', body: JSON.stringify(streamParams()) });

    expect(notFound.status).toBe(404);
    const notFoundBody = (await notFound.json()) as { type: string; error: { type: string }; request_id: string };
    expect(notFoundBody).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    expect(notFound.headers.get('request-id')).toBe(notFoundBody.request_id);
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toMatchObject({ error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' } });
  });
});

describe('fake Anthropic: stream faults', () => {
  it('stalls until the client aborts, and records aborted-by-client', async () => {
    const { fake, client } = await setup();
    fake.queueReplies({ text: 'never finished', fault: { kind: 'stall', afterEvents: 2 } });
    const controller = new AbortController();

    const stream = await client.messages.create(streamParams(), { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const events = await collect(stream);

    expect(events.map((event) => event.type)).toEqual(['message_start', 'content_block_start']);
    await until(() => only(fake.requests).outcome === 'aborted-by-client');
  });

  it('closes promptly even with a stalled stream open', async () => {
    const { fake, client } = await setup();
    fake.queueReplies({ text: 'x', fault: { kind: 'stall', afterEvents: 1 } });
    const stream = await client.messages.create(streamParams());
    const consumed = collect(stream).catch((caught: unknown) => caught);

    await fake.close();

    expect(await consumed).toBeInstanceOf(Error);
    expect(only(fake.requests).outcome).toBe('fault');
  });

  it('drops the socket mid-stream, which the SDK reports as an error', async () => {
    const { fake, client } = await setup();
    fake.queueReplies({ text: ['a', 'b', 'c'], fault: { kind: 'drop', afterEvents: 4 } });

    await expect(collect(await client.messages.create(streamParams()))).rejects.toThrow();
    expect(only(fake.requests).outcome).toBe('fault');
  });

  it('sends an event whose data is not JSON, which the SDK fails to parse', async () => {
    const { fake, client } = await setup();
    fake.queueReplies({ text: 'abc', fault: { kind: 'malformed', afterEvents: 3 } });

    await expect(collect(await client.messages.create(streamParams()))).rejects.toThrow(SyntaxError);
  });

  it('ends cleanly without message_stop on noStop', async () => {
    const { fake, client } = await setup();
    fake.queueReplies({ text: 'abc', fault: { kind: 'noStop' } });

    const events = await collect(await client.messages.create(streamParams()));

    expect(events.some((event) => event.type === 'message_delta')).toBe(true);
    expect(events.some((event) => event.type === 'message_stop')).toBe(false);
  });

  it('sends event: error mid-stream, which the SDK throws as an APIError of that type', async () => {
    const { fake, client } = await setup();
    fake.queueReplies({ text: 'abc', fault: { kind: 'streamError', afterEvents: 3 } });

    const error = await collect(await client.messages.create(streamParams())).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).type).toBe('overloaded_error');
    expect(only(fake.requests).errorType).toBe('overloaded_error');
  });

  it('refuses the connection, which the SDK reports as a connection error', async () => {
    const { fake, client } = await setup();
    fake.queueReplies({ fault: { kind: 'refuseConnection' } });

    await expect(client.messages.create(streamParams())).rejects.toBeInstanceOf(APIConnectionError);
  });
});

describe('fake Anthropic: plain responses, log and CLI', () => {
  it('answers a non-streaming request with a Message', async () => {
    const { fake, client } = await setup();
    fake.queueReplies({ text: 'Plain answer.' });

    const message = await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'q' }] });

    expect(message).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: MODEL,
      content: [{ type: 'text', text: 'Plain answer.' }],
      stop_reason: 'end_turn',
    });
    expect(message.id).toMatch(/^msg_01/);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(message.usage.input_tokens).toBeGreaterThan(0);
  });

  it('uses the responder after the scripted queue, bounds the log and waits for requests', async () => {
    const { fake, client } = await setup({ maxLoggedRequests: 2 });
    fake.queueReplies({ text: 'scripted' });
    fake.respondWith((request, index) => ({ text: `reply ${index} to ${request.body.model}` }));
    const ask = async (): Promise<string> => {
      const message = await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'q' }] });
      return message.content[0]?.type === 'text' ? message.content[0].text : '';
    };

    const replies = [await ask(), await ask(), await ask()];
    await fake.waitForRequests(3, 100);

    expect(replies).toEqual(['scripted', `reply 1 to ${MODEL}`, `reply 2 to ${MODEL}`]);
    expect(fake.requests.map((request) => request.index)).toEqual([1, 2]);
    await expect(fake.waitForRequests(4, 20)).rejects.toThrow(/waited 20 ms for 4 requests, got 3/);
  });

  it('waits the scripted latency, accepts a gzip body and bounds the log by bytes too', async () => {
    const { fake } = await setup({ maxLoggedBytes: 1 });
    fake.queueReplies({ text: 'late', latencyMs: 60 });
    const body = gzipSync(JSON.stringify({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'zipped' }] }));
    const post = (): Promise<Response> =>
      fetch(`${fake.url}/v1/messages`, {
        method: 'POST',
        headers: { 'anthropic-version': '2026-10-21', 'content-encoding': 'gzip', 'content-type': 'application/json' },
        body,
      });

    const startedAt = Date.now();
    const first = await post();
    const elapsed = Date.now() - startedAt;
    await post();

    expect(first.status).toBe(200);
    expect(elapsed).toBeGreaterThanOrEqual(55);
    expect(fake.requests.map((request) => request.index)).toEqual([1]);
    expect(only(fake.requests).body.messages).toEqual([{ role: 'user', content: 'zipped' }]);
    expect(only(fake.requests).rawBytes).toBe(body.length);
  });

  it('parses the CLI arguments', () => {
    expect(parseCliArguments(['--port', '8765', '--latency-ms', '20-80', '--api-key', 'k'])).toEqual({
      port: 8765,
      latencyMs: [20, 80],
      apiKey: 'k',
    });
    expect(parseCliArguments(['--latency-ms', '15'])).toEqual({ latencyMs: 15 });
    expect(() => parseCliArguments(['--port'])).toThrow(/needs a value/);
    expect(() => parseCliArguments(['--colour', 'red'])).toThrow(/unknown option/);
  });
});
