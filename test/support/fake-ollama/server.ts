/**
 * A fake Ollama server on loopback, speaking the native API the `ollama`
 * library uses, written from Ollama's API reference (docs/api.md):
 *
 * - `POST /api/chat` with `stream: true` answers `application/x-ndjson`, one
 *   JSON object per line: `{ model, created_at, message: { role: "assistant",
 *   content }, done: false }` for each piece of text; tool calls come whole in
 *   one line's `message.tool_calls` (`{ function: { name, arguments } }`, the
 *   arguments an object); the last line has `done: true`, `done_reason`
 *   (`stop`, `length`), and `total_duration`, `load_duration`,
 *   `prompt_eval_count`, `prompt_eval_duration`, `eval_count`, `eval_duration`.
 * - A model it does not have: 404 with `{"error":"model \"x\" not found, try pulling it first"}`.
 *
 * Token counts are estimated (four characters a token), deterministic for a
 * given request and reply. A reply may `hold` on a gate after some lines, to
 * observe the client hanging up.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface FakeOllamaToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

export interface FakeOllamaReply {
  /** Text, in the pieces it streams as. */
  text?: string | string[];
  toolCalls?: FakeOllamaToolCall[];
  /** @default 'stop' */
  doneReason?: string;
  /** After this many lines, wait for `until` (or the client hanging up) before going on. */
  hold?: { until: Promise<unknown>; afterLines: number };
}

export interface OllamaChatBody {
  model?: string;
  stream?: boolean;
  messages?: { role?: string; content?: string; tool_calls?: { function?: { name?: string; arguments?: unknown } }[]; tool_name?: string }[];
  tools?: { type?: string; function?: { name?: string; description?: string; parameters?: Record<string, unknown> } }[];
  options?: { num_predict?: number };
}

export interface RecordedOllamaRequest {
  path: string;
  body: OllamaChatBody;
  status: number;
  outcome: 'pending' | 'completed' | 'error-status' | 'aborted-by-client';
  promptEvalCount: number;
  evalCount: number;
}

/** Answers a request no reply was queued for (the offline demo's model); without one the answer is "OK.". */
export type OllamaResponder = (request: RecordedOllamaRequest) => FakeOllamaReply;

export interface FakeOllama {
  /** `http://127.0.0.1:<port>`, as `ollama.baseURL` or OLLAMA_HOST takes it. */
  readonly baseURL: string;
  readonly requests: RecordedOllamaRequest[];
  queueReplies(...replies: FakeOllamaReply[]): void;
  close(): Promise<void>;
}

const tokensOf = (text: string): number => Math.max(1, Math.ceil(text.length / 4));

function waitOrHangUp(until: Promise<unknown>, response: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    if (response.destroyed) return resolve(false);
    response.once('close', () => resolve(false));
    void until.then(() => resolve(!response.destroyed));
  });
}

export async function startFakeOllama(options: { models?: readonly string[]; respond?: OllamaResponder } = {}): Promise<FakeOllama> {
  const models = new Set(options.models ?? ['qwen2.5-coder:7b']);
  const requests: RecordedOllamaRequest[] = [];
  const scripted: FakeOllamaReply[] = [];
  const sockets = new Set<Socket>();

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
    const path = request.url ?? '';
    let body: OllamaChatBody = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OllamaChatBody;
    } catch {
      response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid JSON' }));
      return;
    }
    const entry: RecordedOllamaRequest = { path, body, status: 200, outcome: 'pending', promptEvalCount: 0, evalCount: 0 };
    requests.push(entry);
    response.on('close', () => {
      if (entry.outcome === 'pending') entry.outcome = 'aborted-by-client';
    });
    const fail = (status: number, error: string): void => {
      entry.status = status;
      entry.outcome = 'error-status';
      response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error }));
    };
    if (request.method !== 'POST' || path !== '/api/chat') return fail(404, '404 page not found');
    const model = body.model ?? '';
    if (!models.has(model)) return fail(404, `model "${model}" not found, try pulling it first`);

    const reply = scripted.shift() ?? options.respond?.(entry) ?? { text: 'OK.' };
    const pieces = reply.text === undefined ? [] : Array.isArray(reply.text) ? reply.text : [reply.text];
    const createdAt = '2026-12-06T18:00:00.000000Z';
    const lines: object[] = pieces.map((content) => ({ model, created_at: createdAt, message: { role: 'assistant', content }, done: false }));
    if (reply.toolCalls !== undefined && reply.toolCalls.length > 0) {
      lines.push({ model, created_at: createdAt, message: { role: 'assistant', content: '', tool_calls: reply.toolCalls.map((call) => ({ function: { name: call.name, arguments: call.arguments } })) }, done: false });
    }
    const generated = pieces.join('') + JSON.stringify(reply.toolCalls ?? []);
    entry.promptEvalCount = tokensOf(JSON.stringify(body.messages ?? []) + JSON.stringify(body.tools ?? []));
    entry.evalCount = tokensOf(generated);
    lines.push({
      model,
      created_at: createdAt,
      message: { role: 'assistant', content: '' },
      done: true,
      done_reason: reply.doneReason ?? 'stop',
      total_duration: 4_883_583_458,
      load_duration: 1_334_875,
      prompt_eval_count: entry.promptEvalCount,
      prompt_eval_duration: 342_546_000,
      eval_count: entry.evalCount,
      eval_duration: 4_535_599_000,
    });
    response.writeHead(200, { 'content-type': 'application/x-ndjson' });
    for (const [index, line] of lines.entries()) {
      if (reply.hold?.afterLines === index && !(await waitOrHangUp(reply.hold.until, response))) return;
      response.write(`${JSON.stringify(line)}\n`);
    }
    entry.outcome = 'completed';
    response.end();
  }

  const server: Server = createServer((request, response) => void handle(request, response));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake-ollama: no TCP address');
  let closing: Promise<void> | undefined;
  return {
    baseURL: `http://127.0.0.1:${address.port}`,
    requests,
    queueReplies: (...replies) => void scripted.push(...replies),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
