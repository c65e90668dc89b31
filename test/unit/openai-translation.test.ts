import { describe, expect, it } from 'vitest';
import type { MessageParam, TextBlockParam } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { chatCompletionParams, chatMessages } from '../../server/src/model/openai-provider.js';
import type { ModelRequest } from '../../server/src/model/provider.js';

const system: TextBlockParam[] = [
  { type: 'text', text: 'You are Efrit.' },
  { type: 'text', text: 'Project rules.', cache_control: { type: 'ephemeral' } },
];

describe('Messages to Chat Completions', () => {
  it('joins the system blocks into one system message and drops cache breakpoints', () => {
    const messages = chatMessages(system, [{ role: 'user', content: [{ type: 'text', text: 'Hi', cache_control: { type: 'ephemeral' } }] }]);
    expect(messages).toEqual([
      { role: 'system', content: 'You are Efrit.\n\nProject rules.' },
      { role: 'user', content: 'Hi' },
    ]);
  });

  it('turns tool_use into tool_calls and answers each with a tool message before the next user text', () => {
    const conversation: MessageParam[] = [
      { role: 'user', content: 'Fix it' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Reading.' },
          { type: 'tool_use', id: 'call_1', name: 'read_file', input: { path: 'a.ts' } },
          { type: 'tool_use', id: 'call_2', name: 'list_documents', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: [{ type: 'text', text: 'export const a = 1;' }] },
          { type: 'tool_result', tool_use_id: 'call_2', content: 'no such thing', is_error: true },
          { type: 'text', text: 'Step 2 of 8.' },
        ],
      },
    ];
    expect(chatMessages([], conversation)).toEqual([
      { role: 'user', content: 'Fix it' },
      {
        role: 'assistant',
        content: 'Reading.',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'read_file', arguments: '{"path":"a.ts"}' } },
          { id: 'call_2', type: 'function', function: { name: 'list_documents', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'export const a = 1;' },
      { role: 'tool', tool_call_id: 'call_2', content: 'Error: no such thing' },
      { role: 'user', content: 'Step 2 of 8.' },
    ]);
  });

  it('sends an assistant turn of calls only with null content, as the API expects', () => {
    const [message] = chatMessages([], [{ role: 'assistant', content: [{ type: 'tool_use', id: 'call_9', name: 'propose_edits', input: { summary: 's', edits: [] } }] }]);
    expect(message).toMatchObject({ role: 'assistant', content: null });
  });

  const request: ModelRequest = {
    model: 'openai:gpt-4.1',
    maxTokens: 1000,
    system,
    messages: [{ role: 'user', content: 'Hi' }],
    tools: [{ name: 'propose_edits', description: 'Edit.', input_schema: { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'] } }],
    toolChoice: { type: 'tool', name: 'propose_edits', disable_parallel_tool_use: true },
  };

  it('streams with usage, and sends tools as functions with the same JSON schema and tool_choice', () => {
    const params = chatCompletionParams({ model: 'gpt-4.1', request }, 'http://127.0.0.1:8080/v1');
    expect(params).toMatchObject({
      model: 'gpt-4.1',
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 1000,
      tools: [{ type: 'function', function: { name: 'propose_edits', description: 'Edit.', parameters: request.tools?.[0]?.input_schema } }],
      tool_choice: { type: 'function', function: { name: 'propose_edits' } },
      parallel_tool_calls: false,
    });
    expect(params).not.toHaveProperty('max_completion_tokens');
  });

  it("uses max_completion_tokens on OpenAI's own endpoints, which its reasoning models require", () => {
    for (const baseURL of ['https://api.openai.com/v1', 'https://team.openai.azure.com/openai/v1']) {
      const params = chatCompletionParams({ model: 'gpt-4.1', request }, baseURL);
      expect(params).toMatchObject({ max_completion_tokens: 1000 });
      expect(params).not.toHaveProperty('max_tokens');
    }
  });

  it('maps every tool_choice, and sends none without tools', () => {
    const choiceOf = (toolChoice: ModelRequest['toolChoice']): unknown => chatCompletionParams({ model: 'm', request: { ...request, ...(toolChoice === undefined ? {} : { toolChoice }) } }, 'http://x/v1').tool_choice;
    expect(choiceOf({ type: 'auto' })).toBe('auto');
    expect(choiceOf({ type: 'any' })).toBe('required');
    expect(choiceOf({ type: 'none' })).toBe('none');
    const bare = chatCompletionParams({ model: 'm', request: { ...request, tools: [] } }, 'http://x/v1');
    expect(bare).not.toHaveProperty('tools');
    expect(bare).not.toHaveProperty('tool_choice');
  });
});
