/**
 * The offline demo's stand-in for Claude: a rule-based responder for the fake
 * Messages API. It reads the request the real server built (excerpt,
 * diagnostics, instruction) and answers the way the model would for the
 * demo's sample file — so the demo exercises every real part (SDK, HTTP, SSE,
 * tool_use, edit matching) without network access. The do agent's steps are
 * answered by the demo model built into the server (`--offline`), which works
 * from what the workspace tools returned: the demo's change across files is
 * the one a user of `--offline` gets.
 */
import { answerDemoRequest } from '../server/src/offline/demo-answers.js';
import type { FakeReply, RecordedRequest } from '../test/support/fake-anthropic/server.js';

interface RequestShape {
  tool_choice?: { type?: string; name?: string };
  messages?: { role: string; content: string | { type: string; text?: string }[] }[];
}

function lastUserText(body: RequestShape): string {
  const last = [...(body.messages ?? [])].reverse().find((m) => m.role === 'user');
  if (last === undefined) return '';
  if (typeof last.content === 'string') return last.content;
  return last.content
    .filter((block) => block.type === 'text')
    .map((block) => block.text ?? '')
    .join('\n');
}

/** Excerpt lines as the server numbers them: "  12| text" or "  12|>text". */
function excerptLines(prompt: string): Map<number, { text: string; selected: boolean }> {
  const lines = new Map<number, { text: string; selected: boolean }>();
  for (const raw of prompt.split('\n')) {
    const match = /^ *(\d+)\|([ >])(.*)$/.exec(raw);
    if (match !== null) lines.set(Number(match[1]), { text: match[3] ?? '', selected: match[2] === '>' });
  }
  return lines;
}

function fixFor(prompt: string): FakeReply {
  const lines = excerptLines(prompt);
  const suggestion = /line (\d+): Cannot find name '([^']+)'\. Did you mean '([^']+)'\?/.exec(prompt);
  if (suggestion !== null) {
    const line = lines.get(Number(suggestion[1]));
    const [, , wrong = '', right = ''] = suggestion;
    if (line !== undefined && line.text.includes(wrong)) {
      return {
        toolUses: [
          {
            name: 'propose_edits',
            input: {
              summary: `Use the parameter \`${right}\`: \`${wrong}\` is not defined in this scope.`,
              edits: [{ old_text: line.text, new_text: line.text.replace(wrong, right) }],
            },
          },
        ],
      };
    }
  }
  return { toolUses: [{ name: 'propose_edits', input: { summary: 'No change needed.', edits: [] } }] };
}

function explanationFor(prompt: string): string {
  const lines = excerptLines(prompt);
  const selected = [...lines.entries()].filter(([, line]) => line.selected);
  const first = selected[0]?.[0];
  const last = selected[selected.length - 1]?.[0];
  const functions = selected.map(([, line]) => /function (\w+)/.exec(line.text)?.[1]).filter((name): name is string => name !== undefined);
  const loops = selected.filter(([, line]) => /\bfor\b|\bwhile\b/.test(line.text)).length;
  const parts = [
    `Lines ${first ?? '?'}–${last ?? '?'} define ${functions.length > 0 ? functions.map((f) => `\`${f}\``).join(' and ') : 'no function'}.`,
    loops > 0 ? ` It walks the items once (${loops} loop), adding unit price × quantity to a running subtotal,` : '',
    ' then applies the tax rate and returns the total.',
    ' Money is kept as a floating-point number, so totals such as 0.1 + 0.2 can show rounding noise; store cents as integers if that matters.',
  ];
  return parts.join('');
}

export function demoResponder(request: RecordedRequest): FakeReply {
  const body = request.body as RequestShape;
  const prompt = lastUserText(body);
  const latencyMs = 400;
  if (body.tool_choice?.type === 'tool' && body.tool_choice.name === 'propose_edits') return { ...fixFor(prompt), latencyMs };
  if (body.tool_choice?.type === 'auto') {
    // A step of the do agent: shorter, since a change across files takes a few of them.
    const answer = answerDemoRequest(request.body);
    return { ...(answer.text !== undefined ? { text: answer.text } : {}), ...(answer.toolUses !== undefined ? { toolUses: answer.toolUses } : {}), latencyMs: 100, chunkDelayMs: 10 };
  }
  if (prompt.includes('Explain what the selected code does')) return { text: explanationFor(prompt), latencyMs, chunkDelayMs: 20 };
  const question = prompt.split('\n').filter((line) => line.trim() !== '').pop() ?? '';
  const turn = (body.messages ?? []).filter((m) => m.role === 'user').length;
  return {
    text:
      turn === 1
        ? `(offline demo model) About "${question.slice(0, 60)}": round once, at the end — \`Math.round(total * 100) / 100\` — or keep integer cents throughout so every intermediate sum is exact.`
        : `(offline demo model) This is turn ${turn} of the same session, so I still have the earlier context: yes, integer cents also make the tests exact.`,
    latencyMs,
    chunkDelayMs: 15,
  };
}
