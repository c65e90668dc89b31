/** Running headless Emacs for the client tests, and reading what its test script printed. */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic, type Responder } from '../support/fake-anthropic/server.js';
import type { NamedGates } from '../support/gate.js';
import { testApiKey } from '../support/harness.js';
import { openGatesOnSignals } from './script-signals.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs a command to its end (killed at `timeoutMs`), never rejecting: the exit
 * code says how it went. With `signals`, each `EFRIT_SIGNAL <name>` line the
 * command writes on stderr opens that gate as it arrives.
 */
export function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number; signals?: NamedGates }): Promise<RunResult> {
  const started = Date.now();
  return new Promise((done) => {
    const child = execFile(
      command,
      args,
      { env: options.env ?? process.env, cwd: options.cwd, timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        done({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
    if (options.signals !== undefined && child.stderr !== null) openGatesOnSignals(child.stderr, options.signals);
  });
}

/** The "EFRIT-TEST <key> <json>" lines the .el script printed. */
export function parseEmitted(stdout: string): Map<string, unknown> {
  const emitted = new Map<string, unknown>();
  for (const line of stdout.split('\n')) {
    const match = /^EFRIT-TEST (\S+) (.*)$/.exec(line);
    if (match?.[1] === undefined || match[2] === undefined) continue;
    emitted.set(match[1], JSON.parse(match[2]) as unknown);
  }
  return emitted;
}

export interface ScenarioOptions {
  /** The .el test script to load. */
  script: string;
  /** The project Emacs runs in. */
  project: string;
  /** The test's scratch folder: Emacs's HOME, and where eglot's events are logged. */
  work: string;
  /** The fake Messages API the server talks to. */
  apiUrl: string;
  /** The file the script visits. */
  file: string;
  timeoutMs: number;
  /** The gates the script opens with `efrit-test-signal`, for the fake's held replies. */
  signals?: NamedGates;
  /** More environment for Emacs. */
  env?: NodeJS.ProcessEnv;
  /** Files Emacs loads before the script, as an init file would be. */
  preload?: string[];
}

export interface Scenario {
  emitted: Map<string, unknown>;
  stdout: string;
  /** Everything to look at when an assertion fails: exit, stdout, stderr and eglot's events, tails. */
  diagnostics(): string;
}

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const emacsClientDir = join(repo, 'clients/emacs');
export const serverBundle = join(repo, 'dist/efrit-lsp.cjs');

/** Runs one headless Emacs test script against the real server (the built bin) and reads what it printed. */
export async function runEmacsScenario(options: ScenarioOptions): Promise<Scenario> {
  const eventsLog = join(options.work, 'eglot-events.log');
  const result = await run('emacs', ['--batch', '-Q', ...(options.preload ?? []).flatMap((file) => ['-l', file]), '-l', options.script], {
    cwd: options.project,
    timeoutMs: options.timeoutMs,
    ...(options.signals !== undefined ? { signals: options.signals } : {}),
    env: {
      ...process.env,
      HOME: options.work, // no user init, no stray state
      ANTHROPIC_API_KEY: testApiKey,
      ANTHROPIC_BASE_URL: options.apiUrl,
      EFRIT_TEST_CLIENT_DIR: emacsClientDir,
      EFRIT_TEST_SERVER: JSON.stringify([process.execPath, serverBundle, '--stdio']),
      EFRIT_TEST_FILE: options.file,
      EFRIT_TEST_EVENTS_LOG: eventsLog,
      ...options.env,
    },
  });
  const emitted = parseEmitted(result.stdout);
  const diagnostics = (): string =>
    `exit ${result.code} after ${result.ms} ms, signals seen: ${options.signals?.openedNames.join(', ') || 'none'}\n--- stdout ---\n${result.stdout}\n--- stderr (tail) ---\n${result.stderr.slice(-6000)}` +
    (existsSync(eventsLog) ? `\n--- eglot events (tail) ---\n${readFileSync(eventsLog, 'utf8').slice(-8000)}` : '');
  if (process.env['EFRIT_TEST_VERBOSE'] === '1') console.log(diagnostics());
  return { emitted, stdout: result.stdout, diagnostics };
}

export interface TestBed {
  /** The fake Messages API the server talks to. */
  readonly fake: FakeAnthropic;
  /** A scratch folder: the projects, Emacs's HOME, eglot's events. */
  readonly work: string;
}

/**
 * Called inside a describe: before its tests, a fake Messages API answering
 * with `respond` and a scratch folder named after `name`; after them, both gone.
 */
export function emacsTestBed(name: string, respond: Responder): TestBed {
  const bed = {} as { fake: FakeAnthropic; work: string };
  beforeAll(async () => {
    if (!existsSync(serverBundle)) throw new Error(`${serverBundle} is missing: run npm run build first`);
    bed.fake = await startFakeAnthropic({ apiKey: testApiKey, respond });
    bed.work = mkdtempSync(join(tmpdir(), `efrit-${name}-`));
  });
  afterAll(async () => {
    await bed.fake?.close();
    if (bed.work !== undefined) rmSync(bed.work, { recursive: true, force: true });
  });
  return bed;
}

/** The names of the `ert-deftest`s in an .el test script, in the order written. */
export function ertTestNames(script: string): string[] {
  return [...readFileSync(script, 'utf8').matchAll(/^\(ert-deftest\s+(\S+)/gm)].map((match) => String(match[1]));
}

export interface ErtResult {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  message: string | null;
}

/** The "EFRIT-ERT <json>" lines `efrit-test-run-ert` printed, by test name. */
export function parseErtResults(stdout: string): Map<string, ErtResult> {
  const results = new Map<string, ErtResult>();
  for (const line of stdout.split('\n')) {
    const match = /^EFRIT-ERT (.*)$/.exec(line);
    if (match?.[1] === undefined) continue;
    const result = JSON.parse(match[1]) as ErtResult;
    results.set(result.name, result);
  }
  return results;
}

export interface ErtRun {
  /** Set once the run ended: every test's result, what the script emitted, and where to look when one failed. */
  results: Map<string, ErtResult>;
  emitted: Map<string, unknown>;
  diagnostics(): string;
}

/**
 * Called inside a describe: runs the ert tests of `script` in one headless
 * Emacs (one server, one fixture) before the describe's tests, and adds one
 * vitest case per `ert-deftest`, so each ert failure is reported under its
 * own name. Returns the run, for cases that check what the fake API saw.
 */
export function ertSuite(
  bed: TestBed,
  options: { script: string; project: () => { project: string; file: string; preload?: string[]; env?: NodeJS.ProcessEnv }; signals?: NamedGates; timeoutMs: number },
): ErtRun {
  const run: ErtRun = { results: new Map(), emitted: new Map(), diagnostics: () => 'the Emacs run did not happen' };
  beforeAll(async () => {
    const { project, file, preload, env } = options.project();
    const scenario = await runEmacsScenario({
      script: options.script,
      project,
      work: bed.work,
      apiUrl: bed.fake.url,
      file,
      timeoutMs: options.timeoutMs,
      ...(options.signals !== undefined ? { signals: options.signals } : {}),
      ...(env !== undefined ? { env } : {}),
      ...(preload !== undefined ? { preload } : {}),
    });
    run.results = parseErtResults(scenario.stdout);
    run.emitted = scenario.emitted;
    run.diagnostics = scenario.diagnostics;
  }, options.timeoutMs + 10_000);
  ertCases(options.script, run);
  return run;
}

/** One vitest case per `ert-deftest` of `script`, each passing when its ert test did in `run`. */
export function ertCases(script: string, run: ErtRun): void {
  for (const name of ertTestNames(script)) {
    it(name, () => {
      const result = run.results.get(name);
      expect(result, `${name} did not report\n${run.diagnostics()}`).toBeDefined();
      expect(result?.status, `${result?.message ?? ''}\n${run.diagnostics()}`).toBe('passed');
    });
  }
}
