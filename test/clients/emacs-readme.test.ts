/**
 * The Emacs init blocks of clients/emacs/README.md, exactly as written
 * (only /path/to/efrit-lsp replaced by this checkout), under `emacs -Q` on
 * Debian 12, where Eglot and lsp-mode are in the package folders that -Q
 * leaves off the load path: each must load its client and efrit-lsp, start
 * `efrit-lsp --stdio` from PATH and connect, and C-c e e must explain
 * (test/clients/emacs/efrit-readme-test.el, one vitest case per ert test).
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FakeReply, RecordedRequest } from '../support/fake-anthropic/server.js';
import { shouldRunEditorTests } from './editors.js';
import { cartProject, lastUserText } from './emacs-fixtures.js';
import { emacsTestBed, ertSuite, serverBundle, type TestBed } from './emacs-runner.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const script = join(repo, 'test/clients/emacs/efrit-readme-test.el');
const readme = readFileSync(join(repo, 'clients/emacs/README.md'), 'utf8');

/** The first elisp block after the heading, as the README shows it. */
function elispBlockAfter(markdown: string, heading: string): string {
  const at = markdown.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`clients/emacs/README.md has no heading "${heading}"`);
  const block = /```elisp\n([^]*?)```/.exec(markdown.slice(at));
  if (block?.[1] === undefined) throw new Error(`no elisp block after "${heading}" in clients/emacs/README.md`);
  return block[1];
}

function respond(request: RecordedRequest): FakeReply {
  const asked = lastUserText(request);
  if (asked.includes('Explain what the selected code does')) return { text: ['`subtotal` adds up ', 'price × quantity.'] };
  return { text: `UNEXPECTED REQUEST: ${asked.slice(0, 200)}` };
}

/** A project, the README block as the init file, and `efrit-lsp` on PATH starting the built server. */
function setUp(bed: TestBed, heading: string, client: string) {
  const { project, file } = cartProject(bed.work);
  const init = join(bed.work, 'init.el');
  writeFileSync(init, elispBlockAfter(readme, heading).replaceAll('/path/to/efrit-lsp', repo));
  const bin = join(bed.work, 'bin');
  mkdirSync(bin);
  const shim = join(bin, 'efrit-lsp');
  writeFileSync(shim, `#!/bin/sh\nexec '${process.execPath}' '${serverBundle}' "$@"\n`);
  chmodSync(shim, 0o755);
  return { project, file, preload: [init], env: { EFRIT_TEST_README_CLIENT: client, PATH: `${bin}${delimiter}${process.env['PATH'] ?? ''}` } };
}

const runEmacs = shouldRunEditorTests('emacs');

describe.skipIf(!runEmacs)('clients/emacs/README.md: the Eglot init, as written, under emacs -Q', () => {
  const bed = emacsTestBed('emacs-readme-eglot', respond);
  ertSuite(bed, { script, timeoutMs: 240_000, project: () => setUp(bed, '## With Eglot', 'eglot') });
  it('sent the model only the explanation', () => {
    expect(bed.fake.requests.map(lastUserText).filter((t) => !t.includes('Explain what the selected code does'))).toEqual([]);
  });
});

describe.skipIf(!runEmacs)('clients/emacs/README.md: the lsp-mode init, as written, under emacs -Q', () => {
  const bed = emacsTestBed('emacs-readme-lsp-mode', respond);
  ertSuite(bed, { script, timeoutMs: 240_000, project: () => setUp(bed, '## With lsp-mode', 'lsp-mode') });
  it('sent the model only the explanation', () => {
    expect(bed.fake.requests.map(lastUserText).filter((t) => !t.includes('Explain what the selected code does'))).toEqual([]);
  });
});
