/**
 * The walk behind `search_workspace`: text or regex matches, line by line,
 * over the open documents (their editor text) and then the files on disk.
 * It runs inside the search worker (search-worker.ts), never on the server's
 * own thread: a regex may backtrack for hours and a glob or a walk may be
 * slow, and there only the worker waits on it (see search-runner.ts).
 *
 * Everything is bounded: files scanned, matches kept, bytes per file; the
 * walk stops at the first bound it meets and says which one it was. Each
 * match is reported as it is found, so a search stopped from outside keeps
 * what it had. Symlinks are never followed, so the walk cannot leave the
 * workspace or loop; dependency, build and VCS folders are skipped.
 */
import type { Dirent } from 'node:fs';
import { join } from 'node:path';
import type { PathMatcher } from './workspace-glob.js';
import { listDirectoryExactly, readTextFile, relativeInside, toPosix } from './workspace-paths.js';
import type { WorkspaceRoot } from './workspace-paths.js';
import { isSecretDirectoryName, looksSecret } from './workspace-secrets.js';

export const skippedDirectoryNames: ReadonlySet<string> = new Set(['node_modules', '.git', '.hg', '.svn', 'dist', 'build', 'out', 'coverage']);

export interface SearchMatch {
  displayPath: string;
  /** 1-based. */
  line: number;
  text: string;
}

/** An open document the search may read, with where it lives; its text (the editor's) is fetched only if the glob wants it. */
export interface SearchableDocument {
  /** Its path as the editor names it. */
  lexicalPath: string;
  /** Its canonical path when it exists on disk; the walk does not read the file there again. */
  realPath: string | undefined;
  root: WorkspaceRoot;
  displayPath: string;
  text(): Promise<string>;
}

export interface SearchCounts {
  filesScanned: number;
  filesWithMatches: number;
  skippedBinary: number;
  skippedTooBig: number;
  skippedSecret: number;
}

export interface SearchRequest {
  /** The index of the first match in a line, or -1; called once per line. */
  matchLine: (line: string) => number;
  glob: PathMatcher | undefined;
  maxResults: number;
  maxFilesScanned: number;
  maxFileBytes: number;
  allowSecretFiles: boolean;
  displayPathOf: (root: WorkspaceRoot, absolutePath: string) => string;
  /** Told of each match as it is found. */
  onMatch?: (match: SearchMatch, counts: SearchCounts) => void;
  /** Told as each file is about to be searched, with its name as shown to the model. */
  onFile?: (displayPath: string, counts: SearchCounts) => void;
}

export type SearchStop = 'complete' | 'maxResults' | 'maxFilesScanned';

export interface SearchResult extends SearchCounts {
  matches: SearchMatch[];
  stop: SearchStop;
}

// A matching line is shown up to this long, cut around the match.
const maxShownLineChars = 240;

export function emptyCounts(): SearchCounts {
  return { filesScanned: 0, filesWithMatches: 0, skippedBinary: 0, skippedTooBig: 0, skippedSecret: 0 };
}

export async function searchWorkspace(roots: readonly WorkspaceRoot[], openDocuments: readonly SearchableDocument[], request: SearchRequest): Promise<SearchResult> {
  const result: SearchResult = { matches: [], stop: 'complete', ...emptyCounts() };
  const openPaths = new Set(openDocuments.flatMap((open) => (open.realPath === undefined ? [open.lexicalPath] : [open.lexicalPath, open.realPath])));

  // What the user is working on comes first, and as the editor has it.
  for (const open of openDocuments) {
    if (!wantsFile(open.root, open.lexicalPath, request)) continue;
    request.onFile?.(open.displayPath, countsOf(result));
    const stop = scanText(open.displayPath, await open.text(), request, result);
    if (stop !== undefined) return { ...result, stop };
  }

  // A folder nested in another is walked as part of the outer one.
  const outerRoots = roots.filter((root) => !roots.some((other) => other !== root && relativeInside(other.realPath, root.realPath) !== undefined));
  for (const root of outerRoots) {
    const stop = await walk(root, request, result, openPaths);
    if (stop !== undefined) return { ...result, stop };
  }
  return result;
}

/** How a file is named to the model: relative to its folder, prefixed by the folder's name when there are several. */
export function displayIn(root: WorkspaceRoot, absolutePath: string, roots: readonly WorkspaceRoot[]): string {
  const rel = toPosix(relativeInside(root.realPath, absolutePath) ?? relativeInside(root.path, absolutePath) ?? absolutePath);
  return roots.length > 1 ? `${root.name}/${rel}` : rel;
}

/**
 * The index of the first match in a line, or -1. Any regex JavaScript accepts
 * is taken, nested repetition included: the search runs in a worker with a
 * deadline, so a regex that backtracks for ever only uses up its own time.
 * Throws a SyntaxError for an invalid one.
 */
