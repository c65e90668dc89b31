/**
 * sync — what efrit-lsp costs to keep a document in sync, over real stdio,
 * against a bare vscode-languageserver server (`bare-server.ts`) measured in
 * the same run, runs alternating, so the machine's noise hits both alike.
 *
 * Per run: spawn the server, `initialize` (timed from spawn), open a
 * 100K-character document, read the child's resident memory after it settles,
 * send 2,000 single-character incremental `didChange`s (typing at a cursor in
 * the middle, newlines included), then one request, timed from the first
 * edit to that request's answer; read the memory again; shut down.
 *
 * The 2,000 notifications are encoded before the clock starts and written in
 * one go: the client's own JSON encoding is the same for both servers and, on
 * a 2-core machine, runs in parallel with the server, so it would blur the
 * difference between the servers that this scenario exists to show.
 *
 * Two documents, because V8 makes them cost very differently: an ASCII-only
 * one (one byte per character) and one with a few characters outside Latin-1
 * (an em dash in a comment: two bytes per character). Past 128 KB of string,
 * every copy of the text that a keystroke makes (TextDocument rebuilds it)
 * lands in V8's large-object space, which costs 10-20× more; a 100K-character
 * two-byte text is past it, the ASCII one is not. The ASCII document is the
 * sharper test of efrit's own overhead, the other the more common file.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import {
  ConfigurationRequest,
  createProtocolConnection,
  ExitNotification,
  InitializedNotification,
  InitializeRequest,
  RegistrationRequest,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  WorkDoneProgressCreateRequest,
  type ProtocolConnection,
} from 'vscode-languageserver-protocol/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { Methods, type DocumentTextResult, type StatusResult } from '../../../server/src/protocol.js';
import { repoRoot, serverEntry, vscodeCapabilities } from '../../support/lsp-client.js';
import type { PingResult } from '../bare-server.js';
import { fixed, median, millisBetween, sleep, verdict, type GoalCheck, type Scenario, type ScenarioContext, type Table } from '../scenario.js';
import { generateSource } from '../source-text.js';

type ServerKind = 'bare' | 'efrit';

interface DocumentVariant {
  name: 'ascii' | 'unicode';
  /** How the tables name it. */
  label: string;
  asciiOnly: boolean;
}

const variants: readonly DocumentVariant[] = [
  { name: 'ascii', label: 'ASCII doc', asciiOnly: true },
  { name: 'unicode', label: 'non-Latin-1 doc', asciiOnly: false },
];

const bareServerEntry = fileURLToPath(new URL('../bare-server.js', import.meta.url));
// Extra node flags for both children, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where a
// server's time goes (node refuses --cpu-prof in NODE_OPTIONS). Split on spaces: keep paths plain.
const serverNodeArgs = (process.env['BENCH_SERVER_NODE_ARGS'] ?? '').split(' ').filter((arg) => arg !== '');
const documentChars = 100_000;
const editCount = 2_000;
const goalRatio = 1.3;
const goalInitializeExtraMs = 30;
const goalRssMB = 60;
/** After a burst, RSS is mostly V8's grown young generation and the allocator's; the bare server pays it too. */
const goalAfterEditsOverBareMB = 5;
const runTimeoutMs = 60_000;

// What gets typed: real-looking code, newlines included, so edits also split lines.
const typedText =
  '    const subtotal = items.reduce((sum, item) => sum + item.price * item.quantity, 0);\n' +
  '    if (subtotal > limit) throw new RangeError(`over the limit by ${subtotal - limit}`);\n';

interface Plan {
  /** Alternating (bare, efrit) pairs measured for each document variant. */
  pairs: number;
  /** The document variants measured. */
  variants: readonly DocumentVariant[];
  /** One unmeasured run of each server first (the first spawn after a build reads cold files). */
  warmUp: boolean;
  /** Wait before reading memory, so the child's post-burst collections have run. */
  settleMs: number;
}

const fullPlan: Plan = { pairs: 12, variants, warmUp: true, settleMs: 1_000 };
const quickPlan: Plan = { pairs: 1, variants: variants.slice(0, 1), warmUp: false, settleMs: 1_000 };

interface RunResult {
  kind: ServerKind;
  variant: DocumentVariant['name'];
  initializeMs: number;
  editsMs: number;
  rssAfterOpenMB: number | undefined;
  rssAfterEditsMB: number | undefined;
  peakRssMB: number | undefined;
  exitCode: number | null;
}

/** The edits, prepared once: the wire bytes and the text the server must end with. */
interface EditBurst {
  uri: string;
  openText: string;
  frames: Buffer;
  finalText: string;
  finalVersion: number;
}

