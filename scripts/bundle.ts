/**
 * Builds the package's bin: `dist/efrit-lsp.cjs`, the launcher, beside the
 * server bundle and its code cache (see scripts/server-bundle.ts). The
 * Anthropic SDK stays in node_modules. `dist/efrit-lsp.js` stays too, one line
 * importing the bin, for editor configurations written before it was CommonJS.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleServer } from './server-bundle.js';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist');

await bundleServer({ outDir: dist, sdk: 'external', sourcemap: true, primeCache: true });
const formerBin = join(dist, 'efrit-lsp.js');
writeFileSync(formerBin, "#!/usr/bin/env node\n// The bin is efrit-lsp.cjs; this name is kept for editor configurations that use it.\nimport './efrit-lsp.cjs';\n");
chmodSync(formerBin, 0o755);
