/**
 * The offline demo model's one change across files: "rename <old> to <new>"
 * in `efrit/do`. Like a real model it works from what the workspace tools
 * answered, over three steps of the agent loop:
 * 1. search the workspace for the name;
 * 2. read every file the search listed (and look whether the test file it
 *    would add exists already), all in one step;
 * 3. propose one change with `propose_edits`: an edit per group of lines
 *    that use the name, in every file read, each quoting lines exactly as
 *    the read showed them and as many as make the quote occur once in what
 *    was shown; plus, where the name is an exported function of a language
 *    it knows, a new test file that calls it under its new name.
 * Nothing here knows any file's text in advance: a workspace without the
 * name gets an answer in words, and a name only found inside longer names
 * (`cartTotalWithTax`) is left alone.
 */
import { familyOf, functionAtSelection, sampleArgument, wordsOf, type FunctionShape, type LanguageFamily } from './code-shapes.js';
import { missingPath, parseReadResult, searchHitPaths, type DemoRequest, type Excerpt, type ReadResult } from './demo-request.js';

export interface RenameRequest {
  from: string;
  to: string;
}

export interface PathEdit {
  path: string;
  old_text: string;
  new_text: string;
}

export interface FileCreation {
  action: 'create';
  path: string;
  text: string;
}

export interface RenameToolUse {
  name: string;
  input: unknown;
}

export interface RenameStep {
  /** One sentence for the user, without the offline label. */
  text: string;
  toolUses: RenameToolUse[];
}

/** Files read in one step at most: with the test file's check, the agent's 16 calls per step. */
export const maxFilesRead = 15;

const renamePattern = /\brename\s+[`'"]?([A-Za-z_$][\w$]*)[`'"]?\s+(?:to|as|into|->)\s+[`'"]?([A-Za-z_$][\w$]*)/i;

/** `rename cartTotal to orderTotal` (quotes and "as"/"into"/"->" allowed), if the instruction says it. */
export function renameRequested(instruction: string): RenameRequest | undefined {
  const match = renamePattern.exec(instruction.slice(0, 2000));
  if (match === null || match[1] === match[2]) return undefined;
  return { from: match[1] as string, to: match[2] as string };
}

function escaped(name: string): string {
  return name.replace(/[$]/g, '\\$');
}

/** The name as a whole identifier, not inside a longer one. */
function namePattern(name: string): RegExp {
  return new RegExp(`(?<![\\w$])${escaped(name)}(?![\\w$])`, 'g');
}

function uses(text: string, name: string): boolean {
  return text.length <= 2000 && namePattern(name).test(text);
}

function renamed(text: string, rename: RenameRequest): string {
  return text.replace(namePattern(rename.from), rename.to);
}

// ---------------------------------------------------------------------------
// The edits of one file

function occursOnce(haystack: string, needle: string): boolean {
  const first = haystack.indexOf(needle);
  return first >= 0 && haystack.indexOf(needle, first + 1) < 0;
}

/**
 * The edits renaming the name in one file's lines as read: consecutive lines
 * that use it form a group; each group's quote grows by whole neighbouring
 * lines (below first) until it occurs once in the lines shown; a quote that
 * grows into the previous one merges with it, so no two edits overlap.
 */
export function renameEditsIn(read: ReadResult, rename: RenameRequest): PathEdit[] {
  const shown = read.lines.map((line) => line.text).join('\n');
  const quotable = (index: number): boolean => {
    const line = read.lines[index];
    return line !== undefined && !line.cut;
  };
  const windows: { from: number; to: number }[] = [];
  const groups: { from: number; to: number }[] = [];
  read.lines.forEach((line, index) => {
    if (line.cut || !uses(line.text, rename.from)) return;
    const last = groups[groups.length - 1];
    if (last !== undefined && last.to === index - 1) last.to = index;
    else groups.push({ from: index, to: index });
  });
  for (const group of groups) {
    let { from, to } = group;
    const quoteOf = (a: number, b: number): string =>
      read.lines
        .slice(a, b + 1)
        .map((line) => line.text)
        .join('\n');
    let found = false;
    while (!found) {
      const quote = quoteOf(from, to);
      if (quote.trim() !== '' && occursOnce(shown, quote)) found = true;
      else if (quotable(to + 1)) to += 1;
      else if (quotable(from - 1)) from -= 1;
      else break;
    }
    if (found) windows.push({ from, to });
  }
  // Quotes that grew into each other become one: a quote containing one that occurs once occurs once itself.
  const merged: { from: number; to: number }[] = [];
  for (const window of windows.sort((a, b) => a.from - b.from)) {
    const previous = merged[merged.length - 1];
    if (previous !== undefined && window.from <= previous.to) previous.to = Math.max(previous.to, window.to);
    else merged.push({ ...window });
  }
  return merged.map(({ from, to }) => {
    const quote = read.lines
      .slice(from, to + 1)
      .map((line) => line.text)
      .join('\n');
    return { path: read.path, old_text: quote, new_text: renamed(quote, rename) };
  });
}

// ---------------------------------------------------------------------------
// The test file

const languageByExtension: Record<string, string> = {
  ts: 'typescript',
  tsx: 'typescriptreact',
  mts: 'typescript',
  cts: 'typescript',
  js: 'javascript',
  jsx: 'javascriptreact',
  mjs: 'javascript',
  cjs: 'javascript',
  py: 'python',
};

function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
}

