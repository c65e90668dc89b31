/**
 * The edge between domain errors and JSON-RPC: every failure leaves as a
 * `ResponseError` with a message a person can act on and `data.reason` for
 * programs, secrets redacted. Also the shared pieces every handler needs:
 * waiting for a job while honouring `$/cancelRequest`, and parameter checks.
 *
 * Cancellation has two codes. `RequestCancelled` (-32800) answers only a
 * request the client cancelled itself with `$/cancelRequest`: clients may
 * treat it as their own business (Neovim never even calls the handler). A job
 * the server ended for any other reason (efrit/cancel, a newer request, the
 * session ending, shutdown) is `ServerCancelled` (-32802) with `data.reason`
 * saying why, so every client hears of it.
 */
import { ErrorCodes, LSPErrorCodes, ResponseError, type CancellationToken } from 'vscode-languageserver/node';
import type { Diagnostic, Range } from 'vscode-languageserver-types';
import { EfritError, isEfritError } from '../common/errors.js';
import { isPosition, isRecord } from '../common/json-shape.js';
import type { Logger, SecretRedactor } from '../common/logger.js';
import { maxStreamIdLength, type ErrorReason, type ServerCancelReason, type StreamIdentity } from '../protocol.js';
import type { Job, JobQueue } from '../queue/job-queue.js';

const invalidParamsReasons = new Set<ErrorReason>([
  'documentNotOpen',
  'rangeOutOfBounds',
  'invalidParams',
  'unknownJob',
  'unknownSession',
  'unknownAction',
]);

/** The request's own `$/cancelRequest` ended it: the one case answered with `RequestCancelled`. */
class ClientCancelledError extends Error {
  override readonly name = 'ClientCancelledError';
}

const serverCancelReasons = new Set<ErrorReason>([
  'cancelled',
  'superseded',
  'sessionEnded',
  'shuttingDown',
  'documentClosed',
  'documentChanged',
  'dropped',
] satisfies ServerCancelReason[]);

function codeFor(reason: ErrorReason): number {
  if (serverCancelReasons.has(reason)) return LSPErrorCodes.ServerCancelled;
  if (reason === 'editConflict') return LSPErrorCodes.ContentModified;
  if (invalidParamsReasons.has(reason)) return ErrorCodes.InvalidParams;
  return LSPErrorCodes.RequestFailed;
}

export function toResponseError(error: unknown, redactor: SecretRedactor, logger: Logger): ResponseError<{ reason: ErrorReason }> {
  if (error instanceof ClientCancelledError) {
    return new ResponseError(LSPErrorCodes.RequestCancelled, redactor.redact(error.message), { reason: 'cancelled' });
  }
  if (error instanceof ResponseError) {
    const reason = (error.data as { reason?: ErrorReason } | undefined)?.reason ?? 'internal';
    return new ResponseError(error.code, redactor.redact(error.message), { reason });
  }
  if (isEfritError(error)) {
    return new ResponseError(codeFor(error.reason), redactor.redact(error.message), { reason: error.reason });
  }
  logger.error('Internal error while answering a request', error);
  const message = error instanceof Error ? error.message : String(error);
  return new ResponseError(ErrorCodes.InternalError, redactor.redact(`Internal error in efrit-lsp: ${message}`), {
    reason: 'internal',
  });
}

/**
 * Waits for a job's result; a `$/cancelRequest` for the request cancels the
 * job (queued: it never runs; running: its HTTP request is aborted) and the
 * request is answered with `RequestCancelled` at once. A job ended by the
 * server instead rejects with its own reason (`ServerCancelled`).
 */
export async function awaitJob<T>(job: Job<T>, queue: JobQueue, token: CancellationToken | undefined): Promise<T> {
  // Positional params ([params, null]) hand a handler something else where the token goes.
  if (token === undefined || token === null || typeof token.onCancellationRequested !== 'function') return job.result;
  const cancelledByClient = 'Cancelled by the client.';
  if (token.isCancellationRequested) queue.cancel(job.id, cancelledByClient);
  const subscription = token.onCancellationRequested(() => queue.cancel(job.id, cancelledByClient));
  try {
    return await job.result;
  } catch (error) {
    if (token.isCancellationRequested) throw new ClientCancelledError(cancelledByClient);
    throw error;
  } finally {
    subscription.dispose();
  }
}

function isProgressToken(value: unknown): value is string | number {
  return (typeof value === 'string' && value !== '' && value.length <= maxStreamIdLength) || Number.isSafeInteger(value);
}

/**
 * The stream identity a request gives (see `StreamIdentity`): `streamId` and
 * `workDoneToken` from its params, or, for a command, from its argument and
 * the `workDoneToken` of `ExecuteCommandParams` (which wins when both are given).
 */
