/**
 * The Neovim client (clients/neovim) in the real editor: headless Neovim runs
 * test/clients/neovim/efrit-test.lua, which sets the plugin up, attaches it to
 * a TypeScript file, edits it, applies an "Efrit: Add documentation" code
 * action through vim.lsp.buf.code_action() (codeAction/resolve) and a slow
 * "Efrit: Write tests" one (resolve hands back efrit.applyJob), holds a
 * two-turn :EfritChat, applies an :EfritDo edit, streams :EfritExplain into a
 * float, cancels a slow chat with :EfritCancel, and checks the server's copy
 * of the document against the buffer. The fake Messages API runs in this
 * process, so its request log can be asserted on.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { shouldRunEditorTests } from './editors.js';
import { openGatesOnSignals } from './script-signals.js';
import { eventually } from '../support/eventually.js';
import { startFakeAnthropic, type FakeAnthropic, type FakeReply, type RecordedRequest } from '../support/fake-anthropic/server.js';
import { namedGates, never, type NamedGates } from '../support/gate.js';
import { editReply, testApiKey } from '../support/harness.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const serverEntry = join(repoRoot, 'dist', 'efrit-lsp.cjs');
const pluginDir = join(repoRoot, 'clients', 'neovim');
const scriptDir = join(repoRoot, 'test', 'clients', 'neovim');

const runNvim = shouldRunEditorTests('nvim');

const pricingTs = `export interface LineItem {
  sku: string;
  unitPrice: number;
  quantity: number;
}

export const TAX_RATE = 0.2;

export function subtotal(items: LineItem[]): number {
  return items.reduce((sum, item) => sum + item.unitPrice * item.quantity, 0);
}

export function applyDiscount(price: number, percent: number): number {
  return price - (price * percent) / 100;
}

export function total(items: LineItem[], discountPercent = 0): number {
  const discounted = applyDiscount(subtotal(items), discountPercent);
  return Math.round(discounted * (1 + TAX_RATE));
}
`;

const inSourceTests = `
if (import.meta.vitest) {
  const { it, expect } = import.meta.vitest;
  it('totals nothing to 0', () => expect(total([])).toBe(0));
}
`;

const firstReply = ['`applyDiscount` takes ', 'a price and a percentage ', 'and returns the discounted price.'];
const secondReply = ['No: a percent above 100 ', 'gives a negative price.'];
const explanation = ['`subtotal` adds up ', 'unit price times quantity.'];
const essay = ['Well, ', 'let me ', 'explain ', 'discounts ', 'at ', 'great ', 'length, ', 'one ', 'word ', 'at ', 'a ', 'time…'];

interface SentBlock {
  type: string;
  text?: string;
}
interface SentMessage {
  role: string;
  content: string | SentBlock[];
}

const messagesOf = (request: RecordedRequest | undefined): SentMessage[] => (request?.body.messages ?? []) as SentMessage[];
const textOf = (message: SentMessage | undefined): string =>
  message === undefined ? '' : typeof message.content === 'string' ? message.content : message.content.map((b) => b.text ?? '').join('\n');
const lastUserText = (request: RecordedRequest): string => textOf(messagesOf(request).filter((m) => m.role === 'user').at(-1));

/** A streamed text reply's events before its second delta: message_start, content_block_start, ping, the first text_delta. */
const afterFirstDelta = 4;

/**
 * The model, as the scenario needs it: decided by what each request asks.
 * Where the script must see a state before the answer may go on, the reply
 * is held until the script signals it (`support.signal` in the Lua script).
 */
