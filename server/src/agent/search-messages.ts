/**
 * What the server's thread and the search worker say to each other (types
 * only; see search-runner.ts and search-worker.ts). Everything is plain data,
 * copied by postMessage.
 */
import type { WorkspaceRoot } from './workspace-paths.js';
import type { SearchCounts, SearchMatch, SearchStop } from './workspace-search.js';

/** One search, as the worker needs it: the model's query, the bounds, the folders and the open documents (their text is asked for separately). */
export interface SearchJob {
  query: string;
  regex: boolean;
  caseSensitive: boolean;
  glob: string | undefined;
  maxResults: number;
  maxFilesScanned: number;
  maxFileBytes: number;
  allowSecretFiles: boolean;
  roots: WorkspaceRoot[];
  /** In search order; `root` indexes `roots`. */
  openDocuments: { lexicalPath: string; realPath: string | undefined; root: number; displayPath: string }[];
}

export type ToWorker =
  | { type: 'search'; job: SearchJob }
  /** A piece of open document `document`'s text from `from`; `last` when it reaches the end. */
  | { type: 'documentText'; document: number; from: number; text: string; last: boolean };

export type FromWorker =
  /** Asks for open document `document`'s text from `from`: sent in pieces, so that no one copy holds up the server's thread. */
  | { type: 'readDocument'; document: number; from: number }
  | { type: 'match'; match: SearchMatch; counts: SearchCounts }
  /** About to search `file` (as shown to the model): if the search is stopped now, it was stopped there. */
  | { type: 'progress'; file: string; counts: SearchCounts }
  | { type: 'done'; stop: SearchStop; counts: SearchCounts }
  | { type: 'failed'; message: string };
