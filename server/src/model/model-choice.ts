/**
 * Which provider and model a role (`model`, `fastModel`) names: a string
 * `"<provider>:<model id>"`, or a bare model id for Anthropic, so a setting
 * written before there were providers means what it meant.
 *
 * Only the part before the first `:` can be a provider (`openai:gpt-4.1`);
 * the rest is the model id as the provider spells it, colons included
 * (`ollama:qwen2.5-coder:7b`, `bedrock:anthropic.claude-sonnet-4-5-20250929-v1:0`,
 * `vertex:claude-sonnet-4-5@20250929`). Claude ids never hold a
 * colon, so a colon after something that is not a provider is a mistake
 * (`opneai:gpt-4.1`, `llama3:8b` without a provider), named in a warning
 * rather than sent to Anthropic as a model it cannot have.
 */

/** The providers this server can call. */
export const providerNames = ['anthropic', 'openai', 'ollama', 'bedrock', 'vertex'] as const;
export type ProviderName = (typeof providerNames)[number];

export interface ModelChoice {
  provider: ProviderName;
  /** The model id as the provider knows it. */
  model: string;
}

/** Model ids are short; a longer one is a pasted paragraph, not a model. */
const maxModelIdLength = 256;

function isProviderName(text: string): text is ProviderName {
  return (providerNames as readonly string[]).includes(text);
}

/** The provider and model a setting's string names, or why it names none. */
export function parseModelChoice(text: string): ModelChoice | { problem: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { problem: 'expected a model id, e.g. "claude-sonnet-5-5" or "openai:gpt-4.1"' };
  if (trimmed.length > maxModelIdLength) return { problem: `expected a model id of at most ${maxModelIdLength} characters` };
  const colon = trimmed.indexOf(':');
  if (colon < 0) return { provider: 'anthropic', model: trimmed };
  const prefix = trimmed.slice(0, colon);
  const model = trimmed.slice(colon + 1).trim();
  if (!isProviderName(prefix)) {
    return { problem: `"${prefix}" is not a provider; expected one of ${providerNames.map((name) => `"${name}:<model>"`).join(', ')}, or a Claude model id without a prefix` };
  }
  if (model === '') return { problem: `expected a model id after "${prefix}:"` };
  return { provider: prefix, model };
}

/** The choice a setting names; one that names none (the settings layer has already warned) goes to Anthropic as written, which refuses it with a clear 404. */
export function modelChoiceOf(text: string): ModelChoice {
  const parsed = parseModelChoice(text);
  return 'problem' in parsed ? { provider: 'anthropic', model: text } : parsed;
}
