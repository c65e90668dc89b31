/**
 * The read-only tools the efrit/do agent may call while it works: list and
 * read the open documents, read files, search the workspace.
 *
 * Safe by construction: there is no tool that writes, runs or fetches
 * anything (edits go through the editor as proposals), and every path is
 * confined to the workspace folders by workspace-paths.ts. Whatever a model
 * sends (prompt-injected or merely wrong), `run` answers with an outcome the
 * model can act on, never an exception.
 *
 * Open documents win over the disk: the user is editing them, so their
 * unsaved text is what the model must see.
 */
import type { Tool } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { resolve } from 'node:path';
import type { DocumentStore } from '../documents/document-store.js';
import type { TrackedDocument } from '../documents/tracked-document.js';
import type { SearchJob } from './search-messages.js';
import { SearchRunner, type SearchRun } from './search-runner.js';
import { compileGlob, GlobSyntaxError } from './workspace-glob.js';
import { linesOf, renderNumberedLines } from './workspace-numbered-lines.js';
import type { LineSource } from './workspace-numbered-lines.js';
import { formatBytes, locate, readTextFile, realpathOrUndefined, resolveRoots, toFilePath } from './workspace-paths.js';
import type { Located, WorkspaceRoot } from './workspace-paths.js';
import { sha256Of, type ReadLedger, type ReadOrigin } from './read-ledger.js';

export interface WorkspaceToolsOptions {
  /** Workspace folder paths (absolute); nothing outside them is read. */
  roots: () => string[];
  /** Open documents: their editor text wins over the file on disk. */
  documents: DocumentStore;
  /** The setting `agent.allowSecretFiles`; read on every call so a change applies at once. @default false */
  allowSecretFiles: () => boolean;
  /** Bigger files are refused with their size. @default 1 MiB */
  maxFileBytes?: number;
  /** A tool result is cut to this, with a note on how to get the rest. @default 20_000 */
  maxResultChars?: number;
  /** Matches one search returns at most (a request may ask for fewer). @default 50 */
  maxSearchResults?: number;
  /** Files one search reads at most. @default 5_000 */
  maxFilesScanned?: number;
  /**
   * How long one search may take, from when it is asked for (the wait for a
   * free search thread included), before it is stopped and answers with what
   * it found; read on every search. @default 10 s (the server derives it
   * from queue.timeoutMs: see searchDeadlineFor)
   */
  searchDeadlineMs?: () => number;
  /** Runs searches on worker threads. @default a runner of its own */
  searchRunner?: SearchRunner;
}

export interface ToolOutcome {
  /** What the model reads as the tool result. */
  content: string;
  isError: boolean;
  /** One line for the user's stream, e.g. "read src/cart.ts lines 1–80". */
  note: string;
  /** A short, deterministic description of what was returned and how to get it again, for work-log compression. */
  summary: string;
}

export const defaultMaxFileBytes = 1024 * 1024;
export const defaultMaxResultChars = 20_000;
export const defaultMaxSearchResults = 50;
export const defaultMaxFilesScanned = 5_000;
/** A search runs at most this long: long enough for any sane search of a large repository, short against a job's two minutes. */
export const maxSearchDeadlineMs = 10_000;

/**
 * The time one search may take within a job of `jobTimeoutMs`: a quarter of
 * it, at most 10 s, so that a search stopped at its deadline leaves the job
 * time to tell the model and go on.
 */
export function searchDeadlineFor(jobTimeoutMs: number): number {
  return Math.min(maxSearchDeadlineMs, Math.max(100, Math.floor(jobTimeoutMs / 4)));
}

const lineRangeProperties = {
  start_line: { type: 'integer', minimum: 1, description: 'First line to read, 1-based. Default: 1.' },
  end_line: { type: 'integer', minimum: 1, description: 'Last line to read, 1-based and inclusive. Default: the end (the result is cut if it is too long, with a note saying where to continue).' },
};

/**
 * Static on purpose: the tool list is part of the cached prompt prefix, so it
 * must not change between calls (no limits or paths interpolated here).
 */
