/**
 * "Efrit: …" code actions. Listing is pure data (no model call). The model
 * runs when the user picks one, by one of two paths:
 * - clients that resolve `edit` lazily get `data` only, and
 *   `codeAction/resolve` runs the job; if it outlasts the resolve budget the
 *   action comes back with `efrit.applyJob`, and the same job goes on;
 * - other clients (eglot 1.9) get `efrit.runAction`, whose result is applied
 *   with `workspace/applyEdit`.
 * Explain never has an edit, so it is always a command.
 * The commands take the request's stream identity (`streamId`,
 * `workDoneToken`) from their argument, or `workDoneToken` from
 * `ExecuteCommandParams` (`commandToken`). A resolve has no place for one:
 * its notes go out bare, tied by job id as before.
 */
import type { CancellationToken, CodeAction, CodeActionParams, Command } from 'vscode-languageserver/node';
import { CodeActionTag, type Diagnostic, type Range } from 'vscode-languageserver-types';
import type { ActionOutcome } from '../assistant/assistant.js';
import { actionTitle, type ActionDefinition } from '../assistant/action-catalog.js';
import { validateRange } from '../context/capture-context.js';
import { EfritError } from '../common/errors.js';
import { BuiltinActions, Commands, type ApplyJobArgs, type RunActionArgs, type RunActionResult } from '../protocol.js';
import type { Job } from '../queue/job-queue.js';
import { applyPlannedChange, clientResolvesEdits, editCapabilities, workspaceEditFor, type FeatureContext } from './feature-context.js';
import { applyReviewedDo } from './conversation.js';
import { isRecord } from '../common/json-shape.js';
import {
  awaitJob,
  invalidParams,
  optionalDiagnostics,
  optionalString,
  optionalStringList,
  requireDocumentUri,
  requireObject,
  requireRange,
  requireString,
  streamIdentity,
} from './respond.js';

/** What a listed action carries for resolve; no empty objects (eglot turns `{}` into null). */
interface ActionData {
  efrit: 1;
  actionId: string;
  uri: string;
  range: CodeActionParams['range'];
}

function kindCovers(wanted: string, kind: string): boolean {
  return kind === wanted || kind.startsWith(`${wanted}.`);
}

/**
 * The kind to list an action with for this request's `context.only`, or
 * undefined when the request does not want it: its own kind, else an alias
 * the client asked for by name (listed under that alias, since clients filter
 * the answer by the kinds they asked for too).
 */
function kindFor(action: ActionDefinition, only: readonly string[] | undefined): string | undefined {
  if (only === undefined || only.length === 0 || only.some((wanted) => kindCovers(wanted, action.kind))) return action.kind;
  return action.kindAliases?.find((alias) => only.some((wanted) => kindCovers(wanted, alias)));
}

function canCreateFiles(context: FeatureContext): boolean {
  const declared = editCapabilities(context.capabilities());
  return declared.documentChanges && declared.resourceOperations.has('create');
}

/** LSP 3.18's `CodeActionTag.LLMGenerated`: the editor may mark the action as AI-made. */
const llmGeneratedTag = CodeActionTag.LLMGenerated;

/** Whether the client declared it understands `LLMGenerated` (`textDocument.codeAction.tagSupport.valueSet`, LSP 3.18). */
function clientTagsGenerated(context: FeatureContext): boolean {
  const tagSupport: unknown = (context.capabilities().textDocument?.codeAction as { tagSupport?: { valueSet?: unknown } } | undefined)?.tagSupport?.valueSet;
  return Array.isArray(tagSupport) && tagSupport.includes(llmGeneratedTag);
}

/** LSP's CodeActionTriggerKind.Automatic: the editor asks by itself (cursor moved, text changed) to decide on a light bulb. */
const automaticTrigger = 2;

interface CodeActionRequest {
  uri: string;
  range: Range;
  diagnostics: Diagnostic[];
  only: string[] | undefined;
  /** True when the editor asked by itself; false when the user asked, or the client does not say (before LSP 3.17). */
  automatic: boolean;
}

