/**
 * The offline demo behind the OpenAI-compatible and Ollama fakes reads back
 * what the server's providers sent: a do's conversation, translated by the
 * providers' own code (openai-provider.ts, ollama-provider.ts), comes back in
 * the Messages shape with what the demo model needs from it — the
 * instruction, the tool calls, the tool results and which of them failed.
 */
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { describe, expect, it } from 'vitest';
import { chatMessages as ollamaMessages } from '../../server/src/model/ollama-provider.js';
import { chatMessages as openaiMessages } from '../../server/src/model/openai-provider.js';
import { readDemoRequest } from '../../server/src/offline/demo-request.js';
import { asMessages, type ChatTurn } from '../../scripts/demo-chat-model.js';

const excerpt = ['src/cart.ts (typescript) - lines 1-3 of 3, selection at 2:17-2:26', ' 1| // cart.ts', ' 2|>export function cartTotal(items: number[]): number {', ' 3| }'].join('\n');

const conversation: MessageParam[] = [
  { role: 'user', content: [{ type: 'text', text: excerpt }, { type: 'text', text: 'Instruction: rename cartTotal to orderTotal and add a test' }] },
  { role: 'assistant', content: [{ type: 'text', text: 'First, where it is used.' }, { type: 'tool_use', id: 'toolu_1', name: 'search_workspace', input: { query: 'cartTotal' } }] },
  { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'src/cart.ts:2: export function cartTotal(items: number[]): number {' }] },
  {
    role: 'assistant',
    content: [
      { type: 'tool_use', id: 'toolu_2', name: 'read_file', input: { path: 'src/cart.ts' } },
      { type: 'tool_use', id: 'toolu_3', name: 'read_file', input: { path: 'test/order-total.test.ts' } },
    ],
  },
  {
    role: 'user',
    content: [
      { type: 'tool_result', tool_use_id: 'toolu_2', content: 'src/cart.ts - lines 1-1 of 1, from disk\n 1| // cart.ts' },
      { type: 'tool_result', tool_use_id: 'toolu_3', content: 'test/order-total.test.ts does not exist in the workspace.', is_error: true },
    ],
  },
];

/** What the demo model must read the same whichever provider carried the conversation. */
function asTheDemoModelReadsIt(turns: readonly ChatTurn[]) {
  const request = readDemoRequest({ max_tokens: 1000, messages: asMessages(turns), tool_choice: { type: 'auto' } });
  return { instruction: request.instruction, agentSteps: request.agentSteps, toolResults: request.toolResults, toolErrors: request.toolErrors };
}

const expected = {
  instruction: 'rename cartTotal to orderTotal and add a test',
  agentSteps: 2,
  toolResults: ['src/cart.ts - lines 1-1 of 1, from disk\n 1| // cart.ts', 'test/order-total.test.ts does not exist in the workspace.'],
  toolErrors: ['test/order-total.test.ts does not exist in the workspace.'],
};

describe("the chat demo model reads back the providers' translation", () => {
  it('through Chat Completions: tool calls by id with JSON arguments, the failed read an error again', () => {
    const turns = openaiMessages([{ type: 'text', text: 'You are Efrit.' }], conversation) as ChatTurn[];
    expect(asTheDemoModelReadsIt(turns)).toEqual(expected);
    expect(asMessages(turns)[1]).toEqual(conversation[1]);
  });

  it('through Ollama: tool calls without ids, arguments as objects, results paired by name', () => {
    const turns = ollamaMessages([{ type: 'text', text: 'You are Efrit.' }], conversation) as ChatTurn[];
    expect(asTheDemoModelReadsIt(turns)).toEqual(expected);
    const readBack = asMessages(turns);
    expect(readBack[3]?.content).toEqual([
      { type: 'tool_use', id: expect.stringMatching(/^call_/), name: 'read_file', input: { path: 'src/cart.ts' } },
      { type: 'tool_use', id: expect.stringMatching(/^call_/), name: 'read_file', input: { path: 'test/order-total.test.ts' } },
    ]);
  });

  it('keeps a tool result that merely mentions an error as a result', () => {
    const turns: ChatTurn[] = [
      { role: 'user', content: 'Instruction: rename a to b' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', function: { name: 'search_workspace', arguments: '{"query":"a"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'src/log.ts:3: throw new Error("a")' },
    ];
    expect(asMessages(turns)[2]?.content).toEqual([{ type: 'tool_result', tool_use_id: 'call_1', content: 'src/log.ts:3: throw new Error("a")' }]);
  });
});
