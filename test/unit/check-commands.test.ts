/**
 * The check runner: consent before the first run, what is remembered, what
 * the command gets (no API key), and what the model and the user are told.
 * The commands run for real in a real shadow; the consent port is answered
 * by the test as a user would.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkResultText, checkToolDefinitions, CheckRunner, type CheckRequest, type ConsentAnswer, type ConsentQuestion } from '../../server/src/agent/check-commands.js';
import { silentLogger } from '../../server/src/common/logger.js';
import type { CheckCommands } from '../../server/src/settings/config.js';

let workspace: string;
let outside: string;
beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'efrit-checks-ws-'));
  outside = await mkdtemp(join(tmpdir(), 'efrit-checks-outside-'));
  await writeFile(join(workspace, 'price.txt'), '3\n');
});
afterEach(async () => {
  await rm(workspace, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

/** A user at the consent question: answers in turn, and remembers what was asked. */
function user(...answers: ConsentAnswer[]) {
  const asked: ConsentQuestion[] = [];
  return {
    asked,
    consent: {
      ask: (question: ConsentQuestion) => {
        asked.push(question);
        return Promise.resolve(answers.shift() ?? 'deny');
      },
    },
  };
}

function runner(commands: CheckCommands, consent: { ask(question: ConsentQuestion): Promise<ConsentAnswer> }, env: NodeJS.ProcessEnv = process.env): CheckRunner {
  return new CheckRunner({ consent, commands: () => commands, timeoutMs: () => 30_000, redact: (text) => text.replaceAll('sk-ant-secret-0123456789', '[redacted]'), logger: silentLogger, env });
}

function request(command: string, notes: string[] = [], denied = new Set<string>()): CheckRequest {
  return { command, signal: new AbortController().signal, note: (text) => notes.push(text), denied, workspace: () => Promise.resolve({ spec: { folders: [workspace], changes: [] }, cwd: workspace, described: 'the workspace as it is' }) };
}

/** A command that leaves a mark outside the workspace (which the shadow does not cover), so a test can tell it ran. */
const marking = (name: string): string[] => ['/bin/sh', '-c', `echo > "$0/${name}"; cat price.txt`, ''];

