/**
 * A real LSP client for tests, the demo and benchmarks: it starts the built
 * server as a child process and talks JSON-RPC over its stdio with
 * vscode-languageserver-protocol, as VS Code's client does. It keeps its own
 * copy of every open document, applies the server's `workspace/applyEdit`
 * to it, and records everything the server sends, so tests can assert on
 * what a user would see.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  ApplyWorkspaceEditRequest,
  ConfigurationRequest,
  createProtocolConnection,
  ExitNotification,
  InitializedNotification,
  InitializeRequest,
  LogMessageNotification,
  RegistrationRequest,
  ShowMessageNotification,
  ShowMessageRequest,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  WorkDoneProgressCreateRequest,
  type ApplyWorkspaceEditParams,
  type ApplyWorkspaceEditResult,
  type ClientCapabilities,
  type CodeAction,
  type Command,
  type Diagnostic,
  type InitializeResult,
  type LogMessageParams,
  type MessageActionItem,
  type Position,
  type ProtocolConnection,
  type Range,
  type ShowMessageParams,
  type ShowMessageRequestParams,
  type TextEdit,
} from 'vscode-languageserver-protocol/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { StatusResult, StreamParams } from '../../server/src/protocol.js';
import { eventually } from './eventually.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root, from either test/support (vitest) or dist/test/support (demo, bench). */
export const repoRoot = here.includes(`${'/'}dist${'/'}`) ? join(here, '..', '..', '..') : join(here, '..', '..');
/** The shipped server: the bundle that the package's bin names. */
export const serverEntry = join(repoRoot, 'dist', 'efrit-lsp.cjs');

/** What VS Code 1.9x advertises for the parts efrit-lsp uses. */
export const vscodeCapabilities: ClientCapabilities = {
  workspace: { applyEdit: true, configuration: true, workspaceEdit: { documentChanges: true }, didChangeConfiguration: { dynamicRegistration: true } },
  window: { workDoneProgress: true, showMessage: {} },
  textDocument: {
    synchronization: { didSave: true, dynamicRegistration: true },
    codeAction: {
      dataSupport: true,
      isPreferredSupport: true,
      resolveSupport: { properties: ['edit'] },
      codeActionLiteralSupport: { codeActionKind: { valueSet: ['', 'quickfix', 'refactor', 'refactor.rewrite', 'source'] } },
    },
  },
};

/** Eglot 1.9 (Emacs 28): no codeAction/resolve, no work-done progress. */
export const eglotCapabilities: ClientCapabilities = {
  workspace: { applyEdit: true, configuration: true, workspaceEdit: { documentChanges: true } },
  textDocument: {
    synchronization: { didSave: true },
    codeAction: { codeActionLiteralSupport: { codeActionKind: { valueSet: ['quickfix', 'refactor', 'refactor.rewrite', 'source'] } } },
  },
};

/** A proxy set on the machine running the tests would carry the server's calls to the fake API away from loopback. */
const noProxyEnvironment = Object.fromEntries(
  ['HTTPS_PROXY', 'HTTP_PROXY', 'ALL_PROXY', 'NO_PROXY'].flatMap((name) => [name, name.toLowerCase()]).map((name) => [name, undefined]),
);

export interface TestClientOptions {
  /** The server's entry point; the package's bin unless given. */
  entry?: string;
  capabilities?: ClientCapabilities;
  initializationOptions?: unknown;
  /** What `workspace/configuration` answers for the `efrit` section. */
  settings?: unknown;
  /**
   * Extra environment for the server; ANTHROPIC_* and the proxy variables are cleared unless given here.
   * EFRIT_STATE_DIR (remembered consent) is a scratch folder of this client's unless given.
   */
  env?: Record<string, string | undefined>;
  workspaceFolder?: string;
  /** How the user answers `window/showMessageRequest` (the title of the action picked, or null to close it); default: closes it. */
  onShowMessageRequest?: (params: ShowMessageRequestParams) => string | null;
  /** How the client answers `workspace/applyEdit`; default: apply it. */
  onApplyEdit?: (params: ApplyWorkspaceEditParams) => ApplyWorkspaceEditResult | undefined;
  serverArgs?: string[];
  /** false: start the server but send no initialize (for lifecycle tests); call `initialize()` later. @default true */
  initialize?: boolean;
}

