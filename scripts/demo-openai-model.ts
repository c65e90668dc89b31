/**
 * The offline demo's stand-in model for `--provider openai`: the rules of
 * demo-model.ts behind the fake Chat Completions API (see demo-chat-model.ts
 * for how the request is read back), their answer (text, tool uses) sent as
 * text and function calls.
 */
import type { FakeChatReply, RecordedChatRequest } from '../test/support/fake-openai/server.js';
import { chatDemoReply } from './demo-chat-model.js';

function asToolChoice(choice: unknown): { type: string; name?: string } | undefined {
  if (choice === 'auto') return { type: 'auto' };
  if (choice === 'required') return { type: 'any' };
  if (typeof choice === 'object' && choice !== null) return { type: 'tool', name: (choice as { function?: { name?: string } }).function?.name ?? '' };
  return undefined;
}

export function openaiDemoResponder(request: RecordedChatRequest): FakeChatReply {
  const reply = chatDemoReply(request, request.body.messages ?? [], asToolChoice(request.body.tool_choice));
  return {
    ...(reply.text !== undefined ? { text: reply.text } : {}),
    ...(reply.toolUses !== undefined ? { toolCalls: reply.toolUses.map((use) => ({ name: use.name, arguments: use.input, ...(use.id !== undefined ? { id: use.id } : {}) })) } : {}),
  };
}
