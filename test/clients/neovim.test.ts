/**
 * The Neovim client (clients/neovim) in the real editor: headless Neovim runs
 * the Lua scenarios in test/clients/neovim/ against the built server and the
 * fake Messages API (which runs in this process, so its request log can be
 * asserted on). Each describe block runs one scenario once, as the shared
 * fixture of its tests; each test asserts on one case of it
 * (test/clients/neovim-runner.ts), so a failure names what broke.
 *
 * efrit-test.lua: the commands before setup(); attaching with the default
 * command (efrit-lsp on PATH); an "Efrit: Add documentation" code action
 * through vim.lsp.buf.code_action() (resolved), and a slow "Efrit: Write
 * tests" one (resolve hands back efrit.applyJob); a two-turn :EfritChat; an
 * :EfritDo edit; :EfritExplain into a float (and its keys) and into the chat
 * buffer; :EfritStatus; :EfritCancel; the server's copy of the document;
 * :checkhealth efrit.
 * efrit-startup-test.lua: commands given while the server is starting.
 * efrit-nokey.lua: no API key; the status display offline.
 * efrit-providers-test.lua: :EfritStatus after a session on two providers (Claude, an openai: fast model).
 * efrit-ghost-test.lua: the plugin's own ghost text, typed for real.
 * efrit-streams-test.lua: streams tied to their requests, cancellations.
 * efrit-review-test.lua: :EfritDo's review of a change across files (accept,
 * reject, reject one file, a change refused whole), against the scripted model.
 * efrit-apply-test.lua: the plugin's workspace/applyEdit handler and its diff
 * preview, with no server: what lands, and what is refused before anything does.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { shouldRunEditorTests } from './editors.js';
import { pluginDir, repoRoot, runCommand, scriptDir, serverEntry, useScenario, type Note } from './neovim-runner.js';
import { eventually } from '../support/eventually.js';
import { startFakeAnthropic, type FakeReply, type RecordedRequest } from '../support/fake-anthropic/server.js';
import { never, type NamedGates } from '../support/gate.js';
import { editReply, testApiKey } from '../support/harness.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai/server.js';
import { testOpenAIKey } from '../support/openai-harness.js';
import type { ProviderUsageSummary } from '../../server/src/protocol.js';

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
  /** The ghost text extmark's column (0-based bytes) and the screen column its text was drawn at. */
  ghost_place: { col: number; screen_col: number | null } | null;
  /** Where <Tab> put the accepted text: its column in the line and the screen column that shows it. */
  inserted_place: { col: number; screen_col: number };
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

