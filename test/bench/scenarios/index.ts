/**
 * Every benchmark scenario, in the order `npm run bench` runs them. A new
 * scenario is one module in this folder exporting a `Scenario`, added here;
 * its `name` is what `--only` selects.
 */
import type { Scenario } from '../scenario.js';
import { captureScenario } from './capture.js';
import { checkScenario } from './check.js';
import { completionFimScenario, completionScenario } from './completion.js';
import { instructionsScenario } from './instructions.js';
import { compressionScenario } from './compression.js';
import { largeDocumentScenario } from './large-document.js';
import { multiFileScenario } from './multi-file.js';
import { latencyScenario } from './latency.js';
import { openaiPayloadScenario } from './openai-payload.js';
import { payloadScenario } from './payload.js';
import { prefetchScenario } from './prefetch.js';
import { proxyScenario } from './proxy.js';
import { queueScenario } from './queue.js';
import { repliesScenario } from './replies.js';
import { searchScenario } from './search.js';
import { shadowScenario } from './shadow.js';
import { soakScenario } from './soak.js';
import { startupScenario } from './startup.js';
import { syncScenario } from './sync.js';

export const scenarios: readonly Scenario[] = [startupScenario, captureScenario, syncScenario, queueScenario, prefetchScenario, compressionScenario, payloadScenario, openaiPayloadScenario, instructionsScenario, completionScenario, completionFimScenario, repliesScenario, latencyScenario, multiFileScenario, searchScenario, largeDocumentScenario, soakScenario, proxyScenario, shadowScenario, checkScenario];
