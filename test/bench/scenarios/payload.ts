/**
 * payload — what one efrit/chat session sends and is billed for, turn by
 * turn, with document deltas and prompt caching on, against both off (every
 * turn resends the whole window, nothing cached), in the same run, each arm
 * against its own fresh fake Messages API and server (issue #4's figures).
 *
 * The session: a generated 2,000-line TypeScript file, a three-line
 * selection at the start of a function near line 1,000, and 20 turns (8 with
 * `--quick`). Before every turn but the first, one small edit near the
 * selection — a variable renamed on one line, a number literal changed, or a
 * line inserted — and every fifth turn the selection moves by a few lines, as
 * a user reading on does. The edits and moves are seeded and computed once,
 * so both arms replay exactly the same session. The fake answers every turn
 * "Noted." at once (latency 0): the scenario measures payloads, not time.
 *
 * Per turn and arm, from the fake's request log: the request body's bytes
 * on the wire (`rawBytes`), the input tokens as the fake's cache accounting
 * splits them (uncached `input_tokens`, cache writes, cache reads; the fake
 * estimates 4 utf-8 bytes per token), output tokens, and what the request
 * said about the document: a full window, a delta (diff hunks), or
 * "unchanged". Billed input weighs writes 1.25×, reads 0.1×, uncached 1×.
 */
import { existsSync } from 'node:fs';
import type { MessageParam } from '@anthropic-ai/sdk/resources/messages/messages';
import type { Range } from 'vscode-languageserver-protocol';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { Methods, type ChatResult, type DocumentTextResult, type StatusResult, type UsageSummary } from '../../../server/src/protocol.js';
import type { RecordedRequest, RecordedUsage } from '../../support/fake-anthropic/server.js';
import { startHarness } from '../../support/harness.js';
import { serverEntry, type TestClient } from '../../support/lsp-client.js';
import { seededRandom } from '../source-text.js';
import { fixed, median, verdict, type GoalCheck, type Scenario, type ScenarioContext, type Table } from '../scenario.js';
import { generateSource } from '../source-text.js';

const seed = 0x4a11;
const documentLines = 2_000;
const selectionNear = 1_000;
const selectionLines = 3;
/** The fake's own estimate (tokens.ts): one token per 4 utf-8 bytes. */
const bytesPerToken = 4;
const goalNotServedShare = 0.05;
const goalBilledShare = 0.2;
const price = { uncached: 1, write: 1.25, read: 0.1 };
const reply = 'Noted.';

interface Plan {
  mode: 'full' | 'quick';
  turns: number;
}

const fullPlan: Plan = { mode: 'full', turns: 20 };
const quickPlan: Plan = { mode: 'quick', turns: 8 };

export interface Edit {
  range: Range;
  text: string;
  /** As the user would say it, e.g. `I renamed price6 to totalPrice6 on line 1003.` */
  description: string;
  kind: 'rename' | 'literal' | 'insert';
}

export interface PlannedTurn {
  turn: number;
  /** Made before this turn's question (none before the first). */
  edit: Edit | undefined;
  /** Lines the selection moved by before this turn (0: it stayed, or followed an inserted line). */
  moved: number;
  selection: Range;
  question: string;
}

export interface Session {
  openText: string;
  finalText: string;
  turns: PlannedTurn[];
}

type DocumentKind = 'full' | 'delta' | 'unchanged' | 'none';

interface TurnFigures {
  turn: number;
  /** What the request told the model about the document this turn. */
  sent: DocumentKind;
  /** Characters of that document block. */
  documentChars: number;
  /** The document block itself (checked against the document, then kept in the JSON for delta turns only). */
  documentText: string;
  rawBytes: number;
  usage: RecordedUsage;
  /** uncached + cache write + cache read. */
  inputTokens: number;
  /** uncached × 1 + write × 1.25 + read × 0.1. */
  billedInputTokens: number;
  /** (uncached + cache write) × 4: the input the cache did not serve, in the fake's bytes. */
  notServedBytes: number;
  /** rawBytes − cache read × 4: the other reading of the same thing (wire bytes, JSON envelope included). */
  wireNotServedBytes: number;
  /** What the server itself counted for the call (efrit/chat's usage). */
  serverUsage: UsageSummary;
}

