/**
 * Runs the Neovim client's Lua scenarios (test/clients/neovim/*.lua) in
 * headless Neovim, once per describe block, as the shared fixture of that
 * block's tests: each scenario is made of cases (`support.case` in the
 * script), each case records how it went under its name, and each test
 * asserts on one case, so a failure names what broke and the others still
 * report.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import { openGatesOnSignals } from './script-signals.js';
import type { FakeAnthropic } from '../support/fake-anthropic/server.js';
import { namedGates, type NamedGates } from '../support/gate.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const serverEntry = join(repoRoot, 'dist', 'efrit-lsp.cjs');
export const pluginDir = join(repoRoot, 'clients', 'neovim');
export const scriptDir = join(repoRoot, 'test', 'clients', 'neovim');

export interface CommandRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed after `timeoutMs`); with `signals`, its `EFRIT_SIGNAL <name>` stderr lines open those gates as they arrive. */
export function runCommand(command: string, args: string[], options: { env: NodeJS.ProcessEnv; timeoutMs: number; cwd?: string; signals?: NamedGates }): Promise<CommandRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    if (options.signals !== undefined) openGatesOnSignals(child.stderr, options.signals);
    const killer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A message the plugin showed (vim.notify), with its level (vim.log.levels: 3 WARN, 4 ERROR). */
export interface Note {
  msg: string;
  level: number;
}

/** What every scenario reports: how each case went, every message shown, the steps taken. */
export interface ScenarioBase {
  cases: Record<string, { ok?: true; error?: string }>;
  notes: Note[];
  steps: string[];
  /** Set when the scenario itself broke (outside any case). */
  error?: string;
}

/** A scenario's run, for its block's tests. */
export interface Scenario<T> {
  /** The scenario's result once case `name` ran and passed; fails naming the case (with Neovim's log) otherwise. */
  passed(name: string): T & ScenarioBase;
  /** Neovim's exit and output. */
  run(): CommandRun;
  /** The fake Messages API the scenario talked to. */
  fake(): FakeAnthropic;
}

export interface Prepared {
  env: NodeJS.ProcessEnv;
  fake?: FakeAnthropic;
}

/**
 * Runs `script` once before the block's tests (in a fresh folder that is also Neovim's HOME) and
 * cleans up after them. `prepare` makes the project and the fake API; `signals` are the gates the
 * script opens.
 */
export function useScenario<T>(script: string, prepare: (dir: string, signals: NamedGates) => Promise<Prepared>): Scenario<T> {
  let dir: string | undefined;
  let prepared: Prepared | undefined;
  let nvim: CommandRun | undefined;
  let result: (T & ScenarioBase) | undefined;
  let failure: string | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'efrit-nvim-'));
    const signals = namedGates();
    prepared = await prepare(dir, signals);
    const xdg = join(dir, 'xdg');
    nvim = await runCommand('timeout', ['90', 'nvim', '--headless', '-u', 'NONE', '-i', 'NONE', '-n', '-c', `luafile ${join(scriptDir, script)}`], {
      env: {
        PATH: process.env['PATH'],
        HOME: dir,
        XDG_CACHE_HOME: join(xdg, 'cache'),
        XDG_STATE_HOME: join(xdg, 'state'),
        XDG_DATA_HOME: join(xdg, 'data'),
        XDG_CONFIG_HOME: join(xdg, 'config'),
        EFRIT_TEST_RTP: pluginDir,
        EFRIT_TEST_SERVER: serverEntry,
        ...prepared.env,
      },
      timeoutMs: 100_000,
      signals,
    });
    const line = nvim.stdout.split('\n').find((l) => l.startsWith('EFRIT_RESULT '));
    if (line === undefined) failure = 'no EFRIT_RESULT line';
    else result = JSON.parse(line.slice('EFRIT_RESULT '.length)) as T & ScenarioBase;
  }, 120_000);

  afterAll(async () => {
    await prepared?.fake?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const detail = (): string => (nvim === undefined ? '(Neovim did not run)' : `exit ${nvim.code} signal ${nvim.signal}\n--- stdout\n${nvim.stdout}\n--- stderr\n${nvim.stderr}`);

  return {
    passed(name) {
      expect(failure, detail()).toBeUndefined();
      if (result === undefined) throw new Error(`the scenario ${script} did not run\n${detail()}`);
      expect(result.error, `the scenario broke before it ended\n${detail()}`).toBeUndefined();
      const outcome = result.cases[name];
      expect(outcome, `case "${name}" did not run (cases: ${Object.keys(result.cases).join(', ')})\n${detail()}`).toBeDefined();
      expect(outcome?.error, `case "${name}"\n${detail()}`).toBeUndefined();
      return result;
    },
    run() {
      if (nvim === undefined) throw new Error(`the scenario ${script} did not run`);
      return nvim;
    },
    fake() {
      if (prepared?.fake === undefined) throw new Error(`the scenario ${script} has no fake API`);
      return prepared.fake;
    },
  };
}
