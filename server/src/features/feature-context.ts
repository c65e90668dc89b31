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
    const changed = await context.assistant.filesChangedSince(plan, edit);
    const left = changed.length === 0 ? 'Nothing was changed.' : `The editor applied part of it before it stopped: check ${changed.join(', ')}.`;
    throw new EfritError('editRejected', `The editor did not apply the ${plan.files.length === 1 ? 'edit' : 'change'}${why}${where}. ${left}`);
  }
  return edit;
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
