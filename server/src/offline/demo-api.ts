/**
 * `--offline`: a Messages API on 127.0.0.1 that the real SDK is pointed at,
 * answered by the demo model (demo-answers.ts). Everything else runs as it
 * does against Anthropic — the queue, the SDK's HTTP and SSE parsing, the
 * stall watchdog, tool calls, edit matching, rebasing, applying — so trying
 * efrit-lsp without a key shows what it really does, only with a model that
 * is a few pattern rules.
 *
 * Bounded like the rest: it listens on loopback only, on a port the system
 * picks, and answers only requests carrying the random key this process made
 * (another local user cannot use it); a body past `maxBodyBytes` is refused
 * unread; a connection idle for `idleTimeoutMs` is closed; the server never
 * keeps the process alive.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ContentBlock, Message, MessageDeltaUsage, RawMessageStreamEvent, StopReason, Usage } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { answerDemoRequest, type DemoAnswer } from './demo-answers.js';
import { offlineModelName } from './offline-mode.js';

export interface OfflineDemoApi {
  /** What the SDK's `baseURL` is set to. */
  baseURL: string;
  /** The key the SDK sends; random per process, so only this process's requests are answered. */
  apiKey: string;
  close(): Promise<void>;
}

export interface OfflineDemoApiOptions {
  /** Largest request body read. @default 64 MiB (more than the largest request efrit-lsp's settings allow) */
  maxBodyBytes?: number;
  /** A connection with nothing sent for this long is closed. @default 120 000 */
  idleTimeoutMs?: number;
  /** Pause between streamed text pieces, so the editor shows text arriving. @default 8 */
  pieceDelayMs?: number;
  /** The model; the demo's unless a test gives another. */
  answer?: (body: unknown) => DemoAnswer;
}

const textPieceChars = 24;
const jsonPieceChars = 64;

function estimateTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text) / 4);
}

function sendError(response: ServerResponse, status: number, type: string, message: string): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  response.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
  response.end(JSON.stringify({ type: 'error', error: { type, message } }));
}

function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  const points = Array.from(text);
  for (let at = 0; at < points.length; at += size) out.push(points.slice(at, at + size).join(''));
  return out;
}

interface Reply {
  answer: DemoAnswer;
  stopReason: StopReason;
  model: string;
  inputTokens: number;
  outputTokens: number;
}

/** The answer cut to `max_tokens` as the real API cuts it: text shortened, tool calls dropped, stop reason `max_tokens`. */
function replyWithin(answer: DemoAnswer, meta: { model: string; inputTokens: number; maxTokens: number }): Reply {
  const textTokens = estimateTokens(answer.text ?? '');
  const toolUses = answer.toolUses ?? [];
  const toolTokens = toolUses.reduce((sum, toolUse) => sum + estimateTokens(JSON.stringify(toolUse.input)), 0);
  if (textTokens + toolTokens <= meta.maxTokens) {
    return { answer, stopReason: toolUses.length === 0 ? 'end_turn' : 'tool_use', model: meta.model, inputTokens: meta.inputTokens, outputTokens: Math.max(1, textTokens + toolTokens) };
  }
  return { answer: { text: (answer.text ?? '').slice(0, meta.maxTokens * 4) }, stopReason: 'max_tokens', model: meta.model, inputTokens: meta.inputTokens, outputTokens: meta.maxTokens };
}

function usage(reply: Reply, outputTokens: number): Usage {
  return {
    input_tokens: reply.inputTokens,
    output_tokens: outputTokens,
    cache_read_input_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_creation: null,
    output_tokens_details: null,
    server_tool_use: null,
    service_tier: 'standard',
    inference_geo: 'not_available',
    speed: 'standard',
  };
}

const messageId = (): string => `msg_offline_${randomBytes(8).toString('hex')}`;
const toolUseId = (): string => `toolu_offline_${randomBytes(8).toString('hex')}`;

