/**
 * The VS Code extension (clients/vscode). VS Code cannot run here, so:
 * the extension type-checks against @types/vscode and packages into a .vsix
 * with what the extension host loads; its contributed settings are the ones
 * the schema generates; and its protocol logic (efrit-controller.ts, the code
 * behind its commands, transcript and status bar) runs against the real
 * server, over a client that advertises VS Code's capabilities, through the
 * same scenario as the other editors. Last, the server the .vsix ships is
 * started the way VS Code starts it (Node IPC) and answers a chat, and the
 * bundled extension itself is activated in a stand-in extension host
 * (vscode-host.ts) and its commands run against that server.
 */
import { execFileSync, fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CancellationTokenSource,
  type CancellationToken,
  createProtocolConnection,
  InitializedNotification,
  InitializeRequest,
  IPCMessageReader,
  IPCMessageWriter,
  RegistrationRequest,
  type Registration,
  type CodeAction,
  type TextDocumentEdit,
  type TextEdit,
  type WorkspaceEdit,
} from 'vscode-languageserver-protocol/node';
import { ExtensionCommands } from '../../clients/vscode/src/command-ids.js';
import { extensionSettings, serverSection } from '../../clients/vscode/src/extension-settings.js';
import { EfritController, explainDeclinedEdit, formatCount, isCancellation, notAcceptedInPreview, serverCancellation, statusBarView, Transcript, type TranscriptSink } from '../../clients/vscode/src/efrit-controller.js';
import { contributedConfiguration, manifestText, syncedManifest, userOnlySettings } from '../../scripts/vscode-manifest.js';
import { settingsSchema } from '../../server/src/settings/config.js';
import { allCommands, Methods, type ChatResult, type DocumentTextResult, type RunActionResult, type StreamParams } from '../../server/src/protocol.js';
import { inventoryTs, statsPy } from '../fixtures/samples.js';
import { startFakeAnthropic } from '../support/fake-anthropic/server.js';
import { startFakeOpenAI } from '../support/fake-openai/server.js';
import { testOpenAIKey } from '../support/openai-harness.js';
import { editReply, startHarness, testApiKey, type Harness } from '../support/harness.js';
import { rangeOf, repoRoot, vscodeCapabilities, type TestClient } from '../support/lsp-client.js';
import { createVSCodeHost, WorkspaceEdit as HostWorkspaceEdit, type OutputChannelRecord } from './vscode-host.js';
import { gate, never } from '../support/gate.js';

const extensionDir = join(repoRoot, 'clients', 'vscode');
const manifestPath = join(extensionDir, 'package.json');
const readManifest = (): Record<string, unknown> => JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
const rootVersion = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

// ---------------------------------------------------------------- the build

/** The entries of a zip file, read from its central directory; `read` inflates one. */
function readZip(file: string): { names: string[]; read(name: string): Buffer } {
  const zip = readFileSync(file);
  let end = zip.length - 22;
  while (end >= 0 && zip.readUInt32LE(end) !== 0x06054b50) end--;
  if (end < 0) throw new Error(`${file} is not a zip file`);
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries = new Map<string, { method: number; size: number; offset: number }>();
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('bad central directory entry');
    const nameLength = zip.readUInt16LE(at + 28);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    entries.set(name, { method: zip.readUInt16LE(at + 10), size: zip.readUInt32LE(at + 20), offset: zip.readUInt32LE(at + 42) });
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return {
    names: [...entries.keys()],
    read(name) {
      const entry = entries.get(name);
      if (entry === undefined) throw new Error(`${name} is not in ${file}`);
      const start = entry.offset + 30 + zip.readUInt16LE(entry.offset + 26) + zip.readUInt16LE(entry.offset + 28);
      const data = zip.subarray(start, start + entry.size);
      return entry.method === 8 ? inflateRawSync(data) : Buffer.from(data);
    },
  };
}

