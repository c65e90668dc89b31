/**
 * The efrit/do agent's tools backed by the user's own language server (proxy
 * mode): definition, references, hover, document and workspace symbols, and a
 * file's diagnostics. Each is offered only when that server declared the
 * matching capability, decided once (the tool list is part of the cached
 * prompt prefix); without proxy mode there are none.
 *
 * Models count columns badly, so a position is given as a path, a 1-based
 * line and the symbol's name on that line (a column works too). Answers are
 * trimmed to what the model needs — locations as `path:line: <line text>`,
 * hover as plain text — bounded in count and size, and held to the same
 * confinement and secret rules as read_file: a location outside the
 * workspace folders or in a secret-looking file is left out, and the answer
 * says how many were.
 */
import type { Tool } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Diagnostic } from 'vscode-languageserver-types';
import type { TrackedDocument } from '../documents/tracked-document.js';
import type { LanguageIntelligence, SemanticFeature } from './language-intelligence.js';
import { readTextFile, type Located } from './workspace-paths.js';
import type { ToolOutcome } from './workspace-tools.js';

export interface SemanticToolsOptions {
  intelligence: LanguageIntelligence;
  /** The same confinement and secret rules as read_file (WorkspaceTools.locate). */
  locate(path: string): Promise<Located>;
  /** The open document that is the located file, whose editor text wins over the disk. */
  openDocumentAt(located: Located): Promise<TrackedDocument | undefined>;
  /** @default 1 MiB */
  maxFileBytes?: number;
  /** Locations, symbols or diagnostics listed at most. @default 50 */
  maxResults?: number;
  /** A result is cut to this. @default 20_000 */
  maxResultChars?: number;
}

export const semanticToolNames = ['definition', 'references', 'hover', 'document_symbols', 'workspace_symbols', 'diagnostics'] as const;
export type SemanticToolName = (typeof semanticToolNames)[number];

const featureOfTool: Record<SemanticToolName, SemanticFeature> = {
  definition: 'definition',
  references: 'references',
  hover: 'hover',
  document_symbols: 'documentSymbols',
  workspace_symbols: 'workspaceSymbols',
  diagnostics: 'diagnostics',
};

const positionProperties = {
  path: { type: 'string', description: 'The file, relative to the workspace folder, e.g. "src/cart.ts".' },
  line: { type: 'integer', minimum: 1, description: 'The 1-based line the symbol is on, as read_file numbers it.' },
  symbol: { type: 'string', description: 'The name on that line to ask about, e.g. "cartTotal". Give this or column.' },
  occurrence: { type: 'integer', minimum: 1, description: 'Which occurrence of symbol on the line, when it occurs more than once. Default: 1.' },
  column: { type: 'integer', minimum: 1, description: 'Alternatively, the 1-based column on the line.' },
};
const positionInput = { type: 'object' as const, properties: positionProperties, required: ['path', 'line'], additionalProperties: false };
const pathInput = {
  type: 'object' as const,
  properties: { path: positionProperties.path },
  required: ['path'],
  additionalProperties: false,
};

/** Static text only: the list is part of the cached prompt prefix. */
const definitions: Record<SemanticToolName, Tool> = {
  definition: {
    name: 'definition',
    description:
      "Where a symbol is defined, from the project's own language server (it knows imports, types and overloads; better than searching text). Returns `path:line: <line text>` for each definition.",
    input_schema: positionInput,
  },
  references: {
    name: 'references',
    description: "Every place a symbol is used, from the project's own language server, the declaration included. Returns `path:line: <line text>` lines.",
    input_schema: positionInput,
  },
  hover: {
    name: 'hover',
    description: "The type, signature and documentation of a symbol, from the project's own language server.",
    input_schema: positionInput,
  },
  document_symbols: {
    name: 'document_symbols',
    description: "The outline of a file from the project's own language server: its classes, functions, variables and their lines, nested as declared.",
    input_schema: pathInput,
  },
  workspace_symbols: {
    name: 'workspace_symbols',
    description: "Find declarations by name across the project with its own language server (matching as the server does, usually fuzzy). Returns `path:line: kind name` lines.",
    input_schema: {
      type: 'object',
      properties: { query: { type: 'string', description: 'The name or part of it, e.g. "cartTotal".' } },
      required: ['query'],
      additionalProperties: false,
    },
  },
  diagnostics: {
    name: 'diagnostics',
    description:
      "The errors and warnings the project's own language server reports for a file now (for a file open in the editor, what the user sees). Returns `path:line: severity: message` lines.",
    input_schema: pathInput,
  },
};

