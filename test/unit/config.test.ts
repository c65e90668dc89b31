import { describe, expect, it } from 'vitest';
import { applySettings, defaultSettings, modelCallsTools, settingsSchema } from '../../server/src/settings/config.js';

describe('settings', () => {
  it('has a default and a description for every key', () => {
    for (const [key, spec] of Object.entries(settingsSchema)) {
      expect(spec.description.length, key).toBeGreaterThan(10);
      expect(spec.default, key).not.toBeUndefined();
    }
    expect(defaultSettings()).toMatchObject({ model: 'claude-sonnet-5-5', 'queue.concurrency': 4, deltas: true, prefetch: false });
  });

  it('takes nested keys as the wire sends them, and { efrit: … } as well', () => {
    const nested = applySettings(defaultSettings(), { queue: { concurrency: 2, stallMs: 5000 }, context: { maxChars: 8000 } });
    expect(nested.warnings).toEqual([]);
    expect(nested.settings['queue.concurrency']).toBe(2);
    expect(nested.settings['context.maxChars']).toBe(8000);
    expect(nested.changed).toEqual(['queue.concurrency', 'queue.stallMs', 'context.maxChars']);
    const wrapped = applySettings(defaultSettings(), { efrit: { model: 'claude-opus-5-5' } });
    expect(wrapped.settings.model).toBe('claude-opus-5-5');
  });

  it('names a wrong value and keeps the last good one', () => {
    const good = applySettings(defaultSettings(), { maxTokens: 2048 }).settings;
    const update = applySettings(good, { maxTokens: 'lots', queue: { concurrency: 0 }, promptCaching: 'yes' });
    expect(update.settings.maxTokens).toBe(2048);
    expect(update.settings['queue.concurrency']).toBe(4);
    expect(update.settings.promptCaching).toBe(true);
    expect(update.warnings).toEqual([
      'efrit settings: "efrit.maxTokens" is "lots", expected a whole number; keeping 2048.',
      'efrit settings: "efrit.queue.concurrency" is 0, expected at least 1; keeping 4.',
      'efrit settings: "efrit.promptCaching" is "yes", expected true or false; keeping true.',
    ]);
  });

  it('warns about unknown keys and ignores them', () => {
    const update = applySettings(defaultSettings(), { modle: 'x', queue: { concurency: 3 } });
    expect(update.changed).toEqual([]);
    expect(update.warnings).toEqual([
      'efrit settings: unknown setting "efrit.modle" ignored.',
      'efrit settings: unknown setting "efrit.queue.concurency" ignored.',
    ]);
  });

  it('never echoes the API key, even when it is wrong', () => {
    const update = applySettings(defaultSettings(), { apiKey: 12345678901234 });
    expect(update.warnings[0]).toBe('efrit settings: "efrit.apiKey" is a value, expected a string; keeping the previous value.');
  });

  it('validates user actions item by item', () => {
    const update = applySettings(defaultSettings(), { actions: [{ id: 'tighten', title: 'Tighten types', prompt: '' }] });
    expect(update.settings.actions).toEqual([]);
    expect(update.warnings[0]).toContain('item 0 needs a non-empty string "prompt"');
    const ok = applySettings(defaultSettings(), { actions: [{ id: 'tighten', title: 'Tighten types', prompt: 'Use precise types.' }] });
    expect(ok.settings.actions).toHaveLength(1);
  });

  it('resets a key to its default on null and keeps everything on a non-object', () => {
    const changed = applySettings(defaultSettings(), { model: 'claude-opus-5-5' }).settings;
    expect(applySettings(changed, { model: null }).settings.model).toBe('claude-sonnet-5-5');
    const bad = applySettings(changed, 'not an object');
    expect(bad.settings).toBe(changed);
    expect(bad.warnings[0]).toContain('expected an object');
  });

  it('takes openai: models and names a provider it does not know, or openai settings no model uses', () => {
    const update = applySettings(defaultSettings(), { model: 'openai:gpt-4.1', openai: { baseURL: 'http://localhost:11434/v1', apiKeyEnv: 'TEAM_KEY' } });
    expect(update.warnings).toEqual([]);
    expect(update.settings).toMatchObject({ model: 'openai:gpt-4.1', fastModel: 'claude-haiku-5-5', 'openai.baseURL': 'http://localhost:11434/v1', 'openai.apiKeyEnv': 'TEAM_KEY' });

    const wrong = applySettings(defaultSettings(), { fastModel: 'opneai:gpt-4.1-mini', openai: { baseURL: 'localhost:8080', apiKeyEnv: 'MY KEY' } });
    expect(wrong.settings.fastModel).toBe('claude-haiku-5-5');
    expect(wrong.warnings).toEqual([
      expect.stringMatching(/^efrit settings: "efrit\.fastModel" is "opneai:gpt-4\.1-mini", "opneai" is not a provider; .*keeping "claude-haiku-5-5"\.$/),
      'efrit settings: "efrit.openai.baseURL" is "localhost:8080", expected an http:// or https:// URL; keeping "".',
      'efrit settings: "efrit.openai.apiKeyEnv" is "MY KEY", expected the name of an environment variable, e.g. "OPENAI_API_KEY"; keeping "OPENAI_API_KEY".',
    ]);

    const unused = applySettings(defaultSettings(), { openai: { baseURL: 'http://localhost:8080/v1' } });
    expect(unused.warnings).toEqual([
      'efrit settings: "efrit.openai.baseURL" apply to openai: models, but neither efrit.model nor efrit.fastModel names one (e.g. "openai:gpt-4.1"); they have no effect.',
    ]);
  });

  it('names the settings of every provider that no role uses, and none once a role uses it', () => {
    const cloud = applySettings(defaultSettings(), { ollama: { baseURL: 'http://gpu-box:11434' }, bedrock: { region: 'eu-central-1' }, vertex: { projectId: 'shop', region: 'us-east5', baseURL: 'https://vertex.corp.example/v1' } });
    expect(cloud.warnings).toEqual([
      'efrit settings: "efrit.ollama.baseURL" apply to ollama: models, but neither efrit.model nor efrit.fastModel names one (e.g. "ollama:qwen2.5-coder:7b"); they have no effect.',
      'efrit settings: "efrit.bedrock.region" apply to bedrock: models, but neither efrit.model nor efrit.fastModel names one (e.g. "bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0"); they have no effect.',
      'efrit settings: "efrit.vertex.projectId", "efrit.vertex.region" and "efrit.vertex.baseURL" apply to vertex: models, but neither efrit.model nor efrit.fastModel names one (e.g. "vertex:claude-sonnet-4-5@20250929"); they have no effect.',
    ]);

    const used = applySettings(cloud.settings, { model: 'vertex:claude-sonnet-4-5@20250929', fastModel: 'ollama:qwen2.5-coder:7b' });
    expect(used.warnings).toEqual([
      'efrit settings: "efrit.bedrock.region" apply to bedrock: models, but neither efrit.model nor efrit.fastModel names one (e.g. "bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0"); they have no effect.',
    ]);
    // Only a change that involves a provider's settings or the roles brings its warning back.
    expect(applySettings(used.settings, { maxTokens: 2048 }).warnings).toEqual([]);
  });

  it('takes agent.commands as named argv lists, nested as the wire sends them', () => {
    const update = applySettings(defaultSettings(), { agent: { commands: { test: ['npm', 'test', '--', '--run'], typecheck: ['npx', 'tsc', '--noEmit'] } } });
    expect(update.warnings).toEqual([]);
    expect(update.changed).toEqual(['agent.commands']);
    expect(update.settings['agent.commands']).toEqual({ test: ['npm', 'test', '--', '--run'], typecheck: ['npx', 'tsc', '--noEmit'] });
  });

  it.each([
    ['a shell string', { test: 'npm test' }, '"test" must be a list of 1 to 256 strings: the program, then its arguments'],
    ['an empty argv', { test: [] }, '"test" must be a list of 1 to 256 strings'],
    ['a number in the argv', { test: ['npm', 1] }, '"test" must hold only strings'],
    ['no program', { test: ['', 'test'] }, '"test" names no program'],
    ['a name that is no identifier', { 'run tests; rm -rf': ['npm', 'test'] }, 'is not a short identifier'],
    ['a list instead of an object', [['npm', 'test']], 'expected an object of { name: ["program", "arg", …] }'],
    ['too many commands', Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`check${i}`, ['true']])), 'expected at most 16 commands'],
  ])('refuses agent.commands with %s, naming why, and keeps the last good value', (_what, value, why) => {
    const good = applySettings(defaultSettings(), { 'agent.commands': { test: ['npm', 'test'] } }).settings;
    const update = applySettings(good, { 'agent.commands': value });
    expect(update.settings['agent.commands']).toEqual({ test: ['npm', 'test'] });
    expect(update.changed).toEqual([]);
    expect(update.warnings).toHaveLength(1);
    expect(update.warnings[0]).toContain('"efrit.agent.commands"');
    expect(update.warnings[0]).toContain(why);
  });

  it('lets every model call tools unless modelsWithoutTools names it', () => {
    expect(modelCallsTools(defaultSettings(), 'openai:llama3.1')).toBe(true);
    const update = applySettings(defaultSettings(), { modelsWithoutTools: ['openai:llama3.1', ' openai:qwen2.5-coder '] });
    expect(update.warnings).toEqual([]);
    expect(modelCallsTools(update.settings, 'openai:llama3.1')).toBe(false);
    expect(modelCallsTools(update.settings, 'openai:qwen2.5-coder')).toBe(false);
    expect(modelCallsTools(update.settings, 'claude-sonnet-5-5')).toBe(true);
  });

  it.each([
    ['a single string', 'openai:llama3.1', 'expected a list of at most 100 model ids'],
    ['an item that is not a model', ['openai:llama3.1', 'opneai:llama3.1'], 'each item must be a model id: "opneai" is not a provider'],
    ['an item that is not a string', [7], 'each item must be a model id: expected a model id'],
    ['too many models', Array.from({ length: 101 }, (_, i) => `openai:m${i}`), 'expected a list of at most 100 model ids'],
  ])('refuses modelsWithoutTools as %s, naming why, and keeps the last good value', (_what, value, why) => {
    const good = applySettings(defaultSettings(), { modelsWithoutTools: ['openai:llama3.1'] }).settings;
    const update = applySettings(good, { modelsWithoutTools: value });
    expect(update.settings.modelsWithoutTools).toEqual(['openai:llama3.1']);
    expect(update.warnings).toHaveLength(1);
    expect(update.warnings[0]).toContain('"efrit.modelsWithoutTools"');
    expect(update.warnings[0]).toContain(why);
  });
});
