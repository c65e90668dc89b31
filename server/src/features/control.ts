/** `efrit/status`, `efrit/cancel`, `efrit/endSession`, `efrit/documentText`: the dashboard and the brakes. */
import type { CancelResult, DocumentTextResult, StatusResult } from '../protocol.js';
import { Methods } from '../protocol.js';
import type { FeatureContext } from './feature-context.js';
import { optionalString, requireDocumentUri, requireObject, requireString } from './respond.js';

export function status(context: FeatureContext): StatusResult {
  const settings = context.settings();
  return {
    version: context.version,
    model: settings.model,
    queue: context.queue.snapshot(),
    sessions: { open: context.sessions.size },
    documents: { open: context.documents.size },
    cache: context.queue.resultCacheStats(),
    prefetch: context.assistant.prefetchStats(),
    completion: context.completions.stats(),
    usage: context.usage.summary(),
    spend: context.usage.spend(),
    providers: context.usage.byProvider(),
    apiKeyConfigured: context.apiKeyConfigured(),
    offline: context.offline,
    memory: memoryNow(),
    codeCache: codeCacheState(),
  };
}

function codeCacheState(): StatusResult['codeCache'] {
  const state = (globalThis as Record<symbol, unknown>)[Symbol.for('efrit.codeCache')];
  return state === 'used' || state === 'missing' || state === 'rejected' || state === 'off' ? state : 'notLaunched';
}

function memoryNow(): StatusResult['memory'] {
  const { rss, heapTotal, heapUsed, external } = process.memoryUsage();
  return { rss, heapTotal, heapUsed, external };
}

export function cancel(context: FeatureContext, raw: unknown): CancelResult {
  const params = raw === undefined || raw === null ? {} : requireObject(raw, Methods.cancel);
  return {
    cancelled: context.assistant.cancel({
      jobId: optionalString(params, 'jobId', Methods.cancel),
      sessionId: optionalString(params, 'sessionId', Methods.cancel),
    }),
  };
}

export function endSession(context: FeatureContext, raw: unknown): { ended: boolean } {
  const sessionId = requireString(requireObject(raw, Methods.endSession), 'sessionId', Methods.endSession);
  return { ended: context.assistant.endSession(sessionId) };
}

export function documentText(context: FeatureContext, raw: unknown): DocumentTextResult {
  const uri = requireDocumentUri(requireObject(raw, Methods.documentText), Methods.documentText);
  const doc = context.assistant.document(uri);
  return { uri, version: doc.version, text: doc.text };
}