const defaultMaxResults = 50;
const defaultMaxResultChars = 20_000;
const defaultMaxFileBytes = 1024 * 1024;
/** A line of a location is shown up to this long: enough to recognize it. */
const maxLineChars = 200;
/** Files read for line texts in one answer; further locations are listed without their text. */
const maxFilesForLineTexts = 20;
const maxHoverChars = 4_000;
const maxSymbolNameChars = 200;

const symbolKinds = [
  '', 'file', 'module', 'namespace', 'package', 'class', 'method', 'property', 'field', 'constructor', 'enum', 'interface', 'function',
  'variable', 'constant', 'string', 'number', 'boolean', 'array', 'object', 'key', 'null', 'enum member', 'struct', 'event', 'operator', 'type parameter',
];
const severities = ['', 'error', 'warning', 'info', 'hint'];

/** Input the model can fix; its message is shown to the model as is. */
class BadInput extends Error {}

interface FileAt {
  uri: string;
  displayPath: string;
  text: string;
  languageId: string;
  /** Open in the editor: the server has the editor's text. */
  open: boolean;
}

interface Place {
  uri: string;
  /** 0-based. */
  line: number;
  label?: string;
}

export class SemanticTools {
  private readonly maxResults: number;
  private readonly maxResultChars: number;
  private readonly maxFileBytes: number;
  private offered: Tool[] | undefined;

  constructor(private readonly options: SemanticToolsOptions) {
    this.maxResults = options.maxResults ?? defaultMaxResults;
    this.maxResultChars = options.maxResultChars ?? defaultMaxResultChars;
    this.maxFileBytes = options.maxFileBytes ?? defaultMaxFileBytes;
  }

  /**
   * The tools the wrapped server can answer, in a fixed order. Kept from the
   * first call on, so one process offers one list (its features are decided
   * at initialize, before any model call).
   */
  definitions(): Tool[] {
    this.offered ??= semanticToolNames.filter((name) => this.options.intelligence.features().has(featureOfTool[name])).map((name) => definitions[name]);
    return this.offered.map((tool) => ({ ...tool }));
  }

  /** Whether `name` is one of these tools (offered or not: a tool not offered is answered as such). */
  handles(name: string): name is SemanticToolName {
    return (semanticToolNames as readonly string[]).includes(name);
  }

  /** Runs one call. Never throws: bad input and the server's failures are `isError` outcomes. */
  async run(name: SemanticToolName, input: unknown, signal: AbortSignal): Promise<ToolOutcome> {
    if (!this.definitions().some((tool) => tool.name === name)) {
      return failure(name, `The tool ${name} is not available: the language server does not offer it.`, `${name}: not available`);
    }
    if (signal.aborted) return failure(name, 'The request was cancelled.', `${name} cancelled`);
    const args = typeof input === 'object' && input !== null && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
    try {
      const outcome = await this.dispatch(name, args, signal);
      return { ...outcome, note: outcome.note.replace(/\s+/g, ' ') };
    } catch (error) {
      if (error instanceof BadInput) return failure(name, `Invalid input for ${name}: ${error.message}`, `${name}: invalid input`);
      const detail = error instanceof Error ? error.message : String(error);
      return failure(name, `${name} failed: ${detail}`, `${name} failed`);
    }
  }

