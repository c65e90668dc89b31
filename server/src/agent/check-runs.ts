/**
 * The record of every check one efrit/do job ran, for its result
 * (`DoResult.checks`) and its summary: the language server's check of each
 * proposal and each run of the project's own commands, in order, with the
 * step and the proposal each ran on. Whatever the last run of a check says is
 * kept, so a failure the agent could not fix is always in the result
 * (issue #16 item 4); earlier runs that a later run superseded are dropped
 * first when there are more than the result may hold.
 */
import type { Diagnostic } from 'vscode-languageserver-types';
import { maxDoCheckErrors, maxDoChecks, type DoCheck, type DoCheckError } from '../protocol.js';
import type { CheckResult } from './check-commands.js';

/** What the language server's check found in each file it checked (assistant/proposal-check.ts). */
export interface LanguageServerFindings {
  checked: readonly { displayPath: string; introduced: readonly Diagnostic[]; removed: number }[];
  /** Why it could not check the change, when it could not. */
  failure?: string | undefined;
}

/** A diagnostic's message in the result at most: a language server may put a whole type in one. */
const maxMessageChars = 500;
/** New errors named in the summary's line; the result lists more. */
const errorsInSummary = 3;

interface RecordedRun {
  check: Omit<DoCheck, 'latest' | 'ofFinalChange'>;
  /** The proposal it ran on (the propose_edits input as JSON), or undefined for the workspace as it was. */
  proposal: string | undefined;
  /** Which check this is a run of: later runs of the same supersede it. */
  identity: string;
}

export class CheckRunLog {
  private readonly runs: RecordedRun[] = [];
  /** The agent's current step (1-based): a run belongs to the step whose proposal it checked. */
  step = 1;

  constructor(private readonly max = maxDoChecks) {}

  /** A language-server check of `proposal`; nothing is recorded when it had nothing to check (a change that only renames or deletes). */
  recordLanguageServer(findings: LanguageServerFindings, proposal: string): void {
    if (findings.failure !== undefined) {
      this.add({ kind: 'languageServer', step: this.step, on: 'proposal', outcome: 'notRun', passed: false, reason: `the language server could not check the change: ${findings.failure}` }, proposal, 'languageServer');
      return;
    }
    if (findings.checked.length === 0) return;
    const newErrors: DoCheckError[] = findings.checked.flatMap(({ displayPath, introduced }) => introduced.map((diagnostic) => errorOf(displayPath, diagnostic)));
    const failed = newErrors.length > 0;
    this.add(
      {
        kind: 'languageServer',
        step: this.step,
        on: 'proposal',
        outcome: failed ? 'failed' : 'passed',
        passed: !failed,
        files: findings.checked.map((file) => file.displayPath),
        newErrors: newErrors.slice(0, maxDoCheckErrors),
        newErrorCount: newErrors.length,
        fixedErrors: findings.checked.reduce((sum, file) => sum + file.removed, 0),
      },
      proposal,
      'languageServer',
    );
  }

  /** A run of one of `agent.commands`, on `proposal` or (undefined) the workspace as it was. */
  recordCommand(result: CheckResult, proposal: string | undefined): void {
    const on = proposal === undefined ? 'workspace' : 'proposal';
    const identity = `command ${result.command}`;
    if (result.kind === 'notRun') {
      this.add({ kind: 'command', name: result.command, step: this.step, on, outcome: 'notRun', passed: false, reason: result.why }, proposal, identity);
      return;
    }
    const check: RecordedRun['check'] = { kind: 'command', name: result.command, step: this.step, on, outcome: result.kind, passed: result.kind === 'passed', exitCode: result.exitCode };
    // The stream's rendering of the output: already bounded and redacted by the runner.
    if (result.streamOutput !== '') check.output = result.streamOutput;
    this.add(check, proposal, identity);
  }

  /** The runs for the job's result. `finalProposal`: the proposal handed over as the change, undefined when none was. */
  results(finalProposal: string | undefined): DoCheck[] {
    const latest = this.latestIndexes();
    return this.runs.map((run, index) => ({
      ...run.check,
      latest: latest.has(index),
      ofFinalChange: finalProposal !== undefined && run.proposal === finalProposal,
    }));
  }

  /**
   * The summary's line about the language server, when its last check did
   * not pass (a clean check is the usual case and says nothing); undefined
   * otherwise. `finalProposal` as for results.
   */
  languageServerLine(finalProposal: string | undefined): string | undefined {
    const last = this.runs.findLast((run) => run.identity === 'languageServer');
    if (last === undefined || last.check.passed) return undefined;
    const on =
      finalProposal === undefined ? ' on a proposed change that was not handed over' : last.proposal === finalProposal ? '' : ' on an earlier version of the change (the final one was not checked)';
    // Stryker disable next-line StringLiteral: equivalent, a language-server run that did not run always has its reason
    if (last.check.outcome === 'notRun') return `- language server: not checked${on} (${last.check.reason ?? 'unknown reason'})`;
    const count = last.check.newErrorCount ?? 0;
    // Stryker disable next-line ArrayDeclaration: equivalent, a failed language-server run always has its list of errors
    const named = (last.check.newErrors ?? []).slice(0, errorsInSummary).map((error) => `${error.path}:${error.line}: ${error.message}`);
    const more = count > named.length ? `; and ${count - named.length} more` : '';
    return `- language server: ${count} new error${count === 1 ? '' : 's'}${on}: ${named.join('; ')}${more}`;
  }

  private add(check: RecordedRun['check'], proposal: string | undefined, identity: string): void {
    this.runs.push({ check, proposal, identity });
    if (this.runs.length <= this.max) return;
    const latest = this.latestIndexes();
    const superseded = this.runs.findIndex((_, index) => !latest.has(index));
    // Every run is the last of its check only with more checks than the result holds, which the settings' bounds prevent.
    this.runs.splice(superseded === -1 ? 0 : superseded, 1);
  }

  private latestIndexes(): Set<number> {
    const seen = new Map<string, number>();
    this.runs.forEach((run, index) => seen.set(run.identity, index));
    return new Set(seen.values());
  }
}

/** The summary's block of checks: the language server's line, then the commands' (agent/proposal-checks.ts); empty without any. */
export function checksSummary(handedOver: boolean, lines: readonly string[]): string {
  return lines.length === 0 ? '' : `Checks${handedOver ? ' of the proposed change' : ''}:\n${lines.join('\n')}`;
}

function errorOf(path: string, diagnostic: Diagnostic): DoCheckError {
  const message = (typeof diagnostic.message === 'string' ? diagnostic.message : '').replace(/\s+/g, ' ').trim();
  return {
    path,
    line: diagnostic.range.start.line + 1,
    message: message.length > maxMessageChars ? `${message.slice(0, maxMessageChars - 1)}…` : message,
    ...(diagnostic.source === undefined || diagnostic.source === '' ? {} : { source: diagnostic.source }),
    ...(diagnostic.code === undefined ? {} : { code: diagnostic.code }),
  };
}
