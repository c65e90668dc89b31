/**
 * The server as it ships: `efrit-lsp-server.cjs` (the whole server in one
 * CommonJS file) and `efrit-lsp.cjs` (a small launcher that runs it from V8's
 * code cache; see server/src/launcher.ts), then the server started once so
 * the cache exists before anyone waits on it. Used for the package's bin
 * (scripts/bundle.ts) and for the server inside the VS Code extension
 * (scripts/vscode-build.ts).
 *
 * Why one file: Node resolving and compiling some ninety small modules (ours
 * and vscode-languageserver's) took longer than the rest of `initialize`; one
 * file starts in about half the time and memory. Why CommonJS: `vm.Script`,
 * which takes a code cache, runs scripts, not ES modules; and a CommonJS bin
 * starts about 8 ms sooner than an ES module one, whose loader Node sets up
 * first. The model SDKs (Anthropic's, OpenAI's, Vertex's) are each loaded on the first
 * call to their provider only, from node_modules or from a bundle of their own.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { searchWorkerSource } from './search-worker-bundle.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ServerBundleOptions {
  /** Where the launcher, the bundle and its code cache go. */
  outDir: string;
  /** The SDK at run time: from node_modules beside the package, or from a bundle of its own beside the server's (a .vsix carries no node_modules). */
  sdk: 'external' | 'bundled';
  sourcemap: boolean;
  /** Start the server once to write the code cache (only worth it where this Node is the one that runs it). */
  primeCache: boolean;
}

/** Every file built here: one CommonJS file for Node 20, everything it imports inside unless said otherwise. */
const nodeCommonJs = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning' } as const;

