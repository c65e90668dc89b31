/**
 * The built server with nothing between the test and its stdio: bytes are
 * written by hand (Content-Length framing included) and the replies are
 * parsed here, so framing errors on either side are visible. The test client
 * in test/support cannot do this: vscode-jsonrpc always frames correctly.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { eventually } from '../support/eventually.js';
import { serverEntry } from '../support/lsp-client.js';

/** One JSON-RPC message as the server sent it. */
export interface RawMessage {
  jsonrpc?: unknown;
  id?: number | string | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: unknown; message: unknown; data?: unknown };
}

/** `Content-Length: <bytes of body>` + CRLF CRLF + body, as LSP frames a message. */
export function frame(body: string | Buffer): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([Buffer.from(`Content-Length: ${bytes.length}\r\n\r\n`, 'ascii'), bytes]);
}

export function frameJson(message: unknown): Buffer {
  return frame(JSON.stringify(message));
}

export class RawServer {
  /** Every message the server wrote, in order. */
  readonly messages: RawMessage[] = [];
  /** Anything on stdout that is not a well-framed JSON message (must stay empty). */
  readonly outputErrors: string[] = [];
  stderr = '';
  exitCode: number | null | undefined;
  exitSignal: NodeJS.Signals | null | undefined;
  private pending = Buffer.alloc(0);
  private readonly exited: Promise<void>;
  private nextId = 1000;

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        resolve();
      }),
    );
    child.stdout.on('data', (chunk: Buffer) => this.onStdout(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    // A write after the server is gone must not throw in the test process.
    child.stdin.on('error', () => undefined);
  }

  static spawn(env: Record<string, string | undefined> = {}): RawServer {
    const merged: NodeJS.ProcessEnv = { ...process.env, ANTHROPIC_API_KEY: undefined, ANTHROPIC_BASE_URL: undefined, ANTHROPIC_AUTH_TOKEN: undefined, ...env };
    for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
    return new RawServer(spawn(process.execPath, [serverEntry, '--stdio'], { env: merged, stdio: 'pipe' }));
  }

  /** Spawns, sends `initialize` (no client capabilities, so the server asks the client nothing) and `initialized`. */
  static async started(env: Record<string, string | undefined> = {}): Promise<RawServer> {
    const server = RawServer.spawn(env);
    const reply = await server.request('initialize', { processId: null, rootUri: null, capabilities: {}, clientInfo: { name: 'efrit-raw-test' } });
    if (reply.result === undefined) throw new Error(`initialize failed: ${JSON.stringify(reply)}`);
    await server.send({ jsonrpc: '2.0', method: 'initialized', params: {} });
    // One round trip, so what the server says on `initialized` (a log line) is in before the test starts.
    const status = await server.request('efrit/status', {});
    if (status.result === undefined) throw new Error(`efrit/status failed: ${JSON.stringify(status)}`);
    return server;
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  write(bytes: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.stdin.destroyed || this.child.stdin.writableEnded) return resolve();
      this.child.stdin.write(bytes, () => resolve());
    });
  }

  /** Writes one correctly framed message. */
  send(message: unknown): Promise<void> {
    return this.write(frameJson(message));
  }

  /** A fresh numeric id for a request. */
  id(): number {
    return this.nextId++;
  }

  /** Sends a well-formed request and waits for its response. */
  async request(method: string, params?: unknown, timeoutMs = 20_000): Promise<RawMessage> {
    const id = this.id();
    await this.send({ jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) });
    return this.response(id, timeoutMs);
  }

  /** The response with this id, once it arrives. */
  async response(id: number | string, timeoutMs = 20_000): Promise<RawMessage> {
    const found = await this.waitFor(() => this.responseTo(id), `the response to request ${JSON.stringify(id)}`, timeoutMs);
    return found;
  }

  responseTo(id: number | string): RawMessage | undefined {
    return this.messages.find((m) => m.id === id && m.method === undefined);
  }

  /** Server → client notifications with this method. */
  notifications(method: string): RawMessage[] {
    return this.messages.filter((m) => m.method === method && m.id === undefined);
  }

  async waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
    try {
      return await eventually(probe, what, timeoutMs);
    } catch (error) {
      const server = this.alive ? 'alive' : `exited (${String(this.exitCode)})`;
      throw new Error(`${(error as Error).message} after ${timeoutMs} ms; server ${server}; stderr: ${this.stderr.slice(-500)}`);
    }
  }

  /** Resolves true once the process exited, false if it is still running after `timeoutMs`. */
  async exitWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.exited.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return result;
  }

  /** `shutdown` + `exit` if still running, then SIGKILL as a last resort; for afterEach. */
  async dispose(): Promise<void> {
    if (this.alive) {
      try {
        const id = this.id();
        await this.send({ jsonrpc: '2.0', id, method: 'shutdown' });
        await this.waitFor(() => this.responseTo(id), 'shutdown', 10_000);
        await this.send({ jsonrpc: '2.0', method: 'exit' });
      } catch {
        // A test may have left the stream out of sync on purpose; closing stdin ends the server too.
        this.child.stdin.end();
      }
      if (!(await this.exitWithin(3000))) this.child.kill('SIGKILL');
    }
    await this.exited;
  }

  private onStdout(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    for (;;) {
      const headerEnd = this.pending.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const header = this.pending.subarray(0, headerEnd).toString('ascii');
      const match = /^Content-Length: (\d+)$/im.exec(header);
      if (match === null) {
        this.outputErrors.push(`a header without Content-Length: ${JSON.stringify(header)}`);
        this.pending = this.pending.subarray(headerEnd + 4);
        continue;
      }
      const length = Number(match[1]);
      const bodyStart = headerEnd + 4;
      if (this.pending.length < bodyStart + length) return;
      const body = this.pending.subarray(bodyStart, bodyStart + length).toString('utf8');
      this.pending = this.pending.subarray(bodyStart + length);
      try {
        const message = JSON.parse(body) as unknown;
        if (typeof message !== 'object' || message === null || (message as RawMessage).jsonrpc !== '2.0') {
          this.outputErrors.push(`not a JSON-RPC 2.0 message: ${body.slice(0, 200)}`);
        } else {
          this.messages.push(message as RawMessage);
        }
      } catch {
        this.outputErrors.push(`a body that is not JSON: ${body.slice(0, 200)}`);
      }
    }
  }
}
