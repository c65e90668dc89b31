/**
 * Proxy mode: editor ⇄ router ⇄ {wrapped server, efrit-lsp}. Every message is
 * parsed once and routed as it is; only a few are looked into.
 *
 * Ids. Editor requests keep their ids on whichever side(s) they go to (each
 * side is its own connection, so one id cannot collide there). Requests from
 * the wrapped server reach the editor with their own ids; efrit-lsp's
 * server→client requests are renumbered to `efrit:<n>` strings, and the
 * editor's answer is mapped back, so the two never collide.
 *
 * Routing. `initialize`, `shutdown` and `textDocument/codeAction` go to both
 * and their answers are merged (the wrapped server's actions first).
 * `codeAction/resolve` and `workspace/executeCommand` go to the side that owns
 * the action (`data.efrit === 1`, commands `efrit.*`); `efrit/*` to efrit-lsp;
 * every other request to the wrapped server. `initialized`, workspace folders
 * and settings go to both (the `efrit` section is taken out of what the
 * wrapped server sees). `exit` is the router's: the child is stopped, then
 * the process exits.
 *
 * Documents. There is one copy of each open document in the process:
 * efrit-lsp's store. The router applies each sync notification to it
 * directly, in the turn it arrives (so efrit-lsp never sees an older text than
 * the wrapped server), then forwards it to the wrapped server: as sent when
 * the store took it exactly, or as the store's whole text when the store had
 * to repair it (a range past the end, a malformed change), so the two never
 * drift apart. A full-sync child gets the whole text every time.
 *
 * efrit-lsp's own requests. The agent asks the wrapped server questions of
 * its own (definitions, references, diagnostics) through a `WrappedServerLink`:
 * ids `efrit-own:<n>`, answered to the link, never to the editor. A file the
 * editor has not opened may be borrowed (opened in the wrapped server for a
 * question, closed after; the editor opening it ends the borrow first), and
 * its diagnostics are held back from the editor. Shadow documents (`a.efrit-check-<n>.ts`)
 * hold texts efrit-lsp checks; nothing about them reaches the editor.
 *
 * Crashes. When the wrapped server dies unasked, its pending requests are
 * answered with an error, its diagnostics are cleared in the editor, and it is
 * started again (at most `maxRestarts` times in `restartWindowMs`, as editors'
 * own clients do): initialized with the editor's parameters, given the latest
 * settings, and every open document opened again from the store. In
 * between, requests for it are answered with an error and its notifications
 * are dropped; the store keeps following the edits, so nothing is lost.
 */
import {
  ErrorCodes,
  Message,
  MessageType,
  TextDocumentSyncKind,
  type Diagnostic,
  type InitializeResult,
  type NotificationMessage,
  type RequestMessage,
  type ResponseMessage,
} from 'vscode-languageserver/node';
import type { DocumentStore } from '../documents/document-store.js';
import type { DocumentSync, SyncMethod } from '../features/document-sync.js';
import { childSyncKind, mergeInitializeResults, methodsEfritAnswers } from './capabilities.js';
import type { Endpoint } from './memory-transport.js';
import type { WrappedServerLink } from './wrapped-server-link.js';
import { mayNameShadows, withoutShadows } from './shadow-scrub.js';
import {
  childGoneMessage,
  clampActionArguments,
  codeActionRequestForEfrit,
  closeNotification,
  fullTextChange,
  mergeCodeActionResponses,
  openNotification,
  ownerOfMethod,
  ownerOfRequest,
  publishedDiagnostics,
  recentRestarts,
  settingsForChild,
  splitInitializationOptions,
  type DocumentLookup,
  type Side,
} from './routing-rules.js';

type Id = number | string;

/** The part of a wrapped server the router needs; `spawnWrappedServer` gives one. */
export interface WrappedEndpoint {
  readonly endpoint: Endpoint;
  readonly label: string;
  onExit(listener: (reason: string) => void): void;
  stop(graceMs: number): Promise<void>;
}

/** efrit-lsp's documents: the one copy, which the router keeps in sync and reads. */
export interface ProxyDocuments {
  documents: Pick<DocumentStore, 'get' | 'uris'>;
  sync: DocumentSync;
}

