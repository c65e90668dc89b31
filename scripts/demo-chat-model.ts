/**
 * The offline demo's stand-in model behind an API that takes chat messages
 * (OpenAI's Chat Completions, Ollama's `/api/chat`) instead of Anthropic's
 * Messages: the same rule-based answers as demo-model.ts. The conversation
 * the real server sent is read back into the Messages shape the rules read,
 * undoing what the server's provider did to it:
 * - `tool` messages (each a message of its own) become `tool_result` blocks
 *   of one user turn; the provider marks a failed tool with an `Error: `
 *   prefix (these APIs have no error flag), which becomes `is_error` again,
 *   so the rules see "does not exist in the workspace" as Anthropic shows it;
 * - an assistant's `tool_calls` become `tool_use` blocks (OpenAI's arguments
 *   are JSON text, Ollama's an object; Ollama's calls have no id);
 * - text blocks the provider joined into one string stay joined: the rules
 *   find a do's instruction in either form (server/src/offline/demo-request.ts).
 */
import type { FakeReply, RecordedRequest } from '../test/support/fake-anthropic/server.js';
import { demoResponder } from './demo-model.js';

export interface ChatTurn {
  role?: string;
  content?: string | null | readonly { text?: string }[];
  tool_calls?: readonly { id?: string; function?: { name?: string; arguments?: unknown } }[];
  /** OpenAI pairs a result with its call by id. */
  tool_call_id?: string;
  /** Ollama pairs it by the tool's name. */
  tool_name?: string;
}

type Block =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; tool_use_id: string; content: string; is_error?: true };
interface Message {
  role: 'user' | 'assistant';
  content: Block[];
}

/** What the server's providers put before a failed tool's text. */
const errorPrefix = 'Error: ';

const textOf = (content: ChatTurn['content']): string => (typeof content === 'string' ? content : (content ?? []).map((part) => part.text ?? '').join(''));

function argumentsOf(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw ?? {};
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return {};
  }
}

export function asMessages(turns: readonly ChatTurn[]): Message[] {
  const out: Message[] = [];
  const userTurn = (): Message => {
    const last = out.at(-1);
    if (last?.role === 'user') return last;
    const turn: Message = { role: 'user', content: [] };
    out.push(turn);
    return turn;
  };
  let calls = 0;
  for (const turn of turns) {
    const text = textOf(turn.content);
    if (turn.role === 'tool') {
      const failed = text.startsWith(errorPrefix);
      userTurn().content.push({ type: 'tool_result', tool_use_id: turn.tool_call_id ?? turn.tool_name ?? '', content: failed ? text.slice(errorPrefix.length) : text, ...(failed ? { is_error: true as const } : {}) });
    } else if (turn.role === 'user') userTurn().content.push({ type: 'text', text });
    else if (turn.role === 'assistant') {
      const content: Block[] = text === '' ? [] : [{ type: 'text', text }];
      for (const call of turn.tool_calls ?? []) content.push({ type: 'tool_use', id: call.id ?? `call_${(calls += 1)}`, name: call.function?.name ?? '', input: argumentsOf(call.function?.arguments) });
      out.push({ role: 'assistant', content });
    }
  }
  return out;
}

/** The rules' answer to a conversation, with the tool choice in Anthropic's words (`auto`: a step of the do agent; `tool`: an action's edit). */
export function chatDemoReply(request: { index: number; path: string }, turns: readonly ChatTurn[], toolChoice: { type: string; name?: string } | undefined): FakeReply {
  const body = { messages: asMessages(turns), ...(toolChoice !== undefined ? { tool_choice: toolChoice } : {}) };
  return demoResponder({ ...request, body } as unknown as RecordedRequest);
}
