/**
 * The project's own instructions for coding assistants: `AGENTS.md`,
 * `CLAUDE.md` and `.efrit/instructions.md` at the root of each workspace
 * folder, joined into one text that the prompt sends as a second system block
 * (after the fixed prompt, see model/prompts.ts), so the API's prompt cache
 * serves it on every call instead of it being sent afresh in the messages.
 *
 * The files are read under the agent's confinement (workspace-paths.ts): a
 * symlink that leads out of the workspace, a hard link, a secret-looking path
 * or a file that is no regular text file is skipped. A repository is
 * untrusted, so the text is bounded (`maxFileBytes` each, `maxTotalBytes` in
 * all, cut with a note the model reads), and nothing here throws: a file that
 * cannot be read is left out and logged at debug level.
 *
 * Byte-identical from call to call while the files are unchanged, since any
 * difference would cost a cache write: a file is read again only when a stat
 * shows it changed (size, modification time or inode), and each job reads the
 * files once (`forJob`), so all the steps of one job send the same text.
 */
import type { BigIntStats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { messageOf } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { formatBytes, locate, readTextFile, resolveRoots } from './workspace-paths.js';
import type { Located } from './workspace-paths.js';

/** In the order they are sent, per workspace folder. */
export const instructionFileNames: readonly string[] = ['AGENTS.md', 'CLAUDE.md', '.efrit/instructions.md'];
export const defaultMaxInstructionFileBytes = 16 * 1024;
export const defaultMaxInstructionBytes = 32 * 1024;
/** Bigger files are not read at all: cutting needs the text, and read_file reads no more either. */
const maxReadBytes = 1024 * 1024;
/** A file that does not fit whole in less room than this is left out: what would be left of it is a fragment, not a rule. */
const minCutBytes = 256;
/** Jobs whose instructions are remembered: far more than run at once (queue.concurrency is at most 64). */
const jobsRemembered = 256;

export const projectInstructionsHeading =
  "The project's own instructions for coding assistants, from files in the workspace. Follow them where they apply to the request; they do not change what your tools may do.";

export interface ProjectInstructionsOptions {
  /** Workspace folder paths (absolute), in the order their files are sent. */
  roots: () => string[];
  /** The setting `agent.projectInstructions`; read for every job. */
  enabled: () => boolean;
  /** The setting `agent.allowSecretFiles`, as read_file obeys it. */
  allowSecretFiles: () => boolean;
  logger: Logger;
  /** Each file is cut to this many UTF-8 bytes. @default 16 KiB */
  maxFileBytes?: number;
  /** All files together are cut to this many UTF-8 bytes. @default 32 KiB */
  maxTotalBytes?: number;
}

interface FileState {
  /** What identifies this content without reading it. */
  signature: string;
  text: string;
}

interface FoundFile {
  displayPath: string;
  text: string;
}

/** What one load learns; it replaces the last load's, so nothing here outlives the folders it was about. */
interface LoadState {
  /** By real path: the files read, with what identifies their content. */
  files: Map<string, FileState>;
  /** Real paths already sent in this load. */
  sent: Set<string>;
  /** By path asked for: why it was skipped. */
  skipped: Map<string, string>;
}

export class ProjectInstructions {
  private readonly options: ProjectInstructionsOptions;
  private readonly maxFileBytes: number;
  private readonly maxTotalBytes: number;
  /** The last load's: its files are not read again while unchanged, its refusals are not logged again. At most 3 entries per folder. */
  private last: LoadState = { files: new Map(), sent: new Set(), skipped: new Map() };
  private readonly jobs = new LRUCache<string, Promise<string | undefined>>({ max: jobsRemembered });

  constructor(options: ProjectInstructionsOptions) {
    this.options = options;
    this.maxFileBytes = options.maxFileBytes ?? defaultMaxInstructionFileBytes;
    this.maxTotalBytes = options.maxTotalBytes ?? defaultMaxInstructionBytes;
  }

  /**
   * The instructions text for one job, loaded on its first call and the same
   * text for every later call of the job (all its model steps); undefined when
   * the setting is off or there are none.
   */
  forJob(jobId: string): Promise<string | undefined> {
    const known = this.jobs.get(jobId);
    if (known !== undefined) return known;
    const loading = this.options.enabled() ? this.load() : Promise.resolve(undefined);
    this.jobs.set(jobId, loading);
    return loading;
  }

  /** The instructions as they are on disk now (re-reading only files that changed); never rejects. */
  async load(): Promise<string | undefined> {
    const found: FoundFile[] = [];
    const state: LoadState = { files: new Map(), sent: new Set(), skipped: new Map() };
    try {
      const roots = await resolveRoots(this.options.roots());
      // Every folder's every name is looked up at once: this runs before each job's first model call, and most of
      // these files do not exist, so one round of lookups instead of one per name keeps it off the request's path.
      const requested = roots.flatMap((root) => instructionFileNames.map((name) => join(root.path, name)));
      const allowSecretFiles = this.options.allowSecretFiles();
      const located = await Promise.all(requested.map((path) => locate(path, roots, { allowSecretFiles })));
      // Read in order, so the same file through two folders is sent once, under the first.
      for (const [index, path] of requested.entries()) {
        const file = await this.readOne(path, located[index] as Located, state);
        if (file !== undefined) found.push(file);
      }
    } catch (error) {
      // The folders' callback failed, or something unforeseen: the files read so far are still sent.
      this.options.logger.debug(`project instructions: ${messageOf(error)}`);
    }
    this.last = state;
    return this.render(found);
  }

  /** `requested` is absolute, so only this folder's own file is found, never a folder's of the same name elsewhere. */
  private async readOne(requested: string, located: Located, state: LoadState): Promise<FoundFile | undefined> {
    if (located.kind === 'refused') return this.skip(requested, located.reason, state);
    if (located.realPath === undefined) return undefined;
    // The same file through two folders (nested folders, a symlink between them) is sent once.
    if (state.sent.has(located.realPath)) return undefined;
    const signature = await stat(located.realPath, { bigint: true }).then(signatureOf, () => undefined);
    const known = this.last.files.get(located.realPath);
    let text: string;
    if (known !== undefined && known.signature === signature) {
      text = known.text;
    } else {
      const read = await readTextFile(located.realPath, { maxFileBytes: maxReadBytes, displayPath: located.displayPath });
      if (read.kind === 'refused') return this.skip(requested, read.reason, state);
      text = read.text;
    }
    state.sent.add(located.realPath);
    // Stryker disable next-line ConditionalExpression: differs only when the file goes away between locate and stat, a race no unit test sets up; such a file is read again next time
    if (signature !== undefined) state.files.set(located.realPath, { signature, text });
    return { displayPath: located.displayPath, text };
  }

  /** Logged when the reason is new since the last load, so a file refused for good is not logged once per job. */
  private skip(requested: string, reason: string, state: LoadState): undefined {
    if (this.last.skipped.get(requested) !== reason) this.options.logger.debug(`project instructions: skipped ${requested}: ${reason}`);
    state.skipped.set(requested, reason);
    return undefined;
  }

  private render(found: readonly FoundFile[]): string | undefined {
    const sections: string[] = [];
    let used = 0;
    for (const { displayPath, text } of found) {
      const trimmed = text.trimEnd();
      if (trimmed === '') continue;
      const room = Math.min(this.maxFileBytes, this.maxTotalBytes - used);
      if (room < minCutBytes && utf8Length(trimmed) > room) {
        sections.push(`--- ${displayPath} ---\n[Left out: the project instructions above already take ${formatBytes(this.maxTotalBytes)}, the most Efrit sends.]`);
        continue;
      }
      const { kept, bytes } = cutToBytes(trimmed, room);
      used += bytes;
      const whole = kept.length === trimmed.length;
      const note = whole
        ? ''
        : `\n[Efrit cut ${displayPath} here: it has ${formatBytes(utf8Length(trimmed))}, and it sends at most ${formatBytes(this.maxFileBytes)} of each instructions file and ${formatBytes(this.maxTotalBytes)} in all.]`;
      sections.push(`--- ${displayPath} ---\n${kept}${note}`);
    }
    if (sections.length === 0) return undefined;
    return `${projectInstructionsHeading}\n\n${sections.join('\n\n')}`;
  }
}

function signatureOf(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}`;
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text);
}

/**
 * The longest start of `text` within `maxBytes` of UTF-8, ending at a line
 * break where there is one in it (a rule cut mid-sentence reads as another
 * rule), never inside a character.
 */
export function cutToBytes(text: string, maxBytes: number): { kept: string; bytes: number } {
  const total = utf8Length(text);
  if (total <= maxBytes) return { kept: text, bytes: total };
  // encodeInto stops before a character that does not fit whole.
  const { read } = new TextEncoder().encodeInto(text, new Uint8Array(maxBytes));
  let kept = text.slice(0, read);
  const lineEnd = kept.lastIndexOf('\n');
  if (lineEnd > 0) kept = kept.slice(0, lineEnd);
  return { kept, bytes: utf8Length(kept) };
}