function respond(request: RecordedRequest, signals: NamedGates): FakeReply {
  const asked = lastUserText(request);
  if (asked.includes('Add documentation comments')) {
    return editReply(
      [
        {
          old_text: 'export function subtotal(items: LineItem[]): number {',
          new_text: '/** Sums unit price × quantity over all line items, in cents. */\nexport function subtotal(items: LineItem[]): number {',
        },
      ],
      'Documents subtotal().',
    );
  }
  if (asked.includes('Write unit tests for the selected code')) {
    return editReply(
      [
        {
          old_text: '  return Math.round(discounted * (1 + TAX_RATE));\n}\n',
          new_text: `  return Math.round(discounted * (1 + TAX_RATE));\n}\n${inSourceTests}`,
        },
      ],
      'Adds in-source tests for total().',
      // Outlasts the resolve budget: answered once resolve has handed the job over and Neovim ran efrit.applyJob.
      { hold: { until: signals.opened('apply-job-sent') } },
    );
  }
  // The rest waits until the script has seen the first part in the chat buffer.
  if (asked.includes('What does applyDiscount do?')) return { text: firstReply, hold: { until: signals.opened('chat-partial'), afterEvents: afterFirstDelta } };
  if (asked.includes('Does it check that percent is in range?')) return { text: secondReply };
  if (asked.includes('Clamp percent to the range 0..100')) {
    return editReply(
      [
        {
          old_text: '  return price - (price * percent) / 100;',
          new_text: '  const clamped = Math.min(Math.max(percent, 0), 100);\n  return price - (price * clamped) / 100;',
        },
      ],
      'applyDiscount() clamps percent to 0..100.',
    );
  }
  if (asked.includes('Explain what the selected code does')) return { text: explanation };
  // The first words, then nothing until the user cancels.
  if (asked.includes('Write me an essay')) return { text: essay, hold: { until: never, afterEvents: afterFirstDelta } };
  return { text: `(unexpected request) ${asked.slice(0, 200)}` };
}

const pricingPy = `# Prices are in cents.
from dataclasses import dataclass

TAX_RATE = 0.2


@dataclass
class Order:
    unit_price: float
    quantity: int


def order_total(order: Order) -> float:
    """The order's total, before tax."""
    return 


def receipt(order: Order) -> str:
    total = 


def with_tax(amount: float) -> float:
    return 
`;

/** The fast model, by the function the cursor is in and the cursor's line (the text before </prefix>). */
function respondGhost(request: RecordedRequest, signals: NamedGates): FakeReply {
  if (!JSON.stringify(request.body.system ?? '').includes('code completion engine')) return { text: 'UNEXPECTED: not a completion request' };
  const asked = lastUserText(request);
  const prefix = asked.slice(0, asked.indexOf('</prefix>'));
  const cursorLine = prefix.slice(prefix.lastIndexOf('\n') + 1);
  const inFunction = /def (\w+)/.exec(prefix.slice(prefix.lastIndexOf('def ')))?.[1];
  // Fenced, and echoing the line: the server cleans both off.
  if (inFunction === 'order_total' && cursorLine === '    return ') return { text: '```python\nreturn order.unit_price * order.quantity\n```' };
  if (inFunction === 'receipt' && cursorLine === '    total = ') return { text: 'order_total(order)\n    return f"{total:.2f}"' };
  // Answered only once the cursor has moved away from where it was asked, so the answer is stale when it comes.
  if (inFunction === 'with_tax' && cursorLine === '    return ') return { text: 'amount * (1 + TAX_RATE)', hold: { until: signals.opened('moved-away') } };
  return { text: '' };
}

interface GhostShown {
  count: number;
  text: string;
  hl: string;
  pos: string;
  virt_lines: string[];
  at_cursor: boolean;
}

interface GhostResult {
  notes: { msg: string; level: number }[];
  complete_command: boolean;
  nvim_version: { major: number; minor: number };
  inline_provider: boolean;
  tab_mapping: { buffer: boolean; expr: boolean };
  ghost_before: GhostShown | null;
  tab_line: string;
  shown: GhostShown;
  shown_api: string | null;
  shown_trigger: number;
  shown_buffer_unchanged: boolean;
  shown_insert_mode: boolean;
  statusline_while_shown: string;
  after_mismatch: GhostShown | null;
  after_mismatch_api: string | null;
  automatic: GhostShown;
  automatic_triggers: number[];
  typed_ahead: GhostShown | null;
  typed_ahead_later: GhostShown | null;
  typed_ahead_requests: number;
  accepted_line: string;
  after_accept: GhostShown | null;
  cursor_after_accept: { row: number; col: number; eol: number; line: number };
  accept_insert_mode: boolean;
  sync_after_accept: boolean;
  multi: GhostShown;
  multi_api: string | null;
  multi_lines: string[];
  multi_cursor: { row: number; col: number; eol: number };
  after_multi: GhostShown | null;
  statusline_while_asking: string;
  busy_while_asking: boolean;
  after_stale_answer: GhostShown | null;
  with_tax: GhostShown;
  after_insert_leave: GhostShown | null;
  server_text: string;
  buffer_text: string;
  status: { accepted: number; shown: number };
  triggers: number[];
  commands: string[];
}

