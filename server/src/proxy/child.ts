/**
 * The wrapped language server as a child process: its stdio as a JSON-RPC
 * endpoint, its exit as one event, and a stop that never leaves it running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { StreamMessageReader, StreamMessageWriter } from 'vscode-languageserver/node';
import type { Endpoint } from './memory-transport.js';

export interface WrappedServer {
  readonly endpoint: Endpoint;
  /** The command line, for messages. */
  readonly label: string;
  readonly pid: number | undefined;
  /** Called once, when the child has exited or could not be started. */
  onExit(listener: (reason: string) => void): void;
  /** Waits up to `graceMs` for the child to exit by itself, then kills it. */
  stop(graceMs: number): Promise<void>;
  /** Synchronous last resort, for `process.on('exit')`. */
  killNow(): void;
}

export interface SpawnOptions {
  /** Applied to the child's stderr, line by line, before it reaches ours (the editor's log). */
  redact?: (text: string) => string;
}

/** Longest stderr line held back while waiting for its end; a longer one is passed on in pieces. */
const maxHeldStderrChars = 64 * 1024;

/**
 * The child's environment: ours without the model providers' credentials.
 * A language server has no use for them, and what it has not got it cannot
 * print, log or hand to a plugin.
 */
function childEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('ANTHROPIC_')));
}

export function spawnWrappedServer(command: string, args: readonly string[], options: SpawnOptions = {}): WrappedServer {
  const child: ChildProcess = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: childEnvironment(process.env) });
  passStderrOn(child, options.redact ?? ((text) => text));
  const label = [command, ...args].join(' ');
  const listeners: ((reason: string) => void)[] = [];
  let exitReason: string | undefined;
  const exited = new Promise<void>((resolve) => {
    const finish = (reason: string) => {
      if (exitReason !== undefined) return;
      exitReason = reason;
      for (const listener of listeners) listener(reason);
      resolve();
    };
    child.on('error', (error) => finish(`could not be started: ${error.message}`));
    child.on('exit', (code, signal) => finish(signal !== null ? `was killed by ${signal}` : `exited with code ${code ?? 'unknown'}`));
  });
  // Writing to a child that just died raises EPIPE on the stream; the exit event already says what happened.
  child.stdin?.on('error', () => undefined);
  if (child.stdin === null || child.stdout === null) throw new Error('the wrapped server has no stdio');
  const endpoint: Endpoint = { reader: new StreamMessageReader(child.stdout), writer: new StreamMessageWriter(child.stdin) };

  return {
    endpoint,
    label,
    pid: child.pid,
    onExit(listener) {
      if (exitReason !== undefined) listener(exitReason);
      else listeners.push(listener);
    },
    async stop(graceMs) {
      if (exitReason !== undefined) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
      if (exitReason === undefined) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 500)))]);
        clearTimeout(timer);
        if (exitReason === undefined) child.kill('SIGKILL');
      }
    },
    killNow() {
      if (exitReason === undefined) child.kill('SIGKILL');
    },
  };
}

/** The child's stderr, redacted by whole lines (a secret is never cut across two writes), onto ours. */
function passStderrOn(child: ChildProcess, redact: (text: string) => string): void {
  let held = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    held += chunk;
    const lastBreak = held.lastIndexOf('\n');
    const upTo = lastBreak >= 0 ? lastBreak + 1 : held.length > maxHeldStderrChars ? held.length : 0;
    if (upTo === 0) return;
    process.stderr.write(redact(held.slice(0, upTo)));
    held = held.slice(upTo);
  });
  child.stderr?.on('end', () => {
    if (held !== '') process.stderr.write(redact(held));
    held = '';
  });
}