export const readOnlyToolDefinitions: Tool[] = [
  {
    name: 'list_documents',
    description: 'List the documents open in the editor: path relative to the workspace, language, line count, version and URI. Their text may have unsaved changes; read them with read_document.',
    input_schema: { type: 'object', properties: {}, additionalProperties: false },
  },
  {
    name: 'read_document',
    description:
      "Read lines of a document open in the editor, with its current (possibly unsaved) text. Lines are numbered as `<n>| <text>`; the numbers are not part of the text. Fails if the document is not open: use read_file for files that are not.",
    input_schema: {
      type: 'object',
      properties: {
        uri: { type: 'string', description: 'The document URI as list_documents shows it, e.g. "file:///home/me/project/src/cart.ts".' },
        path: { type: 'string', description: 'Alternatively, the path relative to the workspace folder, e.g. "src/cart.ts".' },
        ...lineRangeProperties,
      },
      additionalProperties: false,
    },
  },
  {
    name: 'read_file',
    description:
      "Read lines of a file in the workspace. If the file is open in the editor, the editor's current text is returned (and the result says so). Lines are numbered as `<n>| <text>`; the numbers are not part of the text. Only files inside the workspace folders can be read; binary files, very large files and secret-looking files (.env, keys, credentials) are refused.",
    input_schema: {
      type: 'object',
      properties: {
        path: { type: 'string', description: 'Path relative to the workspace folder (e.g. "src/util/money.ts"), or an absolute path inside it.' },
        ...lineRangeProperties,
      },
      required: ['path'],
      additionalProperties: false,
    },
  },
  {
    name: 'search_workspace',
    description:
      "Search the text of the workspace's files line by line; open documents are searched as the editor has them. Returns `path:line: text` lines. Skips node_modules, .git, dist, build, out, coverage, binary and very large files. The number of matches, of files searched and the time taken are bounded (a search that runs too long, e.g. a regex with nested repetition on a long line, is stopped and returns what it found): narrow with glob or simplify the regex when the result says it stopped early.",
    input_schema: {
      type: 'object',
      properties: {
        query: { type: 'string', description: 'The text to find: plain text, matched case-insensitively (or a JavaScript regular expression when regex is true).' },
        regex: { type: 'boolean', description: 'Treat query as a regular expression. Default: false.' },
        case_sensitive: { type: 'boolean', description: 'Match letter case exactly. Default: false.' },
        glob: {
          type: 'string',
          description: 'Only search files whose path (relative to the workspace folder) matches, e.g. "*.ts" (any folder), "src/**", "src/**/*.{ts,tsx}", "test/*.test.ts".',
        },
        max_results: { type: 'integer', minimum: 1, description: 'At most this many matches (there is also a fixed upper bound).' },
      },
      required: ['query'],
      additionalProperties: false,
    },
  },
];

type ToolName = 'list_documents' | 'read_document' | 'read_file' | 'search_workspace';

const maxQueryChars = 1_000;
const maxGlobChars = 500;
// Room kept under maxResultChars for the header and closing notes of a read.
const readNotesReserve = 400;

export class WorkspaceTools {
  private readonly options: WorkspaceToolsOptions;
  private readonly maxFileBytes: number;
  private readonly maxResultChars: number;
  private readonly maxSearchResults: number;
  private readonly maxFilesScanned: number;
  private readonly searchRunner: SearchRunner;

  constructor(options: WorkspaceToolsOptions) {
    this.options = options;
    this.maxFileBytes = positiveOr(options.maxFileBytes, defaultMaxFileBytes);
    this.maxResultChars = positiveOr(options.maxResultChars, defaultMaxResultChars);
    this.maxSearchResults = positiveOr(options.maxSearchResults, defaultMaxSearchResults);
    this.maxFilesScanned = positiveOr(options.maxFilesScanned, defaultMaxFilesScanned);
    this.searchRunner = options.searchRunner ?? new SearchRunner();
  }

  /** Copies, so a caller that marks the last one with `cache_control` does not change them for everyone. */
  definitions(): Tool[] {
    return readOnlyToolDefinitions.map((tool) => ({ ...tool }));
  }

