/**
 * What the offline demo model reads out of a Messages API request that
 * efrit-lsp built: which kind of request it is (an action's edit, a text
 * answer, a step of the do agent, an inline completion), the excerpt with its
 * numbered lines, selection and diagnostics (see context/capture-context.ts
 * for the format), and the instruction. It reads only the shapes efrit-lsp
 * writes; anything else is simply not found.
 *
 * Every scan is one pass over the request's text, split into lines: no
 * regular expression here can backtrack across more than one line.
 */
import { isRecord } from '../common/json-shape.js';

export interface ExcerptLine {
  /** 1-based, as the excerpt numbers it. */
  number: number;
  text: string;
  selected: boolean;
  /** Cut to fit ("...[+N chars]"): it cannot be quoted. */
  cut: boolean;
}

export interface DemoDiagnostic {
  line: number;
  column: number;
  severity: string;
  tag: string;
  message: string;
}

export interface Excerpt {
  path: string;
  language: string;
  totalLines: number;
  /** The selection as the header gives it: 1-based lines and columns. */
  selection: { startLine: number; startColumn: number; endLine: number; endColumn: number };
  lines: ExcerptLine[];
  diagnostics: DemoDiagnostic[];
}

export type RequestKind = 'edit' | 'text' | 'agent' | 'completion';

export interface DemoRequest {
  kind: RequestKind;
  maxTokens: number;
  /** The text blocks of the last user message, joined. */
  lastUserText: string;
  /** The same blocks apart: a chat's question is the last one. */
  lastUserBlocks: string[];
  /** The most recent full excerpt in the conversation, with the latest selection applied. */
  excerpt: Excerpt | undefined;
  /** User turns in the conversation so far, this one included. */
  userTurns: number;
  /** Tool results in the last user message (the do agent's step answers). */
  toolResults: string[];
  /** Those of them marked `is_error` (a refused read, a refused proposal). */
  toolErrors: string[];
  /** What the user asked: a do's instruction, a chat's message, an action's request (without the excerpt). */
  instruction: string;
  /** Assistant turns since the user's last instruction (the do agent's steps so far). */
  agentSteps: number;
  /** For a completion: the text before the cursor on its line, and after the cursor. */
  completion?: { prefixLine: string; suffix: string; language: string } | undefined;
}

interface Block {
  type: string;
  text: string;
  /** A tool_result's text. */
  result: string;
  isError: boolean;
}

function blocksOf(content: unknown): Block[] {
  if (typeof content === 'string') return [{ type: 'text', text: content, result: '', isError: false }];
  if (!Array.isArray(content)) return [];
  return content.filter(isRecord).map((block) => {
    const type = typeof block['type'] === 'string' ? block['type'] : '';
    const text = typeof block['text'] === 'string' ? block['text'] : '';
    const raw = block['content'];
    const result =
      typeof raw === 'string'
        ? raw
        : Array.isArray(raw)
          ? raw
              .filter(isRecord)
              .map((part) => (typeof part['text'] === 'string' ? part['text'] : ''))
              .join('\n')
          : '';
    return { type, text, result, isError: block['is_error'] === true };
  });
}

const headerPattern = /^(.+) \(([^()]*)\) - lines (\d+)-(\d+) of (\d+), selection at (\d+):(\d+)-(\d+):(\d+)$/;
const rowPattern = /^ *(\d+)\|([ >])(.*)$/;
const diagnosticPattern = /^line (\d+):(\d+) (error|warning|info|hint)(?: \[([^\]]*)\])? (.*)$/;
const cutMarker = /\.\.\.\[\+\d+ chars\]/;
/** How a later turn names the selection: on a line of its own after a delta, at the end of the "unchanged" note. */
const deltaSelectionPattern = /(?:^|\. )Selection: lines \d+-\d+ \((\d+):(\d+)-(\d+):(\d+)\)\.$/;

