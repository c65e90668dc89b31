/**
 * The walk behind search_workspace, run in-process (the server runs it in the
 * search worker; test/unit/search-runner.test.ts and workspace-tools.test.ts
 * cover that path): what it reads and skips, in which order, how lines are
 * numbered and shown, and where it stops.
 */
import { link, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGlob } from '../../server/src/agent/workspace-glob.js';
import { resolveRoots, type WorkspaceRoot } from '../../server/src/agent/workspace-paths.js';
import {
  displayIn,
  emptyCounts,
  lineMatcher,
  searchWorkspace,
  type SearchableDocument,
  type SearchCounts,
  type SearchMatch,
  type SearchRequest,
} from '../../server/src/agent/workspace-search.js';

let base: string;
let shop: string;
let roots: WorkspaceRoot[];

async function write(path: string, content: string | Uint8Array): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, content);
}

beforeAll(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'efrit-workspace-search-')));
  shop = join(base, 'shop');
  await write(join(shop, 'README.md'), '# Shop\n\nThe cart adds items with addItem.\n');
  await write(join(shop, 'package.json'), '{ "name": "shop", "main": "src/cart.ts" }\n');
  await write(join(shop, 'src', 'cart.ts'), 'export function addItem(cart: string[], item: string): string[] {\n  return [...cart, item];\n}\n');
  await write(join(shop, 'src', 'util', 'money.ts'), '// addItem never sees money\nexport const cents = (n: number): number => n;\n');
  await write(join(shop, 'lib', 'legacy.js'), 'module.exports.addItem = function addItem() {};\n');
  for (const skipped of ['node_modules', '.git', '.hg', '.svn', 'dist', 'build', 'out', 'coverage']) await write(join(shop, skipped, 'copy.js'), 'addItem();\n');
  await write(join(shop, '.env'), 'ADD_ITEM_TOKEN=addItem-secret\n');
  await write(join(shop, '.aws', 'notes.txt'), 'addItem in the cloud\n');
  await write(join(shop, 'assets', 'logo.png'), Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0x61, 0x64, 0x64, 0x49, 0x74, 0x65, 0x6d]));
  await write(join(shop, 'logs', 'big.log'), 'addItem was called\n'.repeat(200));
  await write(join(base, 'outside', 'elsewhere.ts'), 'addItem from outside\n');
  await symlink(join(base, 'outside'), join(shop, 'linked-folder'));
  await symlink(join(base, 'outside', 'elsewhere.ts'), join(shop, 'linked-file.ts'));
  roots = await resolveRoots([shop]);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

function request(overrides: Partial<SearchRequest> = {}, searchRoots: readonly WorkspaceRoot[] = roots): SearchRequest {
  return {
    matchLine: lineMatcher('addItem', false, true),
    glob: undefined,
    maxResults: 100,
    maxFilesScanned: 100,
    maxFileBytes: 1024,
    allowSecretFiles: false,
    displayPathOf: (root, path) => displayIn(root, path, searchRoots),
    ...overrides,
  };
}

const where = (matches: readonly SearchMatch[]) => matches.map((match) => `${match.displayPath}:${match.line}`);