  private dispatch(name: SemanticToolName, args: Record<string, unknown>, signal: AbortSignal): Promise<ToolOutcome> {
    switch (name) {
      case 'definition':
        return this.locations(name, 'textDocument/definition', args, signal);
      case 'references':
        return this.locations(name, 'textDocument/references', args, signal);
      case 'hover':
        return this.hover(args, signal);
      case 'document_symbols':
        return this.documentSymbols(args, signal);
      case 'workspace_symbols':
        return this.workspaceSymbols(args, signal);
      case 'diagnostics':
        return this.diagnostics(args, signal);
    }
  }

  private async locations(tool: SemanticToolName, method: string, args: Record<string, unknown>, signal: AbortSignal): Promise<ToolOutcome> {
    const at = await this.positionIn(args);
    const params = {
      textDocument: { uri: at.file.uri },
      position: at.position,
      ...(tool === 'references' ? { context: { includeDeclaration: true } } : {}),
    };
    const places = placesOf(await this.ask(at.file, method, params, signal));
    const what = `${tool} of ${at.described}`;
    const listed = await this.renderPlaces(places);
    const heading =
      places.length === 0
        ? `The language server knows no ${tool === 'definition' ? 'definition' : 'references'} of ${at.described}.`
        : `${tool === 'definition' ? 'Definition' : 'References'} of ${at.described}:`;
    return {
      content: [heading, ...listed.lines, ...listed.trailer].join('\n'),
      isError: false,
      note: `${what}: ${listed.shown} location${listed.shown === 1 ? '' : 's'}`,
      summary: `${tool} ${JSON.stringify(args)} -> ${listed.shown} locations${listed.places.length > 0 ? `: ${listed.places.slice(0, 5).join(', ')}${listed.places.length > 5 ? ', ...' : ''}` : ''}`,
    };
  }

  private async hover(args: Record<string, unknown>, signal: AbortSignal): Promise<ToolOutcome> {
    const at = await this.positionIn(args);
    const result = await this.ask(at.file, 'textDocument/hover', { textDocument: { uri: at.file.uri }, position: at.position }, signal);
    const text = hoverText(result);
    const cut = text.length > maxHoverChars;
    const content = text === '' ? `The language server has nothing to say about ${at.described}.` : `${at.described}:\n${cut ? `${text.slice(0, maxHoverChars)}\n[cut at ${maxHoverChars} characters]` : text}`;
    return {
      content,
      isError: false,
      note: `hover on ${at.described}`,
      summary: `hover ${JSON.stringify(args)} -> ${text === '' ? 'nothing' : firstLine(text).slice(0, 120)}`,
    };
  }

  private async documentSymbols(args: Record<string, unknown>, signal: AbortSignal): Promise<ToolOutcome> {
    const file = await this.fileAt(requiredString(args, 'path', 'the file, relative to the workspace folder'));
    const result = await this.ask(file, 'textDocument/documentSymbol', { textDocument: { uri: file.uri } }, signal);
    const entries = symbolOutline(result);
    const lines: string[] = [];
    let used = 0;
    for (const entry of entries) {
      if (lines.length >= this.maxResults * 4 || used + entry.length + 1 > this.maxResultChars - 300) break;
      lines.push(entry);
      used += entry.length + 1;
    }
    const trailer = lines.length < entries.length ? [`[${entries.length - lines.length} more symbols not shown.]`] : [];
    const heading = entries.length === 0 ? `The language server lists no symbols in ${file.displayPath}.` : `Symbols in ${file.displayPath} (line numbers 1-based):`;
    return {
      content: [heading, ...lines, ...trailer].join('\n'),
      isError: false,
      note: `outline of ${file.displayPath}: ${entries.length} symbol${entries.length === 1 ? '' : 's'}`,
      summary: `document_symbols ${JSON.stringify({ path: file.displayPath })} -> ${entries.length} symbols`,
    };
  }

