/**
 * `textDocument/inlineCompletion` (LSP 3.18): ghost text, translated to and
 * from the completion engine; and, for clients without inline completion, the
 * same suggestion as one `textDocument/completion` item — opt-in
 * (`completion.popup`), so it never clutters a popup unasked.
 */
import {
  CompletionItemKind,
  CompletionTriggerKind,
  InlineCompletionTriggerKind,
  type CancellationToken,
  type Command,
  type CompletionItem,
  type CompletionParams,
  type InlineCompletionList,
  type InlineCompletionParams,
} from 'vscode-languageserver/node';
import { validateRange } from '../context/capture-context.js';
import { EfritError } from '../common/errors.js';
import { Commands } from '../protocol.js';
import type { FeatureContext } from './feature-context.js';
import { requireDocumentUri, requireObject, requireRange } from './respond.js';

export async function inlineCompletion(context: FeatureContext, params: InlineCompletionParams, token: CancellationToken | undefined): Promise<InlineCompletionList> {
  const trigger = params.context?.triggerKind === InlineCompletionTriggerKind.Invoked ? 'invoked' : 'automatic';
  const items = await suggest(context, params, trigger, token, 'textDocument/inlineCompletion');
  const command = acceptedCommand(params.textDocument.uri);
  return { items: items.map((item) => ({ insertText: item.insertText, range: item.range, command })) };
}

/** Clients run an item's command after inserting it (inline and popup items alike): that is how acceptance is counted. */
function acceptedCommand(uri: string): Command {
  return { title: 'Efrit: suggestion accepted', command: Commands.completionAccepted, arguments: [{ textDocument: { uri } }] };
}

/** `efrit.completionAccepted { textDocument: { uri } }`: the client inserted one of our suggestions. */
export function completionAccepted(context: FeatureContext, argument: unknown): null {
  const uri = requireDocumentUri(requireObject(argument, Commands.completionAccepted), Commands.completionAccepted);
  context.completions.accepted(uri);
  return null;
}

/** The opt-in popup source: one item that inserts the suggestion at the cursor. */
export async function completionItem(context: FeatureContext, params: CompletionParams, token: CancellationToken | undefined): Promise<CompletionItem[]> {
  if (!context.settings()['completion.popup']) return [];
  const trigger = params.context?.triggerKind === CompletionTriggerKind.Invoked ? 'invoked' : 'automatic';
  const items = await suggest(context, params, trigger, token, 'textDocument/completion');
  const command = acceptedCommand(params.textDocument.uri);
  return items.map((item) => {
    const firstLine = item.insertText.split(/\r?\n/)[0] ?? '';
    return {
      label: firstLine.length > 60 ? `${firstLine.slice(0, 60)}…` : firstLine,
      kind: CompletionItemKind.Text,
      detail: 'Efrit suggestion',
      textEdit: { range: item.range, newText: item.insertText },
      // Ranked last: a language server's own items should come first.
      sortText: '\uffff',
      command,
    };
  });
}

async function suggest(context: FeatureContext, params: unknown, trigger: 'invoked' | 'automatic', token: CancellationToken | undefined, what: string) {
  const raw = requireObject(params, what);
  const uri = requireDocumentUri(raw, what);
  const { start: position } = requireRange({ position: { start: raw['position'], end: raw['position'] } }, 'position', what);
  const doc = context.documents.get(uri);
  if (doc === undefined) return [];
  const problem = validateRange(doc, { start: position, end: position });
  if (problem !== undefined) throw new EfritError('rangeOutOfBounds', problem);
  if (!context.settings()['completion.inline']) return [];
  const controller = new AbortController();
  token?.onCancellationRequested(() => controller.abort());
  return context.completions.provide(doc, position, trigger, controller.signal);
}
