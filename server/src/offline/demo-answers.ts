/**
 * The offline demo model's answers: what it says to each request efrit-lsp
 * makes, built from the request alone. An action gets a real `propose_edits`
 * call quoting lines of the excerpt it was shown (so the server's own edit
 * matching, rebasing and applying run on it), Explain and chat get text about
 * the code actually selected, the do agent gets a two-step run that searches
 * the workspace and then edits or answers (or, told to rename a function, a
 * three-step run that searches, reads every file using it and changes them
 * all at once, see demo-rename.ts), inline completion closes open
 * brackets. Every text starts with `offlineLabel` and every edit summary says
 * where it came from, so nobody mistakes the demo for Claude.
 */
import {
  describeParam,
  familyOf,
  functionAtSelection,
  lineAt,
  lineCommentOf,
  returnsSomething,
  sampleArgument,
  startsWithVerb,
  summaryFromName,
  wordsOf,
  type FunctionShape,
  type LanguageFamily,
} from './code-shapes.js';
import { renameRequested, renameStep, type RenameRequest } from './demo-rename.js';
import { readDemoRequest, type DemoDiagnostic, type DemoRequest, type Excerpt } from './demo-request.js';

export { offlineModelName } from './offline-mode.js';
export const offlineLabel = '[offline demo model]';

export interface DemoToolUse {
  name: string;
  input: unknown;
}

export interface DemoAnswer {
  text?: string;
  /** Tool calls after the text; several run together in one step of the do agent. */
  toolUses?: DemoToolUse[];
}

interface RawEdit {
  old_text: string;
  new_text: string;
}

interface EditPlan {
  summary: string;
  edits: RawEdit[];
}

// ---------------------------------------------------------------------------
// Quoting lines so the edit matches exactly once

function excerptText(excerpt: Excerpt): string {
  return excerpt.lines.map((line) => line.text).join('\n');
}

function occursOnce(haystack: string, needle: string): boolean {
  const first = haystack.indexOf(needle);
  return first >= 0 && haystack.indexOf(needle, first + 1) < 0;
}

/**
 * Replaces excerpt lines `first`..`last` with `replacement`, quoting as few
 * lines around them as make the quote occur once in the excerpt (the server
 * refuses an ambiguous quote). Cut lines cannot be quoted.
 */
export function replaceLines(excerpt: Excerpt, first: number, last: number, replacement: readonly string[]): RawEdit | undefined {
  const quotable = (number: number): boolean => {
    const line = lineAt(excerpt, number);
    return line !== undefined && !line.cut;
  };
  for (let number = first; number <= last; number++) if (!quotable(number)) return undefined;
  const whole = excerptText(excerpt);
  const textOf = (from: number, to: number): string[] => {
    const out: string[] = [];
    for (let number = from; number <= to; number++) out.push(lineAt(excerpt, number)?.text ?? '');
    return out;
  };
  let from = first;
  let to = last;
  for (;;) {
    const quote = textOf(from, to).join('\n');
    if (quote.trim() !== '' && occursOnce(whole, quote)) {
      return { old_text: quote, new_text: [...textOf(from, first - 1), ...replacement, ...textOf(last + 1, to)].join('\n') };
    }
    // Grow towards the side that still has lines, below first (a definition's next lines are the most telling).
    if (quotable(to + 1)) to += 1;
    else if (quotable(from - 1)) from -= 1;
    else return undefined;
  }
}

function insertBefore(excerpt: Excerpt, line: number, lines: readonly string[]): RawEdit | undefined {
  return replaceLines(excerpt, line, line, [...lines, lineAt(excerpt, line)?.text ?? '']);
}

function insertAfter(excerpt: Excerpt, line: number, lines: readonly string[]): RawEdit | undefined {
  return replaceLines(excerpt, line, line, [lineAt(excerpt, line)?.text ?? '', ...lines]);
}

/** Deletes a whole line, its line break included, by quoting a neighbour with it. */
function deleteLine(excerpt: Excerpt, line: number): RawEdit | undefined {
  const next = lineAt(excerpt, line + 1);
  if (next !== undefined && !next.cut) return replaceLines(excerpt, line, line + 1, [next.text]);
  const previous = lineAt(excerpt, line - 1);
  if (previous !== undefined && !previous.cut) return replaceLines(excerpt, line - 1, line, [previous.text]);
  return undefined;
}