  private async workspaceSymbols(args: Record<string, unknown>, signal: AbortSignal): Promise<ToolOutcome> {
    const query = requiredString(args, 'query', 'the name to look for');
    if (query.length > 200) throw new BadInput('"query" is longer than 200 characters; give a name or part of one.');
    const result = await this.options.intelligence.request('workspace/symbol', { query }, signal);
    const places: Place[] = [];
    for (const symbol of Array.isArray(result) ? (result as unknown[]) : []) {
      const found = symbolPlace(symbol);
      if (found !== undefined) places.push(found);
    }
    const listed = await this.renderPlaces(places, false);
    const heading = places.length === 0 ? `The language server finds no symbol matching ${JSON.stringify(query)}.` : `Symbols matching ${JSON.stringify(query)}:`;
    return {
      content: [heading, ...listed.lines, ...listed.trailer].join('\n'),
      isError: false,
      note: `symbols matching ${JSON.stringify(query)}: ${listed.shown}`,
      summary: `workspace_symbols ${JSON.stringify({ query })} -> ${listed.shown} symbols${listed.places.length > 0 ? `: ${listed.places.slice(0, 5).join(', ')}` : ''}`,
    };
  }

  private async diagnostics(args: Record<string, unknown>, signal: AbortSignal): Promise<ToolOutcome> {
    const file = await this.fileAt(requiredString(args, 'path', 'the file, relative to the workspace folder'));
    const { intelligence } = this.options;
    const found = file.open
      ? (intelligence.publishedDiagnostics(file.uri) ?? [])
      : ((await intelligence.diagnosticsOfTexts({ uri: file.uri, languageId: file.languageId, texts: [file.text] }, signal))[0] ?? []);
    const lines = renderDiagnostics(file.displayPath, found).slice(0, this.maxResults);
    const trailer = found.length > lines.length ? [`[${found.length - lines.length} more not shown.]`] : [];
    const heading = found.length === 0 ? `The language server reports no problems in ${file.displayPath}.` : `The language server reports for ${file.displayPath}:`;
    const errors = found.filter((d) => (d.severity ?? 1) === 1).length;
    return {
      content: [heading, ...lines, ...trailer].join('\n'),
      isError: false,
      note: `diagnostics of ${file.displayPath}: ${errors} error${errors === 1 ? '' : 's'}, ${found.length - errors} other`,
      summary: `diagnostics ${JSON.stringify({ path: file.displayPath })} -> ${found.length} (${errors} errors)`,
    };
  }

  /**
   * Asks about a file as it is; when the file is not open in the editor and
   * the answer is empty, asks again with it opened in the server for the
   * question (typescript-language-server answers only for open documents;
   * pylsp answers at once, so it is never opened there).
   */
  private async ask(file: FileAt, method: string, params: unknown, signal: AbortSignal): Promise<unknown> {
    const { intelligence } = this.options;
    const first = await intelligence.request(method, params, signal);
    if (file.open || !isEmptyAnswer(first)) return first;
    return intelligence.withDocument(file, () => intelligence.request(method, params, signal));
  }