export const syncScenario: Scenario = {
  name: 'sync',
  description: `efrit-lsp vs a bare TextDocuments server over stdio: ${editCount.toLocaleString('en-US')} keystrokes in a 100K document, initialize time, idle RSS`,
  async run(context: ScenarioContext) {
    const plan = context.quick ? quickPlan : fullPlan;
    for (const entry of [serverEntry, bareServerEntry]) {
      if (!existsSync(entry)) throw new Error(`${entry} is missing: build first (npm run build)`);
    }
    const bursts = new Map(plan.variants.map((variant) => [variant.name, prepareBurst(variant)]));
    const burstOf = (variant: DocumentVariant): EditBurst => bursts.get(variant.name) as EditBurst;
    if (plan.warmUp) {
      context.progress('warm-up run of each server');
      const first = plan.variants[0] as DocumentVariant;
      await runOnce('bare', first, burstOf(first), plan);
      await runOnce('efrit', first, burstOf(first), plan);
    }
    const runs: RunResult[] = [];
    for (let pair = 0; pair < plan.pairs; pair++) {
      for (const variant of plan.variants) {
        for (const kind of ['bare', 'efrit'] as const) {
          context.progress(`pair ${pair + 1}/${plan.pairs}, ${variant.label}: ${kind}`);
          runs.push(await runOnce(kind, variant, burstOf(variant), plan));
        }
      }
    }
    return report(runs, plan);
  },
};

function prepareBurst(variant: DocumentVariant): EditBurst {
  const openText = generateSource(documentChars, { asciiOnly: variant.asciiOnly });
  const uri = pathToFileURL(join(repoRoot, 'test', 'fixtures', 'workspace', 'src', `bench-sync-${variant.name}.ts`)).href;
  const document = TextDocument.create(uri, 'typescript', 1, openText);
  let line = Math.floor(document.lineCount / 2);
  let character = 0;
  const frames: Buffer[] = [];
  for (let i = 0; i < editCount; i++) {
    const text = typedText.charAt(i % typedText.length);
    const position = { line, character };
    const version = document.version + 1;
    // As VS Code sends a keystroke: an empty range at the cursor, with rangeLength.
    const contentChanges = [{ range: { start: position, end: position }, rangeLength: 0, text }];
    TextDocument.update(document, contentChanges, version);
    frames.push(frame({ jsonrpc: '2.0', method: 'textDocument/didChange', params: { textDocument: { uri, version }, contentChanges } }));
    if (text === '\n') {
      line++;
      character = 0;
    } else {
      character++;
    }
  }
  return { uri, openText, frames: Buffer.concat(frames), finalText: document.getText(), finalVersion: document.version };
}

/** One JSON-RPC message with its base-protocol header, as vscode-jsonrpc writes it. */
function frame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${body.byteLength}\r\n\r\n`, 'ascii'), body]);
}

async function runOnce(kind: ServerKind, variant: DocumentVariant, burst: EditBurst, plan: Plan): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // No key: efrit-lsp must idle as a user's does before configuring one, and never call out.
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN', 'EFRIT_LOG_FILE']) delete env[name];
  const entry = kind === 'efrit' ? serverEntry : bareServerEntry;

  const spawnedAt = process.hrtime.bigint();
  const child = spawn(process.execPath, [...serverNodeArgs, entry, '--stdio'], { env, stdio: 'pipe' });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const connection = connect(child);
  const measure = async (): Promise<RunResult> => {
    const workspace = pathToFileURL(join(repoRoot, 'test', 'fixtures', 'workspace')).href;
    await connection.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: workspace,
      workspaceFolders: [{ uri: workspace, name: 'workspace' }],
      capabilities: vscodeCapabilities,
      clientInfo: { name: 'efrit-bench' },
      initializationOptions: null,
    });
    const initializeMs = millisBetween(spawnedAt, process.hrtime.bigint());
    await connection.sendNotification(InitializedNotification.type, {});

    await connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri: burst.uri, languageId: 'typescript', version: 1, text: burst.openText },
    });
    await probe(kind, connection, burst.uri);
    await sleep(plan.settleMs);
    const rssAfterOpenMB = memoryOf(child.pid, 'VmRSS');

    const editsStart = process.hrtime.bigint();
    child.stdin.write(burst.frames);
    const answer = await probe(kind, connection, burst.uri);
    const editsMs = millisBetween(editsStart, process.hrtime.bigint());
    await verify(kind, connection, burst, answer);

    await sleep(plan.settleMs);
    const rssAfterEditsMB = memoryOf(child.pid, 'VmRSS');
    const peakRssMB = memoryOf(child.pid, 'VmHWM');

    await connection.sendRequest(ShutdownRequest.type);
    await connection.sendNotification(ExitNotification.type);
    const exitCode = await withTimeout(exited, 5000, () => child.kill('SIGKILL'));
    if (exitCode !== 0) throw new Error(`exited with code ${exitCode} after shutdown and exit`);
    return { kind, variant: variant.name, initializeMs, editsMs, rssAfterOpenMB, rssAfterEditsMB, peakRssMB, exitCode };
  };
  try {
    // A server that stops answering must fail this run, not hang the whole benchmark.
    return await withTimeout(measure(), runTimeoutMs, () => child.kill('SIGKILL'));
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${kind} server run failed: ${error instanceof Error ? error.message : String(error)}${stderr === '' ? '' : `\nstderr: ${stderr}`}`);
  } finally {
    connection.dispose();
  }
}

