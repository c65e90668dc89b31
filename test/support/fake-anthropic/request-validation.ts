/**
 * The checks the real `POST /v1/messages` makes that a client of this project
 * could plausibly trip over. Messages follow the real API's wording where it
 * is known, so a test failure reads like the production one would.
 */
import { cacheControlTtl, flattenPrompt, type FlattenedPrompt } from './cache-accounting.js';

const MAX_CACHE_BREAKPOINTS = 4;
const MIN_THINKING_BUDGET = 1024;
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;

/** Top-level fields of `MessageCreateParams` in this API version (header params excluded). */
const KNOWN_FIELDS = new Set([
  'max_tokens',
  'messages',
  'model',
  'cache_control',
  'container',
  'diagnostics',
  'inference_geo',
  'metadata',
  'output_config',
  'service_tier',
  'speed',
  'stop_sequences',
  'stream',
  'system',
  'thinking',
  'tool_choice',
  'tools',
]);

/** Sampling parameters this API version removed; sending one is a 400, not a silent no-op. */
const REMOVED_SAMPLING_FIELDS = ['temperature', 'top_p', 'top_k'];

export interface ValidationFailure {
  ok: false;
  message: string;
}

export interface ValidRequest {
  ok: true;
  prompt: FlattenedPrompt;
}

type JsonRecord = Record<string, unknown>;

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(message: string): ValidationFailure {
  return { ok: false, message };
}

function blocksOf(content: unknown): unknown[] {
  return Array.isArray(content) ? content : [];
}

function toolUseIds(message: JsonRecord | undefined): string[] {
  if (message?.['role'] !== 'assistant') return [];
  return blocksOf(message['content'])
    .filter((block): block is JsonRecord => isRecord(block) && block['type'] === 'tool_use')
    .map((block) => String(block['id']));
}

function toolResultIds(message: JsonRecord | undefined): string[] {
  if (message?.['role'] !== 'user') return [];
  return blocksOf(message['content'])
    .filter((block): block is JsonRecord => isRecord(block) && block['type'] === 'tool_result')
    .map((block) => String(block['tool_use_id']));
}

/**
 * @param allowUnknownFields beta requests (`?beta=true`) carry fields this
 *   list does not know, so they are not checked for extras.
 */
export function validateMessageRequest(body: unknown, allowUnknownFields: boolean): ValidationFailure | ValidRequest {
  if (!isRecord(body)) return fail('The request body must be a JSON object.');

  for (const field of REMOVED_SAMPLING_FIELDS) {
    if (field in body) return fail(`${field}: Extra inputs are not permitted`);
  }
  if (!allowUnknownFields) {
    for (const field of Object.keys(body)) {
      if (!KNOWN_FIELDS.has(field)) return fail(`${field}: Extra inputs are not permitted`);
    }
  }

  if (!('model' in body)) return fail('model: Field required');
  if (typeof body['model'] !== 'string' || body['model'] === '') return fail('model: Input should be a valid string');
  if (!('max_tokens' in body)) return fail('max_tokens: Field required');
  const maxTokens = body['max_tokens'];
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 0) {
    return fail('max_tokens: Input should be a valid non-negative integer');
  }
  if (!('messages' in body)) return fail('messages: Field required');
  const messages = body['messages'];
  if (!Array.isArray(messages)) return fail('messages: Input should be a valid list');
  if (messages.length === 0) return fail('messages: at least one message is required');
  if ('stream' in body && typeof body['stream'] !== 'boolean') return fail('stream: Input should be a valid boolean');

  const messageFailure = validateMessages(messages);
  if (messageFailure !== undefined) return messageFailure;

  const toolFailure = validateTools(body['tools'], body['tool_choice']);
  if (toolFailure !== undefined) return toolFailure;

  const thinking = body['thinking'];
  if (isRecord(thinking) && thinking['type'] === 'enabled') {
    const budget = thinking['budget_tokens'];
    if (typeof budget !== 'number' || budget < MIN_THINKING_BUDGET) {
      return fail(`thinking.enabled.budget_tokens: Input should be greater than or equal to ${MIN_THINKING_BUDGET}`);
    }
    if (budget >= maxTokens) return fail('`max_tokens` must be greater than `thinking.budget_tokens`.');
  }

  const prompt = flattenPrompt(body);
  const breakpointCount = prompt.explicitBreakpoints + (prompt.automaticBreakpoint ? 1 : 0);
  if (breakpointCount > MAX_CACHE_BREAKPOINTS) {
    return fail(`A maximum of ${MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${breakpointCount}.`);
  }
  let seenShortTtl = false;
  for (const block of prompt.blocks) {
    if (block.breakpoint === '5m') seenShortTtl = true;
    if (block.breakpoint === '1h' && seenShortTtl) {
      return fail(
        `${block.location}.cache_control: a ttl='1h' cache_control block must not come after a ttl='5m' one; put longer TTLs first.`,
      );
    }
  }
  return { ok: true, prompt };
}

