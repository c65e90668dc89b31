/**
 * The history of an efrit/do tool loop, as the messages of the next request,
 * kept within a token budget without breaking the prompt cache.
 *
 * The request is a stable prefix (system, tools, the first sight of the
 * document) followed by this log: per step, an assistant turn with its
 * `tool_use` blocks and a user turn answering every one of them. The log grows
 * each step; older tool results are replaced by their one-line summary, oldest
 * first, until it fits. The API's cache serves a prefix only if it is
 * byte-identical to what it saw, so steps a breakpoint covered are frozen
 * (`freezeThrough`) and compression leaves them alone until the caller
 * explicitly re-bases (`rebase`) and accepts one cache rewrite.
 *
 * Why it is cheap per turn (efrit's took ~5–6 ms for 10–1,000 entries):
 * - every step's two messages are built once and serialized once, when the
 *   step is added; their JSON length is cached, so the budget is a running sum,
 *   never a re-serialization of the history;
 * - compression is decided when steps are added or on `rebase`, walking a
 *   cursor forward (a step is compressed at most once, never restored), so it
 *   costs O(new steps) amortized; `messages()` only copies an array of shared
 *   message objects;
 * - those objects are deep-frozen copies of what the caller passed: a frozen
 *   step's bytes cannot change behind the log's back, and a caller that wants
 *   a breakpoint on one copies it (as `withCacheBreakpoints` in
 *   model/prompts.ts does) instead of mutating it.
 */