export interface RouterOptions {
  editor: Endpoint;
  efrit: Endpoint;
  /** efrit-lsp's store, shared: sync notifications are applied to it here, not sent over `efrit`. */
  documents: ProxyDocuments;
  child: WrappedEndpoint;
  /** Starts the wrapped server again after a crash; without it a crash is final. */
  restartChild?: () => WrappedEndpoint;
  /** Restarts allowed within `restartWindowMs`, after which a crash is final. @default 4 */
  maxRestarts?: number;
  /** @default 180000 (three minutes) */
  restartWindowMs?: number;
  /** Ends the process (after the child is stopped); injectable for tests. */
  exit: (code: number) => void;
  log?: (message: string) => void;
  /** How long `shutdown` waits for the wrapped server's answer. @default 3000 */
  shutdownTimeoutMs?: number;
  /** efrit-lsp's own requests and shadow documents (see wrapped-server-link.ts); their traffic never reaches the editor. */
  link?: WrappedServerLink;
}

const efritIdPrefix = 'efrit:';
/** Released borrowed documents remembered at most, waiting for the server's close diagnostics. */
const maxReleased = 256;
/** Ids of the router's own requests to the wrapped server (a restart's `initialize`). */
const routerIdPrefix = 'efrit-proxy:';

export class ProxyRouter {
  private child: WrappedEndpoint;
  /** `restarting`: a new child is being initialized; editor traffic for it is answered or dropped as if it were gone. */
  private childState: 'running' | 'restarting' | 'gone' = 'running';
  /** What the wrapped server needs again after a restart: its `initialize`, whether `initialized` came, its latest settings. */
  private childInitialize: RequestMessage | undefined;
  private childInitialized = false;
  private childSettings: NotificationMessage | undefined;
  private restarts: number[] = [];
  private nextRouterRequest = 0;
  private shutdownRequested = false;
  private exiting = false;
  private childSync: TextDocumentSyncKind = TextDocumentSyncKind.Incremental;
  /** Set at `initialize`: the requests efrit-lsp answers beyond `efrit/*` (see `methodsEfritAnswers`). */
  private answeredByEfrit = new Set<string>();
  private readonly pending: Record<Side, Map<Id, (response: ResponseMessage) => void>> = { child: new Map(), efrit: new Map() };
  /** editor-facing id → efrit-lsp's own id, for efrit's server→client requests. */
  private readonly efritRequests = new Map<string, Id>();
  private readonly efritRequestsBack = new Map<Id, string>();
  private nextEfritRequest = 0;
  /** Documents efrit-lsp opened in the wrapped server that the editor has not (see `borrow`), with how many users each has. */
  private readonly borrowed = new Map<string, number>();
  /** Borrowed documents closed again, until the server's last word on them (the empty diagnostics of the close) has been held back. */
  private readonly released = new Set<string>();
  /** The document the editor last sent something about. */
  private lastUsed: string | undefined;
  /** The wrapped server's latest diagnostics per document, for code actions asked without them. */
  readonly diagnostics = new Map<string, Diagnostic[]>();
  private readonly log: (message: string) => void;
  private readonly documentAt: DocumentLookup = (uri) => this.options.documents.documents.get(uri);

  constructor(private readonly options: RouterOptions) {
    this.log = options.log ?? (() => undefined);
    const { editor, efrit, child } = options;
    this.child = child;
    editor.reader.listen((message) => this.fromEditor(message));
    efrit.reader.listen((message) => this.fromEfrit(message));
    editor.reader.onClose(() => void this.exit(this.shutdownRequested ? 0 : 1));
    editor.reader.onError((error) => this.log(`proxy: bad message from the editor: ${String(error)}`));
    this.attach(child);
    options.link?.connect({
      label: () => this.child.label,
      send: (message) => {
        if (!this.childRunning) return false;
        this.send('child', message);
        return true;
      },
      published: (uri) => this.diagnostics.get(uri),
      latestDocument: () => this.latestDocument(),
      borrow: (uri, languageId, text) => this.borrow(uri, languageId, text),
      release: (uri) => this.release(uri),
    });
  }

  get childRunning(): boolean {
    return this.childState === 'running';
  }

  private attach(child: WrappedEndpoint): void {
    child.endpoint.reader.listen((message) => {
      if (child === this.child) this.fromChild(message);
    });
    child.endpoint.reader.onError((error) => this.log(`proxy: bad message from ${child.label}: ${String(error)}`));
    child.onExit((reason) => {
      if (child === this.child) this.childExited(reason);
    });
  }