function parseCodeActionParams(raw: unknown): CodeActionRequest {
  const what = 'textDocument/codeAction';
  const params = requireObject(raw, what);
  const uri = requireDocumentUri(params, what);
  const range = requireRange(params, 'range', what);
  const actionContext = params['context'] ?? {};
  if (typeof actionContext !== 'object' || actionContext === null || Array.isArray(actionContext)) {
    throw invalidParams(`${what}: "context" must be { diagnostics, only?, triggerKind? }.`);
  }
  const { diagnostics, only, triggerKind } = actionContext as Record<string, unknown>;
  if (only !== undefined && only !== null && !(Array.isArray(only) && only.every((kind) => typeof kind === 'string'))) {
    throw invalidParams(`${what}: "context.only" must be a list of code action kinds.`);
  }
  if (triggerKind !== undefined && triggerKind !== null && !Number.isInteger(triggerKind)) {
    throw invalidParams(`${what}: "context.triggerKind" must be 1 (invoked) or 2 (automatic).`);
  }
  return {
    uri,
    range,
    diagnostics: optionalDiagnostics(diagnostics, `${what} context`) ?? [],
    only: (only ?? undefined) as string[] | undefined,
    automatic: triggerKind === automaticTrigger,
  };
}

/**
 * Lists the "Efrit: …" actions for a range. Asked automatically, an editor
 * decides from the answer whether to show a light bulb, so only what is
 * relevant right there is offered: a Fix per diagnostic in the range. Asked
 * by the user (or by a client that does not say), every action is offered.
 */
export function listCodeActions(context: FeatureContext, raw: CodeActionParams): (CodeAction | Command)[] {
  const params = parseCodeActionParams(raw);
  const doc = context.documents.get(params.uri);
  if (doc === undefined) {
    context.logger.warn(`codeAction for ${params.uri}, which is not open; no actions offered.`);
    return [];
  }
  const problem = validateRange(doc, params.range);
  if (problem !== undefined) throw new EfritError('rangeOutOfBounds', problem);
  const resolves = clientResolvesEdits(context.capabilities());
  const tags: Pick<CodeAction, 'tags'> = clientTagsGenerated(context) ? { tags: [llmGeneratedTag] } : {};
  const actions: CodeAction[] = [];
  const offer = (action: ActionDefinition, diagnostic?: Diagnostic): void => {
    const kind = kindFor(action, params.only);
    if (kind === undefined) return;
    const title = actionTitle(action, diagnostic);
    const diagnostics = diagnostic === undefined ? undefined : [diagnostic];
    const listed: CodeAction = { title, kind, ...(diagnostics !== undefined ? { diagnostics } : {}), ...tags };
    if (resolves && action.producesEdit) {
      const data: ActionData = { efrit: 1, actionId: action.id, uri: doc.uri, range: params.range };
      listed.data = data;
    } else {
      const args: RunActionArgs = {
        actionId: action.id,
        textDocument: { uri: doc.uri },
        range: params.range,
        ...(diagnostics !== undefined ? { diagnostics } : {}),
      };
      listed.command = { title, command: Commands.runAction, arguments: [args] };
    }
    actions.push(listed);
  };
  for (const action of context.assistant.actions()) {
    if (action.id === BuiltinActions.fix) {
      for (const diagnostic of params.diagnostics) {
        offer(action, diagnostic);
        context.assistant.prefetchFix(doc.uri, params.range, diagnostic);
      }
    } else if (!params.automatic) {
      offer(action);
    }
  }
  return actions;
}

/** The action's data if it is Efrit's (`efrit: 1`); ours but changed on the way: says which field is wrong. */
function readActionData(data: unknown): ActionData | undefined {
  if (!isRecord(data) || data['efrit'] !== 1) return undefined;
  const what = 'codeAction/resolve data';
  return { efrit: 1, actionId: requireString(data, 'actionId', what), uri: requireString(data, 'uri', what), range: requireRange(data, 'range', what) };
}