interface Arm {
  name: 'on' | 'off';
  settings: { deltas: boolean; promptCaching: boolean };
  turns: TurnFigures[];
  status: StatusResult;
  /** Requests whose body carried a cache_control anywhere. */
  requestsWithBreakpoints: number;
}

export const payloadScenario: Scenario = {
  name: 'payload',
  description: 'a 20-turn efrit/chat session with small edits on a 2,000-line file: request bytes and billed input tokens, deltas+caching vs full resend',
  async run(context: ScenarioContext) {
    if (!existsSync(serverEntry)) throw new Error(`${serverEntry} is missing: build first (npm run build)`);
    const plan = context.quick ? quickPlan : fullPlan;
    const session = planSession(plan.turns);
    const arms: Arm[] = [];
    for (const [name, enabled] of [['on', true], ['off', false]] as const) {
      context.progress(`${plan.turns} turns, deltas and promptCaching ${enabled ? 'on' : 'off'}`);
      arms.push(await runArm(name, { deltas: enabled, promptCaching: enabled }, session));
    }
    for (const arm of arms) {
      // Bytes saved by a wrong delta would be no saving: what each arm told the model must add up to the document.
      const problems = replayViews(session, arm.turns);
      if (problems.length > 0) throw new Error(`the ${arm.name} arm's requests do not add up to the document: ${problems.slice(0, 5).join('; ')}`);
    }
    return report(plan, session, arms[0] as Arm, arms[1] as Arm);
  },
};

// ---------------------------------------------------------------- the session

/** Exactly `documentLines` lines of generated TypeScript (the generator's usual mix, a few non-ASCII characters included). */
function sourceDocument(): string {
  // ~40 characters a line: twice what is needed, then cut at a line end.
  const lines = generateSource(documentLines * 80).split('\n');
  if (lines.length <= documentLines) throw new Error(`the generated source has only ${lines.length} lines`);
  return `${lines.slice(0, documentLines).join('\n')}\n`;
}

const questions = [
  'What does this function return when the list is empty?',
  'Is the early return still right after that?',
  'Could any of these awaits run in parallel?',
  'Does anything here still depend on the old value?',
  'Which of these calls can throw?',
  'Is the options argument used consistently?',
  'What would a unit test for this look like, in one sentence?',
  'Is there an off-by-one anywhere here?',
  'Would a reader understand this name?',
  'Does the comment still match the code?',
];
const renamePrefixes = ['total', 'next', 'raw', 'last', 'cached'];

/**
 * The session both arms replay: the edits (as incremental changes against
 * the text at that point), the selection and the question of every turn.
 */
export function planSession(turnCount: number): Session {
  const random = seededRandom(seed);
  const openText = sourceDocument();
  const doc = TextDocument.create('bench:payload', 'typescript', 1, openText);
  const linesOf = (): string[] => doc.getText().split('\n');

  let lines = linesOf();
  let start = lines.findIndex((line, index) => index >= selectionNear && line.startsWith('export async function'));
  if (start < 0) start = selectionNear;
  const selectionAt = (first: number): Range => ({ start: { line: first, character: 0 }, end: { line: first + selectionLines, character: 0 } });

  const turns: PlannedTurn[] = [];
  for (let turn = 1; turn <= turnCount; turn++) {
    let edit: Edit | undefined;
    let moved = 0;
    if (turn > 1) {
      if (turn % 5 === 1) {
        // Reading on (or back up) a little: 3 to 8 lines, down twice as often as up.
        moved = (3 + Math.floor(random() * 6)) * (random() < 0.67 ? 1 : -1);
        start += moved;
      }
      edit = planEdit(lines, start, turn, random);
      TextDocument.update(doc, [{ range: edit.range, text: edit.text }], doc.version + 1);
      // The selection follows the text, as an editor's does, when a line goes in above it.
      if (edit.kind === 'insert' && edit.range.start.line <= start) start += 1;
      lines = linesOf();
    }
    const question = questions[(turn - 1) % questions.length] as string;
    turns.push({ turn, edit, moved, selection: selectionAt(start), question: edit === undefined ? question : `${edit.description} ${question}` });
  }
  return { openText, finalText: doc.getText(), turns };
}

