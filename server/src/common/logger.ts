/**
 * The one logger. It never writes to stdout (stdout carries JSON-RPC): lines go
 * to the client as `window/logMessage` through a sink the composition root
 * attaches, and to `EFRIT_LOG_FILE` when that is set. Every line passes through
 * the redactor first, so a secret registered with `add()` cannot reach either
 * place, plainly or encoded, whatever a caller interpolates.
 */
import { appendFileSync } from 'node:fs';
import { format, inspect } from 'node:util';
import { SecretRedactor } from './redaction.js';

export { SecretRedactor } from './redaction.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

const levelRank: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  error(message: string, detail?: unknown): void;
  warn(message: string, detail?: unknown): void;
  info(message: string, detail?: unknown): void;
  debug(message: string, detail?: unknown): void;
}

export type LogSink = (level: LogLevel, line: string) => void;

function describe(detail: unknown): string {
  if (detail === undefined) return '';
  if (detail instanceof Error) return ` ${detail.stack ?? detail.message}`;
  if (typeof detail === 'string') return ` ${detail}`;
  try {
    return ` ${JSON.stringify(detail)}`;
  } catch {
    return ` ${String(detail)}`;
  }
}

export interface ServerLoggerOptions {
  /** Lowest level written; `debug` shows every model request's shape. @default 'info' */
  level?: LogLevel;
  /** Append lines here as well (the `EFRIT_LOG_FILE` environment variable). */
  file?: string | undefined;
  redactor?: SecretRedactor;
  /** Injectable clock so tests can read stable lines. */
  now?: () => Date;
}

export class ServerLogger implements Logger {
  level: LogLevel;
  readonly redactor: SecretRedactor;
  private sink: LogSink | undefined;
  private readonly file: string | undefined;
  private readonly now: () => Date;

  constructor(options: ServerLoggerOptions = {}) {
    this.level = options.level ?? 'info';
    this.file = options.file;
    this.redactor = options.redactor ?? new SecretRedactor();
    this.now = options.now ?? (() => new Date());
  }

  /** Where lines go besides the file: the client's `window/logMessage`. */
  attach(sink: LogSink | undefined): void {
    this.sink = sink;
  }

  error(message: string, detail?: unknown): void {
    this.write('error', message, detail);
  }
  warn(message: string, detail?: unknown): void {
    this.write('warn', message, detail);
  }
  info(message: string, detail?: unknown): void {
    this.write('info', message, detail);
  }
  debug(message: string, detail?: unknown): void {
    this.write('debug', message, detail);
  }

  private write(level: LogLevel, message: string, detail: unknown): void {
    if (levelRank[level] > levelRank[this.level]) return;
    const line = this.redactor.redact(`${message}${describe(detail)}`);
    try {
      this.sink?.(level, line);
    } catch {
      // A closed connection must not turn a log line into a crash.
    }
    if (this.file !== undefined) {
      try {
        appendFileSync(this.file, `${this.now().toISOString()} ${level.toUpperCase()} ${line}\n`);
      } catch {
        // An unwritable log file is not worth taking the server down for.
      }
    }
  }
}

/** Sends `console.*` to `logger` (redacted like every line) instead of stdout and stderr. */
export function routeConsoleTo(logger: Logger): void {
  const at = (write: (line: string) => void) => (...args: unknown[]) => write(format(...args));
  console.log = at((line) => logger.info(line));
  console.info = at((line) => logger.info(line));
  console.debug = at((line) => logger.debug(line));
  console.trace = at((line) => logger.debug(line));
  console.warn = at((line) => logger.warn(line));
  console.error = at((line) => logger.error(line));
  console.dir = (value: unknown) => logger.info(inspect(value));
}

/** A logger that drops everything: for unit tests and library defaults. */
export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
};