  /** The position `{ path, line, symbol | column }` names, checked against the file's text. */
  private async positionIn(args: Record<string, unknown>): Promise<{ file: FileAt; position: { line: number; character: number }; described: string }> {
    const path = requiredString(args, 'path', 'the file, relative to the workspace folder');
    const line = requiredInteger(args, 'line');
    const symbol = optionalString(args, 'symbol');
    const column = optionalInteger(args, 'column');
    const occurrence = optionalInteger(args, 'occurrence') ?? 1;
    if (symbol === undefined && column === undefined) throw new BadInput('give "symbol" (the name on that line) or "column".');
    const file = await this.fileAt(path);
    const lines = file.text.split(/\r?\n/);
    const lineText = lines[line - 1];
    if (lineText === undefined) throw new BadInput(`line ${line} is past the end: ${file.displayPath} has ${lines.length} lines.`);
    if (symbol !== undefined) {
      const character = symbolColumn(lineText, symbol, occurrence);
      if (character === undefined) {
        const shown = lineText.length > maxLineChars ? `${lineText.slice(0, maxLineChars)}...` : lineText;
        throw new BadInput(`${JSON.stringify(symbol)} does not occur ${occurrence > 1 ? `${occurrence} times ` : ''}on line ${line} of ${file.displayPath}, which reads: ${shown}`);
      }
      return { file, position: { line: line - 1, character }, described: `${symbol} at ${file.displayPath}:${line}` };
    }
    const character = (column as number) - 1;
    if (character > lineText.length) throw new BadInput(`column ${column as number} is past the end of line ${line} of ${file.displayPath} (${lineText.length} characters).`);
    return { file, position: { line: line - 1, character }, described: `${file.displayPath}:${line}:${column as number}` };
  }

  /** The file `path` names, under read_file's rules: the editor's text when it is open, else the disk's. */
  private async fileAt(path: string): Promise<FileAt> {
    const located = await this.options.locate(path);
    if (located.kind === 'refused') throw new BadInput(located.reason);
    const document = await this.options.openDocumentAt(located);
    if (document !== undefined) return { uri: document.uri, displayPath: located.displayPath, text: document.text, languageId: document.languageId, open: true };
    if (located.realPath === undefined) throw new BadInput(`${located.displayPath} does not exist.`);
    const read = await readTextFile(located.realPath, { maxFileBytes: this.maxFileBytes, displayPath: located.displayPath });
    if (read.kind === 'refused') throw new BadInput(read.reason);
    return { uri: pathToFileURL(located.lexicalPath).href, displayPath: located.displayPath, text: read.text, languageId: languageIdFor(located.lexicalPath), open: false };
  }

