import { describe, expect, it } from 'vitest';
import type { MessageParam, TextBlockParam } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { chatMessages, chatRequest } from '../../server/src/model/ollama-provider.js';
import type { ModelRequest } from '../../server/src/model/provider.js';

const system: TextBlockParam[] = [
  { type: 'text', text: 'You are Efrit.' },
  { type: 'text', text: 'Project rules.', cache_control: { type: 'ephemeral' } },
];

describe('Messages to Ollama /api/chat', () => {
  it('turns tool_use into tool_calls with object arguments and answers each with a tool message named by its tool', () => {
    const conversation: MessageParam[] = [
      { role: 'user', content: 'Fix it' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Reading.' },
          { type: 'tool_use', id: 'call_efrit_0', name: 'read_file', input: { path: 'a.ts' } },
          { type: 'tool_use', id: 'call_efrit_1', name: 'list_documents', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_efrit_0', content: [{ type: 'text', text: 'export const a = 1;' }] },
          { type: 'tool_result', tool_use_id: 'call_efrit_1', content: 'no such folder', is_error: true },
          { type: 'text', text: 'Go on.' },
        ],
      },
    ];

    expect(chatMessages(system, conversation)).toEqual([
      { role: 'system', content: 'You are Efrit.\n\nProject rules.' },
      { role: 'user', content: 'Fix it' },
      {
        role: 'assistant',
        content: 'Reading.',
        tool_calls: [{ function: { name: 'read_file', arguments: { path: 'a.ts' } } }, { function: { name: 'list_documents', arguments: {} } }],
      },
      { role: 'tool', content: 'export const a = 1;', tool_name: 'read_file' },
      { role: 'tool', content: 'Error: no such folder', tool_name: 'list_documents' },
      { role: 'user', content: 'Go on.' },
    ]);
  });

  it('asks for max_tokens as num_predict, offers tools as functions, and none when tool_choice is none', () => {
    const tool = { name: 'read_file', description: 'Reads a file.', input_schema: { type: 'object' as const, properties: { path: { type: 'string' } }, required: ['path'] } };
    const request: ModelRequest = { model: 'ollama:qwen2.5-coder:7b', maxTokens: 512, system, messages: [{ role: 'user', content: 'Hi' }], tools: [tool] };

    expect(chatRequest({ model: 'qwen2.5-coder:7b', request })).toEqual({
      model: 'qwen2.5-coder:7b',
      messages: [
        { role: 'system', content: 'You are Efrit.\n\nProject rules.' },
        { role: 'user', content: 'Hi' },
      ],
      options: { num_predict: 512 },
      tools: [{ type: 'function', function: { name: 'read_file', description: 'Reads a file.', parameters: tool.input_schema } }],
    });
    expect(chatRequest({ model: 'qwen2.5-coder:7b', request: { ...request, toolChoice: { type: 'none' } } })).not.toHaveProperty('tools');
  });
});
