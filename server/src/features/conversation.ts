/**
 * `efrit/chat` and `efrit/do` (and their `efrit.chat` / `efrit.do` command
 * twins): parameters checked, the domain asked, the answer shaped per
 * docs/protocol.md. Text streams out through `efrit/stream` while the job runs,
 * under the request's stream identity when it gave one. `commandToken` is the
 * `workDoneToken` of `ExecuteCommandParams` when the request came as a command.
 */
import type { CancellationToken } from 'vscode-languageserver/node';
import { toUsageSummary } from '../model/usage-meter.js';
import { Commands, Methods, type ChatResult, type DoResult } from '../protocol.js';
import type { DoOutcome } from '../assistant/assistant.js';
import type { PlannedChange } from '../assistant/change-plan.js';
import { summarizeFiles } from '../assistant/workspace-edit.js';
import { messageOf } from '../common/errors.js';
import type { Job } from '../queue/job-queue.js';
import { applyPlannedChange, workspaceEditFor, type FeatureContext } from './feature-context.js';
import {
  awaitJob,
  optionalBoolean,
  optionalDocumentUri,
  optionalRange,
  optionalString,
  requireDocumentUri,
  requireObject,
  requireString,
  streamIdentity,
} from './respond.js';
import { EfritError } from '../common/errors.js';

export async function chat(context: FeatureContext, raw: unknown, token: CancellationToken | undefined, commandToken?: unknown): Promise<ChatResult> {
  const what = Methods.chat;
  const params = requireObject(raw, what);
  const job = context.assistant.chat({
    sessionId: optionalString(params, 'sessionId', what),
    message: requireString(params, 'message', what),
    uri: optionalDocumentUri(params, what),
    range: optionalRange(params, 'range', what),
    stream: streamIdentity(params, what, commandToken),
  });
  const outcome = await awaitJob(job, context.queue, token);
  return { sessionId: outcome.sessionId, jobId: job.id, reply: outcome.reply, usage: toUsageSummary(outcome.usage, 1) };
}

export async function doInstruction(context: FeatureContext, raw: unknown, token: CancellationToken | undefined, commandToken?: unknown): Promise<DoResult> {
  const what = Methods.do;
  const params = requireObject(raw, what);
  const apply = optionalBoolean(params, 'apply', what) ?? true;
  const job = context.assistant.do({
    sessionId: optionalString(params, 'sessionId', what),
    instruction: requireString(params, 'instruction', what),
    uri: requireDocumentUri(params, what),
    range: optionalRange(params, 'range', what),
    stream: streamIdentity(params, what, commandToken),
  });
  const outcome = await awaitJob(job, context.queue, token);
  const answer = { sessionId: outcome.sessionId, jobId: job.id, summary: outcome.summary, steps: outcome.steps, checks: outcome.checks };
  if (outcome.plan === null) return { ...answer, edit: null, applied: false, files: [] };
  const files = summarizeFiles(outcome.plan);
  if (!apply) {
    // The client reviews it and answers with efrit.applyJob or efrit.rejectJob.
    outcome.settle('The change is waiting for the user to review it in the editor.');
    return { ...answer, edit: await workspaceEditFor(context, outcome.plan), applied: false, files };
  }
  return { ...answer, edit: await applyDoChange(context, job, outcome, outcome.plan, new Set()), applied: true, files };
}

/** Applies a do job's change, and tells the model (on the session's next turn) what became of it. */
async function applyDoChange(context: FeatureContext, job: Job<DoOutcome>, outcome: DoOutcome, plan: PlannedChange, exclude: ReadonlySet<string>) {
  try {
    const edit = await applyPlannedChange(context, plan, job.title, exclude);
    const left = plan.files.filter((file) => exclude.has(file.uri)).map((file) => file.displayPath);
    outcome.settle(left.length === 0 ? 'The change was applied in the editor.' : `The change was applied in the editor, except to ${left.join(', ')}, which the user rejected in review.`);
    return edit;
  } catch (error) {
    outcome.settle(`The change was not applied: ${messageOf(error)}`);
    throw error;
  }
}

/** `efrit.applyJob` for a do job: the user accepted the change in the client's review (all of it, or all but `exclude`). */
export async function applyReviewedDo(context: FeatureContext, job: Job<DoOutcome>, exclude: ReadonlySet<string>, token: CancellationToken | undefined): Promise<{ applied: boolean }> {
  const outcome = await awaitJob(job, context.queue, token);
  if (outcome.plan === null) throw new EfritError('editRejected', `Job ${job.id} answered in words and has no change to apply.`);
  await applyDoChange(context, job, outcome, outcome.plan, exclude);
  return { applied: true };
}

/** `efrit.rejectJob`: the user rejected a do job's change in review; a job still running is cancelled. */
export async function rejectJob(context: FeatureContext, raw: unknown): Promise<{ rejected: boolean }> {
  const params = requireObject(raw, Commands.rejectJob);
  const jobId = requireString(params, 'jobId', Commands.rejectJob);
  const job = context.queue.get(jobId);
  if (job === undefined || !context.assistant.isDoJob(job)) {
    throw new EfritError('unknownJob', `There is no efrit/do job ${jobId} (it finished long ago, or it is not a do); nothing to reject.`);
  }
  if (job.state === 'queued' || job.state === 'running') {
    context.queue.cancel(jobId, 'The user rejected the change.', 'cancelled');
    return { rejected: true };
  }
  const outcome = await job.result.catch(() => undefined);
  outcome?.settle('The user rejected the change in review; nothing was applied.');
  return { rejected: true };
}
