/**
 * `npm run demo`: efrit-lsp's main job, end to end, as an editor would drive
 * it. Starts the real server over stdio on a small workspace, opens a sample
 * file, edits it, lists the code actions, runs a fix (while the user keeps
 * typing, so the edit is rebased), explains a function, holds a two-turn
 * chat, makes one change across files with its review (efrit/do with
 * `apply: false`, a diff per file, then `efrit.applyJob`, whose
 * `workspace/applyEdit` the demo applies as an editor would), then prints the
 * diff and the usage from `efrit/status`.
 *
 * With ANTHROPIC_API_KEY set it talks to the real API; without, to the
 * bundled fake Messages API on loopback with a rule-based stand-in model.
 * `--provider openai` does the same through the server's `openai:` provider
 * (the real `openai` SDK; the fake Chat Completions API unless
 * OPENAI_API_KEY is set), `--provider ollama` through its `ollama:` provider
 * (the real `ollama` library; the fake Ollama unless OLLAMA_HOST is set).
 * The stand-in model is the same rules behind each fake.
 *
 *   node dist/scripts/demo.js [--provider anthropic|openai|ollama] [--workspace DIR]
 *
 * The workspace is a fresh temporary folder, removed at the end; with
 * `--workspace` it is DIR (created if missing, and left there to look at).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTwoFilesPatch } from 'diff';
import type { ClientCapabilities, CodeAction, Command, Diagnostic } from 'vscode-languageserver-protocol';
import type { ChatResult, DoResult, RunActionResult, StatusResult } from '../server/src/protocol.js';
import { startFakeAnthropic, type FakeAnthropic } from '../test/support/fake-anthropic/server.js';
import { startFakeOllama, type FakeOllama } from '../test/support/fake-ollama/server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../test/support/fake-openai/server.js';
import { positionOf, rangeOf, TestClient, vscodeCapabilities } from '../test/support/lsp-client.js';
import { applyAsEditor, openTextIn, planWorkspaceEdit, type PlannedFileChange } from '../test/support/workspace-edit-files.js';
import { demoResponder } from './demo-model.js';
import { ollamaDemoResponder } from './demo-ollama-model.js';
import { openaiDemoResponder } from './demo-openai-model.js';

const sample = `// cart.ts — totals for a small shop.
export interface LineItem {
  name: string;
  unitPrice: number;
  quantity: number;
}

export function cartTotal(items: LineItem[], taxRate: number): number {
  let subtotal = 0;
  for (const item of items) {
    subtotal += item.unitPrice * item.quantity;
  }
  return subtotal * (1 + taxRate);
}

export function formatTotal(total: number, currency: string): string {
  return \`\${total.toFixed(2)} \${currencySymbol}\`;
}
`;

/** Files of the sample workspace that use the cart's total: the change across files renames it in all of them. */
const workspaceFiles: Record<string, string> = {
  'src/checkout.ts': `// checkout.ts — what the customer pays.
import { cartTotal, type LineItem } from './cart.js';

export function amountDue(items: LineItem[]): number {
  return cartTotal(items, 0.2);
}
`,
  'src/receipt.ts': `// receipt.ts — the printed summary of an order.
import { cartTotal, formatTotal, type LineItem } from './cart.js';

export function receiptLine(items: LineItem[]): string {
  const net = cartTotal(items, 0);
  const gross = cartTotal(items, 0.2);
  return \`net \${formatTotal(net, 'EUR')}, gross \${formatTotal(gross, 'EUR')}\`;
}
`,
};

const renameInstruction = 'rename cartTotal to orderTotal and add a test';

/**
 * The demo plays an editor that applies workspace edits to files it has not
 * open, and creates, renames and deletes files; it has no change annotations,
 * so Efrit's changes are reviewed the way eglot and Neovim review them.
 */
const demoCapabilities: ClientCapabilities = {
  ...vscodeCapabilities,
  workspace: { ...vscodeCapabilities.workspace, workspaceEdit: { documentChanges: true, resourceOperations: ['create', 'rename', 'delete'], failureHandling: 'abort' } },
};

const out = (text: string): void => {
  process.stdout.write(text);
};
const heading = (text: string): void => out(`\n\x1b[1m== ${text}\x1b[0m\n`);

function isCodeAction(item: CodeAction | Command): item is CodeAction {
  return !('command' in item && typeof item.command === 'string');
}

interface DemoModel {
  env: Record<string, string | undefined>;
  settings: Record<string, unknown>;
  /** The offline fake, when there is one: how many requests it saw, and closing it. */
  fake?: { received(): number; close(): Promise<void> };
}

const demoProviders = ['anthropic', 'openai', 'ollama'] as const;
type DemoProvider = (typeof demoProviders)[number];