function connect(child: ChildProcessWithoutNullStreams): ProtocolConnection {
  const connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  // Answer what efrit-lsp asks after `initialized` as an editor would, so it
  // settles into the same idle state as with a real client.
  connection.onRequest(ConfigurationRequest.type, (params) => params.items.map(() => null));
  connection.onRequest(RegistrationRequest.type, () => undefined);
  connection.onRequest(WorkDoneProgressCreateRequest.type, () => undefined);
  for (const method of ['window/logMessage', 'window/showMessage', '$/progress', Methods.stream]) connection.onNotification(method, () => undefined);
  connection.listen();
  return connection;
}

/**
 * The request that closes the burst. Both servers handle messages in order,
 * so its answer means every edit before it was applied. Both are cheap
 * (efrit-lsp's text is checked after the clock stops, not by this request).
 */
function probe(kind: ServerKind, connection: ProtocolConnection, uri: string): Promise<PingResult | StatusResult> {
  return kind === 'bare' ? connection.sendRequest<PingResult>('bench/ping', { uri }) : connection.sendRequest<StatusResult>(Methods.status);
}

async function verify(kind: ServerKind, connection: ProtocolConnection, burst: EditBurst, answer: PingResult | StatusResult): Promise<void> {
  if (kind === 'bare') {
    const ping = answer as PingResult;
    if (ping.version !== burst.finalVersion || ping.length !== burst.finalText.length) {
      throw new Error(`bare server ended at version ${ping.version}, length ${ping.length}; expected ${burst.finalVersion}, ${burst.finalText.length}`);
    }
    return;
  }
  const status = answer as StatusResult;
  if (status.documents.open !== 1) throw new Error(`efrit-lsp reports ${status.documents.open} open documents, expected 1`);
  const synced = await connection.sendRequest<DocumentTextResult>(Methods.documentText, { textDocument: { uri: burst.uri } });
  if (synced.version !== burst.finalVersion || synced.text.length !== burst.finalText.length || synced.text !== burst.finalText) {
    throw new Error(
      `efrit-lsp ended at version ${synced.version}, length ${synced.text.length}; expected ${burst.finalVersion}, ${burst.finalText.length} (and the same text)`,
    );
  }
}