export interface ProgressEvent {
  token: string | number;
  value: { kind: 'begin' | 'report' | 'end'; title?: string; message?: string };
}

export function positionOf(text: string, needle: string, occurrence = 1): Position {
  let index = -1;
  for (let n = 0; n < occurrence; n++) {
    index = text.indexOf(needle, index + 1);
    if (index < 0) throw new Error(`"${needle}" (occurrence ${occurrence}) is not in the text`);
  }
  const before = text.slice(0, index);
  const line = before.split('\n').length - 1;
  return { line, character: index - (before.lastIndexOf('\n') + 1) };
}

export function rangeOf(text: string, needle: string, occurrence = 1): Range {
  const start = positionOf(text, needle, occurrence);
  const lines = needle.split('\n');
  const end =
    lines.length === 1
      ? { line: start.line, character: start.character + needle.length }
      : { line: start.line + lines.length - 1, character: (lines[lines.length - 1] as string).length };
  return { start, end };
}

let startedClients = 0;

export class TestClient {
  readonly streams: StreamParams[] = [];
  readonly progress: ProgressEvent[] = [];
  readonly shownMessages: ShowMessageParams[] = [];
  /** Every `window/showMessageRequest` the server asked, in order. */
  readonly messageRequests: ShowMessageRequestParams[] = [];
  readonly logMessages: LogMessageParams[] = [];
  readonly appliedEdits: ApplyWorkspaceEditParams[] = [];
  /** Everything the server sent, as raw JSON text, to grep for secrets. */
  readonly rawTraffic: string[] = [];
  readonly documents = new Map<string, TextDocument>();
  stderr = '';
  initializeResult!: InitializeResult;
  exitCode: number | null | undefined;
  private scratchState: string | undefined;
  private readonly exited: Promise<number | null>;