export function lineMatcher(query: string, regex: boolean, caseSensitive: boolean): (line: string) => number {
  if (!regex) {
    if (caseSensitive) return (line) => line.indexOf(query);
    const needle = query.toLowerCase();
    return (line) => line.toLowerCase().indexOf(needle);
  }
  const expression = new RegExp(query, caseSensitive ? '' : 'i');
  return (line) => {
    const match = expression.exec(line);
    return match === null ? -1 : match.index;
  };
}

async function walk(root: WorkspaceRoot, request: SearchRequest, result: SearchResult, openPaths: ReadonlySet<string>): Promise<SearchStop | undefined> {
  // Depth first, entries in name order, so results come out in a stable order.
  const pending: string[] = [root.realPath];
  while (pending.length > 0) {
    const directory = pending.pop() as string;
    const entries = await listDirectory(directory);
    const subdirectories: string[] = [];
    for (const entry of entries) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) {
        if (skippedDirectoryNames.has(entry.name)) continue;
        if (!request.allowSecretFiles && isSecretDirectoryName(entry.name)) continue;
        subdirectories.push(path);
        continue;
      }
      // Symlinks, sockets and FIFOs are not files to search.
      if (!entry.isFile() || openPaths.has(path)) continue;
      if (!wantsFile(root, path, request)) continue;
      if (!request.allowSecretFiles && looksSecret(path)) {
        result.skippedSecret++;
        continue;
      }
      if (result.filesScanned >= request.maxFilesScanned) return 'maxFilesScanned';
      const displayPath = request.displayPathOf(root, path);
      request.onFile?.(displayPath, countsOf(result));
      const read = await readTextFile(path, { maxFileBytes: request.maxFileBytes, displayPath: path });
      if (read.kind === 'refused') {
        if (read.cause === 'binary') result.skippedBinary++;
        else if (read.cause === 'tooBig') result.skippedTooBig++;
        continue;
      }
      const stop = scanText(displayPath, read.text, request, result);
      if (stop !== undefined) return stop;
    }
    for (let i = subdirectories.length - 1; i >= 0; i--) pending.push(subdirectories[i] as string);
  }
  return undefined;
}

function wantsFile(root: WorkspaceRoot, absolutePath: string, request: SearchRequest): boolean {
  if (request.glob === undefined) return true;
  const rel = relativeInside(root.realPath, absolutePath) ?? relativeInside(root.path, absolutePath);
  return rel !== undefined && request.glob(toPosix(rel));
}

function countsOf(result: SearchResult): SearchCounts {
  const { filesScanned, filesWithMatches, skippedBinary, skippedTooBig, skippedSecret } = result;
  return { filesScanned, filesWithMatches, skippedBinary, skippedTooBig, skippedSecret };
}

/** Scans one file's text; returns why to stop, if the search must stop. */
function scanText(displayPath: string, text: string, request: SearchRequest, result: SearchResult): SearchStop | undefined {
  result.filesScanned++;
  let matched = false;
  let lineNumber = 0;
  let start = 0;
  while (start <= text.length) {
    lineNumber++;
    const { end, next } = lineEnd(text, start);
    const line = text.slice(start, end);
    const at = request.matchLine(line);
    if (at >= 0) {
      if (result.matches.length >= request.maxResults) return 'maxResults';
      if (!matched) result.filesWithMatches++;
      matched = true;
      const match = { displayPath, line: lineNumber, text: shownLine(line, at) };
      result.matches.push(match);
      request.onMatch?.(match, countsOf(result));
    }
    if (next < 0) break;
    start = next;
  }
  return undefined;
}

/** The line's end (before its break) and where the next line starts (-1 after the last); \r, \n and \r\n all break lines, as in LSP. */
function lineEnd(text: string, start: number): { end: number; next: number } {
  for (let i = start; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 10) return { end: i, next: i + 1 };
    if (code === 13) return { end: i, next: text.charCodeAt(i + 1) === 10 ? i + 2 : i + 1 };
  }
  return { end: text.length, next: -1 };
}

function shownLine(line: string, matchAt: number): string {
  const trimmed = line.trimEnd();
  if (trimmed.length <= maxShownLineChars) return trimmed;
  // Keep the match in view: some context before it, the rest after.
  const from = Math.max(0, Math.min(matchAt - 60, trimmed.length - maxShownLineChars));
  const to = from + maxShownLineChars;
  return `${from > 0 ? `...[+${from} chars]` : ''}${trimmed.slice(from, to)}${to < trimmed.length ? `...[+${trimmed.length - to} chars]` : ''}`;
}

/**
 * The folder's entries in name order, listed only if the folder opened is the
 * one at exactly this path: a folder swapped for a symlink meanwhile is not
 * listed, so not even the names of a folder outside reach the search. An
 * unreadable folder is skipped, like grep -s does; the rest still counts.
 */
async function listDirectory(directory: string): Promise<{ name: string; isDirectory(): boolean; isFile(): boolean }[]> {
  const entries = (await listDirectoryExactly(directory)) ?? [];
  // Names in a folder are unique; sorted by UTF-16 code units (sort's default), the same on every system.
  const byName = new Map(entries.map((entry) => [entry.name, entry] as const));
  return [...byName.keys()].sort().map((name) => byName.get(name) as Dirent);
}
