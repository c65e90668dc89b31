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
  type CompletionItem,
  type CompletionParams,
  type InlineCompletionList,
  type InlineCompletionParams,
} from 'vscode-languageserver/node';
import { validateRange } from '../context/capture-context.js';
import { EfritError } from '../errors.js';
import type { FeatureContext } from './feature-context.js';
import { requireDocumentUri, requireObject, requireRange } from './respond.js';

export async function inlineCompletion(context: FeatureContext, params: InlineCompletionParams, token: CancellationToken | undefined): Promise<InlineCompletionList> {
  const trigger = params.context?.triggerKind === InlineCompletionTriggerKind.Invoked ? 'invoked' : 'automatic';
  const items = await suggest(context, params, trigger, token, 'textDocument/inlineCompletion');
  return { items: items.map((item) => ({ insertText: item.insertText, range: item.range })) };
}

/** The opt-in popup source: one item that inserts the suggestion at the cursor. */
export async function completionItem(context: FeatureContext, params: CompletionParams, token: CancellationToken | undefined): Promise<CompletionItem[]> {
  if (!context.settings()['completion.popup']) return [];
  const trigger = params.context?.triggerKind === CompletionTriggerKind.Invoked ? 'invoked' : 'automatic';
  const items = await suggest(context, params, trigger, token, 'textDocument/completion');
  return items.map((item) => {
    const firstLine = item.insertText.split(/\r?\n/)[0] ?? '';
    return {
      label: firstLine.length > 60 ? `${firstLine.slice(0, 60)}…` : firstLine,
      kind: CompletionItemKind.Text,
      detail: 'Efrit suggestion',
      textEdit: { range: item.range, newText: item.insertText },
      // Ranked last: a language server's own items should come first.
      sortText: '\uffff',
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
