/**
 * The proxy router's decisions, as pure functions of the messages: which side
 * owns a request, what each side is told, how two answers become one. The
 * router (router.ts) keeps the state (pending requests, the child's life) and
 * calls these, so every rule here can be pinned by a unit test without
 * connections.
 */
import { Range, type CodeAction, type Command, type Diagnostic, type NotificationMessage, type RequestMessage, type ResponseMessage } from 'vscode-languageserver/node';
import type { TrackedDocument } from '../documents/tracked-document.js';

/** The two servers behind the router: the wrapped one and efrit-lsp. */
export type Side = 'child' | 'efrit';

/** What clamping needs of a document: LSP's rule that past a line's end means its end. */
export type PositionClamp = Pick<TrackedDocument, 'offsetAt' | 'positionAt'>;

/** Finds an open document by uri, to clamp positions in it. */
export type DocumentLookup = (uri: string) => PositionClamp | undefined;

/** Whether two ranges overlap or meet (a range ending where the other starts touches it). */
export function rangesTouch(a: Range, b: Range): boolean {
  const before = (p: Range['start'], q: Range['start']) => p.line < q.line || (p.line === q.line && p.character < q.character);
  return !before(a.end, b.start) && !before(b.end, a.start);
}

/** A code action efrit-lsp made: its `data` carries `efrit: 1`. */
export function isEfritAction(action: unknown): boolean {
  const data = (action as { data?: unknown } | null)?.data;
  return typeof data === 'object' && data !== null && (data as { efrit?: unknown }).efrit === 1;
}

/**
 * The side an editor request goes to, for the requests only one side
 * answers: `codeAction/resolve` and `workspace/executeCommand` to the side
 * that owns the action or command, `efrit/*` to efrit-lsp, the rest to the
 * wrapped server.
 */
export function ownerOfRequest(request: RequestMessage): Side {
  switch (request.method) {
    case 'codeAction/resolve':
      return isEfritAction(request.params) ? 'efrit' : 'child';
    case 'workspace/executeCommand': {
      const command = (request.params as { command?: unknown } | undefined)?.command;
      return typeof command === 'string' && command.startsWith('efrit.') ? 'efrit' : 'child';
    }
    default:
      return ownerOfMethod(request.method);
  }
}

/** `efrit/*` methods are efrit-lsp's; every other one the wrapped server's. */
export function ownerOfMethod(method: string): Side {
  return method.startsWith('efrit/') ? 'efrit' : 'child';
}

/**
 * `initializationOptions` of the form `{ efrit: {…}, …rest }` are split: the
 * `efrit` section is efrit-lsp's, the rest the wrapped server's (as settings
 * are). Options without an `efrit` key go to both unchanged, so flat efrit
 * settings keep working. Answers `[forChild, forEfrit]`.
 */
export function splitInitializationOptions(request: RequestMessage): [RequestMessage, RequestMessage] {
  const params = (request.params ?? {}) as { initializationOptions?: unknown };
  const options = params.initializationOptions;
  if (typeof options !== 'object' || options === null || Array.isArray(options) || !Object.hasOwn(options, 'efrit')) return [request, request];
  const { efrit, ...rest } = options as Record<string, unknown>;
  return [
    { ...request, params: { ...params, initializationOptions: rest } },
    { ...request, params: { ...params, initializationOptions: { efrit } } },
  ];
}

/** `workspace/didChangeConfiguration` as the wrapped server sees it: without the `efrit` section. */
export function settingsForChild(notification: NotificationMessage): NotificationMessage {
  const params = notification.params as Record<string, unknown> | undefined;
  const settings = params?.['settings'];
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) return notification;
  const { efrit: _efrit, ...rest } = settings as Record<string, unknown>;
  return { ...notification, params: { ...params, settings: rest } };
}

/**
 * LSP says a character past the end of a line means the end of the line, and
 * servers rely on it (pyflakes' ranges in pylsp end one past the line);
 * efrit-lsp refuses such ranges, so what goes to it is clamped to the text.
 * Without the document (not open) or a well-formed range, the item is as it
 * was: efrit-lsp refuses a malformed one with a reason.
 */
export function clampToText<T extends { range?: Range }>(doc: PositionClamp | undefined, item: T): T {
  if (doc === undefined || !hasRange(item)) return item;
  const at = (position: Range['start']) => doc.positionAt(doc.offsetAt(position));
  return { ...item, range: { start: at(item.range.start), end: at(item.range.end) } };
}

/** `efrit.runAction`'s argument (a range and diagnostics in a document) clamped to the document's text; other commands as they are. */
export function clampActionArguments(request: RequestMessage, documentAt: DocumentLookup): RequestMessage {
  const params = request.params as { command?: string; arguments?: unknown[] } | undefined;
  if (params?.command !== 'efrit.runAction' || !Array.isArray(params.arguments)) return request;
  const [argument, ...others] = params.arguments as [{ textDocument?: { uri?: string }; range?: Range; diagnostics?: unknown } | undefined, ...unknown[]];
  if (typeof argument !== 'object' || argument === null) return request;
  const doc = lookup(documentAt, argument.textDocument?.uri);
  const clamped = { ...clampToText(doc, argument), ...(Array.isArray(argument.diagnostics) ? { diagnostics: argument.diagnostics.map((d: Diagnostic) => clampToText(doc, d)) } : {}) };
  return { ...request, params: { ...params, arguments: [clamped, ...others] } };
}

