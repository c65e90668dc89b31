/**
 * The VS Code extension in a real VS Code: code-server 4.100.3 (VS Code
 * 1.100.3, the last line on Node 20), installed by scripts/install-vscode-real.sh
 * into a cache folder outside the repository, its workbench driven in Debian's
 * Chromium by playwright-core, against the fake API. The .vsix is built from
 * this checkout and installed into a fresh extensions folder; the API key and
 * endpoint are user settings (efrit.apiKey, efrit.baseURL), as a user sets
 * them, not the environment. The fast model (inline completion) is an
 * openai: model on the fake Chat Completions API with no price, so Efrit:
 * Status has a line for each provider.
 *
 * Every wait watches the workbench reach a state (a row in a menu, a line in
 * the output, a status bar text); none sleeps. The cases share one running
 * VS Code and go in order, each naming what it checks. The last ones change
 * several files of a small `shop/` folder at once, which VS Code shows in its
 * Refactor Preview (the server marks the change `needsConfirmation`), and
 * read the files on disk after Apply or Discard.
 *
 * Skipped when code-server is not installed, unless EFRIT_REQUIRE_EDITORS=1
 * (CI), where a missing install fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultResponder, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic/server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai/server.js';
import type { FakeReply, RecordedRequest } from '../support/fake-anthropic/types.js';
import { testApiKey } from '../support/harness.js';
import { eventually } from '../support/eventually.js';
import { repoRoot } from '../support/lsp-client.js';
import { awaitingReviewMessage, notAcceptedInPreview } from '../../clients/vscode/src/efrit-controller.js';

const codeServerVersion = '4.100.3';
const cacheDir = process.env['EFRIT_VSCODE_REAL'] ?? join(homedir(), '.cache', 'efrit-vscode-real');
const codeServerHome = join(cacheDir, `code-server-${codeServerVersion}`);
const codeServer = join(codeServerHome, 'node_modules', '.bin', 'code-server');
const chromiumPath = '/usr/bin/chromium';

function shouldRunRealVSCode(): boolean {
  const installed = existsSync(join(codeServerHome, '.installed')) && existsSync(chromiumPath);
  if (!installed && process.env['EFRIT_REQUIRE_EDITORS'] === '1') {
    throw new Error(`code-server ${codeServerVersion} (in ${codeServerHome}) or ${chromiumPath} is missing, and EFRIT_REQUIRE_EDITORS=1 requires them: run scripts/install-vscode-real.sh`);
  }
  return installed;
}

/** The file the user works on: add() has a bug to explain, greet() a type error TypeScript reports. */
const calcTs = `// A small module of arithmetic helpers.
export function add(a: number, b: number): number {
  return a - b;
}

export function greet(name: string): number {
  return \`Hello, \${name}!\`;
}
`;
const explanation = ['`add` returns `a - b`: ', 'it subtracts, ', 'despite its name.'];
const docComment = '/** Adds two numbers. */';

/**
 * A small shop beside calc.ts, for the change across files: cart.ts defines
 * total(), checkout.ts calls it, format.ts has nothing to do with it.
 */
const shop = {
  'shop/cart.ts': `/** The sum of the prices, in cents. */
export function total(prices: number[]): number {
  return prices.reduce((sum, price) => sum + price, 0);
}
`,
  'shop/checkout.ts': `import { total } from './cart.js';
import { formatCents } from './format.js';

export function receipt(prices: number[]): string {
  return \`Total: \${formatCents(total(prices))}\`;
}
`,
  'shop/format.ts': `export function formatCents(cents: number): string {
  return (cents / 100).toFixed(2);
}
`,
};
const cartTestTs = `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sumCart } from './cart.js';

test('sumCart adds the prices', () => {
  assert.equal(sumCart([150, 250]), 400);
});
`;
const formatTestTs = `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatCents } from './format.js';

test('formatCents shows euros with two decimals', () => {
  assert.equal(formatCents(1999), '19.99');
});
`;
const renameInstruction = 'Rename total() to sumCart() everywhere and add a test for it';
/** What the model proposes after reading checkout.ts: edits in two files and a new file (the widened propose_edits). */
const renameProposal = {
  summary: 'Renamed total() to sumCart() and added a test.',
  edits: [
    { path: 'shop/cart.ts', old_text: 'export function total(', new_text: 'export function sumCart(' },
    { path: 'shop/checkout.ts', old_text: "import { total } from './cart.js';", new_text: "import { sumCart } from './cart.js';" },
    { path: 'shop/checkout.ts', old_text: 'formatCents(total(prices))', new_text: 'formatCents(sumCart(prices))' },
  ],
  files: [{ action: 'create', path: 'shop/cart.test.ts', text: cartTestTs }],
};
/** What the Do command says, as a warning, when the user discarded the change in the preview: the server's editRejected, with the reason the extension gave it. */
const discardedMessage = `Efrit: The editor did not apply the change: ${notAcceptedInPreview}.`;

