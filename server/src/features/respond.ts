/**
 * The edge between domain errors and JSON-RPC: every failure leaves as a
 * `ResponseError` with a message a person can act on and `data.reason` for
 * programs, secrets redacted. Also the shared pieces every handler needs:
 * waiting for a job while honouring `$/cancelRequest`, and parameter checks.
 */
import { ErrorCodes, LSPErrorCodes, ResponseError, type CancellationToken } from 'vscode-languageserver/node';
import type { Diagnostic, Range } from 'vscode-languageserver-types';
import { EfritError, isEfritError } from '../errors.js';
import type { Logger, SecretRedactor } from '../logger.js';
import type { ErrorReason } from '../protocol.js';
import type { Job, JobQueue } from '../queue/job-queue.js';

const invalidParamsReasons = new Set<ErrorReason>([
  'documentNotOpen',
  'rangeOutOfBounds',
  'invalidParams',
  'unknownJob',
  'unknownSession',
  'unknownAction',
]);

function codeFor(reason: ErrorReason): number {
  if (reason === 'cancelled') return LSPErrorCodes.RequestCancelled;
  if (reason === 'editConflict') return LSPErrorCodes.ContentModified;
  if (invalidParamsReasons.has(reason)) return ErrorCodes.InvalidParams;
  return LSPErrorCodes.RequestFailed;
}

export function toResponseError(error: unknown, redactor: SecretRedactor, logger: Logger): ResponseError<{ reason: ErrorReason }> {
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
 * request is answered with `RequestCancelled` at once.
 */
export async function awaitJob<T>(job: Job<T>, queue: JobQueue, token: CancellationToken | undefined): Promise<T> {
  // Positional params ([params, null]) hand a handler something else where the token goes.
  if (token === undefined || token === null || typeof token.onCancellationRequested !== 'function') return job.result;
  if (token.isCancellationRequested) queue.cancel(job.id, 'Cancelled by the client.');
  const subscription = token.onCancellationRequested(() => queue.cancel(job.id, 'Cancelled by the client.'));
  try {
    return await job.result;
  } finally {
    subscription.dispose();
  }
}

export function invalidParams(message: string): EfritError {
  return new EfritError('invalidParams', message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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

export function optionalBoolean(params: Record<string, unknown>, key: string, what: string): boolean | undefined {
  const value = params[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalidParams(`${what}: "${key}" must be true or false.`);
  return value;
}

function isPosition(value: unknown): boolean {
  return (
    isRecord(value) &&
    Number.isInteger(value['line']) &&
    Number.isInteger(value['character']) &&
    (value['line'] as number) >= 0 &&
    (value['character'] as number) >= 0
  );
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
