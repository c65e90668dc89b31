/**
 * The little the offline demo model knows about code: where a function starts
 * and ends in an excerpt, its name and parameters, how the language writes
 * comments, and how to say a name in words. Line-by-line patterns, no parser:
 * enough to make plausible edits on ordinary code, never a promise of
 * correctness (the demo says so in every answer).
 */
import type { Excerpt, ExcerptLine } from './demo-request.js';

export type LanguageFamily = 'c-like' | 'python' | 'go' | 'rust' | 'lua' | 'lisp' | 'ruby' | 'shell' | 'other';

const families: Record<string, LanguageFamily> = {
  typescript: 'c-like',
  typescriptreact: 'c-like',
  javascript: 'c-like',
  javascriptreact: 'c-like',
  java: 'c-like',
  kotlin: 'c-like',
  c: 'c-like',
  cpp: 'c-like',
  csharp: 'c-like',
  php: 'c-like',
  scala: 'c-like',
  swift: 'c-like',
  dart: 'c-like',
  python: 'python',
  go: 'go',
  rust: 'rust',
  lua: 'lua',
  'emacs-lisp': 'lisp',
  elisp: 'lisp',
  lisp: 'lisp',
  scheme: 'lisp',
  clojure: 'lisp',
  ruby: 'ruby',
  shellscript: 'shell',
  sh: 'shell',
  bash: 'shell',
  zsh: 'shell',
};

export function familyOf(language: string): LanguageFamily {
  return families[language.toLowerCase()] ?? 'other';
}

const hashCommentLanguages = new Set(['python', 'ruby', 'shellscript', 'sh', 'bash', 'zsh', 'perl', 'r', 'yaml', 'toml', 'makefile', 'dockerfile', 'elixir', 'julia', 'powershell', 'nim', 'coffeescript']);
const dashCommentLanguages = new Set(['lua', 'sql', 'haskell', 'elm', 'ada']);
const semicolonCommentLanguages = new Set(['emacs-lisp', 'elisp', 'lisp', 'scheme', 'clojure', 'racket']);

/** How a line comment starts in the language. */
export function lineCommentOf(language: string): string {
  const id = language.toLowerCase();
  if (hashCommentLanguages.has(id)) return '#';
  if (dashCommentLanguages.has(id)) return '--';
  if (semicolonCommentLanguages.has(id)) return ';;';
  return '//';
}

export interface FunctionShape {
  name: string;
  /** Excerpt line number of the definition's first line. */
  line: number;
  /** Excerpt line number of the last line of the header (where the body starts). */
  headerEndLine: number;
  /** Excerpt line number of the body's last line, as far as the excerpt shows it. */
  endLine: number;
  indent: string;
  params: Param[];
  /** The definition starts a class or type rather than a function. */
  isClass: boolean;
}

export interface Param {
  name: string;
  /** As written, for languages that say it after or before the name. */
  type: string;
}

const controlWords = new Set(['if', 'for', 'while', 'switch', 'catch', 'return', 'function', 'else', 'do', 'with', 'new', 'await', 'throw', 'yield', 'case', 'typeof', 'sizeof', 'elif', 'not', 'and', 'or']);

