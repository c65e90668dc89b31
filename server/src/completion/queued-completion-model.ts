/**
 * The inline completion engine's model: one fast-model call as a job at the
 * queue's `completion` priority (so it never delays what the user asked for,
 * and shares the one backoff), superseding the file's previous completion
 * call. It reports nothing to `efrit/stream`: ghost text is not a job anyone
 * wants to watch.
 *
 * A code model that fills in the middle (model-capabilities.ts decides) gets
 * the text before and after the cursor as prefix and suffix on its provider's
 * completion endpoint, what it was trained on; every other model gets the chat
 * prompt (completion-prompt.ts). Either way the answer is raw text the engine
 * cleans the same way.
 */
import type { Settings } from '../settings/config.js';
import type { ModelCapabilityCache } from '../model/model-capabilities.js';
import type { ModelClient } from '../model/model-client.js';
import type { UsageMeter } from '../model/usage-meter.js';
import type { JobQueue } from '../queue/job-queue.js';
import { completionRequestParts, fillInMiddleParts, type CompletionModel } from './completion-engine.js';

/** Ghost text is a few lines at most; a long answer would only be cut by cleaning. */
const completionMaxTokens = 256;

export interface QueuedCompletionDeps {
  queue: JobQueue;
  model: Pick<ModelClient, 'call' | 'fillInMiddle'>;
  usage: UsageMeter;
  settings: () => Settings;
  /** Decides chat or fill-in-the-middle per model; without it, always chat. */
  capabilities?: Pick<ModelCapabilityCache, 'fillsInMiddle'> | undefined;
}

export function queuedCompletionModel(deps: QueuedCompletionDeps): CompletionModel {
  return {
    complete(prompt, signal) {
      const settings = deps.settings();
      const job = deps.queue.submit({
        title: 'Efrit: Complete',
        priority: 'completion',
        supersedes: `completion:${prompt.path}`,
        run: async ({ signal: jobSignal }) => {
          const model = settings.fastModel;
          const maxTokens = Math.min(completionMaxTokens, settings.maxTokens);
          const options = { signal: jobSignal, stallMs: settings['queue.stallMs'] };
          if (deps.capabilities !== undefined && (await deps.capabilities.fillsInMiddle(settings, model, jobSignal))) {
            const filled = await deps.model.fillInMiddle({ model, maxTokens, ...fillInMiddleParts(prompt) }, options);
            deps.usage.recordCall(filled.usage, { model });
            return filled.text;
          }
          const reply = await deps.model.call({ model, maxTokens, ...completionRequestParts(prompt, settings.promptCaching) }, options);
          deps.usage.recordCall(reply.usage, { model });
          return reply.text;
        },
      });
      if (signal.aborted) deps.queue.cancel(job.id, 'A newer completion request replaced it.');
      else signal.addEventListener('abort', () => deps.queue.cancel(job.id, 'A newer completion request replaced it.'), { once: true });
      return job.result;
    },
  };
}
