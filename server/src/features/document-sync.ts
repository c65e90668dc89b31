/**
 * Document sync: `didOpen`, `didChange`, `didClose` turned into the store's
 * calls and the clean-up that follows each. One implementation serves both
 * ways a sync notification arrives: from the connection (plain `--stdio`),
 * and straight from the proxy router (`--wrap`), which must know at once,
 * in the same turn, what the store made of a change, so that the wrapped
 * server sees the same text. The store is then the only copy of each
 * document in the process.
 *
 * Nothing here throws: a notification cannot be answered, so a malformed one
 * is reported (logged by the store, and returned as problems) and survived.
 */
import type { DocumentStore, SyncProblem } from '../documents/document-store.js';
import { isRecord } from '../common/json-shape.js';

export interface DocumentSyncHooks {
  /** The document changed or closed: jobs and caches about its old text may go. */
  changed?(uri: string): void;
  /** The document closed. */
  closed?(uri: string): void;
}

export type SyncMethod = 'textDocument/didOpen' | 'textDocument/didChange' | 'textDocument/didClose';

export interface DocumentSync {
  /**
   * Applies one sync notification. Returns the problems the store met; an
   * empty list means the store now holds exactly what the client sent.
   */
  apply(method: SyncMethod, params: unknown): SyncProblem[];
}

export function createDocumentSync(documents: DocumentStore, hooks: DocumentSyncHooks = {}): DocumentSync {
  const malformed = (method: SyncMethod, why: string): SyncProblem[] => documents.reportMalformed(`${method} ${why}; it was ignored.`);

  function uriOf(params: unknown): string | undefined {
    if (!isRecord(params) || !isRecord(params['textDocument'])) return undefined;
    const uri = params['textDocument']['uri'];
    return typeof uri === 'string' && uri !== '' ? uri : undefined;
  }

  return {
    apply(method, params) {
      if (method === 'textDocument/didOpen') {
        return documents.open((isRecord(params) ? params['textDocument'] : undefined) as Parameters<DocumentStore['open']>[0]);
      }
      const uri = uriOf(params);
      if (uri === undefined) return malformed(method, 'without textDocument.uri (a non-empty string)');
      if (method === 'textDocument/didClose') {
        if (!documents.close(uri)) return malformed(method, `for ${uri}, which is not open,`);
        hooks.closed?.(uri);
        hooks.changed?.(uri);
        return [];
      }
      const record = params as Record<string, unknown>;
      const problems = documents.change(uri, (record['textDocument'] as Record<string, unknown>)['version'], record['contentChanges']);
      hooks.changed?.(uri);
      return problems;
    },
  };
}
