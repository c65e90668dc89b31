/**
 * The checks of one efrit/do job: which proposal each `run_check` ran on, and
 * what the user is told about them at the end.
 *
 * A `run_check` in the same turn as `propose_edits` checks that proposal, as
 * part of deciding whether it goes to the user (do-agent.ts `acceptFinal`):
 * the proposal is handed over only when every check it names ran and passed;
 * otherwise it goes back to the model with the results, which may fix it, or
 * hand it over unchanged by proposing it again without `run_check`. At the
 * agent's last step a proposal is handed over whatever its checks said. This
 * keeps the loop's shape (a proposal still ends it) and needs no state of
 * "the current proposal" that the model would have to keep in mind: a check
 * always runs on the proposal beside it, or on the workspace as it is.
 *
 * Whatever the last run of each check said is reported in the job's summary
 * (issue #16 item 4): a failure the agent could not fix is never hidden.
 */
import type { ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages/messages.js';
import type { WorkspaceEdit } from 'vscode-languageserver-types';
import type { PlannedChange } from '../assistant/change-plan.js';
import type { ModelReply, ToolCall } from '../model/model-client.js';
import type { TrackedDocument } from '../documents/tracked-document.js';
import { checkResultText, runCheckToolName, type CheckResult, type CheckRunner } from './check-commands.js';
import { proposedState } from './proposed-state.js';
import type { ShadowSpec } from './shadow-workspace.js';
import { notRunResults } from './do-agent.js';
import type { CheckRunLog } from './check-runs.js';
import type { ToolOutcome } from './workspace-tools.js';

/** Checks run for one proposal: more would be one proposal's whole job timeout. */
export const maxChecksPerProposal = 4;

export interface ProposalChecksDeps {
  runner: CheckRunner;
  /** The change as the editor would get it now (rebased, re-checked); throws when it can no longer be applied. */
  workspaceEdit(plan: PlannedChange): Promise<WorkspaceEdit>;
  roots(): readonly string[];
  openDocuments(): TrackedDocument[];
  /** The document the task is about: checks start in its workspace folder. */
  near: string;
  note(text: string): void;
  signal: AbortSignal;
  /** Where each run is recorded for the job's result. */
  runs: CheckRunLog;
}

interface LastRun {
  result: CheckResult;
  /** The proposal it ran on (the model's propose_edits input), or undefined for the workspace as it was. */
  proposal: string | undefined;
}

export class ProposalChecks {
  private turn: readonly ToolCall[] = [];
  /** Outcomes of the checks run while judging a proposal, by tool_use id: the loop answers those calls with them. */
  private readonly answered = new Map<string, ToolOutcome>();
  private readonly lastRuns = new Map<string, LastRun>();
  private readonly denied = new Set<string>();
  /** The last proposal judged, which is the one handed over when the job ends with a change. */
  private lastProposal: string | undefined;

  constructor(private readonly deps: ProposalChecksDeps) {}

  /** The model's latest reply: its run_check calls check the proposal made beside them. */
  observe(reply: ModelReply): void {
    this.turn = reply.toolCalls;
  }

  handles(call: ToolCall): boolean {
    return call.name === runCheckToolName;
  }

  /**
   * For the loop's repeat rule: a check beside a proposal is the same call
   * only for the same proposal (checking each new version is the point).
   */
  callKey(call: ToolCall, turn: readonly ToolCall[]): string | undefined {
    if (!this.handles(call)) return undefined;
    const proposal = turn.find((other) => other.name === 'propose_edits');
    return JSON.stringify([call.name, call.input, proposal?.input ?? null]);
  }

  /**
   * Runs the checks the model named beside `plan`; undefined hands the plan
   * over, a string holds it back and tells the model why.
   */
  async judge(plan: PlannedChange, proposalCall: ToolCall, lastStep: boolean): Promise<string | undefined> {
    // The same input is the same proposal: handing over unchanged what was checked keeps its results.
    const proposal = JSON.stringify(proposalCall.input);
    this.lastProposal = proposal;
    const calls = this.turn.filter((call) => this.handles(call));
    if (calls.length === 0) return undefined;
    const byName = new Map<string, CheckResult>();
    for (const call of calls) {
      const name = commandOf(call);
      let result = byName.get(name);
      if (result === undefined && byName.size >= maxChecksPerProposal) {
        const why = `at most ${maxChecksPerProposal} checks run for one proposal`;
        this.answered.set(call.id, outcomeOf(call, { kind: 'notRun', command: name, why, reason: `Not run: ${why}.`, final: false }, 'the proposal'));
        continue;
      }
      if (result === undefined) {
        result = await this.runCheck(name, plan, proposal);
        byName.set(name, result);
      }
      this.answered.set(call.id, outcomeOf(call, result, 'the workspace with your proposed change applied'));
    }
    const bad = [...byName.values()].filter((result) => result.kind !== 'passed');
    if (bad.length === 0 || lastStep) return undefined;
    const what = bad.map((result) => (result.kind === 'notRun' ? `${result.command} could not run` : `${result.command} ${result.kind === 'timedOut' ? 'timed out' : 'failed'}`));
    return `The change was held back, not handed to the user: ${what.join(', ')} (see the run_check result${bad.length === 1 ? '' : 's'}). Fix the change and propose it again with run_check; or, if the failure is not the change's to fix, call propose_edits again without run_check to hand it over as it is (the user is told what failed).`;
  }

  /** A run_check the loop runs as a tool: the answer of a check already run beside a proposal, or a run on the workspace as it is. */
  async answer(call: ToolCall): Promise<ToolOutcome> {
    const known = this.answered.get(call.id);
    if (known !== undefined) return known;
    const name = commandOf(call);
    const result = await this.runCheck(name, undefined, undefined);
    return outcomeOf(call, result, 'the workspace as it is now (no proposal in this turn)');
  }

  /** Answers for the calls the final turn left: run_check ones with their real results. */
  pendingAnswers(calls: readonly ToolCall[]): ToolResultBlockParam[] {
    return calls.map((call) => {
      const known = this.answered.get(call.id);
      return known === undefined ? (notRunResults([call])[0] as ToolResultBlockParam) : { type: 'tool_result', tool_use_id: call.id, content: known.content, is_error: known.isError };
    });
  }

  /**
   * What the user reads at the end about the checks: the last run of each,
   * and on what it ran, a line each (see checksSummary in check-runs.ts).
   * `handedOver`: the job ends with a change (the last proposal judged).
   */
  reportLines(handedOver: boolean): string[] {
    return [...this.lastRuns.entries()].map(([name, run]) => {
      const { result } = run;
      const on =
        run.proposal === undefined
          ? ' on the workspace before the change'
          : !handedOver
            ? ' on a proposed change that was not handed over'
            : run.proposal === this.lastProposal
              ? ''
              : ' on an earlier version of the change (the final one was not checked)';
      if (result.kind === 'notRun') return `- ${name}: not run (${result.why})`;
      if (result.kind === 'passed') return `- ${name}: passed${on}`;
      const how = result.kind === 'timedOut' ? 'timed out' : `FAILED (${result.exitCode === null ? 'killed' : `exit code ${result.exitCode}`})`;
      return `- ${name}: ${how}${on}${result.firstFailure === undefined ? '' : `: ${result.firstFailure}`}`;
    });
  }

  private async runCheck(name: string, plan: PlannedChange | undefined, proposal: string | undefined): Promise<CheckResult> {
    const result = await this.deps.runner.run({
      command: name,
      signal: this.deps.signal,
      note: (text) => this.deps.note(text),
      denied: this.denied,
      workspace: async () => {
        const edit = plan === undefined ? undefined : await this.deps.workspaceEdit(plan);
        const state = await proposedState(edit, { roots: this.deps.roots(), openDocuments: () => this.deps.openDocuments(), near: this.deps.near });
        const unsaved = state.unsavedFiles === 0 ? '' : ` and ${state.unsavedFiles} unsaved document${state.unsavedFiles === 1 ? '' : 's'}`;
        const described = plan === undefined ? `the workspace as it is${unsaved}` : `the proposed change (${state.changedFiles} file${state.changedFiles === 1 ? '' : 's'}${unsaved})`;
        return { spec: state.spec satisfies ShadowSpec, cwd: state.cwd, described };
      },
    });
    // A check named wrongly says nothing about the workspace: it is not "the last run" of anything.
    if (!(result.kind === 'notRun' && !result.final && !Object.hasOwn(this.deps.runner.commands(), name))) {
      this.lastRuns.set(name, { result, proposal });
      this.deps.runs.recordCommand(result, proposal);
    }
    return result;
  }
}

function commandOf(call: ToolCall): string {
  const input = call.input;
  const command = typeof input === 'object' && input !== null ? (input as Record<string, unknown>)['command'] : undefined;
  return typeof command === 'string' ? command : '';
}

function outcomeOf(call: ToolCall, result: CheckResult, ranOn: string): ToolOutcome {
  const name = commandOf(call);
  const verdict = result.kind === 'notRun' ? 'not run' : result.kind;
  return {
    content: checkResultText(result, ranOn),
    isError: result.kind === 'notRun',
    // The runner already told the user as it went.
    note: '',
    summary: `run_check ${JSON.stringify({ command: name })} -> ${verdict}${result.kind === 'failed' && result.firstFailure !== undefined ? `: ${result.firstFailure.slice(0, 120)}` : ''}`,
  };
}
