/**
 * Builds the package's bin: `dist/efrit-lsp.cjs`, the launcher, beside the
 * server bundle and its code cache (see scripts/server-bundle.ts). The
 * Anthropic SDK is bundled too (`dist/anthropic-sdk.cjs`), so the package runs
 * with nothing from node_modules: `npm install -g` of its tarball needs no
 * registry, and what runs is exactly what was built and tested.
 * `dist/efrit-lsp.js` stays too, one line importing the bin, for editor
 * configurations written before it was CommonJS.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleServer } from './server-bundle.js';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist');

await bundleServer({ outDir: dist, sdk: 'bundled', sourcemap: true, primeCache: true });
const formerBin = join(dist, 'efrit-lsp.js');
writeFileSync(formerBin, "#!/usr/bin/env node\n// The bin is efrit-lsp.cjs; this name is kept for editor configurations that use it.\nimport './efrit-lsp.cjs';\n");
chmodSync(formerBin, 0o755);