/** Default replies, except an explanation of add() and a real edit for "Add documentation". */
function respond(request: RecordedRequest, index: number): FakeReply | Promise<FakeReply> {
  const choice = request.body.tool_choice as { type?: string; name?: string } | undefined;
  const lastMessage = JSON.stringify(request.body.messages.at(-1) ?? '');
  if (choice?.type === 'tool' && choice.name === 'propose_edits' && lastMessage.includes('Add documentation comments')) {
    const edits = [{ old_text: 'export function add(a: number, b: number): number {', new_text: `${docComment}\nexport function add(a: number, b: number): number {` }];
    return { toolUses: [{ name: 'propose_edits', input: { summary: 'Documented add().', edits } }] };
  }
  if (lastMessage.includes('Explain what the selected code does')) return { text: explanation };
  if (choice?.type === 'tool' && choice.name === 'propose_edits' && lastMessage.includes('in a new test file')) {
    return { toolUses: [{ name: 'propose_edits', input: { summary: 'Tests for formatCents.', edits: [], files: [{ action: 'create', path: 'shop/format.test.ts', text: formatTestTs }] } }] };
  }
  // Efrit: Do with the rename: the agent reads the caller first (a file it edits must have been read in the job), then proposes.
  if (lastMessage.includes(renameInstruction)) return { text: 'checkout.ts calls total(); reading it first.', toolUses: [{ name: 'read_file', input: { path: 'shop/checkout.ts' } }] };
  if (lastMessage.includes('tool_result') && lastMessage.includes('export function receipt(')) return { toolUses: [{ name: 'propose_edits', input: renameProposal }] };
  return defaultResponder(request, index);
}

// Code that runs in the workbench page, as source text: the tests are type-checked without the DOM's types.

/** Records each new text of the status bar item that says Efrit in `window.efritStatusTexts`. */
const recordStatusTexts = `
  window.efritStatusTexts = [];
  new MutationObserver(() => {
    for (const item of document.querySelectorAll('.statusbar-item')) {
      const text = item.innerText.trim();
      if (text.includes('Efrit') && window.efritStatusTexts.at(-1) !== text) window.efritStatusTexts.push(text);
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
`;

/** An expression for the visible lines of the Monaco editor at `selector`, in order (its DOM keeps them by position). */
const linesOf = (selector: string): string => `(() => {
  const view = document.querySelector(${JSON.stringify(selector)});
  if (view === null) return '';
  return [...view.querySelectorAll('.view-line')]
    .map((line) => ({ top: Number.parseFloat(line.style.top || '0'), text: (line.textContent ?? '').replace(/\\u00a0/g, ' ') }))
    .sort((a, b) => a.top - b.top)
    .map((line) => line.text)
    .join('\\n');
})()`;

