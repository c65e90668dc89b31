/**
 * Confinement: turning a path the model asked for into a file inside a
 * workspace folder, or a refusal it can act on.
 *
 * The decision is made on real paths (`fs.realpath`), never on the text of
 * the request alone: `..`, symlinks, absolute paths and letter case all end
 * up as one canonical path that either lies below a folder's real path or
 * does not. A refusal for "outside the workspace" reads the same whether the
 * file exists or not, so the tools cannot be used to probe the disk.
 *
 * Reading is decided again on the opened file, because a path can change
 * between the check and the open (a folder on it swapped for a symlink by
 * another process): a file is read only if the kernel opened exactly the
 * checked canonical path, and only if it has no other name (a hard link's
 * other names may be outside the workspace, or a secret file, and nothing
 * says where they are). Opened with O_NOFOLLOW, and O_NONBLOCK so a FIFO
 * cannot hang the server.
 *
 * Everything here is plain `node:fs`, so it works the same in a worker thread.
 */
import { constants } from 'node:fs';
import type { BigIntStats, Dirent } from 'node:fs';
import { lstat, open, readdir, readlink, realpath, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { looksSecret } from './workspace-secrets.js';

export interface WorkspaceRoot {
  /** The folder as configured (resolved), which may go through a symlink. */
  readonly path: string;
  /** The folder's canonical path; containment is decided against it. */
  readonly realPath: string;
  /** Prefixes displayed paths when there are several folders (VS Code's `folder/path`). */
  readonly name: string;
}

export type Located =
  | {
      readonly kind: 'inside';
      readonly root: WorkspaceRoot;
      /** The requested path, resolved but with symlinks kept: how an editor names the file. */
      readonly lexicalPath: string;
      /** Undefined when nothing exists there on disk (an unsaved new file may still be open). */
      readonly realPath: string | undefined;
      readonly displayPath: string;
    }
  | { readonly kind: 'refused'; readonly reason: string };

export interface LocateOptions {
  allowSecretFiles: boolean;
}

/** The configured folders that exist, canonical and without duplicates. */
export async function resolveRoots(configured: readonly string[]): Promise<WorkspaceRoot[]> {
  const roots: WorkspaceRoot[] = [];
  for (const entry of configured) {
    const folder = toFilePath(entry);
    // A relative folder would mean "relative to the server's cwd", which is no workspace.
    if (folder === undefined || !isAbsolute(folder)) continue;
    const path = resolve(folder);
    // Canonical, and a folder: a file or a dangling link is no workspace.
    const realPath = await realpath(path)
      .then(async (real) => ((await stat(real)).isDirectory() ? real : undefined))
      .catch(() => undefined);
    if (realPath === undefined || roots.some((root) => root.realPath === realPath)) continue;
    roots.push({ path, realPath, name: basename(realPath) || realPath });
  }
  return roots;
}

/**
 * Finds the file `requested` names (relative to a folder, absolute, or a
 * `file:` URI) and checks it is inside the workspace and not secret-looking.
 */
export async function locate(requested: string, roots: readonly WorkspaceRoot[], options: LocateOptions): Promise<Located> {
  const text = requested.trim();
  if (text === '') return refused('The path is empty. Give a path relative to the workspace folder, e.g. "src/index.ts".');
  if (text.includes('\0')) return refused('The path contains a NUL character.');
  // `~` is a shell convenience, not a path; expanding it would point at the
  // home directory, which is exactly where keys live.
  if (text.startsWith('~')) return refused(outsideMessage(text, roots));
  if (roots.length === 0) return refused('No workspace folder is open, so no files can be read from disk. Use list_documents and read_document for the open documents.');
  const path = toFilePath(text);
  if (path === undefined) return refused(`"${text}" is not a file path or a file: URI.`);

  let missingInside: (Located & { kind: 'inside' }) | undefined;
  for (const candidate of candidatePaths(path, roots)) {
    const realPath = await realpathOrUndefined(candidate);
    if (realPath !== undefined) {
      const root = containingRoot(realPath, roots, (r) => r.realPath);
      if (root === undefined) continue;
      const located = secretCheck({ kind: 'inside', root, lexicalPath: candidate, realPath, displayPath: displayPathIn(root, candidate, realPath, roots) }, options);
      return located.kind === 'inside' ? hardLinkCheck(located, realPath) : located;
    }
    const root = containingRoot(candidate, roots, (r) => r.realPath) ?? containingRoot(candidate, roots, (r) => r.path);
    if (root !== undefined && missingInside === undefined) {
      missingInside = { kind: 'inside', root, lexicalPath: candidate, realPath: undefined, displayPath: displayPathIn(root, candidate, undefined, roots) };
    }
  }
  if (missingInside !== undefined) return secretCheck(missingInside, options);
  return refused(outsideMessage(text, roots));
}

export function relativeInside(rootPath: string, path: string): string | undefined {
  const rel = relative(rootPath, path);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
  return rel;
}

export function containingRoot(path: string, roots: readonly WorkspaceRoot[], key: (root: WorkspaceRoot) => string): WorkspaceRoot | undefined {
  let best: WorkspaceRoot | undefined;
  for (const root of roots) {
    if (relativeInside(key(root), path) === undefined) continue;
    // The innermost folder names the file when folders are nested.
    if (best === undefined || key(root).length > key(best).length) best = root;
  }
  return best;
}

export function toPosix(path: string): string {
  // Stryker disable next-line all: equivalent where the tests run (POSIX, sep is '/'); the other branch runs on Windows
  return sep === '/' ? path : path.split(sep).join('/');
}

export function toFilePath(pathOrUri: string): string | undefined {
  if (!pathOrUri.startsWith('file:')) return pathOrUri;
  try {
    // Stryker disable BlockStatement: equivalent, an empty catch also answers undefined
    return fileURLToPath(pathOrUri);
  } catch {
    // Stryker restore BlockStatement
    return undefined;
  }
}

export async function realpathOrUndefined(path: string): Promise<string | undefined> {
  return realpath(path).catch(() => undefined);
}

export type ReadRefusalCause = 'directory' | 'notRegularFile' | 'tooBig' | 'binary' | 'hardLinked' | 'pathChanged' | 'unreadable';

export type FileRead =
  | { readonly kind: 'text'; readonly text: string; readonly bytes: number }
  | { readonly kind: 'refused'; readonly reason: string; readonly cause: ReadRefusalCause };

export interface ReadLimits {
  maxFileBytes: number;
  /** Names the file in refusals. */
  displayPath: string;
}

/**
 * Reads the file at `realPath` as UTF-8 text, refusing directories,
 * binaries, big files and hard-linked files.
 *
 * `realPath` is the canonical path the caller checked (inside a workspace
 * folder, not secret-looking). The file is read only if it is still the one
 * at exactly that path once opened, so a check made earlier on the path
 * cannot be raced: a folder on the way swapped for a symlink makes the kernel
 * open another path, and that is refused before anything about the file is
 * looked at.
 */
export async function readTextFile(realPath: string, limits: ReadLimits): Promise<FileRead> {
  const { displayPath, maxFileBytes } = limits;
  let handle: FileHandle | undefined;
  try {
    // Looked at before opening, without following a link: opening a device
    // can have side effects, and a directory is refused with a hint.
    const before = await lstat(realPath);
    if (before.isDirectory()) {
      return refusedRead(
        'directory',
        `${displayPath} is a directory, not a file. To find files in it, use search_workspace with glob "${displayPath.replace(/\/$/, '')}/**"; list_documents shows the files open in the editor.`,
      );
    }
    if (before.isSymbolicLink()) return pathChangedRead(displayPath);
    if (!before.isFile()) return refusedRead('notRegularFile', `${displayPath} is not a regular file (a device, socket or pipe), so it cannot be read.`);
    // Never through a symlink in the last component, never waiting (a FIFO swapped in would block until a writer came),
    // never becoming the controlling terminal; a flag the system lacks counts as 0.
    handle = await open(realPath, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0));
    const opened = await handle.stat({ bigint: true });
    // First, so nothing about a file outside (not even its size) is told.
    if (!(await isOpenedAt(handle, opened, realPath))) return pathChangedRead(displayPath);
    if (!opened.isFile()) return refusedRead('notRegularFile', `${displayPath} is not a regular file, so it cannot be read.`);
    if (opened.nlink > 1n) return refusedRead('hardLinked', hardLinkMessage(displayPath, opened.nlink));
    const size = Number(opened.size);
    if (size > maxFileBytes) return refusedRead('tooBig', tooBigMessage(displayPath, size, maxFileBytes));
    const buffer = Buffer.alloc(Math.min(size, maxFileBytes) + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    // It grew past the limit while being read.
    if (length > maxFileBytes) return refusedRead('tooBig', tooBigMessage(displayPath, length, maxFileBytes));
    const bytes = buffer.subarray(0, length);
    if (isBinary(bytes)) return refusedRead('binary', `${displayPath} is a binary file (it contains NUL bytes), so it is not shown as text.`);
    return { kind: 'text', text: new TextDecoder('utf-8').decode(bytes), bytes: length };
  } catch (error) {
    return refusedRead('unreadable', `${displayPath} could not be read: ${describeFsError(error)}.`);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Lists the folder at the canonical path `realPath`, or answers undefined if
 * the folder opened is not the one at exactly that path (a folder on the way
 * was swapped for a symlink) or cannot be read. A walk that lists through
 * this never sees the names in a folder outside the workspace.
 */
export async function listDirectoryExactly(realPath: string): Promise<Dirent[] | undefined> {
  let handle: FileHandle | undefined;
  try {
    // O_DIRECTORY fails on anything but a folder, so a device swapped in is never opened.
    handle = await open(
      realPath,
      constants.O_RDONLY |
        (constants.O_DIRECTORY ?? 0) |
        // Stryker disable next-line LogicalOperator: equivalent, a final symlink followed opens another path, which the check of the opened folder refuses (the kernel's path, or the lstat's inode)
        (constants.O_NOFOLLOW ?? 0) |
        // Stryker disable next-line LogicalOperator: equivalent, O_DIRECTORY fails on a FIFO before the open could wait for a writer
        (constants.O_NONBLOCK ?? 0),
    );
    const opened = await handle.stat({ bigint: true });
    if (!opened.isDirectory()) return undefined;
    const kernelPath = await kernelPathOf(handle);
    if (kernelPath !== undefined) {
      if (kernelPath !== realPath) return undefined;
      // Listed through the open descriptor, so what is listed is what was checked.
      return await readdir(procFdPath(handle), { withFileTypes: true });
    }
    const entries = await readdir(realPath, { withFileTypes: true });
    // Stryker disable BlockStatement: equivalent, an empty catch also answers undefined
    return (await stillAt(realPath, opened)) ? entries : undefined;
  } catch {
    // Stryker restore BlockStatement
    return undefined;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Git's test: a NUL byte in the first 8 KB means binary. */
export function isBinary(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 8192).includes(0);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * Whether the open file is the one at exactly `realPath`. On Linux the kernel
 * says which path it opened (`/proc/self/fd`), which no later swap changes.
 * Elsewhere the path is resolved again around a look at what is there now,
 * and that must be the same file: weaker, since a swap that lasts only
 * during that look is not seen.
 */
async function isOpenedAt(handle: FileHandle, opened: BigIntStats, realPath: string): Promise<boolean> {
  const kernelPath = await kernelPathOf(handle);
  if (kernelPath !== undefined) return kernelPath === realPath;
  return stillAt(realPath, opened);
}

/** The path the kernel opened for `handle`, or undefined where the system does not tell (no procfs). */
async function kernelPathOf(handle: FileHandle): Promise<string | undefined> {
  try {
    return await readlink(procFdPath(handle));
  } catch (error) {
    // Stryker disable next-line OptionalChaining: equivalent, a rejection with null ends as an unexpected error either way (rethrown, or the TypeError)
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

function procFdPath(handle: FileHandle): string {
  return `/proc/self/fd/${handle.fd}`;
}

async function stillAt(realPath: string, opened: BigIntStats): Promise<boolean> {
  if ((await realpathOrUndefined(realPath)) !== realPath) return false;
  const now = await lstat(realPath, { bigint: true }).catch(() => undefined);
  if (now === undefined || now.dev !== opened.dev || now.ino !== opened.ino) return false;
  return (await realpathOrUndefined(realPath)) === realPath;
}

function hardLinkMessage(displayPath: string, names: number | bigint): string {
  return `${displayPath} is a hard link (the file has ${names} names on disk), and its other names may be outside the workspace or secret files, so it is not read. If the user needs it read, they can replace it with a copy.`;
}

function pathChangedRead(displayPath: string): FileRead {
  return refusedRead('pathChanged', `${displayPath} changed while it was being opened (a folder on its path was replaced, e.g. by a symlink), so it was not read. Try again if it should be there.`);
}

function tooBigMessage(displayPath: string, size: number, maxFileBytes: number): string {
  return `${displayPath} is too big to read (${formatBytes(size)}; the limit is ${formatBytes(maxFileBytes)}). Use search_workspace to find what you need in other files, or ask the user to open the relevant part in the editor and use read_document.`;
}

function describeFsError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOENT') return 'it no longer exists';
  if (code === 'ELOOP') return 'it is a symlink';
  return typeof code === 'string' ? code : 'an unexpected error';
}

/**
 * Where a request might point: a relative path is tried in each folder, and
 * with several folders `name/rest` also names the folder called `name` (how
 * `displayPathOf` shows them); an absolute path resolves to itself in every
 * folder, so it is its only candidate.
 */
function candidatePaths(path: string, roots: readonly WorkspaceRoot[]): string[] {
  const candidates: string[] = [];
  if (roots.length > 1) {
    const normalized = path.replace(/\\/g, '/');
    const head = normalized.split('/', 1)[0] as string;
    for (const root of roots) {
      if (root.name === head) candidates.push(resolve(join(root.path, normalized.slice(head.length + 1))));
    }
  }
  for (const root of roots) candidates.push(resolve(root.path, path));
  return [...new Set(candidates)];
}

function displayPathIn(root: WorkspaceRoot, lexicalPath: string, realPath: string | undefined, roots: readonly WorkspaceRoot[]): string {
  const rel =
    relativeInside(root.path, lexicalPath) ??
    relativeInside(root.realPath, lexicalPath) ??
    relativeInside(root.realPath, realPath ?? lexicalPath) ??
    basename(lexicalPath);
  const shown = toPosix(rel) || '.';
  return roots.length > 1 ? `${root.name}/${shown}` : shown;
}

function secretCheck(located: Located & { kind: 'inside' }, options: LocateOptions): Located {
  if (options.allowSecretFiles) return located;
  // Both names count: a harmless-looking symlink to `.env` is still `.env`.
  if (looksSecret(located.lexicalPath) || (located.realPath !== undefined && looksSecret(located.realPath))) {
    return refused(
      `${located.displayPath} looks like it holds secrets (keys, credentials or environment files), so it is not read. If the user needs it read, they can enable the setting agent.allowSecretFiles.`,
    );
  }
  return located;
}

/** An early, clear refusal; the read decides again on the open file, in case a link appears in between. */
async function hardLinkCheck(located: Located & { kind: 'inside' }, realPath: string): Promise<Located> {
  const stats = await lstat(realPath).catch(() => undefined);
  if (stats === undefined || !stats.isFile() || stats.nlink <= 1) return located;
  return refused(hardLinkMessage(located.displayPath, stats.nlink));
}

function outsideMessage(requested: string, roots: readonly WorkspaceRoot[]): string {
  const folders = roots.map((root) => root.path).join(', ');
  return `"${requested}" is outside the workspace, so it cannot be read. Only files inside the workspace folder${roots.length === 1 ? '' : 's'} (${folders || 'none open'}) can be read; give paths relative to ${roots.length === 1 ? 'it' : 'one of them'}, e.g. "src/index.ts".`;
}

function refusedRead(cause: ReadRefusalCause, reason: string): FileRead {
  return { kind: 'refused', reason, cause };
}

function refused(reason: string): { kind: 'refused'; reason: string } {
  return { kind: 'refused', reason };
}