export function streamIdentity(params: Record<string, unknown>, what: string, commandToken?: unknown): StreamIdentity {
  const streamId = params['streamId'];
  if (streamId !== undefined && streamId !== null && !(typeof streamId === 'string' && streamId !== '' && streamId.length <= maxStreamIdLength)) {
    throw invalidParams(`${what}: "streamId" must be a non-empty string of at most ${maxStreamIdLength} characters.`);
  }
  const tokens: [unknown, string][] = [
    [commandToken, 'workDoneToken (of the command)'],
    [params['workDoneToken'], 'workDoneToken'],
  ];
  let workDoneToken: string | number | undefined;
  for (const [value, where] of tokens) {
    if (value === undefined || value === null) continue;
    if (!isProgressToken(value)) {
      throw invalidParams(`${what}: "${where}" must be a progress token: an integer, or a non-empty string of at most ${maxStreamIdLength} characters.`);
    }
    workDoneToken ??= value;
  }
  return { ...(typeof streamId === 'string' ? { streamId } : {}), ...(workDoneToken !== undefined ? { workDoneToken } : {}) };
}

export function invalidParams(message: string): EfritError {
  return new EfritError('invalidParams', message);
}

export function requireObject(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw invalidParams(`${what}: expected an object of parameters.`);
  return value;
}

export function requireString(params: Record<string, unknown>, key: string, what: string): string {
  const value = params[key];
  if (typeof value !== 'string' || value === '') throw invalidParams(`${what}: "${key}" must be a non-empty string.`);
  return value;
}

export function optionalString(params: Record<string, unknown>, key: string, what: string): string | undefined {
  const value = params[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidParams(`${what}: "${key}" must be a string.`);
  return value;
}

/** A list of strings, at most 1,000 of them (a client's list of files, never more than a change can touch). */
export function optionalStringList(params: Record<string, unknown>, key: string, what: string): string[] | undefined {
  const value = params[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length > 1_000 || !value.every((item) => typeof item === 'string')) {
    throw invalidParams(`${what}: "${key}" must be a list of at most 1000 strings.`);
  }
  return value as string[];
}

export function optionalBoolean(params: Record<string, unknown>, key: string, what: string): boolean | undefined {
  const value = params[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalidParams(`${what}: "${key}" must be true or false.`);
  return value;
}

function isRange(value: unknown): value is Range {
  return isRecord(value) && isPosition(value['start']) && isPosition(value['end']);
}

export function optionalRange(params: Record<string, unknown>, key: string, what: string): Range | undefined {
  const value = params[key];
  if (value === undefined || value === null) return undefined;
  if (!isRange(value)) {
    throw invalidParams(`${what}: "${key}" must be a range { start: { line, character }, end: { line, character } } with non-negative whole numbers.`);
  }
  const { start, end } = value;
  if (start.line > end.line || (start.line === end.line && start.character > end.character)) {
    throw invalidParams(`${what}: "${key}" ends before it starts.`);
  }
  return value;
}

export function requireRange(params: Record<string, unknown>, key: string, what: string): Range {
  const range = optionalRange(params, key, what);
  if (range === undefined) throw invalidParams(`${what}: "${key}" is required.`);
  return range;
}

/** A list of LSP diagnostics: each `{ range, message: string | MarkupContent, … }`. */
export function optionalDiagnostics(value: unknown, what: string): Diagnostic[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalidParams(`${what}: "diagnostics" must be a list of LSP diagnostics.`);
  value.forEach((item: unknown, index) => {
    const where = `${what}: diagnostics[${index}]`;
    if (!isRecord(item)) throw invalidParams(`${where} must be an LSP diagnostic { range, message }.`);
    requireRange(item, 'range', where);
    const message = item['message'];
    if (typeof message !== 'string' && !(isRecord(message) && typeof message['value'] === 'string')) {
      throw invalidParams(`${where}: "message" must be a string.`);
    }
  });
  return value as Diagnostic[];
}

/** `textDocument: { uri }` as the protocol writes it. */
export function optionalDocumentUri(params: Record<string, unknown>, what: string): string | undefined {
  const ref = params['textDocument'];
  if (ref === undefined || ref === null) return undefined;
  if (!isRecord(ref) || typeof ref['uri'] !== 'string' || ref['uri'] === '') {
    throw invalidParams(`${what}: "textDocument" must be { uri: string }.`);
  }
  return ref['uri'];
}

export function requireDocumentUri(params: Record<string, unknown>, what: string): string {
  const uri = optionalDocumentUri(params, what);
  if (uri === undefined) throw invalidParams(`${what}: "textDocument" ({ uri }) is required.`);
  return uri;
}