/** A `/proc/<pid>/status` field in MB (Linux only; `undefined` elsewhere). */
function memoryOf(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = new RegExp(`^${field}:\\s*(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? undefined : Number(match[1]) / 1024;
  } catch {
    return undefined;
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type RunFigure = (run: RunResult) => number | undefined;

function report(runs: RunResult[], plan: Plan) {
  const valuesOf = (kind: ServerKind, variant: DocumentVariant | undefined, pick: RunFigure): number[] =>
    runs
      .filter((run) => run.kind === kind && (variant === undefined || run.variant === variant.name))
      .flatMap((run) => {
        const value = pick(run);
        return value === undefined ? [] : [value];
      });
  const medians = (variant: DocumentVariant | undefined, pick: RunFigure) => ({
    bare: median(valuesOf('bare', variant, pick)),
    efrit: median(valuesOf('efrit', variant, pick)),
  });
  const spread = (kind: ServerKind, variant: DocumentVariant, pick: RunFigure): string => {
    const values = valuesOf(kind, variant, pick);
    return values.length === 0 ? 'n/a' : `${fixed(Math.min(...values))}–${fixed(Math.max(...values))}`;
  };

  const goals: GoalCheck[] = [];
  const rows: string[][] = [];
  const perVariant: Record<string, unknown> = {};
  const notes: string[] = [];
  for (const variant of plan.variants) {
    const edits = medians(variant, (r) => r.editsMs);
    const ratio = edits.efrit / edits.bare;
    // Each efrit run against the bare run just before it: the same moment of the machine.
    const pairRatios: number[] = [];
    const ofVariant = runs.filter((run) => run.variant === variant.name);
    for (let i = 0; i + 1 < ofVariant.length; i += 2) {
      const [bare, efrit] = [ofVariant[i] as RunResult, ofVariant[i + 1] as RunResult];
      pairRatios.push(efrit.editsMs / bare.editsMs);
    }
    goals.push({ name: `sync ${variant.label}: ${editCount} edits, efrit/bare`, goal: `≤ ${goalRatio}×`, actual: `${fixed(ratio, 2)}×`, met: ratio <= goalRatio });
    rows.push([
      `${editCount.toLocaleString('en-US')} edits → answer, ${variant.label} (ms)`,
      fixed(edits.bare),
      fixed(edits.efrit),
      `${fixed(ratio, 2)}×`,
      `≤ ${goalRatio}×`,
      verdict(ratio <= goalRatio),
    ]);
    notes.push(
      `${variant.label}: edits ranged bare ${spread('bare', variant, (r) => r.editsMs)} ms, efrit ${spread('efrit', variant, (r) => r.editsMs)} ms; median of per-pair ratios ${fixed(median(pairRatios), 2)}×; ${fixed((edits.bare * 1000) / editCount)} µs per keystroke in bare.`,
    );
    perVariant[variant.name] = {
      editsMedianMs: edits,
      editsRatio: ratio,
      pairRatios,
      pairRatiosMedian: median(pairRatios),
      rssAfterOpenMedianMB: medians(variant, (r) => r.rssAfterOpenMB),
      rssAfterEditsMedianMB: medians(variant, (r) => r.rssAfterEditsMB),
      peakRssMedianMB: medians(variant, (r) => r.peakRssMB),
    };
  }

  const init = medians(undefined, (r) => r.initializeMs);
  const initExtra = init.efrit - init.bare;
  goals.push({ name: 'initialize: efrit − bare', goal: `≤ +${goalInitializeExtraMs} ms`, actual: `${fixed(initExtra)} ms`, met: initExtra <= goalInitializeExtraMs });
  rows.push([
    'initialize from spawn (ms)',
    fixed(init.bare),
    fixed(init.efrit),
    `${initExtra >= 0 ? '+' : ''}${fixed(initExtra)} ms`,
    `≤ +${goalInitializeExtraMs} ms`,
    verdict(initExtra <= goalInitializeExtraMs),
  ]);

  // Idle: the issue's goal, absolute. After edits: judged against the bare server in the same run.
  const memoryRows: [string, RunFigure, 'absolute' | 'overBare' | undefined][] = [
    ['RSS idle after open', (r) => r.rssAfterOpenMB, 'absolute'],
    ['RSS idle after edits', (r) => r.rssAfterEditsMB, 'overBare'],
    ['peak RSS (VmHWM)', (r) => r.peakRssMB, undefined],
  ];
  for (const variant of plan.variants) {
    for (const [label, pick, goalKind] of memoryRows) {
      const rss = medians(variant, pick);
      const extra = rss.efrit - rss.bare;
      const goal = goalKind === 'absolute' ? `efrit < ${goalRssMB} MB` : goalKind === 'overBare' ? `efrit ≤ bare + ${goalAfterEditsOverBareMB} MB` : '';
      const met = goalKind === 'absolute' ? rss.efrit < goalRssMB : extra <= goalAfterEditsOverBareMB;
      if (goalKind !== undefined) goals.push({ name: `efrit ${label}, ${variant.label}`, goal, actual: `${fixed(rss.efrit)} MB (bare ${fixed(rss.bare)} MB)`, met });
      rows.push([`${label}, ${variant.label} (MB)`, fixed(rss.bare), fixed(rss.efrit), `${extra >= 0 ? '+' : ''}${fixed(extra)} MB`, goal, goalKind === undefined ? '' : verdict(met)]);
    }
  }

  const summaryTable: Table = {
    title: `sync — efrit-lsp vs bare server, medians of ${plan.pairs} alternating runs each, per document`,
    columns: [
      { header: 'measure', align: 'left' },
      { header: 'bare' },
      { header: 'efrit' },
      { header: 'efrit vs bare' },
      { header: 'goal', align: 'left' },
      { header: 'met?', align: 'left' },
    ],
    rows,
    notes: [
      `edits: ${editCount.toLocaleString('en-US')} one-character didChange notifications into a ${documentChars.toLocaleString('en-US')}-char document, written at once, until the next request is answered; the final text is verified.`,
      'non-Latin-1 doc: the same code with a few — « » in comments, so V8 keeps it two bytes per character (see this module\'s comment).',
      ...notes,
      `RSS read from /proc/<pid>/status ${plan.settleMs} ms after the last answer. Most of it is node and vscode-languageserver, which both load: compare with the bare column.`,
      'Every run, in the order run, is in the JSON (scenarios.sync.raw.runs).',
    ],
  };
  return {
    tables: [summaryTable],
    summary: { ...perVariant, initializeMedianMs: init, initializeExtraMs: initExtra },
    raw: { plan, documentChars, editCount, runs },
    goals,
  };
}
