/**
 * The domain's one error type. Domain modules throw `EfritError` with a reason
 * and a message a person can act on; only the feature layer turns it into an
 * LSP `ResponseError` (see features/respond.ts), so nothing below it needs the
 * connection.
 */
import type { ErrorReason } from '../protocol.js';

export class EfritError extends Error {
  override readonly name = 'EfritError';

  constructor(
    readonly reason: ErrorReason,
    message: string,
    /** Seconds the API asked us to wait, when it said so. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export function isEfritError(error: unknown): error is EfritError {
  return error instanceof EfritError;
}

/** The message of anything thrown, for logs; never includes a stack for EfritError. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
