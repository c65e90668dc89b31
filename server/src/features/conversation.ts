/**
 * `efrit/chat` and `efrit/do` (and their `efrit.chat` / `efrit.do` command
 * twins): parameters checked, the domain asked, the answer shaped per
 * docs/protocol.md. Text streams out through `efrit/stream` while the job runs,
 * under the request's stream identity when it gave one. `commandToken` is the
 * `workDoneToken` of `ExecuteCommandParams` when the request came as a command.
 */
import type { CancellationToken } from 'vscode-languageserver/node';
import { toUsageSummary } from '../model/usage-meter.js';
import { Methods, type ChatResult, type DoResult } from '../protocol.js';
import { applyPlannedEdit, workspaceEditFor, type FeatureContext } from './feature-context.js';
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
  const answer = { sessionId: outcome.sessionId, jobId: job.id, summary: outcome.summary, steps: outcome.steps };
  if (outcome.plan === null) return { ...answer, edit: null, applied: false };
  const edit = apply ? await applyPlannedEdit(context, outcome.plan, job.title) : workspaceEditFor(context, outcome.plan);
  return { ...answer, edit, applied: apply };
}
