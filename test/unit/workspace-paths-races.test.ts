/**
 * The races confinement must win, made deterministic: the real `node:fs` is
 * used throughout, but each test can run a step of its own at the exact
 * moment between the module's check and its use (right after an `lstat`,
 * just before an `open`, ...), where another process would have to be lucky.
 * The same hooks play a system without procfs (macOS, the BSDs), where the
 * opened file is checked by resolving its path again instead of asking the
 * kernel (test/unit/workspace-confinement.test.ts races a real process on Linux).
 */
import { execFileSync } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, realpath, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

type Step = (path: string) => Promise<void>;

/** Steps run once each, in order, when the module reaches the named call for a path that ends with `target`. */
const hooks = vi.hoisted(() => ({
  target: '',
  before: new Map<string, Step[]>(),
  after: new Map<string, Step[]>(),
  /** Answer /proc/self/fd/N as a system without procfs does (or with this error). */
  procfs: undefined as string | null | undefined,
  /** Every handle the module opened on the target, to see that it closed them. */
  opened: [] as { fd: number }[],
  /** Plays what a precise look (bigint lstat) at the target sees, e.g. a file on another device. */
  seen: undefined as ((stats: { dev: bigint; ino: bigint }) => object) | undefined,
}));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const step = async (when: 'before' | 'after', name: string, path: unknown) => {
    if (typeof path !== 'string' || hooks.target === '' || !path.endsWith(hooks.target)) return;
    const next = hooks[when].get(name)?.shift();
    await next?.(path);
  };
  const wrap =
    <A extends unknown[], R>(name: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await step('before', name, args[0]);
      const value = await call(...args);
      await step('after', name, args[0]);
      return value;
    };
  const open = wrap('open', real.open);
  const lstat = wrap('lstat', real.lstat as (...args: unknown[]) => Promise<unknown>);
  return {
    ...real,
    lstat: async (path: unknown, options?: { bigint?: boolean }) => {
      const stats = await lstat(path, options);
      const onTarget = typeof path === 'string' && hooks.target !== '' && path.endsWith(hooks.target);
      return onTarget && options?.bigint === true && hooks.seen !== undefined ? hooks.seen(stats as { dev: bigint; ino: bigint }) : stats;
    },
    stat: wrap('stat', real.stat as (...args: unknown[]) => Promise<unknown>),
    open: async (...args: Parameters<typeof real.open>) => {
      const handle = await open(...args);
      const path = args[0];
      if (typeof path !== 'string' || hooks.target === '' || !path.endsWith(hooks.target)) return handle;
      hooks.opened.push(handle);
      // The file's size is taken from this look; a step right after it plays a file growing while it is read.
      const look = handle.stat.bind(handle) as (...a: unknown[]) => Promise<unknown>;
      (handle as { stat: unknown }).stat = async (...a: unknown[]) => {
        const stats = await look(...a);
        await step('after', 'handle.stat', path);
        return stats;
      };
      return handle;
    },
    realpath: wrap('realpath', real.realpath as (...args: unknown[]) => Promise<unknown>),
    readdir: wrap('readdir', real.readdir as (...args: unknown[]) => Promise<unknown>),
    readlink: async (path: string, ...rest: unknown[]) => {
      if (hooks.procfs === null && path.startsWith('/proc/self/fd/')) throw null;
      if (hooks.procfs !== undefined && path.startsWith('/proc/self/fd/')) throw Object.assign(new Error(`${hooks.procfs}: ${path}`), { code: hooks.procfs });
      return (real.readlink as (...args: unknown[]) => Promise<unknown>)(path, ...rest);
    },
  };
});

const { listDirectoryExactly, locate, readTextFile, resolveRoots } = await import('../../server/src/agent/workspace-paths.js');

const outsideMarker = 'OUTSIDE-e41b77c0-never-read';
const cartText = 'export const cartTotal = (cents: number): number => cents;\n';

let base: string;
let root: string;
let outside: string;

async function write(path: string, content: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, content);
}

/** Runs `steps` once each, in order, before (or after) the module's next calls of `name` on the target. */
function when(position: 'before' | 'after', name: string, ...steps: Step[]): void {
  hooks[position].set(name, [...(hooks[position].get(name) ?? []), ...steps]);
}