function indentOf(text: string): string {
  return /^\s*/.exec(text)?.[0] ?? '';
}

function selectedLineNumbers(excerpt: Excerpt): { first: number; last: number } {
  const selected = excerpt.lines.filter((line) => line.selected);
  const first = selected[0]?.number ?? excerpt.selection.startLine;
  return { first, last: selected[selected.length - 1]?.number ?? first };
}

/** A comment line above `line`, the fallback when the demo knows no better edit. */
function commentAbove(excerpt: Excerpt, line: number, text: string): RawEdit | undefined {
  const target = lineAt(excerpt, line);
  if (target === undefined) return undefined;
  return insertBefore(excerpt, line, [`${indentOf(target.text)}${lineCommentOf(excerpt.language)} ${text}`]);
}

function plan(summary: string, edit: RawEdit | undefined): EditPlan | undefined {
  return edit === undefined ? undefined : { summary, edits: [edit] };
}

// ---------------------------------------------------------------------------
// Document

function imperative(sentence: string): string {
  return sentence.replace(/^(\w+)/, (verb) => (verb.endsWith('ies') ? `${verb.slice(0, -3)}y` : /(ch|sh|x|ss)es$/.test(verb) ? verb.slice(0, -2) : verb.replace(/s$/, '')));
}

function returnPhrase(shape: FunctionShape): string {
  const [first = '', ...rest] = wordsOf(shape.name);
  if (['is', 'has', 'can', 'should'].includes(first)) return 'true when it does, false otherwise';
  if (!startsWithVerb(shape.name)) return `the ${[first, ...rest].join(' ')}`;
  return rest.length > 0 ? `the ${rest.join(' ')}` : 'the result';
}

function docLines(excerpt: Excerpt, shape: FunctionShape): { lines: string[]; after: boolean } {
  const family = familyOf(excerpt.language);
  const summary = summaryFromName(shape.name, shape.isClass);
  const returns = !shape.isClass && returnsSomething(excerpt, shape);
  const indent = shape.indent;
  const javaStyle = ['java', 'kotlin', 'c', 'cpp', 'csharp', 'php', 'scala', 'swift', 'dart'].includes(excerpt.language.toLowerCase());
  switch (family) {
    case 'c-like':
      return {
        after: false,
        lines: [
          `${indent}/**`,
          `${indent} * ${summary}`,
          ...(shape.params.length > 0 || returns ? [`${indent} *`] : []),
          ...shape.params.map((param) => `${indent} * @param ${param.name}${javaStyle ? ' ' : ' - '}${describeParam(param)}`),
          ...(returns ? [`${indent} * ${javaStyle ? '@return' : '@returns'} ${returnPhrase(shape)}`] : []),
          `${indent} */`,
        ],
      };
    case 'python': {
      const body = lineAt(excerpt, shape.headerEndLine + 1)?.text ?? '';
      const inner = body.trim() !== '' && indentOf(body).length > indent.length ? indentOf(body) : `${indent}    `;
      const args = shape.params.length === 0 ? [] : ['', `${inner}Args:`, ...shape.params.map((param) => `${inner}    ${param.name}: ${capitalized(describeParam(param))}.`)];
      const result = returns ? ['', `${inner}Returns:`, `${inner}    ${capitalized(returnPhrase(shape))}.`] : [];
      const lines = args.length + result.length === 0 ? [`${inner}"""${summary}"""`] : [`${inner}"""${summary}`, ...args, ...result, `${inner}"""`];
      return { after: true, lines };
    }
    case 'go':
      return { after: false, lines: [`${indent}// ${shape.name} ${summary.charAt(0).toLowerCase()}${summary.slice(1)}`] };
    case 'rust':
      return {
        after: false,
        lines: [
          `${indent}/// ${summary}`,
          ...(shape.params.length > 0 ? [`${indent}///`, `${indent}/// # Arguments`, `${indent}///`, ...shape.params.map((param) => `${indent}/// * \`${param.name}\` - ${describeParam(param)}`)] : []),
        ],
      };
    case 'lua':
      return {
        after: false,
        lines: [`${indent}--- ${summary}`, ...shape.params.map((param) => `${indent}-- @param ${param.name} ${describeParam(param)}`), ...(returns ? [`${indent}-- @return ${returnPhrase(shape)}`] : [])],
      };
    case 'lisp': {
      const args = shape.params.map((param) => param.name.toUpperCase());
      const mention = args.length === 0 ? '' : ` from ${args.join(' and ')}`;
      return { after: true, lines: [`${indent}  "${imperative(summary).replace(/\.$/, '')}${mention}."`] };
    }
    default: {
      const comment = lineCommentOf(excerpt.language);
      return { after: false, lines: [`${indent}${comment} ${summary}`, ...shape.params.map((param) => `${indent}${comment} ${param.name}: ${describeParam(param)}`)] };
    }
  }
}