function languageOf(read: ReadResult): string {
  return read.language !== '' ? read.language : (languageByExtension[extensionOf(read.path)] ?? '');
}

function kebab(name: string): string {
  return wordsOf(name).join('-') || 'renamed';
}

/** Where the demo puts a test for `to` written in `extension`'s language, or nothing for a language it writes no tests in. */
export function testPathFor(rename: RenameRequest, extension: string): string | undefined {
  const language = languageByExtension[extension];
  if (language === undefined) return undefined;
  if (language === 'python') return `test/test_${wordsOf(rename.to).join('_') || 'renamed'}.py`;
  const testExtension = extension === 'tsx' ? 'ts' : extension === 'jsx' ? 'js' : extension;
  return `test/${kebab(rename.to)}.test.${testExtension}`;
}

interface Definition {
  read: ReadResult;
  shape: FunctionShape;
  exported: boolean;
}

/** Where a file read defines the function: the definition the name's line starts. */
function definitionIn(read: ReadResult, name: string): Definition | undefined {
  const language = languageOf(read);
  for (const line of read.lines) {
    if (line.cut || !uses(line.text, name)) continue;
    const excerpt: Excerpt = {
      path: read.path,
      language,
      totalLines: read.totalLines,
      selection: { startLine: line.number, startColumn: 1, endLine: line.number, endColumn: 1 },
      lines: read.lines,
      diagnostics: [],
    };
    const shape = functionAtSelection(excerpt);
    if (shape === undefined || shape.name !== name || shape.line !== line.number || shape.isClass) continue;
    const exported = familyOf(language) === 'python' ? !name.startsWith('_') : /^\s*export\b/.test(line.text);
    return { read, shape, exported };
  }
  return undefined;
}

/** From folder `fromDir` to file `target`, as an import writes it (`../src/cart`). */
function relativeSpecifier(fromDir: string, target: string): string {
  const from = fromDir.split('/').filter((part) => part !== '');
  const to = target.split('/').filter((part) => part !== '');
  let common = 0;
  while (common < from.length && common < to.length - 1 && from[common] === to[common]) common++;
  const up = from.slice(common).map(() => '..');
  const specifier = [...up, ...to.slice(common)].join('/');
  return up.length === 0 ? `./${specifier}` : specifier;
}

/** How the files read import the definition's module: with `.js` (ESM TypeScript), with its own extension, or without. */
function importSuffix(reads: readonly ReadResult[], definitionPath: string): string {
  const file = definitionPath.slice(definitionPath.lastIndexOf('/') + 1);
  const stem = file.replace(/\.[^.]+$/, '');
  for (const read of reads) {
    for (const line of read.lines) {
      const specifier = /\bfrom\s+['"]([^'"]+)['"]|\brequire\(\s*['"]([^'"]+)['"]\s*\)/.exec(line.text.slice(0, 400));
      const named = specifier?.[1] ?? specifier?.[2];
      if (named === undefined || !named.startsWith('.')) continue;
      const last = named.slice(named.lastIndexOf('/') + 1);
      if (last === stem) return '';
      if (last.startsWith(`${stem}.`)) return last.slice(stem.length);
    }
  }
  return '';
}

