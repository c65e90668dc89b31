/**
 * The port through which the agent asks the user's own language server (the
 * one efrit-lsp wraps in proxy mode) what it knows: definitions, references,
 * types, symbols, diagnostics. The proxy implements it (proxy/wrapped-server-link.ts);
 * without proxy mode there is none, and the tools built on it are not offered.
 *
 * Domain code sees only this: plain requests with their results, and the
 * diagnostics the server published, never the connection or the router.
 */
import type { Diagnostic } from 'vscode-languageserver-types';

/** What the wrapped server can answer, from the capabilities it declared at initialize. */
export type SemanticFeature = 'definition' | 'references' | 'hover' | 'documentSymbols' | 'workspaceSymbols' | 'diagnostics';

/** One text to check at a separate (shadow) document: see `LanguageIntelligence.diagnosticsOfTexts`. */
export interface ShadowCheck {
  /** The real document the texts are versions of; the shadow is named after it. */
  uri: string;
  languageId: string;
  /** Each text is checked in turn; one diagnostics list per text comes back. */
  texts: readonly string[];
}

export interface LanguageIntelligence {
  /** The wrapped server's name, for notes and errors. */
  readonly label: string;
  /**
   * What it can answer. Decided once, when the editor's `initialize` was
   * answered, and never changed after (the tool list built from it is part of
   * the cached prompt prefix); empty until then.
   */
  features(): ReadonlySet<SemanticFeature>;
  /**
   * One request to the wrapped server as efrit-lsp's own (the editor never
   * sees it). Resolves with its result; rejects with a readable error when the
   * server answers one, is not running, takes too long, or `signal` aborts
   * (the server is then told to cancel).
   */
  request(method: string, params: unknown, signal: AbortSignal): Promise<unknown>;
  /**
   * Runs `use` with the file open in the wrapped server (some servers answer
   * only for open documents): opened with `text` when the editor has not
   * opened it, closed again after; the editor sees none of it.
   */
  withDocument<T>(document: { uri: string; languageId: string; text: string }, use: () => Promise<T>): Promise<T>;
  /** What the wrapped server last published for a document open in the editor. */
  publishedDiagnostics(uri: string): readonly Diagnostic[] | undefined;
  /**
   * The server's diagnostics for texts that are not the user's: each is put
   * at a shadow document of its own next to `uri` and its diagnostics
   * collected. The editor sees none of it, and the server's view of the
   * user's documents is untouched. A shadow may stay open after, for the next
   * check to change instead of opening one afresh (bounded in count and idle
   * time; see proxy/warm-shadows.ts).
   */
  diagnosticsOfTexts(check: ShadowCheck, signal: AbortSignal): Promise<Diagnostic[][]>;
  /**
   * Puts the texts at shadows ahead of a check, without waiting, so the server
   * prepares them while the model is still writing. Absent, or doing nothing,
   * where shadows are not kept open.
   */
  warmShadows?(check: ShadowCheck): void;
  /** Closes the shadows kept open, now. */
  closeShadows?(): void;
}