/** The excerpt in one text block, if it has one. */
export function parseExcerpt(text: string): Excerpt | undefined {
  const lines = text.split('\n');
  const headerAt = lines.findIndex((line) => headerPattern.test(line));
  if (headerAt < 0) return undefined;
  const header = headerPattern.exec(lines[headerAt] as string) as RegExpExecArray;
  const excerpt: Excerpt = {
    path: header[1] as string,
    language: header[2] as string,
    totalLines: Number(header[5]),
    selection: { startLine: Number(header[6]), startColumn: Number(header[7]), endLine: Number(header[8]), endColumn: Number(header[9]) },
    lines: [],
    diagnostics: [],
  };
  let index = headerAt + 1;
  for (; index < lines.length; index++) {
    const row = rowPattern.exec(lines[index] as string);
    if (row === null) break;
    const rowText = row[3] as string;
    excerpt.lines.push({ number: Number(row[1]), text: rowText, selected: row[2] === '>', cut: cutMarker.test(rowText) });
  }
  if (lines[index] === '' && lines[index + 1] === 'Diagnostics:') {
    for (index += 2; index < lines.length; index++) {
      const match = diagnosticPattern.exec(lines[index] as string);
      if (match === null) break;
      excerpt.diagnostics.push({ line: Number(match[1]), column: Number(match[2]), severity: match[3] as string, tag: match[4] ?? '', message: match[5] as string });
    }
  }
  return excerpt;
}

function withDeltaSelection(excerpt: Excerpt, text: string): Excerpt {
  for (const line of text.split('\n')) {
    const match = deltaSelectionPattern.exec(line);
    if (match === null) continue;
    const selection = { startLine: Number(match[1]), startColumn: Number(match[2]), endLine: Number(match[3]), endColumn: Number(match[4]) };
    const lastSelected = selection.endLine > selection.startLine && selection.endColumn === 1 ? selection.endLine - 1 : selection.endLine;
    return { ...excerpt, selection, lines: excerpt.lines.map((row) => ({ ...row, selected: row.number >= selection.startLine && row.number <= lastSelected })) };
  }
  return excerpt;
}

function kindOf(body: Record<string, unknown>, firstUserText: string): RequestKind {
  const system = blocksOf(body['system']).map((block) => block.text).join('\n');
  if (system.startsWith('You are a code completion engine') || firstUserText.includes('\n<prefix>\n')) return 'completion';
  const choice = isRecord(body['tool_choice']) ? body['tool_choice'] : {};
  if (choice['type'] === 'tool') return 'edit';
  if (choice['type'] === 'auto' || choice['type'] === 'any') return 'agent';
  return 'text';
}

function completionParts(text: string): DemoRequest['completion'] {
  const language = /^File: .* \(([^()]*)\)$/m.exec(text.split('\n', 1)[0] ?? '')?.[1] ?? '';
  const prefixEnd = text.lastIndexOf('</prefix>');
  if (prefixEnd < 0) return undefined;
  const before = text.slice(0, prefixEnd);
  const prefixLine = before.slice(before.lastIndexOf('\n') + 1);
  const suffixStart = text.indexOf('<suffix>', prefixEnd);
  const suffixEnd = text.indexOf('</suffix>', suffixStart);
  const suffix = suffixStart < 0 || suffixEnd < 0 ? '' : text.slice(suffixStart + '<suffix>'.length, suffixEnd);
  return { prefixLine, suffix, language };
}

/** Reads a request body (already parsed JSON); throws a message for a body that is not a Messages request. */
export function readDemoRequest(body: unknown): DemoRequest {
  if (!isRecord(body) || !Array.isArray(body['messages'])) throw new Error('expected a Messages API request with a "messages" list');
  const messages = body['messages'].filter(isRecord);
  const maxTokens = typeof body['max_tokens'] === 'number' && body['max_tokens'] > 0 ? body['max_tokens'] : 4096;
  const userMessages = messages.filter((message) => message['role'] === 'user');
  const last = userMessages[userMessages.length - 1];
  const lastBlocks = last === undefined ? [] : blocksOf(last['content']);
  const lastUserBlocks = lastBlocks.filter((block) => block.type === 'text').map((block) => block.text);
  const lastUserText = lastUserBlocks.join('\n');
  const firstUserText = blocksOf(userMessages[0]?.['content'])
    .filter((block) => block.type === 'text')
    .map((block) => block.text)
    .join('\n');
  const kind = kindOf(body, firstUserText);

  // The newest full excerpt: a later turn may carry only a delta or "unchanged", with the selection of now.
  let excerpt: Excerpt | undefined;
  for (let index = userMessages.length - 1; index >= 0 && excerpt === undefined; index--) {
    for (const block of blocksOf(userMessages[index]?.['content'])) {
      if (block.type !== 'text') continue;
      excerpt = parseExcerpt(block.text) ?? excerpt;
    }
  }
  if (excerpt !== undefined && parseExcerpt(lastUserText) === undefined) excerpt = withDeltaSelection(excerpt, lastUserText);

  // The agent's steps: assistant turns after the last user message that carried an instruction.
  let agentSteps = 0;
  let agentInstruction: string | undefined;
  for (let index = messages.length - 1; index >= 0 && agentInstruction === undefined; index--) {
    const message = messages[index] as Record<string, unknown>;
    if (message['role'] === 'assistant') agentSteps += 1;
    else agentInstruction = instructionIn(blocksOf(message['content']));
  }

  return {
    kind,
    maxTokens,
    lastUserText,
    lastUserBlocks,
    excerpt,
    userTurns: userMessages.length,
    toolResults: lastBlocks.filter((block) => block.type === 'tool_result').map((block) => block.result),
    toolErrors: lastBlocks.filter((block) => block.type === 'tool_result' && block.isError).map((block) => block.result),
    agentSteps,
    instruction: agentInstruction ?? requestedIn(lastUserBlocks),
    ...(kind === 'completion' ? { completion: completionParts(lastBlocks.map((block) => block.text).join('')) } : {}),
  };
}