beforeAll(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'efrit-paths-races-')));
  outside = join(base, 'outside');
  await write(join(outside, 'src', 'cart.ts'), `export const leaked = '${outsideMarker}';\n`);
  await write(join(outside, 'src', 'util', 'only-outside.ts'), `${outsideMarker}\n`);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

beforeEach(async () => {
  root = await mkdtemp(join(base, 'project-'));
  await write(join(root, 'src', 'cart.ts'), cartText);
  await write(join(root, 'src', 'util', 'money.ts'), 'export const cents = (n: number): number => n;\n');
});

afterEach(() => {
  hooks.target = '';
  hooks.before.clear();
  hooks.after.clear();
  hooks.procfs = undefined;
  hooks.opened = [];
  hooks.seen = undefined;
});

const nothing: Step = async () => undefined;

const cartPath = () => join(root, 'src', 'cart.ts');
const readCart = () => readTextFile(cartPath(), { maxFileBytes: 4096, displayPath: 'src/cart.ts' });

/** `src` becomes a symlink to the folder outside, as a racing process would make it. */
const swapSrcForLink: Step = async () => {
  await rename(join(root, 'src'), join(root, 'src-parked'));
  await symlink(join(outside, 'src'), join(root, 'src'));
};
const swapSrcBack: Step = async () => {
  await unlink(join(root, 'src'));
  await rename(join(root, 'src-parked'), join(root, 'src'));
};

describe('a file swapped after it was checked (Linux: the kernel says what was opened)', () => {
  it('refuses a file replaced by a symlink between the look and the open: the open itself does not follow it', async () => {
    hooks.target = 'src/cart.ts';
    when('after', 'lstat', async (path) => {
      await unlink(path);
      await symlink(join(outside, 'src', 'cart.ts'), path);
    });
    const read = await readCart();
    expect(read).toEqual({ kind: 'refused', cause: 'unreadable', reason: 'src/cart.ts could not be read: it is a symlink.' });
  });

  it('refuses a file replaced by a FIFO between the look and the open, without waiting for a writer', { timeout: 10_000 }, async () => {
    hooks.target = 'src/cart.ts';
    when('after', 'lstat', async (path) => {
      await unlink(path);
      execFileSync('mkfifo', [path]);
    });
    expect(await readCart()).toEqual({ kind: 'refused', cause: 'notRegularFile', reason: 'src/cart.ts is not a regular file, so it cannot be read.' });
  });

  it('refuses a file whose folder became a symlink just before the open, and tells nothing about the file outside', async () => {
    hooks.target = 'src/cart.ts';
    when('before', 'open', swapSrcForLink);
    const read = await readCart();
    expect(read).toMatchObject({ kind: 'refused', cause: 'pathChanged' });
    expect(JSON.stringify(read)).not.toContain(outsideMarker);
  });

  it('does not list a folder whose parent became a symlink just before it was opened', async () => {
    hooks.target = 'src/util';
    when('before', 'open', swapSrcForLink);
    expect(await listDirectoryExactly(join(root, 'src', 'util'))).toBeUndefined();
  });
});

describe("a swap that lasts only while the path is looked at again fools a second look, not the kernel's answer", () => {
  it('refuses the file opened through the swapped folder', async () => {
    hooks.target = 'src/cart.ts';
    when('before', 'open', swapSrcForLink);
    when('after', 'open', swapSrcBack);
    when('after', 'realpath', swapSrcForLink);
    when('after', 'lstat', nothing, swapSrcBack);
    const read = await readCart();
    expect(read).toMatchObject({ kind: 'refused', cause: 'pathChanged' });
    expect(JSON.stringify(read)).not.toContain(outsideMarker);
  });

  it('does not list the folder opened through the swapped parent', async () => {
    hooks.target = 'src/util';
    when('before', 'open', swapSrcForLink);
    when('after', 'readdir', swapSrcBack);
    when('after', 'realpath', swapSrcForLink);
    when('after', 'lstat', swapSrcBack);
    expect(await listDirectoryExactly(join(root, 'src', 'util'))).toBeUndefined();
  });
});