describe('run_check', () => {
  it('is offered only when agent.commands names some, with the names as its only choices', () => {
    expect(checkToolDefinitions({})).toEqual([]);
    const [tool] = checkToolDefinitions({ typecheck: ['npx', 'tsc'], test: ['npm', 'test'] });
    expect(tool?.name).toBe('run_check');
    expect(tool?.input_schema).toEqual({ type: 'object', properties: { command: { type: 'string', enum: ['test', 'typecheck'], description: 'The name of the check to run.' } }, required: ['command'], additionalProperties: false });
  });

  it('asks before the first run; Deny: the command never starts, and the model is told not to ask again', async () => {
    const { asked, consent } = user('deny');
    const checks = runner({ test: marking('ran').map((arg) => (arg === '' ? outside : arg)) }, consent);
    const notes: string[] = [];
    const denied = new Set<string>();
    const result = await checks.run(request('test', notes, denied));
    expect(result).toEqual({ kind: 'notRun', command: 'test', final: true, why: 'the user denied it', reason: 'The check "test" was not run: the user denied it. Do not ask for it again in this task.' });
    expect(asked).toEqual([{ command: 'test', argv: ['/bin/sh', '-c', expect.any(String), outside], folder: workspace }]);
    expect(await readdir(outside)).toEqual([]);
    expect(notes).toEqual([expect.stringMatching(/^check test: asking you to allow `\/bin\/sh -c /), 'check test not run: the user denied it']);
    // Not asked again in the same job.
    expect(await checks.run(request('test', [], denied))).toMatchObject({ kind: 'notRun', reason: expect.stringContaining('the user refused it earlier in this task') });
    expect(asked).toHaveLength(1);
  });

  it('Always: runs, and is not asked again for that workspace and argv; a changed argv is asked about again', async () => {
    const { asked, consent } = user('always', 'once');
    const commands: CheckCommands = { test: ['/bin/sh', '-c', 'cat price.txt'] };
    const checks = runner(commands, consent);
    expect(await checks.run(request('test'))).toMatchObject({ kind: 'passed', exitCode: 0, output: 'Output:\n3' });
    expect(await checks.run(request('test'))).toMatchObject({ kind: 'passed' });
    expect(asked).toHaveLength(1);
    commands['test'] = ['/bin/sh', '-c', 'cat price.txt; exit 1'];
    expect(await checks.run(request('test'))).toMatchObject({ kind: 'failed', exitCode: 1 });
    expect(asked).toHaveLength(2);
  });

  it('Allow once: runs this time, and asks again next time', async () => {
    const { asked, consent } = user('once', 'deny');
    const checks = runner({ test: ['/bin/sh', '-c', 'exit 0'] }, consent);
    expect(await checks.run(request('test'))).toMatchObject({ kind: 'passed' });
    expect(await checks.run(request('test'))).toMatchObject({ kind: 'notRun', reason: expect.stringContaining('the user denied it') });
    expect(asked).toHaveLength(2);
  });

  it('runs nothing when the editor cannot ask the user, and tells the model why', async () => {
    const { consent } = user('unsupported');
    const checks = runner({ test: marking('ran').map((arg) => (arg === '' ? outside : arg)) }, consent);
    const result = await checks.run(request('test'));
    expect(result).toMatchObject({ kind: 'notRun', final: true, reason: expect.stringContaining('this editor cannot ask the user for consent (it does not support window/showMessageRequest)') });
    expect(await readdir(outside)).toEqual([]);
  });

  it('runs nothing where no isolated view can be made, says why to the model and in the stream, and asks no one', async () => {
    const { asked, consent } = user('always');
    const checks = new CheckRunner({
      consent,
      commands: () => ({ test: marking('ran').map((arg) => (arg === '' ? outside : arg)) }),
      timeoutMs: () => 30_000,
      redact: (text) => text,
      logger: silentLogger,
      isolation: () => Promise.resolve({ available: false, reason: 'running a check in an isolated view of the workspace needs Linux namespaces, and this is darwin' }),
    });
    const notes: string[] = [];
    const result = await checks.run(request('test', notes));
    expect(result).toMatchObject({
      kind: 'notRun',
      final: true,
      reason: "The check \"test\" was not run: it can only run isolated from the user's files, and running a check in an isolated view of the workspace needs Linux namespaces, and this is darwin. Do not ask for it again in this task.",
    });
    expect(notes).toEqual(['check test not run: running a check in an isolated view of the workspace needs Linux namespaces, and this is darwin']);
    expect(asked).toEqual([]);
    expect(await readdir(outside)).toEqual([]);
  });

  it('refuses a name that is not configured, listing the ones that are, without asking anyone', async () => {
    const { asked, consent } = user('always');
    const result = await runner({ test: ['true'], lint: ['true'] }, consent).run(request('rm -rf /'));
    expect(result).toEqual({ kind: 'notRun', command: 'rm -rf /', final: false, why: 'there is no check named "rm -rf /"', reason: 'There is no check named "rm -rf /"; the checks are: lint, test.' });
    expect(asked).toEqual([]);
  });

  it('gives the command no ANTHROPIC_* variables, and redacts the key from what it printed', async () => {
    const { consent } = user('once');
    const env = { ...process.env, ANTHROPIC_API_KEY: 'sk-ant-secret-0123456789', ANTHROPIC_BASE_URL: 'http://127.0.0.1:1', SHOP_MODE: 'test', LEAKED: 'sk-ant-secret-0123456789' };
    const argv = ['/bin/sh', '-c', 'env | grep -E "^(ANTHROPIC|SHOP_MODE|LEAKED)" | sort; exit 3', 'sk-ant-secret-0123456789'];
    const result = await runner({ env: argv }, consent, env).run(request('env'));
    expect(result).toMatchObject({ kind: 'failed', exitCode: 3, output: 'Output:\nLEAKED=[redacted]\nSHOP_MODE=test', argv: [...argv.slice(0, 3), '[redacted]'] });
    expect(checkResultText(result, 'the workspace')).not.toContain('sk-ant-secret');
  });

  it('tells the model the verdict, the argv, what it ran on, and the output with the failures first', async () => {
    const { consent } = user('once');
    const script = 'echo "checking 2 files"; echo "ok price.txt"; echo "FAIL cart.txt: expected 3, got 4" >&2; exit 1';
    const notes: string[] = [];
    const result = await runner({ test: ['/bin/sh', '-c', script] }, consent).run(request('test', notes));
    expect(checkResultText(result, 'the workspace with your proposed change applied')).toMatch(
      /^Check "test" \(`\/bin\/sh -c 'echo .*'`\) FAILED with exit code 1 after \d+\.\d s, on the workspace with your proposed change applied \(in an isolated view: nothing it wrote was kept\)\.\nLines that look like failures \(1\):\nFAIL cart\.txt: expected 3, got 4\nOutput:\n/,
    );
    expect(notes.at(-1)).toMatch(/^check test failed \(exit code 1, \d+\.\d s\)\nLines that look like failures \(1\):\nFAIL cart.txt: expected 3, got 4\n/);
  });
});
