/**
 * The language server's tools as the agent sees them, against a scripted
 * language server behind the LanguageIntelligence port (efrit-lsp's own
 * interface; the real servers are in test/integration/semantic-tools.test.ts):
 * which tools are offered, how positions are found by text, how answers are
 * trimmed, and that locations outside the workspace or in secret files are
 * left out and counted.
 */
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Diagnostic } from 'vscode-languageserver-types';
import type { LanguageIntelligence, SemanticFeature, ShadowCheck } from '../../server/src/agent/language-intelligence.js';
import { hoverText, languageIdFor, placesOf, renderDiagnostics, SemanticTools, symbolColumn, symbolOutline } from '../../server/src/agent/semantic-tools.js';
import { WorkspaceTools } from '../../server/src/agent/workspace-tools.js';
import { DocumentStore } from '../../server/src/documents/document-store.js';

const cartTs = `export interface Item {
  price: number;
}

export function cartTotal(items: Item[]): number {
  return items.reduce((sum, item) => sum + item.price, 0);
}
`;

/** A language server scripted per method; records what it was asked and which documents it was given. */
class ScriptedServer implements LanguageIntelligence {
  readonly label = 'scripted-ls';
  readonly asked: { method: string; params: unknown; opened: string[] }[] = [];
  readonly opened: string[] = [];
  readonly checks: ShadowCheck[] = [];
  published = new Map<string, Diagnostic[]>();
  shadowDiagnostics: Diagnostic[][] = [];

  constructor(
    private readonly offered: SemanticFeature[],
    private readonly answer: (method: string, params: unknown, openedNow: readonly string[]) => unknown,
  ) {}

  features(): ReadonlySet<SemanticFeature> {
    return new Set(this.offered);
  }
  request(method: string, params: unknown): Promise<unknown> {
    this.asked.push({ method, params, opened: [...this.opened] });
    return Promise.resolve(this.answer(method, params, this.opened));
  }
  async withDocument<T>(document: { uri: string }, use: () => Promise<T>): Promise<T> {
    this.opened.push(document.uri);
    try {
      return await use();
    } finally {
      this.opened.splice(this.opened.indexOf(document.uri), 1);
    }
  }
  publishedDiagnostics(uri: string): readonly Diagnostic[] | undefined {
    return this.published.get(uri);
  }
  diagnosticsOfTexts(check: ShadowCheck): Promise<Diagnostic[][]> {
    this.checks.push(check);
    return Promise.resolve(this.shadowDiagnostics);
  }
}

let base: string;
let root: string;
const location = (uri: string, line: number) => ({ uri, range: { start: { line, character: 0 }, end: { line, character: 5 } } });
const never = new AbortController().signal;

beforeAll(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'efrit-semantic-unit-')));
  root = join(base, 'project');
  await mkdir(join(root, 'src'), { recursive: true });
  await mkdir(join(base, 'outside'));
  await writeFile(join(root, 'src', 'cart.ts'), cartTs);
  await writeFile(join(root, '.env'), 'TOKEN=1\n');
  await writeFile(join(base, 'outside', 'lib.d.ts'), 'declare const x: number;\n');
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

function toolsFor(server: ScriptedServer, documents = new DocumentStore(), options: { maxResults?: number } = {}): SemanticTools {
  const workspace = new WorkspaceTools({ roots: () => [root], documents, allowSecretFiles: () => false });
  return new SemanticTools({ intelligence: server, locate: (path) => workspace.locate(path), openDocumentAt: (located) => workspace.openDocumentAt(located), ...options });
}

const uriOf = (path: string) => pathToFileURL(join(root, path)).href;
/** cart.ts's line `n`, 1-based. */
const lineOf = (n: number): string => cartTs.split('\n')[n - 1] as string;

