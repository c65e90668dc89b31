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
 * Reading is the only thing done here, and only after the checks: opened by
 * its real path with O_NOFOLLOW (a symlink swapped in after the check is not
 * followed) and O_NONBLOCK (a FIFO cannot hang the server).
 */
import { constants } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
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
    const realPath = await realpathOrUndefined(path);
    if (realPath === undefined || roots.some((root) => root.realPath === realPath)) continue;
    const stats = await stat(realPath).catch(() => undefined);
    if (stats === undefined || !stats.isDirectory()) continue;
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

  let missingInside: Located | undefined;
  for (const candidate of candidatePaths(path, roots)) {
    const realPath = await realpathOrUndefined(candidate);
    if (realPath !== undefined) {
      const root = containingRoot(realPath, roots, (r) => r.realPath);
      if (root === undefined) continue;
      return secretCheck({ kind: 'inside', root, lexicalPath: candidate, realPath, displayPath: displayPathIn(root, candidate, realPath, roots) }, options);
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
  return sep === '/' ? path : path.split(sep).join('/');
}

export function toFilePath(pathOrUri: string): string | undefined {
  if (!pathOrUri.startsWith('file:')) return pathOrUri;
  try {
    return fileURLToPath(pathOrUri);
  } catch {
    return undefined;
  }
}

export async function realpathOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch {
    return undefined;
  }
}

export type ReadRefusalCause = 'directory' | 'notRegularFile' | 'tooBig' | 'binary' | 'unreadable';

export type FileRead =
  | { readonly kind: 'text'; readonly text: string; readonly bytes: number }
  | { readonly kind: 'refused'; readonly reason: string; readonly cause: ReadRefusalCause };

export interface ReadLimits {
  maxFileBytes: number;
  /** Names the file in refusals. */
  displayPath: string;
}

/** Reads a located file (by its real path) as UTF-8 text, refusing directories, binaries and big files. */
export async function readTextFile(realPath: string, limits: ReadLimits): Promise<FileRead> {
  const { displayPath, maxFileBytes } = limits;
  let handle;
  try {
    const stats = await stat(realPath);
    if (stats.isDirectory()) {
      return refusedRead(
        'directory',
        `${displayPath} is a directory, not a file. To find files in it, use search_workspace with glob "${displayPath.replace(/\/$/, '')}/**"; list_documents shows the files open in the editor.`,
      );
    }
    if (!stats.isFile()) return refusedRead('notRegularFile', `${displayPath} is not a regular file (a device, socket or pipe), so it cannot be read.`);
    if (stats.size > maxFileBytes) return refusedRead('tooBig', tooBigMessage(displayPath, stats.size, maxFileBytes));
    handle = await open(realPath, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
    // Checked again on the open file: the path may have been swapped since.
    const opened = await handle.stat();
    if (!opened.isFile()) return refusedRead('notRegularFile', `${displayPath} is not a regular file, so it cannot be read.`);
    const buffer = Buffer.alloc(Math.min(opened.size, maxFileBytes) + 1);
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

/** Git's test: a NUL byte in the first 8 KB means binary. */
export function isBinary(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 8192).includes(0);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
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
 * Where a request might point: an absolute path is itself; a relative one is
 * tried in each folder, and with several folders `name/rest` also names the
 * folder called `name` (how `displayPathOf` shows them).
 */
function candidatePaths(path: string, roots: readonly WorkspaceRoot[]): string[] {
  if (isAbsolute(path)) return [resolve(path)];
  const candidates: string[] = [];
  if (roots.length > 1) {
    const normalized = path.replace(/\\/g, '/');
    const slash = normalized.indexOf('/');
    const head = slash < 0 ? normalized : normalized.slice(0, slash);
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
    (realPath === undefined ? undefined : relativeInside(root.realPath, realPath)) ??
    basename(lexicalPath);
  const shown = toPosix(rel) || '.';
  return roots.length > 1 ? `${root.name}/${shown}` : shown;
}

function secretCheck(located: Located, options: LocateOptions): Located {
  if (located.kind !== 'inside' || options.allowSecretFiles) return located;
  // Both names count: a harmless-looking symlink to `.env` is still `.env`.
  if (looksSecret(located.lexicalPath) || (located.realPath !== undefined && looksSecret(located.realPath))) {
    return refused(
      `${located.displayPath} looks like it holds secrets (keys, credentials or environment files), so it is not read. If the user needs it read, they can enable the setting agent.allowSecretFiles.`,
    );
  }
  return located;
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