/** Starts `command`, resolves when it exits 0, rejects with its output otherwise. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output}`))));
  });
}

describe.skipIf(!shouldRunRealVSCode())('the extension in a real VS Code (code-server, Chromium)', () => {
  let work: string;
  let project: string;
  let fake: FakeAnthropic;
  /** The fast model's endpoint: completion goes to an openai: model with no price, actions to Claude. */
  let openai: FakeOpenAI | undefined;
  let vscode: ChildProcess | undefined;
  let vscodeLog = '';
  let browser: Browser | undefined;
  let page: Page;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'efrit-vscode-real-'));
    const vsix = join(work, 'efrit.vsix');
    await run(process.execPath, [join(repoRoot, 'dist', 'scripts', 'vscode-build.js'), '--check', '--stage', join(work, 'extension'), '--out', vsix], process.env);

    fake = await startFakeAnthropic({ apiKey: testApiKey, respond });
    openai = await startFakeOpenAI({ respond: () => ({ text: ' // adds' }) });
    const userData = join(work, 'user-data');
    const extensions = join(work, 'extensions');
    project = join(work, 'project');
    for (const dir of [join(userData, 'User'), extensions, project]) mkdirSync(dir, { recursive: true });
    writeFileSync(join(project, 'calc.ts'), calcTs);
    mkdirSync(join(project, 'shop'));
    for (const [path, text] of Object.entries(shop)) writeFileSync(join(project, path), text);
    writeFileSync(
      join(userData, 'User', 'settings.json'),
      JSON.stringify({
        'efrit.apiKey': testApiKey,
        'efrit.baseURL': fake.url,
        // Completion from an OpenAI-compatible server that needs no key (openai.baseURL set), with no price.
        'efrit.fastModel': 'openai:qwen2.5-coder:7b',
        'efrit.openai.baseURL': openai.baseURL,
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'security.workspace.trust.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'extensions.autoUpdate': false,
        'extensions.autoCheckUpdates': false,
        'update.mode': 'none',
        'git.enabled': false,
        // VS Code's default on the desktop; code-server, a web build, saves after a delay by default, which
        // would hide whether a change is saved by the refactoring itself.
        'files.autoSave': 'off',
      }),
    );
    const configFile = join(work, 'code-server.yaml');
    writeFileSync(configFile, 'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n');
    // The key comes from the settings only; code-server keeps its own files (XDG folders) in the run's folder.
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: join(work, 'xdg-config'), XDG_DATA_HOME: join(work, 'xdg-data') };
    for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN', 'OPENAI_API_KEY', 'OPENAI_BASE_URL', 'EFRIT_LSP_SERVER', 'EFRIT_OFFLINE']) delete env[name];
    const common = ['--config', configFile, '--user-data-dir', userData, '--extensions-dir', extensions];
    await run(codeServer, [...common, '--install-extension', vsix], env);

    // Its own process group, so that stopping it stops what it started (extension host, efrit-lsp) too.
    const started = spawn(
      codeServer,
      [...common, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', project],
      { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    vscode = started;
    started.stdout?.on('data', (chunk: Buffer) => void (vscodeLog += chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => void (vscodeLog += chunk.toString()));
    const url = await eventually(() => /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(vscodeLog)?.[1], `code-server to listen (its log: ${vscodeLog})`, 60_000);

    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    // Every text the status bar item shows, from the first: a wrong one shown for a moment is caught too.
    await page.addInitScript({ content: recordStatusTexts });
    await page.goto(`${url}/?folder=${encodeURIComponent(project)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 120_000 });
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    if (vscode?.pid !== undefined && vscode.exitCode === null) {
      const exited = new Promise((resolve) => vscode?.once('exit', resolve));
      process.kill(-vscode.pid, 'SIGTERM');
      const timer = setTimeout(() => process.kill(-(vscode?.pid ?? 0), 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await fake?.close();
    await openai?.close();
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  // ── helpers: the workbench as a user works it ──────────────────────────

  const statusItem = (): Locator => page.locator('.statusbar-item', { hasText: 'Efrit' }).first();
  const editorSelector = '.editor-group-container.active .monaco-editor .view-lines';
  const editorLines = (): Locator => page.locator(editorSelector);
  const editorText = async (): Promise<string> => (await page.evaluate(linesOf(editorSelector))) as string;
  /** The Output panel's text: the Efrit Chat channel once the extension has shown it. */
  const outputText = async (): Promise<string> => (await page.evaluate(linesOf('.part.panel .monaco-editor .view-lines'))) as string;

  async function until<T>(attempt: () => Promise<T>, holds: (value: T) => boolean, what: string, timeoutMs = 60_000): Promise<T> {
    let last: T | undefined;
    try {
      return await eventually(async () => {
        last = await attempt();
        return holds(last) ? last : undefined;
      }, what, timeoutMs);
    } catch (error) {
      throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(last)}`);
    }
  }

  async function runCommand(label: string): Promise<void> {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await input.fill(`>${label}`);
    const exact = new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    await page.locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: exact }) }).first().click();
  }

  async function selectLines(from: number, to: number): Promise<void> {
    await editorLines().click();
    await page.keyboard.press('Control+G');
    await page.locator('.quick-input-widget input').waitFor({ state: 'visible' });
    await page.keyboard.type(String(from));
    await page.keyboard.press('Enter');
    await page.keyboard.press('Home');
    await page.keyboard.press('Home');
    for (let line = from; line < to; line++) await page.keyboard.press('Shift+ArrowDown');
    await page.keyboard.press('Shift+End');
  }

  /**
   * Opens the Refactor menu on the selection and returns its rows' texts. VS
   * Code may answer "No refactorings available" when it asked while the
   * providers were still busy (seen about once in 15 runs, TypeScript's own
   * refactorings missing too): that message is observed, dismissed, and the
   * menu asked for again.
   */
  async function openRefactorMenu(): Promise<string[]> {
    const menu = page.locator('.action-widget');
    const nothing = page.locator('.monaco-editor-overlaymessage', { hasText: 'No refactorings available' });
    for (let attempt = 1; attempt <= 5; attempt++) {
      await runCommand('Refactor...');
      const shown = await Promise.race([
        menu.waitFor({ state: 'visible', timeout: 60_000 }).then(() => 'menu' as const),
        nothing.waitFor({ state: 'visible', timeout: 60_000 }).then(() => 'nothing' as const),
      ]);
      if (shown === 'menu') {
        // Rows arrive with the menu; wait for Efrit's among them.
        await menu.locator('.monaco-list-row', { hasText: 'Efrit: ' }).first().waitFor();
        return menu.locator('.monaco-list-row').allInnerTexts();
      }
      await page.keyboard.press('Escape');
      await nothing.waitFor({ state: 'hidden' });
    }
    throw new Error('the Refactor menu said "No refactorings available" five times');
  }

  /** Moves the focus in the open action menu to the row whose label contains `label`, and picks it. */
  async function pick(label: string): Promise<void> {
    const menu = page.locator('.action-widget');
    const rows = await menu.locator('.monaco-list-row').count();
    for (let step = 0; step <= rows; step++) {
      const focused = await menu.locator('.monaco-list-row.focused').getAttribute('aria-label');
      if (focused?.includes(label) === true) {
        await page.keyboard.press('Enter');
        await menu.waitFor({ state: 'hidden' });
        return;
      }
      await page.keyboard.press('ArrowDown');
    }
    throw new Error(`no "${label}" in the action menu`);
  }

  /** Opens a workspace file with Quick Open, as a user does, and waits for its text in the editor. */
  async function openFile(path: string, text: string): Promise<void> {
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await input.fill(path);
    await page.locator('.quick-input-list .monaco-list-row', { hasText: path.split('/').at(-1) ?? path }).first().waitFor();
    await page.keyboard.press('Enter');
    const firstLine = text.split('\n')[0] ?? '';
    await until(editorText, (t) => t.startsWith(firstLine), `${path} in the editor`);
  }

  /** Runs Efrit: Do and answers its input box with `instruction`. */
  async function doInEditor(instruction: string): Promise<void> {
    await runCommand('Efrit: Do');
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Efrit: Do' }).waitFor();
    await page.locator('.quick-input-widget input').fill(instruction);
    await page.keyboard.press('Enter');
  }

  /** VS Code's Refactor Preview view, in the panel. */
  const refactorPreview = (): Locator => page.locator('.bulk-edit-panel');
  /** Its top rows, one per file, in the order shown: their labels say what happens to each file. */
  const previewFileRows = (): Locator => refactorPreview().locator('.monaco-list-row[aria-level="1"]');
  const previewFileLabels = async (): Promise<string[]> => previewFileRows().evaluateAll((rows) => rows.map((row) => row.getAttribute('aria-label') ?? ''));
  const shopFile = (path: keyof typeof shop | 'shop/cart.test.ts' | 'shop/format.test.ts'): string => join(project, path);
  const notification = (text: string | RegExp): Locator => page.locator('.notification-toast', { hasText: text });
  /** Editor tabs of the shop's files with unsaved changes (calc.ts, edited above, is left as it is). */
  const unsavedShopTabs = (): Locator => page.locator('.tabs-container .tab.dirty', { hasText: /cart|checkout|format/ });

  /**
   * Asks Efrit: Do for the rename in cart.ts and waits for VS Code's Refactor
   * Preview to list the change: an edit to the document asked about, to a file
   * not open, and a file to create.
   */
  async function proposeRename(): Promise<void> {
    await openFile('shop/cart.ts', shop['shop/cart.ts']);
    await doInEditor(renameInstruction);
    const labels = await until(previewFileLabels, (l) => l.length === 3, 'the Refactor Preview to list three files', 120_000);
    expect([...labels].sort()).toEqual(['Creating shop/cart.test.ts, also making text edits', 'shop/cart.ts, making text edits', 'shop/checkout.ts, making text edits']);
    // Every change carries Efrit's annotation: its label and the plan's summary.
    const annotations = async (): Promise<string[]> => refactorPreview().locator('.monaco-list-row[aria-level="2"] [title]').evaluateAll((items) => items.map((item) => item.getAttribute('title') ?? ''));
    const titles = await until(annotations, (t) => t.length > 0, "the edits' annotations in the Refactor Preview");
    expect(new Set(titles)).toEqual(new Set([`Efrit - ${renameProposal.summary}`]));
    // The Do's progress notification says what it waits for.
    await notification('Efrit: working…').filter({ hasText: awaitingReviewMessage }).waitFor();
  }

  /** Closes a menu or quick input an earlier case left open (when it failed half-way), so each case starts from the editor. */
  async function closeWidgets(): Promise<void> {
    for (const widget of [page.locator('.action-widget'), page.locator('.quick-input-widget')]) {
      if (await widget.isVisible()) {
        await page.keyboard.press('Escape');
        await widget.waitFor({ state: 'hidden' });
      }
    }
    // A change still waiting in the Refactor Preview would make VS Code ask about it when the next one comes.
    if (await refactorPreview().isVisible()) {
      await refactorPreview().locator('.monaco-button', { hasText: /^Discard$/ }).click();
      await refactorPreview().waitFor({ state: 'hidden' });
    }
    // While notification toasts show, Escape hides them instead of closing a message in the editor (openRefactorMenu's retry).
    if ((await page.locator('.notification-toast').count()) > 0) {
      await runCommand('Notifications: Clear All Notifications');
      await until(() => page.locator('.notification-toast').count(), (n) => n === 0, 'the notifications to clear');
    }
  }

  beforeEach(async () => {
    if (page !== undefined) await closeWidgets();
  });

  // ── the cases ─────────────────────────────────────────────────────────

  it('activates, and the status bar shows the key from the settings: never "no API key" while they arrive', async () => {
    const text = await until(async () => (await statusItem().innerText()).trim(), (t) => /Efrit \d+(\.\d+k)? tok/.test(t), 'the status bar to show the token count', 120_000);
    expect(text).toMatch(/Efrit 0 tok/);
    const shown = (await page.evaluate('window.efritStatusTexts')) as string[];
    expect(shown).toContain(text);
    expect(shown.filter((t) => t.includes('no API key'))).toEqual([]);
  }, 180_000);

  it('opens calc.ts, and Efrit: Explain streams its answer into the Efrit Chat output', async () => {
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible' });
    await input.fill('calc.ts');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'calc.ts' }).first().waitFor();
    await page.keyboard.press('Enter');
    await until(editorText, (t) => t.includes('return a - b;'), 'calc.ts in the editor');

    await selectLines(2, 4);
    await runCommand('Efrit: Explain');
    const output = await until(outputText, (t) => t.includes(explanation.join('')), 'the explanation in the Efrit Chat output');
    expect(output).toMatch(/^Explain$/m);
  }, 180_000);

  it('lists the Efrit actions under "Rewrite" in the Refactor menu, Explain among them, none under "More Actions..."', async () => {
    await selectLines(2, 4);
    const rows = await openRefactorMenu();
    const efritRows = rows.filter((row) => row.includes('Efrit: '));
    expect(efritRows.map((row) => row.replace(/\s+$/, ''))).toEqual(
      expect.arrayContaining([expect.stringContaining('Efrit: Explain'), expect.stringContaining('Efrit: Add documentation'), expect.stringContaining('Efrit: Write tests')]),
    );
    const headingOf = (row: string): string | undefined => rows.slice(0, rows.indexOf(row)).findLast((r) => ['Rewrite', 'More Actions...', 'Quick Fix', 'Extract', 'Inline', 'Move'].includes(r.trim()));
    for (const row of efritRows) expect(headingOf(row)?.trim(), row).toBe('Rewrite');
  }, 180_000);

  it('applies "Efrit: Add documentation" picked from the Refactor menu: the document changes as the model proposed', async () => {
    await selectLines(2, 4);
    await openRefactorMenu();
    await pick('Efrit: Add documentation');
    const text = await until(editorText, (t) => t.includes(docComment), 'the doc comment in the editor');
    expect(text).toContain(`${docComment}\nexport function add(a: number, b: number): number {`);
    expect(text).toContain('return a - b;');
  }, 180_000);

  it('heads Explain picked from the menu with its name and file in the transcript, not a job id', async () => {
    await selectLines(3, 5);
    await openRefactorMenu();
    await pick('Efrit: Explain');
    const output = await until(outputText, (t) => t.includes('── Explain · calc.ts ──'), 'the named heading in the Efrit Chat output');
    expect(output).not.toMatch(/── job-\d+ ──/);
  }, 180_000);

  it('Efrit: Status writes the server version and the model into the chat output', async () => {
    await runCommand('Efrit: Status');
    const output = await until(outputText, (t) => /efrit-lsp \S+ · claude-sonnet-5-5/.test(t), 'the status lines in the Efrit Chat output');
    expect(output).not.toContain('No API key');
    expect(await statusItem().innerText()).toMatch(/Efrit \d+(\.\d+k)? tok/);
  }, 180_000);

  it('Efrit: Status lists each provider after an inline suggestion from the openai: fast model: Claude in dollars, the unpriced one in tokens only', async () => {
    await selectLines(3, 3);
    await page.keyboard.press('End');
    const asked = openai?.requests.length ?? 0;
    await runCommand('Trigger Inline Suggestion');
    await until(async () => openai?.requests.slice(asked).some((r) => r.outcome === 'completed') ?? false, (done) => done, 'the fast model to answer');
    // Status is asked again until the answer is counted: the server counts it as the stream ends, after the fake has sent it.
    const output = await until(
      async () => {
        await runCommand('Efrit: Status');
        return outputText();
      },
      (t) => /^openai: /m.test(t),
      'the openai line in the Efrit Chat output',
    );
    expect(output).toMatch(/^anthropic: \d+ requests? · tokens in [\d.]+k?( \([\d.]+k? from the cache\))?, out [\d.]+k? · \$\d+\.\d{4}$/m);
    expect(output).toMatch(/^openai: \d+ requests? · tokens in [\d.]+k?( \([\d.]+k? from the cache\))?, out [\d.]+k? · no price known \(tokens only\)$/m);
  }, 180_000);

  it('Efrit: Do across files: Discard in the Refactor Preview leaves every file byte-identical and creates none', async () => {
    await proposeRename();
    // Nothing has happened yet: the change waits for the user.
    expect(existsSync(shopFile('shop/cart.test.ts'))).toBe(false);
    await refactorPreview().locator('.monaco-button', { hasText: /^Discard$/ }).click();

    const said = notification(discardedMessage);
    await said.waitFor();
    expect(await said.locator('.codicon-warning').count()).toBe(1);
    for (const [path, text] of Object.entries(shop)) expect(readFileSync(join(project, path)), path).toEqual(Buffer.from(text));
    expect(existsSync(shopFile('shop/cart.test.ts'))).toBe(false);
    expect(await editorText()).toBe(shop['shop/cart.ts']);
    expect(await unsavedShopTabs().count()).toBe(0);
    await refactorPreview().waitFor({ state: 'hidden' });
    await notification('Efrit: working…').waitFor({ state: 'hidden' });
  }, 240_000);

  it('Efrit: Do across files: Cancel on its progress while the change waits in the Refactor Preview discards it there', async () => {
    await proposeRename();
    const progress = notification('Efrit: working…');
    await progress.locator('.monaco-button', { hasText: /^Cancel$/ }).click();

    await refactorPreview().waitFor({ state: 'hidden' });
    await progress.waitFor({ state: 'detached' });
    for (const [path, text] of Object.entries(shop)) expect(readFileSync(join(project, path)), path).toEqual(Buffer.from(text));
    expect(existsSync(shopFile('shop/cart.test.ts'))).toBe(false);
    expect(await unsavedShopTabs().count()).toBe(0);
  }, 240_000);

  it('Efrit: Do across files: ticking the files and Apply in the Refactor Preview changes them exactly, creates the test, and saves them', async () => {
    await proposeRename();
    // Changes that need confirmation start unticked: the user ticks each file (here all three) before Apply.
    const rows = previewFileRows();
    for (let row = 0; row < (await rows.count()); row++) await rows.nth(row).locator('input.edit-checkbox').check();
    await refactorPreview().locator('.monaco-button', { hasText: /^Apply$/ }).click();

    // The extension says so once efrit/do answers `applied`, which VS Code gives after the files are written.
    await notification(`Efrit: ${renameProposal.summary}`).waitFor();
    expect(readFileSync(shopFile('shop/cart.ts'), 'utf8')).toBe(shop['shop/cart.ts'].replace('export function total(', 'export function sumCart('));
    expect(readFileSync(shopFile('shop/checkout.ts'), 'utf8')).toBe(
      shop['shop/checkout.ts'].replace("import { total } from './cart.js';", "import { sumCart } from './cart.js';").replace('formatCents(total(prices))', 'formatCents(sumCart(prices))'),
    );
    expect(readFileSync(shopFile('shop/cart.test.ts'), 'utf8')).toBe(cartTestTs);
    expect(readFileSync(shopFile('shop/format.ts'), 'utf8')).toBe(shop['shop/format.ts']);
    // The open editor shows the change, saved (no tab left dirty).
    expect(await editorText()).toContain('export function sumCart(prices: number[]): number {');
    expect(await unsavedShopTabs().count()).toBe(0);
  }, 240_000);

  it('"Efrit: Write tests" from the Refactor menu creates its test file through the Refactor Preview', async () => {
    await openFile('shop/format.ts', shop['shop/format.ts']);
    await selectLines(1, 3);
    await openRefactorMenu();
    await pick('Efrit: Write tests');
    const labels = await until(previewFileLabels, (l) => l.length === 1, 'the Refactor Preview to list the test file', 120_000);
    expect(labels).toEqual(['Creating shop/format.test.ts, also making text edits']);
    expect(existsSync(shopFile('shop/format.test.ts'))).toBe(false);
    await previewFileRows().first().locator('input.edit-checkbox').check();
    await refactorPreview().locator('.monaco-button', { hasText: /^Apply$/ }).click();
    await refactorPreview().waitFor({ state: 'hidden' });
    await eventually(() => (existsSync(shopFile('shop/format.test.ts')) ? true : undefined), 'the test file on disk');
    // VS Code applies a code action's edit to one file without saving it (as it does any code action's): the new
    // file's text is in its editor, to be saved by the user.
    await openFile('shop/format.test.ts', formatTestTs);
    expect(await editorText()).toBe(formatTestTs);
    expect(readFileSync(shopFile('shop/format.ts'), 'utf8')).toBe(shop['shop/format.ts']);
  }, 240_000);
});
