import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { searchWorkerSource } from './scripts/search-worker-bundle.js';

export default defineConfig({
  // search_workspace's worker, built as the server bundle carries it (server/src/agent/search-runner.ts).
  define: { EFRIT_SEARCH_WORKER_SOURCE: JSON.stringify(searchWorkerSource(fileURLToPath(new URL('.', import.meta.url)))) },
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/clients/**/*.test.ts'],
    // Integration tests start real server processes; two cores, so keep the pool small.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
