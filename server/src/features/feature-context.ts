/**
 * What every feature handler may use. Built once by the composition root;
 * features receive it instead of reaching for globals, so each one reads as
 * "translate the LSP request, call the domain, translate the answer".
 */
import type { ClientCapabilities, Connection } from 'vscode-languageserver/node';
import type { WorkspaceEdit } from 'vscode-languageserver-types';
import type { Assistant, PlannedEdit } from '../assistant/assistant.js';
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
const applications = new WeakMap<PlannedEdit, Promise<WorkspaceEdit>>();

/**
 * Applies a planned edit through `workspace/applyEdit`, rebased onto the
 * current text or refused; a client that declines is reported, not ignored.
 */
export function applyPlannedEdit(context: FeatureContext, plan: PlannedEdit, label: string): Promise<WorkspaceEdit> {
  let application = applications.get(plan);
  if (application === undefined) {
    application = applyOnce(context, plan, label);
    applications.set(plan, application);
  }
  return application;
}

async function applyOnce(context: FeatureContext, plan: PlannedEdit, label: string): Promise<WorkspaceEdit> {
  const capabilities = context.capabilities();
  if (capabilities.workspace?.applyEdit !== true) {
    throw new EfritError('editRejected', 'This editor does not accept edits from the server (no workspace/applyEdit support).');
  }
  const edit = workspaceEditFor(context, plan);
  const result = await context.connection.workspace.applyEdit({ label, edit });
  if (!result.applied) {
    const why = result.failureReason === undefined ? '' : `: ${result.failureReason}`;
    throw new EfritError('editRejected', `The editor did not apply the edit${why}. Nothing was changed.`);
  }
  return edit;
}

export function workspaceEditFor(context: FeatureContext, plan: PlannedEdit): WorkspaceEdit {
  // Everything sent to the client is redacted, so an edit carrying the key would land as "[redacted]" in the file:
  // refused whole instead of applied mangled.
  if (plan.edits.some((edit) => context.redactor.redact(edit.newText) !== edit.newText)) {
    throw new EfritError('invalidEdit', "The model's edit contains the API key, which efrit-lsp never sends to the editor; nothing was changed.");
  }
  const documentChanges = context.capabilities().workspace?.workspaceEdit?.documentChanges === true;
  return context.assistant.toWorkspaceEdit(plan, { documentChanges });
}