  private constructor(
    readonly connection: ProtocolConnection,
    readonly child: ChildProcessWithoutNullStreams,
    readonly workspaceFolder: string,
  ) {
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve((this.exitCode = code))));
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
  }

  static async start(options: TestClientOptions = {}): Promise<TestClient> {
    // A test never reads or writes the state of the user running it; the folder is created only if the server writes there.
    const scratchState = options.env?.['EFRIT_STATE_DIR'] === undefined ? join(tmpdir(), `efrit-test-state-${process.pid}-${++startedClients}`) : undefined;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ANTHROPIC_API_KEY: undefined,
      ANTHROPIC_BASE_URL: undefined,
      ANTHROPIC_AUTH_TOKEN: undefined,
      ...noProxyEnvironment,
      EFRIT_STATE_DIR: scratchState,
      ...options.env,
    };
    for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
    const child = spawn(process.execPath, [options.entry ?? serverEntry, '--stdio', ...(options.serverArgs ?? [])], { env, stdio: 'pipe' });
    child.stdout.on('data', (chunk: Buffer) => recordRaw(chunk.toString()));
    const reader = new StreamMessageReader(child.stdout);
    const writer = new StreamMessageWriter(child.stdin);
    const connection = createProtocolConnection(reader, writer);
    const workspaceFolder = options.workspaceFolder ?? join(repoRoot, 'test', 'fixtures', 'workspace');
    const client = new TestClient(connection, child, workspaceFolder);
    client.scratchState = scratchState;
    function recordRaw(text: string): void {
      client.rawTraffic.push(text);
    }
    client.listen(options);
    if (options.initialize !== false) await client.initialize(options);
    return client;
  }

  /** `initialize` and `initialized`, as an editor sends them on start. */
  async initialize(options: Pick<TestClientOptions, 'capabilities' | 'initializationOptions'> = {}): Promise<void> {
    const folderUri = pathToFileURL(this.workspaceFolder).href;
    this.initializeResult = await this.connection.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: folderUri,
      workspaceFolders: [{ uri: folderUri, name: 'workspace' }],
      capabilities: options.capabilities ?? vscodeCapabilities,
      clientInfo: { name: 'efrit-test-client' },
      initializationOptions: options.initializationOptions ?? null,
    });
    await this.connection.sendNotification(InitializedNotification.type, {});
  }

  private listen(options: TestClientOptions): void {
    const { connection } = this;
    connection.onRequest(ApplyWorkspaceEditRequest.type, (params) => {
      this.appliedEdits.push(params);
      const answer = options.onApplyEdit?.(params);
      if (answer !== undefined) return answer;
      return this.applyWorkspaceEdit(params);
    });
    connection.onRequest(WorkDoneProgressCreateRequest.type, () => undefined);
    connection.onRequest(ShowMessageRequest.type, (params): MessageActionItem | null => {
      this.messageRequests.push(params);
      const title = options.onShowMessageRequest?.(params) ?? null;
      return title === null ? null : { title };
    });
    connection.onRequest(ConfigurationRequest.type, (params) => params.items.map((item) => (item.section === 'efrit' ? (options.settings ?? null) : null)));
    connection.onRequest(RegistrationRequest.type, () => undefined);
    connection.onNotification('efrit/stream', (params: StreamParams) => {
      this.streams.push(params);
    });
    connection.onNotification('$/progress', (params: ProgressEvent) => {
      this.progress.push(params);
    });
    connection.onNotification(ShowMessageNotification.type, (params) => {
      this.shownMessages.push(params);
    });
    connection.onNotification(LogMessageNotification.type, (params) => {
      this.logMessages.push(params);
    });
    connection.listen();
  }

  /**
   * Applies a `documentChanges` or `changes` edit as an editor does, all or
   * nothing: open documents get their edits (versions checked as VS Code
   * does) and report them back as didChange; files not open are edited on
   * disk; create, rename and delete act on disk. Everything is checked before
   * anything is applied, so a refused edit leaves every file as it was.
   */
  private async applyWorkspaceEdit(params: ApplyWorkspaceEditParams): Promise<ApplyWorkspaceEditResult> {
    type Step =
      | { kind: 'edit'; uri: string; version: number | null; edits: TextEdit[] }
      | { kind: 'create'; uri: string }
      | { kind: 'rename'; oldUri: string; newUri: string }
      | { kind: 'delete'; uri: string };
    const steps: Step[] = [];
    for (const change of params.edit.documentChanges ?? []) {
      if ('textDocument' in change) steps.push({ kind: 'edit', uri: change.textDocument.uri, version: change.textDocument.version, edits: change.edits as TextEdit[] });
      else if (change.kind === 'create') steps.push({ kind: 'create', uri: change.uri });
      else if (change.kind === 'rename') steps.push({ kind: 'rename', oldUri: change.oldUri, newUri: change.newUri });
      else steps.push({ kind: 'delete', uri: change.uri });
    }
    for (const [uri, edits] of Object.entries(params.edit.changes ?? {})) steps.push({ kind: 'edit', uri, version: null, edits });
    const exists = (uri: string): boolean => existsSync(fileURLToPath(uri));
    const created = new Set<string>();
    for (const [index, step] of steps.entries()) {
      const refuse = (failureReason: string): ApplyWorkspaceEditResult => ({ applied: false, failureReason, failedChange: index });
      if (step.kind === 'edit') {
        const doc = this.documents.get(step.uri);
        if (doc === undefined && !exists(step.uri) && !created.has(step.uri)) return refuse(`${step.uri} does not exist`);
        if (doc !== undefined && step.version !== null && step.version !== doc.version) return refuse(`version ${step.version} != ${doc.version}`);
      } else if (step.kind === 'create') {
        if (exists(step.uri)) return refuse(`${step.uri} already exists`);
        created.add(step.uri);
      } else if (step.kind === 'rename') {
        if (!exists(step.oldUri) || exists(step.newUri)) return refuse(`cannot rename ${step.oldUri} to ${step.newUri}`);
      } else if (!exists(step.uri)) {
        return refuse(`${step.uri} does not exist`);
      }
    }
    for (const step of steps) {
      if (step.kind === 'create') {
        await writeFile(fileURLToPath(step.uri), '', { flag: 'wx' });
      } else if (step.kind === 'rename') {
        await rename(fileURLToPath(step.oldUri), fileURLToPath(step.newUri));
      } else if (step.kind === 'delete') {
        await unlink(fileURLToPath(step.uri));
      } else if (this.documents.has(step.uri)) {
        // An editor reports an applied edit back as a didChange; last edit first keeps the earlier ranges valid.
        const changes = [...step.edits]
          .sort((a, b) => b.range.start.line - a.range.start.line || b.range.start.character - a.range.start.character)
          .map((edit) => ({ range: edit.range, text: edit.newText }));
        void this.sendChanges(step.uri, changes);
      } else {
        const path = fileURLToPath(step.uri);
        const onDisk = TextDocument.create(step.uri, 'plaintext', 0, await readFile(path, 'utf8'));
        await writeFile(path, TextDocument.applyEdits(onDisk, step.edits));
      }
    }
    return { applied: true };
  }

  uriOf(relativePath: string): string {
    return pathToFileURL(join(this.workspaceFolder, relativePath)).href;
  }

  async open(relativePath: string, text: string, languageId = 'typescript'): Promise<string> {
    const uri = this.uriOf(relativePath);
    this.documents.set(uri, TextDocument.create(uri, languageId, 1, text));
    await this.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId, version: 1, text } });
    return uri;
  }

  text(uri: string): string {
    const doc = this.documents.get(uri);
    if (doc === undefined) throw new Error(`${uri} is not open`);
    return doc.getText();
  }

  /** Replaces the first occurrence of `find` with `replacement`, as an incremental change. */
  async edit(uri: string, find: string, replacement: string): Promise<void> {
    await this.change(uri, rangeOf(this.text(uri), find), replacement);
  }

  change(uri: string, range: Range, text: string): Promise<void> {
    return this.sendChanges(uri, [{ range, text }]);
  }

  async sendChanges(uri: string, contentChanges: { range: Range; text: string }[]): Promise<void> {
    const doc = this.documents.get(uri);
    if (doc === undefined) throw new Error(`${uri} is not open`);
    const version = doc.version + 1;
    TextDocument.update(doc, contentChanges, version);
    await this.connection.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges });
  }

  async close(uri: string): Promise<void> {
    this.documents.delete(uri);
    await this.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
  }

  codeActions(uri: string, range: Range, diagnostics: Diagnostic[] = [], only?: string[]): Promise<(CodeAction | Command)[]> {
    return this.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri },
      range,
      context: { diagnostics, ...(only !== undefined ? { only } : {}) },
    });
  }

  executeCommand<T = unknown>(command: string, argument?: unknown): Promise<T> {
    return this.connection.sendRequest('workspace/executeCommand', { command, arguments: argument === undefined ? [] : [argument] });
  }

  request<T = unknown>(method: string, params?: unknown): Promise<T> {
    return this.connection.sendRequest(method, params);
  }

  /** The concatenated text deltas a job streamed. */
  streamedText(jobId: string): string {
    return this.streams
      .filter((s) => s.jobId === jobId && s.kind === 'text')
      .map((s) => s.text)
      .join('');
  }

  /**
   * Resolves once the server has read and started handling everything sent
   * before it: the connection hands messages to handlers in order, and each
   * handler starts its work before its first await.
   */
  async settled(): Promise<void> {
    await this.request('efrit/status', {});
  }

  /** Asks `efrit/status` until `predicate` holds: the server observed reaching a state, not slept past it. */
  async statusUntil(predicate: (status: StatusResult) => boolean, what: string, timeoutMs = 10_000): Promise<StatusResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.request<StatusResult>('efrit/status', {});
      if (predicate(status)) return status;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the queue is ${JSON.stringify(status.queue)}`);
    }
  }

  async waitFor(predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    await eventually(() => (predicate() ? true : undefined), what, timeoutMs);
  }

  /** `shutdown` then `exit`; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.exitCode === undefined) {
      try {
        await this.connection.sendRequest(ShutdownRequest.type);
        await this.connection.sendNotification(ExitNotification.type);
      } catch {
        // The server may already be gone; the exit code says how it went.
      }
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    const code = await this.exited;
    clearTimeout(timer);
    this.connection.dispose();
    if (this.scratchState !== undefined) await rm(this.scratchState, { recursive: true, force: true });
    return code;
  }

  waitForExit(): Promise<number | null> {
    return this.exited;
  }
}
