/**
 * The server's lifetime as LSP defines it: nothing but `initialize` is served
 * before it (requests get ServerNotInitialized, notifications are dropped),
 * and after `shutdown` every request is refused with InvalidRequest until
 * `exit`. No model call can start outside that window.
 */
import { ErrorCodes, ResponseError } from 'vscode-languageserver/node';
import type { ErrorReason } from '../protocol.js';

type Phase = 'waiting' | 'running' | 'shutDown';

export class Lifecycle {
  private phase: Phase = 'waiting';

  initialized(): void {
    if (this.phase === 'waiting') this.phase = 'running';
  }

  shutDown(): void {
    this.phase = 'shutDown';
  }

  /** Throws the error a request gets outside the server's lifetime. */
  checkRequest(method: string): void {
    if (this.phase === 'waiting') {
      throw new ResponseError(ErrorCodes.ServerNotInitialized, `${method} before initialize: the server is not initialized yet. Send initialize first.`, {
        reason: 'notInitialized' satisfies ErrorReason,
      });
    }
    if (this.phase === 'shutDown') {
      throw new ResponseError(ErrorCodes.InvalidRequest, `${method} after shutdown: the server is shutting down and takes no more requests.`, {
        reason: 'shutDown' satisfies ErrorReason,
      });
    }
  }

  acceptsNotifications(): boolean {
    return this.phase !== 'waiting';
  }
}
