/**
 * The offline demo's stand-in model for `--provider ollama`: the rules of
 * demo-model.ts behind the fake Ollama `/api/chat` (see demo-chat-model.ts
 * for how the request is read back).
 *
 * Ollama has no tool_choice, and the server offers the same tools on every
 * call that may use them (so the cached prefix stays the same), dropping
 * them where Anthropic's choice would be `none` (a chat, an explanation).
 * So what is asked is read as the server builds its requests: no tools, an
 * answer in words; tools and a do's instruction (`Instruction: …`) in the
 * latest user message, a step of the agent; tools without one, an action's
 * edit (propose_edits).
 */
import type { FakeOllamaReply, RecordedOllamaRequest } from '../test/support/fake-ollama/server.js';
import { chatDemoReply } from './demo-chat-model.js';

type OllamaTurn = NonNullable<RecordedOllamaRequest['body']['messages']>[number];

function impliedToolChoice(tools: RecordedOllamaRequest['body']['tools'], turns: readonly OllamaTurn[]): { type: string; name?: string } | undefined {
  if ((tools ?? []).length === 0) return undefined;
  const asked = turns.findLast((turn) => turn.role === 'user')?.content ?? '';
  return asked.startsWith('Instruction: ') || asked.includes('\n\nInstruction: ') ? { type: 'auto' } : { type: 'tool', name: 'propose_edits' };
}

export function ollamaDemoResponder(request: RecordedOllamaRequest): FakeOllamaReply {
  const reply = chatDemoReply({ index: 0, path: request.path }, request.body.messages ?? [], impliedToolChoice(request.body.tools, request.body.messages ?? []));
  const toolCalls = (reply.toolUses ?? []).map((use) => ({ name: use.name, arguments: (typeof use.input === 'object' && use.input !== null ? use.input : {}) as Record<string, unknown> }));
  return { ...(reply.text !== undefined ? { text: reply.text } : {}), ...(toolCalls.length > 0 ? { toolCalls } : {}) };
}
