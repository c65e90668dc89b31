/**
 * Shadow documents kept open in the wrapped server between checks, for a
 * server whose diagnostics efrit-lsp can ask for (see wrapped-server-link.ts):
 * a check then costs a didChange of the shadow and one answer, where opening
 * a shadow afresh makes the server set up a project for it again (tsserver
 * builds an inferred project, with the standard library, for a file that is
 * not on disk: seconds on a large file).
 *
 * Each shadow copies one real document (`a.efrit-check-<n>.ts` next to
 * `a.ts`) and holds one text at a time. A check leases a shadow of the
 * document: the one that holds the wanted text already (nothing to send), or
 * the least recently used idle one, changed to the text, or a new one. A
 * leased shadow is the check's alone until released, so no other check's
 * didChange can slip in between its text and its answer.
 *
 * Bounded: at most `maxOpen` shadows stay open (beyond that the least
 * recently used idle one is closed, and a lease while all are busy gets a
 * shadow of its own that closes when released); each closes after
 * `idleCloseMs` unused, so shadows do not outlive the agent's work (while
 * open, the server also checks them whenever the user's edits make it check
 * every open file); `closeAll` closes them now, and `forget` drops them when
 * the server has died with them.
 */
import type { NotificationMessage } from 'vscode-languageserver/node';
import type { QueueClock } from '../queue/queue-clock.js';

export interface WarmShadowsOptions {
  /** Writes to the wrapped server; false when it is not running (nothing was sent). */
  send(message: NotificationMessage): boolean;
  /** The URI of a new shadow of `uri`, never used before. */
  newShadowUri(uri: string): string;
  timers: Pick<QueueClock, 'setTimer'>;
  /** @default 8 */
  maxOpen?: number;
  /** @default 60000 */
  idleCloseMs?: number;
}

/** A shadow leased to one check, holding the text asked for. */
export interface ShadowLease {
  readonly uri: string;
  /** Ends the lease; `keep: false` closes the shadow (its last use failed, so its state in the server is not known). */
  release(keep: boolean): void;
}

interface Shadow {
  readonly uri: string;
  readonly of: string;
  readonly languageId: string;
  text: string;
  version: number;
  leased: boolean;
  /** Closed when its lease ends: opened beyond `maxOpen`, or `closeAll` came while it was leased. */
  closeOnRelease: boolean;
  idleTimer: { cancel(): void } | undefined;
}

export class WarmShadows {
  /** Least recently used first (a Map keeps insertion order; a use moves a shadow to the end). */
  private readonly open = new Map<string, Shadow>();
  private readonly maxOpen: number;
  private readonly idleCloseMs: number;

  constructor(private readonly options: WarmShadowsOptions) {
    this.maxOpen = options.maxOpen ?? 8;
    this.idleCloseMs = options.idleCloseMs ?? 60_000;
  }

  /** Shadows open in the server now. */
  get size(): number {
    return this.open.size;
  }

  /** A shadow of `of` holding `text`; undefined when the server is not running. */
  lease(of: string, languageId: string, text: string): ShadowLease | undefined {
    const idle = [...this.open.values()].filter((shadow) => shadow.of === of && shadow.languageId === languageId && !shadow.leased);
    const shadow = idle.find((candidate) => candidate.text === text) ?? idle[0] ?? this.opened(of, languageId, text);
    if (shadow === undefined) return undefined;
    if (shadow.text !== text) {
      shadow.text = text;
      shadow.version += 1;
      const sent = this.options.send({ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri: shadow.uri, version: shadow.version }, contentChanges: [{ text }] } });
      if (!sent) {
        this.drop(shadow);
        return undefined;
      }
    }
    shadow.leased = true;
    shadow.idleTimer?.cancel();
    shadow.idleTimer = undefined;
    this.touch(shadow);
    let released = false;
    return {
      uri: shadow.uri,
      release: (keep) => {
        if (released) return;
        released = true;
        this.release(shadow, keep);
      },
    };
  }

  /** Closes every shadow now (those leased, when their lease ends). */
  closeAll(): void {
    for (const shadow of [...this.open.values()]) {
      if (shadow.leased) shadow.closeOnRelease = true;
      else this.close(shadow);
    }
  }

  /** The server is gone, and its documents with it: nothing to close, only to forget. */
  forget(): void {
    for (const shadow of this.open.values()) shadow.idleTimer?.cancel();
    this.open.clear();
  }

  private opened(of: string, languageId: string, text: string): Shadow | undefined {
    if (this.open.size >= this.maxOpen) {
      const oldestIdle = [...this.open.values()].find((shadow) => !shadow.leased);
      if (oldestIdle !== undefined) this.close(oldestIdle);
    }
    const uri = this.options.newShadowUri(of);
    const sent = this.options.send({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri, languageId, version: 1, text } } });
    if (!sent) return undefined;
    // Stryker disable next-line BooleanLiteral: equivalent, the lease that opened it marks it leased before anything reads it
    const shadow: Shadow = { uri, of, languageId, text, version: 1, leased: false, closeOnRelease: this.open.size >= this.maxOpen, idleTimer: undefined };
    this.open.set(uri, shadow);
    return shadow;
  }

  private release(shadow: Shadow, keep: boolean): void {
    // Forgotten meanwhile (the server died): nothing of it is left to close.
    if (this.open.get(shadow.uri) !== shadow) return;
    shadow.leased = false;
    if (!keep || shadow.closeOnRelease) {
      this.close(shadow);
      return;
    }
    shadow.idleTimer = this.options.timers.setTimer(() => this.close(shadow), this.idleCloseMs);
  }

  private touch(shadow: Shadow): void {
    this.open.delete(shadow.uri);
    this.open.set(shadow.uri, shadow);
  }

  private close(shadow: Shadow): void {
    // Stryker disable next-line ConditionalExpression: equivalent, every caller closes a shadow still open (a dropped one's idle timer is cancelled); kept so a close is never sent twice
    if (this.open.get(shadow.uri) !== shadow) return;
    this.drop(shadow);
    this.options.send({ jsonrpc: '2.0', method: 'textDocument/didClose', params: { textDocument: { uri: shadow.uri } } });
  }

  private drop(shadow: Shadow): void {
    shadow.idleTimer?.cancel();
    this.open.delete(shadow.uri);
  }
}
