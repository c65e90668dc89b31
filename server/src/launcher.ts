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
 * once start-up's functions have been compiled, if the folder is writable;
 * otherwise the server simply starts as fast as it would without one.
 * `EFRIT_CODE_CACHE=off` skips the cache entirely (the benchmark's baseline).
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
const cacheFile = join(here, `efrit-lsp-server.${EFRIT_BUILD_ID}.cache`);
const useCache = process.env['EFRIT_CODE_CACHE'] !== 'off';

// The hashbang becomes an empty line, so line numbers in stack traces stay right.
const source = readFileSync(bundle, 'utf8').replace(/^#!.*/, '');
let cachedData: Buffer | undefined;
if (useCache) {
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // No cache yet: compile as usual, and write one below.
  }
}
// CommonJS's own wrapper, as Node's loader puts around every module.
const wrapped = `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;
const script = new Script(wrapped, { filename: bundle, ...(cachedData === undefined ? {} : { cachedData }) });

// What start-up made of the cache, for efrit/status (server/src/features/control.ts reads it).
const codeCacheState = !useCache ? 'off' : cachedData === undefined ? 'missing' : script.cachedDataRejected === true ? 'rejected' : 'used';
(globalThis as Record<symbol, unknown>)[Symbol.for('efrit.codeCache')] = codeCacheState;

if (useCache && (cachedData === undefined || script.cachedDataRejected === true)) {
  setTimeout(() => {
    const temporary = `${cacheFile}.${process.pid}.tmp`;
    try {
      writeFileSync(temporary, script.createCachedData());
      // Atomic, so a server starting meanwhile reads the old cache or the new one, never half of one.
      renameSync(temporary, cacheFile);
    } catch {
      // A read-only install: start-up stays as fast as it is without a cache.
      rmSync(temporary, { force: true });
    }
  }, writeCacheAfterMs).unref();
}

const bundleModule = { exports: {} };
const runBundle = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
runBundle(bundleModule.exports, createRequire(bundle), bundleModule, bundle, here);