describe('the language server tools', () => {
  it('offers only what the server declares, in a fixed order, and answers a tool it lacks as unavailable', async () => {
    const server = new ScriptedServer(['hover', 'definition', 'diagnostics'], () => null);
    const tools = toolsFor(server);
    expect(tools.definitions().map((tool) => tool.name)).toEqual(['definition', 'hover', 'diagnostics']);
    const outcome = await tools.run('references', { path: 'src/cart.ts', line: 5, symbol: 'cartTotal' }, never);
    expect(outcome).toMatchObject({ isError: true, content: 'The tool references is not available: the language server does not offer it.' });
    expect(server.asked).toEqual([]);
  });

  it('keeps the list it first offered for the life of the process', () => {
    const features: SemanticFeature[] = ['definition'];
    const server = new ScriptedServer(features, () => null);
    const tools = toolsFor(server);
    expect(tools.definitions().map((tool) => tool.name)).toEqual(['definition']);
    features.push('references');
    expect(tools.definitions().map((tool) => tool.name)).toEqual(['definition']);
  });

  it('finds the position by the symbol on the line, and lists the locations as path:line: text', async () => {
    const server = new ScriptedServer(['references'], () => [location(uriOf('src/cart.ts'), 4), location(uriOf('src/cart.ts'), 5)]);
    const outcome = await toolsFor(server).run('references', { path: 'src/cart.ts', line: 6, symbol: 'item', occurrence: 2 }, never);
    expect(server.asked[0]?.params).toEqual({ textDocument: { uri: uriOf('src/cart.ts') }, position: { line: 5, character: lineOf(6).indexOf('item.price') }, context: { includeDeclaration: true } });
    expect(outcome.content).toBe(
      ['References of item at src/cart.ts:6:', 'src/cart.ts:5: export function cartTotal(items: Item[]): number {', 'src/cart.ts:6: return items.reduce((sum, item) => sum + item.price, 0);'].join('\n'),
    );
    expect(outcome.note).toBe('references of item at src/cart.ts:6: 2 locations');
  });

  it('leaves out locations outside the workspace or in secret files, saying how many', async () => {
    const outsideUri = pathToFileURL(join(base, 'outside', 'lib.d.ts')).href;
    const server = new ScriptedServer(['definition'], () => [location(outsideUri, 0), location(uriOf('.env'), 0), location('untitled:Untitled-1', 0), location(uriOf('src/cart.ts'), 0)]);
    const outcome = await toolsFor(server).run('definition', { path: 'src/cart.ts', line: 5, symbol: 'Item' }, never);
    expect(outcome.content).toBe(
      ['Definition of Item at src/cart.ts:5:', 'src/cart.ts:1: export interface Item {', '[3 locations are outside the workspace or in secret-looking files, so left out.]'].join('\n'),
    );
    expect(outcome.content).not.toContain('TOKEN');
    expect(outcome.content).not.toContain('declare const');
  });

  it('bounds the count of locations', async () => {
    const server = new ScriptedServer(['references'], () => Array.from({ length: 9 }, (_, line) => location(uriOf('src/cart.ts'), line % 7)).concat([location(uriOf('src/cart.ts'), 0)]));
    const outcome = await toolsFor(server, new DocumentStore(), { maxResults: 3 }).run('references', { path: 'src/cart.ts', line: 1, symbol: 'Item' }, never);
    // Seven different places (the rest repeat them), three shown.
    expect(outcome.content.split('\n')).toHaveLength(5);
    expect(outcome.content).toContain('[4 more not shown; at most 3 are listed.]');
  });

  it('asks again with the file opened for the question when the server answers nothing for a file the editor has not opened', async () => {
    const server = new ScriptedServer(['definition'], (_method, _params, opened) => (opened.length === 0 ? null : [location(uriOf('src/cart.ts'), 0)]));
    const outcome = await toolsFor(server).run('definition', { path: 'src/cart.ts', line: 5, symbol: 'Item' }, never);
    expect(server.asked.map((asked) => asked.opened)).toEqual([[], [uriOf('src/cart.ts')]]);
    expect(server.opened).toEqual([]);
    expect(outcome.content).toContain('src/cart.ts:1: export interface Item {');
  });

  it('never opens a document the editor has open: the server has its text already', async () => {
    const documents = new DocumentStore();
    documents.open({ uri: uriOf('src/cart.ts'), languageId: 'typescript', version: 3, text: `// typed\n${cartTs}` });
    const server = new ScriptedServer(['definition'], () => null);
    const outcome = await toolsFor(server, documents).run('definition', { path: 'src/cart.ts', line: 6, symbol: 'cartTotal' }, never);
    // The editor's text decides the position: line 6 is the function now.
    expect(server.asked).toEqual([{ method: 'textDocument/definition', params: { textDocument: { uri: uriOf('src/cart.ts') }, position: { line: 5, character: `// typed\n${cartTs}`.split('\n')[5]?.indexOf('cartTotal') } }, opened: [] }]);
    expect(outcome.content).toBe('The language server knows no definition of cartTotal at src/cart.ts:6.');
  });

  it('tells the model how to fix a position it got wrong', async () => {
    const tools = toolsFor(new ScriptedServer(['hover'], () => null));
    expect((await tools.run('hover', { path: 'src/cart.ts', line: 1, symbol: 'cartTotal' }, never)).content).toBe(
      'Invalid input for hover: "cartTotal" does not occur on line 1 of src/cart.ts, which reads: export interface Item {',
    );
    expect((await tools.run('hover', { path: 'src/cart.ts', line: 99, symbol: 'x' }, never)).content).toBe('Invalid input for hover: line 99 is past the end: src/cart.ts has 8 lines.');
    expect((await tools.run('hover', { path: 'src/cart.ts', line: 1 }, never)).content).toBe('Invalid input for hover: give "symbol" (the name on that line) or "column".');
    expect((await tools.run('hover', { path: '../outside/lib.d.ts', line: 1, symbol: 'x' }, never)).isError).toBe(true);
    expect((await tools.run('hover', { path: '.env', line: 1, symbol: 'TOKEN' }, never)).content).toMatch(/secret/);
  });

  it("reports a file's diagnostics: the editor's for an open one, a shadow check's for one on disk", async () => {
    const documents = new DocumentStore();
    documents.open({ uri: uriOf('src/cart.ts'), languageId: 'typescript', version: 1, text: cartTs });
    const server = new ScriptedServer(['diagnostics'], () => null);
    const typeError: Diagnostic = { range: { start: { line: 4, character: 0 }, end: { line: 4, character: 3 } }, message: "Type 'number' is not\nassignable to type 'string'.", severity: 1, source: 'typescript', code: 2322 };
    server.published.set(uriOf('src/cart.ts'), [{ ...typeError, severity: 2, message: 'unused' }, typeError]);
    const open = await toolsFor(server, documents).run('diagnostics', { path: 'src/cart.ts' }, never);
    expect(open.content).toBe(
      ['The language server reports for src/cart.ts:', "src/cart.ts:5: error: Type 'number' is not assignable to type 'string'. [typescript 2322]", 'src/cart.ts:5: warning: unused [typescript 2322]'].join('\n'),
    );
    expect(server.checks).toEqual([]);

    server.shadowDiagnostics = [[]];
    const onDisk = await toolsFor(server).run('diagnostics', { path: 'src/cart.ts' }, never);
    expect(server.checks).toEqual([{ uri: uriOf('src/cart.ts'), languageId: 'typescript', texts: [cartTs] }]);
    expect(onDisk.content).toBe('The language server reports no problems in src/cart.ts.');
  });

  it('asks for a position by column too, and shows hover text whole or cut', async () => {
    let contents = 'function cartTotal(items: Item[]): number';
    const server = new ScriptedServer(['hover'], () => ({ contents: { kind: 'markdown', value: contents } }));
    const tools = toolsFor(server);
    const shown = await tools.run('hover', { path: 'src/cart.ts', line: 5, column: 17 }, never);
    expect(server.asked[0]?.params).toEqual({ textDocument: { uri: uriOf('src/cart.ts') }, position: { line: 4, character: 16 } });
    expect(shown).toMatchObject({ isError: false, content: 'src/cart.ts:5:17:\nfunction cartTotal(items: Item[]): number', note: 'hover on src/cart.ts:5:17' });
    expect(shown.summary).toBe('hover {"path":"src/cart.ts","line":5,"column":17} -> function cartTotal(items: Item[]): number');
    contents = `${'doc '.repeat(1_500)}`;
    const cut = await tools.run('hover', { path: 'src/cart.ts', line: 5, symbol: 'cartTotal' }, never);
    expect(cut.content.endsWith('\n[cut at 4000 characters]')).toBe(true);
    expect(cut.content.length).toBeLessThan(4_100);
    expect((await tools.run('hover', { path: 'src/cart.ts', line: 1, column: 40 }, never)).content).toBe(
      'Invalid input for hover: column 40 is past the end of line 1 of src/cart.ts (23 characters).',
    );
  });

  it("outlines a file, bounded, and says when the server lists nothing", async () => {
    let symbols: unknown = [
      { name: 'Item', kind: 11, selectionRange: { start: { line: 0 } }, children: [{ name: 'price', kind: 7, selectionRange: { start: { line: 1 } } }] },
      { name: 'cartTotal', kind: 12, detail: '(items: Item[]) => number', selectionRange: { start: { line: 4 } } },
    ];
    const server = new ScriptedServer(['documentSymbols'], () => symbols);
    const tools = toolsFor(server, new DocumentStore(), { maxResults: 1 });
    const outline = await tools.run('document_symbols', { path: 'src/cart.ts' }, never);
    expect(server.asked[0]).toMatchObject({ method: 'textDocument/documentSymbol', params: { textDocument: { uri: uriOf('src/cart.ts') } } });
    expect(outline).toMatchObject({
      content: ['Symbols in src/cart.ts (line numbers 1-based):', 'interface Item (line 1)', '  property price (line 2)', 'function cartTotal - (items: Item[]) => number (line 5)'].join('\n'),
      note: 'outline of src/cart.ts: 3 symbols',
      summary: 'document_symbols {"path":"src/cart.ts"} -> 3 symbols',
    });
    symbols = Array.from({ length: 6 }, (_, i) => ({ name: `s${i}`, kind: 13, selectionRange: { start: { line: i } } }));
    // maxResults 1: four symbols per result listed at most.
    expect((await tools.run('document_symbols', { path: 'src/cart.ts' }, never)).content.split('\n').slice(-1)).toEqual(['[2 more symbols not shown.]']);
    symbols = [];
    expect((await tools.run('document_symbols', { path: 'src/cart.ts' }, never)).content).toBe('The language server lists no symbols in src/cart.ts.');
  });

  it('finds symbols across the workspace, leaving out those outside it', async () => {
    const outsideUri = pathToFileURL(join(base, 'outside', 'lib.d.ts')).href;
    const server = new ScriptedServer(['workspaceSymbols'], (_method, params) =>
      (params as { query: string }).query === 'none'
        ? []
        : [
            { name: 'cartTotal', kind: 12, containerName: 'cart', location: { uri: uriOf('src/cart.ts'), range: { start: { line: 4, character: 0 }, end: { line: 4, character: 1 } } } },
            { name: 'Item', kind: 11, location: { uri: uriOf('src/cart.ts') } },
            { name: 'x', kind: 13, location: { uri: outsideUri, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } } } },
            { kind: 13, location: { uri: uriOf('src/cart.ts') } },
          ],
    );
    const tools = toolsFor(server);
    const found = await tools.run('workspace_symbols', { query: 'cart' }, never);
    expect(server.asked[0]).toMatchObject({ method: 'workspace/symbol', params: { query: 'cart' } });
    expect(found.content).toBe(
      ['Symbols matching "cart":', 'src/cart.ts:5: function cartTotal (in cart)', 'src/cart.ts:1: interface Item', '[1 location is outside the workspace or in secret-looking files, so left out.]'].join('\n'),
    );
    expect(found.note).toBe('symbols matching "cart": 2');
    expect((await tools.run('workspace_symbols', { query: 'none' }, never)).content).toBe('The language server finds no symbol matching "none".');
    expect((await tools.run('workspace_symbols', { query: 'x'.repeat(201) }, never)).content).toBe(
      'Invalid input for workspace_symbols: "query" is longer than 200 characters; give a name or part of one.',
    );
    expect((await tools.run('workspace_symbols', {}, never)).content).toBe('Invalid input for workspace_symbols: "query" is required: the name to look for.');
  });

  it('describes each tool with the input it takes', () => {
    const tools = toolsFor(new ScriptedServer(['definition', 'references', 'hover', 'documentSymbols', 'workspaceSymbols', 'diagnostics'], () => null)).definitions();
    const shapes = tools.map((tool) => [tool.name, tool.input_schema.required, Object.keys(tool.input_schema.properties ?? {})]);
    expect(shapes).toEqual([
      ['definition', ['path', 'line'], ['path', 'line', 'symbol', 'occurrence', 'column']],
      ['references', ['path', 'line'], ['path', 'line', 'symbol', 'occurrence', 'column']],
      ['hover', ['path', 'line'], ['path', 'line', 'symbol', 'occurrence', 'column']],
      ['document_symbols', ['path'], ['path']],
      ['workspace_symbols', ['query'], ['query']],
      ['diagnostics', ['path'], ['path']],
    ]);
    for (const tool of tools) expect(tool.description?.length).toBeGreaterThan(40);
  });

  it('summarizes each answer for the work log, naming the first places found', async () => {
    const server = new ScriptedServer(['references', 'diagnostics'], () => Array.from({ length: 7 }, (_, line) => location(uriOf('src/cart.ts'), line)));
    const tools = toolsFor(server);
    const outcome = await tools.run('references', { path: 'src/cart.ts', line: 1, symbol: 'Item' }, never);
    expect(outcome.summary).toBe('references {"path":"src/cart.ts","line":1,"symbol":"Item"} -> 7 locations: src/cart.ts:1, src/cart.ts:2, src/cart.ts:3, src/cart.ts:4, src/cart.ts:5, ...');
    expect(outcome.note).toBe('references of Item at src/cart.ts:1: 7 locations');
    // A file the editor has not opened, answered at once: it is not opened for the question.
    expect(server.asked).toHaveLength(1);

    const documents = new DocumentStore();
    documents.open({ uri: uriOf('src/cart.ts'), languageId: 'typescript', version: 1, text: cartTs });
    const at = { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } };
    server.published.set(uriOf('src/cart.ts'), [{ range: at, message: 'bad' }, { range: at, message: 'meh', severity: 2 }]);
    const diagnostics = await toolsFor(server, documents).run('diagnostics', { path: 'src/cart.ts' }, never);
    expect(diagnostics.note).toBe('diagnostics of src/cart.ts: 1 error, 1 other');
    expect(diagnostics.summary).toBe('diagnostics {"path":"src/cart.ts"} -> 2 (1 errors)');
  });

  it('opens the file for the question after an empty list too, and never for an open one', async () => {
    const server = new ScriptedServer(['references'], (_method, _params, opened) => (opened.length === 0 ? [] : [location(uriOf('src/cart.ts'), 0)]));
    await toolsFor(server).run('references', { path: 'src/cart.ts', line: 1, symbol: 'Item' }, never);
    expect(server.asked.map((asked) => asked.opened.length)).toEqual([0, 1]);
  });

  it('refuses malformed positions with a reason', async () => {
    const tools = toolsFor(new ScriptedServer(['hover'], () => null));
    const content = async (input: unknown) => (await tools.run('hover', input, never)).content;
    expect(await content({ path: 'src/cart.ts', line: 0, symbol: 'x' })).toBe('Invalid input for hover: "line" must be a whole number of at least 1.');
    expect(await content({ path: 'src/cart.ts', line: 1.5, symbol: 'x' })).toBe('Invalid input for hover: "line" must be a whole number of at least 1.');
    expect(await content({ path: 'src/cart.ts', line: '3', symbol: 'x' })).toBe('Invalid input for hover: "line" must be a whole number of at least 1.');
    expect(await content({ path: 'src/cart.ts', symbol: 'x' })).toBe('Invalid input for hover: "line" is required: a whole number of at least 1.');
    expect(await content({ path: 'src/cart.ts', line: 1, symbol: 5 })).toBe('Invalid input for hover: "symbol" must be a string.');
    expect(await content({ path: '  ', line: 1, symbol: 'x' })).toBe('Invalid input for hover: "path" is required: the file, relative to the workspace folder.');
    expect(await content({ path: 'src/missing.ts', line: 1, symbol: 'x' })).toBe('Invalid input for hover: src/missing.ts does not exist.');
    expect(await content({ path: 'src/cart.ts', line: 6, symbol: 'item', occurrence: 3 })).toBe(
      'Invalid input for hover: "item" does not occur 3 times on line 6 of src/cart.ts, which reads:   return items.reduce((sum, item) => sum + item.price, 0);',
    );
    expect(await content('not an object')).toBe('Invalid input for hover: "path" is required: the file, relative to the workspace folder.');
  });

  it('turns a failing server into an answer the model can read', async () => {
    const server = new ScriptedServer(['hover'], () => {
      throw new Error('scripted-ls did not answer textDocument/hover within 20 s.');
    });
    const outcome = await toolsFor(server).run('hover', { path: 'src/cart.ts', line: 5, symbol: 'cartTotal' }, never);
    expect(outcome).toMatchObject({ isError: true, content: 'hover failed: scripted-ls did not answer textDocument/hover within 20 s.' });
  });
});

