/**
 * efrit-lsp's own line to the wrapped server, beside the editor's: requests
 * with ids of their own (`efrit-own:<n>`), whose answers the router hands
 * here instead of to the editor; a timeout and cancellation for each; the
 * capabilities the server declared at initialize; and shadow documents, at
 * URIs of efrit-lsp's own, whose diagnostics the router never forwards.
 *
 * Shadow documents are how a text that is not the user's (a proposed change)
 * gets checked without the editor noticing: the user's documents are never
 * touched in the server, so there is nothing to restore and no typing to
 * hold back while a check runs. A shadow sits next to the document it copies
 * (`src/a.efrit-check-7.ts` for `src/a.ts`), so relative imports resolve as
 * they do from the original.
 *
 * Knowing when a shadow's diagnostics are complete. LSP has no "done" for
 * pushed diagnostics, and servers publish in stages, so where the server
 * lets efrit-lsp ask, it asks, and the answer is complete:
 * - a server that offers pull diagnostics (LSP 3.17 `textDocument/diagnostic`)
 *   is asked for the shadow's;
 * - typescript-language-server is asked through the tsserver pass-through
 *   command it declares (tsserver-diagnostics.ts).
 * An answer follows the shadow's didOpen/didChange on the same connection, so
 * it is about the text just sent; such shadows are kept open between checks
 * and changed to the next text (warm-shadows.ts), which spares the server
 * setting up a project for each. A server that only pushes is given a fresh
 * shadow for each text, whose number is new, so a late publish about an
 * earlier text can never be taken for a later one's; its diagnostics are
 * taken once the server has published at least once and then stayed quiet
 * for `quietMs`, within `firstPublishTimeoutMs`; except for pylsp, whose
 * first publish for a document is complete: it lints a document it has just
 * opened once, all its linters in one `pylsp_lint` hook, and publishes their
 * findings together (python_lsp.py `lint`), so there is nothing to wait for.
 */
import type { Diagnostic, NotificationMessage, RequestMessage, ResponseMessage, ServerCapabilities } from 'vscode-languageserver/node';
import type { LanguageIntelligence, SemanticFeature, ShadowCheck } from '../agent/language-intelligence.js';
import { realClock, type QueueClock } from '../queue/queue-clock.js';
import { diagnosticsOfTsserverAnswer, offersTsserverRequests, tsserverDiagnosticsCommands, tsserverRequestCommand } from './tsserver-diagnostics.js';
import { WarmShadows } from './warm-shadows.js';
import { shadowUriFor, isShadowUri } from './shadow-names.js';
import { mayNameShadows, withoutShadows } from './shadow-scrub.js';

export { shadowUriFor, isShadowUri } from './shadow-names.js';

/** Ids of efrit-lsp's own requests to the wrapped server: strings no editor uses, so they never collide with its ids on that connection. */
export const ownIdPrefix = 'efrit-own:';

/** The router's side of the link: how to reach the wrapped server, and what it published for the editor. */
export interface ChildPort {
  label(): string;
  /** Writes to the wrapped server while it runs; false (nothing written) when it does not. */
  send(message: RequestMessage | NotificationMessage): boolean;
  published(uri: string): readonly Diagnostic[] | undefined;
  /** The open document the editor used last, if any. */
  latestDocument(): string | undefined;
  /** Opens a document the editor has not opened, for efrit-lsp's own requests; false when it need not or cannot. */
  borrow(uri: string, languageId: string, text: string): boolean;
  release(uri: string): void;
}

/** Timers only (QueueClock's), so tests can move time by hand. */
export type LinkTimers = Pick<QueueClock, 'setTimer'>;

export interface WrappedServerLinkOptions {
  /** How long one request may take (tsserver loading a project takes seconds). @default 20000 */
  requestTimeoutMs?: number;
  /** How long a shadow's diagnostics must stay unchanged before they are taken. @default 750 */
  quietMs?: number;
  /** How long to wait for a shadow's first diagnostics. @default 15000 */
  firstPublishTimeoutMs?: number;
  /** Shadows kept open between checks at most, for a server that is asked for diagnostics. @default 8 */
  maxWarmShadows?: number;
  /** How long a shadow kept open may go unused before it is closed. @default 60000 */
  shadowIdleCloseMs?: number;
  /** Injectable for tests. @default the global timers */
  timers?: LinkTimers;
}

/** How a shadow's diagnostics are known to be complete: see the top of this file. */
export type DiagnosticsCompletion = 'pull' | 'tsserverRequest' | 'firstPublish' | 'quiet';