/** One small edit within 25 lines above to 15 below the selection's start. */
function planEdit(lines: readonly string[], selectionStart: number, turn: number, random: () => number): Edit {
  const first = Math.max(0, selectionStart - 25);
  const last = Math.min(lines.length - 2, selectionStart + 15);
  const zone = (pattern: RegExp): { line: number; match: RegExpExecArray }[] => {
    const found: { line: number; match: RegExpExecArray }[] = [];
    for (let line = first; line <= last; line++) {
      const match = pattern.exec(lines[line] as string);
      if (match !== null) found.push({ line, match });
    }
    return found;
  };
  const pickFrom = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const draw = random();

  if (draw < 0.45) {
    // Renaming a local on its declaration line: `price6` → `totalPrice6`.
    const candidates = zone(/\bconst ([a-z]+\d+) = /);
    if (candidates.length > 0) {
      const { line, match } = pickFrom(candidates);
      const name = match[1] as string;
      const renamed = `${pickFrom(renamePrefixes)}${name.charAt(0).toUpperCase()}${name.slice(1)}`;
      const character = match.index + 'const '.length;
      return {
        kind: 'rename',
        range: { start: { line, character }, end: { line, character: character + name.length } },
        text: renamed,
        description: `I renamed ${name} to ${renamed} on line ${line + 1}.`,
      };
    }
  } else if (draw < 0.75) {
    // A number literal changed: a threshold or an argument.
    const candidates = zone(/(?:> |, )(\d+)[)&]/);
    if (candidates.length > 0) {
      const { line, match } = pickFrom(candidates);
      const digits = match[1] as string;
      const changed = String(Number(digits) + 1 + Math.floor(random() * 50));
      const character = match.index + match[0].indexOf(digits);
      return {
        kind: 'literal',
        range: { start: { line, character }, end: { line, character: character + digits.length } },
        text: changed,
        description: `I changed ${digits} to ${changed} on line ${line + 1}.`,
      };
    }
  }
  // A line inserted after a statement (also the fallback when nothing above matched).
  const statements = zone(/^(\s+)(?:const |return |\/\/ )/);
  const after = statements.length > 0 ? pickFrom(statements) : { line: selectionStart, match: /^(\s*)/.exec(lines[selectionStart] as string) as RegExpExecArray };
  const indent = after.match[1] ?? '  ';
  const inserted = `${indent}const checked${turn} = await validateOrder(order, ${Math.floor(random() * 1000)});`;
  const at = after.line + 1;
  return {
    kind: 'insert',
    range: { start: { line: at, character: 0 }, end: { line: at, character: 0 } },
    text: `${inserted}\n`,
    description: `I inserted a line after line ${after.line + 1}.`,
  };
}

// ---------------------------------------------------------------- one arm

/**
 * Plays the session's turns as chats about the open document, each turn's edit
 * first, checking that each was answered `reply` from exactly one model
 * request; `figures` reads that turn's request.
 */
export async function playSession<T>(
  client: TestClient,
  uri: string,
  session: Session,
  reply: string,
  requestCount: () => number,
  figures: (planned: PlannedTurn, result: ChatResult) => T,
): Promise<T[]> {
  const turns: T[] = [];
  let sessionId: string | undefined;
  for (const planned of session.turns) {
    if (planned.edit !== undefined) await client.change(uri, planned.edit.range, planned.edit.text);
    const before = requestCount();
    const result = await client.request<ChatResult>(Methods.chat, {
      message: planned.question,
      textDocument: { uri },
      range: planned.selection,
      ...(sessionId === undefined ? {} : { sessionId }),
    });
    sessionId = result.sessionId;
    if (result.reply !== reply) throw new Error(`turn ${planned.turn}: the reply was ${JSON.stringify(result.reply)}, expected ${JSON.stringify(reply)}`);
    if (requestCount() !== before + 1) throw new Error(`turn ${planned.turn}: the fake received ${requestCount() - before} requests, expected 1`);
    turns.push(figures(planned, result));
  }
  return turns;
}