  /** Runs one tool call. Never throws: bad input, refusals and failures are `isError` outcomes. */
  async run(name: string, input: unknown, signal?: AbortSignal, ledger?: ReadLedger): Promise<ToolOutcome> {
    if (!isToolName(name)) {
      const known = readOnlyToolDefinitions.map((tool) => tool.name).join(', ');
      return failure(name, `There is no tool named "${name}". The tools are: ${known}.`, `unknown tool ${name}`);
    }
    if (signal?.aborted === true) return failure(name, 'The request was cancelled.', `${name} cancelled`);
    try {
      const outcome = await this.dispatch(name, objectInput(input), signal, ledger);
      // The note is one line of the user's stream, whatever a path contained.
      return { ...outcome, note: outcome.note.replace(/\s+/g, ' ') };
    } catch (error) {
      if (error instanceof BadInput) return failure(name, `Invalid input for ${name}: ${error.message}`, `${name}: invalid input`);
      // Not expected; still an answer, so one failing call does not end the agent's turn.
      const detail = error instanceof Error ? error.message : String(error);
      return failure(name, `${name} failed unexpectedly: ${detail}`, `${name} failed`);
    }
  }

  private dispatch(name: ToolName, args: Record<string, unknown>, signal: AbortSignal | undefined, ledger: ReadLedger | undefined): Promise<ToolOutcome> {
    switch (name) {
      case 'list_documents':
        return this.listDocuments();
      case 'read_document':
        return this.readDocument(args, ledger);
      case 'read_file':
        return this.readFile(args, ledger);
      case 'search_workspace':
        return this.search(args, signal);
    }
  }

  private async listDocuments(): Promise<ToolOutcome> {
    const roots = await this.roots();
    const listed: { displayPath: string; document: TrackedDocument }[] = [];
    let hidden = 0;
    for (const uri of this.options.documents.uris()) {
      const document = this.options.documents.get(uri);
      if (document === undefined) continue;
      const access = await this.documentAccess(document, roots);
      if (access.kind === 'refused') hidden++;
      else listed.push({ displayPath: access.displayPath, document });
    }
    listed.sort((a, b) => compareStrings(a.displayPath, b.displayPath));

    const lines: string[] = [];
    let shown = 0;
    let used = 0;
    const budget = this.maxResultChars - 200;
    for (const { displayPath, document } of listed) {
      const line = `${displayPath} (${document.languageId}, ${document.lineCount} lines, version ${document.version}) ${document.uri}`;
      if (used + line.length + 1 > budget) break;
      lines.push(line);
      used += line.length + 1;
      shown++;
    }
    const heading =
      listed.length === 0 ? 'No documents that can be read are open in the editor.' : `${listed.length} document${listed.length === 1 ? ' is' : 's are'} open in the editor:`;
    const trailer: string[] = [];
    if (shown < listed.length) trailer.push(`[${listed.length - shown} more not shown: the result limit is ${this.maxResultChars} characters.]`);
    if (hidden > 0) trailer.push(`[${hidden} other open document${hidden === 1 ? ' is' : 's are'} outside the workspace or secret-looking, so not listed.]`);
    const names = listed.slice(0, 8).map(({ displayPath, document }) => `${displayPath} v${document.version}`);
    return {
      content: [heading, ...lines, ...trailer].join('\n'),
      isError: false,
      note: `listed ${listed.length} open document${listed.length === 1 ? '' : 's'}`,
      summary: `list_documents {} -> ${listed.length} open${names.length > 0 ? `: ${names.join(', ')}${listed.length > names.length ? ', ...' : ''}` : ''}`,
    };
  }