function validateMessages(messages: unknown[]): ValidationFailure | undefined {
  const firstConversational = messages.find((message) => !isRecord(message) || message['role'] !== 'system');
  if (!isRecord(firstConversational) || firstConversational['role'] !== 'user') {
    return fail('messages: first message must use the "user" role');
  }

  for (const [index, message] of messages.entries()) {
    if (!isRecord(message)) return fail(`messages.${index}: Input should be a valid dictionary`);
    const role = message['role'];
    if (role !== 'user' && role !== 'assistant' && role !== 'system') {
      return fail(`messages.${index}.role: Input should be 'user', 'assistant' or 'system'`);
    }
    const content = message['content'];
    const isFinalAssistant = index === messages.length - 1 && role === 'assistant';
    if (typeof content === 'string') {
      if (content === '' && !isFinalAssistant) {
        return fail(`messages.${index}: all messages must have non-empty content except for the optional final assistant message`);
      }
      continue;
    }
    if (!Array.isArray(content)) return fail(`messages.${index}.content: Input should be a valid string or list`);
    if (content.length === 0 && !isFinalAssistant) {
      return fail(`messages.${index}: all messages must have non-empty content except for the optional final assistant message`);
    }
    for (const [blockIndex, block] of content.entries()) {
      if (!isRecord(block) || typeof block['type'] !== 'string') {
        return fail(`messages.${index}.content.${blockIndex}: Input should be a valid content block`);
      }
      if (block['type'] === 'text' && (typeof block['text'] !== 'string' || block['text'] === '')) {
        return fail(`messages.${index}.content.${blockIndex}.text: text content blocks must be non-empty`);
      }
      if (block['cache_control'] !== undefined && block['cache_control'] !== null && cacheControlTtl(block['cache_control']) === undefined) {
        return fail(`messages.${index}.content.${blockIndex}.cache_control: Input should be a valid dictionary`);
      }
    }
  }

  for (const [index, message] of messages.entries()) {
    const current = isRecord(message) ? message : undefined;
    const previous = index > 0 && isRecord(messages[index - 1]) ? (messages[index - 1] as JsonRecord) : undefined;
    const answerable = new Set(toolUseIds(previous));
    const unexpected = toolResultIds(current).filter((id) => !answerable.has(id));
    if (unexpected.length > 0) {
      return fail(
        `messages.${index}.content.0: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${unexpected.join(', ')}. ` +
          'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.',
      );
    }
    const next = index + 1 < messages.length && isRecord(messages[index + 1]) ? (messages[index + 1] as JsonRecord) : undefined;
    if (next === undefined) continue;
    const answered = new Set(toolResultIds(next));
    const unanswered = toolUseIds(current).filter((id) => !answered.has(id));
    if (unanswered.length > 0) {
      return fail(
        `messages.${index}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${unanswered.join(', ')}. ` +
          'Each `tool_use` block must have a corresponding `tool_result` block in the next message.',
      );
    }
  }
  return undefined;
}

function validateTools(tools: unknown, toolChoice: unknown): ValidationFailure | undefined {
  if (tools !== undefined && !Array.isArray(tools)) return fail('tools: Input should be a valid list');
  const toolList = Array.isArray(tools) ? tools : [];
  const names = new Set<string>();
  for (const [index, tool] of toolList.entries()) {
    if (!isRecord(tool)) return fail(`tools.${index}: Input should be a valid dictionary`);
    const name = tool['name'];
    if (typeof name !== 'string') return fail(`tools.${index}.name: Field required`);
    if (!TOOL_NAME.test(name)) return fail(`tools.${index}.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
    // Custom tools have no `type` (or `custom`); server and versioned tools bring their own schema.
    const isCustom = tool['type'] === undefined || tool['type'] === null || tool['type'] === 'custom';
    if (isCustom && !isRecord(tool['input_schema'])) return fail(`tools.${index}.custom.input_schema: Field required`);
    if (names.has(name)) return fail('tools: Tool names must be unique.');
    names.add(name);
  }

  if (toolChoice === undefined || toolChoice === null) return undefined;
  if (!isRecord(toolChoice)) return fail('tool_choice: Input should be a valid dictionary');
  const choiceType = toolChoice['type'];
  if (choiceType !== 'auto' && choiceType !== 'any' && choiceType !== 'tool' && choiceType !== 'none') {
    return fail("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'");
  }
  if ((choiceType === 'any' || choiceType === 'tool') && toolList.length === 0) {
    return fail('tool_choice may only be specified while providing tools.');
  }
  if (choiceType === 'tool') {
    const name = toolChoice['name'];
    if (typeof name !== 'string') return fail('tool_choice.tool.name: Field required');
    if (!names.has(name)) return fail(`Tool '${name}' not found in provided tools`);
  }
  return undefined;
}