async function runArm(name: Arm['name'], settings: Arm['settings'], session: Session): Promise<Arm> {
  const harness = await startHarness({
    initializationOptions: { logLevel: 'warn', ...settings },
    fake: { latencyMs: 0, maxLoggedRequests: 10_000, respond: () => ({ text: reply, latencyMs: 0 }) },
  });
  try {
    const { client, fake } = harness;
    const uri = await client.open('src/bench-payload.ts', session.openText);
    const turns = await playSession(client, uri, session, reply, () => fake.requests.length, (planned, result) =>
      figuresOf(planned.turn, fake.requests[fake.requests.length - 1] as RecordedRequest, result.usage),
    );
    const status = await client.request<StatusResult>(Methods.status, {});
    const synced = await client.request<DocumentTextResult>(Methods.documentText, { textDocument: { uri } });
    if (synced.text !== session.finalText || client.text(uri) !== session.finalText) {
      throw new Error(`the server's text (${synced.text.length} chars, version ${synced.version}) is not the planned final text (${session.finalText.length} chars)`);
    }
    const requestsWithBreakpoints = fake.requests.filter((request) => JSON.stringify(request.body).includes('"cache_control"')).length;
    return { name, settings, turns, status, requestsWithBreakpoints };
  } finally {
    await harness.stop();
  }
}

interface SentBlock {
  type?: string;
  text?: string;
}

/** The turn's document block: the first block of the last user message (chat puts the document first, the question last). */
function documentBlockOf(request: RecordedRequest): { sent: DocumentKind; text: string } {
  const messages = (request.body.messages ?? []) as MessageParam[];
  const last = messages[messages.length - 1];
  if (last === undefined || typeof last.content === 'string' || last.content.length < 2) return { sent: 'none', text: '' };
  const block = last.content[0] as SentBlock;
  const text = block.type === 'text' ? (block.text ?? '') : '';
  const sent: DocumentKind = text.startsWith('Changes to ') ? 'delta' : / is as you last saw it /.test(text) ? 'unchanged' : 'full';
  return { sent, text };
}

function figuresOf(turn: number, request: RecordedRequest, serverUsage: UsageSummary): TurnFigures {
  const usage = request.usage;
  if (request.outcome !== 'completed' || usage === undefined) throw new Error(`turn ${turn}: the request ended ${request.outcome}${request.errorType === undefined ? '' : ` (${request.errorType})`}`);
  const { sent, text } = documentBlockOf(request);
  const inputTokens = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens;
  return {
    turn,
    sent,
    documentChars: text.length,
    documentText: text,
    rawBytes: request.rawBytes,
    usage: { ...usage },
    inputTokens,
    billedInputTokens: billed(usage),
    notServedBytes: (usage.input_tokens + usage.cache_creation_input_tokens) * bytesPerToken,
    wireNotServedBytes: request.rawBytes - usage.cache_read_input_tokens * bytesPerToken,
    serverUsage,
  };
}

function billed(usage: RecordedUsage): number {
  const tokens = usage.input_tokens * price.uncached + usage.cache_creation_input_tokens * price.write + usage.cache_read_input_tokens * price.read;
  // Hundredths: enough for 0.1× and 1.25×, without float noise in the JSON.
  return Math.round(tokens * 100) / 100;
}

// ---------------------------------------------------------------- checking what was sent

/** What the model knows of the document: line texts from line `first` (1-based); null where a line was shown cut short. */
interface ModelView {
  first: number;
  lines: (string | null)[];
}

const windowRow = /^ *(\d+)\|[ >](.*)$/;
const hunkHeader = /^@@ -(\d+),(\d+) \+(\d+),(\d+) @@$/;

/**
 * Replays, turn by turn, what the requests told the model — a window, then
 * hunks applied to it — and compares the result with the document as it was
 * at that turn, line for line. Returns what did not add up.
 */