/** The package is assembled here, away from clients/vscode/dist, which a developer's build or another run may be rewriting. */
const work = mkdtempSync(join(tmpdir(), 'efrit-vscode-'));
const staged = join(work, 'extension');
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the extension', () => {

  it('type-checks against @types/vscode and vscode-languageclient (its own strict tsconfig)', () => {
    const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
    const run = (): string => execFileSync(process.execPath, [tsc, '-p', join(extensionDir, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
    expect(run).not.toThrow();
  });

  it('bundles and packages into a .vsix holding what the extension host loads (npm run build:vscode)', () => {
    const buildScript = join(repoRoot, 'dist', 'scripts', 'vscode-build.js');
    expect(existsSync(buildScript), 'run `npm run build` first (npm test does)').toBe(true);
    const vsix = join(work, 'efrit.vsix');
    // --check: fail instead of rewriting a stale manifest, so this test never hides one.
    execFileSync(process.execPath, [buildScript, '--check', '--stage', staged, '--out', vsix], { cwd: repoRoot, stdio: 'pipe' });

    const zip = readZip(vsix);
    expect(zip.names).toEqual(
      expect.arrayContaining([
        'extension.vsixmanifest',
        'extension/package.json',
        'extension/dist/extension.js',
        'extension/dist/server/efrit-lsp.cjs',
        'extension/dist/server/efrit-lsp-server.cjs',
        'extension/dist/server/package.json',
        'extension/readme.md',
        'extension/LICENSE.txt',
      ]),
    );
    // No code cache: one made with this Node would be refused by VS Code's; the launcher writes its own on the first start.
    expect(zip.names.filter((name) => name.endsWith('.cache'))).toEqual([]);
    // The SDK rides along (a .vsix has no node_modules), in a bundle of its own that start-up never reads.
    expect(zip.read('extension/dist/server/anthropic-sdk.cjs').toString('utf8')).toContain('api.anthropic.com');
    expect(zip.read('extension/dist/server/efrit-lsp-server.cjs').toString('utf8')).not.toContain('api.anthropic.com');
    expect(zip.names.filter((name) => /\/src\/|node_modules|\.map$|\.ts$|\.vsix$/.test(name))).toEqual([]);

    const packaged = JSON.parse(zip.read('extension/package.json').toString('utf8')) as Record<string, unknown> & {
      main: string;
      contributes: { configuration: unknown };
    };
    expect(packaged.main).toBe('./dist/extension.js');
    expect(packaged.contributes.configuration).toEqual(contributedConfiguration());
    const bundle = zip.read('extension/dist/extension.js').toString('utf8');
    // CommonJS for the extension host, with `vscode` left to it and the shared protocol names compiled in.
    expect(bundle).toMatch(/require\("vscode"\)/);
    expect(bundle).toContain('"efrit/stream"');
    expect(bundle).not.toMatch(/^\s*(import|export)\s/m);
    // Nothing but Node's own modules (and `vscode`) is left to resolve at run time: there is no node_modules beside it.
    const external = new Set<string>();
    for (const name of zip.names.filter((n) => n.startsWith('extension/dist/') && n.endsWith('.js'))) {
      for (const [, specifier] of zip.read(name).toString('utf8').matchAll(/(?:\bfrom |\bimport\(|\brequire\()"([^"./][^"]*)"/g)) external.add(specifier as string);
    }
    expect([...external].filter((s) => s !== 'vscode' && !isBuiltin(s))).toEqual([]);
  });
});

// ---------------------------------------------------------------- the manifest

describe('the manifest', () => {
  const manifest = readManifest() as Record<string, unknown> & {
    engines: { vscode: string };
    contributes: { commands: { command: string; title: string; category: string }[]; configuration: { properties: Record<string, unknown> } };
  };

  it('contributes exactly the settings the schema generates (else: npm run build:vscode)', () => {
    expect(readFileSync(manifestPath, 'utf8'), 'clients/vscode/package.json is stale: run npm run build:vscode').toBe(manifestText(syncedManifest(manifest, rootVersion)));
    const properties = manifest.contributes.configuration.properties;
    expect(Object.keys(properties)).toEqual([...Object.keys(settingsSchema), ...Object.keys(extensionSettings)].map((key) => `efrit.${key}`));
    expect(properties['efrit.queue.concurrency']).toMatchObject({ type: 'integer', default: 4, minimum: 1, maximum: 64 });
    expect(properties['efrit.logLevel']).toMatchObject({ type: 'string', default: 'info', enum: ['error', 'warn', 'info', 'debug'] });
    expect(properties['efrit.actions']).toMatchObject({ type: 'array', default: [] });
    expect(properties['efrit.agent.commands']).toMatchObject({ type: 'object', default: {}, additionalProperties: { type: 'array', items: { type: 'string' }, minItems: 1 }, maxProperties: 16 });
    // The extension's own setting, after the server's; the server is never sent it.
    expect(properties['efrit.offline']).toMatchObject({ type: 'boolean', default: false, order: Object.keys(settingsSchema).length });
    expect((properties['efrit.offline'] as { description: string }).description).toMatch(/^Try Efrit without an API key: a built-in demo model answers \(clearly labelled offline\); nothing is sent to an API\./);
    expect('offline' in settingsSchema).toBe(false);
    // Settings a cloned repository must not set are the user's own.
    for (const key of userOnlySettings) {
      expect(key in settingsSchema, `${key} is no longer in the schema`).toBe(true);
      expect(properties[`efrit.${key}`]).toMatchObject({ scope: 'machine' });
    }
  });

  it('offers Chat, Do, Explain, Status and Cancel under ids the LanguageClient does not register', () => {
    const commands = manifest.contributes.commands;
    expect(commands.map((c) => c.command).sort()).toEqual(Object.values(ExtensionCommands).sort());
    expect(commands.map((c) => `${c.category}: ${c.title}`)).toEqual(
      expect.arrayContaining(['Efrit: Chat', 'Efrit: Do', 'Efrit: Explain', 'Efrit: Status', 'Efrit: Cancel']),
    );
    for (const { command } of commands) expect(allCommands).not.toContain(command);
  });

  it('targets the VS Code that the bundled client and the types are for', () => {
    const types = JSON.parse(readFileSync(join(repoRoot, 'node_modules', '@types', 'vscode', 'package.json'), 'utf8')) as { version: string };
    const client = JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'vscode-languageclient', 'package.json'), 'utf8')) as { engines: { vscode: string } };
    expect(manifest.engines.vscode).toBe(`^${types.version}`);
    expect(manifest.engines.vscode).toBe(client.engines.vscode);
    expect(manifest).toMatchObject({ main: './dist/extension.js', activationEvents: ['onStartupFinished'] });
  });
});

// ---------------------------------------------------------------- the protocol

/** What VS Code's settings hold under `efrit` when nothing is set: every contributed default, dotted keys as nested objects. */
function contributedDefaults(): Record<string, unknown> {
  const section: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(contributedConfiguration().properties)) {
    const path = key.split('.').slice(1);
    let at = section;
    for (const part of path.slice(0, -1)) at = (at[part] ??= {}) as Record<string, unknown>;
    at[path.at(-1) as string] = structuredClone(property.default);
  }
  return section;
}

/** The `efrit` section as the extension answers the server's pull: the defaults without the extension's own settings. */
function vscodeSettingsSection(): Record<string, unknown> {
  return serverSection(contributedDefaults()) as Record<string, unknown>;
}

/** What VS Code does with a resolved code action's edit: checks the version, applies it, reports it as a didChange. */
async function applyLikeVSCode(client: TestClient, edit: WorkspaceEdit): Promise<void> {
  for (const change of (edit.documentChanges ?? []) as TextDocumentEdit[]) {
    const { uri, version } = change.textDocument;
    expect(version).toBe(client.documents.get(uri)?.version);
    const edits = [...(change.edits as TextEdit[])].sort((a, b) => b.range.start.line - a.range.start.line || b.range.start.character - a.range.start.character);
    await client.sendChanges(uri, edits.map((e) => ({ range: e.range, text: e.newText })));
  }
}


/** The streamed text the transcript shows under a turn's heading (and its "(continued)" repeats), step notes left out. */
function transcriptSections(transcript: string): (heading: string) => string {
  const isHeading = (line: string): boolean => /^(You: |Do: |Explain|── )/.test(line);
  const bodies = new Map<string, string[]>();
  let current = '';
  for (const line of transcript.split('\n')) {
    if (isHeading(line)) current = line.replace(/ \(continued\)$/, '');
    else if (line !== '' && !line.startsWith('  · ')) bodies.set(current, [...(bodies.get(current) ?? []), line]);
  }
  return (heading) => (bodies.get(heading) ?? []).join('\n');
}

const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A heading, then the text streamed under it, with any step notes (`  · …`) in between. */
function turn(heading: string, text: string): RegExp {
  return new RegExp(`${escaped(heading)}[^\n]*\n(  · [^\n]*\n)*${escaped(text)}\n`);
}