  // ── editor → ───────────────────────────────────────────────────────────

  private fromEditor(message: Message): void {
    if (Message.isRequest(message)) this.editorRequest(message);
    else if (Message.isResponse(message)) this.editorResponse(message);
    else if (Message.isNotification(message)) this.editorNotification(message);
  }

  private editorRequest(request: RequestMessage): void {
    const about = (request.params as { textDocument?: { uri?: unknown } } | undefined)?.textDocument?.uri;
    if (typeof about === 'string') this.lastUsed = about;
    switch (request.method) {
      case 'initialize':
        void this.initialize(request);
        return;
      case 'shutdown':
        void this.shutdown(request);
        return;
      case 'textDocument/codeAction':
        void this.codeActions(request);
        return;
      default: {
        const side = this.answeredByEfrit.has(request.method) ? 'efrit' : ownerOfRequest(request);
        this.forward(side, side === 'efrit' && request.method === 'workspace/executeCommand' ? clampActionArguments(request, this.documentAt) : request, request);
      }
    }
  }

  private editorResponse(response: ResponseMessage): void {
    if (typeof response.id === 'string' && response.id.startsWith(efritIdPrefix)) {
      const original = this.efritRequests.get(response.id);
      if (original === undefined) return;
      this.efritRequests.delete(response.id);
      this.efritRequestsBack.delete(original);
      this.send('efrit', { ...response, id: original });
    } else {
      this.send('child', response);
    }
  }

  private editorNotification(notification: NotificationMessage): void {
    const params = notification.params as Record<string, unknown> | undefined;
    switch (notification.method) {
      case 'exit':
        void this.exit(this.shutdownRequested ? 0 : 1);
        return;
      case '$/cancelRequest': {
        const id = params?.['id'] as Id | undefined;
        if (id === undefined) return;
        for (const side of ['child', 'efrit'] as const) if (this.pending[side].has(id)) this.send(side, notification);
        return;
      }
      case 'workspace/didChangeConfiguration':
        this.send('efrit', notification);
        this.childSettings = settingsForChild(notification);
        this.send('child', this.childSettings);
        return;
      case 'textDocument/didOpen':
      case 'textDocument/didChange':
      case 'textDocument/didClose':
        this.sync(notification, notification.method);
        return;
      case 'initialized':
        this.childInitialized = true;
        this.send('efrit', notification);
        this.send('child', notification);
        return;
      case 'textDocument/didSave':
      case 'workspace/didChangeWorkspaceFolders':
      case 'window/workDoneProgress/cancel':
      case '$/setTrace':
        this.send('efrit', notification);
        this.send('child', notification);
        return;
      default:
        this.send(ownerOfMethod(notification.method), notification);
    }
  }

  /**
   * Applies a sync notification to the store, then tells the wrapped server
   * what the store now holds: the notification as sent when the store took it
   * exactly (and the child syncs incrementally), else the whole text.
   */
  private sync(notification: NotificationMessage, method: SyncMethod): void {
    const params = notification.params as { textDocument?: { uri?: unknown } } | undefined;
    const uri = typeof params?.textDocument?.uri === 'string' ? params.textDocument.uri : undefined;
    const wasOpen = uri !== undefined && this.options.documents.documents.get(uri) !== undefined;
    const problems = this.options.documents.sync.apply(method, notification.params);
    if (uri !== undefined && method !== 'textDocument/didClose') this.lastUsed = uri;
    const doc = uri === undefined ? undefined : this.options.documents.documents.get(uri);
    if (method === 'textDocument/didClose') {
      if (uri !== undefined) this.diagnostics.delete(uri);
      if (wasOpen) this.send('child', notification);
      return;
    }
    // Not open in the store (a malformed open, a change to an unknown document): the child must not have it either.
    if (doc === undefined) return;
    if (method === 'textDocument/didOpen') {
      // The editor opens what efrit-lsp borrowed: the server must not see it opened twice, so the borrow ends here.
      if (this.borrowed.delete(doc.uri)) this.send('child', closeNotification(doc.uri));
      this.released.delete(doc.uri);
      this.send('child', problems.length === 0 ? notification : openNotification(doc));
      return;
    }
    if (problems.length === 0 && this.childSync !== TextDocumentSyncKind.Full) {
      this.send('child', notification);
      return;
    }
    if (problems.length > 0) this.log(`proxy: ${doc.uri} was resynced with ${this.child.label} in full after a change efrit-lsp had to repair`);
    this.send('child', fullTextChange(doc));
  }

