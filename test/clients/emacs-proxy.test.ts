/**
 * The Emacs client in proxy mode: `efrit-lsp-wrapped-servers` puts efrit-lsp
 * (`--wrap -- pylsp`) in front of pylsp, in a real, headless Emacs with
 * Eglot 1.9, against the real server bundle and the fake Messages API, one
 * ert test per behaviour (test/clients/emacs/efrit-proxy-test.el), each a
 * vitest case: pyflakes' diagnostic reaches Flymake, pylsp's hover and
 * completion work, "Efrit: Fix: …" for that diagnostic is picked from
 * Eglot's menu and fixes the buffer, chat works; and shutting Eglot down
 * leaves no pylsp behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import type { FakeReply, RecordedRequest } from '../support/fake-anthropic/server.js';
import { editReply } from '../support/harness.js';
import { editorAvailable, shouldRunEditorTests } from './editors.js';
import { emacsTestBed, ertSuite, serverBundle } from './emacs-runner.js';
import { lastUserText } from './emacs-fixtures.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const testScript = join(repo, 'test/clients/emacs/efrit-proxy-test.el');

/** Emacs and pylsp both: missing ones skip here, and fail under EFRIT_REQUIRE_EDITORS=1. */
function shouldRun(): boolean {
  const emacs = shouldRunEditorTests('emacs');
  const pylsp = editorAvailable('pylsp');
  if (!pylsp && process.env['EFRIT_REQUIRE_EDITORS'] === '1') {
    throw new Error('pylsp is not installed, and EFRIT_REQUIRE_EDITORS=1 requires it (apt-get install python3-pylsp python3-pyflakes)');
  }
  if (!pylsp) console.warn('emacs-proxy.test.ts: pylsp is not installed (apt-get install python3-pylsp); skipped.');
  return emacs && pylsp;
}
const runTest = shouldRun();

const storePy = `import os
import json


def load(path):
    """Read the JSON document at PATH."""
    with open(path) as handle:
        return json.loads(handle.read())
`;

/** The running processes, as "pid args" lines (ps, from this side). */
function processTable(): { pid: number; args: string }[] {
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), args: String(m[2]) }));
}

/** What the scripted model says, by what it was asked. */
function respond(request: RecordedRequest): FakeReply {
  const asked = lastUserText(request);
  if (asked.includes('CHAT-PY')) return { text: ['`load` opens the file ', 'and parses its JSON.'] };
  if (asked.includes("'os' imported but unused")) {
    return editReply([{ old_text: 'import os\nimport json\n', new_text: 'import json\n' }], 'Removed the unused import of os.');
  }
  return { text: `UNEXPECTED REQUEST: ${asked.slice(0, 200)}` };
}

describe.skipIf(!runTest)('Emacs client in proxy mode (eglot, efrit-lsp --wrap -- pylsp)', () => {
  const bed = emacsTestBed('emacs-proxy', respond);

  const run = ertSuite(bed, {
    script: testScript,
    timeoutMs: 240_000,
    project: () => {
      const project = join(bed.work, 'store');
      mkdirSync(join(project, '.git'), { recursive: true }); // a VC root: Eglot's project is the folder
      const file = join(project, 'store.py');
      writeFileSync(file, storePy);
      return { project, file };
    },
  });

  it('registers python-mode with efrit-lsp --wrap -- pylsp', () => {
    expect(run.emitted.get('PYTHON-CONTACT')).toEqual([process.execPath, serverBundle, '--stdio', '--wrap', '--', 'pylsp', 'initializationOptions', 'efrit-lsp-eglot--initialization-options']);
  });

  it('sent the model only the fix and the chat', () => {
    expect(bed.fake.requests.map(lastUserText).filter((t) => !/CHAT-PY|'os' imported but unused/.test(t))).toEqual([]);
    expect(bed.fake.requests.map(lastUserText).filter((t) => t.includes('CHAT-PY'))).toHaveLength(1);
  });

  it('ends efrit-lsp and its pylsp at eglot-shutdown', async () => {
    expect(run.emitted.get('SHUT-DOWN'), run.diagnostics()).toBe(true);
    const connected = run.emitted.get('CONNECTED') as { pid: number };
    const children = run.emitted.get('CHILDREN') as [number, string][];
    expect(children.filter(([, args]) => /pylsp/.test(args)), JSON.stringify(children)).toHaveLength(1);
    const gone = new Set([connected.pid, ...children.map(([pid]) => pid)]);
    const stillRunning = () => processTable().filter((p) => gone.has(p.pid));
    // On a timeout, the assertion below names what is left.
    await eventually(() => (stillRunning().length === 0 ? true : undefined), 'efrit-lsp and pylsp to exit').catch(() => undefined);
    const left = stillRunning();
    expect(left, JSON.stringify(left)).toEqual([]);
  });
});