describe('searchWorkspace', () => {
  it("finds matches depth first, a folder's files before its subfolders, each in name order, and counts what it skipped", async () => {
    const result = await searchWorkspace(roots, [], request());
    expect(result.matches).toEqual([
      { displayPath: 'README.md', line: 3, text: 'The cart adds items with addItem.' },
      { displayPath: 'lib/legacy.js', line: 1, text: 'module.exports.addItem = function addItem() {};' },
      { displayPath: 'src/cart.ts', line: 1, text: 'export function addItem(cart: string[], item: string): string[] {' },
      { displayPath: 'src/util/money.ts', line: 1, text: '// addItem never sees money' },
    ]);
    // Scanned: README.md, lib/legacy.js, package.json, src/cart.ts, src/util/money.ts; assets/logo.png is binary, logs/big.log too big, .env secret.
    expect(result).toMatchObject({ stop: 'complete', filesScanned: 5, filesWithMatches: 4, skippedBinary: 1, skippedTooBig: 1, skippedSecret: 1 });
  });

  it('never follows a symlink, to a file or a folder, and skips dependency, build and VCS folders', async () => {
    const result = await searchWorkspace(roots, [], request());
    const paths = result.matches.map((match) => match.displayPath).join('\n');
    for (const name of ['linked-folder', 'linked-file.ts', 'elsewhere', 'node_modules', '.git', '.hg', '.svn', 'dist', 'build', 'out', 'coverage']) expect(paths).not.toContain(name);
  });

  it('searches secret-looking files and folders only when they are allowed', async () => {
    const allowed = await searchWorkspace(roots, [], request({ allowSecretFiles: true, glob: compileGlob('{.env,.aws/**}') }));
    expect(where(allowed.matches)).toEqual(['.env:1', '.aws/notes.txt:1']);
    expect(allowed.skippedSecret).toBe(0);
    const refused = await searchWorkspace(roots, [], request({ glob: compileGlob('{.env,.aws/**}') }));
    expect(refused.matches).toEqual([]);
    expect(refused).toMatchObject({ filesScanned: 0, skippedSecret: 1 });
  });

  it('reads only the files the glob wants, and does not count the others as skipped', async () => {
    const result = await searchWorkspace(roots, [], request({ glob: compileGlob('src/**/*.ts') }));
    expect(where(result.matches)).toEqual(['src/cart.ts:1', 'src/util/money.ts:1']);
    expect(result).toMatchObject({ stop: 'complete', filesScanned: 2, filesWithMatches: 2, skippedBinary: 0, skippedTooBig: 0, skippedSecret: 0 });
  });

  it("searches open documents first, as the editor has them, and not their files on disk again", async () => {
    const cart = roots[0] as WorkspaceRoot;
    const open: SearchableDocument[] = [
      { lexicalPath: join(shop, 'src', 'cart.ts'), realPath: join(shop, 'src', 'cart.ts'), root: cart, displayPath: 'src/cart.ts', text: () => Promise.resolve('// unsaved\nconst again = addItem([], "pear");\n') },
      { lexicalPath: join(shop, 'src', 'draft.ts'), realPath: undefined, root: cart, displayPath: 'src/draft.ts', text: () => Promise.resolve('addItem(draft);\n') },
    ];
    const result = await searchWorkspace(roots, open, request());
    expect(result.matches.slice(0, 2)).toEqual([
      { displayPath: 'src/cart.ts', line: 2, text: 'const again = addItem([], "pear");' },
      { displayPath: 'src/draft.ts', line: 1, text: 'addItem(draft);' },
    ]);
    expect(where(result.matches).filter((at) => at.startsWith('src/cart.ts'))).toEqual(['src/cart.ts:2']);
    // The two open documents, then README.md, lib/legacy.js, package.json and src/util/money.ts from disk.
    expect(result.filesScanned).toBe(6);
  });

  it("skips the file on disk of an open document known by another name (a symlink's), and applies the glob to open documents", async () => {
    const cart = roots[0] as WorkspaceRoot;
    const readme: SearchableDocument = {
      lexicalPath: join(shop, 'docs-link', 'README.md'),
      realPath: join(shop, 'README.md'),
      root: cart,
      displayPath: 'docs-link/README.md',
      text: () => Promise.resolve('addItem, as edited\n'),
    };
    const legacy: SearchableDocument = { lexicalPath: join(shop, 'lib', 'legacy.js'), realPath: join(shop, 'lib', 'legacy.js'), root: cart, displayPath: 'lib/legacy.js', text: () => Promise.reject(new Error('not wanted by the glob')) };
    const result = await searchWorkspace(roots, [readme, legacy], request({ glob: compileGlob('*.md') }));
    expect(where(result.matches)).toEqual(['docs-link/README.md:1']);
  });

  it('stops at maxFilesScanned before reading one file more, open documents counted', async () => {
    const exactly = await searchWorkspace(roots, [], request({ glob: compileGlob('src/**'), maxFilesScanned: 2 }));
    expect(exactly).toMatchObject({ stop: 'complete', filesScanned: 2 });
    const fewer = await searchWorkspace(roots, [], request({ glob: compileGlob('src/**'), maxFilesScanned: 1 }));
    expect(fewer).toMatchObject({ stop: 'maxFilesScanned', filesScanned: 1 });
    expect(where(fewer.matches)).toEqual(['src/cart.ts:1']);
    const open: SearchableDocument = { lexicalPath: join(shop, 'notes.md'), realPath: undefined, root: roots[0] as WorkspaceRoot, displayPath: 'notes.md', text: () => Promise.resolve('no match here\n') };
    const withOpen = await searchWorkspace(roots, [open], request({ glob: compileGlob('{notes.md,src/**}'), maxFilesScanned: 2 }));
    expect(withOpen).toMatchObject({ stop: 'maxFilesScanned', filesScanned: 2 });
    expect(where(withOpen.matches)).toEqual(['src/cart.ts:1']);
  });

  it('stops at maxResults when one match more is found, keeping the ones it had', async () => {
    const exactly = await searchWorkspace(roots, [], request({ glob: compileGlob('logs/**'), maxFileBytes: 1 << 20, maxResults: 200 }));
    expect(exactly).toMatchObject({ stop: 'complete', filesWithMatches: 1 });
    expect(exactly.matches).toHaveLength(200);
    const fewer = await searchWorkspace(roots, [], request({ glob: compileGlob('logs/**'), maxFileBytes: 1 << 20, maxResults: 3 }));
    expect(fewer).toMatchObject({ stop: 'maxResults', filesScanned: 1, filesWithMatches: 1 });
    expect(where(fewer.matches)).toEqual(['logs/big.log:1', 'logs/big.log:2', 'logs/big.log:3']);
    // Stopped inside an open document, the disk is not walked at all.
    const open: SearchableDocument = { lexicalPath: join(shop, 'scratch.ts'), realPath: undefined, root: roots[0] as WorkspaceRoot, displayPath: 'scratch.ts', text: () => Promise.resolve('addItem\naddItem\n') };
    const inOpen = await searchWorkspace(roots, [open], request({ maxResults: 1 }));
    expect(inOpen).toMatchObject({ stop: 'maxResults', filesScanned: 1 });
    expect(where(inOpen.matches)).toEqual(['scratch.ts:1']);
  });

  it('tells of each file before it is searched and each match as it is found, with the counts at that moment', async () => {
    const files: [string, SearchCounts][] = [];
    const found: [string, SearchCounts][] = [];
    await searchWorkspace(roots, [], request({
      glob: compileGlob('{README.md,src/*.ts,logs/*}'),
      onFile: (file, counts) => files.push([file, counts]),
      onMatch: (match, counts) => found.push([`${match.displayPath}:${match.line}`, counts]),
    }));
    expect(files).toEqual([
      ['README.md', emptyCounts()],
      ['logs/big.log', { ...emptyCounts(), filesScanned: 1, filesWithMatches: 1 }],
      ['src/cart.ts', { ...emptyCounts(), filesScanned: 1, filesWithMatches: 1, skippedTooBig: 1 }],
    ]);
    expect(found).toEqual([
      ['README.md:3', { ...emptyCounts(), filesScanned: 1, filesWithMatches: 1 }],
      ['src/cart.ts:1', { ...emptyCounts(), filesScanned: 2, filesWithMatches: 2, skippedTooBig: 1 }],
    ]);
    expect(emptyCounts()).toEqual({ filesScanned: 0, filesWithMatches: 0, skippedBinary: 0, skippedTooBig: 0, skippedSecret: 0 });
  });

  it('numbers lines broken by \\n, \\r\\n or \\r alike, counts the empty line after a final break, and a file with several matches once', async () => {
    const text = 'addItem one\r\nskip\raddItem three\n\naddItem five';
    const open: SearchableDocument = { lexicalPath: join(shop, 'mixed.txt'), realPath: undefined, root: roots[0] as WorkspaceRoot, displayPath: 'mixed.txt', text: () => Promise.resolve(text) };
    const result = await searchWorkspace([], [open], request());
    expect(result.matches).toEqual([
      { displayPath: 'mixed.txt', line: 1, text: 'addItem one' },
      { displayPath: 'mixed.txt', line: 3, text: 'addItem three' },
      { displayPath: 'mixed.txt', line: 5, text: 'addItem five' },
    ]);
    expect(result).toMatchObject({ filesScanned: 1, filesWithMatches: 1 });
    const emptyLines = (content: string) => {
      const doc: SearchableDocument = { ...open, text: () => Promise.resolve(content) };
      return searchWorkspace([], [doc], request({ matchLine: lineMatcher('^$', true, true) })).then((found) => found.matches.map((match) => match.line));
    };
    expect(await emptyLines('a\n')).toEqual([2]);
    expect(await emptyLines('a\r\n')).toEqual([2]);
    expect(await emptyLines('a\r')).toEqual([2]);
    expect(await emptyLines('')).toEqual([1]);
    expect(await emptyLines('a\r\rb')).toEqual([2]);
  });

  it('shows a long matching line cut around the match, saying how much was left out on each side', async () => {
    const shown = async (line: string) => {
      const doc: SearchableDocument = { lexicalPath: join(shop, 'min.js'), realPath: undefined, root: roots[0] as WorkspaceRoot, displayPath: 'min.js', text: () => Promise.resolve(`${line}\n`) };
      return (await searchWorkspace([], [doc], request({ matchLine: lineMatcher('NEEDLE', false, true) }))).matches[0]?.text;
    };
    const fits = `${'x'.repeat(234)}NEEDLE`;
    expect(await shown(`${fits}   `)).toBe(fits);
    expect(await shown(`${'a'.repeat(100)}NEEDLE${'b'.repeat(394)}`)).toBe(`...[+40 chars]${'a'.repeat(60)}NEEDLE${'b'.repeat(174)}...[+220 chars]`);
    expect(await shown(`${'a'.repeat(150)}NEEDLE${'b'.repeat(144)}`)).toBe(`...[+60 chars]${'a'.repeat(90)}NEEDLE${'b'.repeat(144)}`);
    expect(await shown(`${'a'.repeat(10)}NEEDLE${'b'.repeat(300)}`)).toBe(`${'a'.repeat(10)}NEEDLE${'b'.repeat(224)}...[+76 chars]`);
    expect(await shown(`NEEDLE${'b'.repeat(235)}`)).toBe(`NEEDLE${'b'.repeat(234)}...[+1 chars]`);
    expect(await shown(`${'a'.repeat(60)}NEEDLE${'b'.repeat(200)}`)).toBe(`${'a'.repeat(60)}NEEDLE${'b'.repeat(174)}...[+26 chars]`);
    expect(await shown(`${'a'.repeat(61)}NEEDLE${'b'.repeat(200)}`)).toBe(`...[+1 chars]${'a'.repeat(60)}NEEDLE${'b'.repeat(174)}...[+26 chars]`);
  });
});