function replayViews(session: Session, turns: readonly TurnFigures[]): string[] {
  const problems: string[] = [];
  const doc = TextDocument.create('bench:payload', 'typescript', 1, session.openText);
  let view: ModelView | undefined;
  for (const [index, planned] of session.turns.entries()) {
    const figures = turns[index];
    if (figures === undefined) break;
    if (planned.edit !== undefined) TextDocument.update(doc, [{ range: planned.edit.range, text: planned.edit.text }], doc.version + 1);
    const where = `turn ${planned.turn}`;
    if (figures.sent === 'full') view = parseWindow(figures.documentText);
    else if (figures.sent === 'delta') {
      if (view === undefined) problems.push(`${where}: a delta before any window`);
      else view = applyHunks(view, figures.documentText, where, problems);
    } else if (figures.sent === 'unchanged' && view !== undefined) {
      const moved = / now starts at line (\d+)\./.exec(figures.documentText);
      if (moved !== null) view = { first: Number(moved[1]), lines: view.lines };
    }
    if (view === undefined || view.lines.length === 0) {
      problems.push(`${where}: no window could be read from the request`);
      continue;
    }
    const actual = doc.getText().split('\n');
    const { first, lines } = view;
    const wrong = lines.findIndex((line, offset) => line !== null && line !== (actual[first - 1 + offset] ?? '').replace(/\r$/, ''));
    if (wrong >= 0) {
      problems.push(`${where}: the model's line ${first + wrong} is ${JSON.stringify(lines[wrong])}, the document's ${JSON.stringify(actual[first + wrong - 1])}`);
    }
  }
  return problems;
}

function parseWindow(text: string): ModelView {
  const view: ModelView = { first: 0, lines: [] };
  // The first line is the header; the rows end at the first line that is not one (the diagnostics, if any).
  for (const row of text.split('\n').slice(1)) {
    const match = windowRow.exec(row);
    if (match === null) break;
    if (view.lines.length === 0) view.first = Number(match[1]);
    const line = match[2] as string;
    view.lines.push(/\.\.\.\[\+\d+ chars\]/.test(line) ? null : line);
  }
  return view;
}

/** Applies a delta's hunks (old numbers as the model saw them, new ones as the document has them now). */
function applyHunks(view: ModelView, text: string, where: string, problems: string[]): ModelView {
  const lines = [...view.lines];
  const rows = text.split('\n');
  let shift = 0;
  let first: number | undefined;
  for (let row = 0; row < rows.length; row++) {
    const header = hunkHeader.exec(rows[row] as string);
    if (header === null) continue;
    const [oldStart, oldCount, newStart, newCount] = header.slice(1).map(Number) as [number, number, number, number];
    const removed = rows.slice(row + 1, row + 1 + oldCount);
    const added = rows.slice(row + 1 + oldCount, row + 1 + oldCount + newCount);
    if (removed.some((line) => !line.startsWith('-')) || added.some((line) => !line.startsWith('+'))) {
      problems.push(`${where}: hunk ${rows[row]} is not ${oldCount} "-" lines then ${newCount} "+" lines`);
      return { first: view.first, lines };
    }
    const at = oldStart - view.first + shift;
    const seen = lines.slice(at, at + oldCount);
    if (seen.some((line, offset) => line !== null && line !== (removed[offset] as string).slice(1))) {
      problems.push(`${where}: hunk ${rows[row]} removes lines the model did not see there`);
    }
    // The window's first line now, from the hunk's new numbering; every hunk of the turn must agree.
    const impliedFirst = newStart - at;
    if (first !== undefined && impliedFirst !== first) problems.push(`${where}: hunk ${rows[row]} numbers the new lines inconsistently`);
    first ??= impliedFirst;
    lines.splice(at, oldCount, ...added.map((line) => line.slice(1)));
    shift += newCount - oldCount;
    row += oldCount + newCount;
  }
  if (first === undefined) problems.push(`${where}: a delta without hunks`);
  return { first: first ?? view.first, lines };
}

// ---------------------------------------------------------------- the report

const int = (value: number): string => Math.round(value).toLocaleString('en-US');
const percent = (share: number): string => `${fixed(share * 100, 1)}%`;
const sum = (values: readonly number[]): number => values.reduce((total, value) => total + value, 0);