/**
 * `textDocument/codeAction` as efrit-lsp gets it: the range clamped to the
 * text, and the diagnostics the editor sent, or, when it sent none, the
 * wrapped server's latest ones (`keptDiagnostics`) that touch the range, since
 * Efrit's Fix needs them (a kept one without a well-formed range is left out:
 * the wrapped server is third-party code). A request without a document and a
 * well-formed range, or with diagnostics that are not a list, is as it was, for
 * efrit-lsp to refuse with a reason.
 */
export function codeActionRequestForEfrit(request: RequestMessage, keptDiagnostics: readonly Diagnostic[] | undefined, documentAt: DocumentLookup): RequestMessage {
  const params = request.params as { textDocument?: { uri?: string }; range?: unknown; context?: { diagnostics?: unknown } } | undefined;
  const uri = params?.textDocument?.uri;
  const range = params?.range;
  const context = params?.context;
  const sent = context?.diagnostics ?? [];
  if (uri === undefined || !Range.is(range) || !Array.isArray(sent)) return request;
  const diagnostics: Diagnostic[] = sent.length > 0 ? sent : (keptDiagnostics?.filter((diagnostic) => hasRange(diagnostic) && rangesTouch(diagnostic.range, range)) ?? []);
  const doc = lookup(documentAt, uri);
  return {
    ...request,
    params: { ...params, range: clampToText(doc, { range }).range, context: { ...context, diagnostics: diagnostics.map((d) => clampToText(doc, d)) } },
  };
}

/**
 * Two `textDocument/codeAction` answers as one: the wrapped server's actions
 * first, then efrit-lsp's; a side that failed adds none. Both failed: efrit-lsp's
 * error. Both answered null (or failed): null, as one server would say "none".
 */
export function mergeCodeActionResponses(child: ResponseMessage, efrit: ResponseMessage): ResponseMessage {
  if (child.error !== undefined && efrit.error !== undefined) return efrit;
  const list = (response: ResponseMessage) => (response.error === undefined && Array.isArray(response.result) ? (response.result as (CodeAction | Command)[]) : []);
  const bothEmpty = (child.error !== undefined || child.result === null) && (efrit.error !== undefined || efrit.result === null);
  return { jsonrpc: '2.0', id: efrit.id, result: bothEmpty ? null : [...list(child), ...list(efrit)] };
}

/** A `textDocument/publishDiagnostics`'s document and diagnostics, when it is well formed. */
export function publishedDiagnostics(params: unknown): { uri: string; diagnostics: Diagnostic[] } | undefined {
  const { uri, diagnostics } = (params ?? {}) as { uri?: unknown; diagnostics?: unknown };
  if (typeof uri !== 'string' || !Array.isArray(diagnostics)) return undefined;
  return { uri, diagnostics: diagnostics as Diagnostic[] };
}

/** `didOpen` for a document as the store holds it (a restarted child, or an open the store had to repair). */
export function openNotification(doc: Pick<TrackedDocument, 'uri' | 'languageId' | 'version' | 'text'>): NotificationMessage {
  return {
    jsonrpc: '2.0',
    method: 'textDocument/didOpen',
    params: { textDocument: { uri: doc.uri, languageId: doc.languageId, version: doc.version, text: doc.text } },
  } as NotificationMessage;
}

/** `didClose` for a document the router itself opened in the wrapped server. */
export function closeNotification(uri: string): NotificationMessage {
  return { jsonrpc: '2.0', method: 'textDocument/didClose', params: { textDocument: { uri } } } as NotificationMessage;
}

/** `didChange` carrying the whole text: for a full-sync child, or after a change the store had to repair. */
export function fullTextChange(doc: Pick<TrackedDocument, 'uri' | 'version' | 'text'>): NotificationMessage {
  return {
    jsonrpc: '2.0',
    method: 'textDocument/didChange',
    params: { textDocument: { uri: doc.uri, version: doc.version }, contentChanges: [{ text: doc.text }] },
  } as NotificationMessage;
}

/** The restarts that still count at `now`: those less than `windowMs` ago. */
export function recentRestarts(restarts: readonly number[], now: number, windowMs: number): number[] {
  return restarts.filter((at) => now - at < windowMs);
}

/** What the editor is told when the wrapped server died and is not started again. */
export function childGoneMessage(label: string, reason: string, gaveUp: { maxRestarts: number; windowMs: number } | undefined): string {
  const why = gaveUp === undefined ? '' : ` It has crashed ${gaveUp.maxRestarts + 1} times in ${Math.round(gaveUp.windowMs / 60_000)} minutes, so it is not restarted again.`;
  return `Efrit: the wrapped language server "${label}" ${reason}.${why} Its features are gone until the editor restarts it; efrit-lsp's own features keep working.`;
}

function hasRange(item: unknown): item is { range: Range } {
  return Range.is((item as { range?: unknown } | null | undefined)?.range);
}

function lookup(documentAt: DocumentLookup, uri: string | undefined): PositionClamp | undefined {
  return typeof uri === 'string' ? documentAt(uri) : undefined;
}