function testText(definition: Definition, rename: RenameRequest, testPath: string, suffix: string, family: LanguageFamily): string {
  const args = definition.shape.params.map((param) => sampleArgument(param, family)).join(', ');
  const call = `${rename.to}(${args})`;
  const origin = `${rename.to} (renamed from ${rename.from})`;
  if (family === 'python') {
    const module = definition.read.path.replace(/\.py$/, '').split('/').join('.');
    return [
      `# Offline demo model: a first test for ${origin}.`,
      `from ${module} import ${rename.to}`,
      '',
      '',
      `def test_${wordsOf(rename.to).join('_')}_gives_the_same_answer_for_the_same_input():`,
      `    assert ${call} == ${call}`,
      '',
    ].join('\n');
  }
  const testDir = testPath.slice(0, testPath.lastIndexOf('/'));
  const specifier = `${relativeSpecifier(testDir, definition.read.path).replace(/\.[^./]+$/, '')}${suffix}`;
  return [
    `// Offline demo model: a first test for ${origin}.`,
    "import { describe, expect, it } from 'vitest';",
    `import { ${rename.to} } from '${specifier}';`,
    '',
    `describe('${rename.to}', () => {`,
    "  it('gives the same answer for the same input', () => {",
    `    expect(${call}).toEqual(${call});`,
    '  });',
    '});',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------
// The steps

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** Which test file to look for before proposing one: named after the new name, in the language of the file that defines the function. */
function plannedTestPath(rename: RenameRequest, searchText: string, paths: readonly string[]): string | undefined {
  const definitionLine = new RegExp(`(?:function|def|fn|func)\\s+${escaped(rename.from)}(?![\\w$])|(?:const|let|var)\\s+${escaped(rename.from)}\\s*=`);
  const defining = searchText
    .split('\n')
    .map((line) => /^([^:\s][^:]*):\d+: (.*)$/.exec(line))
    .find((match) => match !== null && definitionLine.test(match[2] as string));
  const path = defining?.[1] ?? paths[0];
  return path === undefined ? undefined : testPathFor(rename, extensionOf(path));
}

/**
 * The next step of a rename, from the conversation so far; undefined when
 * the last step's results are none of the three (the caller answers then).
 */
export function renameStep(request: DemoRequest, rename: RenameRequest): RenameStep | undefined {
  const { from, to } = rename;
  if (request.agentSteps === 0) {
    return { text: `First, where \`${from}\` is used.`, toolUses: [{ name: 'search_workspace', input: { query: from, case_sensitive: true, max_results: 50 } }] };
  }
  const reads = request.toolResults.map(parseReadResult).filter((read): read is ReadResult => read !== undefined);
  if (reads.length > 0) return proposeStep(request, rename, reads);
  const searchText = request.toolResults.find((result) => searchHitPaths(result).length > 0);
  if (searchText !== undefined) {
    const paths = searchHitPaths(searchText);
    const reading = paths.slice(0, maxFilesRead);
    const testPath = plannedTestPath(rename, searchText, paths);
    const toolUses: RenameToolUse[] = reading.map((path) => ({ name: 'read_file', input: { path } }));
    if (testPath !== undefined && !paths.includes(testPath)) toolUses.push({ name: 'read_file', input: { path: testPath } });
    const more = paths.length > reading.length ? ` (the first ${reading.length} of ${paths.length})` : '';
    return { text: `\`${from}\` appears in ${plural(paths.length, 'file')}; reading ${reading.length === 1 ? 'it' : 'them'}${more} before renaming it to \`${to}\`.`, toolUses };
  }
  if (request.agentSteps === 1 && request.toolErrors.length === 0) return { text: `No file in the workspace uses \`${from}\`, so there is nothing to rename.`, toolUses: [] };
  return undefined;
}

function proposeStep(request: DemoRequest, rename: RenameRequest, reads: readonly ReadResult[]): RenameStep {
  const edits = reads.flatMap((read) => renameEditsIn(read, rename));
  const changedFiles = [...new Set(edits.map((edit) => edit.path))];
  if (edits.length === 0) return { text: `The files read use \`${rename.from}\` only inside longer names; nothing to rename.`, toolUses: [] };
  const definition = reads.map((read) => definitionIn(read, rename.from)).find((found) => found !== undefined);
  const files: FileCreation[] = [];
  const notes: string[] = [];
  if (definition !== undefined) {
    const testPath = testPathFor(rename, extensionOf(definition.read.path));
    const absent = request.toolResults.map(missingPath).includes(testPath);
    const family = familyOf(languageOf(definition.read));
    if (testPath !== undefined && absent && definition.exported) {
      files.push({ action: 'create', path: testPath, text: testText(definition, rename, testPath, importSuffix(reads, definition.read.path), family) });
    } else if (testPath !== undefined && !absent) notes.push(`${testPath} exists already, so no test file was added`);
    else if (!definition.exported) notes.push(`\`${rename.from}\` is not exported, so no test file was added`);
  }
  for (const read of reads) if (read.cut) notes.push(`${read.path} was read only to line ${read.lines[read.lines.length - 1]?.number ?? 0}; later uses were not changed`);
  const added = files.map((file) => ` and added ${file.path}`).join('');
  const summary = `Offline demo model: renamed \`${rename.from}\` to \`${rename.to}\` in ${plural(changedFiles.length, 'file')} (${plural(edits.length, 'edit')})${added}.${notes.length > 0 ? ` Note: ${notes.join('; ')}.` : ''}`;
  return {
    text: `Renaming in ${changedFiles.join(', ')}${files.length > 0 ? `, with a test in ${files.map((file) => file.path).join(', ')}` : ''}.`,
    toolUses: [{ name: 'propose_edits', input: { summary, edits, ...(files.length > 0 ? { files } : {}) } }],
  };
}
