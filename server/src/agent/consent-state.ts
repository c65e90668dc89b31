/**
 * "Always for this workspace" answers for the agent's checks
 * (`agent.commands`), kept across restarts in a file of the user's own:
 * `$EFRIT_STATE_DIR/check-consent.json`, else
 * `$XDG_STATE_HOME/efrit-lsp/check-consent.json`, else
 * `~/.local/state/efrit-lsp/check-consent.json`. Never a workspace setting
 * or a file in the workspace: a repository that could write its own consent
 * would make asking pointless.
 *
 * - An answer is keyed by the workspace folder's real path, the check's name
 *   and a SHA-256 of its argv, so a changed argv is asked about again, and
 *   the argv itself (which may carry a secret) is never written.
 * - The file is read again at every decision: deleting it, or one entry,
 *   takes effect at once, in running servers too. That is how a user
 *   forgets an answer; no command is needed.
 * - It is trusted whole or not at all: a file that is not a regular file,
 *   not the user's own, writable by others, over `maxBytes`, not JSON, or
 *   with one malformed entry is ignored with a log line, and the user is
 *   asked again (a later "Always" replaces it).
 * - Written atomically (a temporary file in the same folder, mode 0600, then
 *   renamed over), bounded in entries and bytes, the oldest answers dropped
 *   first. Two servers writing at once may lose one's answer: that user is
 *   asked again, never allowed by mistake.
 * - When the file cannot be written, the answer is kept for this server's
 *   life only, with a log line saying so.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath, rename, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import type { Logger } from '../common/logger.js';
import { isRecord } from '../common/json-shape.js';
import { checkNamePattern } from '../settings/config.js';

/** What a remembered answer is about. */
export interface ConsentKey {
  /** The workspace folder the check runs in. */
  folder: string;
  /** The check's name in agent.commands. */
  command: string;
  argv: readonly string[];
}

/** Where "Always" answers are kept. Neither method throws. */
export interface RememberedConsent {
  has(key: ConsentKey): Promise<boolean>;
  remember(key: ConsentKey): Promise<void>;
}

export const consentFileName = 'check-consent.json';
/** Answers kept at most: a few per project, far fewer than this for anyone. */
export const maxConsentEntries = 256;
/** The file's size at most, read or written. */
export const maxConsentFileBytes = 64 * 1024;
const fileVersion = 1;
const sha256Pattern = /^[0-9a-f]{64}$/;
const maxFolderChars = 4_096;

interface Entry {
  folder: string;
  check: string;
  argvSha256: string;
  /** When the user answered, ISO 8601: for a person reading the file. */
  allowedAt: string;
}

/** Where the file is for this environment; undefined when there is no home to keep it in. */
export function consentStatePath(env: NodeJS.ProcessEnv, home: string): string | undefined {
  const override = env['EFRIT_STATE_DIR'];
  if (override !== undefined && isAbsolute(override)) return join(override, consentFileName);
  // The XDG spec: a relative XDG_STATE_HOME is invalid and is ignored.
  const xdg = env['XDG_STATE_HOME'];
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'efrit-lsp', consentFileName);
  return home === '' ? undefined : join(home, '.local', 'state', 'efrit-lsp', consentFileName);
}

/** Answers for this server's life only: where there is no state file. */
export class ConsentInMemory implements RememberedConsent {
  // Stryker disable next-line ArrayDeclaration: equivalent, a key no answer has is the first evicted, so the answers kept are the same
  private readonly keys: string[] = [];

  has(key: ConsentKey): Promise<boolean> {
    return Promise.resolve(this.keys.includes(memoryKey(key)));
  }

  /** As in the file: answering again makes an answer the newest. */
  remember(key: ConsentKey): Promise<void> {
    const wanted = memoryKey(key);
    const known = this.keys.indexOf(wanted);
    // Stryker disable next-line EqualityOperator: equivalent, a stale copy left first is the first evicted
    if (known >= 0) this.keys.splice(known, 1);
    this.keys.push(wanted);
    if (this.keys.length > maxConsentEntries) this.keys.shift();
    return Promise.resolve();
  }
}

export interface ConsentStateFileOptions {
  /** The file (consentStatePath); undefined: answers are kept in memory only. */
  path: string | undefined;
  logger: Logger;
  /** @default maxConsentEntries */
  maxEntries?: number;
  /** @default maxConsentFileBytes */
  maxBytes?: number;
  /** @default the system clock */
  now?: () => Date;
}

export class ConsentStateFile implements RememberedConsent {
  /** Answers the file could not take: kept for this server's life. */
  private readonly fallback = new ConsentInMemory();
  /** One write at a time in this server, each on the file as the one before left it. */
  private writing: Promise<void> = Promise.resolve();
  private readonly maxEntries: number;
  private readonly maxBytes: number;

  constructor(private readonly options: ConsentStateFileOptions) {
    this.maxEntries = options.maxEntries ?? maxConsentEntries;
    this.maxBytes = options.maxBytes ?? maxConsentFileBytes;
  }

