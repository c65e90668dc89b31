/**
 * Conversations behind `efrit/chat` and `efrit/do`. Bounded three ways, by
 * lru-cache: how many sessions (least recently used dropped first), how many
 * bytes of history in all, and how long a session may sit idle. A session's own
 * history is capped by turns, oldest dropped in user/assistant pairs so the
 * conversation still starts with a user turn, as the API requires.
 */
import { randomUUID } from 'node:crypto';
import type { MessageParam, ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { LRUCache } from 'lru-cache';
import type { DocumentView } from './delta-tracker.js';

export interface Session {
  readonly id: string;
  readonly createdAt: number;
  messages: MessageParam[];
  /** Approximate bytes of `messages`, kept current by `commitTurn`. */
  bytes: number;
  /** The job currently answering in this session; turns are taken one at a time. */
  busy: Promise<unknown> | undefined;
  /** Answers to the last turn's tool calls, sent at the head of the next user turn as the API requires. */
  pendingToolResults: ToolResultBlockParam[];
  /** What the model has seen of each document, the base of the next delta. */
  views: Map<string, DocumentView>;
}

export interface SessionStoreOptions {
  /** @default 64 */
  max?: number;
  /** Idle time before a session is dropped. @default 1800000 */
  ttlMs?: number;
  /** Total history bytes across sessions. @default 32 MiB */
  maxBytes?: number;
  /** Turns kept per session. @default 40 */
  maxTurns?: number;
  now?: () => number;
  onDrop?: (sessionId: string) => void;
}

function sizeOf(messages: MessageParam[]): number {
  return Buffer.byteLength(JSON.stringify(messages));
}

export class SessionStore {
  private cache: LRUCache<string, Session>;
  private maxTurns: number;
  private readonly now: () => number;
  private readonly options: SessionStoreOptions;
  /** True while sessions move to a cache with new limits: that is not a drop. */
  private migrating = false;

  constructor(options: SessionStoreOptions = {}) {
    this.options = options;
    this.maxTurns = options.maxTurns ?? 40;
    this.now = options.now ?? Date.now;
    this.cache = this.makeCache(options);
  }

  private makeCache(options: SessionStoreOptions): LRUCache<string, Session> {
    return new LRUCache<string, Session>({
      max: options.max ?? 64,
      ttl: options.ttlMs ?? 1_800_000,
      ttlAutopurge: true,
      // Read the clock on every look-up: lru-cache otherwise reuses a reading for 1 ms of real time, which an
      // injected clock never sees pass.
      ttlResolution: 0,
      updateAgeOnGet: true,
      maxSize: options.maxBytes ?? 32 * 1024 * 1024,
      sizeCalculation: (session) => Math.max(1, session.bytes),
      perf: { now: this.now },
      dispose: (_session, id, reason) => {
        if (reason !== 'set' && !this.migrating) this.options.onDrop?.(id);
      },
    });
  }

  /** Applies new limits; existing sessions are kept where the new limits allow. */
  configure(limits: { max: number; ttlMs: number; maxTurns: number }): void {
    this.maxTurns = limits.maxTurns;
    const current = this.cache;
    if (current.max === limits.max && current.ttl === limits.ttlMs) return;
    const next = this.makeCache({ ...this.options, max: limits.max, ttlMs: limits.ttlMs });
    for (const [id, session] of [...current.entries()].reverse()) next.set(id, session);
    this.migrating = true;
    current.clear();
    this.migrating = false;
    this.cache = next;
  }

  /**
   * A new session, not yet kept: `admit` keeps it once its first request was
   * accepted. A request refused on arrival (a full queue) so leaves nothing
   * behind, and a flood of them cannot push live sessions out of the store.
   */
  create(): Session {
    return { id: `session-${randomUUID()}`, createdAt: this.now(), messages: [], bytes: 0, busy: undefined, pendingToolResults: [], views: new Map() };
  }

  /** Keeps a session made by `create` (a no-op for one already kept). */
  admit(session: Session): void {
    if (!this.cache.has(session.id)) this.cache.set(session.id, session);
  }

  get(id: string): Session | undefined {
    return this.cache.get(id);
  }

  end(id: string): boolean {
    return this.cache.delete(id);
  }

  get size(): number {
    return this.cache.size;
  }

  /** A closed document: no session keeps a view of it (the next turn about it starts afresh). */
  forgetDocument(uri: string): void {
    for (const session of this.cache.values()) session.views.delete(uri);
  }

  /** Appends a finished turn (user message and the assistant's answer) and re-measures the session. */
  commitTurn(session: Session, turn: MessageParam[]): void {
    session.messages.push(...turn);
    let trimmed = false;
    while (session.messages.length > this.maxTurns * 2) {
      session.messages.splice(0, 2);
      dropOrphanToolResults(session.messages);
      trimmed = true;
    }
    // The window a delta would refer to may have been in the dropped turns: the next turn sends a fresh one.
    if (trimmed) session.views.clear();
    session.bytes = sizeOf(session.messages);
    if (this.cache.has(session.id)) this.cache.set(session.id, session);
  }
}

/**
 * After the oldest turns are dropped, the new first user message may answer
 * tool calls that are no longer in the history; the API rejects that, so
 * those answers go too.
 */
function dropOrphanToolResults(messages: MessageParam[]): void {
  const first = messages[0];
  if (first === undefined || first.role !== 'user' || typeof first.content === 'string') return;
  const kept = first.content.filter((block) => block.type !== 'tool_result');
  if (kept.length !== first.content.length) {
    messages[0] = { role: 'user', content: kept.length > 0 ? kept : '(earlier conversation omitted)' };
  }
}
