/**
 * Turns what the model wrote into text that can be inserted at the cursor as
 * is. Models asked for raw insertion text still fence it, echo the line they
 * were given, repeat what already follows the cursor, or forget indentation;
 * each rule below undoes one of those habits, conservatively, because a wrong
 * cut is worse than an imperfect suggestion the user can ignore.
 */

export interface SuggestionContext {
  /** The cursor's line up to the cursor. */
  linePrefix: string;
  /** The cursor's line after the cursor. */
  suffixOnLine: string;
  /** The text after the cursor's line (a few lines are enough), to spot repeated lines. */
  followingText?: string;
  /** Leading whitespace of the cursor's line. */
  indent: string;
  /** Whether the document indents with tabs; inferred from `indent` when absent. */
  useTabs?: boolean;
  /** @default 4 */
  tabSize?: number;
  /** @default '\n' */
  eol?: '\n' | '\r\n';
}

export function cleanSuggestion(raw: string, ctx: SuggestionContext): string {
  let text = stripFences(raw.replace(/\r\n/g, '\n'));

  // An echo of the whole line typed so far (only a long, distinctive one: a short prefix could be a real repetition).
  if (ctx.linePrefix.trim().length >= 4) {
    if (text.startsWith(ctx.linePrefix)) text = text.slice(ctx.linePrefix.length);
    else if (text.startsWith(ctx.linePrefix.trimStart())) text = text.slice(ctx.linePrefix.trimStart().length);
  }
  // "x = " followed by " 1" would double the space.
  if (/[ \t]$/.test(ctx.linePrefix)) text = text.replace(/^[ \t]+/, '');

  let lines = text.split('\n').map((l) => l.replace(/[ \t]+$/, ''));
  while (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();

  // Mid-line, a multi-line insertion would split the user's line: keep the first line only.
  if (ctx.suffixOnLine.trim() !== '') lines = lines.slice(0, 1);

  lines = dropRepeatedFollowingLines(lines, ctx.followingText ?? '');
  lines = matchIndentation(lines, ctx);

  let result = lines.join('\n');
  result = removeSuffixOverlap(result, ctx.suffixOnLine);
  if (result.trim() === '') return '';
  // Whatever breaks the model wrote, the file's own: never a \r\r\n, never a style the file does not use.
  return result.replace(/\r\n|\r|\n/g, ctx.eol ?? '\n');
}

/** The body of a ```fenced``` reply; also a lone opening or closing fence. */
export function stripFences(text: string): string {
  const fenced = /^\s*```[^\n]*\n([\s\S]*?)\n?```\s*$/.exec(text);
  if (fenced) return fenced[1] ?? '';
  return text.replace(/^\s*```[\w+-]*[ \t]*\n/, '').replace(/\n```\s*$/, '');
}

/** The longest tail of `text` that the line after the cursor already starts with, when it is clearly a repeat. */
function removeSuffixOverlap(text: string, suffixOnLine: string): string {
  const suffix = suffixOnLine.replace(/\s+$/, '');
  if (suffix === '' || text.includes('\n')) return text;
  if (text.endsWith(suffix)) return text.slice(0, text.length - suffix.length);
  for (let n = Math.min(text.length, suffix.length); n > 0; n--) {
    const overlap = suffix.slice(0, n);
    // A one-letter overlap of identifiers ("x" + "x + 1") is a coincidence; brackets and long runs are not.
    if (text.endsWith(overlap) && (n >= 3 || !/\w/.test(overlap))) return text.slice(0, text.length - n);
  }
  return text;
}

/** Cuts the suggestion where its remaining lines are exactly the lines that already follow the cursor's line. */
function dropRepeatedFollowingLines(lines: string[], followingText: string): string[] {
  if (lines.length < 2 || followingText === '') return lines;
  const following = followingText.replace(/\r\n/g, '\n').split('\n').map((l) => l.replace(/[ \t]+$/, ''));
  if (following[0] === '' && followingText.startsWith('\n')) following.shift();
  for (let start = 1; start < lines.length; start++) {
    const tail = lines.slice(start);
    if (tail.every((l) => l.trim() === '')) continue;
    if (tail.every((l, i) => l === following[i])) return lines.slice(0, start);
  }
  return lines;
}

function indentWidth(whitespace: string, tabSize: number): number {
  let width = 0;
  for (const ch of whitespace) width += ch === '\t' ? tabSize : 1;
  return width;
}

function makeIndent(width: number, useTabs: boolean, tabSize: number): string {
  return useTabs ? '\t'.repeat(Math.floor(width / tabSize)) + ' '.repeat(width % tabSize) : ' '.repeat(width);
}

/**
 * Continuation lines in the document's indentation: the document's tabs or
 * spaces, and, when the model wrote the lines after a block opener at column 0
 * (it ignored where the cursor is), shifted to the cursor line's indentation.
 * A first continuation line at column 0 after an opener cannot be right; a
 * dedent after anything else may be (closing an outer block), so it is kept.
 */
function matchIndentation(lines: string[], ctx: SuggestionContext): string[] {
  if (lines.length < 2) return lines;
  const tabSize = ctx.tabSize ?? 4;
  const useTabs = ctx.useTabs ?? ctx.indent.includes('\t');
  const currentWidth = indentWidth(ctx.indent, tabSize);
  const first = lines[0] ?? '';
  const second = lines[1] ?? '';
  const opensBlock = /[{([:]\s*$/.test(ctx.linePrefix + first);
  const shift = currentWidth > 0 && opensBlock && second.trim() !== '' && /^\S/.test(second) ? currentWidth : 0;
  return lines.map((line, i) => {
    if (i === 0 || line.trim() === '') return i === 0 ? line : '';
    const lead = /^[ \t]*/.exec(line)?.[0] ?? '';
    return makeIndent(indentWidth(lead, tabSize) + shift, useTabs, tabSize) + line.slice(lead.length);
  });
}