  // ── the requests both sides answer ────────────────────────────────────

  private async initialize(request: RequestMessage): Promise<void> {
    const [forChild, forEfrit] = splitInitializationOptions(request);
    this.childInitialize = forChild;
    const [child, efrit] = await Promise.all([this.ask('child', forChild), this.ask('efrit', forEfrit)]);
    if (efrit.error !== undefined) {
      this.reply(request, efrit);
      return;
    }
    let childResult: InitializeResult | undefined;
    if (child.error !== undefined) {
      this.showError(`Efrit: the wrapped language server "${this.child.label}" failed to initialize: ${child.error.message}. efrit-lsp's own features still work.`);
    } else {
      childResult = child.result as InitializeResult;
      this.childSync = childSyncKind(childResult.capabilities);
    }
    this.options.link?.childInitialized(childResult?.capabilities, childResult?.serverInfo?.name);
    const efritResult = efrit.result as InitializeResult;
    this.answeredByEfrit = methodsEfritAnswers(childResult?.capabilities, efritResult.capabilities);
    this.reply(request, { jsonrpc: '2.0', id: request.id, result: mergeInitializeResults(childResult, efritResult) });
  }

  private async shutdown(request: RequestMessage): Promise<void> {
    this.shutdownRequested = true;
    const timeoutMs = this.options.shutdownTimeoutMs ?? 3000;
    let timer: NodeJS.Timeout | undefined;
    const childDone = Promise.race([this.ask('child', request), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    await Promise.all([childDone, this.ask('efrit', request)]);
    clearTimeout(timer);
    this.reply(request, { jsonrpc: '2.0', id: request.id, result: null });
  }

  private async codeActions(request: RequestMessage): Promise<void> {
    const uri = (request.params as { textDocument?: { uri?: unknown } } | undefined)?.textDocument?.uri;
    const kept = typeof uri === 'string' ? this.diagnostics.get(uri) : undefined;
    const efritRequest = codeActionRequestForEfrit(request, kept, this.documentAt);
    const [childAnswer, efrit] = await Promise.all([this.ask('child', request), this.ask('efrit', efritRequest)]);
    const child = this.withoutShadows(request.method, childAnswer);
    const bothFailed = child.error !== undefined && efrit.error !== undefined;
    if (!bothFailed && child.error !== undefined && this.childRunning) this.log(`proxy: ${this.child.label} failed textDocument/codeAction: ${child.error.message}`);
    if (!bothFailed && efrit.error !== undefined) this.log(`proxy: efrit-lsp failed textDocument/codeAction: ${efrit.error.message}`);
    this.reply(request, mergeCodeActionResponses(child, efrit));
  }

  // ── wrapped server → ──────────────────────────────────────────────────

  private fromChild(message: Message): void {
    if (Message.isResponse(message)) {
      if (this.options.link?.takeResponse(message) === true) return;
      this.settle('child', message);
    } else if (Message.isRequest(message)) {
      // An edit the server asks the editor to apply (a refactoring's) must not reach into a shadow.
      this.send('editor', this.scrubs(message.method) ? { ...message, params: withoutShadows(message.params) as RequestMessage['params'] } : message);
    } else if (Message.isNotification(message)) {
      const published = message.method === 'textDocument/publishDiagnostics' ? publishedDiagnostics(message.params) : undefined;
      // A shadow document's diagnostics are efrit-lsp's alone: the editor never hears of the document.
      if (published !== undefined && this.options.link?.takePublished(published.uri, published.diagnostics) === true) return;
      if (published !== undefined && this.heldBack(published.uri, published.diagnostics)) return;
      if (published !== undefined) {
        if (published.diagnostics.length === 0) this.diagnostics.delete(published.uri);
        else this.diagnostics.set(published.uri, published.diagnostics);
      }
      this.send('editor', message);
    }
  }

  private childExited(reason: string): void {
    this.childState = 'gone';
    for (const [id, settle] of this.pending.child) settle(this.childGone(id));
    this.pending.child.clear();
    this.options.link?.childGone();
    // Borrowed documents die with it; a restarted server is given only the editor's.
    this.borrowed.clear();
    this.released.clear();
    // Its diagnostics die with it; a restarted server publishes its own.
    for (const uri of this.diagnostics.keys()) {
      this.send('editor', { jsonrpc: '2.0', method: 'textDocument/publishDiagnostics', params: { uri, diagnostics: [] } } as NotificationMessage);
    }
    this.diagnostics.clear();
    if (this.shutdownRequested || this.exiting) return;
    const label = this.child.label;
    const maxRestarts = this.options.maxRestarts ?? 4;
    const windowMs = this.options.restartWindowMs ?? 180_000;
    const now = Date.now();
    this.restarts = recentRestarts(this.restarts, now, windowMs);
    if (this.options.restartChild !== undefined && this.childInitialize !== undefined && this.restarts.length < maxRestarts) {
      this.restarts.push(now);
      this.showMessage(MessageType.Warning, `Efrit: the wrapped language server "${label}" ${reason}; restarting it.`);
      void this.restart(this.options.restartChild());
      return;
    }
    this.showError(childGoneMessage(label, reason, this.restarts.length >= maxRestarts ? { maxRestarts, windowMs } : undefined));
  }

  /** A new child: initialized as the first was, given the latest settings, then every open document. */
  private async restart(child: WrappedEndpoint): Promise<void> {
    this.child = child;
    this.childState = 'restarting';
    this.attach(child);
    const id = `${routerIdPrefix}${this.nextRouterRequest++}`;
    const initialize = { ...(this.childInitialize as RequestMessage), id };
    const response = await new Promise<ResponseMessage>((resolve) => {
      this.pending.child.set(id, resolve);
      this.write(child, initialize);
    });
    // Crashed again meanwhile: childExited has dealt with it.
    if (child !== this.child || this.childState !== 'restarting') return;
    if (response.error !== undefined) {
      this.childState = 'gone';
      this.showError(`Efrit: the wrapped language server "${child.label}" failed to initialize after a restart: ${response.error.message}. efrit-lsp's own features keep working.`);
      return;
    }
    this.childSync = childSyncKind((response.result as InitializeResult).capabilities);
    // From here on, editor traffic flows to it again; the documents go first, in this same turn, so no edit slips in between.
    this.childState = 'running';
    if (this.childInitialized) this.write(child, { jsonrpc: '2.0', method: 'initialized', params: {} } as NotificationMessage);
    if (this.childSettings !== undefined) this.write(child, this.childSettings);
    const { documents } = this.options.documents;
    const open = documents.uris().flatMap((uri) => documents.get(uri) ?? []);
    for (const doc of open) this.write(child, openNotification(doc));
    this.log(`proxy: ${child.label} restarted; ${open.length} open document(s) opened again`);
  }

  private childGone(id: Id): ResponseMessage {
    return { jsonrpc: '2.0', id, error: { code: ErrorCodes.InternalError, message: `The wrapped language server "${this.child.label}" is not running.` } };
  }

  // ── efrit-lsp's own documents in the wrapped server ─────────────────

  /** The open document the editor used last (an open one, should that one be closed). */
  private latestDocument(): string | undefined {
    const { documents } = this.options.documents;
    if (this.lastUsed !== undefined && documents.get(this.lastUsed) !== undefined) return this.lastUsed;
    return documents.uris().at(-1);
  }

  /**
   * Opens a file the editor has not opened in the wrapped server, for
   * efrit-lsp's own requests about it (typescript-language-server answers
   * only for open documents). False, and nothing sent, when the editor has it
   * open (the server has the editor's text already) or the server is not
   * running. Each borrow is ended by `release`; should the editor open the
   * document meanwhile, the borrow ends then and the editor's open goes through.
   */
  private borrow(uri: string, languageId: string, text: string): boolean {
    if (!this.childRunning || this.options.documents.documents.get(uri) !== undefined) return false;
    const users = this.borrowed.get(uri) ?? 0;
    if (users === 0) {
      this.released.delete(uri);
      this.send('child', openNotification({ uri, languageId, version: 1, text }));
    }
    this.borrowed.set(uri, users + 1);
    return true;
  }

  private release(uri: string): void {
    const users = this.borrowed.get(uri);
    if (users === undefined) return;
    if (users > 1) {
      this.borrowed.set(uri, users - 1);
      return;
    }
    this.borrowed.delete(uri);
    this.send('child', closeNotification(uri));
    this.released.add(uri);
    // Bounded: a server that never answers a close with empty diagnostics must not make this grow.
    if (this.released.size > maxReleased) this.released.delete(this.released.values().next().value as string);
  }

  /**
   * Whether diagnostics for a borrowed document are held back from the
   * editor, which does not have it open: while it is borrowed, and after, up
   * to the empty list servers publish when a document closes.
   */
  private heldBack(uri: string, diagnostics: readonly Diagnostic[]): boolean {
    if (this.borrowed.has(uri)) return true;
    if (!this.released.has(uri)) return false;
    if (diagnostics.length === 0) this.released.delete(uri);
    return true;
  }

  // ── efrit-lsp → ──────────────────────────────────────────────────────

  private fromEfrit(message: Message): void {
    if (Message.isResponse(message)) {
      this.settle('efrit', message);
    } else if (Message.isRequest(message)) {
      const id = `${efritIdPrefix}${this.nextEfritRequest++}`;
      this.efritRequests.set(id, message.id as Id);
      this.efritRequestsBack.set(message.id as Id, id);
      this.send('editor', { ...message, id });
    } else if (Message.isNotification(message)) {
      if (message.method === '$/cancelRequest') {
        const mapped = this.efritRequestsBack.get((message.params as { id: Id }).id);
        if (mapped !== undefined) this.send('editor', { ...message, params: { id: mapped } });
        return;
      }
      this.send('editor', message);
    }
  }

  // ── plumbing ─────────────────────────────────────────────────────────

  /** Sends a request to one side; resolves with its response (the child's being gone is a response too). */
  private ask(side: Side, request: RequestMessage): Promise<ResponseMessage> {
    if (side === 'child' && !this.childRunning) return Promise.resolve(this.childGone(request.id as Id));
    return new Promise((resolve) => {
      this.pending[side].set(request.id as Id, resolve);
      this.send(side, request);
    });
  }

  private forward(side: Side, request: RequestMessage, original = request): void {
    void this.ask(side, request).then((response) => this.reply(original, side === 'child' ? this.withoutShadows(request.method, response) : response));
  }

  /** Whether a message of `method` from the wrapped server may name a shadow document: only once efrit-lsp has opened one. */
  private scrubs(method: string): boolean {
    return this.options.link?.shadowsUsed === true && mayNameShadows(method);
  }

  /** The wrapped server's answer without the shadow documents it counts as files of the project (see shadow-scrub.ts). */
  private withoutShadows(method: string, response: ResponseMessage): ResponseMessage {
    if (response.result === undefined || !this.scrubs(method)) return response;
    return { ...response, result: withoutShadows(response.result) as NonNullable<ResponseMessage['result']> | null };
  }

  private settle(side: Side, response: ResponseMessage): void {
    if (response.id === null) return;
    const settle = this.pending[side].get(response.id);
    if (settle === undefined) return;
    this.pending[side].delete(response.id);
    settle(response);
  }

  private reply(request: RequestMessage, response: ResponseMessage): void {
    this.send('editor', { ...response, id: request.id as Id });
  }

  private send(to: Side | 'editor', message: RequestMessage | ResponseMessage | NotificationMessage): void {
    if (to === 'child' && !this.childRunning) return;
    const endpoint = to === 'editor' ? this.options.editor : to === 'efrit' ? this.options.efrit : this.child.endpoint;
    endpoint.writer.write(message).catch((error: unknown) => this.log(`proxy: could not write to ${to}: ${String(error)}`));
  }

  /** Writes to a child whatever its state: the router's own messages during a restart. */
  private write(child: WrappedEndpoint, message: RequestMessage | NotificationMessage): void {
    child.endpoint.writer.write(message).catch((error: unknown) => this.log(`proxy: could not write to ${child.label}: ${String(error)}`));
  }

  private showError(message: string): void {
    this.showMessage(MessageType.Error, message);
  }

  private showMessage(type: MessageType, message: string): void {
    this.send('editor', { jsonrpc: '2.0', method: 'window/showMessage', params: { type, message } } as NotificationMessage);
  }

  /** `exit` (or the editor gone): `exit` reaches the child, which gets a moment to go, then the process ends. */
  private async exit(code: number): Promise<void> {
    if (this.exiting) return;
    this.exiting = true;
    this.send('child', { jsonrpc: '2.0', method: 'exit' } as NotificationMessage);
    await this.child.stop(this.shutdownRequested ? 2000 : 300);
    this.options.exit(code);
  }
}