function capitalized(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
}

export function documentEdit(excerpt: Excerpt): EditPlan | undefined {
  const shape = functionAtSelection(excerpt);
  if (shape === undefined) {
    const { first } = selectedLineNumbers(excerpt);
    const name = declaredName(lineAt(excerpt, first)?.text ?? '');
    return plan(`documented line ${first}`, commentAbove(excerpt, first, name === undefined ? 'What the next lines do.' : `The ${wordsOf(name).join(' ')}.`));
  }
  const doc = docLines(excerpt, shape);
  const edit = doc.after ? insertAfter(excerpt, shape.headerEndLine, doc.lines) : insertBefore(excerpt, shape.line, doc.lines);
  return plan(`added a doc comment to \`${shape.name}\` (line ${shape.line}).`, edit);
}

const declarationWords = new Set(['const', 'let', 'var', 'val', 'local', 'export', 'static', 'final', 'public', 'private', 'protected', 'readonly', 'mut', 'pub', 'def', 'defvar', 'defconst', 'return', 'await', 'new', 'import', 'from']);

/** The name a line declares or starts with, keywords skipped. */
function declaredName(text: string): string | undefined {
  for (const match of text.slice(0, 400).matchAll(/[A-Za-z_$][\w$]*/g)) if (!declarationWords.has(match[0])) return match[0];
  return undefined;
}

// ---------------------------------------------------------------------------
// Write tests

function callOf(shape: FunctionShape, family: LanguageFamily): string {
  const args = shape.params.map((param) => sampleArgument(param, family));
  if (family === 'lisp') return `(${shape.name}${args.map((arg) => ` ${arg}`).join('')})`;
  return `${shape.name}(${args.join(', ')})`;
}

function testLines(excerpt: Excerpt, shape: FunctionShape): string[] | undefined {
  const family = familyOf(excerpt.language);
  const call = callOf(shape, family);
  const snake = wordsOf(shape.name).join('_') || 'subject';
  const indent = shape.indent;
  switch (family) {
    case 'c-like': {
      if (!['typescript', 'typescriptreact', 'javascript', 'javascriptreact'].includes(excerpt.language.toLowerCase())) return undefined;
      const usesVitest = excerptText(excerpt).includes("from 'vitest'");
      return [
        '',
        ...(usesVitest ? [] : ["import { describe, expect, it } from 'vitest';", '']),
        `${indent}describe('${shape.name}', () => {`,
        `${indent}  it('gives the same answer for the same input', () => {`,
        `${indent}    expect(${call}).toEqual(${call});`,
        `${indent}  });`,
        '',
        `${indent}  it('accepts empty input without throwing', () => {`,
        `${indent}    expect(() => ${call}).not.toThrow();`,
        `${indent}  });`,
        `${indent}});`,
      ];
    }
    case 'python':
      return [
        '',
        '',
        `${indent}def test_${snake}_gives_the_same_answer_for_the_same_input():`,
        `${indent}    assert ${call} == ${call}`,
        '',
        '',
        `${indent}def test_${snake}_accepts_empty_input():`,
        `${indent}    ${call}`,
      ];
    case 'go':
      return [
        '',
        `func Test${shape.name.charAt(0).toUpperCase()}${shape.name.slice(1)}(t *testing.T) {`,
        `\tfirst := ${call}`,
        `\tif again := ${call}; again != first {`,
        `\t\tt.Errorf("${shape.name} gave %v, then %v for the same input", first, again)`,
        '\t}',
        '}',
      ];
    case 'rust':
      return ['', '#[cfg(test)]', 'mod tests {', '    use super::*;', '', '    #[test]', `    fn ${snake}_gives_the_same_answer_for_the_same_input() {`, `        assert_eq!(${call}, ${call});`, '    }', '}'];
    case 'lua':
      return ['', `describe("${shape.name}", function()`, '  it("gives the same answer for the same input", function()', `    assert.are.same(${call}, ${call})`, '  end)', 'end)'];
    case 'lisp':
      return ['', `(ert-deftest ${shape.name}-gives-the-same-answer ()`, `  (should (equal ${call} ${call})))`];
    default:
      return undefined;
  }
}