describe('what the tools make of the answers', () => {
  it('finds a symbol as a whole word before a part of one', () => {
    expect(symbolColumn('const total = subtotal + total;', 'total')).toBe(6);
    expect(symbolColumn('const total = subtotal + total;', 'total', 2)).toBe(25);
    expect(symbolColumn('const subtotal = 1;', 'total')).toBe(9);
    expect(symbolColumn('const a = 1;', 'b')).toBeUndefined();
    expect(symbolColumn('const a = 1;', '')).toBeUndefined();
  });

  it('reads Location, Location[] and LocationLink[]', () => {
    expect(placesOf(null)).toEqual([]);
    expect(placesOf(location('file:///a.ts', 2))).toEqual([{ uri: 'file:///a.ts', line: 2 }]);
    expect(placesOf([{ targetUri: 'file:///b.ts', targetRange: {}, targetSelectionRange: { start: { line: 7, character: 0 } } }, { junk: true }])).toEqual([{ uri: 'file:///b.ts', line: 7 }]);
    // Malformed ones are skipped: no line, a link without its selection, a uri that is not a string, null.
    expect(placesOf([{ uri: 'file:///a.ts', range: {} }, { targetUri: 'file:///b.ts', targetRange: { start: { line: 1 } } }, { uri: 5, range: { start: { line: 1 } } }, null, 'x'])).toEqual([]);
    expect(placesOf(undefined)).toEqual([]);
  });

  it('makes plain text of every hover shape', () => {
    expect(hoverText({ contents: { kind: 'markdown', value: '```typescript\nfunction f(): void\n```\nDoes f.' } })).toBe('function f(): void\nDoes f.');
    expect(hoverText({ contents: [{ language: 'python', value: 'def greet(name)' }, 'Say hello.'] })).toBe('def greet(name)\n\nSay hello.');
    expect(hoverText({ contents: '' })).toBe('');
    expect(hoverText(null)).toBe('');
  });

  it('names every LSP symbol kind', () => {
    const kinds = symbolOutline([...Array.from({ length: 26 }, (_, i) => ({ name: 'n', kind: i + 1 })), { name: 'n', kind: 99 }, { name: 'n' }]).map((line) => line.slice(0, -2));
    expect(kinds).toEqual([
      'file', 'module', 'namespace', 'package', 'class', 'method', 'property', 'field', 'constructor', 'enum', 'interface', 'function', 'variable',
      'constant', 'string', 'number', 'boolean', 'array', 'object', 'key', 'null', 'enum member', 'struct', 'event', 'operator', 'type parameter', 'symbol', 'symbol',
    ]);
  });

  it('outlines nested and flat symbols', () => {
    const nested = [{ name: 'Cart', kind: 5, selectionRange: { start: { line: 0 } }, children: [{ name: 'total', kind: 6, detail: '(): number', selectionRange: { start: { line: 3 } } }] }];
    expect(symbolOutline(nested)).toEqual(['class Cart (line 1)', '  method total - (): number (line 4)']);
    expect(symbolOutline([{ name: 'greet', kind: 12, location: { uri: 'file:///g.py', range: { start: { line: 0 } } } }])).toEqual(['function greet (line 1)']);
  });

  it('lists diagnostics errors first, one line each', () => {
    const at = (line: number) => ({ start: { line, character: 0 }, end: { line, character: 1 } });
    expect(renderDiagnostics('a.py', [{ range: at(0), message: 'style', severity: 3 }, { range: at(4), message: 'undefined name' }])).toEqual(['a.py:5: error: undefined name', 'a.py:1: info: style']);
  });

  it('names the language of a file the editor has not opened', () => {
    expect(languageIdFor('src/a.tsx')).toBe('typescriptreact');
    expect(languageIdFor('main.PY')).toBe('python');
    expect(languageIdFor('Makefile')).toBe('plaintext');
    expect(languageIdFor('x.zig')).toBe('zig');
    expect(['a.ts', 'a.mts', 'a.cts', 'a.js', 'a.mjs', 'a.cjs', 'a.jsx', 'a.pyi', 'a.rs', 'a.go', 'a.java', 'a.rb', 'a.c', 'a.h', 'a.cc', 'a.cpp', 'a.hpp', 'a.cs', 'a.el', 'a.lua', 'a.sh'].map(languageIdFor)).toEqual([
      'typescript', 'typescript', 'typescript', 'javascript', 'javascript', 'javascript', 'javascriptreact', 'python', 'rust', 'go', 'java', 'ruby',
      'c', 'c', 'cpp', 'cpp', 'cpp', 'csharp', 'emacs-lisp', 'lua', 'shellscript',
    ]);
  });
});