describe('the order of the walk', () => {
  it('takes names in UTF-16 code-unit order, whatever order the folder lists them in', async () => {
    const folder = join(base, 'order');
    // Node lists a folder sorted by UTF-8 bytes on Linux and unsorted elsewhere; the fullwidth Ａ (U+FF21) and 😀 (U+1F600) come in the other order by UTF-16.
    for (const name of ['b.ts', 'a.ts', 'C.ts', '_x.ts', '9.ts', '10.ts', 'é.ts', 'Ａ.ts', '😀.ts', 'Z', 'A']) {
      await write(name === 'Z' || name === 'A' ? join(folder, name, 'inner.ts') : join(folder, name), 'addItem\n');
    }
    const orderRoots = await resolveRoots([folder]);
    const result = await searchWorkspace(orderRoots, [], request({}, orderRoots));
    expect(result.matches.map((match) => match.displayPath)).toEqual(['10.ts', '9.ts', 'C.ts', '_x.ts', 'a.ts', 'b.ts', 'é.ts', '😀.ts', 'Ａ.ts', 'A/inner.ts', 'Z/inner.ts']);
  });

  it('skips a folder that is gone by the time it is walked', async () => {
    const folder = join(base, 'short-lived');
    await write(join(folder, 'cart.ts'), 'addItem\n');
    const goneRoots = await resolveRoots([folder]);
    await rm(folder, { recursive: true });
    expect(await searchWorkspace(goneRoots, [], request({}, goneRoots))).toEqual({ matches: [], stop: 'complete', ...emptyCounts() });
  });
});