  private async readDocument(args: Record<string, unknown>, ledger: ReadLedger | undefined): Promise<ToolOutcome> {
    const uri = optionalString(args, 'uri');
    const path = optionalString(args, 'path');
    const range = lineRange(args);
    if (uri === undefined && path === undefined) throw new BadInput('give the document\'s "uri" (from list_documents) or its "path" relative to the workspace folder.');
    const roots = await this.roots();
    const requested = (uri ?? path) as string;

    let document: TrackedDocument | undefined;
    if (uri !== undefined) {
      document = this.options.documents.get(uri);
      if (document === undefined && uri.startsWith('file:')) {
        const located = await locate(uri, roots, this.locateOptions());
        if (located.kind === 'refused') return failure('read_document', located.reason, `read_document refused ${uri}`);
        document = await this.openDocumentAt(located);
      }
    } else {
      const located = await locate(requested, roots, this.locateOptions());
      if (located.kind === 'refused') return failure('read_document', located.reason, `read_document refused ${requested}`);
      document = await this.openDocumentAt(located);
    }
    if (document === undefined) {
      return failure(
        'read_document',
        `${requested} is not open in the editor. Use read_file with its path to read it from disk, or list_documents to see which documents are open.`,
        `read_document: ${requested} is not open`,
      );
    }
    const access = await this.documentAccess(document, roots);
    if (access.kind === 'refused') return failure('read_document', access.reason, `read_document refused ${requested}`);
    return this.renderRead('read_document', {
      displayPath: access.displayPath,
      languageId: document.languageId,
      source: document,
      origin: { kind: 'editor', version: document.version },
      range,
      again: uri !== undefined ? { uri } : { path: access.displayPath },
      ledger: ledger === undefined ? undefined : { ledger, text: document.text, origin: editorOrigin(document) },
    });
  }

  private async readFile(args: Record<string, unknown>, ledger: ReadLedger | undefined): Promise<ToolOutcome> {
    const path = requiredString(args, 'path', 'the file\'s path relative to the workspace folder, e.g. "src/index.ts"');
    const range = lineRange(args);
    const roots = await this.roots();
    const located = await locate(path, roots, this.locateOptions());
    if (located.kind === 'refused') return failure('read_file', located.reason, `read_file refused ${path}`);

    const document = await this.openDocumentAt(located);
    if (document !== undefined) {
      return this.renderRead('read_file', {
        displayPath: located.displayPath,
        languageId: document.languageId,
        source: document,
        origin: { kind: 'editor', version: document.version },
        range,
        again: { path: located.displayPath },
        ledger: ledger === undefined ? undefined : { ledger, text: document.text, origin: editorOrigin(document) },
      });
    }
    if (located.realPath === undefined) {
      const name = located.displayPath.slice(located.displayPath.lastIndexOf('/') + 1);
      return failure(
        'read_file',
        `${located.displayPath} does not exist in the workspace. To find it, use search_workspace with a glob such as "**/${name}", or list_documents for the open documents.`,
        `read_file: ${located.displayPath} not found`,
      );
    }
    const read = await readTextFile(located.realPath, { maxFileBytes: this.maxFileBytes, displayPath: located.displayPath });
    if (read.kind === 'refused') return failure('read_file', read.reason, `read_file refused ${located.displayPath} (${read.cause})`);
    // Hashed only for a job that keeps a ledger: the hash is what a later edit of this file is checked against.
    const diskOrigin: ReadOrigin | undefined =
      ledger === undefined ? undefined : { kind: 'disk', realPath: located.realPath, lexicalPath: located.lexicalPath, sha256: sha256Of(read.text) };
    if (read.bytes === 0) {
      // Recorded too, so that the agent may delete an empty file it has seen.
      if (diskOrigin !== undefined) ledger?.record(located.displayPath, read.text, diskOrigin, 1, 1);
      return {
        content: `${located.displayPath} is empty (0 bytes).`,
        isError: false,
        note: `read ${located.displayPath} (empty)`,
        summary: `read_file ${JSON.stringify({ path: located.displayPath })} -> empty file`,
      };
    }
    return this.renderRead('read_file', {
      displayPath: located.displayPath,
      languageId: undefined,
      source: linesOf(read.text),
      origin: { kind: 'disk' },
      range,
      again: { path: located.displayPath },
      ledger: ledger === undefined || diskOrigin === undefined ? undefined : { ledger, text: read.text, origin: diskOrigin },
    });
  }