interface NvimRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed after `timeoutMs`); with `signals`, its `EFRIT_SIGNAL <name>` stderr lines open those gates as they arrive. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number, signals?: NamedGates): Promise<NvimRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    if (signals !== undefined) openGatesOnSignals(child.stderr, signals);
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 5000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

interface ScenarioResult {
  error?: string;
  steps: string[];
  notes: { msg: string; level: number }[];
  root_dir: string;
  offset_encoding: string;
  resolve_provider: boolean;
  offered: string[];
  code_action_methods: string[];
  slow_action_methods: string[];
  chat_visible: boolean;
  session1: string;
  session2: string;
  partial_chat: string[];
  partial_chat2: string[];
  floats: string[];
  statusline_busy: string;
  statusline_idle: string;
  server_text: string;
  server_version: number;
  buffer_text: string;
  changedtick: number;
  chat_text: string;
  stream_kinds: Record<string, number>;
  chat_range: { first: number; last: number; last_text: string };
  explain_selection: { line: number; text: string };
  /** Absent on Neovim 0.10+, which keeps $/progress elsewhere. */
  progress_updates?: number;
  progress?: { token: string; title: string; done: boolean }[];
  health: string;
}

/** A temporary project holding src/pricing.ts, in a folder that is also the editor's HOME. */
function makeProject(): { workDir: string; project: string } {
  const dir = mkdtempSync(join(tmpdir(), 'efrit-nvim-'));
  const project = join(dir, 'shop');
  mkdirSync(join(project, 'src'), { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'shop', version: '1.0.0', type: 'module' }, null, 2));
  writeFileSync(join(project, 'src', 'pricing.ts'), pricingTs);
  return { workDir: dir, project };
}

