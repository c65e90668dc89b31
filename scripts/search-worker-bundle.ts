/**
 * The search worker (server/src/agent/search-worker.ts) as one CommonJS
 * script, for the server bundle to carry as a string and start with
 * `new Worker(source, { eval: true })`: the server ships as one file run from
 * V8's code cache, both as the package's bin and inside the VS Code
 * extension, and a string inside it goes wherever it goes, with no second
 * file to ship, find or keep in step. vitest.config.ts uses the same source,
 * so tests run the worker that ships.
 */
import { join } from 'node:path';
import { buildSync } from 'esbuild';

export function searchWorkerSource(repoRoot: string): string {
  const built = buildSync({
    entryPoints: [join(repoRoot, 'server', 'src', 'agent', 'search-worker.ts')],
    write: false,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
  });
  const output = built.outputFiles[0];
  if (output === undefined) throw new Error('esbuild wrote no search worker');
  return output.text;
}
