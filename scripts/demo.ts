/**
 * `npm run demo`: efrit-lsp's main job, end to end, as an editor would drive
 * it. Starts the real server over stdio, opens a sample file, edits it, lists
 * the code actions, runs a fix (while the user keeps typing, so the edit is
 * rebased), explains a function, holds a two-turn chat, then prints the diff
 * and the usage from `efrit/status`.
 *
 * With ANTHROPIC_API_KEY set it talks to the real API; without, to the
 * bundled fake Messages API on loopback with a rule-based stand-in model.
 */
import { createTwoFilesPatch } from 'diff';
import type { CodeAction, Command, Diagnostic } from 'vscode-languageserver-protocol';
import type { ChatResult, RunActionResult, StatusResult } from '../server/src/protocol.js';
import { startFakeAnthropic, type FakeAnthropic } from '../test/support/fake-anthropic/server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../test/support/fake-openai/server.js';
import { positionOf, rangeOf, TestClient } from '../test/support/lsp-client.js';
import { demoResponder } from './demo-model.js';
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

function providerArgument(): 'anthropic' | 'openai' {
  const at = process.argv.indexOf('--provider');
  const value = at < 0 ? 'anthropic' : process.argv[at + 1];
  if (value !== 'anthropic' && value !== 'openai') throw new Error(`--provider takes anthropic or openai, not ${String(value)}`);
  return value;
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

async function main(): Promise<void> {
  const demoModel = providerArgument() === 'openai' ? await openaiModel() : await anthropicModel();
  const { env, fake } = demoModel;

  const started = Date.now();
  const client = await TestClient.start({ env, initializationOptions: demoModel.settings });
  out(`server: ${client.initializeResult.serverInfo?.name} ${client.initializeResult.serverInfo?.version}, initialized in ${Date.now() - started} ms\n`);
  let printedUpTo = 0;
  const printStream = (jobId: string): void => {
    for (const event of client.streams.slice(printedUpTo)) {
      if (event.jobId !== jobId) continue;
      // Status notes ("asking …") are for an editor's mode line; the demo shows the text and tool notes.
      if (event.kind === 'text') out(event.text);
      else if (event.kind === 'error') out(`\n  [error] ${event.text}\n`);
      else if (event.kind === 'tool') out(`  [tool] ${event.text}\n`);
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
  }
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