describe('a file that grows while it is read', () => {
  it('is refused as too big when it grows past the limit, with the size it reached', async () => {
    hooks.target = 'src/cart.ts';
    when('after', 'handle.stat', async (path) => appendFile(path, '// grown\n'));
    const limit = Buffer.byteLength(cartText);
    expect(await readTextFile(cartPath(), { maxFileBytes: limit, displayPath: 'src/cart.ts' })).toMatchObject({
      kind: 'refused',
      cause: 'tooBig',
      reason: expect.stringContaining(`src/cart.ts is too big to read (${limit + 1} bytes; the limit is ${limit} bytes)`),
    });
  });

  it('is read as far as the size it had when opened, and one byte more, which is how growth is told apart', async () => {
    hooks.target = 'src/cart.ts';
    when('after', 'handle.stat', async (path) => appendFile(path, '// grown\n'));
    expect(await readTextFile(cartPath(), { maxFileBytes: 4096, displayPath: 'src/cart.ts' })).toEqual({ kind: 'text', text: `${cartText}/`, bytes: Buffer.byteLength(cartText) + 1 });
  });
});

describe('what is opened is closed', () => {
  it('closes the file after a read and after a refusal, and the folder after a listing', async () => {
    hooks.target = 'src/cart.ts';
    expect(await readCart()).toMatchObject({ kind: 'text' });
    expect(await readTextFile(cartPath(), { maxFileBytes: 8, displayPath: 'src/cart.ts' })).toMatchObject({ kind: 'refused', cause: 'tooBig' });
    hooks.target = 'src/util';
    expect(await listDirectoryExactly(join(root, 'src', 'util'))).toHaveLength(1);
    expect(hooks.opened).toHaveLength(3);
    for (const handle of hooks.opened) expect(handle.fd).toBe(-1);
  });
});

describe('resolveRoots', () => {
  it('skips a folder that disappears while it is being resolved', async () => {
    const vanishing = join(root, 'vanishing');
    await mkdir(vanishing);
    hooks.target = 'vanishing';
    when('before', 'stat', async (path) => rm(path, { recursive: true }));
    expect(await resolveRoots([vanishing, root])).toEqual([{ path: root, realPath: root, name: root.slice(base.length + 1) }]);
  });
});

describe('without procfs (macOS, BSD): the path is resolved again around a look at what is there', () => {
  beforeEach(() => {
    hooks.procfs = 'ENOENT';
  });

  it('reads a file and lists a folder that stayed where they were', async () => {
    expect(await readCart()).toEqual({ kind: 'text', text: cartText, bytes: Buffer.byteLength(cartText) });
    const entries = await listDirectoryExactly(join(root, 'src'));
    expect(entries?.map((entry) => entry.name).sort()).toEqual(['cart.ts', 'util']);
    hooks.procfs = 'ENOTDIR';
    expect(await readCart()).toMatchObject({ kind: 'text' });
    expect((await listDirectoryExactly(join(root, 'src', 'util')))?.map((entry) => entry.name)).toEqual(['money.ts']);
  });

  it('refuses a file opened through a folder swapped for a symlink, the swap still there when it looks', async () => {
    hooks.target = 'src/cart.ts';
    when('before', 'open', swapSrcForLink);
    const read = await readCart();
    expect(read).toMatchObject({ kind: 'refused', cause: 'pathChanged' });
    expect(JSON.stringify(read)).not.toContain(outsideMarker);
  });

  it('refuses a file opened through a swapped folder even when the swap is undone before it looks, then redone while it looks', async () => {
    hooks.target = 'src/cart.ts';
    // Opened outside; back in place for the first resolve; swapped again for the look at the file, which then matches what was opened.
    when('before', 'open', swapSrcForLink);
    when('after', 'open', swapSrcBack);
    when('after', 'realpath', swapSrcForLink);
    const read = await readCart();
    expect(read).toMatchObject({ kind: 'refused', cause: 'pathChanged' });
    expect(JSON.stringify(read)).not.toContain(outsideMarker);
  });

  it('refuses a file that was replaced by another one at the same path after it was opened', async () => {
    hooks.target = 'src/cart.ts';
    when('after', 'open', async (path) => {
      await rename(path, `${path}.old`);
      await writeFile(path, 'export const cartTotal = 0;\n');
    });
    expect(await readCart()).toMatchObject({ kind: 'refused', cause: 'pathChanged' });
  });

  it('refuses a file whose path shows a swap at the first look, even when it is back for the others', async () => {
    hooks.target = 'src/cart.ts';
    when('after', 'open', swapSrcForLink);
    when('after', 'realpath', swapSrcBack);
    expect(await readCart()).toMatchObject({ kind: 'refused', cause: 'pathChanged' });
  });

  it('refuses a file whose path holds a file with the same inode number on another device', async () => {
    hooks.target = 'src/cart.ts';
    hooks.seen = (stats) => ({ dev: stats.dev + 1n, ino: stats.ino });
    expect(await readCart()).toMatchObject({ kind: 'refused', cause: 'pathChanged' });
  });

  it('refuses a file that is gone by the time it looks at it', async () => {
    hooks.target = 'src/cart.ts';
    when('after', 'realpath', async (path) => unlink(path));
    expect(await readCart()).toMatchObject({ kind: 'refused', cause: 'pathChanged' });
  });

  it('refuses a file whose path is gone when it looks again', async () => {
    hooks.target = 'src/cart.ts';
    when('after', 'open', async (path) => unlink(path));
    expect(await readCart()).toMatchObject({ kind: 'refused', cause: 'pathChanged' });
  });

  it('does not list a folder swapped for a symlink while it was being listed', async () => {
    hooks.target = 'src';
    when('after', 'readdir', swapSrcForLink);
    expect(await listDirectoryExactly(join(root, 'src'))).toBeUndefined();
  });

  it('does not list a folder opened through a parent swapped for a symlink, even when the swap is undone before it looks, then redone while it looks', async () => {
    hooks.target = 'src/util';
    when('before', 'open', swapSrcForLink);
    when('after', 'readdir', swapSrcBack);
    when('after', 'realpath', swapSrcForLink);
    expect(await listDirectoryExactly(join(root, 'src', 'util'))).toBeUndefined();
  });
});