export function testsEdit(excerpt: Excerpt): EditPlan | undefined {
  const shape = functionAtSelection(excerpt);
  const { first, last } = selectedLineNumbers(excerpt);
  if (shape === undefined) return plan(`noted where tests for lines ${first}-${last} would go`, commentAbove(excerpt, first, 'Offline demo model: no function found here to write tests for.'));
  const lines = testLines(excerpt, shape);
  const after = Math.max(shape.endLine, last);
  if (lines === undefined) {
    return plan(`noted the tests \`${shape.name}\` needs`, insertAfter(excerpt, after, ['', `${lineCommentOf(excerpt.language)} Tests for ${shape.name}: the same input gives the same answer; empty input is accepted.`]));
  }
  return plan(`added tests for \`${shape.name}\` after line ${after}.`, insertAfter(excerpt, after, lines));
}

// ---------------------------------------------------------------------------
// Fix

const suggestionPattern = /[Dd]id you mean[: ]+['"`]?([\w$.]+)['"`]?\??/;
const wrongNamePatterns = [
  /(?:name|property|identifier|variable|function|attribute|member|symbol|value) ['"`]([\w$.]+)['"`]/,
  /['"`]([\w$.]+)['"`] is not defined/,
  /undefined (?:name|variable|function)[: ]+['"`]?([\w$.]+)/,
  /cannot find (?:value|function) `([\w$]+)`/,
];
const undefinedPattern = /cannot find name|undefined name|is not defined|not found in this scope|undeclared|undefined variable|unresolved reference|has no attribute|does not exist/i;
const unusedPattern = /imported but unused|is declared but its value is never read|is defined but never used|unused import|never used|not used/i;

interface FixTarget {
  line: number;
  column: number;
  message: string;
}

/** The diagnostic the action names (its first "line N: message" line), matched to the excerpt's list for its column. */
function fixTarget(excerpt: Excerpt, requestText: string): FixTarget | undefined {
  const named = /^line (\d+): (.*)$/m.exec(requestText);
  if (named !== null) {
    const line = Number(named[1]);
    const message = (named[2] as string).replace(/ \([^()]*\)$/, '');
    const listed = excerpt.diagnostics.find((diagnostic: DemoDiagnostic) => diagnostic.line === line && message.startsWith(diagnostic.message.slice(0, 40)));
    return { line, column: listed?.column ?? 1, message };
  }
  const { first, last } = selectedLineNumbers(excerpt);
  const listed = excerpt.diagnostics.find((diagnostic) => diagnostic.line >= first && diagnostic.line <= last) ?? excerpt.diagnostics[0];
  return listed === undefined ? undefined : { line: listed.line, column: listed.column, message: listed.message };
}

function replaceWord(text: string, word: string, replacement: string): string | undefined {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`(^|[^\\w$])${escaped}(?![\\w$])`);
  const match = pattern.exec(text);
  if (match === null) return undefined;
  const at = match.index + (match[1] as string).length;
  return `${text.slice(0, at)}${replacement}${text.slice(at + word.length)}`;
}

function identifierAt(text: string, column: number): string | undefined {
  const at = Math.max(0, column - 1);
  for (const match of text.matchAll(/[A-Za-z_$][\w$]*/g)) {
    if (match.index <= at && at < match.index + match[0].length) return match[0];
    if (match.index > at) return match[0];
  }
  return undefined;
}

/** Edit distance, giving up (Infinity) past `limit`. */
function distance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return Number.POSITIVE_INFINITY;
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const value = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      current.push(value);
      best = Math.min(best, value);
    }
    if (best > limit) return Number.POSITIVE_INFINITY;
    previous = current;
  }
  return previous[b.length] as number;
}

/** Most names looked at for a near miss: enough for any excerpt a person reads, a bound for one that is not. */
const maxCandidateNames = 4000;