/** The reply as the real API streams it: message_start, each block's start, deltas and stop, message_delta, message_stop. */
async function stream(response: ServerResponse, reply: Reply, pieceDelayMs: number): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  // Every event has its `event:` line: the SDK drops those without one.
  const write = (event: RawMessageStreamEvent): void => {
    if (!response.destroyed) response.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
  };
  const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, pieceDelayMs));
  write({
    type: 'message_start',
    message: { id: messageId(), type: 'message', role: 'assistant', model: reply.model, content: [], stop_reason: null, stop_sequence: null, stop_details: null, container: null, diagnostics: null, usage: usage(reply, 1) },
  });
  let index = 0;
  const { text, toolUses = [] } = reply.answer;
  if (text !== undefined && text !== '') {
    write({ type: 'content_block_start', index, content_block: { type: 'text', text: '', citations: null } });
    for (const piece of pieces(text, textPieceChars)) {
      // The editor went away (a cancel, a closed connection): nothing more to say.
      if (response.destroyed) return;
      write({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } });
      if (pieceDelayMs > 0) await pause();
    }
    write({ type: 'content_block_stop', index });
    index += 1;
  }
  for (const toolUse of toolUses) {
    write({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: toolUseId(), name: toolUse.name, input: {}, caller: { type: 'direct' } } });
    for (const partial_json of pieces(JSON.stringify(toolUse.input), jsonPieceChars)) write({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } });
    write({ type: 'content_block_stop', index });
    index += 1;
  }
  const final: MessageDeltaUsage = { input_tokens: reply.inputTokens, output_tokens: reply.outputTokens, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, output_tokens_details: null, server_tool_use: null };
  write({ type: 'message_delta', delta: { stop_reason: reply.stopReason, stop_sequence: null, stop_details: null, container: null }, usage: final });
  write({ type: 'message_stop' });
  response.end();
}

/** The reply as one Message, for a request without `stream`. */
function message(reply: Reply): Message {
  const content: ContentBlock[] = [];
  const { text, toolUses = [] } = reply.answer;
  if (text !== undefined && text !== '') content.push({ type: 'text', text, citations: null });
  for (const toolUse of toolUses) content.push({ type: 'tool_use', id: toolUseId(), name: toolUse.name, input: toolUse.input, caller: { type: 'direct' } });
  return {
    id: messageId(),
    type: 'message',
    role: 'assistant',
    model: reply.model,
    content,
    stop_reason: reply.stopReason,
    stop_sequence: null,
    stop_details: null,
    container: null,
    diagnostics: null,
    usage: usage(reply, reply.outputTokens),
  };
}

function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer | 'tooLarge'> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > maxBytes) {
      resolve('tooLarge');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        request.removeAllListeners('data');
        resolve('tooLarge');
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** Starts the demo API on 127.0.0.1 and a free port. */
export async function startOfflineDemoApi(options: OfflineDemoApiOptions = {}): Promise<OfflineDemoApi> {
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  const pieceDelayMs = options.pieceDelayMs ?? 8;
  const answer = options.answer ?? answerDemoRequest;
  const apiKey = `efrit-offline-${randomBytes(16).toString('hex')}`;

  const server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => sendError(response, 500, 'api_error', `offline demo model failed: ${error instanceof Error ? error.message : String(error)}`));
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '').split('?')[0] ?? '';
    if (request.method !== 'POST' || !path.endsWith('/v1/messages')) {
      sendError(response, 404, 'not_found_error', `The offline demo model answers POST /v1/messages only, not ${request.method ?? ''} ${path}.`);
      return;
    }
    // The SDK sends the key as a bearer token; older ones as x-api-key.
    if (request.headers['x-api-key'] !== apiKey && request.headers.authorization !== `Bearer ${apiKey}`) {
      sendError(response, 401, 'authentication_error', 'This is the offline demo model of another efrit-lsp process.');
      return;
    }
    const raw = await readBody(request, maxBodyBytes);
    if (raw === 'tooLarge') {
      sendError(response, 413, 'request_too_large', `The request is larger than the offline demo model reads (${Math.round(maxBodyBytes / (1024 * 1024))} MiB).`);
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      sendError(response, 400, 'invalid_request_error', 'The request body is not JSON.');
      return;
    }
    let reply: DemoAnswer;
    try {
      reply = answer(body);
    } catch (error) {
      sendError(response, 400, 'invalid_request_error', error instanceof Error ? error.message : String(error));
      return;
    }
    const fields = body as { stream?: unknown; max_tokens?: unknown };
    const within = replyWithin(reply, { model: offlineModelName, inputTokens: estimateTokens(raw.toString('utf8')), maxTokens: typeof fields.max_tokens === 'number' ? fields.max_tokens : 4096 });
    if (fields.stream === true) await stream(response, within, pieceDelayMs);
    else {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(message(within)));
    }
  }

  server.maxConnections = 64;
  server.headersTimeout = 30_000;
  server.requestTimeout = 60_000;
  server.setTimeout(options.idleTimeoutMs ?? 120_000, (socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}`,
    apiKey,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
