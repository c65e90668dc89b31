/**
 * The efrit-style tool loop behind `efrit/do`: the model reads what it needs
 * with read-only workspace tools, step by step, until it proposes edits or
 * answers in words. Bounded every way Efrit's was not:
 * - steps (`agent.maxSteps`) and tokens (`agent.tokenBudget`), and the job's
 *   own timeout around all of it;
 * - a circuit breaker: the same call made twice, or the same error twice in a
 *   row, ends the loop (Efrit's model could spin on both);
 * - the work log is kept under `agent.logBudgetTokens`, older tool results
 *   cut to one line, never touching what a cache breakpoint covers.
 * Several tool calls in one model turn run together and are answered in one
 * message (Efrit's "request batching"), but at most `maxToolCallsPerStep` of
 * them, `maxConcurrentToolCalls` at a time: a model that asks for 400
 * searches at once gets 16 run and the rest answered as not run, so one step
 * cannot swamp the machine (each search has a worker thread and a deadline of
 * its own, see search-runner.ts).
 */
import PQueue from 'p-queue';
import type { ContentBlockParam, MessageParam, ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { EfritError } from '../common/errors.js';
import type { ModelReply, ToolCall } from '../model/model-client.js';
import { addCallUsage, emptyCallUsage, type CallUsage } from '../model/usage-meter.js';
import { WorkLog, type WorkLogEntry } from './work-log.js';
import type { ToolOutcome } from './workspace-tools.js';

export interface AgentLimits {
  maxSteps: number;
  /** Input plus output tokens over all steps. */
  tokenBudget: number;
  /** Budget of the work log (the steps' history) in each request. */
  logBudgetTokens: number;
  /** Tool calls run per model step; the calls past it are answered as not run. @default 16 */
  maxToolCallsPerStep?: number;
  /** Tool calls of one step running at once. @default 4 */
  maxConcurrentToolCalls?: number;
}

/** More than an agent needs in one step (it reads a few files and searches a few times), far fewer than a runaway model can ask for. */
export const defaultMaxToolCallsPerStep = 16;
/** Searches take a worker thread each; reads are cheap. Four at once keeps a two-core machine answering. */
export const defaultMaxConcurrentToolCalls = 4;

export interface AgentRun {
  /** The conversation so far, ending with the user's instruction. */
  prefix: MessageParam[];
  /** One model step with the tools offered. */
  step(messages: MessageParam[]): Promise<ModelReply>;
  /** Runs one read-only tool. */
  runTool(call: ToolCall): Promise<ToolOutcome>;
  /** The name of the tool that ends the loop with edits. */
  finalTool: string;
  /**
   * Checks the final tool's call before the loop ends with it: undefined
   * accepts it; a refusal (why the edit cannot be used) goes back to the
   * model as that call's error result, and the loop goes on so the model can
   * fix it, within the same step and token limits. @default accept
   */
  acceptFinal?(call: ToolCall): Promise<string | undefined>;
  /**
   * What makes two calls the same for the repeat rule, for a tool whose
   * result depends on more than its input (a check runs on the proposal made
   * beside it); undefined: its name and input. @default name and input
   */
  callKey?(call: ToolCall, turn: readonly ToolCall[]): string | undefined;
  onToolNote(text: string): void;
  /** Called as each model step starts (1-based), for the user's stream. */
  onStep(step: number): void;
  limits: AgentLimits;
  signal: AbortSignal;
}

export interface AgentResult {
  /** The reply that ended the loop: a final tool call, or words. */
  finalReply: ModelReply;
  /** The loop's history to keep in the session: its steps, then the final assistant turn. */
  history: MessageParam[];
  /** Tool calls of the final turn other than the final tool: answered at the head of the next user turn. */
  unansweredCalls: ToolCall[];
  steps: number;
  usage: CallUsage;
}

function callKey(call: ToolCall): string {
  return `${call.name} ${JSON.stringify(call.input)}`;
}

function stopped(why: string, steps: number): EfritError {
  return new EfritError('agentStopped', `Efrit stopped after ${steps} ${steps === 1 ? 'step' : 'steps'}: ${why}. Nothing was changed.`);
}

export async function runAgentLoop(run: AgentRun): Promise<AgentResult> {
  const { limits } = run;
  const log = new WorkLog({ budgetTokens: limits.logBudgetTokens, keepRecentSteps: 2 });
  const usage = emptyCallUsage();
  const callsMade = new Set<string>();
  let previousErrors = '';
  for (let step = 1; ; step++) {
    run.signal.throwIfAborted();
    run.onStep(step);
    const reply = await run.step([...run.prefix, ...log.messages()]);
    addCallUsage(usage, reply.usage);
    // Everything sent so far sits behind the request's rolling cache breakpoint: compressing it would forfeit the cache.
    log.freezeThrough();
    const calls = reply.toolCalls;
    const finalCall = calls.find((call) => call.name === run.finalTool);
    const refusal = finalCall === undefined || run.acceptFinal === undefined ? undefined : await run.acceptFinal(finalCall);
    if (calls.length === 0 || (finalCall !== undefined && refusal === undefined)) {
      return {
        finalReply: reply,
        history: [...log.messages(), reply.assistantMessage],
        unansweredCalls: calls.filter((call) => call.name !== run.finalTool),
        steps: step,
        usage,
      };
    }
    if (step >= limits.maxSteps) {
      if (refusal !== undefined) throw new EfritError('invalidEdit', refusal);
      throw stopped(`it reached efrit.agent.maxSteps (${limits.maxSteps}) without an answer`, step);
    }
    if (usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens + usage.outputTokens > limits.tokenBudget) {
      throw stopped(`it spent more than efrit.agent.tokenBudget (${limits.tokenBudget} tokens)`, step);
    }
    const maxCalls = limits.maxToolCallsPerStep ?? defaultMaxToolCallsPerStep;
    const runNow = calls.slice(0, maxCalls);
    const notRun = calls.slice(maxCalls);
    for (const call of runNow) {
      const key = run.callKey?.(call, calls) ?? callKey(call);
      if (callsMade.has(key)) throw stopped(`the model repeated the call ${call.name} ${JSON.stringify(call.input).slice(0, 120)}`, step);
      callsMade.add(key);
    }

    const running = new PQueue({ concurrency: limits.maxConcurrentToolCalls ?? defaultMaxConcurrentToolCalls });
    const outcomes = await Promise.all(
      runNow.map((call) => (call === finalCall && refusal !== undefined ? Promise.resolve(refusedFinal(call, refusal)) : running.add(() => run.runTool(call)))),
    );
    for (const outcome of outcomes) run.onToolNote(outcome.note);
    if (notRun.length > 0) run.onToolNote(`${notRun.length} more tool call${notRun.length === 1 ? '' : 's'} not run: at most ${maxCalls} run per step`);
    // Judged on the calls that ran: the ones past the cap are not the model's error to repeat.
    const errors = outcomes.filter((outcome) => outcome.isError).map((outcome) => outcome.content);
    const errorKey = errors.length === outcomes.length ? errors.join('\n') : '';
    if (errorKey !== '' && errorKey === previousErrors) throw stopped(`the same error came back twice in a row (${errors[0]?.slice(0, 160) ?? ''})`, step);
    previousErrors = errorKey;

    const overCap = `Not run: this step asked for ${calls.length} tool calls, and at most ${maxCalls} run per step (the first ${maxCalls} ran). Ask again for what you still need, at most ${maxCalls} calls at a time.`;
    const entries: WorkLogEntry[] = [
      ...runNow.map((call, index) => {
        const outcome = outcomes[index] as ToolOutcome;
        return { step, toolUseId: call.id, tool: call.name, input: call.input, result: outcome.content, isError: outcome.isError, summary: outcome.summary };
      }),
      // The API wants every tool_use answered.
      ...notRun.map((call) => ({ step, toolUseId: call.id, tool: call.name, input: call.input, result: overCap, isError: true, summary: `${call.name} -> not run: over ${maxCalls} calls in one step` })),
    ];
    log.addStep(reply.assistantMessage.content as ContentBlockParam[], entries);
    if (log.overBudget) log.rebase();
  }
}

/** The refused final call as a tool result: the model reads why and proposes again. */
function refusedFinal(call: ToolCall, refusal: string): ToolOutcome {
  return {
    content: `${refusal} Read what you need, then call ${call.name} again with a corrected proposal.`,
    isError: true,
    note: `the proposed change was refused: ${refusal.slice(0, 200)}`,
    summary: `${call.name} -> refused: ${refusal.slice(0, 160)}`,
  };
}

/** Answers for tool calls that the final turn made but the loop did not run. */
export function notRunResults(calls: readonly ToolCall[]): ToolResultBlockParam[] {
  return calls.map((call) => ({ type: 'tool_result', tool_use_id: call.id, content: 'Not run: the task ended with the edits.', is_error: true }));
}