  /**
   * Places as `path:line: <text>` lines: those outside the workspace or in a
   * secret-looking file left out and counted, the rest bounded in count and size.
   */
  private async renderPlaces(all: readonly Place[], withLineText = true): Promise<{ lines: string[]; trailer: string[]; shown: number; places: string[] }> {
    const seen = new Set<string>();
    const unique = all.filter((place) => {
      const key = `${place.uri}:${place.line}:${place.label ?? ''}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    const lines: string[] = [];
    const places: string[] = [];
    const texts = new Map<string, string[] | undefined>();
    let hidden = 0;
    let used = 0;
    let index = 0;
    for (; index < unique.length && lines.length < this.maxResults; index++) {
      const place = unique[index] as Place;
      const located = place.uri.startsWith('file:') ? await this.options.locate(place.uri) : undefined;
      if (located === undefined || located.kind === 'refused') {
        hidden++;
        continue;
      }
      let text = '';
      if (withLineText) {
        if (!texts.has(located.displayPath) && texts.size < maxFilesForLineTexts) texts.set(located.displayPath, await this.linesOf(located));
        const lineText = texts.get(located.displayPath)?.[place.line]?.trim() ?? '';
        text = lineText.length > maxLineChars ? `${lineText.slice(0, maxLineChars)}...` : lineText;
      }
      const line = `${located.displayPath}:${place.line + 1}: ${place.label ?? text}`;
      if (used + line.length + 1 > this.maxResultChars - 400) break;
      used += line.length + 1;
      lines.push(line);
      places.push(`${located.displayPath}:${place.line + 1}`);
    }
    const trailer: string[] = [];
    if (index < unique.length) trailer.push(`[${unique.length - index} more not shown; at most ${this.maxResults} are listed.]`);
    if (hidden > 0) trailer.push(`[${hidden} location${hidden === 1 ? ' is' : 's are'} outside the workspace or in secret-looking files, so left out.]`);
    return { lines, trailer, shown: lines.length, places };
  }

  private async linesOf(located: Located): Promise<string[] | undefined> {
    const document = await this.options.openDocumentAt(located);
    if (document !== undefined) return document.text.split(/\r?\n/);
    if (located.kind !== 'inside' || located.realPath === undefined) return undefined;
    const read = await readTextFile(located.realPath, { maxFileBytes: this.maxFileBytes, displayPath: located.displayPath });
    return read.kind === 'text' ? read.text.split(/\r?\n/) : undefined;
  }
}

function isEmptyAnswer(result: unknown): boolean {
  return result === null || result === undefined || (Array.isArray(result) && result.length === 0);
}

/** The column (0-based, UTF-16) of the `occurrence`-th `symbol` on the line: as a whole word first, else anywhere. */
export function symbolColumn(lineText: string, symbol: string, occurrence = 1): number | undefined {
  if (symbol === '') return undefined;
  const isWordChar = (char: string | undefined) => char !== undefined && /[\p{L}\p{N}_$]/u.test(char);
  const all: number[] = [];
  const whole: number[] = [];
  for (let at = lineText.indexOf(symbol); at >= 0; at = lineText.indexOf(symbol, at + 1)) {
    all.push(at);
    if (!isWordChar(lineText[at - 1]) && !isWordChar(lineText[at + symbol.length])) whole.push(at);
  }
  return (whole.length > 0 ? whole : all)[occurrence - 1];
}

/** Location, Location[], LocationLink[] or null as places. */
export function placesOf(result: unknown): Place[] {
  const items = Array.isArray(result) ? (result as unknown[]) : result === null || result === undefined ? [] : [result];
  const places: Place[] = [];
  for (const item of items) {
    const record = item as { uri?: unknown; range?: { start?: { line?: unknown } }; targetUri?: unknown; targetSelectionRange?: { start?: { line?: unknown } } } | null;
    if (record === null || typeof record !== 'object') continue;
    if (typeof record.targetUri === 'string' && typeof record.targetSelectionRange?.start?.line === 'number') {
      places.push({ uri: record.targetUri, line: record.targetSelectionRange.start.line });
    } else if (typeof record.uri === 'string' && typeof record.range?.start?.line === 'number') {
      places.push({ uri: record.uri, line: record.range.start.line });
    }
  }
  return places;
}

/** Hover contents (MarkupContent, MarkedString or a list of them) as plain text. */
export function hoverText(result: unknown): string {
  const contents = (result as { contents?: unknown } | null)?.contents;
  const parts = Array.isArray(contents) ? (contents as unknown[]) : contents === undefined ? [] : [contents];
  const texts = parts.map((part) => {
    if (typeof part === 'string') return part;
    const value = (part as { value?: unknown } | null)?.value;
    return typeof value === 'string' ? value : '';
  });
  return texts
    .map((text) => text.replace(/^```\w*\n?|\n?```$/gm, '').trim())
    .filter((text) => text !== '')
    .join('\n\n');
}

/** DocumentSymbol[] (nested) or SymbolInformation[] as indented `kind name (line n)` lines. */
export function symbolOutline(result: unknown): string[] {
  const lines: string[] = [];
  const visit = (symbols: unknown, depth: number) => {
    if (!Array.isArray(symbols) || depth > 8) return;
    for (const symbol of symbols as unknown[]) {
      const record = symbol as { name?: unknown; kind?: unknown; detail?: unknown; selectionRange?: { start?: { line?: unknown } }; location?: { range?: { start?: { line?: unknown } } }; children?: unknown } | null;
      if (record === null || typeof record !== 'object' || typeof record.name !== 'string') continue;
      const line = record.selectionRange?.start?.line ?? record.location?.range?.start?.line;
      const kind = typeof record.kind === 'number' ? (symbolKinds[record.kind] ?? 'symbol') : 'symbol';
      const detail = typeof record.detail === 'string' && record.detail !== '' ? ` - ${record.detail.slice(0, maxSymbolNameChars)}` : '';
      lines.push(`${'  '.repeat(depth)}${kind} ${record.name.slice(0, maxSymbolNameChars)}${detail}${typeof line === 'number' ? ` (line ${line + 1})` : ''}`);
      visit(record.children, depth + 1);
    }
  };
  visit(result, 0);
  return lines;
}

function symbolPlace(symbol: unknown): Place | undefined {
  const record = symbol as { name?: unknown; kind?: unknown; containerName?: unknown; location?: { uri?: unknown; range?: { start?: { line?: unknown } } } } | null;
  if (record === null || typeof record !== 'object' || typeof record.name !== 'string' || typeof record.location?.uri !== 'string') return undefined;
  const kind = typeof record.kind === 'number' ? (symbolKinds[record.kind] ?? 'symbol') : 'symbol';
  const container = typeof record.containerName === 'string' && record.containerName !== '' ? ` (in ${record.containerName.slice(0, maxSymbolNameChars)})` : '';
  const line = record.location.range?.start?.line;
  return { uri: record.location.uri, line: typeof line === 'number' ? line : 0, label: `${kind} ${record.name.slice(0, maxSymbolNameChars)}${container}` };
}

/** `path:line: severity: message [source code]`, errors first. */
export function renderDiagnostics(displayPath: string, diagnostics: readonly Diagnostic[]): string[] {
  return [...diagnostics]
    .sort((a, b) => (a.severity ?? 1) - (b.severity ?? 1) || a.range.start.line - b.range.start.line)
    .map((diagnostic) => {
      const source = [diagnostic.source, diagnostic.code].filter((part) => part !== undefined && part !== '').join(' ');
      const message = (typeof diagnostic.message === 'string' ? diagnostic.message : '').replace(/\s+/g, ' ').slice(0, 500);
      return `${displayPath}:${diagnostic.range.start.line + 1}: ${severities[diagnostic.severity ?? 1] ?? 'error'}: ${message}${source === '' ? '' : ` [${source}]`}`;
    });
}

const languageIds: Record<string, string> = {
  '.ts': 'typescript', '.mts': 'typescript', '.cts': 'typescript', '.tsx': 'typescriptreact',
  '.js': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript', '.jsx': 'javascriptreact',
  '.py': 'python', '.pyi': 'python', '.rs': 'rust', '.go': 'go', '.java': 'java', '.rb': 'ruby',
  '.c': 'c', '.h': 'c', '.cc': 'cpp', '.cpp': 'cpp', '.hpp': 'cpp', '.cs': 'csharp', '.el': 'emacs-lisp', '.lua': 'lua', '.sh': 'shellscript',
};

/** The LSP language id editors use for a file of this extension (the extension itself when unknown). */
export function languageIdFor(path: string): string {
  const extension = extname(path).toLowerCase();
  return languageIds[extension] ?? (extension.slice(1) || 'plaintext');
}

function firstLine(text: string): string {
  const end = text.indexOf('\n');
  return end < 0 ? text : text.slice(0, end);
}

function requiredString(args: Record<string, unknown>, key: string, what: string): string {
  const value = args[key];
  if (typeof value !== 'string' || value.trim() === '') throw new BadInput(`"${key}" is required: ${what}.`);
  return value;
}

function optionalString(args: Record<string, unknown>, key: string): string | undefined {
  const value = args[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new BadInput(`"${key}" must be a string.`);
  return value;
}

function requiredInteger(args: Record<string, unknown>, key: string): number {
  const value = optionalInteger(args, key);
  if (value === undefined) throw new BadInput(`"${key}" is required: a whole number of at least 1.`);
  return value;
}

function optionalInteger(args: Record<string, unknown>, key: string): number | undefined {
  const value = args[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new BadInput(`"${key}" must be a whole number of at least 1.`);
  return value;
}

function failure(tool: string, message: string, note: string): ToolOutcome {
  return { content: message, isError: true, note, summary: `${tool} -> error: ${message.slice(0, 160)}` };
}
