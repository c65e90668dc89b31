/**
 * The code cache when the package's own folder cannot take it: a global
 * install in a root-owned prefix, run by a user whose Node is not the one the
 * package's cache was made with. The launcher then keeps the cache in the
 * user's cache folder. The tests run as any user (root included), so the
 * package folder is made unwritable for the cache the one way that holds for
 * root too: a folder stands where the cache file would go.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StatusResult } from '../../server/src/protocol.js';
import { eventually } from '../support/eventually.js';
import { repoRoot, TestClient } from '../support/lsp-client.js';

const dist = join(repoRoot, 'dist');
let scratch: string;
let install: string;
let userCacheHome: string;
let client: TestClient | undefined;

const builtCache = (): string => {
  const [name] = readdirSync(dist).filter((file) => /^efrit-lsp-server\.[0-9a-f]{16}\.cache$/.test(file));
  if (name === undefined) throw new Error('the build made no code cache');
  return name;
};

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'efrit-cache-'));
  install = join(scratch, 'lib', 'node_modules', 'efrit-lsp', 'dist');
  userCacheHome = join(scratch, 'home-cache');
  mkdirSync(install, { recursive: true });
  for (const file of ['efrit-lsp.cjs', 'efrit-lsp-server.cjs']) copyFileSync(join(dist, file), join(install, file));
  writeFileSync(join(install, '..', 'package.json'), JSON.stringify({ name: 'efrit-lsp', version: '9.8.7', type: 'module' }));
  // What stands where the cache would go cannot be replaced by it.
  mkdirSync(join(install, builtCache(), 'in-the-way'), { recursive: true });
});
afterEach(async () => {
  await client?.stop();
  client = undefined;
  rmSync(scratch, { recursive: true, force: true });
});

const start = (): Promise<TestClient> => TestClient.start({ entry: join(install, 'efrit-lsp.cjs'), env: { XDG_CACHE_HOME: userCacheHome } });

describe('the code cache of an install the user cannot write to', () => {
  it("goes to the user's cache folder, private to them, and is used from there on the next start", async () => {
    const userFolder = join(userCacheHome, 'efrit-lsp');
    mkdirSync(userFolder, { recursive: true });
    writeFileSync(join(userFolder, 'efrit-lsp-server.0123456789abcdef.cache'), 'bytecode of another build');

    client = await start();
    expect((await client.request<StatusResult>('efrit/status', {})).codeCache).toBe('missing');
    const written = join(userFolder, builtCache());
    await eventually(() => (readdirSync(userFolder).includes(builtCache()) ? true : undefined), "the cache to be written to the user's folder", 30_000);
    expect(statSync(written).size).toBeGreaterThan(100_000);
    expect(statSync(written).mode & 0o777).toBe(0o600);
    expect(readdirSync(userFolder)).toEqual([builtCache()]);
    await client.stop();

    client = await start();
    expect((await client.request<StatusResult>('efrit/status', {})).codeCache).toBe('used');
    expect(client.stderr).toBe('');
  }, 60_000);

  it('makes the folder private to the user when it creates it', async () => {
    client = await start();
    await client.settled();
    await eventually(() => (existsSync(join(userCacheHome, 'efrit-lsp', builtCache())) ? true : undefined), "the cache to be written to the user's folder", 30_000);
    expect(statSync(join(userCacheHome, 'efrit-lsp')).mode & 0o777).toBe(0o700);
  }, 60_000);
});