  private async search(args: Record<string, unknown>, signal: AbortSignal | undefined): Promise<ToolOutcome> {
    const query = requiredString(args, 'query', 'the text to search for');
    if (query.length > maxQueryChars) throw new BadInput(`"query" is ${query.length} characters long; at most ${maxQueryChars} are allowed.`);
    const regex = optionalBoolean(args, 'regex') ?? false;
    const caseSensitive = optionalBoolean(args, 'case_sensitive') ?? false;
    const globText = optionalString(args, 'glob');
    const requestedMax = optionalInteger(args, 'max_results');
    if (globText !== undefined && (globText.trim() === '' || globText.length > maxGlobChars)) {
      throw new BadInput(`"glob" must be a non-empty pattern of at most ${maxGlobChars} characters, e.g. "src/**/*.ts"; leave it out to search every file.`);
    }
    const maxResults = Math.min(requestedMax ?? this.maxSearchResults, this.maxSearchResults);
    if (regex) checkRegex(query, caseSensitive);
    if (globText !== undefined) checkGlob(globText);

    const roots = await this.roots();
    if (roots.length === 0) {
      return failure('search_workspace', 'No workspace folder is open, so there is nothing to search. Use list_documents and read_document for the open documents.', 'search_workspace: no workspace folder');
    }
    const open = await this.searchableDocuments(roots);
    const job: SearchJob = {
      query,
      regex,
      caseSensitive,
      glob: globText,
      maxResults,
      maxFilesScanned: this.maxFilesScanned,
      maxFileBytes: this.maxFileBytes,
      allowSecretFiles: this.options.allowSecretFiles(),
      roots,
      openDocuments: open.map(({ lexicalPath, realPath, root, displayPath }) => ({ lexicalPath, realPath, root: roots.indexOf(root), displayPath })),
    };
    const deadlineMs = positiveOr(this.options.searchDeadlineMs?.(), maxSearchDeadlineMs);
    const run = await this.searchRunner.run(job, open.map((document) => document.text), { deadlineMs, signal });
    if (run.stop === 'aborted') return failure('search_workspace', 'The search was cancelled.', 'search_workspace cancelled');
    if (run.stop === 'deadlineWaiting') {
      return failure(
        'search_workspace',
        `The search did not run: its time limit (${formatSeconds(deadlineMs)}) ran out while other searches were using the search threads. Ask for it again, with fewer searches at a time.`,
        'search_workspace: no free search thread in time',
      );
    }
    if (run.stop === 'failed') {
      return failure('search_workspace', `The search failed: ${run.failure ?? 'unknown error'}. Try again, or narrow it with glob.`, 'search_workspace failed');
    }
    return this.renderSearch({ query, regex, caseSensitive, globText, requestedMax, maxResults, deadlineMs }, run);
  }

  private renderRead(tool: 'read_document' | 'read_file', read: ReadToRender): ToolOutcome {
    const { source, range, displayPath } = read;
    const lineCount = source.lineCount;
    const first = range.start ?? 1;
    if (first > lineCount) {
      throw new BadInput(`start_line ${first} is past the end: ${displayPath} has ${lineCount} line${lineCount === 1 ? '' : 's'}.`);
    }
    const wantedLast = Math.min(range.end ?? lineCount, lineCount);
    const originLabel =
      read.origin.kind === 'disk'
        ? 'from disk'
        : tool === 'read_file'
          ? `open in the editor: this is the editor's text (version ${read.origin.version}), which may have unsaved changes`
          : `the editor's text (version ${read.origin.version})`;
    const headerFor = (last: number): string =>
      `${displayPath}${read.languageId === undefined ? '' : ` (${read.languageId})`} - lines ${first}-${last} of ${lineCount}, ${originLabel}`;
    const budget = Math.max(80, this.maxResultChars - headerFor(lineCount).length - readNotesReserve);
    const rendered = renderNumberedLines(source, first, wantedLast, budget);
    const last = rendered.lastShown;

    const trailer: string[] = [];
    if (range.end !== undefined && range.end > lineCount) trailer.push(`[end_line ${range.end} is past the end; the last line is ${lineCount}.]`);
    if (rendered.lineCut) trailer.push(`[Line ${last} is longer than the ${this.maxResultChars}-character result limit; only its start is shown.]`);
    if (last < wantedLast) {
      trailer.push(
        `[Cut at line ${last} to stay within ${this.maxResultChars} characters; lines ${last + 1}-${wantedLast} were not shown. To read on, call ${tool} again with start_line ${last + 1}.]`,
      );
    }
    const again = { ...read.again, start_line: first, end_line: last };
    read.ledger?.ledger.record(displayPath, read.ledger.text, read.ledger.origin, first, last);
    const origin = read.origin.kind === 'disk' ? 'disk' : `editor text, version ${read.origin.version}`;
    return {
      content: [headerFor(last), rendered.text, ...trailer].join('\n'),
      isError: false,
      note: `read ${displayPath} lines ${first}–${last}${read.origin.kind === 'editor' ? ' (editor text)' : ''}${last < wantedLast ? ' (cut)' : ''}`,
      summary: `${tool} ${JSON.stringify(again)} -> ${displayPath} lines ${first}-${last} of ${lineCount} (${origin})`,
    };
  }

