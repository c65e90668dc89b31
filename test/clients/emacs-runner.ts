/** Running headless Emacs for the client tests, and reading what its test script printed. */
import { execFile } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to its end (killed at `timeoutMs`), never rejecting: the exit code says how it went. */
export function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number }): Promise<RunResult> {
  const started = Date.now();
  return new Promise((done) => {
    execFile(
      command,
      args,
      { env: options.env ?? process.env, cwd: options.cwd, timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        done({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

/** The "EFRIT-TEST <key> <json>" lines the .el script printed. */
export function parseEmitted(stdout: string): Map<string, unknown> {
  const emitted = new Map<string, unknown>();
  for (const line of stdout.split('\n')) {
    const match = /^EFRIT-TEST (\S+) (.*)$/.exec(line);
    if (match?.[1] === undefined || match[2] === undefined) continue;
    emitted.set(match[1], JSON.parse(match[2]) as unknown);
  }
  return emitted;
}
