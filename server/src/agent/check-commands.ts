/**
 * The project's own checks (`agent.commands`), run for the efrit/do agent on
 * the workspace as its proposal would leave it, with the user's consent.
 *
 * - The model names a check; the argv is the user's, from the settings.
 *   Nothing the model writes reaches a command line.
 * - Before the first run of a command in a workspace folder, the user is
 *   asked (Allow once / Always for this workspace / Deny) through the
 *   `CommandConsent` port, which the feature layer implements with
 *   `window/showMessageRequest`. "Always" is remembered for that folder, name
 *   and argv (consent-state.ts: in the user's state file, across restarts):
 *   a changed argv is asked about again.
 * - The command runs in a shadow of the workspace (shadow-workspace.ts): no
 *   standard input, a timeout (`agent.commandTimeoutMs`), its output kept
 *   within a bound and trimmed for the model with the failures first, and it
 *   is killed with every process it started when the job is cancelled.
 * - Its environment is the server's without ANTHROPIC_* variables: the code
 *   it runs may be the model's own.
 */
import PQueue from 'p-queue';
import type { Tool } from '@anthropic-ai/sdk/resources/messages/messages.js';
import type { CheckCommands } from '../settings/config.js';
import type { Logger } from '../common/logger.js';
import { isolation as probeIsolation, prepareShadow, runInShadow, type Isolation, type ShadowOutcome, type ShadowSpec } from './shadow-workspace.js';
import { ConsentInMemory, type RememberedConsent } from './consent-state.js';

export const runCheckToolName = 'run_check';

/** What the model reads of a check's output. */
export const maxCheckOutputChars = 6_000;
/** What the user's stream shows of it. */
export const maxStreamOutputChars = 1_500;

/**
 * `run_check`, offered only when `agent.commands` names some: its `command`
 * enum is the configured names, so the tool list changes only when that
 * setting does, never from one request to the next.
 */
export function checkToolDefinitions(commands: CheckCommands): Tool[] {
  const names = Object.keys(commands).sort();
  if (names.length === 0) return [];
  return [
    {
      name: runCheckToolName,
      description:
        "Run one of the project's own checks (tests, type checker, linter), which the user configured by name, and get its exit status and output (failures first). Called in the same turn as propose_edits, it runs on the workspace as that proposal would leave it, and the proposal goes to the user only if every check it names passes: otherwise it comes back to you with the output, to fix (or to hand over unchanged by calling propose_edits again without run_check). Called without propose_edits, it runs on the workspace as it is now (with the editor's unsaved text). The check runs isolated: nothing it writes is kept. The user may be asked to allow it first, and may refuse.",
      input_schema: {
        type: 'object',
        properties: { command: { type: 'string', enum: names, description: 'The name of the check to run.' } },
        required: ['command'],
        additionalProperties: false,
      },
    },
  ];
}

export type ConsentAnswer = 'once' | 'always' | 'deny' | 'dismissed' | 'unsupported';

export interface ConsentQuestion {
  /** The check's name. */
  command: string;
  argv: readonly string[];
  /** The workspace folder it runs in. */
  folder: string;
}

/** Asks the user whether a command may run; implemented by the feature layer (the domain never touches the connection). */
export interface CommandConsent {
  ask(question: ConsentQuestion, signal: AbortSignal): Promise<ConsentAnswer>;
}

export type CheckResult =
  | { kind: 'passed' | 'failed' | 'timedOut'; command: string; argv: readonly string[]; exitCode: number | null; durationMs: number; output: string; streamOutput: string; firstFailure: string | undefined }
  | {
      kind: 'notRun';
      command: string;
      /** Why, as a clause for the user: "the user denied it". */
      why: string;
      /** What the model reads. */
      reason: string;
      /** The same request would be refused again in this job (denied, impossible here). */
      final: boolean;
    };

export interface CheckRequest {
  command: string;
  /** What the check runs on: the proposed workspace, with the folder it starts in. */
  workspace: () => Promise<{ spec: ShadowSpec; cwd: string; described: string }>;
  signal: AbortSignal;
  /** Progress for the user's stream. */
  note(text: string): void;
  /** Commands the user denied in this job: not asked again. */
  denied: Set<string>;
}

export interface CheckRunnerOptions {
  consent: CommandConsent;
  commands(): CheckCommands;
  timeoutMs(): number;
  /** Removes secrets (the API key) from what the command printed before anyone sees it. */
  redact(text: string): string;
  logger: Logger;
  /** The command's environment before ANTHROPIC_* are removed. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default the real probe (shadow-workspace.ts) */
  isolation?: () => Promise<Isolation>;
  /** Where "Always" answers are kept. @default for this runner's life only */
  remembered?: RememberedConsent;
}

export class CheckRunner {
  private readonly remembered: RememberedConsent;
  private readonly asking = new Map<string, Promise<ConsentAnswer>>();
  /** One check at a time: each may start a whole test suite, and the machine also runs the editor. */
  private readonly running = new PQueue({ concurrency: 1 });

  constructor(private readonly options: CheckRunnerOptions) {
    this.remembered = options.remembered ?? new ConsentInMemory();
  }

  definitions(): Tool[] {
    return checkToolDefinitions(this.options.commands());
  }

  commands(): CheckCommands {
    return this.options.commands();
  }