function recordingSink(): TranscriptSink & { text(): string } {
  let text = '';
  return {
    append: (chunk) => void (text += chunk),
    appendLine: (line) => void (text += `${line}\n`),
    text: () => text,
  };
}

describe('the transcript', () => {
  it('heads a job no turn named with what the server says it is, and with its id when a server does not say', () => {
    const sink = recordingSink();
    const transcript = new Transcript(sink);
    transcript.stream({ jobId: 'job-2', title: 'Efrit: Add documentation · src/calc.ts', kind: 'status', text: 'asking the model' });
    transcript.stream({ jobId: 'job-3', kind: 'text', text: 'From an older server.' });
    transcript.stream({ jobId: 'job-3', kind: 'done', text: 'done' });
    expect(sink.text()).toBe('\n── Add documentation · src/calc.ts ──\n  · asking the model\n\n── job-3 ──\nFrom an older server.\n');
  });
});

describe('an edit VS Code declined', () => {
  const uri = 'file:///w/src/cart.ts';
  const change = (needsConfirmation: boolean): WorkspaceEdit => ({
    documentChanges: [{ textDocument: { uri, version: 3 }, edits: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: '// x\n', annotationId: 'efrit' }] }],
    changeAnnotations: { efrit: { label: 'Efrit', description: 'Renamed total().', needsConfirmation } },
  });

  it('is reported as not accepted in the Refactor Preview when it asked for confirmation and VS Code gave no reason', () => {
    expect(explainDeclinedEdit({ edit: change(true) }, { applied: false })).toEqual({ applied: false, failureReason: notAcceptedInPreview });
  });

  it("keeps VS Code's own answer otherwise: applied, a reason of its own, or an edit that did not go through the preview", () => {
    expect(explainDeclinedEdit({ edit: change(true) }, { applied: true })).toEqual({ applied: true });
    expect(explainDeclinedEdit({ edit: change(true) }, { applied: false, failureReason: 'Version mismatch' })).toEqual({ applied: false, failureReason: 'Version mismatch' });
    expect(explainDeclinedEdit({ edit: change(false) }, { applied: false })).toEqual({ applied: false });
    expect(explainDeclinedEdit({ edit: { changes: { [uri]: [] } } }, { applied: false })).toEqual({ applied: false });
  });
});

