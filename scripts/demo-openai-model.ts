/**
 * The offline demo's stand-in model for `--provider openai`: the same
 * rule-based answers as demo-model.ts, behind the fake Chat Completions API.
 * The request the real server sent (Chat Completions messages) is read back
 * into the Messages shape the rules read, and their answer (text, tool uses)
 * goes out as text and function calls.
 */
import type { FakeReply, RecordedRequest } from '../test/support/fake-anthropic/server.js';
import type { ChatMessage, FakeChatReply, RecordedChatRequest } from '../test/support/fake-openai/server.js';
import { demoResponder } from './demo-model.js';

type Block = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown } | { type: 'tool_result'; tool_use_id: string; content: string };
type Message = { role: 'user' | 'assistant'; content: Block[] };

const textOf = (content: ChatMessage['content']): string =>
  typeof content === 'string' ? content : (content ?? []).map((part) => part.text ?? '').join('');

function asMessages(messages: readonly ChatMessage[]): Message[] {
  const out: Message[] = [];
  const userTurn = (): Message => {
    const last = out.at(-1);
    if (last?.role === 'user') return last;
    const turn: Message = { role: 'user', content: [] };
    out.push(turn);
    return turn;
  };
  for (const message of messages) {
    if (message.role === 'tool') userTurn().content.push({ type: 'tool_result', tool_use_id: message.tool_call_id ?? '', content: textOf(message.content) });
    else if (message.role === 'user') userTurn().content.push({ type: 'text', text: textOf(message.content) });
    else if (message.role === 'assistant') {
      const content: Block[] = textOf(message.content) === '' ? [] : [{ type: 'text', text: textOf(message.content) }];
      for (const call of message.tool_calls ?? []) content.push({ type: 'tool_use', id: call.id, name: call.function.name, input: JSON.parse(call.function.arguments) as unknown });
      out.push({ role: 'assistant', content });
    }
  }
  return out;
}

function asToolChoice(choice: unknown): { type: string; name?: string } | undefined {
  if (choice === 'auto') return { type: 'auto' };
  if (choice === 'required') return { type: 'any' };
  if (typeof choice === 'object' && choice !== null) return { type: 'tool', name: (choice as { function?: { name?: string } }).function?.name ?? '' };
  return undefined;
}

export function openaiDemoResponder(request: RecordedChatRequest): FakeChatReply {
  const body = { messages: asMessages(request.body.messages ?? []), tool_choice: asToolChoice(request.body.tool_choice) };
  const reply: FakeReply = demoResponder({ ...request, body } as unknown as RecordedRequest);
  return {
    ...(reply.text !== undefined ? { text: reply.text } : {}),
    ...(reply.toolUses !== undefined ? { toolCalls: reply.toolUses.map((use) => ({ name: use.name, arguments: use.input, ...(use.id !== undefined ? { id: use.id } : {}) })) } : {}),
  };
}
