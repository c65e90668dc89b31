/**
 * The Emacs client in proxy mode: `efrit-lsp-wrapped-servers` puts efrit-lsp
 * (`--wrap -- pylsp`) in front of pylsp, in a real, headless Emacs with
 * Eglot 1.9, against the real server bundle and the fake Messages API.
 * pyflakes' diagnostic reaches Flymake, pylsp's hover and completion work,
 * "Efrit: Fix: …" for that diagnostic is picked from Eglot's menu and fixes
 * the buffer, chat works, and shutting Eglot down leaves no pylsp behind
 * (test/clients/emacs/efrit-proxy-test.el).
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
import { emacsTestBed, runEmacsScenario, serverBundle } from './emacs-runner.js';

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

type Block = { type: string; text?: string };
type Message = { role: string; content: string | Block[] };

const textOf = (message: Message | undefined): string =>
  message === undefined ? '' : typeof message.content === 'string' ? message.content : message.content.map((b) => b.text ?? '').join('\n');

const lastUserText = (request: RecordedRequest): string => {
  const messages = (request.body.messages ?? []) as Message[];
  return textOf([...messages].reverse().find((m) => m.role === 'user'));
};

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

  it('keeps pylsp (diagnostics, hover, completion) and adds Efrit (Fix from the menu, chat); shutdown ends pylsp', async () => {
    const { fake, work } = bed;
    const project = join(work, 'store');
    mkdirSync(join(project, '.git'), { recursive: true }); // a VC root: Eglot's project is the folder
    const file = join(project, 'store.py');
    writeFileSync(file, storePy);

    const { emitted, diagnostics, passed } = await runEmacsScenario({ script: testScript, project, work, apiUrl: fake.url, file, timeoutMs: 45_000 });
    expect(passed, diagnostics()).toEqual({ failure: undefined, code: 0, ok: true });

    // Setup: python-mode gets efrit-lsp in front of pylsp.
    expect(emitted.get('PYTHON-CONTACT')).toEqual([process.execPath, serverBundle, '--stdio', '--wrap', '--', 'pylsp', 'initializationOptions', 'efrit-lsp-eglot--initialization-options']);
    const connected = emitted.get('CONNECTED') as { mode: string; server: string; command: string[]; efrit: boolean; pid: number };
    expect(connected).toMatchObject({ mode: 'python-mode', efrit: true });
    expect(connected.server).toMatch(/^efrit-lsp \+ pylsp/);
    expect(connected.command).toEqual([process.execPath, serverBundle, '--stdio', '--wrap', '--', 'pylsp']);
    expect(emitted.get('MODEL')).toBe('claude-emacs-test');

    // pylsp's features, through the proxy.
    expect(emitted.get('DIAGNOSTICS')).toEqual(expect.arrayContaining([expect.stringContaining("'os' imported but unused")]));
    expect(String(emitted.get('HOVER'))).toMatch(/loads|JSON/i);
    expect(emitted.get('COMPLETIONS')).toEqual(expect.arrayContaining(['dump', 'dumps']));

    // Efrit's Fix for pylsp's diagnostic, from Eglot's menu, applied.
    expect(emitted.get('PICKED')).toBe("Efrit: Fix: 'os' imported but unused");
    expect(emitted.get('FIX-APPLIED')).toBe(true);
    expect(emitted.get('DIAGNOSTICS-AFTER-FIX')).not.toEqual(expect.arrayContaining([expect.stringContaining("'os'")]));

    // Chat.
    const chat = String(emitted.get('CHAT-BUFFER'));
    expect(chat).toContain('You: CHAT-PY What does load do?');
    expect(chat).toContain('Efrit: `load` opens the file and parses its JSON.');

    // The server's copy equals the buffer after every step; the final text.
    for (const step of ['AFTER-COMPLETION', 'AFTER-FIX', 'FINAL']) expect(typeof emitted.get(`SYNC-${step}`)).toBe('number');
    expect(emitted.get('FINAL-BUFFER')).toBe(`${storePy.replace('import os\n', '')}\n\nprint(load("data.json"))\n`);

    // What the fake API saw: the fix and the chat, nothing else.
    expect(fake.requests.map(lastUserText).filter((t) => !/CHAT-PY|'os' imported but unused/.test(t))).toEqual([]);
    expect(fake.requests).toHaveLength(2);

    // Shutdown: efrit-lsp and its pylsp are gone (ps, from here).
    const children = emitted.get('CHILDREN') as [number, string][];
    const pylsp = children.filter(([, args]) => /pylsp/.test(args));
    expect(pylsp, JSON.stringify(children)).toHaveLength(1);
    const gone = new Set([connected.pid, ...children.map(([pid]) => pid)]);
    const stillRunning = () => processTable().filter((p) => gone.has(p.pid));
    // On a timeout, the assertion below names what is left.
    await eventually(() => (stillRunning().length === 0 ? true : undefined), 'efrit-lsp and pylsp to exit').catch(() => undefined);
    const left = stillRunning();
    expect(left, JSON.stringify(left)).toEqual([]);
  }, 60_000);
});
