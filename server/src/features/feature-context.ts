/**
 * What every feature handler may use. Built once by the composition root;
 * features receive it instead of reaching for globals, so each one reads as
 * "translate the LSP request, call the domain, translate the answer".
 */
import type { ClientCapabilities, Connection } from 'vscode-languageserver/node';
import type { WorkspaceEdit } from 'vscode-languageserver-types';
import type { Assistant } from '../assistant/assistant.js';
import type { PlannedChange } from '../assistant/change-plan.js';
import { changeAt, type EditCapabilities } from '../assistant/workspace-edit.js';
import type { InlineCompletionEngine } from '../completion/completion-engine.js';
import type { Settings } from '../settings/config.js';
import { EfritError } from '../common/errors.js';
import type { Logger, SecretRedactor } from '../common/logger.js';
import type { UsageMeter } from '../model/usage-meter.js';
import type { JobQueue } from '../queue/job-queue.js';
import type { DocumentStore } from '../documents/document-store.js';
import type { SessionStore } from '../sessions/session-store.js';

export interface FeatureContext {
  connection: Connection;
  completions: InlineCompletionEngine;
  assistant: Assistant;
  queue: JobQueue;
  documents: DocumentStore;
  sessions: SessionStore;
  usage: UsageMeter;
  settings(): Settings;
  capabilities(): ClientCapabilities;
  apiKeyConfigured(): boolean;
  /** The built-in demo model answers (`--offline`). */
  offline: boolean;
  logger: Logger;
  redactor: SecretRedactor;
  version: string;
}

export function clientResolvesEdits(capabilities: ClientCapabilities): boolean {
  return capabilities.textDocument?.codeAction?.resolveSupport?.properties.includes('edit') ?? false;
}

/** Each plan is applied at most once, however many requests wait on the job that made it (a double click, resolve + applyJob). */
const applications = new WeakMap<PlannedChange, Promise<WorkspaceEdit>>();

/**
 * Applies a planned change through `workspace/applyEdit`, built just before
 * it is sent (rebased, re-checked) or refused; a client that declines is
 * reported with the file it named, not ignored. `exclude`: URIs the user
 * rejected in a review.
 */
export function applyPlannedChange(context: FeatureContext, plan: PlannedChange, label: string, exclude: ReadonlySet<string> = new Set()): Promise<WorkspaceEdit> {
  let application = applications.get(plan);
  if (application === undefined) {
    application = applyOnce(context, plan, label, exclude);
    applications.set(plan, application);
  }
  return application;
}

async function applyOnce(context: FeatureContext, plan: PlannedChange, label: string, exclude: ReadonlySet<string>): Promise<WorkspaceEdit> {
  const capabilities = context.capabilities();
  if (capabilities.workspace?.applyEdit !== true) {
    throw new EfritError('editRejected', 'This editor does not accept edits from the server (no workspace/applyEdit support).');
  }
  const edit = await workspaceEditFor(context, plan, exclude);
  const result = await context.connection.workspace.applyEdit({ label, edit });
  if (!result.applied) {
    const why = result.failureReason === undefined ? '' : `: ${result.failureReason}`;
    const nameOf = (uri: string): string => plan.files.find((file) => file.uri === uri)?.displayPath ?? uri;
    const failed = result.failedChange === undefined ? undefined : changeAt(edit, result.failedChange);
    const where = failed === undefined ? '' : ` (at ${nameOf(failed)})`;
    throw new EfritError('editRejected', `The editor did not apply the ${plan.files.length === 1 ? 'edit' : 'change'}${why}${where}. ${whatWasLeft(capabilities, edit, result.failedChange, nameOf)}`);
  }
  return edit;
}

/**
 * What a refused edit may have left behind, as the client's declared
 * `failureHandling` says: a one-file edit, or a client that undoes or applies
 * transactionally, changed nothing; a client that just stops ("abort", or
 * one that does not say) may have applied the parts before the failed one.
 */
function whatWasLeft(capabilities: ClientCapabilities, edit: WorkspaceEdit, failedChange: number | undefined, nameOf: (uri: string) => string): string {
  const handling = capabilities.workspace?.workspaceEdit?.failureHandling;
  const parts = edit.documentChanges ?? Object.keys(edit.changes ?? {});
  const textOnly = edit.documentChanges?.every((change) => 'textDocument' in change) ?? true;
  if (parts.length <= 1 || handling === 'transactional' || handling === 'undo' || (handling === 'textOnlyTransactional' && textOnly)) return 'Nothing was changed.';
  if (failedChange === undefined || edit.documentChanges === undefined) return 'The editor may have applied part of it; check the files it touches.';
  const before = [...new Set(edit.documentChanges.slice(0, failedChange).map((_, index) => nameOf(changeAt(edit, index) as string)))];
  return before.length === 0 ? 'Nothing was changed.' : `The editor may have applied the parts before it, to ${before.join(', ')}; check those files.`;
}

/** What the client declared about workspace edits. */
export function editCapabilities(capabilities: ClientCapabilities): EditCapabilities {
  const workspaceEdit = capabilities.workspace?.workspaceEdit;
  return {
    documentChanges: workspaceEdit?.documentChanges === true,
    resourceOperations: new Set<string>(Array.isArray(workspaceEdit?.resourceOperations) ? workspaceEdit.resourceOperations : []),
    changeAnnotations: workspaceEdit?.changeAnnotationSupport !== undefined && workspaceEdit.changeAnnotationSupport !== null,
  };
}

export function workspaceEditFor(context: FeatureContext, plan: PlannedChange, exclude: ReadonlySet<string> = new Set()): Promise<WorkspaceEdit> {
  return context.assistant.toWorkspaceEdit(plan, {
    capabilities: editCapabilities(context.capabilities()),
    exclude,
    // Everything sent to the client is redacted, so an edit carrying the key would land as "[redacted]" in the file:
    // refused whole instead of applied mangled.
    refuseText: (text) =>
      context.redactor.redact(text) === text ? undefined : "The model's edit contains the API key, which efrit-lsp never sends to the editor; nothing was changed.",
  });
}
