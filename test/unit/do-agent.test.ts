/**
 * The agent loop's bounds on tool calls: per step, and running at once. The
 * model is a scripted list of replies; the tools are gates the test opens,
 * so "at most N at once" is observed, not timed.
 */
import type { MessageParam, ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { describe, expect, it } from 'vitest';
import { defaultMaxConcurrentToolCalls, defaultMaxToolCallsPerStep, runAgentLoop, type AgentRun } from '../../server/src/agent/do-agent.js';
import type { ToolOutcome } from '../../server/src/agent/workspace-tools.js';
import type { ModelReply, ToolCall } from '../../server/src/model/model-client.js';
import { emptyCallUsage } from '../../server/src/model/usage-meter.js';

function reply(text: string, toolCalls: ToolCall[] = []): ModelReply {
  return {
    text,
    toolCalls,
    stopReason: toolCalls.length > 0 ? 'tool_use' : 'end_turn',
    usage: emptyCallUsage(),
    assistantMessage: {
      role: 'assistant',
      content: [{ type: 'text', text }, ...toolCalls.map((call) => ({ type: 'tool_use' as const, id: call.id, name: call.name, input: call.input }))],
    },
  };
}

function searches(count: number, from = 0): ToolCall[] {
  return Array.from({ length: count }, (_, i) => ({ id: `toolu_${from + i}`, name: 'search_workspace', input: { query: `handler${from + i}` } }));
}

const found = (call: ToolCall): ToolOutcome => ({
  content: `1 match for ${JSON.stringify(call.input)}`,
  isError: false,
  note: `searched ${call.id}`,
  summary: `search_workspace ${JSON.stringify(call.input)} -> 1 match`,
});

/** The tool results the model was sent at the start of step `step` (1-based), from the messages the step received. */
function resultsSentTo(steps: MessageParam[][], step: number): ToolResultBlockParam[] {
  const last = steps[step - 1]?.at(-1);
  if (last === undefined || typeof last.content === 'string') return [];
  return last.content.flatMap((block) => (block.type === 'tool_result' ? [block] : []));
}

function agentRun(replies: ModelReply[], runTool: AgentRun['runTool'], overrides: Partial<AgentRun> = {}): { run: AgentRun; steps: MessageParam[][]; notes: string[] } {
  const steps: MessageParam[][] = [];
  const notes: string[] = [];
  const run: AgentRun = {
    prefix: [{ role: 'user', content: 'Find every handler and tidy them.' }],
    step: async (messages) => {
      steps.push(messages);
      const next = replies.shift();
      if (next === undefined) throw new Error('the script has no more replies');
      return next;
    },
    runTool,
    finalTool: 'propose_edits',
    onToolNote: (text) => notes.push(text),
    onStep: () => undefined,
    limits: { maxSteps: 8, tokenBudget: 1_000_000, logBudgetTokens: 1_000_000 },
    signal: new AbortController().signal,
    ...overrides,
  };
  return { run, steps, notes };
}

/** Lets the event loop turn until `predicate` holds (no wall clock: a bounded number of turns). */
async function until(predicate: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < 10_000; turn++) {
    if (predicate()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`never happened: ${what}`);
}

describe('tool calls in one agent step', () => {
  it(`runs at most ${defaultMaxToolCallsPerStep} of 400 calls, ${defaultMaxConcurrentToolCalls} at a time, answers the rest as not run, and goes on`, async () => {
    const waiting: (() => void)[] = [];
    let started = 0;
    let active = 0;
    let mostActive = 0;
    const runTool = async (call: ToolCall): Promise<ToolOutcome> => {
      started++;
      active++;
      mostActive = Math.max(mostActive, active);
      await new Promise<void>((resolve) => waiting.push(resolve));
      active--;
      return found(call);
    };
    const calls = searches(400);
    const { run, steps, notes } = agentRun([reply('Searching everywhere.', calls), reply('There are sixteen handlers.')], runTool);

    const loop = runAgentLoop(run);
    for (let finished = 0; finished < defaultMaxToolCallsPerStep; finished++) {
      const expected = Math.min(defaultMaxConcurrentToolCalls, defaultMaxToolCallsPerStep - finished);
      await until(() => waiting.length === expected, `${expected} calls waiting at the gate`);
      expect(active).toBe(expected);
      (waiting.shift() as () => void)();
    }
    const result = await loop;

    expect(started).toBe(defaultMaxToolCallsPerStep);
    expect(mostActive).toBe(defaultMaxConcurrentToolCalls);
    expect(result.steps).toBe(2);
    expect(result.finalReply.text).toBe('There are sixteen handlers.');
    const answers = resultsSentTo(steps, 2);
    expect(answers.map((answer) => answer.tool_use_id)).toEqual(calls.map((call) => call.id));
    expect(answers.slice(0, 16).every((answer) => answer.is_error === undefined && String(answer.content).startsWith('1 match'))).toBe(true);
    for (const answer of answers.slice(16)) {
      expect(answer.is_error).toBe(true);
      expect(answer.content).toBe(
        'Not run: this step asked for 400 tool calls, and at most 16 run per step (the first 16 ran). Ask again for what you still need, at most 16 calls at a time.',
      );
    }
    expect(notes).toContain('384 more tool calls not run: at most 16 run per step');
  });

  it('takes its caps from the limits', async () => {
    let active = 0;
    let mostActive = 0;
    const waiting: (() => void)[] = [];
    const runTool = async (call: ToolCall): Promise<ToolOutcome> => {
      active++;
      mostActive = Math.max(mostActive, active);
      await new Promise<void>((resolve) => waiting.push(resolve));
      active--;
      return found(call);
    };
    const { run, steps } = agentRun([reply('Looking.', searches(5)), reply('Done.')], runTool, {
      limits: { maxSteps: 8, tokenBudget: 1_000_000, logBudgetTokens: 1_000_000, maxToolCallsPerStep: 3, maxConcurrentToolCalls: 1 },
    });
    const loop = runAgentLoop(run);
    for (let finished = 0; finished < 3; finished++) {
      await until(() => waiting.length === 1, 'one call at the gate');
      (waiting.shift() as () => void)();
    }
    await loop;
    expect(mostActive).toBe(1);
    expect(resultsSentTo(steps, 2).map((answer) => answer.is_error === true)).toEqual([false, false, false, true, true]);
  });

  it('lets the model ask again for calls that were not run, and still stops one that repeats calls that ran', async () => {
    const ran: string[] = [];
    const runTool = async (call: ToolCall): Promise<ToolOutcome> => {
      ran.push(call.id);
      return found(call);
    };
    const first = searches(20);
    // Step 2 asks for the four that were not run: allowed. Step 3 asks for one that ran: the loop stops.
    const { run } = agentRun([reply('All of them.', first), reply('The rest.', searches(4, 16)), reply('Again.', searches(1, 0))], runTool);
    await expect(runAgentLoop(run)).rejects.toMatchObject({ reason: 'agentStopped', message: expect.stringMatching(/stopped after 3 steps: the model repeated the call search_workspace/) });
    expect(ran).toEqual([...first.slice(0, 16), ...searches(4, 16)].map((call) => call.id));
  });

  it('still stops when the calls that ran all fail the same way twice in a row', async () => {
    const runTool = async (): Promise<ToolOutcome> => ({ content: 'No workspace folder is open.', isError: true, note: 'no folder', summary: 'search_workspace -> error' });
    const { run } = agentRun([reply('Searching.', searches(30)), reply('Searching more.', searches(30, 100))], runTool);
    await expect(runAgentLoop(run)).rejects.toMatchObject({ reason: 'agentStopped', message: expect.stringMatching(/the same error came back twice in a row/) });
  });
});

describe('a proposal the server refuses', () => {
  const proposal = (id: string, path: string): ToolCall => ({ id, name: 'propose_edits', input: { summary: 's', edits: [{ path, old_text: 'a', new_text: 'b' }] } });

  it('goes back to the model as the call\'s error, runs the other calls of that reply, and ends with the next proposal it accepts', async () => {
    const checked: string[] = [];
    const { run, steps, notes } = agentRun(
      [reply('Done.', [proposal('toolu_p1', 'src/a.ts'), ...searches(1)]), reply('Read it; again.', [proposal('toolu_p2', 'src/b.ts')])],
      async (call) => found(call),
      {
        acceptFinal: async (call) => {
          checked.push(call.id);
          return call.id === 'toolu_p1' ? 'The change edits src/a.ts, which it has not read.' : undefined;
        },
      },
    );

    const result = await runAgentLoop(run);

    expect(checked).toEqual(['toolu_p1', 'toolu_p2']);
    expect(result.steps).toBe(2);
    expect(result.finalReply.toolCalls[0]?.id).toBe('toolu_p2');
    const sent = resultsSentTo(steps, 2);
    expect(sent.map((block) => [block.tool_use_id, block.is_error ?? false])).toEqual([
      ['toolu_p1', true],
      ['toolu_0', false],
    ]);
    expect(JSON.stringify(sent[0]?.content)).toContain('The change edits src/a.ts, which it has not read. Read what you need, then call propose_edits again');
    expect(notes[0]).toBe('the proposed change was refused: The change edits src/a.ts, which it has not read.');
  });

  it('ends the job with the refusal when it comes at the last step', async () => {
    const { run } = agentRun([reply('', [proposal('toolu_p1', 'src/a.ts')])], async (call) => found(call), {
      acceptFinal: async () => 'The change edits src/a.ts, which it has not read.',
      limits: { maxSteps: 1, tokenBudget: 1_000_000, logBudgetTokens: 1_000_000 },
    });
    await expect(runAgentLoop(run)).rejects.toMatchObject({ reason: 'invalidEdit', message: 'The change edits src/a.ts, which it has not read.' });
  });

  it('stops a model that proposes the same refused change twice', async () => {
    const { run } = agentRun([reply('', [proposal('toolu_p1', 'src/a.ts')]), reply('', [proposal('toolu_p2', 'src/a.ts')])], async (call) => found(call), {
      acceptFinal: async () => 'refused',
    });
    await expect(runAgentLoop(run)).rejects.toMatchObject({ reason: 'agentStopped', message: expect.stringContaining('the model repeated the call propose_edits') });
  });
});
