import type { ContentBlockParam, MessageParam, TextBlockParam, ToolResultBlockParam, ToolUseBlockParam } from '@anthropic-ai/sdk/resources/messages/messages.js';
import { describe, expect, it } from 'vitest';
import { WorkLog, type WorkLogEntry, type WorkLogOptions } from '../../server/src/agent/work-log.js';
import { withCacheBreakpoints } from '../../server/src/model/prompts.js';
import { PromptCache } from '../support/fake-anthropic/cache-accounting.js';
import { validateMessageRequest } from '../support/fake-anthropic/request-validation.js';

// ---------------------------------------------------------------------------
// Fixtures: what an efrit/do loop on a small shop's cart code looks like.

const cartSource = [
  "import { Money } from './money.js';",
  "import type { Product } from './inventory.js';",
  '',
  'export interface CartLine {',
  '  product: Product;',
  '  quantity: number;',
  '}',
  '',
  'export class Cart {',
  '  private readonly lines = new Map<string, CartLine>();',
  '',
  '  add(product: Product, quantity = 1): void {',
  '    const line = this.lines.get(product.sku);',
  '    if (line) line.quantity += quantity;',
  '    else this.lines.set(product.sku, { product, quantity });',
  '  }',
  '',
  '  /** The total before discounts, in the currency of the first line. */',
  '  subtotal(): Money {',
  '    let total = Money.zero();',
  '    for (const { product, quantity } of this.lines.values()) total = total.plus(product.price.times(quantity));',
  '    return total;',
  '  }',
  '',
  '  applyDiscount(percent: number): Money {',
  '    // TODO: rounding is applied per line in checkout.ts but not here',
  '    return this.subtotal().times(1 - percent / 100);',
  '  }',
  '}',
];

