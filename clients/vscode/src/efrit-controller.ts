/**
 * What the extension does over the wire, without VS Code: the chat and do
 * sessions it keeps, the requests behind its commands, the transcript that
 * `efrit/stream` deltas are written into, and the status bar's text. It talks
 * to anything with a JSON-RPC `sendRequest` (the LanguageClient in VS Code, a
 * protocol connection in the tests), so the tests run this very code against
 * the real server.
 */
import type { ApplyWorkspaceEditParams, ApplyWorkspaceEditResult } from 'vscode-languageserver-protocol';
import type { Range } from 'vscode-languageserver-types';
import {
  BuiltinActions,
  Commands,
  Methods,
  ResponseErrorCodes,
  type CancelResult,
  type ChatParams,
  type ChatResult,
  type DoParams,
  type DoResult,
  type RunActionArgs,
  type RunActionResult,
  type ProviderUsageSummary,
  type StatusResult,
  type StreamParams,
  type TextDocumentRef,
} from '../../../server/src/protocol.js';

/** The one thing the controller needs from a connection. `Token` is VS Code's or vscode-jsonrpc's CancellationToken. */
export interface Rpc<Token> {
  sendRequest<R>(method: string, params: unknown, token?: Token): Promise<R>;
}

/** Where the transcript goes: a VS Code OutputChannel has exactly these two. */
export interface TranscriptSink {
  append(text: string): void;
  appendLine(text: string): void;
}

/** The document (and selection) a command is about. */
export interface EditorContext {
  textDocument: TextDocumentRef;
  range?: Range;
}

export function errorReason(error: unknown): string | undefined {
  const data = (error as { data?: { reason?: unknown } } | null)?.data;
  return typeof data?.reason === 'string' ? data.reason : undefined;
}

const errorCode = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

/**
 * True for an error that only says the user cancelled, nothing to show: the
 * request's own `$/cancelRequest` (RequestCancelled), or Efrit: Cancel
 * (ServerCancelled with the reason `cancelled`).
 */
export function isCancellation(error: unknown): boolean {
  return errorCode(error) === ResponseErrorCodes.requestCancelled || errorReason(error) === 'cancelled';
}