/** Servers whose first publish for a document just opened holds all its diagnostics (see the top of this file). */
const publishingAllAtOnce = new Set(['pylsp']);

/** The completion signal the wrapped server's capabilities offer. */
export function completionOf(capabilities: ServerCapabilities | undefined, serverName?: string): DiagnosticsCompletion {
  if (capabilities?.diagnosticProvider !== undefined) return 'pull';
  if (offersTsserverRequests(capabilities?.executeCommandProvider)) return 'tsserverRequest';
  if (serverName !== undefined && publishingAllAtOnce.has(serverName)) return 'firstPublish';
  return 'quiet';
}

/** The features the wrapped server's capabilities offer; diagnostics whenever it initialized at all (pushed diagnostics have no capability). */
export function featuresOf(capabilities: ServerCapabilities | undefined): Set<SemanticFeature> {
  const features = new Set<SemanticFeature>();
  if (capabilities === undefined) return features;
  const offered = (capability: unknown) => capability !== undefined && capability !== null && capability !== false;
  if (offered(capabilities.definitionProvider)) features.add('definition');
  if (offered(capabilities.referencesProvider)) features.add('references');
  if (offered(capabilities.hoverProvider)) features.add('hover');
  if (offered(capabilities.documentSymbolProvider)) features.add('documentSymbols');
  if (offered(capabilities.workspaceSymbolProvider)) features.add('workspaceSymbols');
  features.add('diagnostics');
  return features;
}

type Settle = (outcome: ResponseMessage | Error) => void;

/** A `textDocument/diagnostic` answer's diagnostics (a full report; "unchanged" cannot be, for a document opened just now). */
function pulledItems(report: unknown): Diagnostic[] {
  const items = (report as { items?: unknown } | null)?.items;
  return Array.isArray(items) ? (items as Diagnostic[]) : [];
}

/** One shadow's diagnostics as they come: taken once the server has published and then kept quiet. */
class ShadowWatch {
  private latest: Diagnostic[] | undefined;
  private timer: { cancel(): void } | undefined;
  private settle: ((outcome: Diagnostic[] | Error) => void) | undefined;

  constructor(
    private readonly timers: LinkTimers,
    private readonly quietMs: number,
  ) {}

  wait(firstPublishTimeoutMs: number, noneMessage: string): Promise<Diagnostic[]> {
    return new Promise((resolve, reject) => {
      this.settle = (outcome) => {
        this.timer?.cancel();
        this.settle = undefined;
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      this.timer = this.timers.setTimer(() => this.settle?.(new Error(noneMessage)), firstPublishTimeoutMs);
    });
  }

  published(diagnostics: Diagnostic[]): void {
    if (this.settle === undefined) return;
    if (this.quietMs === 0) {
      this.settle(diagnostics);
      return;
    }
    this.latest = diagnostics;
    this.timer?.cancel();
    this.timer = this.timers.setTimer(() => this.settle?.(this.latest ?? []), this.quietMs);
  }

  fail(error: Error): void {
    this.settle?.(error);
  }
}

export class WrappedServerLink implements LanguageIntelligence {
  private port: ChildPort | undefined;
  private decided: ReadonlySet<SemanticFeature> = new Set();
  private hasDecided = false;
  private completion: DiagnosticsCompletion = 'quiet';
  private readonly pending = new Map<string, Settle>();
  private readonly watches = new Map<string, ShadowWatch>();
  private nextId = 0;
  private nextShadow = 0;
  private readonly timers: LinkTimers;
  private readonly requestTimeoutMs: number;
  private readonly quietMs: number;
  private readonly firstPublishTimeoutMs: number;
  private readonly warm: WarmShadows;

  constructor(options: WrappedServerLinkOptions = {}) {
    this.timers = options.timers ?? realClock;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 20_000;
    this.quietMs = options.quietMs ?? 750;
    this.firstPublishTimeoutMs = options.firstPublishTimeoutMs ?? 15_000;
    this.warm = new WarmShadows({
      send: (message) => this.send(message),
      newShadowUri: (uri) => shadowUriFor(uri, this.nextShadow++),
      timers: this.timers,
      ...(options.maxWarmShadows === undefined ? {} : { maxOpen: options.maxWarmShadows }),
      ...(options.shadowIdleCloseMs === undefined ? {} : { idleCloseMs: options.shadowIdleCloseMs }),
    });
  }

  /** How this server's shadow diagnostics are known to be complete (decided at initialize). */
  get diagnosticsCompletion(): DiagnosticsCompletion {
    return this.completion;
  }

