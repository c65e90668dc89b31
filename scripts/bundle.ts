/**
 * Bundles the server into one file, `dist/efrit-lsp.js`, the package's bin.
 *
 * Why: start-up. Node resolving and compiling some ninety small modules
 * (ours and vscode-languageserver's) took longer than the rest of `initialize`;
 * one file starts in about half the time and memory. The Anthropic SDK stays
 * outside: the model client imports it on the first model call, so start-up
 * never pays for it.
 */
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

await build({
  entryPoints: [join(root, 'server', 'src', 'cli.ts')],
  outfile: join(root, 'dist', 'efrit-lsp.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  external: ['@anthropic-ai/sdk'],
  // vscode-languageserver is CommonJS and calls require() for Node's own modules; an ES module bundle needs one.
  banner: { js: "import { createRequire as __efritCreateRequire } from 'node:module'; const require = __efritCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
