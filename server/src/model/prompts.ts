/**
 * What the model reads. The system prompt and the tool list are constants:
 * nothing that changes from call to call (time, document, last result) ever
 * goes into them, so they form a byte-identical prefix the API's prompt cache
 * can serve. Everything that changes goes into the messages.
 */
import type { ContentBlockParam, MessageParam, TextBlockParam, Tool } from '@anthropic-ai/sdk/resources/messages/messages.js';

export const systemPrompt = `You are Efrit, a careful coding assistant working inside the user's editor through a language server.

How code reaches you: an excerpt of a file, headed by its path, language and line range. Each excerpt line is shown as
"<line number>| <text>"; lines inside the user's selection use ">" instead of the space after "|". The number, the
"|" and the marker are not part of the file; "...[+N chars]" stands for N characters of a long line left out. Diagnostics the editor reported come after the excerpt.

When you change code, call the propose_edits tool exactly once. Each edit names old_text, copied exactly from the
excerpt (without line numbers or markers, whole lines where you can, and long enough to occur only once in the
excerpt), and new_text, the text that replaces it. An empty old_text inserts new_text at the start of the selection.
Keep edits minimal, keep the file's indentation and style, and change nothing the request did not ask for.
An edit may change another file of the workspace: give its path, and quote only lines you read from it in this task
(read_file, read_document, or attached by the user with @path). To create, rename or delete a file, list it under files; a new file carries its whole text.

When you explain or answer, be brief and concrete, refer to line numbers, and use Markdown sparingly.`;

/**
 * The prompt for a model that cannot call tools (`modelsWithoutTools`): the
 * same rules, with edits written as SEARCH/REPLACE blocks that
 * assistant/text-edits.ts reads strictly.
 */
export const textEditsSystemPrompt = `You are Efrit, a careful coding assistant working inside the user's editor through a language server.

How code reaches you: an excerpt of a file, headed by its path, language and line range. Each excerpt line is shown as
"<line number>| <text>"; lines inside the user's selection use ">" instead of the space after "|". The number, the
"|" and the marker are not part of the file; "...[+N chars]" stands for N characters of a long line left out. Diagnostics the editor reported come after the excerpt.

You have no tools. When you change code, answer with one line "Summary: <what the change does and why>", then one
block per edit, exactly in this form, each marker alone on its line:
<<<<<<< SEARCH
the old text, copied exactly from the excerpt
=======
the new text that replaces it
>>>>>>> REPLACE
The old text must be copied exactly from the excerpt (without line numbers or markers, whole lines, and long enough to
occur only once in the excerpt). An empty SEARCH part inserts the new text at the start of the selection. Never write
the marker lines anywhere else. Keep edits minimal, keep the file's indentation and style, and change nothing the
request did not ask for. Edit only the excerpt's file.

When you explain or answer, be brief and concrete, refer to line numbers, and use Markdown sparingly.`;

export const proposeEditsTool: Tool = {
  name: 'propose_edits',
  description:
    'Propose one change: replacements in the excerpt shown or in files you read, and files to create, rename or delete. Each old_text must be copied exactly from what you were shown of that file (no line numbers) and occur once in it.',
  input_schema: {
    type: 'object',
    properties: {
      summary: { type: 'string', description: 'One or two sentences: what the change does and why.' },
      edits: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            path: { type: 'string', description: "The file, relative to the workspace folder; leave it out for the excerpt's own file." },
            old_text: { type: 'string', description: 'Exact text from the excerpt or the file as you read it, to replace; empty to insert at the selection.' },
            new_text: { type: 'string', description: 'The replacement text.' },
          },
          required: ['old_text', 'new_text'],
        },
      },
      files: {
        type: 'array',
        description: 'Files to create, rename or delete (edits to existing files go in edits).',
        items: {
          type: 'object',
          properties: {
            action: { type: 'string', enum: ['create', 'rename', 'delete'] },
            path: { type: 'string', description: 'The file, relative to the workspace folder.' },
            new_path: { type: 'string', description: 'For rename: the new path.' },
            text: { type: 'string', description: "For create: the new file's whole text." },
          },
          required: ['action', 'path'],
        },
      },
    },
    required: ['summary', 'edits'],
  },
};

/**
 * The fixed prompt, then the project's instructions when there are any
 * (agent/project-instructions.ts). Only the last block carries the cache
 * mark: it caches everything before it too, and the API allows four marks in
 * all, two of which `withCacheBreakpoints` puts on the messages.
 */
export function systemBlocks(promptCaching: boolean, projectInstructions?: string, prompt: string = systemPrompt): TextBlockParam[] {
  const texts = projectInstructions === undefined || projectInstructions === '' ? [prompt] : [prompt, projectInstructions];
  return texts.map((text, index): TextBlockParam =>
    promptCaching && index === texts.length - 1 ? { type: 'text', text, cache_control: { type: 'ephemeral' } } : { type: 'text', text },
  );
}

/** The excerpt the model reads, as the helper formatted it, plus the diagnostics. */
export function excerptText(context: { numbered: string; diagnostics: readonly string[] }): string {
  const diagnostics = context.diagnostics.length === 0 ? '' : `\n\nDiagnostics:\n${context.diagnostics.join('\n')}`;
  return `${context.numbered}${diagnostics}`;
}

/**
 * Marks the conversation's cache breakpoints on a copy of it: the first
 * block of the first message (the first sight of the document, which every
 * later turn repeats byte for byte) and the last block of the last message
 * (so the next turn reads everything up to here from the cache). With the
 * system prompt's own mark that is three of the API's four.
 */
export function withCacheBreakpoints(messages: readonly MessageParam[], enabled: boolean): MessageParam[] {
  if (!enabled || messages.length === 0) return [...messages];
  const marked = [...messages];
  const mark = (index: number, which: 'first' | 'last'): void => {
    const message = marked[index] as MessageParam;
    const blocks: ContentBlockParam[] = typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : [...(message.content as ContentBlockParam[])];
    const at = which === 'first' ? 0 : blocks.length - 1;
    const block = blocks[at];
    if (block === undefined || !('type' in block) || (block.type !== 'text' && block.type !== 'tool_result')) return;
    blocks[at] = { ...block, cache_control: { type: 'ephemeral' } };
    marked[index] = { ...message, content: blocks } as MessageParam;
  };
  mark(0, 'first');
  mark(marked.length - 1, 'last');
  return marked;
}
