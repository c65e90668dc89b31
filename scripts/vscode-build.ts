/**
 * Builds the VS Code extension in clients/vscode (`npm run build:vscode`):
 *
 * 1. brings the manifest's generated parts (settings from the schema, the
 *    version) up to date, or with `--check` fails when they are stale;
 * 2. bundles the extension to dist/extension.js (CommonJS, `vscode` external:
 *    that is what the extension host loads);
 * 3. bundles the server to dist/server/ as the bin is bundled (the launcher
 *    and the bundle; scripts/server-bundle.ts), with the Anthropic SDK in a
 *    bundle of its own beside it, since a .vsix carries no node_modules; it
 *    is still loaded on the first model call only. No code cache is made: one
 *    from this Node would be refused by VS Code's, so the launcher writes its
 *    own on the first start;
 * 4. packages a .vsix with vsce (`--no-package` skips it, `--out FILE` puts
 *    it elsewhere than clients/vscode/efrit-<version>.vsix).
 *
 * `--stage DIR` builds in DIR instead of clients/vscode (a copy of the files
 * the package holds, with dist/ beside them), so a test never races a
 * developer's build or another test run over clients/vscode/dist.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bundleServer } from './server-bundle.js';
import { manifestText, syncedManifest } from './vscode-manifest.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sourceDir = join(root, 'clients', 'vscode');

const args = process.argv.slice(2);
const check = args.includes('--check');
const skipPackage = args.includes('--no-package');
function option(name: string): string | undefined {
  const index = args.indexOf(name);
  if (index < 0) return undefined;
  const value = args[index + 1];
  if (value === undefined) throw new Error(`${name} needs a path`);
  return resolve(value);
}
const outArg = option('--out');
const stageArg = option('--stage');
/** Where the package is assembled: the extension folder itself, or a staging copy. */
const extensionDir = stageArg ?? sourceDir;
const outDir = join(extensionDir, 'dist');

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const kib = (file: string): string => `${(statSync(file).size / 1024).toFixed(0)} KiB`;

// 1. The manifest.
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const manifestPath = join(sourceDir, 'package.json');
const current = readFileSync(manifestPath, 'utf8');
const manifest = JSON.parse(current) as Record<string, unknown>;
const wanted = manifestText(syncedManifest(manifest, rootPackage.version));
if (wanted !== current) {
  if (check) {
    process.stderr.write('clients/vscode/package.json is out of date with the settings schema: run `npm run build:vscode`.\n');
    process.exit(1);
  }
  writeFileSync(manifestPath, wanted);
  say('clients/vscode/package.json: contributed settings and version updated');
}

if (stageArg !== undefined) {
  mkdirSync(stageArg, { recursive: true });
  for (const file of ['package.json', 'README.md', 'LICENSE', '.vscodeignore']) copyFileSync(join(sourceDir, file), join(stageArg, file));
}

// 2. The extension.
rmSync(outDir, { recursive: true, force: true });
await build({
  entryPoints: [join(sourceDir, 'src', 'extension.ts')],
  outfile: join(outDir, 'extension.js'),
  bundle: true,
  platform: 'node',
  // VS Code 1.91 runs extensions on Node 20.
  target: 'node20',
  format: 'cjs',
  external: ['vscode'],
  // Most of it is vscode-languageclient; minified, the .vsix is a third smaller.
  minify: true,
  tsconfig: join(sourceDir, 'tsconfig.json'),
  logLevel: 'warning',
});
say(`${relative(root, join(outDir, 'extension.js'))} ${kib(join(outDir, 'extension.js'))}`);

// 3. The server, self-contained: the same launcher, bundle and code cache as the bin, with the SDK inside.
const serverDir = join(outDir, 'server');
const server = await bundleServer({ outDir: serverDir, sdk: 'bundled', sourcemap: false, primeCache: false });
// Lets the server find its own name and version.
writeFileSync(join(serverDir, 'package.json'), `${JSON.stringify({ name: 'efrit-lsp', version: rootPackage.version, private: true }, null, 2)}\n`);
say(`${relative(root, server.bundle)} ${kib(server.bundle)}, run by ${relative(root, server.launcher)}; the SDK beside it, loaded on the first model call`);

// 4. The package.
if (!skipPackage) {
  const vsix = outArg ?? join(extensionDir, `efrit-${rootPackage.version}.vsix`);
  mkdirSync(dirname(vsix), { recursive: true });
  const vsce = join(dirname(createRequire(import.meta.url).resolve('@vscode/vsce/package.json')), 'vsce');
  execFileSync(process.execPath, [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--out', vsix], {
    cwd: extensionDir,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (!existsSync(vsix)) throw new Error(`vsce did not write ${vsix}`);
  say(`${relative(root, vsix)} ${kib(vsix)}`);
}