/** Runs one Lua scenario in headless Neovim (under `timeout`) and parses its EFRIT_RESULT line; `signals` are the gates the script opens. */
async function runScenario<T>(script: string, dir: string, env: NodeJS.ProcessEnv, signals?: NamedGates): Promise<{ result: T & { error?: string }; nvim: NvimRun; detail: string }> {
  const xdg = join(dir, 'xdg');
  const nvim = await run(
    'timeout',
    ['60', 'nvim', '--headless', '-u', 'NONE', '-i', 'NONE', '-n', '-c', `luafile ${join(scriptDir, script)}`],
    {
      PATH: process.env['PATH'],
      HOME: dir,
      XDG_CACHE_HOME: join(xdg, 'cache'),
      XDG_STATE_HOME: join(xdg, 'state'),
      XDG_DATA_HOME: join(xdg, 'data'),
      XDG_CONFIG_HOME: join(xdg, 'config'),
      EFRIT_TEST_RTP: pluginDir,
      EFRIT_TEST_SERVER: serverEntry,
      ...env,
    },
    60_000,
    signals,
  );
  const detail = `exit ${nvim.code} signal ${nvim.signal}\n--- stdout\n${nvim.stdout}\n--- stderr\n${nvim.stderr}`;
  const line = nvim.stdout.split('\n').find((l) => l.startsWith('EFRIT_RESULT '));
  if (line === undefined) throw new Error(`no EFRIT_RESULT line\n${detail}`);
  return { result: JSON.parse(line.slice('EFRIT_RESULT '.length)) as T & { error?: string }, nvim, detail };
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\`]/g, '\\$&');

let fake: FakeAnthropic | undefined;
let workDir: string | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  workDir = undefined;
});

describe.skipIf(!runNvim)('the Neovim client (headless nvim)', () => {
  it('attaches, applies a resolved code action, chats, does, explains, cancels and stays in sync', async () => {
    const signals = namedGates();
    fake = await startFakeAnthropic({ apiKey: testApiKey, respond: (request) => respond(request, signals) });
    const made = makeProject();
    workDir = made.workDir;
    const { project } = made;

    const { result, nvim, detail } = await runScenario<ScenarioResult>(
      'efrit-test.lua',
      workDir,
      {
        ANTHROPIC_API_KEY: testApiKey,
        ANTHROPIC_BASE_URL: fake.url,
        EFRIT_TEST_PROJECT: project,
      },
      signals,
    );
    expect(result.error, detail).toBeUndefined();
    expect(nvim.code, detail).toBe(0);

    // Attached to the project root (package.json), with resolve support.
    expect(result.root_dir).toBe(project);
    expect(result.resolve_provider).toBe(true);

    // The code action was listed, resolved lazily and applied by Neovim itself.
    expect(result.offered).toEqual(expect.arrayContaining(['Efrit: Explain', 'Efrit: Add documentation', 'Efrit: Write tests']));
    expect(result.code_action_methods).toEqual(['textDocument/codeAction', 'codeAction/resolve']);
    expect(result.buffer_text).toContain('/** Sums unit price × quantity over all line items, in cents. */\nexport function subtotal(');
    // The slow one outlasted the resolve budget: resolve handed back efrit.applyJob, which Neovim ran.
    expect(result.slow_action_methods).toEqual(['textDocument/codeAction', 'codeAction/resolve', 'workspace/executeCommand']);
    expect(result.buffer_text).toContain(`  return Math.round(discounted * (1 + TAX_RATE));\n}\n${inSourceTests}`);
    // ...after the user's own edits, which reached the server first.
    const docRequest = fake.requests.find((r) => lastUserText(r).includes('Add documentation comments'));
    expect(JSON.stringify(docRequest?.body.messages)).toContain('TAX_RATE = 0.25');
    expect(JSON.stringify(docRequest?.body.messages)).toContain('// Prices are in cents');

    // Chat: streamed into the chat buffer (seen part-way), two turns in one session.
    expect(result.chat_visible).toBe(true);
    expect(result.partial_chat.some((t) => t.includes(firstReply[0] ?? '') && !t.includes(firstReply.join('')))).toBe(true);
    expect(result.chat_text).toContain(`## You\nWhat does applyDiscount do?`);
    expect(result.chat_text).toContain(`## Efrit\n${firstReply.join('')}`);
    expect(result.chat_text).toContain(`## Efrit\n${secondReply.join('')}`);
    expect(result.session1).toMatch(/^session-/);
    expect(result.session2).toBe(result.session1);
    const chat1 = fake.requests.find((r) => lastUserText(r).includes('What does applyDiscount do?'));
    const chat2 = fake.requests.find((r) => lastUserText(r).includes('Does it check that percent is in range?'));
    // The first turn is about the selected lines of the file; the second carries the first.
    expect(textOf(messagesOf(chat1)[0])).toContain('export function applyDiscount(price: number, percent: number): number {');
    expect(messagesOf(chat2).map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(textOf(messagesOf(chat2)[1])).toBe(firstReply.join(''));

    // Do: the agent's edit, applied through workspace/applyEdit.
    expect(result.buffer_text).toContain('  const clamped = Math.min(Math.max(percent, 0), 100);\n  return price - (price * clamped) / 100;');
    expect(result.notes.some((n) => n.msg === 'Efrit: done: applyDiscount() clamps percent to 0..100.')).toBe(true);

    // The ranges reached the server as selected: whole lines, and characterwise in UTF-16 columns.
    const { first, last, last_text: lastText } = result.chat_range;
    expect(textOf(messagesOf(chat1)[0])).toContain(`selection at ${first}:1-${last}:${lastText.length + 1}`);
    const explainRequest = fake.requests.find((r) => lastUserText(r).includes('Explain what the selected code does'));
    const { line: docLine, text: docText } = result.explain_selection;
    const column = docText.indexOf('quantity') + 1;
    expect(Buffer.byteLength(docText.slice(0, column - 1))).toBeGreaterThan(column - 1); // bytes ≠ UTF-16 units here
    expect(lastUserText(explainRequest as RecordedRequest)).toContain(`selection at ${docLine}:${column}-${docLine}:${column + 'quantity'.length}`);

    // Explain: streamed into a float, and (Lua API) into the chat buffer.
    expect(result.floats.some((f) => f.includes(explanation.join('')))).toBe(true);
    expect(result.chat_text).toMatch(new RegExp(`## Explain ~/shop/src/pricing\\.ts:\\d+-\\d+\\n${explanation.join('').replace(/[.*+?^${}()|[\]\\`]/g, '\\$&')}`));

    // Status.
    expect(result.notes.some((n) => n.msg.includes('efrit-lsp') && n.msg.includes('model claude-test-model'))).toBe(true);

    // Cancel: answered, the API call hung up on, the chat buffer says so.
    expect(result.statusline_busy).toMatch(/^Efrit chat/);
    expect(result.statusline_idle).toBe('');
    expect(result.chat_text).toMatch(/Well, [^\n]*\n\n_\[cancelled\]_/);
    const essayRequest = fake.requests.find((r) => lastUserText(r).includes('Write me an essay'));
    expect(essayRequest?.outcome).toBe('aborted-by-client');

    // Streaming happened through efrit/stream.
    expect(result.stream_kinds['text'] ?? 0).toBeGreaterThanOrEqual(5);
    expect(result.stream_kinds['done'] ?? 0).toBeGreaterThanOrEqual(7);
    expect(result.stream_kinds['error']).toBe(1);

    // $/progress went through Neovim's own handler (User LspProgressUpdate), one token per model job, each ended.
    if (result.progress !== undefined) {
      expect(result.progress_updates).toBeGreaterThanOrEqual(8);
      expect(result.progress.filter((p) => p.done)).toHaveLength(8);
      expect(result.progress.map((p) => p.title)).toEqual(expect.arrayContaining(['Efrit: Chat', 'Efrit: Add documentation']));
    }

    // :checkhealth efrit
    expect(result.health).toMatch(/OK:? Neovim 0\.\d+\.\d+; the server is started with vim\.lsp\./);
    expect(result.health).toMatch(/OK:? API key: ANTHROPIC_API_KEY is set/);
    expect(result.health).not.toContain(testApiKey);
    expect(result.health).toMatch(/OK:? client \d+ running, root .*shop/);

    // No errors shown, and the server's copy of the document is the buffer.
    expect(result.notes.filter((n) => n.level >= 4)).toEqual([]);
    expect(result.server_text).toBe(result.buffer_text);
    expect(result.server_version).toBe(result.changedtick);

    // Eight model calls, each with the key, none unexpected.
    expect(fake.requests).toHaveLength(8);
    expect(fake.requests.every((r) => r.apiKeyMatched)).toBe(true);
    expect(fake.requests.map((r) => lastUserText(r)).filter((t) => t.includes('(unexpected request)'))).toEqual([]);
    expect(fake.requests.every((r) => r.body.model === 'claude-test-model')).toBe(true);
  }, 45_000);

  it('shows a clear error naming ANTHROPIC_API_KEY when the server has no key, and keeps working', async () => {
    const made = makeProject();
    workDir = made.workDir;
    const { result, nvim, detail } = await runScenario<{ actions: string[]; chat_text: string; notes: { msg: string; level: number }[]; statusline: string }>(
      'efrit-nokey.lua',
      workDir,
      { EFRIT_TEST_PROJECT: made.project },
    );
    expect(result.error, detail).toBeUndefined();
    expect(nvim.code, detail).toBe(0);
    expect(result.actions).toEqual(expect.arrayContaining(['Efrit: Explain', 'Efrit: Add documentation']));
    expect(result.chat_text).toMatch(/## Efrit\n\n\*\*Error:\*\* .*ANTHROPIC_API_KEY/);
    const errors = result.notes.filter((n) => n.level === 4).map((n) => n.msg);
    expect(errors.filter((m) => m.startsWith('Efrit: ') && m.includes('ANTHROPIC_API_KEY'))).toHaveLength(2); // chat and do
    expect(result.notes.some((n) => n.msg.includes('no API key (set ANTHROPIC_API_KEY)'))).toBe(true);
    expect(result.statusline).toBe('');
  }, 30_000);

  it('shows ghost text on Neovim without vim.lsp.inline_completion: explicit, automatic, typed ahead, cleared, dropped when stale, accepted with <Tab>', async () => {
    const signals = namedGates();
    fake = await startFakeAnthropic({ apiKey: testApiKey, respond: (request) => respondGhost(request, signals) });
    workDir = mkdtempSync(join(tmpdir(), 'efrit-nvim-ghost-'));
    const project = join(workDir, 'shop');
    mkdirSync(join(project, '.git'), { recursive: true });
    const file = join(project, 'pricing.py');
    writeFileSync(file, pricingPy);

    const { result, nvim, detail } = await runScenario<GhostResult>(
      'efrit-ghost-test.lua',
      workDir,
      {
        ANTHROPIC_API_KEY: testApiKey,
        ANTHROPIC_BASE_URL: fake.url,
        EFRIT_TEST_FILE: file,
      },
      signals,
    );
    expect(result.error, detail).toBeUndefined();
    expect(nvim.code, detail).toBe(0);
    expect(result.complete_command).toBe(true);
    expect(result.inline_provider).toBe(true);
    expect(result.tab_mapping).toEqual({ buffer: true, expr: true });

    // <Tab> does its usual job while no suggestion shows.
    expect(result.ghost_before).toBeNull();
    expect(result.tab_line).toBe('# Prices are in cents.\t');

    // Asked explicitly: the cleaned suggestion, at the end of the line at the cursor, the buffer untouched.
    const suggestion = 'order.unit_price * order.quantity';
    // After the line's end before 0.10 (Debian 12 has 0.7.2), inline virtual text at the cursor from 0.10.
    const { major, minor } = result.nvim_version;
    const pos = major === 0 && minor < 10 ? 'eol' : 'inline';
    const ghost = (text: string, virtLines: string[] = []) => ({ count: 1, text, hl: 'EfritGhost', pos, virt_lines: virtLines, at_cursor: true });
    expect(result.shown).toEqual(ghost(suggestion));
    expect(result.shown_api).toBe(suggestion);
    expect(result.shown_trigger).toBe(1);
    expect(result.shown_buffer_unchanged).toBe(true);
    expect(result.shown_insert_mode).toBe(true);
    // Ghost text requests are not efrit work to show in the statusline.
    expect(result.statusline_while_shown).toBe('');

    // A character that does not match clears it.
    expect(result.after_mismatch).toBeNull();
    expect(result.after_mismatch_api).toBeNull();

    // After a pause in typing, the automatic request (triggerKind 2) shows it again.
    expect(result.automatic).toEqual(ghost(suggestion));
    expect(result.automatic_triggers.length).toBeGreaterThanOrEqual(1);
    expect(result.automatic_triggers.every((k) => k === 2)).toBe(true);

    // Typing its beginning keeps the rest, with no request.
    expect(result.typed_ahead).toEqual(ghost('der.unit_price * order.quantity'));
    expect(result.typed_ahead_later).toEqual(ghost('der.unit_price * order.quantity'));
    expect(result.typed_ahead_requests).toBe(0);

    // <Tab> accepts: the text is in, the cursor after it (still in Insert mode), the ghost gone, the server in sync.
    expect(result.accepted_line).toBe('    return order.unit_price * order.quantity');
    expect(result.after_accept).toBeNull();
    expect(result.cursor_after_accept.col).toBe(result.cursor_after_accept.eol);
    expect(result.cursor_after_accept.row).toBe(result.cursor_after_accept.line);
    expect(result.accept_insert_mode).toBe(true);
    expect(result.sync_after_accept).toBe(true);

    // Two lines: the first after the line, the second as a virtual line; accepted whole, cursor at its end.
    expect(result.multi).toEqual(ghost('order_total(order)', ['    return f"{total:.2f}"']));
    expect(result.multi_api).toBe('order_total(order)\n    return f"{total:.2f}"');
    expect(result.multi_lines).toEqual(['    total = order_total(order)', '    return f"{total:.2f}"']);
    expect(result.multi_cursor).toEqual({ row: 1, col: '    return f"{total:.2f}"'.length, eol: '    return f"{total:.2f}"'.length });
    expect(result.after_multi).toBeNull();

    // An answer that came after the cursor moved was dropped; asked again it showed; leaving Insert mode cleared it.
    expect(result.statusline_while_asking).toBe('');
    expect(result.busy_while_asking).toBe(false);
    expect(result.after_stale_answer).toBeNull();
    expect(result.with_tax).toEqual(ghost('amount * (1 + TAX_RATE)'));
    expect(result.after_insert_leave).toBeNull();

    // The server: the same text as the buffer; both accepted suggestions counted, through their command.
    expect(result.server_text).toBe(result.buffer_text);
    expect(result.buffer_text).toBe(
      pricingPy
        .replace('    return \n\n\ndef receipt', '    return order.unit_price * order.quantity\n\n\ndef receipt')
        .replace('    total = \n', '    total = order_total(order)\n    return f"{total:.2f}"\n'),
    );
    expect(result.commands.filter((c) => c === 'efrit.completionAccepted')).toHaveLength(2);
    expect(result.status).toMatchObject({ accepted: 2 });
    expect(result.status.shown).toBeGreaterThanOrEqual(5);
    expect(result.notes.filter((n) => n.level >= 3)).toEqual([]);
    expect(fake.requests.length).toBeGreaterThanOrEqual(3);
    expect(fake.requests.every((r) => r.apiKeyMatched)).toBe(true);
    expect(fake.requests.map((r) => lastUserText(r)).filter((t) => t.includes('UNEXPECTED'))).toEqual([]);
  }, 45_000);

  it('ties each stream to its request from the first note on, and shows a cancellation the server made at once', async () => {
    const lineOf = (needle: string): number => pricingTs.slice(0, pricingTs.indexOf(needle)).split('\n').length;
    const asksAbout = (request: RecordedRequest, needle: string): boolean => lastUserText(request).includes(`selection at ${lineOf(needle)}:1-`);
    const subtotalText = ['`subtotal` multiplies ', 'and sums.'];
    const discountText = ['`applyDiscount` takes ', 'a percentage off.'];
    const signals = namedGates();
    fake = await startFakeAnthropic({
      apiKey: testApiKey,
      respond: (request) => {
        // Held until the script has seen the second explanation answered in full: its text streams while this one waits.
        if (asksAbout(request, 'export function subtotal')) return { text: subtotalText, hold: { until: signals.opened('second-explained') } };
        if (asksAbout(request, 'export function applyDiscount')) return { text: discountText };
        if (asksAbout(request, 'export function total')) {
          // The older explanation is held until the server hangs up on it (the newer one replaces it).
          if (!lastUserText(request).includes('// end of pricing')) return { text: 'Too late.', hold: { until: never } };
          return { text: ['`total` applies ', 'the discount and the tax.'] };
        }
        // The first words, then nothing until the user cancels.
        if (lastUserText(request).includes('Write me an essay')) return { text: essay, hold: { until: never, afterEvents: afterFirstDelta } };
        return { text: `(unexpected request) ${lastUserText(request).slice(0, 200)}` };
      },
    });
    const made = makeProject();
    workDir = made.workDir;
    const { result, nvim, detail } = await runScenario<{
      snapshots: string[];
      after_both: string;
      stream_notes: { jobId: string; streamId: string | null; kind: string }[];
      after_superseded: string;
      busy_after_cancel: boolean;
      statusline_after_cancel: string;
      after_cancel: string;
      notes: { msg: string; level: number }[];
    }>('efrit-streams-test.lua', workDir, { ANTHROPIC_API_KEY: testApiKey, ANTHROPIC_BASE_URL: fake.url, EFRIT_TEST_PROJECT: made.project }, signals);
    expect(result.error, detail).toBeUndefined();
    expect(nvim.code, detail).toBe(0);

    // Every note of the two explanations carried the name of its request, the first one included.
    const secondDone = result.stream_notes.map((n, i) => (n.kind === 'done' ? i : -1)).filter((i) => i >= 0)[1] as number;
    const explainNotes = result.stream_notes.slice(0, secondDone + 1);
    expect(explainNotes.every((n) => typeof n.streamId === 'string' && n.streamId.startsWith('nvim-'))).toBe(true);
    expect(new Set(explainNotes.map((n) => n.streamId)).size).toBe(2);
    // While the texts streamed, each stayed in its own entry: the second's never above the second's heading.
    const secondHeading = new RegExp(`## Explain [^\\n]*:${lineOf('export function applyDiscount')}-`);
    for (const snapshot of result.snapshots) {
      const split = snapshot.search(secondHeading);
      expect(split, snapshot).toBeGreaterThan(0);
      expect(snapshot.slice(0, split), snapshot).not.toContain(discountText[0]);
      expect(snapshot.slice(split), snapshot).not.toContain(subtotalText[0]);
    }
    expect(result.snapshots.some((s) => s.includes(discountText.join('')) && !s.includes(subtotalText[0] ?? ''))).toBe(true);
    expect(result.after_both).toMatch(new RegExp(`:${lineOf('export function subtotal')}-\\d+\\n${escapeRegExp(subtotalText.join(''))}\\n`));
    expect(result.after_both).toMatch(new RegExp(`:${lineOf('export function applyDiscount')}-\\d+\\n${escapeRegExp(discountText.join(''))}\\n`));

    // The older explanation: ended by the server, and said so in its entry and as a warning.
    expect(result.after_superseded).toMatch(/_\[the server cancelled it: Superseded by a newer request for the same thing\.\]_\n\n## Explain [^\n]*\n`total` applies the discount and the tax\.\n/);
    expect(result.notes).toContainEqual({ msg: 'Efrit: the server cancelled it: Superseded by a newer request for the same thing.', level: 3 });

    // :EfritCancel: done the moment it returns, the API call hung up on.
    expect(result.busy_after_cancel).toBe(false);
    expect(result.statusline_after_cancel).toBe('');
    expect(result.after_cancel).toMatch(/Well, [^\n]*\n\n_\[cancelled\]_/);
    expect(result.notes.some((n) => /cancelled 1 job/.test(n.msg))).toBe(true);
    const essayOutcome = () => fake?.requests.find((r) => lastUserText(r).includes('Write me an essay'))?.outcome;
    await eventually(() => (essayOutcome() === 'aborted-by-client' ? true : undefined), 'the essay request to be hung up on');
    expect(result.notes.filter((n) => n.level >= 4)).toEqual([]);
  }, 45_000);

  it('ships a help file whose tags Neovim accepts', async () => {
    workDir = mkdtempSync(join(tmpdir(), 'efrit-nvim-doc-'));
    const doc = join(workDir, 'doc');
    cpSync(join(pluginDir, 'doc'), doc, { recursive: true });
    const nvim = await run('timeout', ['20', 'nvim', '--headless', '-u', 'NONE', '-i', 'NONE', '-n', '-c', `helptags ${doc}`, '-c', 'qa!'], { PATH: process.env['PATH'], HOME: workDir }, 20_000);
    expect(nvim.code, nvim.stderr).toBe(0);
    expect(nvim.stderr).not.toMatch(/E\d+:/);
    expect(existsSync(join(doc, 'tags'))).toBe(true);
    const tags = readFileSync(join(doc, 'tags'), 'utf8');
    for (const tag of ['efrit.txt', ':EfritChat', ':EfritDo', ':EfritExplain', ':EfritStatus', ':EfritCancel', 'efrit.setup()', 'efrit.statusline()', 'User_EfritStream', ':EfritComplete', 'efrit.complete()', 'efrit.accept()', 'efrit-ghost-text', 'hl-EfritGhost']) {
      expect(tags).toContain(`${tag}\tefrit.txt`);
    }
  });
});