describe('the extension over the wire, as VS Code', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.stop();
    harness = undefined;
  });

  /** The extension's controller on the test client's connection, fed the stream as the extension feeds it. */
  function extensionOn(client: TestClient): { controller: EfritController<unknown>; sink: ReturnType<typeof recordingSink>; unannounced: () => number } {
    const sink = recordingSink();
    const transcript = new Transcript(sink);
    let unannounced = 0;
    transcript.onUnannouncedText = () => void unannounced++;
    const controller = new EfritController<unknown>(
      {
        sendRequest: (method: string, params: unknown, token?: unknown) =>
          token === undefined ? client.connection.sendRequest(method, params) : client.connection.sendRequest(method, params, token as CancellationToken),
      },
      transcript,
    );
    // One handler per method on a connection: keep the test client's record and feed the controller.
    client.connection.onNotification(Methods.stream, (params: StreamParams) => {
      client.streams.push(params);
      controller.onStream(params);
    });
    return { controller, sink, unannounced: () => unannounced };
  }

  it('runs the editors’ scenario: sync, a resolved code action, two streamed chat turns, explain, do, cancel, status', async () => {
    // VS Code answers the settings pull with every contributed default (and here one user value): all taken, no warning.
    const settings = { ...vscodeSettingsSection(), maxTokens: 2048 };
    harness = await startHarness({ capabilities: vscodeCapabilities, settings });
    const { client, fake } = harness;
    const { controller, sink, unannounced } = extensionOn(client);
    await client.waitFor(() => client.logMessages.some((m) => m.message.includes('settings changed: maxTokens (from workspace/configuration)')), 'the settings pull');
    expect(client.logMessages.filter((m) => /efrit settings/.test(m.message))).toEqual([]);

    // Open, then type above the typo, so everything after has moved.
    const uri = await client.open('src/inventory.ts', inventoryTs);
    await client.edit(uri, "import { readFile } from 'node:fs/promises';", "import { readFile } from 'node:fs/promises';\n// Stock levels per SKU.");

    // The light bulb: a lazy Fix, resolved into a versioned edit that VS Code applies.
    fake.queueReplies(
      editReply([{ old_text: '  return items.filter((item) => item.stock < treshold);', new_text: '  return items.filter((item) => item.stock < threshold);' }], 'Use the parameter.'),
    );
    const diagnostic = { range: rangeOf(client.text(uri), 'treshold'), severity: 1 as const, source: 'ts', message: "Cannot find name 'treshold'. Did you mean 'threshold'?" };
    const [fix] = (await client.codeActions(uri, diagnostic.range, [diagnostic])) as CodeAction[];
    expect(fix?.title).toBe(`Efrit: Fix: ${diagnostic.message}`);
    expect(fix?.edit).toBeUndefined();
    const resolved = await client.request<CodeAction>('codeAction/resolve', fix);
    await applyLikeVSCode(client, resolved.edit as WorkspaceEdit);
    expect(client.text(uri)).toContain('item.stock < threshold');

    // Chat: two turns in one session, each streamed into the transcript as it arrives.
    fake.queueReplies({ text: ['`lowStock` keeps the items ', 'below the threshold.'] }, { text: ['Yes: ', 'it is a pure function.'] });
    const first = await controller.chat('What does lowStock do?', { textDocument: { uri }, range: rangeOf(client.text(uri), 'lowStock') });
    const second = await controller.chat('Is it pure?');
    expect(first.reply).toBe('`lowStock` keeps the items below the threshold.');
    expect(second.sessionId).toBe(first.sessionId);
    expect(controller.chatSessionId).toBe(first.sessionId);
    expect(client.streamedText(first.jobId)).toBe(first.reply);
    expect(client.streamedText(second.jobId)).toBe(second.reply);
    expect(sink.text()).toMatch(turn('You: What does lowStock do?', first.reply));
    expect(sink.text()).toMatch(turn('You: Is it pure?', second.reply));

    // Explain: the efrit.runAction command, its text streamed too.
    fake.queueReplies({ text: ['Adds `amount` ', 'to the stock.'] });
    const explained = await controller.explain({ textDocument: { uri }, range: rangeOf(client.text(uri), 'export function restock') });
    expect(explained.text).toBe('Adds `amount` to the stock.');
    expect(sink.text()).toMatch(turn('Explain', 'Adds `amount` to the stock.'));

    // Do: the agent's edit arrives as workspace/applyEdit, which VS Code applies.
    fake.queueReplies({ text: 'Documenting restock.', ...editReply([{ old_text: 'export function restock(', new_text: '/** Adds `amount` units. */\nexport function restock(' }], 'Documented restock.') });
    const done = await controller.do('document restock', { textDocument: { uri } });
    expect(done).toMatchObject({ applied: true, summary: 'Documented restock.' });
    await client.waitFor(() => client.text(uri).includes('/** Adds `amount` units. */'), 'the do edit in the buffer');
    expect(sink.text()).toContain('→ Documented restock. (edit applied)');

    // Cancel: from the progress notification (a token: $/cancelRequest), and Efrit: Cancel (efrit/cancel).
    // Neither is ever answered: each ends only by its cancellation.
    fake.queueReplies({ text: 'too late', hold: { until: never } }, { text: 'too late', hold: { until: never } });
    const source = new CancellationTokenSource();
    let asked = fake.requests.length;
    const byToken = controller.do('rename everything', { textDocument: { uri } }, source.token).catch((error: unknown) => error);
    await client.waitFor(() => fake.requests.length > asked, 'the do job to reach the model');
    source.cancel();
    expect(isCancellation(await byToken)).toBe(true);
    asked = fake.requests.length;
    const byCommand = controller.chat('a long question').catch((error: unknown) => error);
    await client.waitFor(() => fake.requests.length > asked, 'the chat job to reach the model');
    expect((await controller.cancelAll()).cancelled).toBe(1);
    expect(isCancellation(await byCommand)).toBe(true);
    expect(sink.text()).toContain('── cancelled 1 job ──');

    // The status bar: usage of the five model calls that finished.
    const status = await controller.status();
    expect(status.queue).toMatchObject({ running: 0, queued: 0 });
    expect(status.usage.requests).toBeGreaterThanOrEqual(5);
    const view = statusBarView(status);
    // The test's model is a Claude model with a list price: the money shows beside the tokens.
    expect(view.text).toMatch(/^\$\(sparkle\) Efrit [\d.]+k? tok · (<\$0\.01|\$\d+\.\d\d)$/);
    expect(view.tooltip).toContain(status.model);
    expect(view.warning).toBe(false);

    // Nothing streamed outside a command, and the server's copy is the buffer.
    expect(unannounced()).toBe(0);
    const serverCopy = await client.request<DocumentTextResult>(Methods.documentText, { textDocument: { uri } });
    expect(serverCopy.text).toBe(client.text(uri));
    expect(serverCopy.version).toBe(client.documents.get(uri)?.version);
  });

  it('follows a settings change the way VS Code announces it', async () => {
    const settings = vscodeSettingsSection();
    harness = await startHarness({ capabilities: vscodeCapabilities, settings });
    const { client } = harness;
    // The server asks VS Code to tell it about changes to the section (the extension relies on that, not on synchronize).
    const registrations: Registration[] = [];
    client.connection.onRequest(RegistrationRequest.type, (params) => void registrations.push(...params.registrations));
    const { controller } = extensionOn(client);
    await client.waitFor(() => registrations.length > 0, 'the server to register for configuration changes');
    expect(registrations).toEqual([expect.objectContaining({ method: 'workspace/didChangeConfiguration', registerOptions: { section: 'efrit' } })]);
    expect((await controller.status()).queue.configuredConcurrency).toBe(4);
    (settings['queue'] as Record<string, unknown>)['concurrency'] = 2;
    // What vscode-languageclient sends for that registration; the server pulls the section again.
    await client.connection.sendNotification('workspace/didChangeConfiguration', { settings: { efrit: settings } });
    await client.waitFor(() => client.logMessages.some((m) => m.message.includes('settings changed: queue.concurrency')), 'the new setting');
    expect((await controller.status()).queue.configuredConcurrency).toBe(2);
  });

  it('starts a new conversation when the server has forgotten the old one, and says so', async () => {
    harness = await startHarness({ capabilities: vscodeCapabilities });
    const { client, fake } = harness;
    const { controller, sink } = extensionOn(client);
    fake.queueReplies({ text: 'Hello.' }, { text: 'Hello again.' });
    const first = await controller.chat('Hi');
    await client.request(Methods.endSession, { sessionId: first.sessionId });
    const second = await controller.chat('Still there?');
    expect(second.reply).toBe('Hello again.');
    expect(second.sessionId).not.toBe(first.sessionId);
    expect(controller.chatSessionId).toBe(second.sessionId);
    expect(sink.text()).toContain('starting a new one');
  });

  it('shows a code action picked from the light bulb (Explain) as a job of its own', async () => {
    harness = await startHarness({ capabilities: vscodeCapabilities });
    const { client, fake } = harness;
    const { controller, sink, unannounced } = extensionOn(client);
    const uri = await client.open('stats.py', statsPy, 'python');
    fake.queueReplies({ text: 'Population variance.' });
    const actions = (await client.codeActions(uri, rangeOf(statsPy, 'def variance(values):'))) as CodeAction[];
    const explain = actions.find((a) => a.title === 'Efrit: Explain');
    // VS Code runs the action's command through the LanguageClient: workspace/executeCommand.
    await client.executeCommand(explain?.command?.command ?? '', explain?.command?.arguments?.[0]);
    expect(unannounced()).toBe(1);
    // Named by what it is and where, not by its job id.
    expect(sink.text()).toMatch(turn('── Explain · stats.py ──', 'Population variance.'));
    expect(sink.text()).not.toContain('── job-');
    expect(statusBarView(await controller.status()).text).toMatch(/Efrit/);
  });

  it('keeps two turns in flight apart: each one’s stream under its own heading, from the first note on', async () => {
    harness = await startHarness({ capabilities: vscodeCapabilities });
    const { client, fake } = harness;
    const { controller, sink, unannounced } = extensionOn(client);
    const uri = await client.open('src/inventory.ts', inventoryTs);
    const chatHeld = gate();
    fake.respondWith(async (request) => {
      if (JSON.stringify(request.body.messages).includes('Which items run low?')) {
        await chatHeld.opened;
        return { text: ['Those whose stock ', 'is below the threshold.'] };
      }
      return { text: ['Adds `amount` ', 'to the stock.'] };
    });

    // Both headings are written before the server's first note can arrive: nothing but the stream's name tells them apart.
    const chatting = controller.chat('Which items run low?', { textDocument: { uri } });
    const explaining = controller.explain({ textDocument: { uri }, range: rangeOf(inventoryTs, 'export function restock') });
    const explained = await explaining;
    chatHeld.open();
    const chatted = await chatting;

    const under = transcriptSections(sink.text());
    expect(under('You: Which items run low?')).toBe(chatted.reply);
    expect(under('Explain')).toBe(explained.text);
    expect(chatted.reply).toBe('Those whose stock is below the threshold.');
    expect(unannounced()).toBe(0);
    // The chat's first note (asking the model) came before the explanation was done, its text after.
    expect(sink.text()).toMatch(/You: Which items run low\?\n(\n|  · [^\n]*\n)*\nExplain[^]*\nYou: Which items run low\? \(continued\)\n(  · [^\n]*\n)*Those whose stock/);
  });

  it('tells the user when the server cancelled a request, and stays quiet when the user did', async () => {
    harness = await startHarness({ capabilities: vscodeCapabilities });
    const { client, fake } = harness;
    const { controller, sink } = extensionOn(client);
    fake.queueReplies({ text: 'Hello.' });
    const { sessionId } = await controller.chat('Hello');
    const held = gate();
    fake.respondWith(async () => {
      await held.opened;
      return { text: 'Too late.' };
    });
    const asked = fake.requests.length;
    const ending = controller.chat('And then?').catch((error: unknown) => error);
    await client.waitFor(() => fake.requests.length > asked, 'the turn to reach the model');

    await client.request(Methods.endSession, { sessionId });

    const error = await ending;
    expect(isCancellation(error)).toBe(false);
    expect(serverCancellation(error)).toBe('the server cancelled it: The session ended.');
    expect(sink.text()).toMatch(/You: And then\?\n(  · [^\n]*\n)*  ✗ The session ended\.\n/);
    // Efrit: Cancel is the user's own doing: a cancellation, nothing to report.
    const asked2 = fake.requests.length;
    const cancelling = controller.chat('One more?').catch((e: unknown) => e);
    await client.waitFor(() => fake.requests.length > asked2, 'the next turn to reach the model');
    await controller.cancelAll();
    const cancelled = await cancelling;
    expect(isCancellation(cancelled)).toBe(true);
    expect(serverCancellation(cancelled)).toBeUndefined();
    held.open();
  });

  it('labels the status bar "offline" when the built-in demo model answers, with no key warning', async () => {
    harness = await startHarness({ capabilities: vscodeCapabilities, apiKey: null });
    const { controller } = extensionOn(harness.client);
    const status = await controller.status();
    // The field as a server with the demo model reports it; a server without the field is online.
    const offline = statusBarView({ ...status, offline: true } as typeof status);
    expect(offline).toMatchObject({ text: '$(sparkle) Efrit (offline)', warning: false });
    expect(offline.tooltip).toContain('offline: the built-in demo model answers');
    expect(offline.tooltip).not.toContain('No API key');
    expect(statusBarView(status).text).toBe('$(warning) Efrit: no API key');
  });

  it('shows money spent in the status bar once a priced model answered, and never prices the calls it has no price for', async () => {
    harness = await startHarness({ capabilities: vscodeCapabilities });
    const { controller } = extensionOn(harness.client);
    const status = await controller.status();
    const idle = { ...status, queue: { ...status.queue, running: 0, queued: 0 }, usage: { ...status.usage, inputTokens: 1200, outputTokens: 300, cacheReadTokens: 0, cacheWriteTokens: 0 } };
    const withSpend = (spend: typeof status.spend) => statusBarView({ ...idle, spend });
    expect(withSpend({ usd: 0.0412, requests: 3, unpricedRequests: 0 })).toMatchObject({ text: '$(sparkle) Efrit 1.5k tok · $0.04' });
    expect(withSpend({ usd: 0.0412, requests: 3, unpricedRequests: 0 }).tooltip).toContain('spent: $0.0412');
    expect(withSpend({ usd: 0.004, requests: 3, unpricedRequests: 1 })).toMatchObject({ text: '$(sparkle) Efrit 1.5k tok · <$0.01' });
    expect(withSpend({ usd: 0.004, requests: 3, unpricedRequests: 1 }).tooltip).toContain('spent: $0.0040 (+1 call with no known price)');
    const unpriced = withSpend({ usd: 0, requests: 2, unpricedRequests: 2 });
    expect(unpriced.text).toBe('$(sparkle) Efrit 1.5k tok');
    expect(unpriced.tooltip).toContain('spent: no price known for this model (tokens only)');
  });

  it('lists each provider of a session that used two in the tooltip, with tokens and dollars, and tokens only for the one with no price', async () => {
    // Actions on Claude, priced by the prices setting; completion on an OpenAI-compatible model with no price.
    const openai = await startFakeOpenAI({ apiKey: testOpenAIKey, respond: () => ({ text: 'order.unitPrice * order.quantity;' }) });
    try {
      harness = await startHarness({
        capabilities: vscodeCapabilities,
        initializationOptions: { model: 'claude-shop-test', fastModel: 'openai:qwen2.5-coder:7b', openai: { baseURL: openai.baseURL }, prices: { 'claude-shop-test': { input: 3, output: 15 } } },
        env: { OPENAI_API_KEY: testOpenAIKey, OPENAI_BASE_URL: undefined },
      });
      const { client, fake } = harness;
      const { controller } = extensionOn(client);
      const pricing = 'export interface Order {\n  unitPrice: number;\n  quantity: number;\n}\n\nexport function orderTotal(order: Order): number {\n  return \n}\n';
      const uri = await client.open('src/pricing.ts', pricing);
      fake.queueReplies({ text: 'It multiplies the unit price by the quantity.' });
      await controller.chat('What does orderTotal do?', { textDocument: { uri } });
      const cursor = { line: pricing.split('\n').indexOf('  return '), character: '  return '.length };
      const list = await client.request<{ items: { insertText: string }[] }>('textDocument/inlineCompletion', { textDocument: { uri }, position: cursor, context: { triggerKind: 1 } });
      expect(list.items.map((item) => item.insertText)).toEqual(['order.unitPrice * order.quantity;']);

      const status = await controller.status();
      const claude = status.providers['anthropic'];
      const completion = status.providers['openai'];
      expect(claude).toMatchObject({ requests: 1, unpricedRequests: 0 });
      expect(completion).toMatchObject({ requests: 1, unpricedRequests: 1, usd: 0 });
      if (claude === undefined || completion === undefined) throw new Error('both providers answered');
      const claudeUsd = (claude.inputTokens * 3 + claude.outputTokens * 15 + (claude.cacheReadTokens + claude.cacheWriteTokens) * 3) / 1_000_000;
      const lines = statusBarView(status).tooltip.split('\n');
      const promptOf = (summary: typeof claude): number => summary.inputTokens + summary.cacheWriteTokens + summary.cacheReadTokens;
      expect(claudeUsd).toBeGreaterThan(0);
      expect(lines).toContain(`anthropic: 1 request · tokens in ${formatCount(promptOf(claude))}, out ${formatCount(claude.outputTokens)} · $${claudeUsd.toFixed(4)}`);
      expect(lines).toContain(`openai: 1 request · tokens in ${formatCount(promptOf(completion))}, out ${formatCount(completion.outputTokens)} · no price known (tokens only)`);
      expect(lines.filter((line) => line.startsWith('openai:')).join('')).not.toContain('$');
    } finally {
      await openai.close();
    }
  });

  it('shows a provider with priced and unpriced calls in dollars with the unpriced calls counted, and nothing from a server without providers', async () => {
    harness = await startHarness({ capabilities: vscodeCapabilities });
    const { controller } = extensionOn(harness.client);
    const status = await controller.status();
    const usage = { inputTokens: 12_400, outputTokens: 800, cacheReadTokens: 30_000, cacheWriteTokens: 2_000 };
    const view = statusBarView({ ...status, providers: { openai: { requests: 3, ...usage, usd: 0.0213, unpricedRequests: 1 } } });
    expect(view.tooltip.split('\n')).toContain('openai: 3 requests · tokens in 44k (30k from the cache), out 800 · $0.0213 (+1 call with no known price)');
    const { providers: _left, ...older } = status;
    expect(statusBarView(older as typeof status).tooltip).not.toMatch(/^(anthropic|openai):/m);
  });

  it('marks the status bar when no key is configured', async () => {
    harness = await startHarness({ capabilities: vscodeCapabilities, apiKey: null });
    const { controller } = extensionOn(harness.client);
    const view = statusBarView(await controller.status());
    expect(view).toMatchObject({ text: '$(warning) Efrit: no API key', warning: true });
    expect(view.tooltip).toContain('ANTHROPIC_API_KEY');
  });
});

