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
 * - `POST /api/generate` with `prompt` and `suffix` (fill in the middle):
 *   the same NDJSON with `response` pieces in place of `message`, and a last
 *   line with `done: true`, `done_reason`, `context` and the same counts; the
 *   text is cut before the first of `options.stop`. A `suffix` to a model
 *   whose template has none: 400 with
 *   `{"error":"registry.ollama.ai/library/<model> does not support insert"}`.
 * - `POST /api/show` with `model`: its description (`modelfile`,
 *   `parameters`, `template`, `details`, `model_info`, `modified_at`) and
 *   `capabilities` (`completion`, `insert`, `tools`), which an older Ollama
 *   leaves out (`reportCapabilities: false`). Look-ups are logged in `shown`,
 *   not in `requests`, which holds the model calls.
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
  /** Answer with this HTTP status and `{"error": error}` instead, as Ollama does (503 "server busy…" when its queue is full). */
  refuse?: { status: number; error: string };
}

export interface OllamaChatBody {
  model?: string;
  stream?: boolean;
  /** /api/generate: the text before the cursor. */
  prompt?: string;
  /** /api/generate: the text after the cursor. */
  suffix?: string;
  messages?: { role?: string; content?: string; tool_calls?: { function?: { name?: string; arguments?: unknown } }[]; tool_name?: string }[];
  tools?: { type?: string; function?: { name?: string; description?: string; parameters?: Record<string, unknown> } }[];
  options?: { num_predict?: number; stop?: string[]; temperature?: number };
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
  /** The model calls: /api/chat and /api/generate. */
  readonly requests: RecordedOllamaRequest[];
  /** The models /api/show was asked about, in order. */
  readonly shown: string[];
  queueReplies(...replies: FakeOllamaReply[]): void;
  /** Answers every call the queue has no reply for. */
  respondWith(responder: (request: RecordedOllamaRequest) => FakeOllamaReply): void;
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

export interface FakeOllamaOptions {
  /** The models it has, each with its capabilities. @default qwen2.5-coder:7b with completion, insert and tools */
  models?: Readonly<Record<string, readonly string[]>>;
  /** An Ollama from before /api/show reported capabilities. @default true */
  reportCapabilities?: boolean;
  /** Answers a request when no reply is queued. @default the responder set with `respondWith`, else "OK." */
  respond?: OllamaResponder;
}

export const defaultOllamaModels: Readonly<Record<string, readonly string[]>> = { 'qwen2.5-coder:7b': ['completion', 'insert', 'tools'] };

/** Ollama names a model by its full registry name in some errors. */
const registryName = (model: string): string => `registry.ollama.ai/library/${model.includes(':') ? model : `${model}:latest`}`;

function cutAtStop(pieces: readonly string[], stop: readonly string[] | undefined): { pieces: string[]; stopped: boolean } {
  const text = pieces.join('');
  const at = Math.min(...(stop ?? []).filter((sequence) => sequence !== '').map((sequence) => text.indexOf(sequence)).filter((index) => index >= 0));
  if (!Number.isFinite(at)) return { pieces: [...pieces], stopped: false };
  const kept: string[] = [];
  let left = at;
  for (const piece of pieces) {
    if (left <= 0) break;
    kept.push(piece.slice(0, left));
    left -= piece.length;
  }
  return { pieces: kept, stopped: true };
}

export async function startFakeOllama(options: FakeOllamaOptions = {}): Promise<FakeOllama> {
  const capabilities = options.models ?? defaultOllamaModels;
  const models = new Set(Object.keys(capabilities));
  const requests: RecordedOllamaRequest[] = [];
  const shown: string[] = [];
  const scripted: FakeOllamaReply[] = [];
  let responder: (request: RecordedOllamaRequest) => FakeOllamaReply = () => ({ text: 'OK.' });
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
    if (request.method === 'POST' && path === '/api/show') {
      const model = body.model ?? '';
      shown.push(model);
      const json = { 'content-type': 'application/json; charset=utf-8' };
      const listed = capabilities[model];
      if (listed === undefined) {
        response.writeHead(404, json).end(JSON.stringify({ error: `model '${model}' not found` }));
        return;
      }
      response.writeHead(200, json).end(
        JSON.stringify({
          license: 'Apache License Version 2.0, January 2004',
          modelfile: `# Modelfile generated by "ollama show"\nFROM ${model}\n`,
          parameters: 'stop                           "<|endoftext|>"',
          template: listed.includes('insert') ? '{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>{{- else }}{{ .Prompt }}{{- end }}' : '{{ .Prompt }}',
          details: { parent_model: '', format: 'gguf', family: 'qwen2', families: ['qwen2'], parameter_size: '7.6B', quantization_level: 'Q4_K_M' },
          model_info: { 'general.architecture': 'qwen2', 'general.parameter_count': 7_615_616_512, 'qwen2.context_length': 32_768 },
          ...(options.reportCapabilities === false ? {} : { capabilities: listed }),
          modified_at: '2026-11-20T09:00:00.000000Z',
        }),
      );
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
    const generate = path === '/api/generate';
    if (request.method !== 'POST' || (path !== '/api/chat' && !generate)) return fail(404, '404 page not found');
    const model = body.model ?? '';
    if (!models.has(model)) return fail(404, `model "${model}" not found, try pulling it first`);
    if (generate && typeof body.suffix === 'string' && body.suffix !== '' && capabilities[model]?.includes('insert') !== true) {
      return fail(400, `${registryName(model)} does not support insert`);
    }

    const reply = scripted.shift() ?? options.respond?.(entry) ?? responder(entry);
    if (reply.refuse !== undefined) return fail(reply.refuse.status, reply.refuse.error);
    if (generate) return streamGenerated(entry, reply, response);
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

  async function streamGenerated(entry: RecordedOllamaRequest, reply: FakeOllamaReply, response: ServerResponse): Promise<void> {
    const { body } = entry;
    const model = body.model ?? '';
    const { pieces, stopped } = cutAtStop(reply.text === undefined ? [] : Array.isArray(reply.text) ? reply.text : [reply.text], body.options?.stop);
    const createdAt = '2026-12-06T18:00:00.000000Z';
    const lines: object[] = pieces.filter((piece) => piece !== '').map((piece) => ({ model, created_at: createdAt, response: piece, done: false }));
    entry.promptEvalCount = tokensOf(`${body.prompt ?? ''}${body.suffix ?? ''}`);
    entry.evalCount = tokensOf(pieces.join(''));
    lines.push({
      model,
      created_at: createdAt,
      response: '',
      done: true,
      done_reason: stopped ? 'stop' : (reply.doneReason ?? 'stop'),
      context: [151_659, 750, 12_159, 151_660, 151_661],
      total_duration: 1_208_553_625,
      load_duration: 21_386_333,
      prompt_eval_count: entry.promptEvalCount,
      prompt_eval_duration: 96_462_000,
      eval_count: entry.evalCount,
      eval_duration: 1_089_707_000,
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
    shown,
    queueReplies: (...replies) => void scripted.push(...replies),
    respondWith: (next) => {
      responder = next;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
