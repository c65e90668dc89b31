/**
 * The HTTP plumbing the fake model APIs share: waiting on a test's gate
 * unless the client hangs up first, and writing a chunk only while the
 * client is still there, so a fake never writes to a closed exchange.
 */
import type { ServerResponse } from 'node:http';

/** Resolves true once `until` settles, false if `signal` aborts first (the client hung up). */
export function waitOrAbort(until: Promise<unknown>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = (): void => {
      signal.removeEventListener('abort', onAbort);
      resolve(!signal.aborted);
    };
    until.then(settle, settle);
  });
}

/** Resolves true once `chunk` is handed to the OS, false if the exchange ended first or the write failed. */
export function writeChunk(response: ServerResponse, chunk: string | Buffer, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted || response.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    response.write(chunk, (error) => {
      signal.removeEventListener('abort', onAbort);
      resolve(error === undefined || error === null);
    });
  });
}