function providerArgument(): DemoProvider {
  const at = process.argv.indexOf('--provider');
  const value = at < 0 ? 'anthropic' : process.argv[at + 1];
  const known = demoProviders.find((provider) => provider === value);
  if (known === undefined) throw new Error(`--provider takes ${demoProviders.join(', ')}, not ${String(value)}`);
  return known;
}

async function anthropicModel(): Promise<DemoModel> {
  const realKey = process.env['ANTHROPIC_API_KEY'];
  if (realKey !== undefined && realKey !== '') {
    out('efrit-lsp demo — ANTHROPIC_API_KEY is set: talking to the real Anthropic API.\n');
    return { env: { ANTHROPIC_API_KEY: realKey, ANTHROPIC_BASE_URL: process.env['ANTHROPIC_BASE_URL'] }, settings: {} };
  }
  const fake: FakeAnthropic = await startFakeAnthropic({ respond: demoResponder, apiKey: 'sk-ant-demo-offline-key-0000' });
  out(`efrit-lsp demo — no ANTHROPIC_API_KEY: running OFFLINE against the bundled fake Anthropic API at ${fake.url}\n`);
  out('(set ANTHROPIC_API_KEY to run the same steps against the real API)\n');
  return { env: { ANTHROPIC_API_KEY: 'sk-ant-demo-offline-key-0000', ANTHROPIC_BASE_URL: fake.url }, settings: {}, fake: { received: () => fake.requests.length, close: () => fake.close() } };
}

async function openaiModel(): Promise<DemoModel> {
  const model = 'openai:gpt-4.1';
  const realKey = process.env['OPENAI_API_KEY'];
  if (realKey !== undefined && realKey !== '') {
    out(`efrit-lsp demo — OPENAI_API_KEY is set: talking to ${process.env['OPENAI_BASE_URL'] ?? 'the real OpenAI API'} as ${model}.\n`);
    return { env: { OPENAI_API_KEY: realKey, OPENAI_BASE_URL: process.env['OPENAI_BASE_URL'] }, settings: { model, fastModel: model } };
  }
  const key = 'sk-proj-demo-offline-key-0000';
  const fake: FakeOpenAI = await startFakeOpenAI({ respond: openaiDemoResponder, apiKey: key });
  out(`efrit-lsp demo — provider openai, no OPENAI_API_KEY: running OFFLINE against the bundled fake Chat Completions API at ${fake.baseURL}\n`);
  out('(set OPENAI_API_KEY, and OPENAI_BASE_URL for another compatible server, to run the same steps against it)\n');
  return {
    env: { OPENAI_API_KEY: key, OPENAI_BASE_URL: undefined },
    settings: { model, fastModel: model, openai: { baseURL: fake.baseURL } },
    fake: { received: () => fake.requests.length, close: () => fake.close() },
  };
}

async function ollamaModel(): Promise<DemoModel> {
  const model = 'ollama:qwen2.5-coder:7b';
  const host = process.env['OLLAMA_HOST'];
  if (host !== undefined && host !== '') {
    out(`efrit-lsp demo — provider ollama, OLLAMA_HOST is set: talking to the Ollama at ${host} as ${model}.\n`);
    return { env: { OLLAMA_HOST: host }, settings: { model, fastModel: model } };
  }
  const fake: FakeOllama = await startFakeOllama({ respond: ollamaDemoResponder });
  out(`efrit-lsp demo — provider ollama, no OLLAMA_HOST: running OFFLINE against the bundled fake Ollama API at ${fake.baseURL}\n`);
  out('(set OLLAMA_HOST, e.g. http://127.0.0.1:11434, and pull qwen2.5-coder:7b, to run the same steps against your Ollama)\n');
  return {
    env: { OLLAMA_HOST: undefined },
    settings: { model, fastModel: model, ollama: { baseURL: fake.baseURL } },
    fake: { received: () => fake.requests.length, close: () => fake.close() },
  };
}

const demoModels: Record<DemoProvider, () => Promise<DemoModel>> = { anthropic: anthropicModel, openai: openaiModel, ollama: ollamaModel };

