// Mutation testing of the domain modules against their unit tests: `npm run test:mutation`
// (not part of `npm test`). A surviving mutant is a behaviour no test pins.
// One module: `npm run test:mutation -- --mutate server/src/documents/rebase.ts`.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  coverageAnalysis: 'perTest',
  // Each entry is a domain module with unit tests of its own; keep the list in step with the README's table.
  mutate: [
    // documents, sessions, context
    'server/src/documents/rebase.ts',
    'server/src/documents/edit-journal.ts',
    'server/src/sessions/delta-tracker.ts',
    'server/src/context/capture-context.ts',
    // queue
    'server/src/queue/*.ts',
    // assistant and completion
    'server/src/assistant/edit-proposal.ts',
    'server/src/assistant/change-plan.ts',
    'server/src/assistant/workspace-edit.ts',
    'server/src/assistant/proposal-check.ts',
    'server/src/assistant/text-edits.ts',
    'server/src/agent/read-ledger.ts',
    'server/src/model/prices.ts',
    // providers
    'server/src/model/model-choice.ts',
    'server/src/model/model-capabilities.ts',
    'server/src/model/bedrock-errors.ts',
    'server/src/completion/clean-suggestion.ts',
    'server/src/completion/completion-engine.ts',
    'server/src/assistant/prefetch-policy.ts',
    'server/src/common/sliding-window-limiter.ts',
    // agent and proxy
    'server/src/agent/workspace-paths.ts',
    'server/src/agent/workspace-glob.ts',
    'server/src/agent/workspace-search.ts',
    'server/src/agent/work-log.ts',
    'server/src/agent/project-instructions.ts',
    'server/src/agent/mentions.ts',
    'server/src/agent/semantic-tools.ts',
    'server/src/proxy/routing-rules.ts',
    'server/src/proxy/capabilities.ts',
    // the proposal check's shadows (issue #16, speed)
    'server/src/proxy/warm-shadows.ts',
    'server/src/proxy/shadow-scrub.ts',
    'server/src/proxy/tsserver-diagnostics.ts',
    // the agent's checks (agent.commands)
    'server/src/agent/check-output.ts',
    'server/src/agent/check-commands.ts',
    'server/src/agent/proposed-state.ts',
    // Claude on Vertex AI
    'server/src/model/vertex-errors.ts',
    // #16's finish: the checks in do's result, remembered consent
    'server/src/agent/check-runs.ts',
    'server/src/agent/consent-state.ts',
    // corporate networks
    'server/src/model/proxy-environment.ts',
    'server/src/model/network.ts',
    // settings from the client
    'server/src/features/settings-pulls.ts',
  ],
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
  concurrency: 2,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
