import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The unit tests only, for mutation testing (stryker.config.mjs): each mutant
 * runs the unit tests that cover it, never a server process.
 */
export default mergeConfig(
  base,
  defineConfig({
    test: { include: ['test/unit/**/*.test.ts'] },
  }),
);