import type { ContentBlockParam, MessageParam, TextBlockParam, ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages/messages.js';

export interface WorkLogEntry {
  step: number;
  toolUseId: string;
  tool: string;
  input: unknown;
  result: string;
  isError: boolean;
  /** one line: what the result held and how to get it again, e.g. "read_file src/cart.ts lines 1–80 (2,345 chars): call read_file again to see it" */
  summary: string;
}

export interface WorkLogOptions {
  /** Token budget for the history part (tokens estimated as ceil(chars / 4) of its JSON). */
  budgetTokens: number;
  /** Steps always kept verbatim, counted from the newest. */
  keepRecentSteps: number;
  /**
   * What `rebase()` compresses down to, as a share of `budgetTokens`. Below 1
   * on purpose: a rebase moves the breakpoint and rewrites the cache from the
   * first changed step, so it should buy room for many steps, not one.
   * @default 0.5
   */
  rebaseTarget?: number;
}

/** Assistant text longer than this is trimmed to its first line when its step is compressed. */
const LONG_TEXT_CHARS = 1_000;
/** The most of that first line kept. */
const FIRST_LINE_CHARS = 200;

/** `{"role":"assistant","content":` + content JSON + `}`: the wrapper's length, to size a message from its content's JSON. */
const ASSISTANT_WRAPPER_CHARS = JSON.stringify({ role: 'assistant', content: 0 }).length - 1;

interface StepRecord {
  assistant: MessageParam;
  user: MessageParam;
  /** JSON.stringify lengths of the two messages, cached. */
  assistantChars: number;
  userChars: number;
  /** The verbatim results, parallel to the user message's blocks; dropped once the step is compressed. */
  results: readonly ResultRecord[] | undefined;
}

interface ResultRecord {
  result: string;
  summary: string;
}

export class WorkLog {
  private readonly budgetTokens: number;
  private readonly keepRecentSteps: number;
  private readonly rebaseTargetTokens: number;
  private readonly steps: StepRecord[] = [];
  /** assistant, user, assistant, user…: what `messages()` copies. */
  private readonly list: MessageParam[] = [];
  /** Sum of both messages' JSON lengths over all steps. */
  private contentChars = 0;
  private frozen = 0;
  /** Steps in [frozen, cursor) have all been through compression. */
  private cursor = 0;
  /** Every step below this has been through compression (the only place `rebase` may start). */
  private lowestUncompressed = 0;
  private changedSteps = 0;

  constructor(options: WorkLogOptions) {
    const { budgetTokens, keepRecentSteps, rebaseTarget = 0.5 } = options;
    if (!(budgetTokens > 0) || !Number.isFinite(budgetTokens)) throw new RangeError(`budgetTokens must be a positive number, got ${budgetTokens}`);
    if (!Number.isInteger(keepRecentSteps) || keepRecentSteps < 0) throw new RangeError(`keepRecentSteps must be a whole number ≥ 0, got ${keepRecentSteps}`);
    if (!(rebaseTarget > 0 && rebaseTarget <= 1)) throw new RangeError(`rebaseTarget must be in (0, 1], got ${rebaseTarget}`);
    this.budgetTokens = budgetTokens;
    this.keepRecentSteps = keepRecentSteps;
    this.rebaseTargetTokens = budgetTokens * rebaseTarget;
  }

  get stepCount(): number {
    return this.steps.length;
  }

  /** ceil(chars / 4) of `JSON.stringify(this.messages())`, kept as a running sum. */
  get estimatedTokens(): number {
    // `[` and `]`, the messages, and a comma between each two.
    const chars = 2 + this.contentChars + Math.max(0, this.list.length - 1);
    return Math.ceil(chars / 4);
  }

  /** Steps whose bytes compression changed. */
  get compressedSteps(): number {
    return this.changedSteps;
  }

  /** Steps covered by a cache breakpoint: never compressed until `rebase()`. */
  get frozenSteps(): number {
    return this.frozen;
  }

  /**
   * Over budget with everything it may compress compressed: the frozen steps
   * (until `rebase()`) and the recent ones are what is left. The structure is
   * still whole; the caller decides (rebase, or end the loop).
   */
  get overBudget(): boolean {
    return this.estimatedTokens > this.budgetTokens;
  }

  /**
   * Records one model step: its assistant content (text + tool_use blocks) and
   * the results of its tool calls, in any order (they are sent in tool_use
   * order). Every tool_use must have exactly one result and every result a
   * tool_use, since the API refuses anything else. Both are copied: changing
   * them afterwards does not change the log. Then compresses non-frozen,
   * non-recent steps, oldest first, while over budget.
   */
  addStep(assistant: ContentBlockParam[], results: WorkLogEntry[]): void {
    const contentJson = JSON.stringify(assistant);
    const content = deepFreeze(JSON.parse(contentJson) as ContentBlockParam[]);
    const byId = new Map<string, WorkLogEntry>();
    for (const entry of results) {
      if (byId.has(entry.toolUseId)) throw new TypeError(`two results for tool_use ${entry.toolUseId}`);
      byId.set(entry.toolUseId, entry);
    }
    const blocks: ToolResultBlockParam[] = [];
    const records: ResultRecord[] = [];
    for (const block of content) {
      if (block.type !== 'tool_use') continue;
      const entry = byId.get(block.id);
      if (entry === undefined) throw new TypeError(`tool_use ${block.id} (${block.name}) has no result: the API requires every tool_use to be answered`);
      if (entry.tool !== block.name) throw new TypeError(`the result for tool_use ${block.id} is from ${entry.tool}, not ${block.name}`);
      byId.delete(block.id);
      blocks.push(Object.freeze(toolResult(block.id, entry.result, entry.isError)));
      records.push({ result: entry.result, summary: entry.summary });
    }
    if (blocks.length === 0) throw new TypeError('a step needs at least one tool_use: a turn without tool calls ends the loop and is not logged');
    const [stray] = byId.keys();
    if (stray !== undefined) throw new TypeError(`result for ${stray}, which is no tool_use of this step`);

    const assistantMessage: MessageParam = Object.freeze({ role: 'assistant', content });
    const userMessage: MessageParam = Object.freeze({ role: 'user', content: Object.freeze(blocks) as ToolResultBlockParam[] });
    const record: StepRecord = {
      assistant: assistantMessage,
      user: userMessage,
      assistantChars: ASSISTANT_WRAPPER_CHARS + contentJson.length,
      userChars: JSON.stringify(userMessage).length,
      results: records,
    };
    this.steps.push(record);
    this.list.push(assistantMessage, userMessage);
    this.contentChars += record.assistantChars + record.userChars;

    // The cursor never trails the frozen steps (freezeThrough moves it past them).
    this.cursor = this.compressFrom(this.cursor, this.budgetTokens).stoppedAt;
  }

  /**
   * The messages for the next request: alternating assistant/user, each user
   * message answering all tool_use blocks of the assistant message before it,
   * in their order. A new array each call; the messages in it are shared and
   * frozen (mark a breakpoint on a copy). Deterministic: the same
   * calls give byte-identical messages; calling it changes nothing.
   */
  messages(): MessageParam[] {
    return this.list.slice();
  }

  /**
   * Marks the first `stepCount` steps (all of them by default) as covered by a
   * cache breakpoint: their bytes, as `messages()` returns them now, never
   * change again until `rebase()`. Call it after sending, before the next
   * `addStep` (which may compress steps that are not frozen). Never unfreezes.
   */
  freezeThrough(stepCount: number = this.steps.length): void {
    if (!Number.isInteger(stepCount) || stepCount < 0 || stepCount > this.steps.length) {
      throw new RangeError(`freezeThrough(${stepCount}): the log has ${this.steps.length} steps`);
    }
    this.frozen = Math.max(this.frozen, stepCount);
    this.cursor = Math.max(this.cursor, this.frozen);
  }

  /**
   * Re-bases: unfreezes everything and compresses, oldest first (frozen steps
   * included, recent ones still not), down to `rebaseTarget` of the budget.
   * The caller moves its breakpoint: the cache is rewritten from the first
   * changed step on, so call it when `overBudget` says so, or when the cache
   * has gone cold anyway. Returns true if any bytes changed.
   */
  rebase(): boolean {
    this.frozen = 0;
    const { stoppedAt, changed } = this.compressFrom(this.lowestUncompressed, this.rebaseTargetTokens);
    this.cursor = stoppedAt;
    return changed;
  }

  /**
   * Compresses steps from `start` on, oldest first, skipping those done
   * already, until the estimate is within `targetTokens` or the next step is a
   * recent one. Returns where it stopped: every step in [start, stoppedAt) has
   * then been through compression.
   */
  private compressFrom(start: number, targetTokens: number): { stoppedAt: number; changed: boolean } {
    const limit = this.steps.length - this.keepRecentSteps;
    let index = start;
    let changed = false;
    while (index < limit && this.estimatedTokens > targetTokens) {
      if (this.compressStep(index)) changed = true;
      index++;
    }
    while (this.lowestUncompressed < this.steps.length && (this.steps[this.lowestUncompressed] as StepRecord).results === undefined) this.lowestUncompressed++;
    return { stoppedAt: index, changed };
  }

  /** Replaces a step's tool results by their summaries and trims its long text; true if its bytes changed. */
  private compressStep(index: number): boolean {
    const step = this.steps[index] as StepRecord;
    const results = step.results;
    if (results === undefined) return false;
    step.results = undefined;

    const verbatimBlocks = step.user.content as ToolResultBlockParam[];
    let userChanged = false;
    const blocks = verbatimBlocks.map((block, i) => {
      const elided = `[elided] ${oneLine((results[i] as ResultRecord).summary)}`;
      // A result shorter than its summary stays: eliding it would cost information and save nothing.
      if (elided.length >= (results[i] as ResultRecord).result.length) return block;
      userChanged = true;
      return Object.freeze(toolResult(block.tool_use_id, elided, block.is_error === true));
    });

    let assistantChanged = false;
    const content = (step.assistant.content as ContentBlockParam[]).map((block) => {
      if (block.type !== 'text' || block.text.length <= LONG_TEXT_CHARS || (block.citations ?? []).length > 0) return block;
      assistantChanged = true;
      return Object.freeze(trimmedText(block));
    });

    if (!userChanged && !assistantChanged) return false;
    if (assistantChanged) {
      step.assistant = Object.freeze({ role: 'assistant', content: Object.freeze(content) as ContentBlockParam[] });
      const chars = JSON.stringify(step.assistant).length;
      this.contentChars += chars - step.assistantChars;
      step.assistantChars = chars;
      this.list[2 * index] = step.assistant;
    }
    if (userChanged) {
      step.user = Object.freeze({ role: 'user', content: Object.freeze(blocks) as ToolResultBlockParam[] });
      const chars = JSON.stringify(step.user).length;
      this.contentChars += chars - step.userChars;
      step.userChars = chars;
      this.list[2 * index + 1] = step.user;
    }
    this.changedSteps++;
    return true;
  }
}

function toolResult(toolUseId: string, content: string, isError: boolean): ToolResultBlockParam {
  return isError ? { type: 'tool_result', tool_use_id: toolUseId, content, is_error: true } : { type: 'tool_result', tool_use_id: toolUseId, content };
}

/** A summary is promised to be one line; a stray newline would make the elided result read as more. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]\s*/g, ' ').trim();
}

function trimmedText(block: TextBlockParam): TextBlockParam {
  const line = (block.text.trimStart().split('\n', 1)[0] as string).trimEnd().slice(0, FIRST_LINE_CHARS);
  return { type: 'text', text: `${line} [… ${block.text.length - line.length} more chars trimmed]` };
}

/** Freezes what JSON.parse made, all the way down; primitives and null count as frozen already. */
function deepFreeze<T>(value: T): T {
  if (!Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value as object)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