/** A temporary project holding src/pricing.ts, in `dir`. */
function makeProject(dir: string): string {
  const project = join(dir, 'shop');
  mkdirSync(join(project, 'src'), { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'shop', version: '1.0.0', type: 'module' }, null, 2));
  writeFileSync(join(project, 'src', 'pricing.ts'), pricingTs);
  return project;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\`]/g, '\\$&');
const errorsIn = (notes: Note[]): Note[] => notes.filter((n) => n.level >= 4);

interface MainResult {
  before_setup: { exist: Record<string, boolean>; notes: Note[]; cmd: string[] };
  root_dir: string;
  offset_encoding: string;
  resolve_provider: boolean;
  offered: string[];
  code_action_methods: string[];
  slow_action_methods: string[];
  chat_range: { first: number; last: number; last_text: string };
  chat_kept_cursor: boolean;
  chat_visible: boolean;
  session1: string;
  session2: string;
  partial_chat: string[];
  chat_after_first: string;
  chat_after_second: string;
  do_review: string;
  after_do: string;
  floats: string[];
  explain_selection: { line: number; text: string };
  float_keys: {
    shown: number;
    while_shown: { q: { buffer: boolean; desc: string | null }; esc: { buffer: boolean; desc: string | null } };
    replaced: string[];
    after_q: number;
    recording: string;
    q_after: string;
    esc_after: { buffer: boolean; desc: string | null };
  };
  chat_after_explain: string;
  status_note: string;
  statusline_busy: string;
  statusline_idle: string;
  chat_after_cancel: string;
  server_text: string;
  server_version: number;
  buffer_text: string;
  changedtick: number;
  stream_kinds: Record<string, number>;
  /** Absent on Neovim 0.10+, which keeps $/progress elsewhere. */
  progress_updates?: number;
  progress?: { token: string; title: string; done: boolean }[];
  health: string;
}

describe.skipIf(!runNvim)('the Neovim client (headless nvim)', () => {
  describe('in a TypeScript project', () => {
    let project = '';
    let bin = '';
    const scenario = useScenario<MainResult>('efrit-test.lua', async (dir, signals) => {
      project = makeProject(dir);
      // efrit-lsp on PATH, as `npm install -g` of the checkout puts it there: the plugin's default command finds it.
      bin = join(dir, 'bin');
      mkdirSync(bin);
      symlinkSync(serverEntry, join(bin, 'efrit-lsp'));
      const fake = await startFakeAnthropic({ apiKey: testApiKey, respond: (request) => respond(request, signals) });
      return {
        fake,
        env: { PATH: `${bin}${delimiter}${process.env['PATH'] ?? ''}`, ANTHROPIC_API_KEY: testApiKey, ANTHROPIC_BASE_URL: fake.url, EFRIT_TEST_PROJECT: project },
      };
    });
    const requestAsking = (text: string): RecordedRequest | undefined => scenario.fake().requests.find((r) => lastUserText(r).includes(text));

    it('defines its commands at startup (plugin/efrit.lua); before setup() they say to call it', () => {
      const { before_setup: before } = scenario.passed('commands before setup');
      expect(Object.values(before.exist)).toEqual([true, true, true, true, true, true]);
      expect(before.notes).toEqual([
        { msg: 'Efrit: call require("efrit").setup() first, e.g. in your init.lua (see :help efrit-setup)', level: 3 },
        { msg: 'Efrit: call require("efrit").setup() first, e.g. in your init.lua (see :help efrit-setup)', level: 3 },
      ]);
      scenario.passed('setup');
    });

    it('starts efrit-lsp from PATH by default, never through a registry lookup', () => {
      expect(scenario.passed('commands before setup').before_setup.cmd).toEqual(['efrit-lsp', '--stdio']);
    });

    it('attaches to the project root (package.json), with codeAction/resolve, starting efrit-lsp from PATH', () => {
      const result = scenario.passed('attach');
      expect(result.root_dir).toBe(project);
      expect(result.resolve_provider).toBe(true);
    });

    it('applies a code action through vim.lsp.buf.code_action(), resolved lazily, after the user’s edits', () => {
      const result = scenario.passed('code action');
      expect(result.offered).toEqual(expect.arrayContaining(['Efrit: Explain', 'Efrit: Add documentation', 'Efrit: Write tests']));
      expect(result.code_action_methods).toEqual(['textDocument/codeAction', 'codeAction/resolve']);
      expect(result.buffer_text).toContain('/** Sums unit price × quantity over all line items, in cents. */\nexport function subtotal(');
      // The user's own edits reached the server first.
      const asked = JSON.stringify(requestAsking('Add documentation comments')?.body.messages);
      expect(asked).toContain('TAX_RATE = 0.25');
      expect(asked).toContain('// Prices are in cents');
    });

    it('applies a slow code action through efrit.applyJob when the model outlasts the resolve budget', () => {
      const result = scenario.passed('slow code action');
      expect(result.slow_action_methods).toEqual(['textDocument/codeAction', 'codeAction/resolve', 'workspace/executeCommand']);
      expect(result.buffer_text).toContain(`  return Math.round(discounted * (1 + TAX_RATE));\n}\n${inSourceTests}`);
    });

    it('streams a chat reply into the chat buffer, about the lines given, leaving the cursor in the source', () => {
      const result = scenario.passed('chat');
      expect(result.chat_kept_cursor).toBe(true);
      expect(result.chat_visible).toBe(true);
      expect(result.partial_chat.some((t) => t.includes(firstReply[0] ?? '') && !t.includes(firstReply.join('')))).toBe(true);
      expect(result.chat_after_first).toContain('## You\nWhat does applyDiscount do?');
      expect(result.chat_after_first).toContain(`## Efrit\n${firstReply.join('')}`);
      expect(result.session1).toMatch(/^session-/);
      const chat1 = requestAsking('What does applyDiscount do?');
      expect(textOf(messagesOf(chat1)[0])).toContain('export function applyDiscount(price: number, percent: number): number {');
      // Whole lines, as the command's range gave them.
      const { first, last, last_text: lastText } = result.chat_range;
      expect(textOf(messagesOf(chat1)[0])).toContain(`selection at ${first}:1-${last}:${lastText.length + 1}`);
    });

    it('continues the conversation in the same session', () => {
      const result = scenario.passed('chat follow-up');
      expect(result.chat_after_second).toContain(`## Efrit\n${secondReply.join('')}`);
      expect(result.session2).toBe(result.session1);
      const chat2 = requestAsking('Does it check that percent is in range?');
      expect(messagesOf(chat2).map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
      expect(textOf(messagesOf(chat2)[1])).toBe(firstReply.join(''));
    });

    it('shows an :EfritDo edit for review, applies it on a (efrit.applyJob) and says what it did', () => {
      const result = scenario.passed('do');
      expect(result.do_review).toContain('-  return price - (price * percent) / 100;\n+  const clamped = Math.min(Math.max(percent, 0), 100);\n+  return price - (price * clamped) / 100;\n');
      expect(result.after_do).toContain('  const clamped = Math.min(Math.max(percent, 0), 100);\n  return price - (price * clamped) / 100;');
      expect(result.notes.some((n) => n.msg === 'Efrit: applied: applyDiscount() clamps percent to 0..100.')).toBe(true);
    });

    it('streams :EfritExplain into a float, for a characterwise selection in UTF-16 columns', () => {
      const result = scenario.passed('explain in a float');
      expect(result.floats.some((f) => f.includes(explanation.join('')))).toBe(true);
      const { line: docLine, text: docText } = result.explain_selection;
      const column = docText.indexOf('quantity') + 1;
      expect(Buffer.byteLength(docText.slice(0, column - 1))).toBeGreaterThan(column - 1); // bytes ≠ UTF-16 units here
      const asked = requestAsking('Explain what the selected code does');
      expect(lastUserText(asked as RecordedRequest)).toContain(`selection at ${docLine}:${column}-${docLine}:${column + 'quantity'.length}`);
    });

    it('closes the explain float with q from the source window (no macro recorded), and gives the buffer its own <Esc> back, also after a newer float replaced it', () => {
      const { float_keys: keys } = scenario.passed('explain float keys');
      expect(keys.shown).toBe(1);
      expect(keys.while_shown).toEqual({
        q: { buffer: true, desc: 'Efrit: close the explanation' },
        esc: { buffer: true, desc: 'Efrit: close the explanation' },
      });
      // A second explanation replaced the first float; q closed it all the same.
      expect(keys.replaced).toHaveLength(1);
      expect(keys.replaced[0]).toMatch(/^# Explain ~\/shop\/src\/pricing\.ts:\d+-\d+\n/);
      expect(keys.after_q).toBe(0);
      expect(keys.recording).toBe('');
      expect(keys.q_after).toBe('');
      expect(keys.esc_after).toEqual({ buffer: true, desc: 'the user’s own' });
    });

    it('streams an explanation into the chat buffer through the Lua API', () => {
      const result = scenario.passed('explain into the chat buffer');
      expect(result.chat_after_explain).toMatch(new RegExp(`## Explain ~/shop/src/pricing\\.ts:\\d+-\\d+\\n${escapeRegExp(explanation.join(''))}`));
    });

    it('shows the server status with :EfritStatus', () => {
      const result = scenario.passed('status');
      expect(result.status_note).toMatch(/^Efrit: efrit-lsp \S+ — model claude-test-model\n/);
    });

    it('cancels a running chat with :EfritCancel: marked cancelled, the API call hung up on', () => {
      const result = scenario.passed('cancel');
      expect(result.statusline_busy).toMatch(/^Efrit chat/);
      expect(result.statusline_idle).toBe('');
      expect(result.chat_after_cancel).toMatch(/Well, [^\n]*\n\n_\[cancelled\]_/);
      expect(requestAsking('Write me an essay')?.outcome).toBe('aborted-by-client');
    });

    it('keeps the server’s copy of the document equal to the buffer, streams through efrit/stream, ends every $/progress', () => {
      const result = scenario.passed('sync');
      expect(result.server_text).toBe(result.buffer_text);
      expect(result.server_version).toBe(result.changedtick);
      expect(result.stream_kinds['text'] ?? 0).toBeGreaterThanOrEqual(5);
      expect(result.stream_kinds['done'] ?? 0).toBeGreaterThanOrEqual(9);
      expect(result.stream_kinds['error']).toBe(1);
      // $/progress went through Neovim's own handler (User LspProgressUpdate), one token per model job, each ended.
      if (result.progress !== undefined) {
        expect(result.progress_updates).toBeGreaterThanOrEqual(10);
        expect(result.progress.filter((p) => p.done)).toHaveLength(10);
        expect(result.progress.map((p) => p.title)).toEqual(expect.arrayContaining(['Efrit: Chat', 'Efrit: Add documentation']));
      }
    });

    it('reports Neovim, the server command, Node and the key (never shown) in :checkhealth efrit', () => {
      const result = scenario.passed('checkhealth');
      expect(result.health).toMatch(/OK:? Neovim 0\.\d+\.\d+; the server is started with vim\.lsp\./);
      expect(result.health).toContain(`command: efrit-lsp --stdio (${join(bin, 'efrit-lsp')})`);
      expect(result.health).toMatch(/OK:? Node v\d+\.\d+\.\d+/);
      expect(result.health).toMatch(/OK:? API key: ANTHROPIC_API_KEY is set/);
      expect(result.health).not.toContain(testApiKey);
      expect(result.health).toMatch(/OK:? client \d+ running, root .*shop/);
    });

    it('ran to its end with no error shown and no model call unexpected', () => {
      const result = scenario.passed('checkhealth');
      expect(scenario.run().code).toBe(0);
      expect(errorsIn(result.notes)).toEqual([]);
      const requests = scenario.fake().requests;
      expect(requests).toHaveLength(10);
      expect(requests.every((r) => r.apiKeyMatched)).toBe(true);
      expect(requests.map((r) => lastUserText(r)).filter((t) => t.includes('(unexpected request)'))).toEqual([]);
      expect(requests.every((r) => r.body.model === 'claude-test-model')).toBe(true);
    });
  });

  describe('while the server starts', () => {
    const scenario = useScenario<{
      startup: { ready_before: boolean; busy_while_starting: boolean; chat_text: string; notes: Note[] };
      exits: { busy: boolean; notes: Note[] };
      silent: { busy: boolean; notes: Note[] };
      health_missing: string;
      commands_left: number;
    }>('efrit-startup-test.lua', async (dir) => {
      const project = makeProject(dir);
      const fake = await startFakeAnthropic({
        apiKey: testApiKey,
        respond: (request) => (lastUserText(request).includes('What is TAX_RATE?') ? { text: ['TAX_RATE is the tax rate, ', '20%.'] } : { text: `(unexpected request) ${lastUserText(request).slice(0, 200)}` }),
      });
      return { fake, env: { ANTHROPIC_API_KEY: testApiKey, ANTHROPIC_BASE_URL: fake.url, EFRIT_TEST_PROJECT: project } };
    });

    it('runs :EfritChat and :EfritStatus given right after opening a file once the client has attached', () => {
      const { startup } = scenario.passed('chat while the server starts');
      expect(startup.ready_before).toBe(false);
      expect(startup.busy_while_starting).toBe(true);
      expect(startup.chat_text).toContain('## You\nWhat is TAX_RATE?');
      expect(startup.chat_text).toContain('## Efrit\nTAX_RATE is the tax rate, 20%.');
      expect(startup.notes.filter((n) => n.msg.includes('no efrit-lsp server'))).toEqual([]);
      expect(startup.notes.some((n) => /^Efrit: efrit-lsp \S+ — model claude-test-model/.test(n.msg))).toBe(true);
      expect(errorsIn(startup.notes)).toEqual([]);
    });

    it('says so when the server exits before it is ready', () => {
      const { exits } = scenario.passed('a server that exits before it is ready');
      expect(exits.notes).toContainEqual({ msg: 'Efrit: the efrit-lsp server stopped before it was ready (false)', level: 3 });
      expect(exits.busy).toBe(false);
    });

    it('gives up after attach_timeout when the server never answers, naming the command', () => {
      const { silent } = scenario.passed('a server that never answers');
      expect(silent.notes).toContainEqual({ msg: 'Efrit: the efrit-lsp server did not start within 0.05 s (sleep 60); see :checkhealth efrit', level: 3 });
      expect(silent.busy).toBe(false);
    });

    it('says in :checkhealth efrit when the server command is not on PATH, and how to install it', () => {
      const result = scenario.passed('checkhealth with a server command not on PATH');
      expect(result.health_missing).toMatch(/ERROR:? efrit-lsp-not-installed is not on PATH or not executable/);
      expect(result.health_missing).toContain('npm install -g');
    });

    it('removes its commands with create_commands = false', () => {
      expect(scenario.passed('setup without commands').commands_left).toBe(0);
    });
  });

  describe('without an API key', () => {
    const scenario = useScenario<{
      actions: string[];
      chat_text: string;
      chat_notes: Note[];
      do_notes: Note[];
      status_note: string;
      statusline: string;
      status_online: string;
      status_offline: string;
      spend_lines: string[];
      status_with_spend: string;
    }>(
      'efrit-nokey.lua',
      async (dir) => ({ env: { EFRIT_TEST_PROJECT: makeProject(dir) } }),
    );
    const keyError = (notes: Note[]): Note[] => notes.filter((n) => n.level === 4 && n.msg.startsWith('Efrit: ') && n.msg.includes('ANTHROPIC_API_KEY'));

    it('lists the code actions, which need no model', () => {
      expect(scenario.passed('code actions without a key').actions).toEqual(expect.arrayContaining(['Efrit: Explain', 'Efrit: Add documentation']));
    });

    it('ends a chat with an error naming ANTHROPIC_API_KEY, in the chat buffer and as a message', () => {
      const result = scenario.passed('chat without a key');
      expect(result.chat_text).toMatch(/## Efrit\n\n\*\*Error:\*\* .*ANTHROPIC_API_KEY/);
      expect(keyError(result.chat_notes)).toHaveLength(1);
    });

    it('ends :EfritDo with an error naming ANTHROPIC_API_KEY', () => {
      expect(keyError(scenario.passed('do without a key').do_notes)).toHaveLength(1);
    });

    it('says "no API key" in :EfritStatus, and the statusline is idle', () => {
      const result = scenario.passed('status without a key');
      expect(result.status_note).toContain('no API key (set ANTHROPIC_API_KEY)');
      expect(result.statusline).toBe('');
      expect(scenario.run().code).toBe(0);
    });

    it('says "offline" in :EfritStatus when the server answers with its built-in demo model (efrit/status offline)', () => {
      const result = scenario.passed('status display offline');
      expect(result.status_offline.split('\n')[0]).toBe('efrit-lsp 1.2.3 — offline: the built-in demo model answers, no API calls');
      // An answer without the field is not offline.
      expect(result.status_online.split('\n')[0]).toBe('efrit-lsp 1.2.3 — model claude-test-model — no API key (set ANTHROPIC_API_KEY)');
    });

    it('shows money spent in :EfritStatus where a price is known, and counts the calls with none without pricing them', () => {
      const result = scenario.passed('status display offline');
      expect(result.spend_lines).toEqual([
        'spent: $0.0123',
        'spent: $0.0100 (+1 call with no known price)',
        'spent: no price known for this model (tokens only)',
        'none',
        'none',
      ]);
      expect(result.status_with_spend.split('\n')).toContain('spent: $0.5000');
    });
  });

  describe('a session on two providers (:EfritStatus)', () => {
    let openai: FakeOpenAI | undefined;
    const scenario = useScenario<{ chat_text: string; completion: string[]; status_note: string; providers: Record<string, ProviderUsageSummary>; mixed_lines: string[]; older_lines: number }>(
      'efrit-providers-test.lua',
      async (dir) => {
        const fake = await startFakeAnthropic({ apiKey: testApiKey, respond: () => ({ text: ['`applyDiscount` takes ', 'a percentage off the price.'] }) });
        openai = await startFakeOpenAI({ apiKey: testOpenAIKey, respond: () => ({ text: 'item.unitPrice * item.quantity;' }) });
        return {
          fake,
          env: { ANTHROPIC_API_KEY: testApiKey, ANTHROPIC_BASE_URL: fake.url, OPENAI_API_KEY: testOpenAIKey, EFRIT_TEST_OPENAI_URL: openai.baseURL, EFRIT_TEST_PROJECT: makeProject(dir) },
        };
      },
    );
    afterAll(async () => {
      await openai?.close();
    });

    it('chats on Claude and completes from the openai: fast model', () => {
      expect(scenario.passed('a chat on Claude').chat_text).toContain('a percentage off the price.');
      expect(scenario.passed('a completion from the openai fast model').completion).toEqual(['item.unitPrice * item.quantity;']);
      expect(scenario.fake().requests.map((r) => r.body.model)).toEqual(['claude-shop-test']);
      expect(openai?.requests.map((r) => r.body.model)).toEqual(['qwen2.5-coder:7b']);
    });

    it('shows each provider with its tokens, dollars where a price is known, and tokens only where none is', () => {
      const { status_note: note, providers } = scenario.passed('status lists both providers');
      const claude = providers['anthropic'];
      const completion = providers['openai'];
      expect(claude).toMatchObject({ requests: 1, unpricedRequests: 0 });
      expect(completion).toMatchObject({ requests: 1, unpricedRequests: 1, usd: 0 });
      if (claude === undefined || completion === undefined) throw new Error('both providers answered');
      const promptOf = (p: ProviderUsageSummary): number => p.inputTokens + p.cacheWriteTokens + p.cacheReadTokens;
      const claudeUsd = (claude.inputTokens * 3 + claude.outputTokens * 15 + (claude.cacheReadTokens + claude.cacheWriteTokens) * 3) / 1_000_000;
      expect(claudeUsd).toBeGreaterThan(0);
      const lines = note.split('\n');
      expect(lines).toContain(`anthropic: 1 request · tokens in ${promptOf(claude)}, out ${claude.outputTokens} · $${claudeUsd.toFixed(4)}`);
      expect(lines).toContain(`openai: 1 request · tokens in ${promptOf(completion)}, out ${completion.outputTokens} · no price known (tokens only)`);
      expect(lines).toContain(`spent: $${claudeUsd.toFixed(4)} (+1 call with no known price)`);
    });

    it('counts the unpriced calls of a provider beside its dollars, and shows no provider lines for a server without them', () => {
      const result = scenario.passed('status display of providers');
      expect(result.mixed_lines).toEqual(['openai: 3 requests · tokens in 44400 (30000 from the cache), out 800 · $0.0213 (+1 call with no known price)']);
      expect(result.older_lines).toBe(0);
    });
  });

  describe('ghost text on Neovim without vim.lsp.inline_completion', () => {
    let file = '';
    const scenario = useScenario<GhostResult>('efrit-ghost-test.lua', async (dir, signals) => {
      const project = join(dir, 'shop');
      mkdirSync(join(project, '.git'), { recursive: true });
      file = join(project, 'pricing.py');
      writeFileSync(file, pricingPy);
      const fake = await startFakeAnthropic({ apiKey: testApiKey, respond: (request) => respondGhost(request, signals) });
      return { fake, env: { ANTHROPIC_API_KEY: testApiKey, ANTHROPIC_BASE_URL: fake.url, EFRIT_TEST_FILE: file } };
    });
    const suggestion = 'order.unit_price * order.quantity';
    /** What the ghost text extmark shows: at the cursor, after the line's text (overlay before 0.10, inline from 0.10). */
    const ghost = (result: GhostResult, text: string, virtLines: string[] = []): GhostShown => {
      const { major, minor } = result.nvim_version;
      const pos = major === 0 && minor < 10 ? 'overlay' : 'inline';
      return { count: 1, text, hl: 'EfritGhost', pos, virt_lines: virtLines, at_cursor: true };
    };

    it('maps <Tab> buffer-locally, and <Tab> does its usual job while no suggestion shows', () => {
      const result = scenario.passed('tab without suggestion');
      expect(result.complete_command).toBe(true);
      expect(result.inline_provider).toBe(true);
      expect(result.tab_mapping).toEqual({ buffer: true, expr: true });
      expect(result.ghost_before).toBeNull();
      expect(result.tab_line).toBe('# Prices are in cents.\t');
    });

    it('shows the cleaned suggestion at the cursor when asked (:EfritComplete), the buffer untouched', () => {
      const result = scenario.passed('explicit');
      expect(result.shown).toEqual(ghost(result, suggestion));
      expect(result.shown_api).toBe(suggestion);
      expect(result.shown_trigger).toBe(1);
      expect(result.shown_buffer_unchanged).toBe(true);
      expect(result.shown_insert_mode).toBe(true);
      // Ghost text requests are not efrit work to show in the statusline.
      expect(result.statusline_while_shown).toBe('');
    });

    it('clears it when a character that does not match is typed', () => {
      const result = scenario.passed('mismatch');
      expect(result.after_mismatch).toBeNull();
      expect(result.after_mismatch_api).toBeNull();
    });

    it('asks by itself (triggerKind 2) after a pause in typing', () => {
      const result = scenario.passed('automatic');
      expect(result.automatic).toEqual(ghost(result, suggestion));
      expect(result.automatic_triggers.length).toBeGreaterThanOrEqual(1);
      expect(result.automatic_triggers.every((k) => k === 2)).toBe(true);
    });

    it('keeps the rest when the user types its beginning, with no new request', () => {
      const result = scenario.passed('typed ahead');
      expect(result.typed_ahead).toEqual(ghost(result, 'der.unit_price * order.quantity'));
      expect(result.typed_ahead_later).toEqual(ghost(result, 'der.unit_price * order.quantity'));
      expect(result.typed_ahead_requests).toBe(0);
    });

    it('draws the suggestion in the column where <Tab> inserts it', () => {
      const result = scenario.passed('accept');
      expect(result.ghost_place?.screen_col).not.toBeNull();
      expect(result.ghost_place).toEqual(result.inserted_place);
    });

    it('accepts with <Tab>: inserted, the cursor after it in Insert mode, the server told and in sync', () => {
      const result = scenario.passed('accept');
      expect(result.accepted_line).toBe('    return order.unit_price * order.quantity');
      expect(result.after_accept).toBeNull();
      expect(result.cursor_after_accept.col).toBe(result.cursor_after_accept.eol);
      expect(result.cursor_after_accept.row).toBe(result.cursor_after_accept.line);
      expect(result.accept_insert_mode).toBe(true);
      expect(result.sync_after_accept).toBe(true);
    });

    it('shows a two-line suggestion as the line’s end plus a virtual line, and accepts it whole', () => {
      const result = scenario.passed('multi-line');
      expect(result.multi).toEqual(ghost(result, 'order_total(order)', ['    return f"{total:.2f}"']));
      expect(result.multi_api).toBe('order_total(order)\n    return f"{total:.2f}"');
      expect(result.multi_lines).toEqual(['    total = order_total(order)', '    return f"{total:.2f}"']);
      expect(result.multi_cursor).toEqual({ row: 1, col: '    return f"{total:.2f}"'.length, eol: '    return f"{total:.2f}"'.length });
      expect(result.after_multi).toBeNull();
    });

    it('drops an answer that comes after the cursor moved, and clears the suggestion on leaving Insert mode', () => {
      const result = scenario.passed('stale');
      expect(result.statusline_while_asking).toBe('');
      expect(result.busy_while_asking).toBe(false);
      expect(result.after_stale_answer).toBeNull();
      expect(result.with_tax).toEqual(ghost(result, 'amount * (1 + TAX_RATE)'));
      expect(result.after_insert_leave).toBeNull();
    });

    it('leaves the server’s copy equal to the buffer, with both accepted suggestions counted', () => {
      const result = scenario.passed('sync');
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
      const requests = scenario.fake().requests;
      expect(requests.length).toBeGreaterThanOrEqual(3);
      expect(requests.every((r) => r.apiKeyMatched)).toBe(true);
      expect(requests.map((r) => lastUserText(r)).filter((t) => t.includes('UNEXPECTED'))).toEqual([]);
    });
  });

  describe('reviewing a change across files (:EfritDo)', () => {
    const cartTs = `export interface LineItem {
  sku: string;
  unitPrice: number;
  quantity: number;
}

export function total(items: LineItem[]): number {
  return items.reduce((sum, item) => sum + item.unitPrice * item.quantity, 0);
}
`;
    // The euro sign before total( on its line: UTF-16 columns differ from bytes there.
    const checkoutTs = `import { total, type LineItem } from './cart';

export function checkout(items: LineItem[]): string {
  return \`Total € \${(total(items) / 100).toFixed(2)}\`;
}

console.log(checkout([{ sku: 'tea', unitPrice: 450, quantity: 2 }]));
`;
    const userLine = '// Totals are in cents.';
    const cartAsTheUserHasIt = `${userLine}\n${cartTs}`;
    const renamed = (text: string, name: string): string => text.replaceAll('total(', `${name}(`).replace('import { total,', `import { ${name},`);
    const testFile = (name: string): string => `import { expect, it } from 'vitest';\nimport { ${name} } from '../src/cart';\n\nit('totals nothing to 0', () => expect(${name}([])).toBe(0));\n`;
    const summary = (name: string): string => `Renames total() to ${name}() and adds a test for it.`;

    /**
     * The model: asked to rename total(), it reads src/checkout.ts, then proposes the change in three
     * files: the one asked about (path omitted), the one it read, and a new test file.
     */
    const respondReview = (request: RecordedRequest): FakeReply => {
      const messages = messagesOf(request);
      // "Write tests" in an editor that can create files: a test file of its own, in a folder not there yet.
      if (lastUserText(request).includes('Write unit tests for the selected code')) {
        return { toolUses: [{ name: 'propose_edits', input: { summary: 'Tests total().', edits: [], files: [{ action: 'create', path: 'test/cart.test.ts', text: testFile('total') }] } }] };
      }
      const asked = messages.map((m, i) => ({ i, text: m.role === 'user' ? textOf(m) : '' })).filter((m) => m.text.includes('Instruction: ')).at(-1);
      if (asked === undefined) return { text: '(unexpected request) no instruction' };
      if (asked.text.includes('Instruction: What does total() return?')) return { text: 'total() returns the sum of unit price × quantity, in cents.' };
      const name = /Instruction: Rename total\(\) to (\w+)\(\)/.exec(asked.text)?.[1];
      if (name === undefined) return { text: `(unexpected request) ${asked.text.slice(0, 200)}` };
      const stepsTaken = messages.slice(asked.i + 1).filter((m) => m.role === 'assistant').length;
      if (stepsTaken === 0) return { toolUses: [{ name: 'read_file', input: { path: 'src/checkout.ts' } }] };
      return {
        toolUses: [
          {
            name: 'propose_edits',
            input: {
              summary: summary(name),
              edits: [
                { old_text: 'export function total(items: LineItem[]): number {', new_text: `export function ${name}(items: LineItem[]): number {` },
                { path: 'src/checkout.ts', old_text: "import { total, type LineItem } from './cart';", new_text: `import { ${name}, type LineItem } from './cart';` },
                { path: 'src/checkout.ts', old_text: '(total(items) / 100)', new_text: `(${name}(items) / 100)` },
              ],
              files: [{ action: 'create', path: 'test/cart.test.ts', text: testFile(name) }],
            },
          },
        ],
      };
    };

    interface FileState {
      disk: string | null;
      buffer: string | null;
      modified: boolean | null;
    }
    interface Files {
      cart: FileState & { changedtick: number };
      checkout: FileState;
      test: FileState;
      test_folder: boolean;
    }
    interface Shown {
      in_view: boolean;
      new_tab: boolean;
      filetype: string;
      modifiable: boolean;
      name: string;
      cursor_line: string;
      text: string;
      files: { uri: string; path: string; kind: string }[];
    }
    interface SentCommand {
      command: string;
      args: { jobId: string; streamId?: string; exclude?: string[] };
      answer: unknown;
      error: string | null;
    }
    interface Closed {
      review: boolean;
      tabs: number;
      back_in_source: boolean;
    }
    let project = '';
    const scenario = useScenario<{
      accept: { shown: Shown; after: Files; undone: Record<string, string>; closed: Closed; commands: SentCommand[] };
      reject: { shown: Shown; before: Files; after: Files; closed: Closed; commands: SentCommand[] };
      reject_one: { shown: Shown; marked: string; on_header: string; after: Files; closed: Closed; commands: SentCommand[] };
      created_meanwhile: {
        shown: Shown;
        before: Files;
        after: Files;
        still_open: boolean;
        view_status: string;
        notes: Note[];
        commands: SentCommand[];
        closed: Closed;
        then_sent: SentCommand;
      };
      no_change: { review: boolean; notes: Note[]; after: Files };
      write_tests: { after: Files; notes: Note[] };
      review_off: { review: boolean; notes: Note[]; after: Files };
    }>('efrit-review-test.lua', async (dir) => {
      project = join(dir, 'shop');
      mkdirSync(join(project, 'src'), { recursive: true });
      writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'shop', version: '1.0.0', type: 'module' }, null, 2));
      writeFileSync(join(project, 'src', 'cart.ts'), cartTs);
      writeFileSync(join(project, 'src', 'checkout.ts'), checkoutTs);
      const fake = await startFakeAnthropic({ apiKey: testApiKey, respond: respondReview });
      return { fake, env: { ANTHROPIC_API_KEY: testApiKey, ANTHROPIC_BASE_URL: fake.url, EFRIT_TEST_PROJECT: project } };
    });
    const uriOf = (path: string): string => pathToFileURL(join(project, path)).href;
    const untouched = (files: Files): void => {
      expect(files.cart).toMatchObject({ disk: cartTs, buffer: cartAsTheUserHasIt });
      expect(files.checkout).toEqual({ disk: checkoutTs, buffer: null, modified: null });
      expect(files.test).toEqual({ disk: null, buffer: null, modified: null });
      expect(files.test_folder).toBe(false);
    };

    it('opens the whole change in a new tab, a diff per file, with the keys at the top', () => {
      const { shown } = scenario.passed('accept').accept;
      expect(shown).toMatchObject({ in_view: true, new_tab: true, filetype: 'diff', modifiable: false });
      expect(shown.name).toMatch(/^efrit:\/\/review\/\S+$/);
      expect(shown.files).toEqual(
        expect.arrayContaining([
          { uri: uriOf('src/cart.ts'), path: 'src/cart.ts', kind: 'edit' },
          { uri: uriOf('src/checkout.ts'), path: 'src/checkout.ts', kind: 'edit' },
          { uri: uriOf('test/cart.test.ts'), path: 'test/cart.test.ts', kind: 'create' },
        ]),
      );
      expect(shown.files).toHaveLength(3);
      expect(shown.cursor_line).toBe(`diff --git a/${shown.files[0]?.path} b/${shown.files[0]?.path}`);
      expect(shown.text).toMatch(
        new RegExp(`^Efrit: ${escapeRegExp(summary('sumCart'))}\\na accept · x reject/restore the file under the cursor · r reject all · \\]f \\[f next/previous file · q reject all and close\\n3 files\\n\\n`),
      );
      // The file asked about: its buffer, with the user's unsaved line.
      expect(shown.text).toContain(
        'diff --git a/src/cart.ts b/src/cart.ts\n--- a/src/cart.ts\n+++ b/src/cart.ts\n@@ -5,6 +5,6 @@\n   quantity: number;\n }\n \n-export function total(items: LineItem[]): number {\n+export function sumCart(items: LineItem[]): number {\n',
      );
      // The file not loaded: from disk, its edits applied in memory (after a non-ASCII character on the line).
      expect(shown.text).toContain(
        [
          'diff --git a/src/checkout.ts b/src/checkout.ts',
          '--- a/src/checkout.ts',
          '+++ b/src/checkout.ts',
          '@@ -1,7 +1,7 @@',
          "-import { total, type LineItem } from './cart';",
          "+import { sumCart, type LineItem } from './cart';",
          ' ',
          ' export function checkout(items: LineItem[]): string {',
          '-  return `Total € ${(total(items) / 100).toFixed(2)}`;',
          '+  return `Total € ${(sumCart(items) / 100).toFixed(2)}`;',
          ' }',
          ' ',
          " console.log(checkout([{ sku: 'tea', unitPrice: 450, quantity: 2 }]));",
          '',
        ].join('\n'),
      );
      // The new file: all added.
      expect(shown.text).toContain(
        `diff --git a/test/cart.test.ts b/test/cart.test.ts\nnew file\n--- /dev/null\n+++ b/test/cart.test.ts\n@@ -0,0 +1,4 @@\n${testFile('sumCart')
          .trimEnd()
          .split('\n')
          .map((l) => `+${l}`)
          .join('\n')}\n`,
      );
    });

    it('accepts with a: efrit.applyJob applies every file exactly; the file asked about in its buffer, the others written to disk', () => {
      const { after, commands, closed } = scenario.passed('accept').accept;
      expect(commands).toEqual([{ command: 'efrit.applyJob', args: { jobId: expect.any(String), streamId: expect.stringMatching(/^nvim-/) }, answer: { applied: true }, error: null }]);
      // Loaded with the user's unsaved edit: changed there, unsaved, the file on disk as it was.
      expect(after.cart).toMatchObject({ disk: cartTs, buffer: renamed(cartAsTheUserHasIt, 'sumCart'), modified: true });
      // Not loaded before: loaded now, and written.
      expect(after.checkout).toEqual({ disk: renamed(checkoutTs, 'sumCart'), buffer: renamed(checkoutTs, 'sumCart'), modified: false });
      // Created: written with exactly its text, no buffer loaded for it.
      expect(after.test).toEqual({ disk: testFile('sumCart'), buffer: null, modified: null });
      expect(closed).toEqual({ review: false, tabs: 1, back_in_source: true });
      expect(scenario.passed('accept').notes).toContainEqual({ msg: `Efrit: applied: ${summary('sumCart')}`, level: 2 });
    });

    it('lands as one undo step per buffer', () => {
      const { undone } = scenario.passed('accept').accept;
      expect(undone).toEqual({ cart: cartAsTheUserHasIt, checkout: checkoutTs });
    });

    it('rejects with r: efrit.rejectJob, every file byte-identical, nothing created', () => {
      const { before, after, commands, closed, shown } = scenario.passed('reject').reject;
      expect(shown.files).toHaveLength(3);
      expect(commands).toEqual([{ command: 'efrit.rejectJob', args: { jobId: expect.any(String) }, answer: { rejected: true }, error: null }]);
      untouched(before);
      expect(after).toEqual(before);
      expect(closed).toEqual({ review: false, tabs: 1, back_in_source: true });
    });

    it('rejects the file under the cursor with x, and applies the others with a', () => {
      const { marked, on_header: onHeader, after, commands } = scenario.passed('reject one file').reject_one;
      expect(onHeader).toBe('diff --git a/src/checkout.ts b/src/checkout.ts');
      expect(marked).toContain('\n3 files: 1 rejected, 2 to apply\n');
      expect(marked).toContain('diff --git a/src/checkout.ts b/src/checkout.ts\n# rejected: it will not be applied\n--- a/src/checkout.ts\n');
      expect(commands).toEqual([
        { command: 'efrit.applyJob', args: { jobId: expect.any(String), streamId: expect.stringMatching(/^nvim-/), exclude: [uriOf('src/checkout.ts')] }, answer: { applied: true }, error: null },
      ]);
      expect(after.cart).toMatchObject({ disk: cartTs, buffer: renamed(cartAsTheUserHasIt, 'grandTotal'), modified: true });
      expect(after.checkout).toEqual({ disk: checkoutTs, buffer: null, modified: null });
      expect(after.test).toEqual({ disk: testFile('grandTotal'), buffer: null, modified: null });
    });

    it('refuses the change whole when a file it creates appeared meanwhile: nothing applied, the view stays', () => {
      const result = scenario.passed('a file created meanwhile');
      const { before, after, commands } = result.created_meanwhile;
      expect(before.test.disk).toBe('// mine\n');
      expect(after).toEqual(before);
      expect(after.cart).toMatchObject({ buffer: cartAsTheUserHasIt });
      expect(after.checkout).toEqual({ disk: checkoutTs, buffer: null, modified: null });
      expect(commands[0]?.command).toBe('efrit.applyJob');
      expect(commands[0]?.error).toContain('test/cart.test.ts');
      expect(result.created_meanwhile.still_open).toBe(true);
      expect(result.created_meanwhile.view_status).toMatch(/^3 files — not applied: .*test\/cart\.test\.ts/);
      expect(result.created_meanwhile.notes).toContainEqual({ msg: expect.stringMatching(/^Efrit: not applied: .*test\/cart\.test\.ts/), level: 4 });
      expect(result.created_meanwhile.closed).toEqual({ review: false, tabs: 1, back_in_source: true });
      // q then rejected it.
      expect(result.created_meanwhile.then_sent).toMatchObject({ command: 'efrit.rejectJob', answer: { rejected: true } });
    });

    it('shows the summary of a do that changes nothing, with no review', () => {
      const { no_change: noChange } = scenario.passed('no change');
      expect(noChange.review).toBe(false);
      expect(noChange.notes).toContainEqual({ msg: 'Efrit: total() returns the sum of unit price × quantity, in cents.', level: 2 });
      untouched(noChange.after);
    });

    it('lands a "Write tests" code action that creates a test file in a new folder, checked like a do (Neovim 0.7 fails midway)', () => {
      const { write_tests: written } = scenario.passed('write tests in a new file');
      expect(written.after.test).toEqual({ disk: testFile('total'), buffer: null, modified: null });
      expect(written.after.cart).toMatchObject({ disk: cartTs, buffer: cartAsTheUserHasIt });
      expect(written.after.checkout).toEqual({ disk: checkoutTs, buffer: null, modified: null });
      expect(errorsIn(written.notes)).toEqual([]);
    });

    it('applies at once with the review turned off (run_do{ review = false })', () => {
      const { review_off: off } = scenario.passed('review off');
      expect(off.review).toBe(false);
      expect(off.notes).toContainEqual({ msg: `Efrit: done: ${summary('basketTotal')}`, level: 2 });
      expect(off.after.checkout.disk).toBe(renamed(checkoutTs, 'basketTotal'));
      expect(off.after.test.disk).toBe(testFile('basketTotal'));
      expect(off.after.cart.buffer).toBe(renamed(cartAsTheUserHasIt, 'basketTotal'));
    });

    it('ran to its end with no unexpected error and no model call unexpected', () => {
      const result = scenario.passed('review off');
      expect(scenario.run().code).toBe(0);
      expect(errorsIn(result.notes).filter((n) => !n.msg.startsWith('Efrit: not applied: '))).toEqual([]);
      const requests = scenario.fake().requests;
      expect(requests.every((r) => r.apiKeyMatched)).toBe(true);
      expect(requests.map((r) => lastUserText(r)).filter((t) => t.includes('(unexpected request)'))).toEqual([]);
      // Five changes of two steps each, one answer in words, one code action.
      expect(requests).toHaveLength(12);
    });
  });

  describe('the applyEdit handler, with no server', () => {
    interface Tree {
      files: Record<string, string>;
      buffers: Record<string, { text: string; modified: boolean }> | [];
    }
    interface Landed {
      answer: { applied: boolean; failureReason?: string };
      before?: Tree;
      after: Tree;
    }
    const scenario = useScenario<{
      create_exists: Landed;
      create_folder: Landed;
      rename_exists: Landed;
      rename_edit: Landed;
      delete_missing: Landed;
      stale_version: Landed;
      preview: Landed & { previews: Record<string, string>; loaded_before: boolean; undone: Record<string, string> };
    }>('efrit-apply-test.lua', (dir) => Promise.resolve({ env: { EFRIT_TEST_PROJECT: dir } }));
    const cart = 'export function total(items) {\n  return items.length;\n}\n';

    it('refuses a create over a file that exists, before touching anything (Neovim 0.7 truncates it)', () => {
      const { create_exists: landed } = scenario.passed('create over a file that exists');
      expect(landed.answer).toEqual({ applied: false, failureReason: 'cannot create test/cart.test.ts: it already exists' });
      expect(landed.after).toEqual(landed.before);
      expect(landed.after.files['test/cart.test.ts']).toBe('// mine\n');
    });

    it('creates a file in a folder that does not exist, with exactly its text (Neovim 0.7 fails midway)', () => {
      const { create_folder: landed } = scenario.passed('create in a folder that does not exist');
      expect(landed.answer).toEqual({ applied: true });
      expect(landed.after.files).toEqual({ 'src/cart.ts': cart, 'test/unit/cart.test.ts': 'it("sums")\n' });
    });

    it('refuses a rename onto a file that exists (Neovim 0.7 skips it and answers applied)', () => {
      const { rename_exists: landed } = scenario.passed('rename onto a file that exists');
      expect(landed.answer).toEqual({ applied: false, failureReason: 'cannot rename src/old.ts to src/new.ts: it already exists' });
      expect(landed.after).toEqual(landed.before);
    });

    it('renames into a new folder, edits the renamed file and deletes another: written to disk', () => {
      const { rename_edit: landed } = scenario.passed('rename into a new folder, then edit');
      expect(landed.answer).toEqual({ applied: true });
      expect(landed.after.files).toEqual({ 'lib/new.ts': 'const a = 2;\n' });
    });

    it('refuses to delete a file that does not exist, before the edit that comes first', () => {
      const { delete_missing: landed } = scenario.passed('delete a file that does not exist');
      expect(landed.answer).toEqual({ applied: false, failureReason: 'cannot delete src/unused.ts: it does not exist' });
      expect(landed.after).toEqual(landed.before);
    });

    it('refuses a change whose edit was made for an older version of a loaded buffer, touching no file (Neovim 0.7 checks only the first)', () => {
      const { stale_version: landed } = scenario.passed('an edit for a buffer changed since');
      expect(landed.answer).toEqual({ applied: false, failureReason: 'src/cart.ts changed in the editor since the edit was made (version 7, now 8)' });
      expect(landed.after).toEqual(landed.before);
    });

    it('lands what the review showed, in UTF-16 columns; a loaded buffer keeps it unsaved, a file not loaded is written; one undo step each', () => {
      const { preview } = scenario.passed('preview equals what lands; undo takes it back');
      const price = 'const label = "€ " + sumCart(cart) + " / " + sumCart(other);\nexport { label };\n';
      expect(preview.answer).toEqual({ applied: true });
      expect(preview.previews).toEqual({
        'src/price.ts': price,
        'src/cart.ts': `// unsaved\n${cart.replace('total(', 'sumCart(')}`,
        'test/price.test.ts': 'import { label } from "../src/price";\n',
      });
      expect(preview.loaded_before).toBe(false);
      expect(preview.after.files).toEqual({ 'src/price.ts': price, 'src/cart.ts': cart, 'test/price.test.ts': 'import { label } from "../src/price";\n' });
      expect(preview.after.buffers).toEqual({
        'src/price.ts': { text: price, modified: false },
        'src/cart.ts': { text: preview.previews['src/cart.ts'], modified: true },
      });
      expect(preview.undone).toEqual({ 'src/price.ts': 'const label = "€ " + total(cart) + " / " + total(other);\n', 'src/cart.ts': cart });
      expect(scenario.run().code).toBe(0);
    });
  });

  describe('streams and cancellations', () => {
    const lineOf = (needle: string): number => pricingTs.slice(0, pricingTs.indexOf(needle)).split('\n').length;
    const asksAbout = (request: RecordedRequest, needle: string): boolean => lastUserText(request).includes(`selection at ${lineOf(needle)}:1-`);
    const subtotalText = ['`subtotal` multiplies ', 'and sums.'];
    const discountText = ['`applyDiscount` takes ', 'a percentage off.'];
    const scenario = useScenario<{
      snapshots: string[];
      after_both: string;
      stream_notes: { jobId: string; streamId: string | null; kind: string }[];
      after_superseded: string;
      busy_after_cancel: boolean;
      statusline_after_cancel: string;
      after_cancel: string;
    }>('efrit-streams-test.lua', async (dir, signals) => {
      const project = makeProject(dir);
      const fake = await startFakeAnthropic({
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
      return { fake, env: { ANTHROPIC_API_KEY: testApiKey, ANTHROPIC_BASE_URL: fake.url, EFRIT_TEST_PROJECT: project } };
    });

    it('ties each stream to its request from the first note on: two explanations at once each land in their own entry', () => {
      const result = scenario.passed('two explanations at once');
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
    });

    it('shows at once that the server ended an explanation superseded by a newer one', () => {
      const result = scenario.passed('superseded');
      expect(result.after_superseded).toMatch(/_\[the server cancelled it: Superseded by a newer request for the same thing\.\]_\n\n## Explain [^\n]*\n`total` applies the discount and the tax\.\n/);
      expect(result.notes).toContainEqual({ msg: 'Efrit: the server cancelled it: Superseded by a newer request for the same thing.', level: 3 });
    });

    it('is done the moment :EfritCancel returns, the API call hung up on', async () => {
      const result = scenario.passed('cancel');
      expect(result.busy_after_cancel).toBe(false);
      expect(result.statusline_after_cancel).toBe('');
      expect(result.after_cancel).toMatch(/Well, [^\n]*\n\n_\[cancelled\]_/);
      expect(result.notes.some((n) => /cancelled 1 job/.test(n.msg))).toBe(true);
      const essayOutcome = () => scenario.fake().requests.find((r) => lastUserText(r).includes('Write me an essay'))?.outcome;
      await eventually(() => (essayOutcome() === 'aborted-by-client' ? true : undefined), 'the essay request to be hung up on');
      expect(errorsIn(result.notes)).toEqual([]);
    });
  });

  it('ships a help file whose tags Neovim accepts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'efrit-nvim-doc-'));
    try {
      const doc = join(dir, 'doc');
      cpSync(join(pluginDir, 'doc'), doc, { recursive: true });
      const nvim = await runCommand('timeout', ['20', 'nvim', '--headless', '-u', 'NONE', '-i', 'NONE', '-n', '-c', `helptags ${doc}`, '-c', 'qa!'], {
        env: { PATH: process.env['PATH'], HOME: dir },
        timeoutMs: 25_000,
      });
      expect(nvim.code, nvim.stderr).toBe(0);
      expect(nvim.stderr).not.toMatch(/E\d+:/);
      expect(existsSync(join(doc, 'tags'))).toBe(true);
      const tags = readFileSync(join(doc, 'tags'), 'utf8');
      for (const tag of [
        'efrit.txt',
        'efrit-setup',
        ':EfritChat',
        ':EfritDo',
        ':EfritExplain',
        ':EfritStatus',
        ':EfritCancel',
        'efrit.setup()',
        'efrit.statusline()',
        'User_EfritStream',
        ':EfritComplete',
        'efrit.complete()',
        'efrit.accept()',
        'efrit-ghost-text',
        'hl-EfritGhost',
        'efrit-health',
        'efrit-offline',
        'efrit-review',
        'hl-EfritReviewRejected',
        'User_EfritReviewDone',
      ]) {
        expect(tags).toContain(`${tag}\tefrit.txt`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** luacheck (Debian's lua-check) over the plugin and these test scripts, each with its .luacheckrc, and from the repository root. */
describe.skipIf(!shouldRunEditorTests('luacheck'))('the Neovim client’s Lua', () => {
  it.each([
    ['the plugin, in its folder', pluginDir, ['.']],
    ['the test scripts, in their folder', scriptDir, ['.']],
    ['both, from the repository root', repoRoot, ['clients/neovim', 'test/clients/neovim']],
  ])('passes luacheck with no warning: %s', async (_what, cwd, paths) => {
    const luacheck = await runCommand('luacheck', ['--no-color', '--formatter', 'plain', ...paths], { env: { PATH: process.env['PATH'], HOME: cwd }, cwd, timeoutMs: 60_000 });
    expect(luacheck.stdout + luacheck.stderr).toBe('');
    expect(luacheck.code).toBe(0);
  });
});