/** Resolves within the budget, or hands the running job over to `efrit.applyJob`. */
export async function resolveCodeAction(context: FeatureContext, action: CodeAction, token: CancellationToken): Promise<CodeAction> {
  const data = readActionData(action.data);
  if (data === undefined) return action;
  const job = context.assistant.startAction({
    actionId: data.actionId,
    uri: data.uri,
    range: data.range,
    diagnostics: optionalDiagnostics(action.diagnostics, 'codeAction/resolve'),
    canCreateFiles: canCreateFiles(context),
  });
  const budgetMs = context.settings()['codeActions.resolveBudgetMs'];
  const finishedInTime = await Promise.race([
    awaitJob(job, context.queue, token).then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), budgetMs).unref()),
  ]);
  if (!finishedInTime) {
    context.logger.info(`${job.title} (${job.id}) outlasted the resolve budget; handed over to ${Commands.applyJob}.`);
    const args: ApplyJobArgs = { jobId: job.id };
    return { ...action, command: { title: action.title, command: Commands.applyJob, arguments: [args] } };
  }
  const outcome = await job.result;
  if (outcome.kind !== 'edit') return action;
  return { ...action, edit: await workspaceEditFor(context, outcome.plan) };
}

function parseRunActionArgs(params: Record<string, unknown>): RunActionArgs {
  const what = Commands.runAction;
  const diagnostics = optionalDiagnostics(params['diagnostics'], what);
  const instruction = optionalString(params, 'instruction', what);
  return {
    actionId: requireString(params, 'actionId', what),
    textDocument: { uri: requireDocumentUri(params, what) },
    range: requireRange(params, 'range', what),
    ...(instruction !== undefined ? { instruction } : {}),
    ...(diagnostics !== undefined ? { diagnostics } : {}),
  };
}

async function finishAction(context: FeatureContext, job: Job<ActionOutcome>, token: CancellationToken | undefined): Promise<RunActionResult> {
  const outcome = await awaitJob(job, context.queue, token);
  if (outcome.kind === 'text') return { jobId: job.id, applied: false, text: outcome.text };
  await applyPlannedChange(context, outcome.plan, job.title);
  return { jobId: job.id, applied: true, ...(outcome.summary !== '' ? { text: outcome.summary } : {}) };
}

/** `efrit.runAction`: the command path for clients that cannot resolve. */
export async function runAction(context: FeatureContext, rawArgs: unknown, token: CancellationToken | undefined, commandToken?: unknown): Promise<RunActionResult> {
  const params = requireObject(rawArgs, Commands.runAction);
  const args = parseRunActionArgs(params);
  const job = context.assistant.startAction({
    actionId: args.actionId,
    uri: args.textDocument.uri,
    range: args.range,
    instruction: args.instruction,
    diagnostics: args.diagnostics,
    stream: streamIdentity(params, Commands.runAction, commandToken),
    canCreateFiles: canCreateFiles(context),
  });
  return finishAction(context, job, token);
}

/** `efrit.applyJob`: waits for a job a resolve handed over, then applies its edit. */
export async function applyJob(context: FeatureContext, rawArgs: unknown, token: CancellationToken | undefined, commandToken?: unknown): Promise<{ applied: boolean }> {
  const params = requireObject(rawArgs, Commands.applyJob);
  const jobId = requireString(params, 'jobId', Commands.applyJob);
  const stream = streamIdentity(params, Commands.applyJob, commandToken);
  const exclude = new Set(optionalStringList(params, 'exclude', Commands.applyJob) ?? []);
  const job = context.queue.get(jobId);
  if (job === undefined) {
    throw new EfritError('unknownJob', `There is no job ${jobId} (it finished long ago or never existed); run the action again.`);
  }
  if (context.assistant.isDoJob(job)) {
    context.assistant.follow(job, stream);
    return applyReviewedDo(context, job, exclude, token);
  }
  if (!context.assistant.isActionJob(job)) {
    throw new EfritError('unknownJob', `Job ${jobId} is a chat's, which has no edit; ${Commands.applyJob} applies code actions and efrit/do changes.`);
  }
  context.assistant.follow(job, stream);
  const result = await finishAction(context, job, token);
  return { applied: result.applied };
}