/** For a job the server ended by itself (superseded, session ended, shutdown, …): what to tell the user; else undefined. */
export function serverCancellation(error: unknown): string | undefined {
  if (errorCode(error) !== ResponseErrorCodes.serverCancelled || isCancellation(error)) return undefined;
  return `the server cancelled it: ${errorMessage(error)}`;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Why VS Code answered `applied: false` to an edit that asked for confirmation, when it gives no reason itself. */
export const notAcceptedInPreview = 'it was not accepted in the Refactor Preview (discarded, or no change ticked)';

/**
 * VS Code applies an edit whose change annotation asks for confirmation only
 * from its Refactor Preview, and answers a Discard there with a bare
 * `applied: false`. The server passes the reason on to the user and, on the
 * session's next turn, to the model: both should hear that the user said no,
 * not that something failed.
 */
export function explainDeclinedEdit(params: ApplyWorkspaceEditParams, result: ApplyWorkspaceEditResult): ApplyWorkspaceEditResult {
  if (result.applied || result.failureReason !== undefined) return result;
  return asksForConfirmation(params) ? { ...result, failureReason: notAcceptedInPreview } : result;
}

/** Whether VS Code will hold this edit in its Refactor Preview for the user (a change annotation asks for confirmation). */
export function asksForConfirmation(params: ApplyWorkspaceEditParams): boolean {
  return Object.values(params.edit.changeAnnotations ?? {}).some((annotation) => annotation.needsConfirmation === true);
}

/** What a running Do's progress says while its change waits in the Refactor Preview. */
export const awaitingReviewMessage = 'review the change in the Refactor Preview';

/**
 * Turns the stream of notifications into readable text: a heading per user
 * turn, the model's text as it arrives, step and tool notes on lines of their
 * own. A note goes under the turn whose request named its stream
 * (`streamId`); when another stream wrote in between, the turn's heading is
 * repeated first. Jobs no turn named (an Explain picked from the light bulb,
 * or any job of a server too old to echo stream names) get a heading of
 * their own.
 */
export class Transcript {
  /** The place written last: a turn's streamId, or `job <id>` for an unnamed job. */
  private current: string | undefined;
  /** The first heading line of each turn still waiting for its answer, by streamId. */
  private readonly turns = new Map<string, string>();
  /** Unannounced jobs that have not written text yet: their first text shows the view. */
  private readonly unannounced = new Set<string>();
  private atLineStart = true;
  /** Called when an unannounced job starts writing text, so the view can be shown. */
  onUnannouncedText: (() => void) | undefined;

  constructor(private readonly sink: TranscriptSink) {}

  /** A user turn: written before its request is sent; the notes of `streamId` land under it. */
  heading(text: string, streamId?: string): void {
    this.endLine();
    this.sink.appendLine('');
    for (const line of text.split('\n')) this.sink.appendLine(line);
    this.current = streamId;
    if (streamId !== undefined) this.turns.set(streamId, text.split('\n')[0] ?? text);
  }

  /** The turn's request has been answered: nothing more comes for its stream. */
  forget(streamId: string): void {
    this.turns.delete(streamId);
    if (this.current === streamId) this.current = undefined;
  }

  /** A line of the extension's own: a stream writing next repeats its heading. */
  note(text: string): void {
    this.line(text);
    this.current = undefined;
  }

  stream(params: StreamParams): void {
    const turn = params.streamId === undefined ? undefined : this.turns.get(params.streamId);
    const place = turn === undefined ? `job ${params.jobId}` : (params.streamId as string);
    if (place !== this.current) {
      this.endLine();
      this.sink.appendLine('');
      if (turn !== undefined) this.sink.appendLine(`${turn} (continued)`);
      else {
        this.sink.appendLine(`── ${jobHeading(params)} ──`);
        this.unannounced.add(params.jobId);
      }
      this.current = place;
    }
    switch (params.kind) {
      case 'text':
        if (params.text === '') return;
        if (this.unannounced.delete(params.jobId)) this.onUnannouncedText?.();
        this.sink.append(params.text);
        this.atLineStart = params.text.endsWith('\n');
        return;
      case 'status':
      case 'tool':
        this.line(`  · ${params.text}`);
        return;
      case 'error':
        this.unannounced.delete(params.jobId);
        this.line(`  ✗ ${params.text}`);
        return;
      case 'done':
        this.unannounced.delete(params.jobId);
        this.endLine();
        return;
    }
  }

  private line(text: string): void {
    this.endLine();
    this.sink.appendLine(text);
  }

  private endLine(): void {
    if (!this.atLineStart) this.sink.appendLine('');
    this.atLineStart = true;
  }
}

/**
 * The sessions and requests behind the commands. One chat session and one
 * do session at a time, each continued until New Chat or until the server
 * has forgotten it (idle for `sessions.ttlMs`): then a fresh one is started
 * and the transcript says so.
 */
export class EfritController<Token> {
  chatSessionId: string | undefined;
  doSessionId: string | undefined;
  /** Names the stream of each request (`streamId`), so its notes find their turn from the first one on. */
  private streams = 0;

  constructor(
    private readonly rpc: Rpc<Token>,
    readonly transcript: Transcript,
  ) {}

  /** A request with the token only when there is one: vscode-jsonrpc would send a trailing `undefined` as a second parameter. */
  private send<R>(method: string, params: unknown, token: Token | undefined): Promise<R> {
    return token === undefined ? this.rpc.sendRequest<R>(method, params) : this.rpc.sendRequest<R>(method, params, token);
  }

  onStream(params: StreamParams): void {
    this.transcript.stream(params);
  }

  /** Writes the turn's heading, then runs its request under a fresh stream name, forgotten once answered. */
  private async turn<R>(heading: string, request: (streamId: string) => Promise<R>): Promise<R> {
    this.streams += 1;
    const streamId = `vscode-${this.streams}`;
    this.transcript.heading(heading, streamId);
    try {
      return await request(streamId);
    } finally {
      this.transcript.forget(streamId);
    }
  }

  async chat(message: string, context?: EditorContext, token?: Token): Promise<ChatResult> {
    const result = await this.turn(quoted('You', message), (streamId) => {
      const send = (sessionId: string | undefined): Promise<ChatResult> => {
        const params: ChatParams = { message, ...withSession(sessionId), ...context, streamId };
        return this.send<ChatResult>(Methods.chat, params, token);
      };
      return this.retryForgottenSession(this.chatSessionId, send);
    });
    this.chatSessionId = result.sessionId;
    return result;
  }

  async newChat(): Promise<void> {
    const sessionId = this.chatSessionId;
    this.chatSessionId = undefined;
    this.transcript.note('');
    this.transcript.note('── new chat ──');
    if (sessionId !== undefined) await this.send(Methods.endSession, { sessionId }, undefined);
  }

  async do(instruction: string, context: EditorContext, token?: Token): Promise<DoResult> {
    const result = await this.turn(quoted('Do', instruction), (streamId) => {
      const send = (sessionId: string | undefined): Promise<DoResult> => {
        const params: DoParams = { instruction, ...context, ...withSession(sessionId), apply: true, streamId };
        return this.send<DoResult>(Methods.do, params, token);
      };
      return this.retryForgottenSession(this.doSessionId, send);
    });
    this.doSessionId = result.sessionId;
    const outcome = result.applied ? 'edit applied' : result.edit === null ? 'no edit' : 'edit not applied';
    this.transcript.note(`→ ${result.summary} (${outcome})`);
    return result;
  }

  async explain(context: EditorContext & { range: Range }, token?: Token): Promise<RunActionResult> {
    return this.turn('Explain', (streamId) => {
      const args: RunActionArgs = { actionId: BuiltinActions.explain, ...context, streamId };
      return this.send<RunActionResult>('workspace/executeCommand', { command: Commands.runAction, arguments: [args] }, token);
    });
  }

  status(token?: Token): Promise<StatusResult> {
    return this.send<StatusResult>(Methods.status, {}, token);
  }

  /** Cancels every job of this client's server (the server has no notion of whose job it is). */
  async cancelAll(): Promise<CancelResult> {
    const result = await this.send<CancelResult>(Methods.cancel, {}, undefined);
    if (result.cancelled > 0) this.transcript.note(`── cancelled ${result.cancelled} job${result.cancelled === 1 ? '' : 's'} ──`);
    return result;
  }

  private async retryForgottenSession<R>(sessionId: string | undefined, send: (sessionId: string | undefined) => Promise<R>): Promise<R> {
    try {
      return await send(sessionId);
    } catch (error) {
      if (sessionId === undefined || errorReason(error) !== 'unknownSession') throw error;
      this.transcript.note('(the server no longer had that conversation; starting a new one)');
      return send(undefined);
    }
  }
}

/**
 * The heading of a job no turn named: what the server says the job is
 * ("Efrit: Explain · src/calc.ts" becomes "Explain · src/calc.ts": the whole
 * channel is Efrit's), or its id from a server that does not say.
 */
export function jobHeading(params: Pick<StreamParams, 'jobId' | 'title'>): string {
  const title = params.title?.trim();
  if (title === undefined || title === '') return params.jobId;
  return title.startsWith('Efrit: ') ? title.slice('Efrit: '.length) : title;
}

function withSession(sessionId: string | undefined): { sessionId?: string } {
  return sessionId === undefined ? {} : { sessionId };
}

function quoted(who: string, text: string): string {
  const [first = '', ...rest] = text.split('\n');
  return [`${who}: ${first}`, ...rest.map((line) => `     ${line}`)].join('\n');
}

/** Tokens in a short human form: 950, 12.3k, 4.1M. */
export function formatCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** ` · $0.04` after the tokens, once a call with a known price was made; `spend` is newer than some servers. */
function moneyBadge(spend: StatusResult['spend'] | undefined): string {
  if (spend === undefined || spend.requests <= spend.unpricedRequests) return '';
  return spend.usd > 0 && spend.usd < 0.01 ? ' · <$0.01' : ` · $${spend.usd.toFixed(2)}`;
}

/** The tooltip's line on money: calls to a model with no known price are counted, never priced. */
function spendLine(spend: StatusResult['spend'] | undefined): string {
  if (spend === undefined || spend.requests === 0) return '';
  if (spend.unpricedRequests === spend.requests) return 'spent: no price known for this model (tokens only)';
  const unpriced = spend.unpricedRequests === 0 ? '' : ` (+${spend.unpricedRequests} call${spend.unpricedRequests === 1 ? '' : 's'} with no known price)`;
  return `spent: $${spend.usd.toFixed(4)}${unpriced}`;
}

/** What one provider's calls cost: dollars where a price is known, never a figure where none is. */
function providerMoney(summary: ProviderUsageSummary): string {
  if (summary.unpricedRequests >= summary.requests) return 'no price known (tokens only)';
  const unpriced = summary.unpricedRequests === 0 ? '' : ` (+${summary.unpricedRequests} call${summary.unpricedRequests === 1 ? '' : 's'} with no known price)`;
  return `$${summary.usd.toFixed(4)}${unpriced}`;
}

/**
 * The tooltip's lines on each provider that answered (`anthropic: 2 requests ·
 * tokens in 9.1k (8.0k from the cache), out 300 · $0.0123`), by name; none
 * from a server without `providers`.
 */
export function providerLines(providers: StatusResult['providers'] | undefined): string[] {
  if (providers === undefined) return [];
  return Object.keys(providers)
    .sort()
    .flatMap((name) => {
      const summary = providers[name];
      if (summary === undefined || summary.requests === 0) return [];
      // Every prompt token is "in": those written to the cache are input too, those read from it are said apart.
      const prompt = summary.inputTokens + summary.cacheWriteTokens + summary.cacheReadTokens;
      const fromCache = summary.cacheReadTokens === 0 ? '' : ` (${formatCount(summary.cacheReadTokens)} from the cache)`;
      const requests = `${summary.requests} request${summary.requests === 1 ? '' : 's'}`;
      return [`${name}: ${requests} · tokens in ${formatCount(prompt)}${fromCache}, out ${formatCount(summary.outputTokens)} · ${providerMoney(summary)}`];
    });
}

/** The status bar item's text (with codicons) and tooltip for a status answer. */
export function statusBarView(status: StatusResult): { text: string; tooltip: string; warning: boolean } {
  const { queue, usage } = status;
  const tokens = usage.inputTokens + usage.outputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
  // `offline` (the server's built-in demo model answers) is newer than some servers: missing means false.
  const offline = (status as StatusResult & { offline?: unknown }).offline === true;
  const missingKey = !status.apiKeyConfigured && !offline;
  let text: string;
  if (missingKey) text = '$(warning) Efrit: no API key';
  else if (queue.backoff.active) text = `$(watch) Efrit: waiting ${Math.ceil(queue.backoff.remainingMs / 1000)}s`;
  else if (queue.running + queue.queued > 0) text = `$(loading~spin) Efrit ${queue.running} running${queue.queued > 0 ? `, ${queue.queued} queued` : ''}`;
  else text = offline ? '$(sparkle) Efrit' : `$(sparkle) Efrit ${formatCount(tokens)} tok${moneyBadge(status.spend)}`;
  if (offline) text += ' (offline)';
  const tooltip = [
    `efrit-lsp ${status.version} · ${offline ? 'offline: the built-in demo model answers, nothing is sent to an API' : status.model}`,
    `queue: ${queue.running} running, ${queue.queued} queued, concurrency ${queue.concurrency}/${queue.configuredConcurrency}` +
      (queue.backoff.active ? ` (backing off: ${queue.backoff.reason ?? 'rate limited'})` : ''),
    `requests: ${usage.requests} · tokens in ${formatCount(usage.inputTokens)}, out ${formatCount(usage.outputTokens)}`,
    `cache: read ${formatCount(usage.cacheReadTokens)}, written ${formatCount(usage.cacheWriteTokens)} · saved by deltas ${formatCount(usage.bytesSavedByDeltas)} B`,
    `sessions open: ${status.sessions.open} · documents open: ${status.documents.open}`,
    spendLine(status.spend),
    // `providers` is newer than some servers.
    ...providerLines((status as Partial<StatusResult>).providers),
    missingKey ? 'No API key: set ANTHROPIC_API_KEY for VS Code, or efrit.apiKey in your user settings.' : '',
  ]
    .filter((line) => line !== '')
    .join('\n');
  return { text, tooltip, warning: missingKey };
}
