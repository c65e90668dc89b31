/**
 * Ollama on its native API (`/api/chat`) through the official `ollama`
 * library, for local models (`ollama:qwen2.5-coder:7b`) with no key.
 *
 * The request arrives in the Messages shape (see provider.ts) and is
 * translated: the system blocks become one system message; `tool_use` blocks
 * become the assistant's `tool_calls` (arguments as an object, not a JSON
 * string), and `tool_result` blocks become `tool` messages named by the tool
 * they answer (Ollama pairs results by name, not id); tools become function
 * tools with the same JSON schema; `max_tokens` is `options.num_predict`.
 *
 * The answer streams as NDJSON: each line a `message` with a piece of
 * `content`, tool calls whole in one line's `message.tool_calls`, then a last
 * line with `done: true`, its `done_reason` and the token counts
 * (`prompt_eval_count`, `eval_count`). Ollama has no prompt cache to report.
 *
 * Fill in the middle (inline completion with a code model) is `/api/generate`
 * with `prompt` (the text before the cursor) and `suffix` (after it): the
 * model's template puts them in its FIM tokens, so nothing here knows them.
 * It streams NDJSON lines with a piece of `response` each and the same last
 * line. A model whose template has no suffix answers 400 "… does not support
 * insert"; `/api/show` says beforehand, in `capabilities` (`insert`, `tools`),
 * on an Ollama recent enough to report them.
 *
 * The library opens its own AbortController per stream and takes no signal,
 * so the `fetch` it is given joins the call's signal to the library's: a
 * cancel, a stall or an oversized answer aborts the HTTP request itself.
 */
import type { ChatRequest, ChatResponse, GenerateRequest, GenerateResponse, Message, Ollama, Tool as OllamaTool } from 'ollama';
import type { ContentBlockParam, MessageParam, TextBlockParam, Tool, ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { EfritError } from '../common/errors.js';
import { incompleteAnswer } from './anthropic-provider.js';
import type { FillInMiddleReply, ModelCapabilities, ModelProvider, ModelReply, ProviderCall, ProviderDescribeCall, ProviderFillInMiddleCall, ToolCall } from './provider.js';
import type { CallUsage } from './usage-meter.js';

type LibraryModule = typeof import('ollama');

let libraryModule: Promise<LibraryModule> | undefined;
function loadLibrary(): Promise<LibraryModule> {
  libraryModule ??= import('ollama');
  return libraryModule;
}

/** Where `ollama serve` listens unless told otherwise (OLLAMA_HOST). */
export const ollamaDefaultBaseURL = 'http://127.0.0.1:11434';

export const ollamaProvider: ModelProvider = {
  name: 'ollama',
  // Ollama takes no key; the endpoint resolver hands a placeholder that is never sent.
  keyVariable: 'OLLAMA_HOST',
  stream: (call: ProviderCall): Promise<ModelReply> => withOllama(call, async (client) => collect(await client.chat({ ...chatRequest(call), stream: true }), call)),
  fillInMiddle: (call: ProviderFillInMiddleCall): Promise<FillInMiddleReply> =>
    withOllama(call, async (client) => collectGenerated(await client.generate({ ...generateRequest(call), stream: true }), call)),
  describe: (call: ProviderDescribeCall): Promise<ModelCapabilities | undefined> => withOllama(call, async (client) => capabilitiesOf(await client.show({ model: call.model }))),
};

/** One exchange with Ollama on the call's fetch and signal, its failures put in words (`classified`). */
async function withOllama<T>(call: Pick<ProviderCall, 'model' | 'baseURL' | 'fetch' | 'signal'>, run: (client: Ollama) => Promise<T>): Promise<T> {
  const library = await loadLibrary();
  const host = call.baseURL ?? ollamaDefaultBaseURL;
  const client: Ollama = new library.Ollama({ host, fetch: joinedFetch(call.fetch, call.signal) });
  try {
    return await run(client);
  } catch (error) {
    call.signal.throwIfAborted();
    throw classified(error, call, host);
  }
}

/** The last line of a stream (`done: true`): its token counts into `usage`, and why it stopped, `stop` when it does not say. */
function readDoneLine(chunk: { done_reason?: unknown; prompt_eval_count?: unknown; eval_count?: unknown }, usage: CallUsage): string {
  if (typeof chunk.prompt_eval_count === 'number') usage.inputTokens = chunk.prompt_eval_count;
  if (typeof chunk.eval_count === 'number') usage.outputTokens = chunk.eval_count;
  return typeof chunk.done_reason === 'string' && chunk.done_reason !== '' ? chunk.done_reason : 'stop';
}

/** `/api/show`'s `capabilities`, or undefined from an older Ollama that does not report them. */
export function capabilitiesOf(shown: unknown): ModelCapabilities | undefined {
  const listed = typeof shown === 'object' && shown !== null ? (shown as { capabilities?: unknown }).capabilities : undefined;
  if (!Array.isArray(listed)) return undefined;
  return { fillInMiddle: listed.includes('insert'), tools: listed.includes('tools') };
}

export function generateRequest(call: Pick<ProviderFillInMiddleCall, 'model' | 'request'>): GenerateRequest {
  const { request } = call;
  return {
    model: call.model,
    prompt: request.prefix,
    suffix: request.suffix,
    // Completion is deterministic: the same spot should suggest the same text, which the cache and typed-ahead reuse rely on.
    options: { num_predict: request.maxTokens, temperature: 0, ...(request.stop.length > 0 ? { stop: request.stop } : {}) },
  };
}

async function collectGenerated(stream: AsyncIterable<GenerateResponse>, call: ProviderFillInMiddleCall): Promise<FillInMiddleReply> {
  const { usage, observer, countContent } = call;
  let text = '';
  let doneReason: string | undefined;
  for await (const chunk of stream) {
    if (typeof chunk.thinking === 'string') countContent(chunk.thinking);
    if (typeof chunk.response === 'string' && chunk.response !== '') {
      countContent(chunk.response);
      text += chunk.response;
      observer?.onText?.(chunk.response);
    }
    if (chunk.done) doneReason = readDoneLine(chunk, usage);
  }
  call.signal.throwIfAborted();
  if (doneReason === undefined) throw incompleteAnswer();
  return { text, stopReason: stopReasons[doneReason] ?? doneReason, usage };
}

function joinedFetch(fetchThrough: typeof fetch, signal: AbortSignal): typeof fetch {
  return (input, init) => fetchThrough(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal });
}

function causeCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; typeof current === 'object' && current !== null && depth < 5; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The library's `ResponseError` has `status_code` and the body's `error`,
 * which `mapModelError` does not read; a refused connection means the server
 * is not running, which deserves its own words.
 */
function classified(error: unknown, call: Pick<ProviderCall, 'model'>, host: string): unknown {
  if (error instanceof EfritError) return error;
  const shape = (typeof error === 'object' && error !== null ? error : {}) as { status_code?: unknown; error?: unknown; name?: unknown };
  if (shape.name === 'ResponseError' && typeof shape.status_code === 'number') {
    const said = typeof shape.error === 'string' ? shape.error.slice(0, 300) : '';
    if (shape.status_code === 400 && /does not support insert/i.test(said)) {
      return new EfritError(
        'badRequest',
        `Ollama's model "${call.model}" cannot fill in the middle (its template has no suffix), so it cannot complete with the text after the cursor: remove it from efrit.fillInMiddleModels, or use a code model that can (e.g. qwen2.5-coder). Ollama said: ${said}`,
      );
    }
    if (shape.status_code === 404) {
      return new EfritError('badRequest', `Ollama at ${host} does not have the model "${call.model}": run \`ollama pull ${call.model}\`, or check efrit.model.${said === '' ? '' : ` Ollama said: ${said}`}`);
    }
    if (shape.status_code === 503 && /server busy|maximum pending requests/i.test(said)) {
      // Ollama's own "queue full" (OLLAMA_MAX_QUEUE): it is overloaded, so the one shared backoff waits and tries again.
      return new EfritError('overloaded', `Ollama at ${host} is busy (503: ${said}). Efrit waits and tries again.`);
    }
    return { status: shape.status_code, error: { message: said } };
  }
  if (causeCode(error) === 'ECONNREFUSED') {
    return new EfritError('network', `Could not connect to Ollama at ${host}: is Ollama running? (ollama serve) Or set efrit.ollama.baseURL (or OLLAMA_HOST).`);
  }
  // An `{"error": …}` line in the middle of a stream, or a stream that ended before `done`.
  if (error instanceof Error && !(error instanceof TypeError) && error.name === 'Error') {
    return /did not receive done/i.test(error.message) ? incompleteAnswer() : new EfritError('apiError', `Ollama reported an error while answering: ${error.message.slice(0, 300)} Try again.`);
  }
  return error;
}