function report(plan: Plan, session: Session, on: Arm, off: Arm) {
  const turnCount = plan.turns;
  const followUps = (arm: Arm): TurnFigures[] => arm.turns.filter((t) => t.turn >= 2);

  const perTurn: Table = {
    title: `payload — per turn: deltas + promptCaching on vs both off (full resend), ${turnCount} turns${plan.mode === 'quick' ? ' (quick mode: 8 turns, not 20)' : ''}`,
    columns: [
      { header: 'turn' },
      { header: 'edit', align: 'left' },
      { header: 'sent on', align: 'left' },
      { header: 'bytes on' },
      { header: 'bytes off' },
      { header: 'uncached' },
      { header: 'write' },
      { header: 'read' },
      { header: 'input on' },
      { header: 'input off' },
      { header: 'billed on' },
      { header: 'billed off' },
    ],
    rows: on.turns.map((t, index) => {
      const o = off.turns[index] as TurnFigures;
      const planned = session.turns[index] as PlannedTurn;
      const edit = planned.edit === undefined ? 'open' : `${planned.edit.kind}${planned.moved === 0 ? '' : `, sel ${planned.moved > 0 ? '+' : ''}${planned.moved}`}`;
      return [
        String(t.turn),
        edit,
        t.sent,
        int(t.rawBytes),
        int(o.rawBytes),
        int(t.usage.input_tokens),
        int(t.usage.cache_creation_input_tokens),
        int(t.usage.cache_read_input_tokens),
        int(t.inputTokens),
        int(o.inputTokens),
        int(t.billedInputTokens),
        int(o.billedInputTokens),
      ];
    }),
    notes: [
      'bytes: the request body on the wire (the fake\'s rawBytes). uncached / write / read: the deltas arm\'s input tokens as the fake\'s cache',
      'accounting splits them (input_tokens, cache_creation_input_tokens, cache_read_input_tokens); the baseline caches nothing, so its input is all',
      'uncached. billed = uncached + 1.25 × write + 0.1 × read. Tokens are the fake\'s estimate: utf-8 bytes / 4.',
      '"sent on": what the deltas arm\'s request said about the document (full window, delta hunks, unchanged); the baseline sends a full window',
      `every turn, and keeps the earlier ones in the history. edit: the change made before the turn (sel ±N: the selection moved N lines).`,
    ],
  };

  // Goal 1: what the cache cannot serve, per follow-up turn.
  const notServedOn = median(followUps(on).map((t) => t.notServedBytes));
  const notServedOff = median(followUps(off).map((t) => t.notServedBytes));
  const notServedRatio = notServedOn / notServedOff;
  const wireOn = median(followUps(on).map((t) => t.wireNotServedBytes));
  const wireOff = median(followUps(off).map((t) => t.wireNotServedBytes));
  const perTurnRatios = followUps(on).map((t, index) => t.notServedBytes / (followUps(off)[index] as TurnFigures).notServedBytes);
  const worstRatio = Math.max(...perTurnRatios);
  const bytesOn = median(followUps(on).map((t) => t.rawBytes));
  const bytesOff = median(followUps(off).map((t) => t.rawBytes));

  // Goal 2: billed input over the whole session.
  const billedOn = Math.round(sum(on.turns.map((t) => t.billedInputTokens)) * 100) / 100;
  const billedOff = Math.round(sum(off.turns.map((t) => t.billedInputTokens)) * 100) / 100;
  const billedRatio = billedOn / billedOff;
  const inputOn = sum(on.turns.map((t) => t.inputTokens));
  const inputOff = sum(off.turns.map((t) => t.inputTokens));
  const totalBytesOn = sum(on.turns.map((t) => t.rawBytes));
  const totalBytesOff = sum(off.turns.map((t) => t.rawBytes));

  // What the deltas saved, measured: the window the baseline sent that turn (what a full window would have been) minus the delta.
  const savedChars = sum(followUps(on).map((t, index) => (followUps(off)[index] as TurnFigures).documentChars - t.documentChars));
  const sentOn = tally(on.turns.map((t) => t.sent));
  const sentOff = tally(off.turns.map((t) => t.sent));
  const unexpectedFull = followUps(on).filter((t) => t.sent !== 'delta').map((t) => `turn ${t.turn}: ${t.sent}`);
  const checks = agreement(on).concat(agreement(off));
  if (off.requestsWithBreakpoints > 0) checks.push(`the baseline sent cache_control in ${off.requestsWithBreakpoints} requests`);
  if (off.turns.some((t) => t.sent !== 'full')) checks.push('the baseline sent something other than a full window');

  const last = `2–${turnCount}`;
  const goals: GoalCheck[] = [
    {
      name: `payload: input the cache cannot serve, median turn ${last}`,
      goal: `< ${percent(goalNotServedShare)} of full resend`,
      actual: `${percent(notServedRatio)} (${int(notServedOn)} B vs ${int(notServedOff)} B)`,
      met: notServedRatio < goalNotServedShare,
    },
    {
      name: `payload: billed input tokens over ${turnCount} turns`,
      goal: `< ${percent(goalBilledShare)} of full resend`,
      actual: `${percent(billedRatio)} (${int(billedOn)} vs ${int(billedOff)})`,
      met: billedRatio < goalBilledShare,
    },
  ];

  const summaryTable: Table = {
    title: `payload — summary: deltas + promptCaching on vs full resend (${turnCount} turns, ${documentLines.toLocaleString('en-US')}-line file)`,
    columns: [
      { header: 'figure', align: 'left' },
      { header: 'on' },
      { header: 'off' },
      { header: 'on/off' },
      { header: 'goal', align: 'left' },
      { header: 'met?', align: 'left' },
    ],
    rows: [
      [`not served by the cache, median turn ${last} (B)`, int(notServedOn), int(notServedOff), percent(notServedRatio), `< ${percent(goalNotServedShare)}`, verdict(goals[0]?.met ?? false)],
      [`  same, worst single turn ${last}`, '', '', percent(worstRatio), '', ''],
      [`  wire bytes − cache read × 4, median turn ${last} (B)`, int(wireOn), int(wireOff), percent(wireOn / wireOff), '', ''],
      [`billed input tokens, turns 1–${turnCount}`, int(billedOn), int(billedOff), percent(billedRatio), `< ${percent(goalBilledShare)}`, verdict(goals[1]?.met ?? false)],
      [`input tokens (uncached + write + read), turns 1–${turnCount}`, int(inputOn), int(inputOff), percent(inputOn / inputOff), '', ''],
      [`request bytes, median turn ${last}`, int(bytesOn), int(bytesOff), percent(bytesOn / bytesOff), '', ''],
      [`request bytes, turns 1–${turnCount}`, int(totalBytesOn), int(totalBytesOff), percent(totalBytesOn / totalBytesOff), '', ''],
      [`output tokens, turns 1–${turnCount}`, int(sum(on.turns.map((t) => t.usage.output_tokens))), int(sum(off.turns.map((t) => t.usage.output_tokens))), '', '', ''],
      ['document sent (full/delta/unchanged)', sentLabel(sentOn), sentLabel(sentOff), '', '', ''],
      ['efrit/status usage.bytesSavedByDeltas', int(on.status.usage.bytesSavedByDeltas), int(off.status.usage.bytesSavedByDeltas), '', '', ''],
      [`  measured: baseline window − delta, chars, turns ${last}`, int(savedChars), '', '', '', ''],
    ],
    notes: [
      '"not served by the cache" = (uncached input_tokens + cache_creation_input_tokens) × 4 bytes: the input the API has to process',
      'afresh (a cache write is processed and then stored), in the fake\'s own 4-bytes-a-token estimate, so on and off are measured alike',
      'from the token counts the fake reports. Chosen over "request bytes − cache_read × 4" (the row below it), which mixes two measures:',
      'wire bytes, JSON envelope and escaping included, minus an estimate of the cached prefix; it is shown for comparison. The ratio is',
      'the median of the deltas arm over the median of the baseline, both over the follow-up turns. The baseline is what the server does',
      'with deltas and promptCaching off: every turn a fresh window, and every earlier window still in the history.',
      'bytesSavedByDeltas is what the server estimates fresh windows would have cost beyond the deltas (UTF-8 bytes);',
      "the row under it measures the same from the requests: each follow-up's baseline window minus the deltas arm's delta text.",
      "Every request's document text was replayed (window, then hunks) and matches the document line for line at every turn, in both arms.",
      ...(unexpectedFull.length === 0 ? ['deltas arm: turn 1 sent the full window, every follow-up a delta.'] : [`deltas arm, follow-ups that were not a delta: ${unexpectedFull.join(', ')}.`]),
      ...(checks.length === 0 ? ["efrit/chat's and efrit/status's usage agree with the fake's log in both arms."] : checks.map((check) => `check: ${check}`)),
    ],
  };

  const compact = (arm: Arm) =>
    arm.turns.map((t) => ({
      turn: t.turn,
      sent: t.sent,
      documentChars: t.documentChars,
      ...(t.sent === 'full' ? {} : { documentText: t.documentText }),
      rawBytes: t.rawBytes,
      uncachedInputTokens: t.usage.input_tokens,
      cacheWriteTokens: t.usage.cache_creation_input_tokens,
      cacheReadTokens: t.usage.cache_read_input_tokens,
      outputTokens: t.usage.output_tokens,
      inputTokens: t.inputTokens,
      billedInputTokens: t.billedInputTokens,
      notServedBytes: t.notServedBytes,
      wireNotServedBytes: t.wireNotServedBytes,
      serverRequestBytes: t.serverUsage.requestBytes,
    }));

  return {
    tables: [perTurn, summaryTable],
    summary: {
      turns: turnCount,
      documentLines,
      medianNotServedBytes: { on: notServedOn, off: notServedOff, ratio: notServedRatio },
      billedInputTokens: { on: billedOn, off: billedOff, ratio: billedRatio },
      requestBytes: { on: totalBytesOn, off: totalBytesOff },
      bytesSavedByDeltas: on.status.usage.bytesSavedByDeltas,
      charsSavedMeasured: savedChars,
      sent: { on: sentOn, off: sentOff },
      // For the chart of billed input tokens per turn: index 0 is turn 1.
      billedInputTokensPerTurn: { on: on.turns.map((t) => t.billedInputTokens), off: off.turns.map((t) => t.billedInputTokens) },
    },
    raw: {
      plan,
      seed,
      price,
      bytesPerToken,
      documentChars: session.openText.length,
      session: session.turns.map((t) => ({ turn: t.turn, edit: t.edit, moved: t.moved, selection: t.selection, question: t.question })),
      arms: [on, off].map((arm) => ({ name: arm.name, settings: arm.settings, status: arm.status, requestsWithBreakpoints: arm.requestsWithBreakpoints, turns: compact(arm) })),
      checks,
    },
    goals,
  };
}

