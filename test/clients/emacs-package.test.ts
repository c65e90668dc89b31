/**
 * The Emacs package as its ecosystem checks it, in a real, headless Emacs
 * (test/clients/emacs/efrit-package-test.el): every file byte-compiles with
 * warnings as errors, checkdoc and package-lint find nothing (but the
 * "efrit:" message prefix), and what the status line and the chat header
 * say. No server; one vitest case per ert test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe } from 'vitest';
import { shouldRunEditorTests } from './editors.js';
import { emacsClientDir, ertCases, parseErtResults, run, type ErtRun } from './emacs-runner.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const script = join(repo, 'test/clients/emacs/efrit-package-test.el');

describe.skipIf(!shouldRunEditorTests('emacs'))('Emacs package: byte-compile, checkdoc, package-lint, status line, chat header', () => {
  const ert: ErtRun = { results: new Map(), emitted: new Map(), diagnostics: () => 'the Emacs run did not happen' };
  let home = '';
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'efrit-emacs-package-'));
    const result = await run('emacs', ['--batch', '-Q', '-l', script], {
      cwd: home,
      timeoutMs: 120_000,
      env: { ...process.env, HOME: home, EFRIT_TEST_CLIENT_DIR: emacsClientDir },
    });
    ert.results = parseErtResults(result.stdout);
    ert.diagnostics = () => `exit ${result.code} after ${result.ms} ms\n--- stdout ---\n${result.stdout}\n--- stderr (tail) ---\n${result.stderr.slice(-6000)}`;
  }, 130_000);
  afterAll(() => {
    if (home !== '') rmSync(home, { recursive: true, force: true });
  });
  ertCases(script, ert);
});
