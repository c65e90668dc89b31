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
 * they do from the original. Its name carries a fresh number each time, so a
 * late message about an earlier shadow can never be taken for a later one's.
 *
 * Waiting for diagnostics: a server that offers pull diagnostics (LSP 3.17
 * `textDocument/diagnostic`) is asked for the shadow's, and answers when they
 * are complete. For pushed diagnostics LSP has no "done" signal, and servers
 * publish in stages (typescript-language-server sends syntax, then semantic,
 * then suggestion diagnostics as tsserver reports them), so a shadow's
 * diagnostics are taken once the server has published at least once and then
 * stayed quiet for `quietMs`.
 */
import type { Diagnostic, NotificationMessage, RequestMessage, ResponseMessage, ServerCapabilities } from 'vscode-languageserver/node';
import type { LanguageIntelligence, SemanticFeature, ShadowCheck } from '../agent/language-intelligence.js';
import { realClock, type QueueClock } from '../queue/queue-clock.js';

/** Ids of efrit-lsp's own requests to the wrapped server: strings no editor uses, so they never collide with its ids on that connection. */
export const ownIdPrefix = 'efrit-own:';

/** The router's side of the link: how to reach the wrapped server, and what it published for the editor. */
export interface ChildPort {
  label(): string;
  /** Writes to the wrapped server while it runs; false (nothing written) when it does not. */
  send(message: RequestMessage | NotificationMessage): boolean;
  published(uri: string): readonly Diagnostic[] | undefined;
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
  /** Injectable for tests. @default the global timers */
  timers?: LinkTimers;
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

const shadowMark = /\.efrit-check-\d+(?=\.[^/.]*$|$)/;

/** The shadow of `uri` numbered `n`: the same folder and extension, the name marked (`a.ts` → `a.efrit-check-7.ts`). */
export function shadowUriFor(uri: string, n: number): string {
  const slash = uri.lastIndexOf('/');
  const name = uri.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  const extension = dot > 0 ? name.slice(dot) : '';
  return `${uri.slice(0, slash + 1)}${stem}.efrit-check-${n}${extension}`;
}

/** Whether a document is one of efrit-lsp's shadows: the router forwards nothing about it to the editor. */
export function isShadowUri(uri: string): boolean {
  const name = uri.slice(uri.lastIndexOf('/') + 1);
  return shadowMark.test(name);
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
  /** The server answers `textDocument/diagnostic` (pull diagnostics). */
  private pulls = false;
  private readonly pending = new Map<string, Settle>();
  private readonly watches = new Map<string, ShadowWatch>();
  private nextId = 0;
  private nextShadow = 0;
  private readonly timers: LinkTimers;
  private readonly requestTimeoutMs: number;
  private readonly quietMs: number;
  private readonly firstPublishTimeoutMs: number;

  constructor(options: WrappedServerLinkOptions = {}) {
    this.timers = options.timers ?? realClock;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 20_000;
    this.quietMs = options.quietMs ?? 750;
    this.firstPublishTimeoutMs = options.firstPublishTimeoutMs ?? 15_000;
  }

  get label(): string {
    return this.port?.label() ?? 'the wrapped language server';
  }

  // ── the router's side ───────────────────────────────────────────────

  connect(port: ChildPort): void {
    this.port = port;
  }

  /** The wrapped server answered the editor's `initialize`: its features are decided now, once (a restarted server does not change them). */
  childInitialized(capabilities: ServerCapabilities | undefined): void {
    if (this.hasDecided) return;
    this.hasDecided = true;
    this.decided = featuresOf(capabilities);
    this.pulls = capabilities?.diagnosticProvider !== undefined;
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
        else resolve(outcome.result ?? null);
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
    return Promise.all(check.texts.map((text) => this.diagnosticsOfText(check, text, signal)));
  }

  private async diagnosticsOfText(check: ShadowCheck, text: string, signal: AbortSignal): Promise<Diagnostic[]> {
    const uri = shadowUriFor(check.uri, this.nextShadow++);
    const watch = new ShadowWatch(this.timers, this.quietMs);
    this.watches.set(uri, watch);
    const onAbort = () => watch.fail(new Error(`The check with ${this.label} was cancelled.`));
    signal.addEventListener('abort', onAbort, { once: true });
    let opened = false;
    try {
      const seconds = Math.round(this.firstPublishTimeoutMs / 1000);
      const waited = watch.wait(this.firstPublishTimeoutMs, `${this.label} published no diagnostics for the checked text within ${seconds} s.`);
      opened = this.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: check.languageId, version: 1, text } } });
      if (!opened) watch.fail(new Error(`${this.label} is not running.`));
      if (opened && this.pulls) {
        // Asked for, the diagnostics come complete in the answer; the pushed ones (if the server also pushes) are not waited for.
        waited.catch(() => undefined);
        return pulledItems(await this.request('textDocument/diagnostic', { textDocument: { uri } }, signal));
      }
      return await waited;
    } finally {
      // Settled already, unless the answer was pulled: then this ends the wait for pushed ones, and its timer.
      watch.fail(new Error('The shadow is closed.'));
      signal.removeEventListener('abort', onAbort);
      this.watches.delete(uri);
      if (opened) this.send({ jsonrpc: '2.0', method: 'textDocument/didClose', params: { textDocument: { uri } } });
    }
  }

  private send(message: NotificationMessage): boolean {
    return this.port?.send(message) ?? false;
  }
}