  /**
   * Whether any shadow was ever opened in this server: until then no answer
   * can name one, so the router need not look through answers for them. Once
   * one was, answers are looked through for good, since an answer computed
   * while a shadow was open may arrive after it closed.
   */
  get shadowsUsed(): boolean {
    return this.nextShadow > 0;
  }

  /** Shadows open in the wrapped server now, between checks. */
  get openShadows(): number {
    return this.warm.size;
  }

  get label(): string {
    return this.port?.label() ?? 'the wrapped language server';
  }

  // ── the router's side ───────────────────────────────────────────────

  connect(port: ChildPort): void {
    this.port = port;
  }

  /** The wrapped server answered the editor's `initialize`: its features are decided now, once (a restarted server does not change them). */
  childInitialized(capabilities: ServerCapabilities | undefined, serverName?: string): void {
    if (this.hasDecided) return;
    this.hasDecided = true;
    this.decided = featuresOf(capabilities);
    this.completion = completionOf(capabilities, serverName);
  }

  /** A response from the wrapped server: true when it answers one of efrit-lsp's own requests (and so is not the editor's). */
  takeResponse(response: ResponseMessage): boolean {
    if (typeof response.id !== 'string' || !response.id.startsWith(ownIdPrefix)) return false;
    this.pending.get(response.id)?.(response);
    return true;
  }

  /** Diagnostics the wrapped server published: true when they are a shadow's, which the editor must not see. */
  takePublished(uri: string, diagnostics: Diagnostic[]): boolean {
    if (!isShadowUri(uri)) return false;
    this.watches.get(uri)?.published(diagnostics);
    return true;
  }

  /** The wrapped server died: what waits for it is answered now. */
  childGone(): void {
    const gone = new Error(`${this.label} stopped running.`);
    for (const settle of [...this.pending.values()]) settle(gone);
    for (const watch of this.watches.values()) watch.fail(gone);
    this.warm.forget();
  }

  // ── the domain's side ───────────────────────────────────────────────

  features(): ReadonlySet<SemanticFeature> {
    return this.decided;
  }

  publishedDiagnostics(uri: string): readonly Diagnostic[] | undefined {
    return this.port?.published(uri);
  }

