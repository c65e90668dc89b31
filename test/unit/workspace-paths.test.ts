/**
 * Confinement's building blocks on their own: which workspace folders count,
 * how a requested path is found (or refused, and how the refusal reads), how
 * a file is read and a folder listed. The tools around them:
 * test/unit/workspace-tools.test.ts; races: workspace-paths-races.test.ts and
 * workspace-confinement.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { link, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  containingRoot,
  formatBytes,
  isBinary,
  listDirectoryExactly,
  locate,
  readTextFile,
  realpathOrUndefined,
  relativeInside,
  resolveRoots,
  toFilePath,
  type Located,
  type WorkspaceRoot,
} from '../../server/src/agent/workspace-paths.js';

const secretsRefused = { allowSecretFiles: false };

let base: string;
let shop: string;
let admin: string;
let outside: string;
let shopRoots: WorkspaceRoot[];
let bothRoots: WorkspaceRoot[];

async function write(path: string, content: string | Uint8Array): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, content);
}

beforeAll(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'efrit-workspace-paths-')));
  shop = join(base, 'shop');
  admin = join(base, 'admin');
  outside = join(base, 'outside');
  await write(join(shop, 'src', 'cart.ts'), 'export const cartTotal = (cents: number): number => cents;\n');
  await write(join(shop, 'notes.txt~'), 'an editor backup\n');
  await write(join(shop, '.env'), 'API_KEY=sk-fake-0123\n');
  await write(join(admin, 'panel.ts'), 'export const panel = true;\n');
  await write(join(admin, 'src', 'cart.ts'), 'export const adminCart = true;\n');
  await write(join(outside, 'notes.md'), 'outside\n');
  shopRoots = await resolveRoots([shop]);
  bothRoots = await resolveRoots([shop, admin]);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const inside = (located: Located) => {
  expect(located.kind, located.kind === 'refused' ? located.reason : '').toBe('inside');
  return located as Located & { kind: 'inside' };
};

describe('resolveRoots', () => {
  it('keeps the absolute folders that exist, as paths or file: URIs, by their real path, once each', async () => {
    await symlink(shop, join(base, 'shop-link'));
    await write(join(base, 'README.md'), '# not a folder\n');
    const roots = await resolveRoots([
      join(base, 'shop-link'),
      shop,
      pathToFileURL(admin).href,
      'test',
      './shop',
      join(base, 'missing'),
      join(base, 'README.md'),
      'file://fileserver/share/project',
    ]);
    expect(roots).toEqual([
      { path: join(base, 'shop-link'), realPath: shop, name: 'shop' },
      { path: admin, realPath: admin, name: 'admin' },
    ]);
  });

  it("names the file system's root folder by its path", async () => {
    expect(await resolveRoots(['/'])).toEqual([{ path: '/', realPath: '/', name: '/' }]);
  });
});

describe('locate', () => {
  it('finds a file relative to the folder, absolute, as a file: URI, with spaces around', async () => {
    for (const requested of ['src/cart.ts', join(shop, 'src', 'cart.ts'), pathToFileURL(join(shop, 'src', 'cart.ts')).href, '  src/cart.ts\n', 'src/../src/cart.ts']) {
      expect(await locate(requested, shopRoots, secretsRefused), requested).toEqual({
        kind: 'inside',
        root: shopRoots[0],
        lexicalPath: join(shop, 'src', 'cart.ts'),
        realPath: join(shop, 'src', 'cart.ts'),
        displayPath: 'src/cart.ts',
      });
    }
  });

  it('finds the folder itself as "." and a folder in it, which the read then refuses with a hint', async () => {
    expect(inside(await locate('.', shopRoots, secretsRefused)).displayPath).toBe('.');
    // Folders have several names on disk (. and ..), which is no hard link to refuse.
    expect(inside(await locate('src', shopRoots, secretsRefused))).toMatchObject({ displayPath: 'src', realPath: join(shop, 'src') });
  });

  it('refuses an empty path, a NUL, a home-relative path and a URI it cannot read, each saying why', async () => {
    const empty = 'The path is empty. Give a path relative to the workspace folder, e.g. "src/index.ts".';
    expect(await locate('', shopRoots, secretsRefused)).toEqual({ kind: 'refused', reason: empty });
    expect(await locate(' \t\n', shopRoots, secretsRefused)).toEqual({ kind: 'refused', reason: empty });
    expect(await locate('src/cart.ts\0.png', shopRoots, secretsRefused)).toEqual({ kind: 'refused', reason: 'The path contains a NUL character.' });
    expect(await locate('~/.ssh/id_rsa', shopRoots, secretsRefused)).toEqual({
      kind: 'refused',
      reason: `"~/.ssh/id_rsa" is outside the workspace, so it cannot be read. Only files inside the workspace folder (${shop}) can be read; give paths relative to it, e.g. "src/index.ts".`,
    });
    expect(await locate('file://fileserver/share/cart.ts', shopRoots, secretsRefused)).toEqual({ kind: 'refused', reason: '"file://fileserver/share/cart.ts" is not a file path or a file: URI.' });
  });

  it('reads a name that only ends with ~ (an editor backup) like any other', async () => {
    expect(inside(await locate('notes.txt~', shopRoots, secretsRefused)).displayPath).toBe('notes.txt~');
  });

  it('says no folder is open when there is none, and names no folders when refusing a home path then', async () => {
    expect(await locate('src/cart.ts', [], secretsRefused)).toEqual({
      kind: 'refused',
      reason: 'No workspace folder is open, so no files can be read from disk. Use list_documents and read_document for the open documents.',
    });
    expect(await locate('~/notes.md', [], secretsRefused)).toEqual({
      kind: 'refused',
      reason: '"~/notes.md" is outside the workspace, so it cannot be read. Only files inside the workspace folders (none open) can be read; give paths relative to one of them, e.g. "src/index.ts".',
    });
  });

  it('refuses a path outside every folder with the folders listed, whether it exists or not', async () => {
    const reason = (requested: string) =>
      `"${requested}" is outside the workspace, so it cannot be read. Only files inside the workspace folders (${shop}, ${admin}) can be read; give paths relative to one of them, e.g. "src/index.ts".`;
    expect(await locate(join(outside, 'notes.md'), bothRoots, secretsRefused)).toEqual({ kind: 'refused', reason: reason(join(outside, 'notes.md')) });
    expect(await locate('../outside/missing.md', bothRoots, secretsRefused)).toEqual({ kind: 'refused', reason: reason('../outside/missing.md') });
  });

  it('locates a file that does not exist yet inside the folder (an unsaved new file), in the first folder', async () => {
    expect(await locate('src/new-feature.ts', bothRoots, secretsRefused)).toEqual({
      kind: 'inside',
      root: bothRoots[0],
      lexicalPath: join(shop, 'src', 'new-feature.ts'),
      realPath: undefined,
      displayPath: 'shop/src/new-feature.ts',
    });
  });

  it('locates a new file in a folder opened through a symlink, named as the editor names it', async () => {
    await symlink(shop, join(base, 'shop-alias'));
    const [aliased] = await resolveRoots([join(base, 'shop-alias')]);
    expect(await locate('src/new-feature.ts', [aliased as WorkspaceRoot], secretsRefused)).toEqual({
      kind: 'inside',
      root: aliased,
      lexicalPath: join(base, 'shop-alias', 'src', 'new-feature.ts'),
      realPath: undefined,
      displayPath: 'src/new-feature.ts',
    });
  });

  it('names a file reached through a symlink from outside by where it really is in the folder', async () => {
    await symlink(join(shop, 'src'), join(outside, 'src-link'));
    expect(inside(await locate(join(outside, 'src-link', 'cart.ts'), shopRoots, secretsRefused))).toMatchObject({
      lexicalPath: join(outside, 'src-link', 'cart.ts'),
      realPath: join(shop, 'src', 'cart.ts'),
      displayPath: 'src/cart.ts',
    });
  });

  describe('with several folders', () => {
    it("reads folder/path as the file in the folder of that name, / or \\ alike, and the folder's name alone as the folder", async () => {
      expect(inside(await locate('admin/src/cart.ts', bothRoots, secretsRefused))).toMatchObject({ realPath: join(admin, 'src', 'cart.ts'), displayPath: 'admin/src/cart.ts' });
      expect(inside(await locate('admin\\panel.ts', bothRoots, secretsRefused))).toMatchObject({ realPath: join(admin, 'panel.ts'), displayPath: 'admin/panel.ts' });
      expect(inside(await locate('admin', bothRoots, secretsRefused))).toMatchObject({ root: bothRoots[1], realPath: admin, displayPath: 'admin/.' });
    });

    it('finds a path without a folder name in the first folder that has it', async () => {
      expect(inside(await locate('src/cart.ts', bothRoots, secretsRefused))).toMatchObject({ realPath: join(shop, 'src', 'cart.ts'), displayPath: 'shop/src/cart.ts' });
      expect(inside(await locate('panel.ts', bothRoots, secretsRefused))).toMatchObject({ realPath: join(admin, 'panel.ts'), displayPath: 'admin/panel.ts' });
    });

    it('takes a first folder with the name of its only workspace folder as an ordinary folder (Django’s mysite/mysite)', async () => {
      const mysite = join(base, 'mysite');
      await write(join(mysite, 'urls.py'), 'urlpatterns = []\n');
      await write(join(mysite, 'mysite', 'urls.py'), 'urlpatterns = ["admin/"]\n');
      const roots = await resolveRoots([mysite]);
      expect(inside(await locate('mysite/urls.py', roots, secretsRefused))).toMatchObject({ realPath: join(mysite, 'mysite', 'urls.py'), displayPath: 'mysite/urls.py' });
    });

    it('names a file by the innermost folder when folders are nested, whichever comes first', async () => {
      const nested = await resolveRoots([join(shop, 'src'), shop]);
      expect(inside(await locate(join(shop, 'src', 'cart.ts'), nested, secretsRefused))).toMatchObject({ root: nested[0], displayPath: 'src/cart.ts' });
      const outerFirst = await resolveRoots([shop, join(shop, 'src')]);
      expect(inside(await locate(join(shop, 'src', 'cart.ts'), outerFirst, secretsRefused))).toMatchObject({ root: outerFirst[1], displayPath: 'src/cart.ts' });
    });
  });

  it('finds a new file relative to the folder when the folder is the working directory, as editors often start the server', async () => {
    const roots = await resolveRoots([process.cwd()]);
    expect(inside(await locate('src/brand-new-module.ts', roots, secretsRefused))).toMatchObject({ realPath: undefined, displayPath: 'src/brand-new-module.ts' });
  });

  it('refuses secret-looking files unless they are allowed, by the name asked for or the name it points to', async () => {
    await symlink(join(shop, '.env'), join(shop, 'settings.txt'));
    const secret = (path: string) =>
      `${path} looks like it holds secrets (keys, credentials or environment files), so it is not read. If the user needs it read, they can enable the setting agent.allowSecretFiles.`;
    expect(await locate('.env', shopRoots, secretsRefused)).toEqual({ kind: 'refused', reason: secret('.env') });
    expect(await locate('settings.txt', shopRoots, secretsRefused)).toEqual({ kind: 'refused', reason: secret('settings.txt') });
    expect(await locate('.env.production', shopRoots, secretsRefused)).toEqual({ kind: 'refused', reason: secret('.env.production') });
    expect(inside(await locate('.env', shopRoots, { allowSecretFiles: true })).realPath).toBe(join(shop, '.env'));
    expect(inside(await locate('.env.production', shopRoots, { allowSecretFiles: true })).realPath).toBeUndefined();
  });

  it('refuses a hard-linked file, a secret one as a secret', async () => {
    await write(join(shop, 'docs', 'shared.md'), 'shared\n');
    await link(join(shop, 'docs', 'shared.md'), join(outside, 'shared.md'));
    expect(await locate('docs/shared.md', shopRoots, secretsRefused)).toEqual({
      kind: 'refused',
      reason:
        'docs/shared.md is a hard link (the file has 2 names on disk), and its other names may be outside the workspace or secret files, so it is not read. If the user needs it read, they can replace it with a copy.',
    });
    await write(join(shop, 'certs', 'server.pem'), '-----BEGIN PRIVATE KEY-----\n');
    await link(join(shop, 'certs', 'server.pem'), join(outside, 'server.pem'));
    expect((await locate('certs/server.pem', shopRoots, secretsRefused)) as { reason?: string }).toMatchObject({ reason: expect.stringContaining('certs/server.pem looks like it holds secrets') });
  });
});

describe('relativeInside and containingRoot', () => {
  it('gives the path relative to a folder it is in, and nothing for one outside', () => {
    expect(relativeInside('/work/shop', '/work/shop/src/cart.ts')).toBe('src/cart.ts');
    expect(relativeInside('/work/shop', '/work/shop')).toBe('');
    expect(relativeInside('/work/shop', '/work/shop/..cache/x')).toBe('..cache/x');
    expect(relativeInside('/work/shop', '/work/shopping/x')).toBeUndefined();
    expect(relativeInside('/work/shop', '/work')).toBeUndefined();
    expect(relativeInside('/work/shop', '/etc/passwd')).toBeUndefined();
  });

  it('picks the innermost folder holding a path, by the key asked for', () => {
    const roots: WorkspaceRoot[] = [
      { path: '/work/shop', realPath: '/data/shop', name: 'shop' },
      { path: '/work/shop/src', realPath: '/data/shop/src', name: 'src' },
    ];
    expect(containingRoot('/work/shop/src/cart.ts', roots, (root) => root.path)).toBe(roots[1]);
    expect(containingRoot('/work/shop/README.md', roots, (root) => root.path)).toBe(roots[0]);
    expect(containingRoot('/work/shop/src/cart.ts', roots, (root) => root.realPath)).toBeUndefined();
    expect(containingRoot('/data/shop/src/cart.ts', [...roots].reverse(), (root) => root.realPath)).toBe(roots[1]);
  });
});

describe('toFilePath and realpathOrUndefined', () => {
  it('turns file: URIs into paths, leaves paths alone, and has no answer for a URI on another host', async () => {
    expect(toFilePath('file:///work/shop/src/cart%20page.ts')).toBe('/work/shop/src/cart page.ts');
    expect(toFilePath('/work/shop/src/cart.ts')).toBe('/work/shop/src/cart.ts');
    expect(toFilePath('src/cart.ts')).toBe('src/cart.ts');
    expect(toFilePath('file://fileserver/share/cart.ts')).toBeUndefined();
    expect(await realpathOrUndefined(join(shop, 'src', '..', 'src', 'cart.ts'))).toBe(join(shop, 'src', 'cart.ts'));
    expect(await realpathOrUndefined(join(shop, 'missing.ts'))).toBeUndefined();
  });
});

describe('readTextFile', () => {
  const limits = (displayPath: string, maxFileBytes = 64) => ({ displayPath, maxFileBytes });

  it('reads a file up to exactly the limit, and refuses one byte more with both sizes', async () => {
    await write(join(shop, 'limit', 'exact.txt'), 'x'.repeat(64));
    await write(join(shop, 'limit', 'over.txt'), 'x'.repeat(65));
    expect(await readTextFile(join(shop, 'limit', 'exact.txt'), limits('limit/exact.txt'))).toEqual({ kind: 'text', text: 'x'.repeat(64), bytes: 64 });
    expect(await readTextFile(join(shop, 'limit', 'over.txt'), limits('limit/over.txt'))).toEqual({
      kind: 'refused',
      cause: 'tooBig',
      reason:
        'limit/over.txt is too big to read (65 bytes; the limit is 64 bytes). Use search_workspace to find what you need in other files, or ask the user to open the relevant part in the editor and use read_document.',
    });
  });

  it('decodes UTF-8 and counts bytes, not characters', async () => {
    await write(join(shop, 'src', 'prices.ts'), "export const euro = '€';\n");
    expect(await readTextFile(join(shop, 'src', 'prices.ts'), limits('src/prices.ts'))).toEqual({ kind: 'text', text: "export const euro = '€';\n", bytes: 27 });
  });

  it('refuses a binary file, a folder (with a hint), a symlink and a FIFO, each saying why', async () => {
    await write(join(shop, 'assets', 'logo.png'), Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0x0d]));
    expect(await readTextFile(join(shop, 'assets', 'logo.png'), limits('assets/logo.png'))).toEqual({
      kind: 'refused',
      cause: 'binary',
      reason: 'assets/logo.png is a binary file (it contains NUL bytes), so it is not shown as text.',
    });
    expect(await readTextFile(join(shop, 'src'), limits('src/'))).toEqual({
      kind: 'refused',
      cause: 'directory',
      reason: 'src/ is a directory, not a file. To find files in it, use search_workspace with glob "src/**"; list_documents shows the files open in the editor.',
    });
    await symlink(join(shop, 'src', 'cart.ts'), join(shop, 'cart-link.ts'));
    expect(await readTextFile(join(shop, 'cart-link.ts'), limits('cart-link.ts'))).toEqual({
      kind: 'refused',
      cause: 'pathChanged',
      reason: 'cart-link.ts changed while it was being opened (a folder on its path was replaced, e.g. by a symlink), so it was not read. Try again if it should be there.',
    });
    execFileSync('mkfifo', [join(shop, 'events.fifo')]);
    expect(await readTextFile(join(shop, 'events.fifo'), limits('events.fifo'))).toEqual({
      kind: 'refused',
      cause: 'notRegularFile',
      reason: 'events.fifo is not a regular file (a device, socket or pipe), so it cannot be read.',
    });
  });
});

describe('listDirectoryExactly', () => {
  it('lists a folder with the kind of each entry, and nothing for a file or a missing folder', async () => {
    const entries = await listDirectoryExactly(admin);
    expect(entries?.map((entry) => [entry.name, entry.isDirectory()]).sort()).toEqual([
      ['panel.ts', false],
      ['src', true],
    ]);
    expect(await listDirectoryExactly(join(admin, 'panel.ts'))).toBeUndefined();
    expect(await listDirectoryExactly(join(admin, 'missing'))).toBeUndefined();
  });
});

describe('isBinary and formatBytes', () => {
  it('calls bytes binary when a NUL is in the first 8 KiB, as git does', () => {
    expect(isBinary(new TextEncoder().encode('plain text\n'))).toBe(false);
    expect(isBinary(Uint8Array.from([0x61, 0, 0x62]))).toBe(true);
    const lateNul = new Uint8Array(8193).fill(0x61);
    lateNul[8192] = 0;
    expect(isBinary(lateNul)).toBe(false);
    lateNul[8191] = 0;
    expect(isBinary(lateNul)).toBe(true);
  });

  it('shows sizes in bytes, KiB and MiB with one decimal', () => {
    expect(formatBytes(0)).toBe('0 bytes');
    expect(formatBytes(1023)).toBe('1023 bytes');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(1024 * 1024 - 1)).toBe('1024.0 KiB');
    expect(formatBytes(1024 * 1024)).toBe('1.0 MiB');
    expect(formatBytes(5.5 * 1024 * 1024)).toBe('5.5 MiB');
  });
});