describe('several folders', () => {
  let nested: WorkspaceRoot[];
  let twoFolders: WorkspaceRoot[];

  beforeAll(async () => {
    await write(join(base, 'admin', 'panel.ts'), 'addItem(adminCart, item);\n');
    nested = await resolveRoots([shop, join(shop, 'src')]);
    twoFolders = await resolveRoots([join(base, 'admin'), join(shop, 'src')]);
  });

  it('walks a folder nested in another once, as part of the outer one', async () => {
    const result = await searchWorkspace(nested, [], request({ glob: compileGlob('**/*.ts') }, nested));
    expect(where(result.matches)).toEqual(['shop/src/cart.ts:1', 'shop/src/util/money.ts:1']);
    expect(result.filesScanned).toBe(2);
  });

  it('names files by folder when there are several, in the order of the folders', async () => {
    const result = await searchWorkspace(twoFolders, [], request({}, twoFolders));
    expect(where(result.matches)).toEqual(['admin/panel.ts:1', 'src/cart.ts:1', 'src/util/money.ts:1']);
  });
});

describe('displayIn', () => {
  it("names a file relative to its folder's real path or to the folder as configured, through a symlink", async () => {
    await symlink(shop, join(base, 'shop-link'));
    const [throughLink] = await resolveRoots([join(base, 'shop-link')]);
    const root = throughLink as WorkspaceRoot;
    expect(root.path).toBe(join(base, 'shop-link'));
    expect(displayIn(root, join(shop, 'src', 'cart.ts'), [root])).toBe('src/cart.ts');
    expect(displayIn(root, join(base, 'shop-link', 'src', 'cart.ts'), [root])).toBe('src/cart.ts');
    expect(displayIn(root, join(base, 'shop-link', 'src', 'cart.ts'), [root, root])).toBe('shop/src/cart.ts');
    expect(displayIn(root, join(base, 'outside', 'elsewhere.ts'), [root])).toBe(join(base, 'outside', 'elsewhere.ts'));
  });

  it('matches an open document by the glob relative to the folder as configured, when it is named through the symlink', async () => {
    const [throughLink] = await resolveRoots([join(base, 'shop-link')]);
    const root = throughLink as WorkspaceRoot;
    const open: SearchableDocument = { lexicalPath: join(base, 'shop-link', 'src', 'open.ts'), realPath: undefined, root, displayPath: 'src/open.ts', text: () => Promise.resolve('addItem\n') };
    const result = await searchWorkspace([], [open], request({ glob: compileGlob('src/open.ts') }, [root]));
    expect(where(result.matches)).toEqual(['src/open.ts:1']);
    const outsideDoc: SearchableDocument = { ...open, lexicalPath: join(base, 'outside', 'src', 'open.ts') };
    expect((await searchWorkspace([], [outsideDoc], request({ glob: compileGlob('**') }, [root]))).matches).toEqual([]);
  });
});

