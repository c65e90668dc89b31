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
  // A lone \r is a line break too: a completion stopped at the \n of a \r\n ends with one.
  let text = stripFences(raw.replace(/\r\n?/g, '\n'));

  // An echo of the whole line typed so far (only a long, distinctive one: a short prefix could be a real repetition).
  if (ctx.linePrefix.trim().length >= 4) {
    if (text.startsWith(ctx.linePrefix)) text = text.slice(ctx.linePrefix.length);
    else if (text.startsWith(ctx.linePrefix.trimStart())) text = text.slice(ctx.linePrefix.trimStart().length);
  }
  // "x = " followed by " 1" would double the space.
  if (/[ \t]$/.test(ctx.linePrefix)) text = text.replace(/^[ \t]+/, '');

  // Trailing whitespace and blank lines at the end are noise; a reply of nothing else leaves no line at all.
  let lines = text.split('\n').map((l) => l.replace(/[ \t]+$/, ''));
  while (lines[lines.length - 1] === '') lines.pop();

  // Mid-line, a multi-line insertion would split the user's line: keep the first line only.
  if (ctx.suffixOnLine.trim() !== '') lines = lines.slice(0, 1);

  lines = dropRepeatedFollowingLines(lines, ctx.followingText);
  lines = matchIndentation(lines, ctx);

  const result = removeSuffixOverlap(lines.join('\n'), ctx.suffixOnLine);
  // Cutting the overlap may leave only spaces (" )" before ")"): nothing worth showing.
  if (result.trim() === '') return '';
  // Whatever breaks the model wrote, the file's own: never a \r\r\n, never a style the file does not use.
  return result.replace(/\r\n|\r|\n/g, ctx.eol ?? '\n');
}

/** The body of a ```fenced``` reply; also a lone opening or closing fence. */
export function stripFences(text: string): string {
  const body = /^\s*```[^\n]*\n([\s\S]*?)\n?```\s*$/.exec(text)?.[1];
  if (body !== undefined) return body;
  return text.replace(/^\s*```[\w+-]*[ \t]*\n/, '').replace(/\n```\s*$/, '');
}

/**
 * The longest tail of `text` that the line after the cursor already starts
 * with, when it is clearly a repeat. `text` has one line whenever there is
 * text after the cursor (a mid-line suggestion keeps only its first).
 */
function removeSuffixOverlap(text: string, suffixOnLine: string): string {
  const suffix = suffixOnLine.replace(/\s+$/, '');
  // The whole rest of the line, however short, is a repeat (an empty rest of the line cuts nothing).
  if (text.endsWith(suffix)) return text.slice(0, text.length - suffix.length);
  // Stryker disable next-line MethodExpression,EqualityOperator: equivalent, a longer overlap is the whole suffix (handled above) and an empty one cuts nothing
  for (let n = Math.min(text.length, suffix.length); n > 0; n--) {
    const overlap = suffix.slice(0, n);
    // A one-letter overlap of identifiers ("x" + "x + 1") is a coincidence; brackets and long runs are not.
    if (text.endsWith(overlap) && (n >= 3 || !/\w/.test(overlap))) return text.slice(0, text.length - n);
  }
  return text;
}

/**
 * Cuts the suggestion where its remaining lines are exactly the lines that
 * already follow the cursor's line, a blank line right after it aside.
 * Unknown following text cuts nothing.
 */
function dropRepeatedFollowingLines(lines: string[], followingText: string | undefined): string[] {
  if (followingText === undefined) return lines;
  const following = followingText.replace(/\r\n/g, '\n').split('\n').map((l) => l.replace(/[ \t]+$/, ''));
  if (following[0] === '') following.shift();
  // Every tail ends in a line with text (blank lines at the end are gone), so a match is never of blank lines only.
  // Stryker disable next-line EqualityOperator: equivalent, the empty tail past the end matches and cuts nothing
  for (let start = 1; start < lines.length; start++) {
    if (lines.slice(start).every((l, i) => l === following[i])) return lines.slice(0, start);
  }
  return lines;
}

/** The spaces and tabs a line starts with. */
export function indentationOf(line: string): string {
  return line.slice(0, line.length - line.replace(/^[ \t]+/, '').length);
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
  // Stryker disable next-line ConditionalExpression: equivalent, the map below leaves a lone first line as it is
  if (lines.length < 2) return lines;
  const first = lines[0] as string;
  const second = lines[1] as string;
  const tabSize = ctx.tabSize ?? 4;
  const useTabs = ctx.useTabs ?? ctx.indent.includes('\t');
  const opensBlock = /[{([:]\s*$/.test(ctx.linePrefix + first);
  const shift = opensBlock && /^\S/.test(second) ? indentWidth(ctx.indent, tabSize) : 0;
  return lines.map((line, i) => {
    if (i === 0) return line;
    // A blank line stays empty (one of other white space, such as no-break spaces, too).
    if (line.trim() === '') return '';
    const lead = indentationOf(line);
    return makeIndent(indentWidth(lead, tabSize) + shift, useTabs, tabSize) + line.slice(lead.length);
  });
}
