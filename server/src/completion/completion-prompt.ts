/**
 * What the fast model reads for one inline completion: the text before the
 * cursor (split so the prompt cache can serve it keystroke to keystroke), the
 * text after it, and a few lines from other recently edited documents.
 *
 * Cache layout (see prompts.ts for the general rule): the system text is a
 * constant; the first user block is the prefix up to the start of the cursor's
 * line, whose window start is snapped to a coarse line grid, so while the user
 * types on one line that block is byte-identical and marked as a breakpoint.
 * Everything that changes per keystroke (the cursor line, the suffix, the
 * snippets) comes after it.
 */
import type { MessageParam, TextBlockParam } from '@anthropic-ai/sdk/resources/messages/messages.js';
import type { Position } from 'vscode-languageserver-textdocument';
import type { TrackedDocument } from '../documents/tracked-document.js';

export const completionSystemPrompt = `You are a code completion engine inside the user's editor.

You receive a file split at the cursor: the text before the cursor inside <prefix>...</prefix> and the text after it inside
<suffix>...</suffix>, sometimes followed by <recent> excerpts of other files the user edited lately, for context only.

Reply with exactly the text to insert at the cursor, and nothing else: no explanation, no Markdown code fences, no repetition
of the text before or after the cursor. Match the file's indentation and style. Complete the current statement or line; continue
onto further lines only when the cursor is at the end of its line and the next lines are obvious. If nothing useful fits, reply with
an empty message.`;

/** Lines the prefix window's start snaps to, so it moves only every so many lines of cursor travel (a cache miss each time). */
export const prefixStartLineGrid = 16;

export interface RecentSnippet {
  path: string;
  languageId: string;
  /** A few whole lines around where that document was last edited. */
  text: string;
}

export interface CompletionPrompt {
  languageId: string;
  /** The document's name for the header: relative to the workspace (the uri itself if it is not a file uri). */
  path: string;
  /** The prefix window up to the start of the cursor's line: stable while typing on one line. */
  prefixHead: string;
  /** The cursor's line up to the cursor. */
  prefixLine: string;
  /** The text after the cursor, within the budget, ending at a line end when the budget allows. */
  suffix: string;
  recentSnippets: RecentSnippet[];
}

export interface PromptBudget {
  /** Characters before the cursor, at most. */
  prefixChars: number;
  /** Characters after the cursor, at most. */
  suffixChars: number;
}

export function buildCompletionPrompt(
  doc: TrackedDocument,
  position: Position,
  budget: PromptBudget,
  recentSnippets: readonly RecentSnippet[] = [],
  path: string = pathOfUri(doc.uri),
): CompletionPrompt {
  const text = doc.text;
  const cursor = doc.offsetAt(position);
  const cursorLineStart = doc.lineStartOffset(position.line);
  const prefixLine = text.slice(cursorLineStart, cursor);

  let headStart = 0;
  const earliest = cursor - Math.max(0, budget.prefixChars);
  if (earliest > 0) {
    // First whole line inside the budget, then up to the grid: the head never
    // starts mid-line, and its start survives many keystrokes and line moves.
    let line = doc.positionAt(earliest).line;
    if (doc.lineStartOffset(line) < earliest) line += 1;
    line = Math.ceil(line / prefixStartLineGrid) * prefixStartLineGrid;
    headStart = line >= position.line ? cursorLineStart : doc.lineStartOffset(line);
  }
  const prefixHead = text.slice(headStart, cursorLineStart);

  let suffix = text.slice(cursor, cursor + Math.max(0, budget.suffixChars));
  if (cursor + suffix.length < text.length) {
    // A half line at the end reads like the file ends there; drop it unless it is all we have.
    const lastBreak = suffix.lastIndexOf('\n');
    if (lastBreak > 0) suffix = suffix.slice(0, lastBreak + 1);
  }

  return { languageId: doc.languageId, path, prefixHead, prefixLine, suffix, recentSnippets: [...recentSnippets] };
}

export function pathOfUri(uri: string): string {
  if (!uri.startsWith('file://')) return uri;
  try {
    return decodeURIComponent(new URL(uri).pathname);
  } catch {
    return uri;
  }
}

/** The request parts for `ModelClient.call`: constant system blocks and one user message. */
export function completionRequestParts(prompt: CompletionPrompt, promptCaching: boolean): { system: TextBlockParam[]; messages: MessageParam[] } {
  const system: TextBlockParam[] = [
    promptCaching ? { type: 'text', text: completionSystemPrompt, cache_control: { type: 'ephemeral' } } : { type: 'text', text: completionSystemPrompt },
  ];
  const headText = `File: ${prompt.path} (${prompt.languageId})\n<prefix>\n${prompt.prefixHead}`;
  const head: TextBlockParam = promptCaching ? { type: 'text', text: headText, cache_control: { type: 'ephemeral' } } : { type: 'text', text: headText };
  const recent =
    prompt.recentSnippets.length === 0
      ? ''
      : `\n<recent>\n${prompt.recentSnippets.map((s) => `File: ${s.path} (${s.languageId})\n${s.text}`).join('\n---\n')}\n</recent>`;
  const tail: TextBlockParam = { type: 'text', text: `${prompt.prefixLine}</prefix>\n<suffix>${prompt.suffix}</suffix>${recent}` };
  return { system, messages: [{ role: 'user', content: [head, tail] }] };
}

/** The parts of a fill-in-the-middle request: the model's own template puts them around its FIM tokens. */
export interface FillInMiddleParts {
  prefix: string;
  suffix: string;
  stop: string[];
}

/**
 * The same text as the chat prompt, as a code model fills it in: the prefix
 * window and the suffix, within the same budgets (the recent snippets have no
 * place in a FIM template). Where generation stops: mid-line, at the end of
 * the line (only the first line of a suggestion there is kept anyway); at the
 * end of a line, at a blank line, where a block the model completes ends and
 * guessing what comes next begins.
 */
export function fillInMiddleParts(prompt: CompletionPrompt): FillInMiddleParts {
  const restOfLine = prompt.suffix.split('\n', 1)[0] ?? '';
  const midLine = restOfLine.trim() !== '';
  // A stop at the \n of a \r\n leaves a \r behind, which cleaning reads as the line break it was.
  return { prefix: prompt.prefixHead + prompt.prefixLine, suffix: prompt.suffix, stop: midLine ? ['\n'] : ['\n\n', '\r\n\r\n'] };
}