const instructionLabel = 'Instruction: ';

/**
 * A do's instruction: the text block it opens (Anthropic keeps the blocks
 * apart), or the paragraph it opens in a text whose blocks a provider joined
 * with blank lines (Chat Completions and Ollama take one string per message).
 * It is the message's last part, so it runs to the end; the parts before it
 * (the excerpt, @-mentions) are numbered lines, so none of their paragraphs
 * opens with the label.
 */
function instructionIn(blocks: readonly Block[]): string | undefined {
  const texts = blocks.filter((block) => block.type === 'text').map((block) => block.text);
  const own = texts.find((text) => text.startsWith(instructionLabel));
  if (own !== undefined) return own.slice(instructionLabel.length);
  for (const text of texts) {
    const at = text.indexOf(`\n\n${instructionLabel}`);
    if (at >= 0) return text.slice(at + 2 + instructionLabel.length);
  }
  return undefined;
}

/** A chat's message is a block of its own after the document's; an action's request follows the excerpt after a blank line. */
function requestedIn(blocks: readonly string[]): string {
  if (blocks.length > 1) return (blocks[blocks.length - 1] ?? '').trim();
  const text = blocks[0] ?? '';
  if (parseExcerpt(text) === undefined) return text.trim();
  const parts = text.split('\n\n');
  return (parts[parts.length - 1] ?? '').trim();
}

/** What read_file or read_document showed of one file (see agent/workspace-tools.ts for the format). */
export interface ReadResult {
  path: string;
  /** As the header names it (an open document's); empty for a file read from disk. */
  language: string;
  totalLines: number;
  /** The lines shown, numbered from the header's first line; the only ones an edit may quote. */
  lines: ExcerptLine[];
  /** The read stopped before the end of the file (a length cut); later lines were not shown. */
  cut: boolean;
}

const readHeaderPattern = /^(.+?)(?: \(([\w.+#-]*)\))? - lines (\d+)-(\d+) of (\d+), (?:from disk|open in the editor|the editor's text)/;
const readRowPattern = /^ *(\d+)\| (.*)$/;

/** A read tool's result, if the text is one. */
export function parseReadResult(text: string): ReadResult | undefined {
  const rows = text.split('\n');
  const header = readHeaderPattern.exec(rows[0] ?? '');
  if (header === null) return undefined;
  const lines: ExcerptLine[] = [];
  let index = 1;
  for (; index < rows.length; index++) {
    const row = readRowPattern.exec(rows[index] as string);
    // An empty line reads as "N| " with nothing after the space, or without it when a tool trims.
    const bare = row === null ? /^ *(\d+)\|$/.exec(rows[index] as string) : null;
    if (row === null && bare === null) break;
    const rowText = row === null ? '' : (row[2] as string);
    lines.push({ number: Number((row ?? bare)?.[1]), text: rowText, selected: false, cut: cutMarker.test(rowText) });
  }
  const lastShown = lines[lines.length - 1]?.number ?? 0;
  return { path: header[1] as string, language: header[2] ?? '', totalLines: Number(header[5]), lines, cut: lastShown < Number(header[5]) };
}

/** The files a search_workspace result lists matches in, in the order it lists them. */
export function searchHitPaths(text: string): string[] {
  const paths: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^([^:\s][^:]*):(\d+): /.exec(line);
    if (match !== null && !paths.includes(match[1] as string)) paths.push(match[1] as string);
  }
  return paths;
}

/** The path a read_file refusal says does not exist. */
export function missingPath(text: string): string | undefined {
  return /^(\S.*?) does not exist in the workspace\./.exec(text)?.[1];
}
