/** `textDocument/inlineCompletion` (LSP 3.18): ghost text, translated to and from the completion engine. */
import { InlineCompletionTriggerKind, type CancellationToken, type InlineCompletionList, type InlineCompletionParams } from 'vscode-languageserver/node';
import { validateRange } from '../context/capture-context.js';
import { EfritError } from '../errors.js';
import type { FeatureContext } from './feature-context.js';
import { requireDocumentUri, requireObject, requireRange } from './respond.js';

export async function inlineCompletion(context: FeatureContext, params: InlineCompletionParams, token: CancellationToken | undefined): Promise<InlineCompletionList> {
  const what = 'textDocument/inlineCompletion';
  const raw = requireObject(params, what);
  const uri = requireDocumentUri(raw, what);
  const { start: position } = requireRange({ position: { start: raw['position'], end: raw['position'] } }, 'position', what);
  const doc = context.documents.get(uri);
  if (doc === undefined) return { items: [] };
  const problem = validateRange(doc, { start: position, end: position });
  if (problem !== undefined) throw new EfritError('rangeOutOfBounds', problem);
  if (!context.settings()['completion.inline']) return { items: [] };
  const controller = new AbortController();
  token?.onCancellationRequested(() => controller.abort());
  const trigger = params.context?.triggerKind === InlineCompletionTriggerKind.Invoked ? 'invoked' : 'automatic';
  const items = await context.completions.provide(doc, position, trigger, controller.signal);
  return { items: items.map((item) => ({ insertText: item.insertText, range: item.range })) };
}
