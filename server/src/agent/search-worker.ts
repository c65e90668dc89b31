/**
 * The search worker's entry point: runs `search_workspace`'s walk and line
 * matching (workspace-search.ts) on a thread of its own, one search at a
 * time, reporting each match as it finds it. The server's thread (see
 * search-runner.ts) ends this thread when the search runs past its deadline
 * or is cancelled; that also interrupts a regex that is backtracking.
 *
 * Built into its own small bundle whose source the server bundle carries
 * (scripts/search-worker-bundle.ts). Writes nothing to stdout or stderr.
 */
import { parentPort } from 'node:worker_threads';
import type { FromWorker, SearchJob, ToWorker } from './search-messages.js';
import { compileGlob } from './workspace-glob.js';
import { displayIn, lineMatcher, searchWorkspace, type SearchableDocument } from './workspace-search.js';

const port = parentPort;
if (port === null) throw new Error('search-worker.ts runs as a worker thread');

/** Waiting reads of open documents' text, by document. */
const pendingReads = new Map<number, (piece: { text: string; last: boolean }) => void>();

const post = (message: FromWorker): void => port.postMessage(message);

port.on('message', (message: ToWorker) => {
  if (message.type === 'documentText') {
    const resolve = pendingReads.get(message.document);
    pendingReads.delete(message.document);
    resolve?.(message);
    return;
  }
  search(message.job).catch((error: unknown) => post({ type: 'failed', message: error instanceof Error ? error.message : String(error) }));
});

async function search(job: SearchJob): Promise<void> {
  const roots = job.roots;
  const openDocuments: SearchableDocument[] = job.openDocuments.map((open, index) => ({
    lexicalPath: open.lexicalPath,
    realPath: open.realPath,
    root: roots[open.root] as (typeof roots)[number],
    displayPath: open.displayPath,
    text: () => documentText(index),
  }));
  const result = await searchWorkspace(roots, openDocuments, {
    matchLine: lineMatcher(job.query, job.regex, job.caseSensitive),
    glob: job.glob === undefined ? undefined : compileGlob(job.glob),
    maxResults: job.maxResults,
    maxFilesScanned: job.maxFilesScanned,
    maxFileBytes: job.maxFileBytes,
    allowSecretFiles: job.allowSecretFiles,
    displayPathOf: (root, absolutePath) => displayIn(root, absolutePath, roots),
    onMatch: (match, counts) => post({ type: 'match', match, counts }),
    // Every file, so that a search stopped at its deadline can name the file it was stuck in (a few microseconds a file).
    onFile: (file, counts) => post({ type: 'progress', file, counts }),
  });
  const { filesScanned, filesWithMatches, skippedBinary, skippedTooBig, skippedSecret } = result;
  post({ type: 'done', stop: result.stop, counts: { filesScanned, filesWithMatches, skippedBinary, skippedTooBig, skippedSecret } });
}

async function documentText(document: number): Promise<string> {
  const pieces: string[] = [];
  let from = 0;
  for (;;) {
    const piece = await new Promise<{ text: string; last: boolean }>((resolve) => {
      pendingReads.set(document, resolve);
      post({ type: 'readDocument', document, from });
    });
    pieces.push(piece.text);
    from += piece.text.length;
    if (piece.last) return pieces.join('');
  }
}