// ---------------------------------------------------------------- the shipped server

describe('the server the .vsix ships', () => {
  const shipped = join(staged, 'dist', 'server', 'efrit-lsp.cjs');
  let fake: Awaited<ReturnType<typeof startFakeAnthropic>> | undefined;
  beforeAll(async () => {
    fake = await startFakeAnthropic({ apiKey: testApiKey });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('starts over Node IPC as TransportKind.ipc starts it, and chats through its bundled SDK', async () => {
    expect(existsSync(shipped), 'built by the packaging test above').toBe(true);
    const env: NodeJS.ProcessEnv = { ...process.env, ANTHROPIC_API_KEY: testApiKey, ANTHROPIC_BASE_URL: fake?.url };
    // Staged outside the repository, so nothing can come from its node_modules.
    const child = fork(shipped, ['--node-ipc'], { env, cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => void (stdout += chunk.toString()));
    const connection = createProtocolConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    connection.onRequest('window/workDoneProgress/create', () => null);
    connection.onRequest('client/registerCapability', () => null);
    connection.onRequest('workspace/configuration', () => [null]);
    const streamed: StreamParams[] = [];
    connection.onNotification(Methods.stream, (params: StreamParams) => void streamed.push(params));
    connection.listen();
    try {
      const workspace = join(repoRoot, 'test', 'fixtures', 'workspace');
      const init = await connection.sendRequest(InitializeRequest.type, {
        processId: process.pid,
        rootUri: pathToFileURL(workspace).href,
        workspaceFolders: [{ uri: pathToFileURL(workspace).href, name: 'workspace' }],
        capabilities: vscodeCapabilities,
      });
      expect(init.serverInfo).toEqual({ name: 'efrit-lsp', version: rootVersion });
      expect(init.capabilities.executeCommandProvider?.commands).toEqual([...allCommands]);
      await connection.sendNotification(InitializedNotification.type, {});
      fake?.queueReplies({ text: ['From the ', 'shipped server.'] });
      const result = await connection.sendRequest<ChatResult>(Methods.chat, { message: 'Hello?' });
      expect(result.reply).toBe('From the shipped server.');
      expect(streamed.filter((s) => s.kind === 'text').map((s) => s.text).join('')).toBe(result.reply);
      await connection.sendRequest('shutdown');
      await connection.sendNotification('exit');
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(0);
      expect(stdout).toBe('');
    } finally {
      connection.dispose();
      child.kill();
    }
  });
});

// ---------------------------------------------------------------- the bundle, activated

describe('the bundled extension, activated in a stand-in extension host', () => {
  const saved = { key: process.env['ANTHROPIC_API_KEY'], url: process.env['ANTHROPIC_BASE_URL'] };
  let fake: Awaited<ReturnType<typeof startFakeAnthropic>> | undefined;
  beforeAll(async () => {
    fake = await startFakeAnthropic({ apiKey: testApiKey });
    // The LanguageClient forks the server with this process's environment, as VS Code does with its own.
    process.env['ANTHROPIC_API_KEY'] = testApiKey;
    process.env['ANTHROPIC_BASE_URL'] = fake.url;
  });
  afterAll(async () => {
    for (const [name, value] of [['ANTHROPIC_API_KEY', saved.key], ['ANTHROPIC_BASE_URL', saved.url]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await fake?.close();
  });

  it('starts the shipped server and runs Chat, Explain, Do, Status and Cancel through VS Code’s API', async () => {
    const bundle = join(staged, 'dist', 'extension.js');
    expect(existsSync(bundle), 'built by the packaging test above').toBe(true);
    const host = createVSCodeHost({ efrit: contributedDefaults() });
    const extension = host.load(bundle);
    const context = host.context(staged) as { subscriptions: { dispose(): unknown }[] };
    const run = async (command: string, ...args: unknown[]): Promise<void> => {
      const callback = host.commands.get(command);
      if (callback === undefined) throw new Error(`${command} is not registered`);
      await callback(...args);
    };
    const chatChannel = (): OutputChannelRecord | undefined => host.outputChannels.find((c) => c.name === 'Efrit Chat');
    try {
      await extension.activate(context);

      // Our commands, and the server's that the LanguageClient registers for its code actions.
      for (const command of [...Object.values(ExtensionCommands), ...allCommands]) expect(host.commands.has(command), command).toBe(true);
      expect(host.providers).toContain('registerCodeActionsProvider');
      const statusItem = host.statusBarItems[0];
      await vi.waitFor(() => expect(statusItem?.text).toMatch(/^\$\(sparkle\) Efrit \d+ tok$/), { timeout: 20_000 });
      expect(statusItem).toMatchObject({ visible: true, command: ExtensionCommands.status });

      // Chat, asked through the input box, streamed into the chat channel.
      fake?.queueReplies({ text: ['Hello ', 'from the host.'] });
      host.inputAnswers.push('Hello?');
      await run(ExtensionCommands.chat);
      expect(chatChannel()?.text).toMatch(turn('You: Hello?', 'Hello from the host.'));

      // A turn the server ends (New Chat ends its session meanwhile): the user is told, as a warning.
      const held = gate();
      fake?.respondWith(async () => {
        await held.opened;
        return { text: 'Too late.' };
      });
      const asked = fake?.requests.length ?? 0;
      host.inputAnswers.push('And then?');
      const chatting = run(ExtensionCommands.chat);
      await vi.waitFor(() => expect(fake?.requests.length).toBeGreaterThan(asked), { timeout: 20_000 });
      await run(ExtensionCommands.newChat);
      await chatting;
      expect(host.messages).toContainEqual({ level: 'warning', text: 'Efrit: the server cancelled it: The session ended.' });
      held.open();

      // An editor with a selection: Explain it, then Do something to the file.
      const file = join(repoRoot, 'test', 'fixtures', 'workspace', 'src', 'inventory.ts');
      const start = rangeOf(inventoryTs, 'export function restock').start;
      host.openEditor(file, 'typescript', inventoryTs, { start: [start.line, 0], end: [start.line + 2, 1] });
      fake?.queueReplies({ text: 'Adds to the stock.' });
      await run(ExtensionCommands.explain);
      expect(chatChannel()?.text).toMatch(turn('Explain', 'Adds to the stock.'));
      const explainRequest = JSON.stringify(fake?.requests.at(-1)?.body.messages);
      expect(explainRequest).toContain('export function restock(item: Item, amount: number): Item {');

      fake?.queueReplies(editReply([{ old_text: 'export function restock(', new_text: '/** Adds `amount` units. */\nexport function restock(' }], 'Documented restock.'));
      host.inputAnswers.push('document restock');
      await run(ExtensionCommands.do);
      expect(host.workspaceEdits).toHaveLength(1);
      // Applied as a refactoring, as VS Code applies its own renames: a change across files is saved per files.refactoring.autoSave.
      expect(host.workspaceEditMetadata).toEqual([{ isRefactoring: true }]);
      expect(host.messages).toContainEqual({ level: 'info', text: 'Efrit: Documented restock.' });

      await run(ExtensionCommands.cancel);
      expect(host.messages).toContainEqual({ level: 'info', text: 'Efrit: nothing to cancel.' });
      await run(ExtensionCommands.status);
      expect(chatChannel()?.text).toMatch(/requests: 3 · tokens in/);
      expect(host.messages.filter((m) => m.level === 'error')).toEqual([]);
      // efrit.offline is the extension's: the section the server pulled did not carry it.
      expect(host.outputChannels.find((c) => c.name === 'Efrit')?.text).not.toContain('efrit.offline');
    } finally {
      await extension.deactivate();
      for (const disposable of context.subscriptions) disposable.dispose();
    }
  });
});

describe('the bundled extension, when the key is set in the settings while it runs', () => {
  const saved = { key: process.env['ANTHROPIC_API_KEY'], url: process.env['ANTHROPIC_BASE_URL'] };
  let fake: Awaited<ReturnType<typeof startFakeAnthropic>> | undefined;
  beforeAll(async () => {
    fake = await startFakeAnthropic({ apiKey: testApiKey });
    delete process.env['ANTHROPIC_API_KEY'];
    delete process.env['ANTHROPIC_BASE_URL'];
  });
  afterAll(async () => {
    for (const [name, value] of [['ANTHROPIC_API_KEY', saved.key], ['ANTHROPIC_BASE_URL', saved.url]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await fake?.close();
  });

  it('shows the key in the status bar once the setting changes, without waiting for the next poll', async () => {
    const bundle = join(staged, 'dist', 'extension.js');
    expect(existsSync(bundle), 'built by the packaging test above').toBe(true);
    const settings = vscodeSettingsSection();
    settings['baseURL'] = fake?.url;
    const host = createVSCodeHost({ efrit: settings });
    // The status poll runs only while the window has the focus: here only the settings change can refresh it.
    host.focused = false;
    const extension = host.load(bundle);
    const context = host.context(staged) as { subscriptions: { dispose(): unknown }[] };
    try {
      await extension.activate(context);
      const statusItem = host.statusBarItems[0];
      await vi.waitFor(() => expect(statusItem?.text).toBe('$(warning) Efrit: no API key'), { timeout: 20_000 });

      host.changeSetting('efrit.apiKey', testApiKey);

      await vi.waitFor(() => expect(statusItem?.text).toMatch(/^\$\(sparkle\) Efrit \d+ tok$/), { timeout: 20_000 });
      expect(statusItem?.backgroundColor).toBeUndefined();
    } finally {
      await extension.deactivate();
      for (const disposable of context.subscriptions) disposable.dispose();
    }
  });
});

// ---------------------------------------------------------------- efrit.offline

describe('the bundled extension with efrit.offline', () => {
  const saved = { key: process.env['ANTHROPIC_API_KEY'], url: process.env['ANTHROPIC_BASE_URL'], offline: process.env['EFRIT_OFFLINE'] };
  let fake: Awaited<ReturnType<typeof startFakeAnthropic>> | undefined;
  beforeAll(async () => {
    fake = await startFakeAnthropic({ apiKey: testApiKey });
    // No key and no offline switch in the environment the server is forked with: only the setting turns offline on.
    delete process.env['ANTHROPIC_API_KEY'];
    delete process.env['ANTHROPIC_BASE_URL'];
    delete process.env['EFRIT_OFFLINE'];
  });
  afterAll(async () => {
    for (const [name, value] of [['ANTHROPIC_API_KEY', saved.key], ['ANTHROPIC_BASE_URL', saved.url], ['EFRIT_OFFLINE', saved.offline]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await fake?.close();
  });

  function activated(settings: Record<string, unknown>) {
    const bundle = join(staged, 'dist', 'extension.js');
    expect(existsSync(bundle), 'built by the packaging test above').toBe(true);
    const host = createVSCodeHost({ efrit: settings });
    const extension = host.load(bundle);
    const context = host.context(staged) as { subscriptions: { dispose(): unknown }[] };
    const run = async (command: string, ...args: unknown[]): Promise<unknown> => {
      const callback = host.commands.get(command);
      if (callback === undefined) throw new Error(`${command} is not registered`);
      return callback(...args);
    };
    const chatText = (): string => host.outputChannels.find((c) => c.name === 'Efrit Chat')?.text ?? '';
    const close = async (): Promise<void> => {
      await extension.deactivate();
      for (const disposable of context.subscriptions) disposable.dispose();
    };
    return { host, run, chatText, close, activate: () => extension.activate(context) };
  }

  it('starts the server with its demo model: "(offline)" in the status bar and Status, and Add documentation edits with no API key anywhere', async () => {
    const settings = contributedDefaults();
    settings['offline'] = true;
    expect(settings['apiKey']).toBe('');
    const { host, run, chatText, close, activate } = activated(settings);
    try {
      await activate();
      const statusItem = host.statusBarItems[0];
      await vi.waitFor(() => expect(statusItem?.text).toBe('$(sparkle) Efrit (offline)'), { timeout: 30_000 });
      expect(statusItem?.backgroundColor).toBeUndefined();
      await run(ExtensionCommands.status);
      expect(chatText()).toContain('offline: the built-in demo model answers, nothing is sent to an API');

      // The "Efrit: Add documentation" code action, picked: VS Code runs the command its resolve gave.
      const file = join(repoRoot, 'test', 'fixtures', 'workspace', 'src', 'inventory.ts');
      const body = rangeOf(inventoryTs, 'return { ...item, stock: item.stock + amount };');
      host.openEditor(file, 'typescript', inventoryTs, { start: [body.start.line, body.start.character], end: [body.start.line, body.start.character] });
      const result = (await run('efrit.runAction', { actionId: 'document', textDocument: { uri: pathToFileURL(file).href }, range: body })) as RunActionResult;
      expect(result.applied).toBe(true);
      expect(host.workspaceEdits).toHaveLength(1);
      const [[uri, edits] = []] = (host.workspaceEdits[0] as HostWorkspaceEdit).entries();
      expect(uri?.toString()).toBe(pathToFileURL(file).href);
      const inserted = (edits ?? []).map((edit) => edit.newText).join('');
      expect(inserted).toContain('/**');
      expect(inserted).toContain('@param amount');
      expect(fake?.requests).toEqual([]);
      expect(host.messages.filter((m) => m.level === 'error')).toEqual([]);
    } finally {
      await close();
    }
  });

  it('restarts the server offline when the setting is turned on, and back on the API when it is turned off', async () => {
    const settings = contributedDefaults();
    settings['apiKey'] = testApiKey;
    settings['baseURL'] = fake?.url;
    const { host, run, chatText, close, activate } = activated(settings);
    try {
      await activate();
      const statusItem = host.statusBarItems[0];
      await vi.waitFor(() => expect(statusItem?.text).toMatch(/^\$\(sparkle\) Efrit \d+ tok$/), { timeout: 30_000 });

      // Set twice (as a user and a workspace value may both change): one restart.
      host.changeSetting('efrit.offline', true);
      host.changeSetting('efrit.offline', true);
      await vi.waitFor(() => expect(statusItem?.text).toBe('$(sparkle) Efrit (offline)'), { timeout: 30_000 });
      expect(host.messages).toContainEqual({ level: 'info', text: 'Efrit: restarted offline: the built-in demo model answers; nothing is sent to an API.' });
      host.inputAnswers.push('What is in this project?');
      await run(ExtensionCommands.chat);
      expect(chatText()).toContain('[offline demo model]');
      expect(fake?.requests).toEqual([]);

      host.changeSetting('efrit.offline', false);
      await vi.waitFor(() => expect(statusItem?.text).toMatch(/^\$\(sparkle\) Efrit \d+ tok$/), { timeout: 30_000 });
      expect(host.messages).toContainEqual({ level: 'info', text: 'Efrit: restarted with the model API.' });
      fake?.queueReplies({ text: 'From the API again.' });
      host.inputAnswers.push('And now?');
      await run(ExtensionCommands.chat);
      expect(chatText()).toContain('From the API again.');
      expect(fake?.requests).toHaveLength(1);
      // Restarts run in order, so the second "on" was dealt with before the "off": it restarted nothing.
      expect(host.messages.filter((m) => m.text.startsWith('Efrit: restarted'))).toHaveLength(2);
      expect(host.messages.filter((m) => m.level === 'error')).toEqual([]);
    } finally {
      await close();
    }
  });

  it('says the server stays offline when the setting is turned off but EFRIT_OFFLINE is in VS Code’s environment', async () => {
    process.env['EFRIT_OFFLINE'] = '1';
    const settings = contributedDefaults();
    settings['offline'] = true;
    const { host, close, activate } = activated(settings);
    try {
      await activate();
      const statusItem = host.statusBarItems[0];
      await vi.waitFor(() => expect(statusItem?.text).toBe('$(sparkle) Efrit (offline)'), { timeout: 30_000 });
      host.changeSetting('efrit.offline', false);
      await vi.waitFor(() => expect(host.messages).toContainEqual({ level: 'info', text: "Efrit: restarted, still offline: EFRIT_OFFLINE is set in VS Code's environment." }), {
        timeout: 30_000,
      });
      await vi.waitFor(() => expect(statusItem?.text).toBe('$(sparkle) Efrit (offline)'), { timeout: 30_000 });
    } finally {
      delete process.env['EFRIT_OFFLINE'];
      await close();
    }
  });
});