export function chatRequest(call: Pick<ProviderCall, 'model' | 'request'>): ChatRequest {
  const { request } = call;
  const tools = request.tools ?? [];
  // Ollama has no tool_choice: `none` is honoured by offering no tools; `any` and `tool` rely on the prompt.
  const offered = request.toolChoice?.type === 'none' ? [] : tools;
  return {
    model: call.model,
    messages: chatMessages(request.system, request.messages),
    options: { num_predict: request.maxTokens },
    ...(offered.length > 0 ? { tools: offered.map(functionTool) } : {}),
  };
}

function functionTool(tool: Tool): OllamaTool {
  return {
    type: 'function',
    function: { name: tool.name, ...(tool.description !== undefined ? { description: tool.description } : {}), parameters: tool.input_schema as NonNullable<OllamaTool['function']['parameters']> },
  };
}

const textOf = (blocks: readonly TextBlockParam[]): string => blocks.map((block) => block.text).join('\n\n');

function toolResultText(block: ToolResultBlockParam): string {
  const content = block.content;
  const text = content === undefined ? '' : typeof content === 'string' ? content : content.map((part) => (part.type === 'text' ? part.text : `[${part.type}]`)).join('\n');
  return block.is_error === true ? `Error: ${text}` : text;
}

function argumentsObject(input: unknown): Record<string, unknown> {
  return typeof input === 'object' && input !== null && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
}

/** The conversation in Ollama chat messages, in the same order. */
export function chatMessages(system: readonly TextBlockParam[], messages: readonly MessageParam[]): Message[] {
  const out: Message[] = [];
  if (system.length > 0) out.push({ role: 'system', content: textOf(system) });
  const toolNames = new Map<string, string>();
  for (const message of messages) {
    const blocks: ContentBlockParam[] = typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content;
    if (message.role === 'assistant') {
      const text = blocks.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
      const toolCalls = blocks.flatMap((block) => {
        if (block.type !== 'tool_use') return [];
        toolNames.set(block.id, block.name);
        return [{ function: { name: block.name, arguments: argumentsObject(block.input) } }];
      });
      out.push({ role: 'assistant', content: text, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) });
      continue;
    }
    for (const block of blocks) {
      if (block.type !== 'tool_result') continue;
      const name = toolNames.get(block.tool_use_id);
      out.push({ role: 'tool', content: toolResultText(block), ...(name !== undefined ? { tool_name: name } : {}) });
    }
    const text = blocks.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('\n\n');
    if (text !== '') out.push({ role: 'user', content: text });
  }
  return out;
}

/** Ollama's `done_reason`s in Anthropic's words, which the callers read. */
const stopReasons: Record<string, string> = { stop: 'end_turn', length: 'max_tokens' };

async function collect(stream: AsyncIterable<ChatResponse>, call: ProviderCall): Promise<ModelReply> {
  const { usage, observer, countContent } = call;
  let text = '';
  const toolCalls: ToolCall[] = [];
  let doneReason: string | undefined;
  for await (const chunk of stream) {
    const message = chunk.message as Partial<Message> | undefined;
    if (typeof message?.thinking === 'string') countContent(message.thinking);
    if (typeof message?.content === 'string' && message.content !== '') {
      countContent(message.content);
      text += message.content;
      observer?.onText?.(message.content);
    }
    for (const toolCall of Array.isArray(message?.tool_calls) ? message.tool_calls : []) {
      const name = toolCall.function?.name;
      if (typeof name !== 'string' || name === '') throw new EfritError('incomplete', 'The model sent a tool call without a name; nothing was applied. Try again.');
      const input = argumentsObject(toolCall.function.arguments);
      countContent(JSON.stringify(input));
      observer?.onToolStart?.(name);
      // Ollama gives calls no ids; the conversation needs one to pair each result with its call.
      toolCalls.push({ id: `call_efrit_${toolCalls.length}`, name, input });
    }
    if (chunk.done) doneReason = readDoneLine(chunk, usage);
  }
  call.signal.throwIfAborted();
  if (doneReason === undefined) throw incompleteAnswer();
  const content: ContentBlockParam[] = [];
  if (text !== '') content.push({ type: 'text', text });
  for (const toolCall of toolCalls) content.push({ type: 'tool_use', id: toolCall.id, name: toolCall.name, input: toolCall.input ?? {} });
  const stopReason = toolCalls.length > 0 && doneReason === 'stop' ? 'tool_use' : (stopReasons[doneReason] ?? doneReason);
  return { text, toolCalls, stopReason, usage, assistantMessage: { role: 'assistant', content } };
}