async function main(): Promise<void> {
  const demoModel = await demoModels[providerArgument()]();
  const { env, fake } = demoModel;

  const workspaceArgument = workspaceOption(process.argv.slice(2));
  const workspace = workspaceArgument ?? mkdtempSync(join(tmpdir(), 'efrit-demo-'));
  mkdirSync(workspace, { recursive: true });
  // The sample is on disk too: the editor's unsaved text is what the agent reads, the disk is what others see.
  for (const [path, text] of Object.entries({ 'src/cart.ts': sample, ...workspaceFiles })) {
    mkdirSync(dirname(join(workspace, path)), { recursive: true });
    writeFileSync(join(workspace, path), text);
  }
  let editor: TestClient | undefined;

  const started = Date.now();
  const client = await TestClient.start({
    env,
    initializationOptions: demoModel.settings,
    workspaceFolder: workspace,
    capabilities: demoCapabilities,
    onApplyEdit: (params) => (editor === undefined ? { applied: false, failureReason: 'the demo editor is still starting' } : applyAsEditor(editor, params)),
  });
  editor = client;
  out(`server: ${client.initializeResult.serverInfo?.name} ${client.initializeResult.serverInfo?.version}, initialized in ${Date.now() - started} ms\n`);
  let printedUpTo = 0;
  const printStream = (jobId: string): void => {
    // An agent's steps alternate text and tool notes: each note goes on a line of its own.
    let midLine = false;
    for (const event of client.streams.slice(printedUpTo)) {
      if (event.jobId !== jobId) continue;
      // Status notes ("asking …") are for an editor's mode line; the demo shows the text and tool notes.
      if (event.kind === 'text') {
        out(event.text);
        midLine = !event.text.endsWith('\n');
      } else if (event.kind === 'error') {
        out(`\n  [error] ${event.text}\n`);
        midLine = false;
      } else if (event.kind === 'tool') {
        out(`${midLine ? '\n' : ''}  [tool] ${event.text}\n`);
        midLine = false;
      }
    }
    printedUpTo = client.streams.length;
  };

  try {
    heading('open and edit');
    const uri = await client.open('src/cart.ts', sample);
    await client.edit(uri, '// cart.ts — totals for a small shop.', '// cart.ts — totals for a small shop (prices in euros).');
    out(`opened ${uri} and edited line 1 (incremental didChange)\n`);

    heading('code actions');
    const diagnosticRange = rangeOf(client.text(uri), 'currencySymbol');
    const diagnostic: Diagnostic = {
      range: diagnosticRange,
      severity: 1,
      source: 'ts',
      code: 2552,
      message: "Cannot find name 'currencySymbol'. Did you mean 'currency'?",
    };
    const actions = (await client.codeActions(uri, diagnosticRange, [diagnostic])).filter(isCodeAction);
    for (const action of actions) out(`  ${action.title}\n`);

    heading('run the fix (and keep typing meanwhile)');
    const fix = actions.find((a) => a.title.startsWith('Efrit: Fix'));
    if (fix === undefined) throw new Error('no Efrit: Fix action was offered');
    const streamsBefore = client.streams.length;
    const resolving = client.request<CodeAction>('codeAction/resolve', fix);
    // The user types above the function while the model works: the edit is rebased, not refused.
    await client.edit(uri, 'export interface LineItem {', '/** One line of an order. */\nexport interface LineItem {');
    const resolved = await resolving;
    printStream(client.streams[streamsBefore]?.jobId ?? '');
    const editedVersion = (resolved.edit?.documentChanges?.[0] as { textDocument?: { version?: number } } | undefined)?.textDocument?.version;
    if (resolved.edit?.documentChanges !== undefined) {
      await applyResolvedEdit(client, resolved);
      out(`  fix resolved into an edit for document version ${String(editedVersion)} — the version after the typing, so it was rebased — and applied\n`);
    } else if (resolved.command !== undefined) {
      const result = await client.executeCommand<{ applied: boolean }>(resolved.command.command, resolved.command.arguments?.[0]);
      out(`  fix handed over to ${resolved.command.command}: applied=${String(result.applied)}\n`);
    }

    heading('explain cartTotal (streamed)');
    const text = client.text(uri);
    const explainRange = { start: positionOf(text, 'export function cartTotal'), end: rangeOf(text, 'return subtotal * (1 + taxRate);\n}').end };
    const explainAction = (await client.codeActions(uri, explainRange)).filter(isCodeAction).find((a) => a.title === 'Efrit: Explain');
    if (explainAction?.command === undefined) throw new Error('no Efrit: Explain action');
    const explained = await client.executeCommand<RunActionResult>(explainAction.command.command, explainAction.command.arguments?.[0]);
    out('  ');
    printStream(explained.jobId);
    out('\n');

    heading('chat, two turns in one session');
    const question = 'How should I round the total for display?';
    out(`you: ${question}\nefrit: `);
    const first = await client.request<ChatResult>('efrit/chat', { message: question, textDocument: { uri }, range: explainRange });
    printStream(first.jobId);
    out(`\nyou: Does that also help the tests?\nefrit: `);
    const second = await client.request<ChatResult>('efrit/chat', { sessionId: first.sessionId, message: 'Does that also help the tests?' });
    printStream(second.jobId);
    out('\n');

    await changeAcrossFiles(client, uri, printStream);

    heading('the file now (diff against what was opened)');
    out(createTwoFilesPatch('src/cart.ts (opened)', 'src/cart.ts (now)', sample, client.text(uri), '', '', { context: 1 }));

    heading('usage (efrit/status)');
    const status = await client.request<StatusResult>('efrit/status', {});
    out(`  model ${status.model}; ${status.usage.requests} model calls; ${status.usage.inputTokens} input + ${status.usage.outputTokens} output tokens; cache read ${status.usage.cacheReadTokens} / write ${status.usage.cacheWriteTokens}; ${status.usage.requestBytes} request bytes\n`);
    out(`  queue: ${status.queue.running} running, ${status.queue.queued} queued (concurrency ${status.queue.concurrency}); sessions open: ${status.sessions.open}\n`);
    if (fake !== undefined) out(`  the fake API received ${fake.received()} requests\n`);
  } finally {
    const code = await client.stop();
    await fake?.close();
    out(`\nserver exited with code ${String(code)}\n`);
    if (workspaceArgument === undefined) rmSync(workspace, { recursive: true, force: true });
    else out(`the workspace is left in ${workspace}\n`);
  }
}