  private renderSearch(request: SearchEcho, result: SearchRun): ToolOutcome {
    const { query, regex, caseSensitive, globText, requestedMax, maxResults } = request;
    const described = `${regex ? 'regex ' : ''}${JSON.stringify(query)}${globText === undefined ? '' : ` in ${globText}`}`;
    const count = result.matches.length;
    const stoppedEarly = result.stop === 'deadline';
    const heading =
      count === 0
        ? `No matches for ${described}${stoppedEarly ? ' before the search was stopped' : ''} (${result.filesScanned} files searched).`
        : `${count} match${count === 1 ? '' : 'es'} for ${described} in ${result.filesWithMatches} file${result.filesWithMatches === 1 ? '' : 's'} (${result.filesScanned} files searched${stoppedEarly ? ' before the search was stopped' : ''}):`;

    const budget = this.maxResultChars - heading.length - readNotesReserve;
    const lines: string[] = [];
    let used = 0;
    for (const match of result.matches) {
      const line = `${match.displayPath}:${match.line}: ${match.text}`;
      if (used + line.length + 1 > budget) break;
      lines.push(line);
      used += line.length + 1;
    }

    const trailer: string[] = [];
    if (lines.length < count) {
      trailer.push(`[${count - lines.length} more matches not shown, to stay within ${this.maxResultChars} characters. Narrow the search with glob or a more specific query.]`);
    }
    if (result.stop === 'maxResults') {
      const raised = requestedMax !== undefined && requestedMax < this.maxSearchResults ? ` (or raise max_results, up to ${this.maxSearchResults})` : '';
      trailer.push(`[Stopped at ${maxResults} matches; there are more. Narrow the search with glob or a more specific query${raised}.]`);
    }
    if (result.stop === 'maxFilesScanned') {
      trailer.push(`[Stopped after searching ${result.filesScanned} files, the limit; files after that were not searched. Narrow the search with glob, e.g. "src/**".]`);
    }
    if (stoppedEarly) {
      const why = regex
        ? ' A regex with nested or overlapping repetition (like "(a+)+", "(a|a)*" or "(\\w+\\s?)+$") can take exponential time on a long line: simplify it (e.g. "a+" for "(a+)+"), or narrow the search with glob.'
        : ' Narrow the search with glob, e.g. "src/**".';
      const where = result.stoppedIn === undefined ? '' : `, while searching ${result.stoppedIn}`;
      trailer.push(`[The search was stopped after ${formatSeconds(request.deadlineMs)}, its time limit${where}; what it found until then is shown, later files were not searched.${why}]`);
    }
    const skipped: string[] = [];
    if (result.skippedBinary > 0) skipped.push(`${result.skippedBinary} binary`);
    if (result.skippedTooBig > 0) skipped.push(`${result.skippedTooBig} over ${formatBytes(this.maxFileBytes)}`);
    if (result.skippedSecret > 0) skipped.push(`${result.skippedSecret} secret-looking`);
    if (skipped.length > 0) trailer.push(`[Files skipped: ${skipped.join(', ')}.]`);

    const again: Record<string, unknown> = { query };
    if (regex) again['regex'] = true;
    if (caseSensitive) again['case_sensitive'] = true;
    if (globText !== undefined) again['glob'] = globText;
    if (requestedMax !== undefined) again['max_results'] = requestedMax;
    const places = result.matches.slice(0, 5).map((match) => `${match.displayPath}:${match.line}`);
    const stopped = result.stop === 'complete' ? '' : ` (stopped: ${result.stop})`;
    return {
      content: [heading, ...lines, ...trailer].join('\n'),
      isError: false,
      note: `searched for ${described}: ${count} match${count === 1 ? '' : 'es'} in ${result.filesWithMatches} file${result.filesWithMatches === 1 ? '' : 's'}${stoppedEarly ? ` (stopped after ${formatSeconds(request.deadlineMs)})` : ''}`,
      summary: `search_workspace ${JSON.stringify(again)} -> ${count} matches in ${result.filesWithMatches} files${stopped}${places.length > 0 ? `: ${places.join(', ')}${count > places.length ? ', ...' : ''}` : ''}`,
    };
  }