/** A file's module URL in CommonJS, which lacks import.meta.url (version.ts and the launcher find files from it). */
const moduleUrlInCommonJs = {
  define: { 'import.meta.url': '__efritModuleUrl' },
  banner: { js: "var __efritModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
};

/** Each provider's SDK and the file it is bundled into beside the server. */
const sdkBundles = [
  { module: '@anthropic-ai/sdk', file: 'anthropic-sdk.cjs', filter: /^@anthropic-ai\/sdk$/ },
  { module: 'openai', file: 'openai-sdk.cjs', filter: /^openai$/ },
  { module: 'ollama', file: 'ollama.cjs', filter: /^ollama$/ },
  // With the AWS credential chain and SigV4 signer it brings: by far the largest, and only for bedrock: models.
  { module: '@anthropic-ai/bedrock-sdk', file: 'bedrock-sdk.cjs', filter: /^@anthropic-ai\/bedrock-sdk$/ },
  // Not an SDK, but loaded the same way: on the first request through a proxy or with a CA file (server/src/model/network.ts).
  { module: 'undici', file: 'undici.cjs', filter: /^undici$/ },
] as const;

/**
 * Claude on Vertex: its SDK and Google's auth library in one file, entered
 * through a module of ours (server/src/model/vertex-sdk.ts) that the provider
 * imports, since it needs both.
 */
const vertexBundle = {
  entry: join(root, 'server', 'src', 'model', 'vertex-sdk.ts'),
  file: 'vertex-sdk.cjs',
  filter: /^\.\/vertex-sdk\.js$/,
  modules: ['@anthropic-ai/vertex-sdk', 'google-auth-library'],
} as const;

/** Resolves each SDK to its own bundle beside the server's, loaded with require() on the first call to its provider. */
const sdkBeside: Plugin = {
  name: 'sdk-beside',
  setup(pluginBuild) {
    for (const sdk of sdkBundles) pluginBuild.onResolve({ filter: sdk.filter }, () => ({ path: `./${sdk.file}`, external: true }));
    pluginBuild.onResolve({ filter: vertexBundle.filter }, () => ({ path: `./${vertexBundle.file}`, external: true }));
  },
};

export async function bundleServer(options: ServerBundleOptions): Promise<{ launcher: string; bundle: string }> {
  mkdirSync(options.outDir, { recursive: true });
  const bundle = join(options.outDir, 'efrit-lsp-server.cjs');
  const launcher = join(options.outDir, 'efrit-lsp.cjs');
  await build({
    entryPoints: [join(root, 'server', 'src', 'cli.ts')],
    outfile: bundle,
    ...nodeCommonJs,
    sourcemap: options.sourcemap,
    external: options.sdk === 'external' ? [...sdkBundles.map((sdk) => sdk.module), ...vertexBundle.modules] : [],
    plugins: options.sdk === 'bundled' ? [sdkBeside] : [],
    // import('@anthropic-ai/sdk') (and 'openai') becomes a require() (or a lazy init of the bundled copy): a script run by vm.Script has no module loader of its own.
    supported: { 'dynamic-import': false },
    ...moduleUrlInCommonJs,
    // The search worker travels inside the bundle as a string (see scripts/search-worker-bundle.ts).
    define: { ...moduleUrlInCommonJs.define, EFRIT_SEARCH_WORKER_SOURCE: JSON.stringify(searchWorkerSource(root)) },
  });

  keepAscii(bundle);

  if (options.sdk === 'bundled') {
    // Each its own file, so start-up neither reads nor compiles them (the Anthropic SDK is 1.4 MB, undici 1.2 MB), and a provider not used is never loaded.
    for (const sdk of sdkBundles) {
      await build({
        stdin: { contents: `module.exports = require('${sdk.module}');`, resolveDir: root, loader: 'js' },
        outfile: join(options.outDir, sdk.file),
        ...nodeCommonJs,
        // Third-party and never debugged here: smaller is all that matters (the .vsix shrinks by a third).
        minify: true,
      });
    }
    await build({ entryPoints: [vertexBundle.entry], outfile: join(options.outDir, vertexBundle.file), ...nodeCommonJs, minify: true });
  }

  const buildId = createHash('sha256').update(readFileSync(bundle)).digest('hex').slice(0, 16);
  for (const stale of readdirSync(options.outDir).filter((name) => /^efrit-lsp-server\..*\.cache/.test(name))) rmSync(join(options.outDir, stale));

  await build({
    entryPoints: [join(root, 'server', 'src', 'launcher.ts')],
    outfile: launcher,
    ...nodeCommonJs,
    ...moduleUrlInCommonJs,
    define: { ...moduleUrlInCommonJs.define, EFRIT_BUILD_ID: JSON.stringify(buildId) },
  });

  if (options.primeCache) await primeCodeCache(launcher, join(options.outDir, `efrit-lsp-server.${buildId}.cache`));
  return { launcher, bundle };
}

/**
 * Escapes what esbuild leaves outside ASCII (it escapes code, but keeps
 * doc comments of class members as written, arrows and emoji among them).
 * Why: one such character makes V8 hold the whole bundle's source, which it
 * keeps for compiling functions lazily, as two bytes a character: 2 MB
 * instead of 1, and slower to read. A `\u` escape means the same
 * character anywhere esbuild leaves one, and only those lines' columns move.
 */
function keepAscii(file: string): void {
  const text = readFileSync(file, 'utf8');
  const ascii = text.replace(/[^\x00-\x7f]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (ascii !== text) writeFileSync(file, ascii);
}

/**
 * Starts the server once, through `initialize`, and waits for the launcher to
 * write the code cache. Made with this Node; another refuses it, and the
 * launcher then writes its own on the first start.
 */
async function primeCodeCache(launcher: string, cacheFile: string): Promise<void> {
  const child = spawn(process.execPath, [launcher, '--stdio'], { stdio: ['pipe', 'ignore', 'inherit'], env: { ...process.env, ANTHROPIC_API_KEY: '' } });
  const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: process.pid, rootUri: null, capabilities: {} } });
  child.stdin.write(`Content-Length: ${Buffer.byteLength(initialize)}\r\n\r\n${initialize}`);
  const deadline = Date.now() + 15_000;
  while (!existsSync(cacheFile) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  child.kill();
  if (!existsSync(cacheFile)) process.stderr.write(`bundle: no code cache was written in ${dirname(cacheFile)}; the server will start without it and write one itself.\n`);
}