function workspaceOption(args: readonly string[]): string | undefined {
  const at = args.indexOf('--workspace');
  if (at < 0) return undefined;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) throw new Error('--workspace needs a folder');
  return resolve(value);
}

/**
 * efrit/do renames a function used in three files and adds a test file; the
 * change comes back unapplied (`apply: false`), is shown whole, a diff per
 * file, then accepted with `efrit.applyJob`: the server checks it again and
 * sends it as one `workspace/applyEdit`, which the demo applies.
 */
async function changeAcrossFiles(client: TestClient, uri: string, printStream: (jobId: string) => void): Promise<void> {
  heading('a change across files, reviewed before it lands');
  out(`you (efrit/do, apply: false): ${renameInstruction}\n`);
  const text = client.text(uri);
  const result = await client.request<DoResult>('efrit/do', { instruction: renameInstruction, textDocument: { uri }, range: rangeOf(text, 'cartTotal'), apply: false });
  printStream(result.jobId);
  out(`\nefrit (${result.steps} steps): ${result.summary}\n`);
  if (result.edit === null) {
    out('  no change was proposed\n');
    return;
  }
  const plan = planWorkspaceEdit(result.edit, openTextIn(client));
  if (!plan.ok) throw new Error(`the proposed change cannot be shown: ${plan.reason}`);

  // The list is the server's (`files`, in the order it applies them); each diff is worked out here, as a client does.
  heading(`review: ${result.files.length} files`);
  for (const file of result.files) out(`  ${file.kind.padEnd(6)} ${file.path}${file.newPath === undefined ? '' : ` → ${file.newPath}`}\n`);
  for (const file of result.files) {
    const change = plan.changes.find((planned) => planned.uri === file.uri);
    if (change !== undefined) out(diffOf(client, change));
  }

  out('\naccept → workspace/executeCommand efrit.applyJob { jobId }\n');
  const before = client.appliedEdits.length;
  const accepted = await client.executeCommand<{ applied: boolean }>('efrit.applyJob', { jobId: result.jobId });
  for (const params of client.appliedEdits.slice(before)) {
    const changes = params.edit.documentChanges ?? [];
    const files = new Set(changes.map((change) => ('textDocument' in change ? change.textDocument.uri : 'oldUri' in change ? change.oldUri : change.uri)));
    out(`  the server sent workspace/applyEdit "${params.label ?? ''}": ${changes.length} changes to ${files.size} files, which the demo editor applied (the open cart in its buffer, the rest on disk)\n`);
  }
  out(`  efrit.applyJob answered ${JSON.stringify(accepted)}\n`);
}

function displayPath(client: TestClient, uri: string): string {
  return relative(client.workspaceFolder, fileURLToPath(uri));
}

function diffOf(client: TestClient, change: PlannedFileChange): string {
  const path = displayPath(client, change.uri);
  const newPath = change.newUri === undefined ? path : displayPath(client, change.newUri);
  return createTwoFilesPatch(change.before === undefined ? '/dev/null' : `a/${path}`, change.after === undefined ? '/dev/null' : `b/${newPath}`, change.before ?? '', change.after ?? '', '', '', { context: 1 });
}

/** The client applies a resolved action's edit itself, as VS Code does. */
async function applyResolvedEdit(client: TestClient, action: CodeAction): Promise<void> {
  for (const change of action.edit?.documentChanges ?? []) {
    if (!('textDocument' in change)) continue;
    const changes = [...change.edits]
      .sort((a, b) => b.range.start.line - a.range.start.line || b.range.start.character - a.range.start.character)
      .map((edit) => ({ range: edit.range, text: 'newText' in edit ? edit.newText : '' }));
    await client.sendChanges(change.textDocument.uri, changes);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