  request(method: string, params: unknown, signal: AbortSignal): Promise<unknown> {
    if (signal.aborted) return Promise.reject(new Error(`The request to ${this.label} was cancelled.`));
    const id = `${ownIdPrefix}${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const cancelInServer = () => this.port?.send({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id } } as NotificationMessage);
      const onAbort = () => {
        cancelInServer();
        settle(new Error(`The request to ${this.label} was cancelled.`));
      };
      const timer = this.timers.setTimer(() => {
        cancelInServer();
        settle(new Error(`${this.label} did not answer ${method} within ${Math.round(this.requestTimeoutMs / 1000)} s.`));
      }, this.requestTimeoutMs);
      const settle: Settle = (outcome) => {
        timer.cancel();
        signal.removeEventListener('abort', onAbort);
        this.pending.delete(id);
        if (outcome instanceof Error) reject(outcome);
        else if (outcome.error !== undefined) reject(new Error(`${this.label} answered ${method} with an error: ${outcome.error.message}`));
        // The shadows kept open are files of the project to the server: a reference in one is not the agent's to see.
        else resolve(mayNameShadows(method) ? withoutShadows(outcome.result ?? null) : (outcome.result ?? null));
      };
      this.pending.set(id, settle);
      signal.addEventListener('abort', onAbort, { once: true });
      const sent = this.port?.send({ jsonrpc: '2.0', id, method, params: params as object } as RequestMessage) ?? false;
      if (!sent) settle(new Error(`${this.label} is not running.`));
    });
  }

  async withDocument<T>(document: { uri: string; languageId: string; text: string }, use: () => Promise<T>): Promise<T> {
    const borrowed = this.port?.borrow(document.uri, document.languageId, document.text) ?? false;
    try {
      return await use();
    } finally {
      if (borrowed) this.port?.release(document.uri);
    }
  }

  /** The texts are checked at once, each at a shadow of its own: one wait for the server, not one per text. */
  diagnosticsOfTexts(check: ShadowCheck, signal: AbortSignal): Promise<Diagnostic[][]> {
    signal.throwIfAborted();
    const checked = Promise.all(check.texts.map((text) => (this.keepsShadows() ? this.askedDiagnostics(check, text, signal) : this.diagnosticsOfText(check, text, signal))));
    return checked.finally(() => this.handBackFront());
  }

  /**
   * typescript-language-server answers a workspace/symbol from the projects
   * of the document used last (any request about a document counts), and a
   * shadow just opened, changed or asked about is that document: the
   * editor's (and the agent's) symbol search would look in the shadow's
   * project instead of the user's. So the document the editor used last is
   * made the last used again, by a cheap question about it (its syntax
   * errors, from the parse tsserver already has); the answer is not needed.
   */
  private handBackFront(): void {
    if (this.completion !== 'tsserverRequest') return;
    const uri = this.port?.latestDocument();
    if (uri === undefined) return;
    const params = { command: tsserverRequestCommand, arguments: ['syntacticDiagnosticsSync', { file: uri }] };
    this.request('workspace/executeCommand', params, new AbortController().signal).catch(() => undefined);
  }

  /**
   * Opens (or changes) shadows to hold the texts, without waiting for
   * anything: the server sets up their project meanwhile, so a check that
   * follows is one change and one answer. Only where shadows are kept open.
   */
  warmShadows(check: ShadowCheck): void {
    if (!this.keepsShadows()) return;
    for (const text of check.texts) this.warm.lease(check.uri, check.languageId, text)?.release(true);
    this.handBackFront();
  }

  /** Closes the shadows kept open (the agent's work that needed them is over). */
  closeShadows(): void {
    this.warm.closeAll();
  }

  /** Whether shadows are kept open between checks: only where diagnostics are asked for, so an answer is tied to the text just sent. */
  private keepsShadows(): boolean {
    return this.completion === 'pull' || this.completion === 'tsserverRequest';
  }

  /** A shadow kept open, changed to `text`, and its diagnostics asked for. */
  private async askedDiagnostics(check: ShadowCheck, text: string, signal: AbortSignal): Promise<Diagnostic[]> {
    const lease = this.warm.lease(check.uri, check.languageId, text);
    if (lease === undefined) throw new Error(`${this.label} is not running.`);
    let answered = false;
    try {
      const found = this.completion === 'pull' ? pulledItems(await this.request('textDocument/diagnostic', { textDocument: { uri: lease.uri } }, signal)) : await this.tsserverDiagnostics(lease.uri, signal);
      answered = true;
      return found;
    } finally {
      lease.release(answered);
    }
  }

  /** The three stages tsserver's `geterr` reports, asked for at once (tsserver answers them in turn). */
  private async tsserverDiagnostics(uri: string, signal: AbortSignal): Promise<Diagnostic[]> {
    let answers: unknown[];
    try {
      answers = await Promise.all(
        tsserverDiagnosticsCommands.map((command) => this.request('workspace/executeCommand', { command: tsserverRequestCommand, arguments: [command, { file: uri }] }, signal)),
      );
    } catch (error) {
      // tsserver's errors carry its stack trace (a file it has no project for, a language it does not handle): the first line says what went wrong.
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(message.split('\n', 1)[0] ?? message);
    }
    const found: Diagnostic[] = [];
    for (const [index, answer] of answers.entries()) {
      const diagnostics = diagnosticsOfTsserverAnswer(answer);
      if (diagnostics instanceof Error) throw new Error(`${this.label} answered ${tsserverDiagnosticsCommands[index] ?? 'a diagnostics request'} for the checked text oddly: ${diagnostics.message}`);
      found.push(...diagnostics);
    }
    return found;
  }

  private async diagnosticsOfText(check: ShadowCheck, text: string, signal: AbortSignal): Promise<Diagnostic[]> {
    const uri = shadowUriFor(check.uri, this.nextShadow++);
    const watch = new ShadowWatch(this.timers, this.completion === 'firstPublish' ? 0 : this.quietMs);
    this.watches.set(uri, watch);
    const onAbort = () => watch.fail(new Error(`The check with ${this.label} was cancelled.`));
    signal.addEventListener('abort', onAbort, { once: true });
    let opened = false;
    try {
      const seconds = Math.round(this.firstPublishTimeoutMs / 1000);
      const waited = watch.wait(this.firstPublishTimeoutMs, `${this.label} published no diagnostics for the checked text within ${seconds} s.`);
      opened = this.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: check.languageId, version: 1, text } } });
      if (!opened) watch.fail(new Error(`${this.label} is not running.`));
      return await waited;
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.watches.delete(uri);
      if (opened) this.send({ jsonrpc: '2.0', method: 'textDocument/didClose', params: { textDocument: { uri } } });
    }
  }

  private send(message: NotificationMessage): boolean {
    return this.port?.send(message) ?? false;
  }
}