const cLikeMember = /^(\s*)(?:(?:public|private|protected|static|async|readonly|override|final|virtual|inline|const|unsigned|signed|extern)\s+)*(?:[\w$<>[\],.*&:]+\s+)?([A-Za-z_$][\w$]*)\s*\(/;

const definitionPatterns: Record<LanguageFamily, RegExp[]> = {
  'c-like': [
    /^(\s*)(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)\s*(?:<[^>]*>)?\s*\(/,
    /^(\s*)(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::[^=]*)?=\s*(?:async\s+)?(?:function\b[^(]*)?\(/,
    /^(\s*)(?:export\s+)?(?:default\s+)?(?:abstract\s+)?(class|interface)\s+([A-Za-z_$][\w$]*)/,
    cLikeMember,
  ],
  python: [/^(\s*)(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(/, /^(\s*)(class)\s+([A-Za-z_]\w*)/],
  go: [/^()func\s+(?:\([^)]*\)\s*)?([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*\(/, /^()(type)\s+([A-Za-z_]\w*)\s+(?:struct|interface)\b/],
  rust: [/^(\s*)(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+([A-Za-z_]\w*)/, /^(\s*)(?:pub(?:\([^)]*\))?\s+)?(struct|enum|trait)\s+([A-Za-z_]\w*)/],
  lua: [/^(\s*)(?:local\s+)?function\s+([\w.:]+)\s*\(/, /^(\s*)(?:local\s+)?([\w.]+)\s*=\s*function\s*\(/],
  lisp: [/^(\s*)\((?:cl-)?(?:defun|defmacro|defsubst|define)\s+\(?([^\s()]+)/],
  ruby: [/^(\s*)def\s+(?:self\.)?([\w?!]+)/, /^(\s*)(class|module)\s+([A-Z]\w*)/],
  shell: [/^(\s*)(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\)/],
  other: [],
};

/** A definition line is short; longer ones are not looked at, which also keeps every pattern's work small. */
const longestDefinitionLine = 400;

/** The C-like pattern that finds methods and typed functions also finds calls; a header ends opening its body or its parameters. */
function looksLikeMemberHeader(text: string): boolean {
  const tail = text.trimEnd();
  const firstWord = /^\s*([\w$]+)/.exec(text)?.[1] ?? '';
  return !controlWords.has(firstWord) && !tail.includes('=>') && !tail.includes('=') && /[{(,]$/.test(tail);
}

function matchDefinition(family: LanguageFamily, text: string): { indent: string; name: string; isClass: boolean } | undefined {
  if (text.length > longestDefinitionLine) return undefined;
  const patterns = family === 'other' ? Object.values(definitionPatterns).flat() : definitionPatterns[family];
  for (const pattern of patterns) {
    const match = pattern.exec(text);
    if (match === null) continue;
    // Class patterns capture the keyword, then the name.
    const isClass = match.length > 3 && match[3] !== undefined;
    const name = (isClass ? match[3] : match[2]) ?? '';
    if (name === '' || controlWords.has(name)) continue;
    if (pattern === cLikeMember && !looksLikeMemberHeader(text)) continue;
    return { indent: match[1] ?? '', name, isClass };
  }
  return undefined;
}

function indentOf(text: string): string {
  return /^\s*/.exec(text)?.[0] ?? '';
}

/** The excerpt's lines by number. */
export function lineAt(excerpt: Excerpt, number: number): ExcerptLine | undefined {
  const first = excerpt.lines[0]?.number ?? 0;
  return excerpt.lines[number - first];
}

/** The header: from the definition line to the line where its parameter list closes (at most 12 lines). */
function headerEnd(excerpt: Excerpt, line: number, family: LanguageFamily): { end: number; paramsText: string } {
  let depth = 0;
  let started = false;
  let paramsText = '';
  // Lisp's definition is a list itself: its parameters are the next list.
  let openingsToSkip = family === 'lisp' ? 1 : 0;
  const last = Math.min(line + 11, (excerpt.lines[excerpt.lines.length - 1]?.number ?? line));
  for (let number = line; number <= last; number++) {
    const text = lineAt(excerpt, number)?.text ?? '';
    for (const character of text) {
      if (character === '(' && openingsToSkip > 0) {
        openingsToSkip -= 1;
        continue;
      }
      if (character === '(') {
        depth += 1;
        if (!started) {
          started = true;
          continue;
        }
      } else if (character === ')') {
        depth -= 1;
        if (started && depth === 0) {
          if (family === 'python' || family === 'lisp') return { end: pythonHeaderEnd(excerpt, number, family), paramsText };
          return { end: number, paramsText };
        }
      }
      if (started) paramsText += character;
    }
    if (started) paramsText += ' ';
    if (!started && number > line) break;
  }
  return { end: line, paramsText };
}

/** A Python header ends at its ':' (after a return annotation, maybe on a later line). */
function pythonHeaderEnd(excerpt: Excerpt, from: number, family: LanguageFamily): number {
  if (family === 'lisp') return from;
  for (let number = from; number <= from + 3; number++) if (/:\s*(#.*)?$/.test(lineAt(excerpt, number)?.text ?? '')) return number;
  return from;
}

function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const character of text) {
    if ('([{<'.includes(character)) depth += 1;
    else if (')]}>'.includes(character)) depth = Math.max(0, depth - 1);
    if (character === separator && depth === 0) {
      parts.push(current);
      current = '';
    } else current += character;
  }
  parts.push(current);
  return parts.map((part) => part.trim()).filter((part) => part !== '');
}

function parseParams(paramsText: string, family: LanguageFamily): Param[] {
  if (family === 'lisp') {
    return paramsText
      .split(/\s+/)
      .filter((word) => word !== '' && !word.startsWith('&'))
      .map((name) => ({ name, type: '' }));
  }
  const params: Param[] = [];
  for (const raw of splitTopLevel(paramsText, ',')) {
    const withoutDefault = (splitTopLevel(raw, '=')[0] ?? raw).trim();
    if (family === 'go') {
      const [name = '', ...type] = withoutDefault.split(/\s+/);
      if (/^[A-Za-z_]\w*$/.test(name)) params.push({ name, type: type.join(' ') });
      continue;
    }
    if (family === 'c-like' && !withoutDefault.includes(':')) {
      // Java, C, C#: the name is the last word ("final List<Item> items"); JavaScript: the only one.
      const words = withoutDefault.replace(/[*&]/g, ' ').split(/\s+/).filter((word) => word !== '');
      const name = words[words.length - 1] ?? '';
      if (/^[A-Za-z_$][\w$]*$/.test(name)) params.push({ name, type: words.slice(0, -1).join(' ') });
      continue;
    }
    const [head = '', ...typeParts] = withoutDefault.split(':');
    const name = head.replace(/^(\.\.\.|\*\*|\*|&mut\s+|&|mut\s+)/, '').replace(/\?$/, '').trim();
    if (!/^[A-Za-z_$][\w$]*$/.test(name)) continue;
    if ((family === 'python' && (name === 'self' || name === 'cls')) || (family === 'rust' && name === 'self')) continue;
    params.push({ name, type: typeParts.join(':').trim() });
  }
  return params;
}

/** Where the body ends: by braces for brace languages, by indentation for Python, by `end` for Lua and Ruby, by parentheses for Lisp. */
function bodyEnd(excerpt: Excerpt, shape: { line: number; headerEndLine: number; indent: string }, family: LanguageFamily): number {
  const lastNumber = excerpt.lines[excerpt.lines.length - 1]?.number ?? shape.line;
  if (family === 'python') {
    let end = shape.headerEndLine;
    for (let number = shape.headerEndLine + 1; number <= lastNumber; number++) {
      const text = lineAt(excerpt, number)?.text ?? '';
      if (text.trim() === '') continue;
      if (indentOf(text).length <= shape.indent.length) break;
      end = number;
    }
    return end;
  }
  if (family === 'lua' || family === 'ruby') {
    for (let number = shape.headerEndLine + 1; number <= lastNumber; number++) {
      const text = lineAt(excerpt, number)?.text ?? '';
      if (text.trim() === 'end' && indentOf(text).length === shape.indent.length) return number;
    }
    return lastNumber;
  }
  const [open, close] = family === 'lisp' ? ['(', ')'] : ['{', '}'];
  let depth = 0;
  let opened = false;
  for (let number = shape.line; number <= lastNumber; number++) {
    for (const character of stripStrings(lineAt(excerpt, number)?.text ?? '')) {
      if (character === open) {
        depth += 1;
        opened = true;
      } else if (character === close) {
        depth -= 1;
        if (opened && depth === 0) return number;
      }
    }
  }
  return opened ? lastNumber : shape.headerEndLine;
}

/** A line without its string literals and line comment, so their brackets do not count. */
function stripStrings(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '""').replace(/\/\/.*$/, '');
}

/**
 * The function (or class) the selection is in or starts on: the nearest
 * definition at or above the selection's first line whose body reaches it,
 * else the first definition inside the selection.
 */
export function functionAtSelection(excerpt: Excerpt): FunctionShape | undefined {
  const family = familyOf(excerpt.language);
  const shapeAt = (line: ExcerptLine): FunctionShape | undefined => {
    if (line.cut) return undefined;
    const match = matchDefinition(family, line.text);
    if (match === undefined) return undefined;
    const header = headerEnd(excerpt, line.number, family);
    const partial = { line: line.number, headerEndLine: header.end, indent: match.indent };
    return { ...partial, name: match.name, endLine: bodyEnd(excerpt, partial, family), indent: match.indent, params: match.isClass ? [] : parseParams(header.paramsText, family), isClass: match.isClass };
  };
  const start = excerpt.selection.startLine;
  const end = Math.max(start, excerpt.selection.endLine);
  for (let index = excerpt.lines.length - 1; index >= 0; index--) {
    const line = excerpt.lines[index] as ExcerptLine;
    if (line.number > start) continue;
    const shape = shapeAt(line);
    if (shape !== undefined && shape.endLine >= start && !shape.isClass) return shape;
  }
  for (const line of excerpt.lines) {
    if (line.number < start || line.number > end) continue;
    const shape = shapeAt(line);
    if (shape !== undefined) return shape;
  }
  return undefined;
}

/** `cartTotal`, `cart_total`, `cart-total` → ['cart', 'total']; a qualified name (`M.cart_total`, `Cart:total`) by its last part. */
export function wordsOf(name: string): string[] {
  return (name.split(/[.:]/).pop() ?? name)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[\s_\-.:$]+/)
    .filter((word) => word !== '')
    .map((word) => word.toLowerCase());
}

const verbs: Record<string, string> = {
  get: 'Gets',
  fetch: 'Fetches',
  load: 'Loads',
  read: 'Reads',
  save: 'Saves',
  write: 'Writes',
  set: 'Sets',
  compute: 'Computes',
  calc: 'Computes',
  calculate: 'Calculates',
  format: 'Formats',
  parse: 'Parses',
  make: 'Makes',
  create: 'Creates',
  build: 'Builds',
  find: 'Finds',
  search: 'Searches',
  update: 'Updates',
  delete: 'Deletes',
  remove: 'Removes',
  add: 'Adds',
  append: 'Appends',
  insert: 'Inserts',
  check: 'Checks',
  validate: 'Validates',
  verify: 'Verifies',
  render: 'Renders',
  draw: 'Draws',
  handle: 'Handles',
  apply: 'Applies',
  run: 'Runs',
  start: 'Starts',
  stop: 'Stops',
  open: 'Opens',
  close: 'Closes',
  send: 'Sends',
  convert: 'Converts',
  sort: 'Sorts',
  filter: 'Filters',
  count: 'Counts',
  sum: 'Sums',
  restock: 'Restocks',
  reset: 'Resets',
  init: 'Initializes',
  initialize: 'Initializes',
  setup: 'Sets up',
  print: 'Prints',
  log: 'Logs',
  merge: 'Merges',
  split: 'Splits',
  clean: 'Cleans',
  normalize: 'Normalizes',
  register: 'Registers',
  resolve: 'Resolves',
  list: 'Lists',
};

/** Whether a name starts with a verb the demo knows (`formatTotal`), rather than being a noun phrase (`cartTotal`). */
export function startsWithVerb(name: string): boolean {
  const first = wordsOf(name)[0] ?? '';
  return Object.hasOwn(verbs, first) || ['is', 'has', 'can', 'should', 'to', 'as', 'on'].includes(first);
}

/** One sentence saying what a function named `name` does, from its name alone. */
export function summaryFromName(name: string, isClass = false): string {
  const words = wordsOf(name);
  if (isClass) return `A ${words.join(' ') || 'value'}.`;
  const [first = '', ...rest] = words;
  const object = rest.length > 0 ? `the ${rest.join(' ')}` : 'it';
  if (first === 'is' || first === 'has' || first === 'can' || first === 'should') return `Tells whether ${rest.length > 0 ? `it ${first === 'is' ? 'is' : first} ${rest.join(' ')}` : 'the condition holds'}.`;
  if (first === 'to' || first === 'as') return `Converts the value to ${rest.join(' ') || 'another form'}.`;
  if (first === 'on') return `Handles the ${rest.join(' ') || 'event'} event.`;
  const verb = verbs[first];
  if (verb !== undefined) return `${verb} ${object}.`;
  return `Computes the ${words.join(' ') || 'result'}.`;
}

/** A few words for a parameter: `taxRate` → "the tax rate". */
export function describeParam(param: Param): string {
  const words = wordsOf(param.name);
  return words.length === 0 ? 'a value' : `the ${words.join(' ')}`;
}

/** What the function returns, if its body says `return <something>`. */
export function returnsSomething(excerpt: Excerpt, shape: FunctionShape): boolean {
  const family = familyOf(excerpt.language);
  for (let number = shape.headerEndLine; number <= shape.endLine; number++) {
    const text = lineAt(excerpt, number)?.text ?? '';
    if (/\breturn\s+[^;\s]/.test(text)) return true;
    if (family === 'rust' && /->/.test(text) && number === shape.headerEndLine) return true;
  }
  return false;
}

/** A sample value of a parameter's kind, for a test that calls the function, in the family's syntax. */
export function sampleArgument(param: Param, family: LanguageFamily): string {
  const name = param.name.toLowerCase();
  const type = param.type.toLowerCase();
  const literal = (kind: 'list' | 'fraction' | 'number' | 'text' | 'flag' | 'none'): string => {
    switch (kind) {
      case 'list':
        return family === 'python' || family === 'ruby' ? '[]' : family === 'lua' ? '{}' : family === 'lisp' ? "'()" : family === 'go' ? 'nil' : family === 'rust' ? '&[]' : '[]';
      case 'fraction':
        return '0.2';
      case 'number':
        return '2';
      case 'text':
        return family === 'lisp' || family === 'go' || family === 'rust' ? '"sample"' : family === 'python' ? '"sample"' : "'sample'";
      case 'flag':
        return family === 'python' ? 'True' : family === 'lisp' ? 't' : 'true';
      case 'none':
        return family === 'python' ? 'None' : family === 'lisp' ? 'nil' : family === 'lua' || family === 'go' ? 'nil' : family === 'rust' ? 'Default::default()' : 'undefined';
    }
  };
  if (/\[\]|list|vec|array|slice|\[/.test(type) || /(items|list|array|values|entries|rows|s)$/.test(name)) return literal('list');
  if (/float|double|f32|f64|decimal/.test(type) || /(rate|ratio|percent|fraction|factor)$/.test(name)) return literal('fraction');
  if (/int|number|usize|u32|i32|i64|u64|long|short/.test(type) || /(count|quantity|amount|size|index|total|price|n|x|y|age|limit|max|min|number|num)$/.test(name)) return literal('number');
  if (/str|string|char/.test(type) || /(name|text|label|title|currency|message|path|key|id|url|symbol|word|prefix|suffix)$/.test(name)) return literal('text');
  if (/bool/.test(type) || /^(is|has|should|can|enable|flag)/.test(name)) return literal('flag');
  return literal('none');
}