  /**
   * Whether an open document may be shown, and under what name. A file
   * document is held to the same rules as a file on disk (the editor may have
   * anything open, `~/.ssh/config` included); a non-file one (`untitled:`)
   * has no path to escape through and is the user's own buffer.
   */
  private async documentAccess(document: TrackedDocument, roots: readonly WorkspaceRoot[]): Promise<{ kind: 'ok'; displayPath: string } | { kind: 'refused'; reason: string }> {
    if (!document.uri.startsWith('file:')) return { kind: 'ok', displayPath: document.uri };
    const located = await locate(document.uri, roots, this.locateOptions());
    if (located.kind === 'refused') return located;
    return { kind: 'ok', displayPath: located.displayPath };
  }

  /** Where `path` (as the model wrote it) is, under the same confinement and secret rules as read_file. */
  async locate(path: string): Promise<Located> {
    return locate(path, await this.roots(), this.locateOptions());
  }

  /** The open document that is the file `located` names, by any of its names. */
  async openDocumentAt(located: Located): Promise<TrackedDocument | undefined> {
    if (located.kind !== 'inside') return undefined;
    const documents = this.options.documents;
    const filePaths: { document: TrackedDocument; path: string }[] = [];
    for (const uri of documents.uris()) {
      const document = documents.get(uri);
      const path = uri.startsWith('file:') ? toFilePath(uri) : undefined;
      if (document === undefined || path === undefined) continue;
      const resolved = resolve(path);
      if (resolved === located.lexicalPath || resolved === located.realPath) return document;
      filePaths.push({ document, path: resolved });
    }
    // The editor may name the file through a symlink the request did not use.
    if (located.realPath === undefined) return undefined;
    for (const { document, path } of filePaths) {
      if ((await realpathOrUndefined(path)) === located.realPath) return document;
    }
    return undefined;
  }

  /**
   * The open documents a search reads first, in path order, each with its text
   * as of now (a reference, not a copy: the search reads this version even if
   * the user types on).
   */
  private async searchableDocuments(roots: readonly WorkspaceRoot[]): Promise<OpenForSearch[]> {
    const searchable: OpenForSearch[] = [];
    const uris = [...this.options.documents.uris()].sort(compareStrings);
    for (const uri of uris) {
      const document = this.options.documents.get(uri);
      if (document === undefined || !uri.startsWith('file:')) continue;
      const located = await locate(uri, roots, this.locateOptions());
      if (located.kind !== 'inside') continue;
      searchable.push({ text: document.text, lexicalPath: located.lexicalPath, realPath: located.realPath, root: located.root, displayPath: located.displayPath });
    }
    return searchable.sort((a, b) => compareStrings(a.displayPath, b.displayPath));
  }

  private roots(): Promise<WorkspaceRoot[]> {
    return resolveRoots(this.options.roots());
  }

  private locateOptions(): { allowSecretFiles: boolean } {
    return { allowSecretFiles: this.options.allowSecretFiles() };
  }
}

interface ReadToRender {
  displayPath: string;
  languageId: string | undefined;
  source: LineSource;
  origin: { kind: 'editor'; version: number } | { kind: 'disk' };
  range: LineRange;
  /** The input that reads the same thing again, echoed in the summary. */
  again: Record<string, string>;
  /** Where the job keeps what its agent read, with the whole text read: edits are resolved against it. */
  ledger: { ledger: ReadLedger; text: string; origin: ReadOrigin } | undefined;
}