describe('a folder swapped for something else', () => {
  it('never opens a FIFO put in place of a folder', async () => {
    hooks.target = 'src/util';
    when('before', 'open', async (path) => {
      await rename(path, `${path}-parked`);
      execFileSync('mkfifo', [path]);
    });
    expect(await listDirectoryExactly(join(root, 'src', 'util'))).toBeUndefined();
    expect(hooks.opened).toEqual([]);
  });
});

describe('locate', () => {
  it('still locates a file that disappears right after it is found; the read then says it is gone', async () => {
    const roots = await resolveRoots([root]);
    hooks.target = 'src/cart.ts';
    when('after', 'realpath', async (path) => unlink(path));
    expect(await locate('src/cart.ts', roots, { allowSecretFiles: false })).toMatchObject({ kind: 'inside', displayPath: 'src/cart.ts', realPath: cartPath() });
  });
});

describe('when asking the kernel fails otherwise', () => {
  it('refuses to read, saying why, and lists nothing', async () => {
    hooks.procfs = 'EACCES';
    expect(await readCart()).toEqual({ kind: 'refused', cause: 'unreadable', reason: 'src/cart.ts could not be read: permission denied.' });
    expect(await listDirectoryExactly(join(root, 'src'))).toBeUndefined();
  });
});

describe('why a file could not be read', () => {
  const failOpenWith = (code: unknown) =>
    when('before', 'open', async () => {
      throw code === undefined ? new Error('no code') : Object.assign(new Error(String(code)), { code });
    });

  it('names an error that is not even an Error as unexpected', async () => {
    hooks.target = 'src/cart.ts';
    when('before', 'open', async () => {
      throw null;
    });
    expect(await readCart()).toEqual({ kind: 'refused', cause: 'unreadable', reason: 'src/cart.ts could not be read: an unexpected error.' });
  });

  it('names the error in words a person can act on', async () => {
    hooks.target = 'src/cart.ts';
    const cases: [unknown, string][] = [
      ['EACCES', 'permission denied'],
      ['EPERM', 'permission denied'],
      ['ENOENT', 'it no longer exists'],
      ['ELOOP', 'it is a symlink'],
      ['EMFILE', 'EMFILE'],
      [42, 'an unexpected error'],
      [undefined, 'an unexpected error'],
    ];
    for (const [code, words] of cases) {
      failOpenWith(code);
      expect(await readCart(), String(code)).toEqual({ kind: 'refused', cause: 'unreadable', reason: `src/cart.ts could not be read: ${words}.` });
    }
  });

  it('says a file that is gone no longer exists', async () => {
    expect(await readTextFile(join(root, 'src', 'gone.ts'), { maxFileBytes: 4096, displayPath: 'src/gone.ts' })).toEqual({
      kind: 'refused',
      cause: 'unreadable',
      reason: 'src/gone.ts could not be read: it no longer exists.',
    });
  });
});
