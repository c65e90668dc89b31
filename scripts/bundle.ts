/**
 * Bundles the server for start-up: `dist/efrit-lsp-server.cjs` (the whole
 * server in one CommonJS file) and `dist/efrit-lsp.cjs` (the package's bin, a
 * small launcher that runs it from V8's code cache; see server/src/launcher.ts),
 * then starts it once so the cache exists before anyone waits on it.
 *
 * Why one file: Node resolving and compiling some ninety small modules (ours
 * and vscode-languageserver's) took longer than the rest of `initialize`; one
 * file starts in about half the time and memory. Why CommonJS: `vm.Script`,
 * which takes a code cache, runs scripts, not ES modules; and a CommonJS bin
 * starts about 8 ms sooner than an ES module one, whose loader Node sets up
 * first. `dist/efrit-lsp.js` stays, one line importing the bin, for editor
 * configurations written before. The Anthropic SDK stays outside: the model
 * client loads it just after `initialized` or on the first model call, so
 * start-up never pays for it.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = join(root, 'dist');
const serverBundle = join(dist, 'efrit-lsp-server.cjs');
const launcher = join(dist, 'efrit-lsp.cjs');
/** A file's module URL in CommonJS, which lacks import.meta.url (version.ts and the launcher find files from it). */
const moduleUrlInCommonJs = {
  define: { 'import.meta.url': '__efritModuleUrl' },
  banner: { js: "var __efritModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
};

await build({
  entryPoints: [join(root, 'server', 'src', 'cli.ts')],
  outfile: serverBundle,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external: ['@anthropic-ai/sdk'],
  // import('@anthropic-ai/sdk') becomes a require() of the SDK's CommonJS build: a script run by vm.Script has no module loader of its own.
  supported: { 'dynamic-import': false },
  ...moduleUrlInCommonJs,
  logLevel: 'warning',
});

const buildId = createHash('sha256').update(readFileSync(serverBundle)).digest('hex').slice(0, 16);
for (const stale of readdirSync(dist).filter((name) => /^efrit-lsp-server\..*\.cache/.test(name))) rmSync(join(dist, stale));

await build({
  entryPoints: [join(root, 'server', 'src', 'launcher.ts')],
  outfile: launcher,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  ...moduleUrlInCommonJs,
  define: { ...moduleUrlInCommonJs.define, EFRIT_BUILD_ID: JSON.stringify(buildId) },
  logLevel: 'warning',
});
const formerBin = join(dist, 'efrit-lsp.js');
writeFileSync(formerBin, "#!/usr/bin/env node\n// The bin is efrit-lsp.cjs; this name is kept for editor configurations that use it.\nimport './efrit-lsp.cjs';\n");
chmodSync(formerBin, 0o755);

await primeCodeCache(join(dist, `efrit-lsp-server.${buildId}.cache`));

/** Starts the server once, through `initialize`, and waits for the launcher to write the code cache. */
async function primeCodeCache(cacheFile: string): Promise<void> {
  const child = spawn(process.execPath, [launcher, '--stdio'], { stdio: ['pipe', 'ignore', 'inherit'], env: { ...process.env, ANTHROPIC_API_KEY: '' } });
  const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: process.pid, rootUri: null, capabilities: {} } });
  child.stdin.write(`Content-Length: ${Buffer.byteLength(initialize)}\r\n\r\n${initialize}`);
  const deadline = Date.now() + 15_000;
  while (!existsSync(cacheFile) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  child.kill();
  if (!existsSync(cacheFile)) process.stderr.write('bundle: the code cache was not written; the server will start without it and write one itself.\n');
}
