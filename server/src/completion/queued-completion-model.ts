/**
 * The inline completion engine's model: one fast-model call as a job at the
 * queue's `completion` priority (so it never delays what the user asked for,
 * and shares the one backoff), superseding the file's previous completion
 * call. It reports nothing to `efrit/stream`: ghost text is not a job anyone
 * wants to watch.
 */
import type { Settings } from '../settings/config.js';
import type { ModelClient } from '../model/model-client.js';
import type { UsageMeter } from '../model/usage-meter.js';
import type { JobQueue } from '../queue/job-queue.js';
import { completionRequestParts, type CompletionModel } from './completion-engine.js';

/** Ghost text is a few lines at most; a long answer would only be cut by cleaning. */
const completionMaxTokens = 256;

export function queuedCompletionModel(deps: { queue: JobQueue; model: ModelClient; usage: UsageMeter; settings: () => Settings }): CompletionModel {
  return {
    complete(prompt, signal) {
      const settings = deps.settings();
      const job = deps.queue.submit({
        title: 'Efrit: Complete',
        priority: 'completion',
        supersedes: `completion:${prompt.path}`,
        run: async ({ signal: jobSignal }) => {
          const reply = await deps.model.call(
            { model: settings.fastModel, maxTokens: Math.min(completionMaxTokens, settings.maxTokens), ...completionRequestParts(prompt, settings.promptCaching) },
            { signal: jobSignal, stallMs: settings['queue.stallMs'] },
          );
          deps.usage.recordCall(reply.usage, { model: settings.fastModel });
          return reply.text;
        },
      });
      if (signal.aborted) deps.queue.cancel(job.id, 'A newer completion request replaced it.');
      else signal.addEventListener('abort', () => deps.queue.cancel(job.id, 'A newer completion request replaced it.'), { once: true });
      return job.result;
    },
  };
}