describe('lineMatcher', () => {
  it('finds text case-insensitively unless asked, at the index of the first match', () => {
    expect(lineMatcher('additem', false, false)('cart.addItem(x); addItem(y)')).toBe(5);
    expect(lineMatcher('ADDITEM', false, false)('cart.addItem(x)')).toBe(5);
    expect(lineMatcher('additem', false, true)('cart.addItem(x)')).toBe(-1);
    expect(lineMatcher('addItem', false, true)('cart.addItem(x)')).toBe(5);
    // Not a regex: the dot and parentheses are plain characters.
    expect(lineMatcher('a.b()', false, true)('axb()')).toBe(-1);
    expect(lineMatcher('a.b()', false, true)('call a.b()')).toBe(5);
  });

  it('takes a regular expression, case-insensitive unless asked, and refuses an invalid one', () => {
    expect(lineMatcher('add\\w+\\(', true, true)('cart.addItem(x)')).toBe(5);
    expect(lineMatcher('ADD\\w+', true, false)('cart.addItem(x)')).toBe(5);
    expect(lineMatcher('ADD\\w+', true, true)('cart.addItem(x)')).toBe(-1);
    expect(lineMatcher('^$', true, true)('')).toBe(0);
    expect(() => lineMatcher('add(', true, true)).toThrow(SyntaxError);
  });
});

describe('hard links', () => {
  it("does not read a file with a second name (its content may be a secret's), nor count it as binary or too big", async () => {
    const root = join(base, 'linked');
    await write(join(root, 'notes.txt'), 'addItem notes\n');
    await write(join(root, 'shared.txt'), 'addItem shared\n');
    await link(join(root, 'shared.txt'), join(base, 'shared-elsewhere.txt'));
    const linkedRoots = await resolveRoots([root]);
    const result = await searchWorkspace(linkedRoots, [], request({}, linkedRoots));
    expect(where(result.matches)).toEqual(['notes.txt:1']);
    expect(result).toMatchObject({ filesScanned: 1, skippedBinary: 0, skippedTooBig: 0 });
  });
});