/** `read_file` output: numbered lines, as the tool hands them to the model. */
function numberedLines(path: string, from: number, to: number): string {
  const out: string[] = [];
  for (let line = from; line <= to; line++) {
    const code = cartSource[(line - 1) % cartSource.length] as string;
    out.push(`${String(line).padStart(4)}  ${code}${code.includes('Cart') ? ` // ${path}` : ''}`);
  }
  return out.join('\n');
}

interface Call {
  tool: string;
  input: Record<string, unknown>;
  result: string;
  isError?: boolean;
  summary: string;
}

function readFile(path: string, from = 1, to = 80): Call {
  const result = numberedLines(path, from, to);
  return {
    tool: 'read_file',
    input: { path, start_line: from, end_line: to },
    result,
    summary: `read_file ${path} lines ${from}–${to} (${result.length.toLocaleString('en-US')} chars): call read_file again to see it`,
  };
}

function grep(pattern: string): Call {
  const result = ['src/cart.ts', 'src/checkout.ts', 'src/money.ts', 'test/cart.test.ts']
    .flatMap((path, i) => [12, 27, 41].map((line) => `${path}:${line + i}:    return this.subtotal().${pattern}(1 - percent / 100);`))
    .join('\n');
  return { tool: 'grep', input: { pattern, path: 'src' }, result, summary: `grep "${pattern}" in src (12 matches): call grep again to see them` };
}

function runTests(): Call {
  const result = [
    ' FAIL  test/cart.test.ts > Cart > applies a percentage discount',
    'AssertionError: expected 80.99 to be 81 // Object.is equality',
    '',
    '- Expected  81',
    '+ Received  80.99',
    '',
    ' ❯ test/cart.test.ts:34:42',
    '',
    ' Test Files  1 failed | 6 passed (7)',
    '      Tests  1 failed | 41 passed (42)',
  ].join('\n');
  return { tool: 'run_tests', input: { pattern: 'cart' }, result, isError: true, summary: 'run_tests cart: 1 of 42 failed (cart discount rounding): run the tests again to see the output' };
}

function toolUseId(step: number, index: number): string {
  return `toolu_01${String(step).padStart(4, '0')}${String.fromCharCode(65 + index)}x9Qw7LmZ`;
}

interface Step {
  assistant: ContentBlockParam[];
  results: WorkLogEntry[];
}

function makeStep(step: number, calls: Call[], text = `Let me look at how the discount is computed (step ${step}).`): Step {
  const uses: ToolUseBlockParam[] = calls.map((call, i) => ({ type: 'tool_use', id: toolUseId(step, i), name: call.tool, input: call.input }));
  return {
    assistant: [{ type: 'text', text }, ...uses],
    results: calls.map((call, i) => ({
      step,
      toolUseId: toolUseId(step, i),
      tool: call.tool,
      input: call.input,
      result: call.result,
      isError: call.isError ?? false,
      summary: call.summary,
    })),
  };
}

const paths = ['src/cart.ts', 'src/checkout.ts', 'src/money.ts', 'src/inventory.ts', 'test/cart.test.ts'];

/** Step `n` of a scripted session: one, two or three calls (parallel reads every third step). */
function scriptedStep(n: number): Step {
  const path = paths[n % paths.length] as string;
  if (n % 3 === 2) return makeStep(n, [readFile(path, 1, 60), readFile(paths[(n + 1) % paths.length] as string, 20, 90), grep('times')]);
  if (n % 3 === 1) return makeStep(n, [readFile(path, 1, 80), runTests()]);
  return makeStep(n, [readFile(path, 10, 70)]);
}

function build(options: WorkLogOptions, steps: number, first = 0): WorkLog {
  const log = new WorkLog(options);
  for (let n = first; n < first + steps; n++) add(log, scriptedStep(n));
  return log;
}

function add(log: WorkLog, step: Step): void {
  log.addStep(step.assistant, step.results);
}

function toolUses(message: MessageParam | undefined): ToolUseBlockParam[] {
  if (message === undefined || typeof message.content === 'string') return [];
  return message.content.flatMap((block) => (block.type === 'tool_use' ? [block] : []));
}

function toolResults(message: MessageParam | undefined): ToolResultBlockParam[] {
  if (message === undefined || typeof message.content === 'string') return [];
  return message.content.flatMap((block) => (block.type === 'tool_result' ? [block] : []));
}

function isElided(message: MessageParam | undefined): boolean {
  return toolResults(message).some((block) => typeof block.content === 'string' && block.content.startsWith('[elided] '));
}

/** Roles alternate from assistant, and each user message answers exactly the tool_use blocks before it, in order. */
function expectWellFormed(messages: MessageParam[]): void {
  expect(messages.length % 2).toBe(0);
  messages.forEach((message, i) => {
    expect(message.role).toBe(i % 2 === 0 ? 'assistant' : 'user');
    if (i % 2 === 1) {
      const asked = toolUses(messages[i - 1]).map((block) => block.id);
      expect(asked.length).toBeGreaterThan(0);
      expect(toolResults(message).map((block) => block.tool_use_id)).toEqual(asked);
      expect(toolResults(message)).toHaveLength((message.content as unknown[]).length);
    }
  });
  // And the fake API, which checks what the real one does, accepts it after the first sight of the document.
  const body = { model: 'claude-sonnet-5-5', max_tokens: 1024, messages: [firstUserMessage, ...messages] };
  const checked = validateMessageRequest(body, false);
  expect(checked.ok ? 'ok' : checked.message).toBe('ok');
}

const firstUserMessage: MessageParam = {
  role: 'user',
  content: [{ type: 'text', text: `Fix the rounding of discounts in the cart.\n\n${numberedLines('src/cart.ts', 1, 29)}` }],
};

function tokensOf(messages: MessageParam[]): number {
  return Math.ceil(JSON.stringify(messages).length / 4);
}

// ---------------------------------------------------------------------------

describe('WorkLog', () => {
  it('alternates assistant/user and answers every tool_use in the next user message, ids matching', () => {
    const log = build({ budgetTokens: 1_000_000, keepRecentSteps: 2 }, 9);
    const messages = log.messages();
    expect(log.stepCount).toBe(9);
    expect(messages).toHaveLength(18);
    expectWellFormed(messages);
    expect(log.compressedSteps).toBe(0);
    expect(log.estimatedTokens).toBe(tokensOf(messages));
  });

  it('answers parallel tool calls in tool_use order, whatever order the results came in, and keeps is_error', () => {
    const log = new WorkLog({ budgetTokens: 1_000_000, keepRecentSteps: 1 });
    const step = makeStep(0, [readFile('src/cart.ts'), runTests(), grep('times')], 'Three things at once: the cart, the failing test, and every use of times().');
    log.addStep(step.assistant, [...step.results].reverse());
    const [assistant, user] = log.messages();
    expect(toolUses(assistant).map((block) => block.name)).toEqual(['read_file', 'run_tests', 'grep']);
    const results = toolResults(user);
    expect(results.map((block) => block.tool_use_id)).toEqual([toolUseId(0, 0), toolUseId(0, 1), toolUseId(0, 2)]);
    expect(results.map((block) => block.is_error === true)).toEqual([false, true, false]);
    expect(results[0]?.content).toBe(numberedLines('src/cart.ts', 1, 80));
  });

  it('keeps the estimate equal to ceil(JSON length / 4) and within budget, compressing oldest first', () => {
    const options = { budgetTokens: 12_000, keepRecentSteps: 2 };
    const log = new WorkLog(options);
    for (let n = 0; n < 30; n++) {
      add(log, scriptedStep(n));
      const messages = log.messages();
      expect(log.estimatedTokens).toBe(tokensOf(messages));
      expect(log.estimatedTokens).toBeLessThanOrEqual(options.budgetTokens);
      expect(log.overBudget).toBe(false);
      expectWellFormed(messages);
      // Compressed steps are exactly the oldest ones: a run from the start, then verbatim.
      const elided = Array.from({ length: log.stepCount }, (_, step) => isElided(messages[2 * step + 1]));
      const firstVerbatim = elided.indexOf(false);
      expect(elided.slice(firstVerbatim).every((e) => !e)).toBe(true);
    }
    expect(log.compressedSteps).toBeGreaterThan(20);
  });

  it('keeps the last keepRecentSteps steps verbatim even over budget, and says so', () => {
    const log = build({ budgetTokens: 500, keepRecentSteps: 3 }, 12);
    const messages = log.messages();
    for (let step = 9; step < 12; step++) {
      const original = scriptedStep(step);
      expect(messages[2 * step]).toEqual({ role: 'assistant', content: original.assistant });
      expect(toolResults(messages[2 * step + 1]).map((block) => block.content)).toEqual(original.results.map((entry) => entry.result));
    }
    for (let step = 0; step < 9; step++) expect(isElided(messages[2 * step + 1])).toBe(true);
    expect(log.compressedSteps).toBe(9);
    expect(log.overBudget).toBe(true);
    expectWellFormed(messages);
  });

  it('replaces a result by "[elided] summary", keeps one shorter than its summary, and trims long text to its first line', () => {
    const long = `The discount is applied to the subtotal, not per line.\n${'Checkout rounds each line to cents, so the two disagree by a cent. '.repeat(30)}`;
    const tiny: Call = { tool: 'read_file', input: { path: 'src/empty.ts' }, result: '1  export {};', summary: 'read_file src/empty.ts lines 1–1 (13 chars): call read_file again to see it' };
    const log = new WorkLog({ budgetTokens: 1, keepRecentSteps: 1 });
    add(log, makeStep(0, [readFile('src/cart.ts'), tiny, runTests()], long));
    add(log, makeStep(1, [readFile('src/money.ts')], long));
    const [assistant, user, recentAssistant] = log.messages();

    const [cart, empty, tests] = toolResults(user);
    expect(cart?.content).toBe(`[elided] ${readFile('src/cart.ts').summary}`);
    expect(empty?.content).toBe('1  export {};');
    expect(tests).toMatchObject({ content: `[elided] ${runTests().summary}`, is_error: true });

    const text = (assistant?.content as ContentBlockParam[])[0] as TextBlockParam;
    expect(text.text).toMatch(/^The discount is applied to the subtotal, not per line\. \[… \d+ more chars trimmed\]$/);
    expect(((recentAssistant?.content as ContentBlockParam[])[0] as TextBlockParam).text).toBe(long);
  });

  it('never changes the bytes of frozen steps while later steps are added and compressed', () => {
    const log = build({ budgetTokens: 7_000, keepRecentSteps: 2 }, 5);
    expect(log.compressedSteps).toBe(0);
    log.freezeThrough();
    const frozen = JSON.stringify(log.messages().slice(0, 10));

    for (let n = 5; n < 40; n++) {
      add(log, scriptedStep(n));
      const messages = log.messages();
      expect(JSON.stringify(messages.slice(0, 10))).toBe(frozen);
      expectWellFormed(messages);
    }
    const messages = log.messages();
    // Compression went on after the frozen prefix: oldest unfrozen first, recent ones verbatim.
    expect(isElided(messages[11])).toBe(true);
    expect(isElided(messages[77])).toBe(false);
    expect(isElided(messages[79])).toBe(false);
    expect(log.compressedSteps).toBeGreaterThan(20);
    expect(log.frozenSteps).toBe(5);
  });

  it('freezes a given number of steps, never unfreezes, and refuses a count it does not have', () => {
    const log = build({ budgetTokens: 1_000, keepRecentSteps: 0 }, 0);
    add(log, scriptedStep(0));
    log.freezeThrough(0);
    add(log, scriptedStep(1));
    expect(log.compressedSteps).toBe(2);

    const frozenLog = new WorkLog({ budgetTokens: 1_000, keepRecentSteps: 0 });
    add(frozenLog, makeStep(0, [grep('times')]));
    frozenLog.freezeThrough(1);
    frozenLog.freezeThrough(0);
    expect(frozenLog.frozenSteps).toBe(1);
    add(frozenLog, scriptedStep(1));
    expect(isElided(frozenLog.messages()[1])).toBe(false);
    expect(isElided(frozenLog.messages()[3])).toBe(true);
    expect(() => frozenLog.freezeThrough(3)).toThrow(RangeError);
    expect(() => frozenLog.freezeThrough(1.5)).toThrow(RangeError);
  });

  it('rebase compresses frozen steps, oldest first, down to its target, and reports whether anything changed', () => {
    const options = { budgetTokens: 12_000, keepRecentSteps: 2, rebaseTarget: 0.5 };
    const log = new WorkLog(options);
    // The usual loop: freeze after every request, so only rebase can compress.
    for (let n = 0; n < 12; n++) {
      add(log, scriptedStep(n));
      log.freezeThrough();
    }
    expect(log.compressedSteps).toBe(0);
    expect(log.overBudget).toBe(true);

    expect(log.rebase()).toBe(true);
    const messages = log.messages();
    expect(log.estimatedTokens).toBeLessThanOrEqual(options.budgetTokens * 0.5);
    expect(log.frozenSteps).toBe(0);
    const elided = Array.from({ length: 12 }, (_, step) => isElided(messages[2 * step + 1]));
    const firstVerbatim = elided.indexOf(false);
    expect(firstVerbatim).toBeGreaterThan(0);
    expect(firstVerbatim).toBeLessThan(10);
    expect(elided.slice(firstVerbatim).every((e) => !e)).toBe(true);
    expectWellFormed(messages);

    expect(log.rebase()).toBe(false);
    expect(JSON.stringify(log.messages())).toBe(JSON.stringify(messages));
  });

  it('rebase cannot touch the recent steps: over budget stays over budget', () => {
    const log = build({ budgetTokens: 200, keepRecentSteps: 2 }, 2);
    log.freezeThrough();
    expect(log.overBudget).toBe(true);
    expect(log.rebase()).toBe(false);
    expect(log.overBudget).toBe(true);
    expect(log.compressedSteps).toBe(0);
  });

  it('is deterministic: the same calls give byte-identical messages, and its copies do not follow the caller’s objects', () => {
    const run = (): WorkLog => {
      const log = new WorkLog({ budgetTokens: 5_000, keepRecentSteps: 2 });
      for (let n = 0; n < 25; n++) {
        add(log, scriptedStep(n));
        if (n % 4 === 0) log.freezeThrough();
        if (log.overBudget) log.rebase();
      }
      return log;
    };
    const a = run();
    const b = run();
    expect(JSON.stringify(a.messages())).toBe(JSON.stringify(b.messages()));
    expect(JSON.stringify(a.messages())).toBe(JSON.stringify(a.messages()));
    expect(a.estimatedTokens).toBe(b.estimatedTokens);

    const log = new WorkLog({ budgetTokens: 1_000_000, keepRecentSteps: 1 });
    const step = scriptedStep(0);
    add(log, step);
    const before = JSON.stringify(log.messages());
    ((step.assistant[1] as ToolUseBlockParam).input as Record<string, unknown>)['path'] = 'src/other.ts';
    (step.assistant[0] as TextBlockParam).text = 'changed';
    expect(JSON.stringify(log.messages())).toBe(before);
    // The messages are shared and frozen; a breakpoint goes on a copy.
    const messages = log.messages();
    expect(() => Object.assign(messages[1] as MessageParam, { role: 'assistant' })).toThrow(TypeError);
    const marked = withCacheBreakpoints(messages, true);
    expect(toolResults(marked[1])[0]?.cache_control).toEqual({ type: 'ephemeral' });
    expect(JSON.stringify(log.messages())).toBe(before);
  });

  it('refuses a step the API would refuse', () => {
    const log = new WorkLog({ budgetTokens: 1_000, keepRecentSteps: 1 });
    const step = makeStep(0, [readFile('src/cart.ts'), grep('times')]);
    expect(() => log.addStep(step.assistant, step.results.slice(0, 1))).toThrow(/has no result/);
    expect(() => log.addStep(step.assistant.slice(0, 2), step.results)).toThrow(/no tool_use of this step/);
    expect(() => log.addStep([{ type: 'text', text: 'Done: the discount now rounds per line.' }], [])).toThrow(/at least one tool_use/);
    expect(() => log.addStep(step.assistant, [...step.results, step.results[0] as WorkLogEntry])).toThrow(/two results/);
    expect(log.stepCount).toBe(0);
    expect(() => new WorkLog({ budgetTokens: 0, keepRecentSteps: 1 })).toThrow(RangeError);
    expect(() => new WorkLog({ budgetTokens: 1_000, keepRecentSteps: -1 })).toThrow(RangeError);
  });

  it('lets the prompt cache read every frozen prefix back; only a rebase rewrites it', () => {
    // The fake API's cache accounting: a prefix seen before (cache_control left out) is a read.
    let now = 0;
    const cache = new PromptCache({ minCacheableTokens: 0, maxEntries: 1_000, now: () => now });
    const log = new WorkLog({ budgetTokens: 20_000, keepRecentSteps: 2 });
    const system = [{ type: 'text', text: 'You are efrit, working in a TypeScript repository.', cache_control: { type: 'ephemeral' } }];
    let previousTotal = 0;
    let rebases = 0;
    for (let n = 0; n < 40; n++) {
      add(log, scriptedStep(n));
      const rebased = log.overBudget && log.rebase();
      if (rebased) rebases++;
      const body = { model: 'claude-sonnet-5-5', max_tokens: 1024, system, messages: withCacheBreakpoints([firstUserMessage, ...log.messages()], true) };
      const checked = validateMessageRequest(body, false);
      if (!checked.ok) throw new Error(checked.message);
      const usage = cache.account(checked.prompt);
      log.freezeThrough();
      now += 1_000;
      if (n > 0 && !rebased) expect(usage.cache_read_input_tokens).toBe(previousTotal);
      if (rebased) expect(usage.cache_read_input_tokens).toBeLessThan(previousTotal);
      previousTotal = checked.prompt.totalTokens;
    }
    expect(rebases).toBeGreaterThan(0);
    // Rebasing to half the budget buys room for several steps each time.
    expect(rebases).toBeLessThanOrEqual(5);
  });
});

describe('WorkLog, in detail', () => {
  /** A read whose result is shorter than its summary: compressing it would cost information and save nothing. */
  const tinyRead = (path: string): Call => ({ tool: 'read_file', input: { path }, result: '1  export {};', summary: `read_file ${path} lines 1–1 (13 chars): call read_file again to see it` });
  const stepOf = (n: number, calls: Call[], text?: string) => makeStep(n, calls, text);

  it('refuses options it cannot work with, saying which and why', () => {
    const refusal = (options: WorkLogOptions, message: string) => {
      expect(() => new WorkLog(options)).toThrow(RangeError);
      expect(() => new WorkLog(options)).toThrow(expect.objectContaining({ message }));
    };
    for (const budgetTokens of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) refusal({ budgetTokens, keepRecentSteps: 1 }, `budgetTokens must be a positive number, got ${budgetTokens}`);
    for (const keepRecentSteps of [-1, 1.5]) refusal({ budgetTokens: 1_000, keepRecentSteps }, `keepRecentSteps must be a whole number ≥ 0, got ${keepRecentSteps}`);
    for (const rebaseTarget of [0, -0.25, 1.01, Number.NaN]) refusal({ budgetTokens: 1_000, keepRecentSteps: 1, rebaseTarget }, `rebaseTarget must be in (0, 1], got ${rebaseTarget}`);
    for (const rebaseTarget of [1, 0.01]) expect(new WorkLog({ budgetTokens: 1_000, keepRecentSteps: 1, rebaseTarget }).stepCount).toBe(0);
  });

  it('estimates an empty log as the JSON of no messages', () => {
    const log = new WorkLog({ budgetTokens: 1, keepRecentSteps: 0 });
    expect(log.estimatedTokens).toBe(tokensOf([]));
    expect(log.overBudget).toBe(false);
    expect(log.messages()).toEqual([]);
  });

  it('is within budget at exactly the budget: nothing is compressed, nothing is over', () => {
    const exact = build({ budgetTokens: 1_000_000, keepRecentSteps: 0 }, 4).estimatedTokens;
    const atBudget = build({ budgetTokens: exact, keepRecentSteps: 0 }, 4);
    expect(atBudget.estimatedTokens).toBe(exact);
    expect(atBudget.compressedSteps).toBe(0);
    expect(atBudget.overBudget).toBe(false);
    const oneUnder = build({ budgetTokens: exact - 1, keepRecentSteps: 0 }, 4);
    expect(oneUnder.compressedSteps).toBeGreaterThan(0);
  });

  it('refuses a result from another tool than the tool_use it answers', () => {
    const log = new WorkLog({ budgetTokens: 1_000, keepRecentSteps: 1 });
    const step = stepOf(0, [readFile('src/cart.ts')]);
    const fromGrep = { ...(step.results[0] as WorkLogEntry), tool: 'grep' };
    expect(() => log.addStep(step.assistant, [fromGrep])).toThrow(TypeError);
    expect(() => log.addStep(step.assistant, [fromGrep])).toThrow(expect.objectContaining({ message: `the result for tool_use ${toolUseId(0, 0)} is from grep, not read_file` }));
    expect(log.stepCount).toBe(0);
  });

  it('hands out a new array each time; changing it changes nothing in the log', () => {
    const log = build({ budgetTokens: 1_000_000, keepRecentSteps: 1 }, 2);
    const handed = log.messages();
    handed.pop();
    handed.push({ role: 'user', content: 'injected' });
    expect(log.messages()).toHaveLength(4);
    expect(JSON.stringify(log.messages())).not.toContain('injected');
  });

  it('refuses to freeze a negative count, naming the count and the steps it has', () => {
    const log = build({ budgetTokens: 1_000_000, keepRecentSteps: 1 }, 2);
    expect(() => log.freezeThrough(-1)).toThrow(RangeError);
    expect(() => log.freezeThrough(-1)).toThrow(expect.objectContaining({ message: 'freezeThrough(-1): the log has 2 steps' }));
    expect(() => log.freezeThrough(3)).toThrow(expect.objectContaining({ message: 'freezeThrough(3): the log has 2 steps' }));
  });

  it('compresses after the frozen steps only, even when freezing follows steps that were not compressed', () => {
    const log = new WorkLog({ budgetTokens: 1_000_000, keepRecentSteps: 0 });
    for (let n = 0; n < 3; n++) add(log, scriptedStep(n));
    log.freezeThrough(2);
    const frozen = JSON.stringify(log.messages().slice(0, 4));
    // The same steps with a budget they meet exactly, so none was compressed; one more step goes over it.
    const squeezed = new WorkLog({ budgetTokens: log.estimatedTokens, keepRecentSteps: 0 });
    for (let n = 0; n < 3; n++) add(squeezed, scriptedStep(n));
    squeezed.freezeThrough(2);
    add(squeezed, scriptedStep(3));
    expect(JSON.stringify(squeezed.messages().slice(0, 4))).toBe(frozen);
    expect(isElided(squeezed.messages()[5])).toBe(true);
  });

  it('says a rebase changed nothing when the steps it may compress cannot shrink or are compressed already', () => {
    const log = new WorkLog({ budgetTokens: 1, keepRecentSteps: 1, rebaseTarget: 0.01 });
    for (let n = 0; n < 3; n++) add(log, stepOf(n, [tinyRead(`src/empty-${n}.ts`)], 'Short.'));
    log.freezeThrough();
    for (let n = 3; n < 6; n++) add(log, stepOf(n, [readFile(paths[n % paths.length] as string)]));
    expect(log.compressedSteps).toBe(2);
    const before = JSON.stringify(log.messages());
    expect(log.rebase()).toBe(false);
    expect(log.compressedSteps).toBe(2);
    expect(JSON.stringify(log.messages())).toBe(before);
  });

  it('does not count or rebuild a step whose compression changes nothing', () => {
    const log = new WorkLog({ budgetTokens: 1, keepRecentSteps: 0 });
    add(log, stepOf(0, [tinyRead('src/empty.ts')], 'Short.'));
    const before = log.messages();
    add(log, stepOf(1, [tinyRead('src/other.ts')], 'Short.'));
    expect(log.compressedSteps).toBe(0);
    expect(log.messages()[0]).toBe(before[0]);
    expect(log.messages()[1]).toBe(before[1]);
  });

  it('elides a result only when that is shorter, keeps is_error only on errors, and makes the summary one line', () => {
    const summary = 'read_file src/a.ts lines 1–3 (12 chars): call read_file again to see it';
    const elidedLength = `[elided] ${summary}`.length;
    const sameLength: Call = { tool: 'read_file', input: { path: 'src/a.ts' }, result: 'x'.repeat(elidedLength), summary };
    const oneLonger: Call = { tool: 'read_file', input: { path: 'src/b.ts' }, result: 'y'.repeat(elidedLength + 1), summary };
    const multiline: Call = { tool: 'grep', input: { pattern: 'times' }, result: 'z'.repeat(400), summary: '  grep "times"\r\n\n   in src (12 matches):\ncall grep again  ' };
    const log = new WorkLog({ budgetTokens: 1, keepRecentSteps: 1 });
    add(log, stepOf(0, [sameLength, oneLonger, multiline], 'Short.'));
    add(log, stepOf(1, [tinyRead('src/empty.ts')], 'Short.'));
    expect(toolResults(log.messages()[1])).toEqual([
      { type: 'tool_result', tool_use_id: toolUseId(0, 0), content: 'x'.repeat(elidedLength) },
      { type: 'tool_result', tool_use_id: toolUseId(0, 1), content: `[elided] ${summary}` },
      { type: 'tool_result', tool_use_id: toolUseId(0, 2), content: '[elided] grep "times" in src (12 matches): call grep again' },
    ]);
    expect(log.estimatedTokens).toBe(tokensOf(log.messages()));
  });

  it('trims assistant text longer than 1,000 characters to its first line, up to 200 characters, unless it carries citations', () => {
    const exactly = `${'a'.repeat(999)}.`;
    const longer = `\n\n  The discount rounds per line.   \n${'Details follow. '.repeat(70)}`;
    const oneLine = 'b'.repeat(1_500);
    const cited = { type: 'text' as const, text: 'c'.repeat(1_500), citations: [{ type: 'char_location' as const, cited_text: 'c', document_index: 0, document_title: null, start_char_index: 0, end_char_index: 1 }] };
    const log = new WorkLog({ budgetTokens: 1, keepRecentSteps: 1 });
    for (const [n, text] of [exactly, longer, oneLine].entries()) add(log, stepOf(n, [tinyRead(`src/t${n}.ts`)], text));
    const citedStep = stepOf(3, [tinyRead('src/t3.ts')]);
    log.addStep([cited, ...citedStep.assistant.slice(1)], citedStep.results);
    add(log, stepOf(4, [tinyRead('src/t4.ts')], 'Recent.'));
    const texts = [0, 1, 2, 3].map((step) => (log.messages()[2 * step]?.content as ContentBlockParam[])[0]);
    expect(texts[0]).toEqual({ type: 'text', text: exactly });
    expect(texts[1]).toEqual({ type: 'text', text: `The discount rounds per line. [… ${longer.length - 'The discount rounds per line.'.length} more chars trimmed]` });
    expect(texts[2]).toEqual({ type: 'text', text: `${'b'.repeat(200)} [… 1300 more chars trimmed]` });
    expect(texts[3]).toEqual(cited);
    expect(log.messages()[2]).toMatchObject({ role: 'assistant' });
    expect(log.compressedSteps).toBe(2);
    expect(log.estimatedTokens).toBe(tokensOf(log.messages()));
  });

  it('rebuilds only the message whose bytes changed: the other of the step stays the same object', () => {
    const log = new WorkLog({ budgetTokens: 1, keepRecentSteps: 1 });
    add(log, stepOf(0, [tinyRead('src/empty.ts')], 'x'.repeat(1_200)));
    const first = log.messages();
    // Step 0 is compressed now: only its text shrinks.
    add(log, stepOf(1, [readFile('src/cart.ts')], 'Short.'));
    const second = log.messages();
    expect(second[0]).not.toBe(first[0]);
    expect(second[1]).toBe(first[1]);
    // Step 1 is compressed now: only its result shrinks.
    add(log, stepOf(2, [tinyRead('src/last.ts')], 'Short.'));
    const third = log.messages();
    expect(third[2]).toBe(second[2]);
    expect(third[3]).not.toBe(second[3]);
    expect(log.compressedSteps).toBe(2);
  });

  it('freezes what it keeps all the way down, so nothing nested can be changed behind its back', () => {
    const log = new WorkLog({ budgetTokens: 1_000_000, keepRecentSteps: 1 });
    add(log, stepOf(0, [{ ...readFile('src/cart.ts'), input: { path: 'src/cart.ts', range: { start: 1, end: 80 }, flags: ['a'] } }]));
    const [assistant] = log.messages();
    const content = assistant?.content as ContentBlockParam[];
    const use = content[1] as ToolUseBlockParam;
    expect(() => content.push({ type: 'text', text: 'more' })).toThrow(TypeError);
    expect(() => Object.assign(use.input as object, { path: '../secret' })).toThrow(TypeError);
    expect(() => Object.assign((use.input as { range: object }).range, { end: 9_999 })).toThrow(TypeError);
    expect(() => (use.input as { flags: string[] }).flags.push('b')).toThrow(TypeError);
  });
});
