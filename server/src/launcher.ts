#!/usr/bin/env node
/**
 * The package's bin: runs the bundled server (`efrit-lsp-server.cjs`, beside
 * this file) from V8's code cache.
 *
 * Why: start-up. An editor waits for `initialize` every time it opens a
 * project. Compiling the 700 KB bundle (mostly vscode-languageserver) was
 * about half of the server's own start-up; with the bytecode V8 made last
 * time, that work is skipped (about 30 ms of 50 on the benchmark machine).
 * Node 20 has no built-in compile cache for modules (22's
 * `module.enableCompileCache` is the same idea), so this runs the bundle as a
 * CommonJS function through `vm.Script` with `cachedData`.
 *
 * The cache is made by the build and named after the build, so a bundle never
 * meets bytecode made from another one (V8 itself checks only the source's
 * length, plus its own version and flags). When V8 rejects the cache (another
 * Node) or it is missing, a new one is written a few seconds after start,
 * once start-up's functions have been compiled: beside the bundle if that
 * folder is writable, else (a global install in a root-owned prefix, run by
 * a user) in the user's own cache folder, `$XDG_CACHE_HOME/efrit-lsp` or
 * `~/.cache/efrit-lsp`, made private to the user. A cache there is read
 * first, since it exists only because the one beside the bundle could not be
 * used. When neither can be written, the server simply starts as fast as it
 * would without one. `EFRIT_CODE_CACHE=off` skips the cache entirely (the
 * benchmark's baseline).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

/** Set by the build to the bundle's content hash; the cache file carries it in its name. */
declare const EFRIT_BUILD_ID: string;

/** How long after start the cache is written: long enough for start-up's code to have compiled. */
const writeCacheAfterMs = 3_000;

const here = dirname(fileURLToPath(import.meta.url));
const bundle = join(here, 'efrit-lsp-server.cjs');
const cacheName = `efrit-lsp-server.${EFRIT_BUILD_ID}.cache`;
const packageCache = join(here, cacheName);
const useCache = process.env['EFRIT_CODE_CACHE'] !== 'off';

/** The user's own cache folder, for when the package's folder is not theirs to write. */
function userCacheFolder(): string | undefined {
  const base = process.env['XDG_CACHE_HOME'] ?? (homedir() === '' ? undefined : join(homedir(), '.cache'));
  return base === undefined || base === '' ? undefined : join(base, 'efrit-lsp');
}
const userFolder = useCache ? userCacheFolder() : undefined;
const userCache = userFolder === undefined ? undefined : join(userFolder, cacheName);

function readCache(file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Writes atomically, so a server starting meanwhile reads the old cache or the new one, never half of one. */
function writeCache(file: string, data: Buffer): boolean {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, data, { mode: 0o600 });
    renameSync(temporary, file);
    return true;
  } catch {
    rmSync(temporary, { force: true });
    return false;
  }
}

// The hashbang becomes an empty line, so line numbers in stack traces stay right.
const source = readFileSync(bundle, 'utf8').replace(/^#!.*/, '');
const cachedData = useCache ? (readCache(userCache) ?? readCache(packageCache)) : undefined;
// CommonJS's own wrapper, as Node's loader puts around every module.
const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;
const script = new Script(wrapped, { filename: bundle, ...(cachedData === undefined ? {} : { cachedData }) });

// What start-up made of the cache, for efrit/status (server/src/features/control.ts reads it).
const codeCacheState = !useCache ? 'off' : cachedData === undefined ? 'missing' : script.cachedDataRejected === true ? 'rejected' : 'used';
(globalThis as Record<symbol, unknown>)[Symbol.for('efrit.codeCache')] = codeCacheState;

if (useCache && (cachedData === undefined || script.cachedDataRejected === true)) {
  setTimeout(() => {
    let data: Buffer;
    try {
      data = script.createCachedData();
    } catch {
      return;
    }
    if (writeCache(packageCache, data) || userFolder === undefined || userCache === undefined) return;
    try {
      mkdirSync(userFolder, { recursive: true, mode: 0o700 });
      // Caches of other builds are of no use to anyone now.
      for (const stale of readdirSync(userFolder).filter((name) => /^efrit-lsp-server\..*\.cache$/.test(name) && name !== cacheName)) rmSync(join(userFolder, stale), { force: true });
    } catch {
      // No folder of the user's own either: start-up stays as fast as it is without a cache.
      return;
    }
    writeCache(userCache, data);
  }, writeCacheAfterMs).unref();
}

const bundleModule = { exports: {} };
const runBundle = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
runBundle(bundleModule.exports, createRequire(bundle), bundleModule, bundle, here);