function editorOrigin(document: TrackedDocument): ReadOrigin {
  return { kind: 'editor', uri: document.uri, version: document.version, openId: document.openId, epoch: document.journal.epoch };
}

interface SearchEcho {
  query: string;
  regex: boolean;
  caseSensitive: boolean;
  globText: string | undefined;
  requestedMax: number | undefined;
  maxResults: number;
  deadlineMs: number;
}

interface OpenForSearch {
  text: string;
  lexicalPath: string;
  realPath: string | undefined;
  root: WorkspaceRoot;
  displayPath: string;
}

interface LineRange {
  start: number | undefined;
  end: number | undefined;
}

/** Input the model can fix; its message is shown to the model as is. */
class BadInput extends Error {}

function isToolName(name: string): name is ToolName {
  return readOnlyToolDefinitions.some((tool) => tool.name === name);
}

function objectInput(input: unknown): Record<string, unknown> {
  // A tool without parameters may arrive with no input at all.
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw new BadInput(`the input must be a JSON object, not ${describeType(input)}.`);
  return input as Record<string, unknown>;
}

function requiredString(args: Record<string, unknown>, key: string, what: string): string {
  const value = optionalString(args, key);
  if (value === undefined || value.trim() === '') throw new BadInput(`"${key}" is required: ${what}.`);
  return value;
}

function optionalString(args: Record<string, unknown>, key: string): string | undefined {
  const value = args[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new BadInput(`"${key}" must be a string, not ${describeType(value)}.`);
  return value;
}

function optionalBoolean(args: Record<string, unknown>, key: string): boolean | undefined {
  const value = args[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new BadInput(`"${key}" must be true or false, not ${describeType(value)}.`);
  return value;
}

function optionalInteger(args: Record<string, unknown>, key: string): number | undefined {
  const value = args[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new BadInput(`"${key}" must be a whole number of at least 1, not ${describeType(value)}.`);
  }
  return value;
}

function lineRange(args: Record<string, unknown>): LineRange {
  const start = optionalInteger(args, 'start_line');
  const end = optionalInteger(args, 'end_line');
  if (start !== undefined && end !== undefined && start > end) {
    throw new BadInput(`start_line (${start}) is after end_line (${end}); lines are 1-based and the range is inclusive, e.g. start_line 10 and end_line 40.`);
  }
  return { start, end };
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  return `a ${typeof value}`;
}

/**
 * Refuses a regex JavaScript does not accept, with V8's reason. Any regex it
 * accepts is searched for, however it repeats: the search runs on a worker
 * thread with a deadline (search-runner.ts), so a pathological one only uses
 * up its own time.
 */
function checkRegex(query: string, caseSensitive: boolean): void {
  try {
    new RegExp(query, caseSensitive ? '' : 'i');
  } catch (error) {
    const detail = error instanceof Error ? error.message : 'invalid';
    throw new BadInput(`"query" is not a valid regular expression (${detail}). Fix it, or leave out regex to search for plain text.`);
  }
}

function checkGlob(globText: string): void {
  try {
    compileGlob(globText);
  } catch (error) {
    const detail = error instanceof GlobSyntaxError ? ` (${error.message})` : '';
    throw new BadInput(`"glob" ${JSON.stringify(globText)} is not a pattern this tool understands${detail}; use *, **, ?, [abc] and {a,b}, e.g. "src/**/*.{ts,tsx}".`);
  }
}

function formatSeconds(ms: number): string {
  return ms >= 10_000 || ms % 1000 === 0 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

function failure(tool: string, message: string, note: string): ToolOutcome {
  return { content: message, isError: true, note: note.replace(/\s+/g, ' '), summary: `${tool} -> error: ${firstSentence(message)}` };
}

function firstSentence(message: string): string {
  const end = message.search(/[.!?](\s|$)/);
  return end < 0 ? message : message.slice(0, end + 1);
}

function positiveOr(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