  async run(request: CheckRequest): Promise<CheckResult> {
    const { command } = request;
    const commands = this.options.commands();
    const argv = Object.hasOwn(commands, command) ? commands[command] : undefined;
    if (argv === undefined) {
      const names = Object.keys(commands).sort();
      const why = `there is no check named ${JSON.stringify(command)}`;
      return { kind: 'notRun', command, why, reason: `There is no check named ${JSON.stringify(command)}; the checks are: ${names.join(', ') || '(none)'}.`, final: false };
    }
    if (request.denied.has(command)) return notRun(command, 'the user refused it earlier in this task', true);
    const available = await (this.options.isolation ?? probeIsolation)();
    if (!available.available) {
      request.note(`check ${command} not run: ${available.reason}`);
      return notRun(command, `it can only run isolated from the user's files, and ${available.reason}`, true);
    }
    let workspace: { spec: ShadowSpec; cwd: string; described: string };
    try {
      workspace = await request.workspace();
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      request.note(`check ${command} not run: ${why}`);
      return notRun(command, why, false);
    }

    const consent = await this.consent({ command, argv, folder: workspace.cwd }, request);
    if (consent !== undefined) {
      request.denied.add(command);
      request.note(`check ${command} not run: ${consent}`);
      return notRun(command, consent, true);
    }
    request.signal.throwIfAborted();
    return this.running.add(() => this.runAllowed(command, argv, workspace, request), { signal: request.signal });
  }

  /** Undefined when the command may run; else why not, for the model. */
  private async consent(question: ConsentQuestion, request: CheckRequest): Promise<string | undefined> {
    const key = JSON.stringify([question.folder, question.command, question.argv]);
    if (await this.remembered.has(question)) return undefined;
    let pending = this.asking.get(key);
    if (pending === undefined) {
      request.note(`check ${question.command}: asking you to allow \`${shown(question.argv)}\``);
      pending = this.options.consent.ask(question, request.signal).finally(() => this.asking.delete(key));
      this.asking.set(key, pending);
    }
    const answer = await abortable(pending, request.signal);
    switch (answer) {
      case 'always':
        await this.remembered.remember(question);
        return undefined;
      case 'once':
        return undefined;
      case 'deny':
        return 'the user denied it';
      case 'dismissed':
        return 'the user closed the question without allowing it';
      case 'unsupported':
        return "this editor cannot ask the user for consent (it does not support window/showMessageRequest), and checks never run without it";
    }
  }

  private async runAllowed(command: string, argv: readonly string[], workspace: { spec: ShadowSpec; cwd: string; described: string }, request: CheckRequest): Promise<CheckResult> {
    request.note(`check ${command}: running \`${shown(argv)}\` on ${workspace.described}, isolated from your files`);
    const shadow = await prepareShadow(workspace.spec);
    let outcome: ShadowOutcome;
    try {
      outcome = await runInShadow(shadow, { argv, cwd: workspace.cwd, timeoutMs: this.options.timeoutMs(), signal: request.signal, env: commandEnvironment(this.options.env ?? process.env) });
    } finally {
      await shadow.dispose();
    }
    if (outcome.kind === 'setupFailed') {
      this.options.logger.warn(`check ${command}: the isolated view could not be set up: ${outcome.reason}`);
      request.note(`check ${command} not run: the isolated view could not be set up (${outcome.reason})`);
      return notRun(command, `its isolated view of the workspace could not be set up (${outcome.reason})`, false);
    }
    if (outcome.kind === 'cancelled') request.signal.throwIfAborted();
    const redact = this.options.redact;
    const failed = outcome.kind === 'timedOut' || outcome.kind === 'cancelled' || outcome.code !== 0;
    const result: CheckResult = {
      kind: outcome.kind === 'timedOut' ? 'timedOut' : failed ? 'failed' : 'passed',
      command,
      argv: argv.map(redact),
      exitCode: outcome.kind === 'exited' ? outcome.code : null,
      durationMs: outcome.durationMs,
      output: redact(outcome.output.render(maxCheckOutputChars)),
      streamOutput: redact(outcome.output.render(maxStreamOutputChars)),
      firstFailure: outcome.output.firstFailure() === undefined ? undefined : redact(outcome.output.firstFailure() as string),
    };
    request.note(`${checkHeadline(result)}${result.kind === 'passed' ? '' : `\n${result.streamOutput}`}`);
    return result;
  }
}

/** One line: "check test failed (exit code 1, 2.1 s)". */
export function checkHeadline(result: CheckResult): string {
  if (result.kind === 'notRun') return `check ${result.command} not run`;
  const took = seconds(result.durationMs);
  if (result.kind === 'passed') return `check ${result.command} passed (${took})`;
  if (result.kind === 'timedOut') return `check ${result.command} timed out after ${took} and was stopped`;
  return `check ${result.command} failed (${result.exitCode === null ? 'killed by a signal' : `exit code ${result.exitCode}`}, ${took})`;
}

/** The tool result the model reads. */
export function checkResultText(result: CheckResult, ranOn: string): string {
  if (result.kind === 'notRun') return result.reason;
  const verdict = result.kind === 'passed' ? 'PASSED' : result.kind === 'timedOut' ? 'TIMED OUT and was stopped' : `FAILED with ${result.exitCode === null ? 'no exit code (killed by a signal)' : `exit code ${result.exitCode}`}`;
  return `Check "${result.command}" (\`${shown(result.argv)}\`) ${verdict} after ${seconds(result.durationMs)}, on ${ranOn} (in an isolated view: nothing it wrote was kept).\n${result.output}`;
}

function notRun(command: string, why: string, final: boolean): CheckResult {
  const reason = `The check "${command}" was not run: ${why.replace(/\.$/, '')}.${final ? ' Do not ask for it again in this task.' : ''}`;
  return { kind: 'notRun', command, why, reason, final };
}

/** The server's environment for the command, without the API key or where it is sent. */
export function commandEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !/^ANTHROPIC_/i.test(key)));
}

/** An argv as a person would type it, for messages only (never run). */
export function shown(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