function nearestName(excerpt: Excerpt, wrong: string): string | undefined {
  const limit = Math.max(1, Math.floor(wrong.length / 3));
  const seen = new Set<string>();
  let best: { name: string; cost: number } | undefined;
  for (const line of excerpt.lines) {
    if (line.cut) continue;
    for (const match of line.text.matchAll(/[A-Za-z_$][\w$]*/g)) {
      const name = match[0];
      if (name === wrong || seen.has(name)) continue;
      seen.add(name);
      if (seen.size > maxCandidateNames) return best?.name;
      const cost = distance(name.toLowerCase(), wrong.toLowerCase(), limit);
      if (cost <= limit && (best === undefined || cost < best.cost)) best = { name, cost };
    }
  }
  return best?.name;
}

function removeImport(excerpt: Excerpt, line: number, name: string): RawEdit | undefined {
  const text = lineAt(excerpt, line)?.text ?? '';
  const braces = /^(\s*import\s+(?:type\s+)?\{)([^}]*)(\}.*)$/.exec(text);
  const fromImport = /^(\s*from\s+\S+\s+import\s+)(.*)$/.exec(text);
  const list = braces ?? fromImport;
  if (list !== null) {
    const names = (list[2] as string).split(',').map((part) => part.trim()).filter((part) => part !== '');
    const kept = names.filter((part) => part !== name && !part.startsWith(`${name} as `) && !part.endsWith(` as ${name}`));
    if (kept.length === names.length) return undefined;
    if (kept.length === 0) return deleteLine(excerpt, line);
    const rebuilt = braces !== null ? `${braces[1]} ${kept.join(', ')} ${braces[3]}` : `${fromImport?.[1] ?? ''}${kept.join(', ')}`;
    return replaceLines(excerpt, line, line, [rebuilt]);
  }
  if (/^\s*(import|using|use|require|#include)\b/.test(text) && new RegExp(`\\b${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`).test(text)) return deleteLine(excerpt, line);
  return undefined;
}

export function fixEdit(excerpt: Excerpt, requestText: string): EditPlan | undefined {
  const target = fixTarget(excerpt, requestText);
  if (target === undefined) {
    const { first } = selectedLineNumbers(excerpt);
    return plan('marked the selected code for a look (no diagnostic was given)', commentAbove(excerpt, first, 'FIXME: check this line (offline demo model: no diagnostic was given to fix).'));
  }
  const line = lineAt(excerpt, target.line);
  if (line === undefined || line.cut) return undefined;
  const message = target.message;
  const wrong = wrongNamePatterns.map((pattern) => pattern.exec(message)?.[1]).find((name) => name !== undefined) ?? identifierAt(line.text, target.column);

  const suggested = suggestionPattern.exec(message)?.[1];
  const replacement = suggested ?? (wrong !== undefined && undefinedPattern.test(message) ? nearestName(excerpt, wrong) : undefined);
  if (wrong !== undefined && replacement !== undefined) {
    const fixed = replaceWord(line.text, wrong.split('.').pop() ?? wrong, replacement.split('.').pop() ?? replacement);
    if (fixed !== undefined) return plan(`line ${target.line}: \`${wrong}\` is not defined here; used \`${replacement}\`.`, replaceLines(excerpt, target.line, target.line, [fixed]));
  }
  if (wrong !== undefined && unusedPattern.test(message)) {
    const removed = removeImport(excerpt, target.line, wrong.split('.').pop() ?? wrong);
    if (removed !== undefined) return plan(`line ${target.line}: removed the unused import \`${wrong}\`.`, removed);
  }
  if (/';' expected|missing semicolon/i.test(message) && !line.text.trimEnd().endsWith(';')) {
    return plan(`line ${target.line}: added the missing semicolon.`, replaceLines(excerpt, target.line, target.line, [`${line.text.trimEnd()};`]));
  }
  if (/expected ':'/i.test(message) && !line.text.trimEnd().endsWith(':')) {
    return plan(`line ${target.line}: added the missing colon.`, replaceLines(excerpt, target.line, target.line, [`${line.text.trimEnd()}:`]));
  }
  return plan(
    `line ${target.line}: marked "${message.slice(0, 80)}" for a fix the demo model does not know how to make.`,
    commentAbove(excerpt, target.line, `FIXME: ${message.slice(0, 200)} (offline demo model: a real model would change the line below)`),
  );
}

// ---------------------------------------------------------------------------
// Rewrite

/** `x = x + y` → `x += y`, only where no other operator in `y` could bind differently. */
function compoundAssignment(text: string, family: LanguageFamily): string | undefined {
  if (family === 'lua' || family === 'lisp' || family === 'shell' || text.length > 400) return undefined;
  const match = /^(\s*)([\w$.[\]]+) = ([\w$.[\]]+) ([-+*/]) ([^;]+)(;?)\s*$/.exec(text);
  if (match === null || match[2] !== match[3]) return undefined;
  const operator = match[4] as string;
  const rest = match[5] as string;
  const forbidden: Record<string, RegExp> = { '+': /[?&|<>=,]/, '*': /[-+?&|<>=,]/, '-': /[-+?&|<>=,]/, '/': /[-+*/?&|<>=,]/ };
  if ((forbidden[operator] as RegExp).test(rest)) return undefined;
  return `${match[1] ?? ''}${match[2] ?? ''} ${operator}= ${rest.trim()}${match[6] ?? ''}`;
}

function simplifiedLine(text: string, family: LanguageFamily): string {
  let out = text.trimEnd();
  out = compoundAssignment(out, family) ?? out;
  if (family === 'c-like' && out.length <= 400) out = out.replace(/!\(([\w$.]+) (===?) ([\w$.'"]+)\)/g, (_all, left: string, equals: string, right: string) => `${left} ${equals === '===' ? '!==' : '!='} ${right}`);
  if (family === 'python' && out.length <= 400) out = out.replace(/ == None\b/g, ' is None').replace(/ != None\b/g, ' is not None');
  return out;
}

export function rewriteEdit(excerpt: Excerpt, instruction: string): EditPlan | undefined {
  const family = familyOf(excerpt.language);
  let { first, last } = selectedLineNumbers(excerpt);
  const shape = functionAtSelection(excerpt);
  if (first === last && shape !== undefined) {
    first = shape.line;
    last = shape.endLine;
  }
  const original: string[] = [];
  for (let number = first; number <= last; number++) {
    const line = lineAt(excerpt, number);
    if (line === undefined || line.cut) return undefined;
    original.push(line.text);
  }
  const rename = /rename\s+[`'"]?([\w$]+)[`'"]?\s+(?:to|as|into|->)\s+[`'"]?([\w$]+)/i.exec(instruction);
  let rewritten: string[];
  let summary: string;
  if (rename !== null) {
    const [, from = '', to = ''] = rename;
    const pattern = new RegExp(`(?<![\\w$])${from.replace(/[$]/g, '\\$')}(?![\\w$])`, 'g');
    rewritten = original.map((text) => text.replace(pattern, to));
    summary = `renamed \`${from}\` to \`${to}\` in lines ${first}-${last}.`;
  } else {
    rewritten = original.map((text) => simplifiedLine(text, family));
    summary = `simplified lines ${first}-${last} (compound assignments, plainer comparisons), keeping what they do.`;
  }
  if (rewritten.every((text, index) => text === original[index])) {
    return plan(
      `left lines ${first}-${last} as they are: "${instruction.slice(0, 80)}" needs the real model.`,
      commentAbove(excerpt, first, `Offline demo model: "${instruction.slice(0, 120)}" needs the real model; nothing here it knows how to change.`),
    );
  }
  return plan(summary, replaceLines(excerpt, first, last, rewritten));
}

// ---------------------------------------------------------------------------
// Explain and chat

function quoted(text: string): string {
  const trimmed = text.trim();
  return `\`${trimmed.length > 80 ? `${trimmed.slice(0, 80)}…` : trimmed}\``;
}

/** What the selection (or the function around it) holds, as a few sentences that name its lines. */
function describeSelection(excerpt: Excerpt): string[] {
  const shape = functionAtSelection(excerpt);
  const selected = selectedLineNumbers(excerpt);
  const first = shape !== undefined && selected.first === selected.last ? shape.line : selected.first;
  const last = shape !== undefined && selected.first === selected.last ? shape.endLine : selected.last;
  const lines = excerpt.lines.filter((line) => line.number >= first && line.number <= last && !line.cut);
  const facts: string[] = [];
  if (shape !== undefined) {
    const params = shape.params.map((param) => `\`${param.name}\``);
    facts.push(
      `Lines ${first}-${last} of \`${excerpt.path}\` (${excerpt.language}) ${shape.isClass ? 'define' : 'are'} \`${shape.name}\`${shape.isClass ? '' : params.length > 0 ? `, taking ${params.join(', ')}` : ', taking nothing'}: ${summaryFromName(shape.name, shape.isClass).replace(/\.$/, '').toLowerCase()}, going by its name.`,
    );
  } else {
    facts.push(`Lines ${first}-${last} of \`${excerpt.path}\` are ${lines.length} line${lines.length === 1 ? '' : 's'} of ${excerpt.language}.`);
  }
  const loops = lines.filter((line) => /^\s*(for|while|do)\b|\.(forEach|map|reduce|filter)\(/.test(line.text.slice(0, 400)));
  if (loops[0] !== undefined) facts.push(`It loops at line ${loops[0].number}: ${quoted(loops[0].text)}.`);
  const branches = lines.filter((line) => /^\s*(if|elif|else if|switch|match|case|when|unless)\b/.test(line.text.slice(0, 400)));
  if (branches[0] !== undefined) facts.push(`It branches at line ${branches[0].number}: ${quoted(branches[0].text)}.`);
  const calls = new Set<string>();
  for (const line of lines) for (const match of line.text.slice(0, 400).matchAll(/([A-Za-z_$][\w$]*)\s*\(/g)) if (match[1] !== shape?.name && !['if', 'for', 'while', 'switch', 'return', 'function', 'catch'].includes(match[1] as string)) calls.add(match[1] as string);
  if (calls.size > 0) facts.push(`It calls ${[...calls].slice(0, 5).map((name) => `\`${name}\``).join(', ')}.`);
  const returns = lines.filter((line) => /\breturn\b/.test(line.text.slice(0, 400)));
  const lastReturn = returns[returns.length - 1];
  if (lastReturn !== undefined) facts.push(`It returns at line ${lastReturn.number}: ${quoted(lastReturn.text)}.`);
  const diagnostics = excerpt.diagnostics.filter((diagnostic) => diagnostic.line >= first && diagnostic.line <= last);
  for (const diagnostic of diagnostics.slice(0, 3)) facts.push(`The editor reports a ${diagnostic.severity} at line ${diagnostic.line}: ${diagnostic.message}`);
  return facts;
}

const disclaimer = 'It reads the code\'s shape, not its meaning: run efrit-lsp without --offline, with ANTHROPIC_API_KEY set, for real answers.';

export function explanation(excerpt: Excerpt | undefined): string {
  if (excerpt === undefined) return `${offlineLabel} There is no code in this request to explain. ${disclaimer}`;
  return `${offlineLabel} ${describeSelection(excerpt).join(' ')}\n\n(This explanation comes from the offline demo model built into efrit-lsp. ${disclaimer})`;
}

export function chatReply(request: DemoRequest): string {
  const question = request.instruction.replace(/\s+/g, ' ').slice(0, 120);
  const seen = request.excerpt === undefined ? 'No code came with this message.' : `Here is what I can see: ${describeSelection(request.excerpt).join(' ')}`;
  const turn = request.userTurns > 1 ? ` This is turn ${request.userTurns} of our conversation; the earlier turns are in my context.` : '';
  return `${offlineLabel} You asked: "${question}". I am the demo model built into efrit-lsp, so I cannot really answer.${turn} ${seen}\n\n${disclaimer}`;
}

// ---------------------------------------------------------------------------
// The do agent, inline completion, and the dispatch

type EditIntent = 'document' | 'tests' | 'fix' | 'rewrite';

function intentOf(instruction: string): EditIntent | undefined {
  if (/\b(doc|docs|document|documentation|docstring|comment)/i.test(instruction)) return 'document';
  if (/\btests?\b|\bspec\b/i.test(instruction)) return 'tests';
  if (/\b(fix|repair|diagnostic|error|bug)/i.test(instruction)) return 'fix';
  if (/\b(rename|rewrite|simplify|clean|refactor|tidy)/i.test(instruction)) return 'rewrite';
  return undefined;
}

function editFor(intent: EditIntent, excerpt: Excerpt, request: DemoRequest): EditPlan | undefined {
  switch (intent) {
    case 'document':
      return documentEdit(excerpt);
    case 'tests':
      return testsEdit(excerpt);
    case 'fix':
      return fixEdit(excerpt, request.lastUserText);
    case 'rewrite':
      return rewriteEdit(excerpt, request.instruction.replace(/^Rewrite the selected code:\s*/, ''));
  }
}

function actionIntent(request: DemoRequest): EditIntent {
  const asked = request.instruction;
  if (asked.startsWith('Fix ')) return 'fix';
  if (asked.startsWith('Add documentation')) return 'document';
  if (asked.startsWith('Write unit tests')) return 'tests';
  if (asked.startsWith('Rewrite the selected code')) return 'rewrite';
  return intentOf(asked) ?? 'rewrite';
}

function proposal(edit: EditPlan | undefined): DemoToolUse {
  if (edit === undefined) return { name: 'propose_edits', input: { summary: `Offline demo model: found nothing here it can change.`, edits: [] } };
  return { name: 'propose_edits', input: { summary: `Offline demo model: ${edit.summary}`, edits: edit.edits } };
}

function searchSummary(results: readonly string[]): string {
  const text = results.join('\n');
  const hits = text.split('\n').filter((line) => /^[^:\s][^:]*:\d+: /.test(line));
  const files = new Set(hits.map((line) => line.slice(0, line.indexOf(':'))));
  if (hits.length === 0) return 'The search found no other uses.';
  return `The search found ${hits.length} line${hits.length === 1 ? '' : 's'} in ${files.size} file${files.size === 1 ? '' : 's'} (${[...files].slice(0, 3).join(', ')}).`;
}

/** A rename across files (see demo-rename.ts); words when its steps are done or a proposal came back refused. */
function renameAgentStep(request: DemoRequest, rename: RenameRequest): DemoAnswer {
  const step = renameStep(request, rename);
  if (step !== undefined) return { text: `${offlineLabel} ${step.text}`, ...(step.toolUses.length > 0 ? { toolUses: step.toolUses } : {}) };
  const refusal = request.toolErrors[0];
  return {
    text: `${offlineLabel} ${refusal === undefined ? `The rename of \`${rename.from}\` did not come together` : `The change was refused: ${refusal.slice(0, 400)}`}. The demo model stops here; the real model would read again and retry.`,
  };
}

function agentStep(request: DemoRequest): DemoAnswer {
  const rename = renameRequested(request.instruction);
  if (rename !== undefined) return renameAgentStep(request, rename);
  const excerpt = request.excerpt;
  const shape = excerpt === undefined ? undefined : functionAtSelection(excerpt);
  if (request.agentSteps === 0) {
    if (shape === undefined) return { text: `${offlineLabel} First, the documents open in the editor.`, toolUses: [{ name: 'list_documents', input: {} }] };
    return { text: `${offlineLabel} First, where \`${shape.name}\` is used.`, toolUses: [{ name: 'search_workspace', input: { query: shape.name, max_results: 20 } }] };
  }
  const found = searchSummary(request.toolResults);
  const intent = intentOf(request.instruction);
  if (excerpt === undefined || intent === undefined) {
    return { text: `${offlineLabel} ${found} The demo model can document, test, fix, rename and simplify code; "${request.instruction.slice(0, 80)}" needs the real model. ${disclaimer}` };
  }
  return { text: `${offlineLabel} ${found} Now the edit.`, toolUses: [proposal(editFor(intent, excerpt, request))] };
}

/** Closes the brackets the cursor's line left open: the one completion the demo can be sure of. */
export function completionFor(prefixLine: string): string {
  const closers: string[] = [];
  const pairs: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
  for (const character of prefixLine.slice(-400).replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')) {
    const closer = pairs[character];
    if (closer !== undefined) closers.push(closer);
    else if (character === closers[closers.length - 1]) closers.pop();
  }
  return closers.reverse().join('');
}

/** The demo model's answer to one Messages API request body. */
export function answerDemoRequest(body: unknown): DemoAnswer {
  const request = readDemoRequest(body);
  switch (request.kind) {
    case 'completion':
      return { text: completionFor(request.completion?.prefixLine ?? '') };
    case 'edit':
      return { toolUses: [proposal(request.excerpt === undefined ? undefined : editFor(actionIntent(request), request.excerpt, request))] };
    case 'agent':
      return agentStep(request);
    case 'text':
      return { text: request.instruction.startsWith('Explain what the selected code does') ? explanation(request.excerpt) : chatReply(request) };
  }
}