function tally(kinds: readonly DocumentKind[]): Record<DocumentKind, number> {
  const counts: Record<DocumentKind, number> = { full: 0, delta: 0, unchanged: 0, none: 0 };
  for (const kind of kinds) counts[kind] += 1;
  return counts;
}

function sentLabel(counts: Record<DocumentKind, number>): string {
  return `${counts.full}/${counts.delta}/${counts.unchanged}${counts.none > 0 ? ` (+${counts.none} none)` : ''}`;
}

/** Where the server's own accounting disagrees with the fake's log; empty when it does not. */
function agreement(arm: Arm): string[] {
  const out: string[] = [];
  for (const t of arm.turns) {
    const s = t.serverUsage;
    const u = t.usage;
    if (s.inputTokens !== u.input_tokens || s.cacheWriteTokens !== u.cache_creation_input_tokens || s.cacheReadTokens !== u.cache_read_input_tokens || s.outputTokens !== u.output_tokens) {
      out.push(`${arm.name} turn ${t.turn}: efrit/chat usage ${s.inputTokens}/${s.cacheWriteTokens}/${s.cacheReadTokens}/${s.outputTokens} vs the fake's ${u.input_tokens}/${u.cache_creation_input_tokens}/${u.cache_read_input_tokens}/${u.output_tokens}`);
    }
    if (s.requestBytes !== t.rawBytes) out.push(`${arm.name} turn ${t.turn}: efrit/chat requestBytes ${s.requestBytes} vs the fake's rawBytes ${t.rawBytes}`);
  }
  const total = arm.status.usage;
  const fakeSum = (pick: (t: TurnFigures) => number): number => sum(arm.turns.map(pick));
  if (total.requests !== arm.turns.length) out.push(`${arm.name}: efrit/status counts ${total.requests} requests, the session made ${arm.turns.length}`);
  if (total.cacheReadTokens !== fakeSum((t) => t.usage.cache_read_input_tokens) || total.cacheWriteTokens !== fakeSum((t) => t.usage.cache_creation_input_tokens)) {
    out.push(`${arm.name}: efrit/status cache tokens (read ${total.cacheReadTokens}, write ${total.cacheWriteTokens}) differ from the fake's sums`);
  }
  if (total.requestBytes !== fakeSum((t) => t.rawBytes)) out.push(`${arm.name}: efrit/status requestBytes ${total.requestBytes} vs the fake's ${fakeSum((t) => t.rawBytes)}`);
  return out;
}
