/**
 * The Emacs client in proxy mode: `efrit-lsp-wrapped-servers` puts efrit-lsp
 * (`--wrap -- pylsp`) in front of pylsp, in a real, headless Emacs with
 * Eglot 1.9, against the real server bundle and the fake Messages API, one
 * ert test per behaviour (test/clients/emacs/efrit-proxy-test.el), each a
 * vitest case: pyflakes' diagnostic reaches Flymake, pylsp's hover and
 * completion work, "Efrit: Fix: …" for that diagnostic is picked from
 * Eglot's menu and fixes the buffer, chat works; `efrit-lsp-do` asks pylsp
 * for references, has an edit that breaks the code refused by the proposal
 * check, and only the fixed edit reaches the review and the file; a check of
 * the project's (`agent.commands`) is asked about through Eglot's
 * showMessageRequest, allowed once and run; and shutting Eglot down leaves no
 * pylsp behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import type { ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages';
import type { FakeReply, RecordedRequest } from '../support/fake-anthropic/server.js';
import { editReply } from '../support/harness.js';
import { editorAvailable, shouldRunEditorTests } from './editors.js';
import { emacsTestBed, ertSuite, serverBundle } from './emacs-runner.js';
import { firstUserText, lastUserText, type Message } from './emacs-fixtures.js';

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

/** A module beside the fixture that imports its `load`: pylsp finds references across files. */
const reportPy = `from refs import load


def report(path):
    """How many entries the document at PATH holds."""
    return len(load(path))
`;

/** The instruction efrit-proxy-test.el gives `efrit-lsp-do` in refs.py, found again in the first user message. */
const doTag = 'DO-PY';

/** The agent of the do: references of `load`, then a rename of `handle` that misses its use, then the whole rename. */
function renameHandleAgent(request: RecordedRequest): FakeReply {
  const steps = ((request.body.messages ?? []) as Message[]).length;
  if (steps === 1) return { text: 'First, who calls load.', toolUses: [{ name: 'references', input: { path: 'refs.py', line: 5, symbol: 'load' } }] };
  if (steps === 3) {
    return { toolUses: [{ name: 'propose_edits', input: { summary: 'Renamed handle to stream', edits: [{ old_text: 'open(path) as handle:', new_text: 'open(path) as stream:' }] } }] };
  }
  return {
    toolUses: [
      {
        name: 'propose_edits',
        input: { summary: 'Renamed handle to stream', edits: [{ old_text: 'open(path) as handle:\n        return json.loads(handle.read())', new_text: 'open(path) as stream:\n        return json.loads(stream.read())' }] },
      },
    ],
  };
}

/** The instruction of the do whose agent runs the project's check (`agent.commands` lint: pyflakes). */
const checkTag = 'CHECK-PY';

/** The agent that runs the check, then says what it found. */
function lintAgent(request: RecordedRequest): FakeReply {
  if (((request.body.messages ?? []) as Message[]).length === 1) return { toolUses: [{ name: 'run_check', input: { command: 'lint' } }] };
  return { text: 'pyflakes finds the unused import of os.' };
}

/** The tool results the model was sent in `request`, in call order. */
function toolResults(request: RecordedRequest | undefined): string[] {
  const last = ((request?.body.messages ?? []) as Message[]).at(-1);
  if (last === undefined || typeof last.content === 'string') return [];
  return (last.content as unknown as ToolResultBlockParam[])
    .filter((block) => block.type === 'tool_result')
    .map((block) => (typeof block.content === 'string' ? block.content : JSON.stringify(block.content)));
}

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
  if (firstUserText(request).includes(doTag)) return renameHandleAgent(request);
  if (firstUserText(request).includes(checkTag)) return lintAgent(request);
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
      writeFileSync(join(project, 'report.py'), reportPy);
      return { project, file };
    },
  });

  it('registers python-mode with efrit-lsp --wrap -- pylsp', () => {
    expect(run.emitted.get('PYTHON-CONTACT')).toEqual([process.execPath, serverBundle, '--stdio', '--wrap', '--', 'pylsp', 'initializationOptions', 'efrit-lsp-eglot--initialization-options']);
  });

  it('sent the model only the fix, the chat and the do', () => {
    const others = bed.fake.requests.filter((r) => !firstUserText(r).includes(doTag) && !firstUserText(r).includes(checkTag));
    expect(others.map(lastUserText).filter((t) => !/CHAT-PY|'os' imported but unused/.test(t))).toEqual([]);
    expect(others.map(lastUserText).filter((t) => t.includes('CHAT-PY'))).toHaveLength(1);
  });

  it('ran the check the user allowed through Eglot, and gave the agent its output', () => {
    const steps = bed.fake.requests.filter((r) => firstUserText(r).includes(checkTag));
    expect(steps, run.diagnostics()).toHaveLength(2);
    const [lint] = toolResults(steps[1]);
    expect(lint).toContain("lint.py:1:1: 'os' imported but unused");
  });

  it("gave the agent pylsp's references, refused the edit that broke the code with its new error, and sent the fix on", () => {
    const steps = bed.fake.requests.filter((r) => firstUserText(r).includes(doTag));
    expect(steps, run.diagnostics()).toHaveLength(3);
    expect((steps[0]?.body.tools as { name: string }[]).map((tool) => tool.name)).toContain('references');
    const [references] = toolResults(steps[1]);
    expect(references).toContain('refs.py:5: def load(path):');
    expect(references).toContain('report.py:1: from refs import load');
    expect(references).toContain('report.py:6: return len(load(path))');
    const [refusal] = toolResults(steps[2]);
    expect(refusal).toMatch(/^The language server reports 1 new error in the change as proposed/);
    expect(refusal).toContain("refs.py:8: undefined name 'handle'");
    expect(refusal).toContain('Nothing was applied.');
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
