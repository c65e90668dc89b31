/**
 * The rule-based replies the fake gives when nothing is scripted: enough for
 * the offline demo and for smoke runs, deterministic so they can be asserted.
 * Tests that care about content script it with `queueReplies`/`respondWith`.
 */
import type { FakeReply, RecordedRequest, Responder } from './types.js';

const ECHO_LIMIT_CHARACTERS = 80;
const MAX_SCHEMA_DEPTH = 8;

type JsonRecord = Record<string, unknown>;

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The smallest value a JSON schema accepts, as far as the common keywords
 * go: required properties only, empty strings and arrays (padded to
 * `minLength`/`minItems`), the first `enum`/`const`/`anyOf` option.
 */
export function minimalValueForSchema(schema: unknown, depth = 0): unknown {
  if (!isRecord(schema) || depth > MAX_SCHEMA_DEPTH) return null;
  if ('const' in schema) return schema['const'];
  if ('default' in schema) return schema['default'];
  const options = schema['enum'];
  if (Array.isArray(options) && options.length > 0) return options[0];
  for (const combinator of ['anyOf', 'oneOf', 'allOf']) {
    const alternatives = schema[combinator];
    if (Array.isArray(alternatives) && alternatives.length > 0) return minimalValueForSchema(alternatives[0], depth + 1);
  }

  const declared = schema['type'];
  const type = Array.isArray(declared) ? (declared.find((candidate) => candidate !== 'null') ?? 'null') : declared;
  switch (type) {
    case 'string': {
      const minLength = typeof schema['minLength'] === 'number' ? schema['minLength'] : 0;
      return 'x'.repeat(minLength);
    }
    case 'number':
    case 'integer':
      return typeof schema['minimum'] === 'number' ? schema['minimum'] : 0;
    case 'boolean':
      return false;
    case 'null':
      return null;
    case 'array': {
      const minItems = typeof schema['minItems'] === 'number' ? schema['minItems'] : 0;
      return Array.from({ length: minItems }, () => minimalValueForSchema(schema['items'], depth + 1));
    }
    default: {
      const properties = isRecord(schema['properties']) ? schema['properties'] : {};
      const required = Array.isArray(schema['required']) ? schema['required'] : [];
      const value: JsonRecord = {};
      for (const name of required) {
        if (typeof name === 'string') value[name] = minimalValueForSchema(properties[name], depth + 1);
      }
      return value;
    }
  }
}

function textOf(content: unknown): { text: string; toolResults: number } {
  if (typeof content === 'string') return { text: content, toolResults: 0 };
  let text = '';
  let toolResults = 0;
  for (const block of Array.isArray(content) ? content : []) {
    if (!isRecord(block)) continue;
    if (block['type'] === 'text' && typeof block['text'] === 'string') text += `${text === '' ? '' : ' '}${block['text']}`;
    if (block['type'] === 'tool_result') toolResults += 1;
  }
  return { text, toolResults };
}

function summarize(text: string): string {
  const flat = text.replace(/\s+/gu, ' ').trim();
  const codePoints = Array.from(flat);
  return codePoints.length <= ECHO_LIMIT_CHARACTERS ? flat : `${codePoints.slice(0, ECHO_LIMIT_CHARACTERS).join('')}…`;
}

function forcedTool(request: RecordedRequest): { name: string; input_schema: unknown } | undefined {
  const tools = (request.body.tools ?? []) as unknown[];
  const customTools = tools.filter(
    (tool): tool is JsonRecord => isRecord(tool) && typeof tool['name'] === 'string' && isRecord(tool['input_schema']),
  );
  const choice = request.body.tool_choice;
  if (choice?.type === 'tool') {
    const tool = customTools.find((candidate) => candidate['name'] === choice.name);
    return tool === undefined ? undefined : { name: choice.name, input_schema: tool['input_schema'] };
  }
  if (choice?.type === 'any') {
    const first = customTools[0];
    return first === undefined ? undefined : { name: String(first['name']), input_schema: first['input_schema'] };
  }
  return undefined;
}

export const defaultResponder: Responder = (request: RecordedRequest): FakeReply => {
  const tool = forcedTool(request);
  if (tool !== undefined) return { toolUses: [{ name: tool.name, input: minimalValueForSchema(tool.input_schema) }] };

  const lastUser = [...(request.body.messages ?? [])].reverse().find((message) => message.role === 'user');
  const { text, toolResults } = textOf(lastUser?.content);
  if (text === '' && toolResults > 0) return { text: `(fake) Received ${toolResults} tool result(s).` };
  return { text: `(fake) You said: ${summarize(text)}` };
};