  async has(key: ConsentKey): Promise<boolean> {
    if (await this.fallback.has(key)) return true;
    const { path } = this.options;
    if (path === undefined) return false;
    const wanted = await entryKey(key);
    const entries = await this.read(path);
    return entries.some((entry) => entry.folder === wanted.folder && entry.check === wanted.check && entry.argvSha256 === wanted.argvSha256);
  }

  remember(key: ConsentKey): Promise<void> {
    const write = this.writing.then(() => this.write(key));
    this.writing = write;
    return write;
  }

  private async write(key: ConsentKey): Promise<void> {
    const { path, logger } = this.options;
    if (path === undefined) {
      logger.info(`check "${key.command}": "Always" is remembered until the server stops (no home folder to keep it in)`);
      await this.fallback.remember(key);
      return;
    }
    const added: Entry = { ...(await entryKey(key)), allowedAt: (this.options.now?.() ?? new Date()).toISOString() };
    const entries = (await this.read(path)).filter((entry) => !(entry.folder === added.folder && entry.check === added.check && entry.argvSha256 === added.argvSha256));
    entries.push(added);
    // The oldest answers go first, by count and then by size.
    while (entries.length > this.maxEntries) entries.shift();
    let text = serialize(entries);
    while (Buffer.byteLength(text) > this.maxBytes && entries.length > 1) {
      entries.shift();
      text = serialize(entries);
    }
    const folder = dirname(path);
    const temporary = join(folder, `.${consentFileName}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      if (Buffer.byteLength(text) > this.maxBytes) throw new Error(`one answer is larger than ${this.maxBytes} bytes (a very long folder path)`);
      await mkdir(folder, { recursive: true, mode: 0o700 });
      const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, path);
      logger.info(`check "${key.command}": "Always" remembered for ${added.folder} in ${path} (delete the file, or the entry, to be asked again)`);
    } catch (error) {
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent, a failure to remove is ignored either way
      await rm(temporary, { force: true }).catch(() => undefined);
      logger.warn(`check "${key.command}": could not write ${path}; "Always" is remembered until the server stops`, error);
      await this.fallback.remember(key);
    }
  }

  /** The file's entries when it can be trusted whole; none (and a log line saying why) otherwise. */
  private async read(path: string): Promise<Entry[]> {
    let text: string;
    try {
      const info = await lstat(path);
      // Stryker disable next-line OptionalChaining: equivalent on every POSIX system, where getuid exists
      const uid = process.getuid?.();
      if (!info.isFile()) return this.ignored(path, 'it is not a regular file');
      // Stryker disable next-line ConditionalExpression: equivalent on every POSIX system, where getuid exists
      if (uid !== undefined && info.uid !== uid) return this.ignored(path, 'it belongs to another user');
      if ((info.mode & 0o022) !== 0) return this.ignored(path, 'others may write to it');
      const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        // Read to one byte past the bound: a larger file is refused, never read whole.
        const buffer = Buffer.alloc(this.maxBytes + 1);
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
        if (bytesRead > this.maxBytes) return this.ignored(path, `it is larger than ${this.maxBytes} bytes`);
        text = buffer.subarray(0, bytesRead).toString('utf8');
      } finally {
        await handle.close();
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      return this.ignored(path, `it could not be read (${error instanceof Error ? error.message : String(error)})`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return this.ignored(path, 'it is not JSON');
    }
    const entries = entriesOf(parsed, this.maxEntries);
    return entries ?? this.ignored(path, `it is not a version ${fileVersion} list of at most ${this.maxEntries} answers`);
  }

  private ignored(path: string, why: string): Entry[] {
    this.options.logger.warn(`${path} is ignored, so checks are asked about again: ${why}`);
    return [];
  }
}

function serialize(entries: readonly Entry[]): string {
  return `${JSON.stringify({ version: fileVersion, entries }, null, 1)}\n`;
}

/** The entries of a well-formed file, or undefined when any part of it is not. */
function entriesOf(parsed: unknown, maxEntries: number): Entry[] | undefined {
  if (!isRecord(parsed) || parsed['version'] !== fileVersion || !Array.isArray(parsed['entries']) || parsed['entries'].length > maxEntries) return undefined;
  const entries: Entry[] = [];
  for (const item of parsed['entries'] as unknown[]) {
    if (!isRecord(item)) return undefined;
    const { folder, check, argvSha256, allowedAt } = item;
    if (typeof folder !== 'string' || !isAbsolute(folder) || folder.length > maxFolderChars) return undefined;
    if (typeof check !== 'string' || !checkNamePattern.test(check)) return undefined;
    if (typeof argvSha256 !== 'string' || !sha256Pattern.test(argvSha256)) return undefined;
    if (typeof allowedAt !== 'string' || Number.isNaN(Date.parse(allowedAt))) return undefined;
    entries.push({ folder, check, argvSha256, allowedAt });
  }
  return entries;
}

async function entryKey(key: ConsentKey): Promise<Omit<Entry, 'allowedAt'>> {
  // The real path: the same folder reached through a symbolic link is the same workspace.
  const folder = await realpath(key.folder).catch(() => key.folder);
  return { folder, check: key.command, argvSha256: createHash('sha256').update(JSON.stringify(key.argv)).digest('hex') };
}

function memoryKey(key: ConsentKey): string {
  return JSON.stringify([key.folder, key.command, key.argv]);
}
