/**
 * Runs a command on a shadow of the workspace: the workspace as it would be
 * after a proposed change, in which whatever the command writes, deletes or
 * renames never reaches the user's files.
 *
 * The mechanism (Linux): the command runs in private user, mount and PID
 * namespaces (`unshare`, no privileges needed). In there, each workspace
 * folder gets an overlay mounted *over its own path*: the folder itself is
 * the read-only lower layer, and the upper layer is a fresh tmpfs holding
 * only the files the change touches (written ones, and whiteouts for deleted
 * ones). Nothing is copied for unchanged files, so preparing the shadow of a
 * 200 MB workspace costs what the change costs.
 *
 * Why the user's files cannot be written from inside:
 * - the folder's path (the only way in, cwd included) now leads to the
 *   overlay, whose writes land in the tmpfs, which disappears with the
 *   namespace when the command ends;
 * - the command does not hold the mounting privileges: after mounting, it is
 *   started in a second, nested user namespace as the server's own uid, so it
 *   cannot unmount the overlay (the mounts belong to the outer namespace, and
 *   a namespace made inside it gets them locked);
 * - a fresh PID namespace with its own /proc hides every other process, so
 *   `/proc/<pid>/root` or `/proc/<pid>/cwd` of the server (same uid) cannot
 *   lead back to the real folder;
 * - killing the namespace's first process (on timeout or cancel) kills every
 *   process the command started, daemons included.
 * What it does not cover: other names for the same files that the user made
 * outside the workspace (a bind mount of it elsewhere, hard links from
 * outside), and processes outside the shadow that the command asks to write
 * (a daemon over a socket). Files elsewhere on the machine (caches in $HOME)
 * are the command's as they would be when the user runs it.
 *
 * Where this is not available (not Linux, user namespaces disabled, no
 * unprivileged overlay), nothing runs: a plain copy of the workspace would not
 * stop a command from writing the real files through their absolute paths.
 */
import { spawn } from 'node:child_process';
import { copyFile, lstat, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CheckOutput } from './check-output.js';

/** The scratch layer lives in memory and is bounded: a command that writes more gets "no space left", not the user's disk filled. */
export const scratchLayerBytes = 1024 * 1024 * 1024;
/** After a kill, how long to wait for the process to be reaped before giving up on it. */
const reapGraceMs = 5_000;

/** One file of the shadow that differs from the workspace, by its path relative to its folder (real paths, `/`-separated). */
export type ShadowChange =
  | { kind: 'write'; folder: number; path: string; text: string }
  | { kind: 'copy'; folder: number; path: string; from: string }
  | { kind: 'remove'; folder: number; path: string };

export interface ShadowSpec {
  /** Workspace folders, real paths, none inside another. */
  folders: string[];
  changes: ShadowChange[];
}

export interface PreparedShadow {
  readonly spec: ShadowSpec;
  /** The staging directory on disk (changed files only). */
  readonly dir: string;
  /** Bytes staged on disk for the change. */
  readonly stagedBytes: number;
  dispose(): Promise<void>;
}

export type Isolation = { available: true } | { available: false; reason: string };

export interface ShadowRun {
  argv: readonly string[];
  /** Where the command starts: a real path inside one of the folders (the shadow's view of it). */
  cwd: string;
  timeoutMs: number;
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
}

export type ShadowOutcome =
  | { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null; durationMs: number; output: CheckOutput }
  | { kind: 'timedOut'; durationMs: number; output: CheckOutput }
  | { kind: 'cancelled'; durationMs: number; output: CheckOutput }
  /** The shadow could not be set up; the command never started. */
  | { kind: 'setupFailed'; reason: string };

/** Characters the overlay's mount options cannot carry in a path without an escaping `mount(8)` does not do for us. */
const unsafeForMountOptions = /[,:\\\n]/;

/**
 * The script run as root of the outer user namespace: mounts the scratch
 * tmpfs and one overlay per folder over the folder's own path, then starts
 * the command as the server's uid in a nested namespace. Every path and
 * argument arrives as a positional parameter, never as shell text.
 * Arguments: scratch staging cwd uid gid folder… -- argv…
 */
const namespaceScript = `set -eu
scratch=$1; staging=$2; cwd=$3; uid=$4; gid=$5; shift 5
mount -t tmpfs -o size=${scratchLayerBytes},mode=0700 efrit-shadow "$scratch"
i=0
while [ "$1" != -- ]; do
  mkdir "$scratch/$i" "$scratch/$i/upper" "$scratch/$i/work"
  if [ -d "$staging/$i" ]; then cp -a "$staging/$i/." "$scratch/$i/upper/"; fi
  mount -t overlay efrit-shadow -o "userxattr,lowerdir=$1,upperdir=$scratch/$i/upper,workdir=$scratch/$i/work" "$1"
  i=$((i + 1)); shift
done
shift
cd "$cwd"
printf ready >&3
exec 3>&-
exec unshare --user --map-user="$uid" --map-group="$gid" -- "$@"
`;

/** Stages the changed files on disk: `<dir>/files/<folder>/<path>`; removals become overlay whiteouts (0/0 character devices). */
export async function prepareShadow(spec: ShadowSpec): Promise<PreparedShadow> {
  const dir = await mkdtemp(join(tmpdir(), 'efrit-shadow-'));
  const dispose = () => rm(dir, { recursive: true, force: true }).catch(() => undefined);
  try {
    await mkdir(join(dir, 'scratch'));
    let stagedBytes = 0;
    const whiteouts: string[] = [];
    for (const change of spec.changes) {
      const target = join(dir, 'files', String(change.folder), ...change.path.split('/'));
      await mkdir(dirname(target), { recursive: true });
      if (change.kind === 'write') {
        await writeFile(target, change.text);
        stagedBytes += Buffer.byteLength(change.text);
      } else if (change.kind === 'copy') {
        await copyFile(change.from, target);
        stagedBytes += (await stat(target)).size;
      } else {
        whiteouts.push(target);
      }
    }
    if (whiteouts.length > 0) await makeWhiteouts(whiteouts);
    return { spec, dir, stagedBytes, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

function makeWhiteouts(paths: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', 'for p; do mknod "$p" c 0 0 || exit 1; done', 'efrit-whiteouts', ...paths], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = `${stderr}${chunk.toString()}`.slice(-2_000);
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`could not mark deleted files in the shadow: ${stderr.trim() || `exit code ${String(code)}`}`))));
  });
}

/** Runs `run.argv` in the shadow. Never throws for what the command does; a shadow that cannot be set up is `setupFailed`. */
export function runInShadow(shadow: PreparedShadow, run: ShadowRun): Promise<ShadowOutcome> {
  const { folders } = shadow.spec;
  const unsafe = [...folders, run.cwd].find((path) => unsafeForMountOptions.test(path));
  if (unsafe !== undefined) return Promise.resolve({ kind: 'setupFailed', reason: `the folder path ${JSON.stringify(unsafe)} has a comma, colon or backslash, which an overlay mount cannot take` });
  // An overlay over / would hide every other mount (/proc, /dev, the scratch layer itself).
  if (folders.includes('/')) return Promise.resolve({ kind: 'setupFailed', reason: 'the workspace folder is the root of the file system, which cannot be shadowed; open a project folder instead' });
  if (run.signal.aborted) return Promise.resolve({ kind: 'cancelled', durationMs: 0, output: new CheckOutput() });
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const args = [
    '--user', '--map-root-user', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child', '--mount-proc',
    '--', '/bin/sh', '-c', namespaceScript, 'efrit-shadow',
    join(shadow.dir, 'scratch'), join(shadow.dir, 'files'), run.cwd, String(uid), String(gid), ...folders, '--', ...run.argv,
  ];
  const started = performance.now();
  const output = new CheckOutput();
  return new Promise((resolve) => {
    const child = spawn('unshare', args, { cwd: '/', env: run.env, detached: true, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    let ready = false;
    let setupErrors = '';
    let ended: 'timedOut' | 'cancelled' | undefined;
    const kill = (why: 'timedOut' | 'cancelled'): void => {
      ended ??= why;
      // The whole process group: unshare and the namespace's first process; that one's death takes every other process in the namespace.
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      reaper ??= setTimeout(() => finish(null, 'SIGKILL'), reapGraceMs);
    };
    let reaper: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => kill('timedOut'), run.timeoutMs);
    const onAbort = (): void => kill('cancelled');
    run.signal.addEventListener('abort', onAbort, { once: true });
    const readyPipe = child.stdio[3] as NodeJS.ReadableStream;
    readyPipe.on('data', () => {
      ready = true;
    });
    readyPipe.on('error', () => undefined);
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => {
      if (ready) output.push(chunk);
      else setupErrors = `${setupErrors}${chunk.toString()}`.slice(-2_000);
    });
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (reaper !== undefined) clearTimeout(reaper);
      run.signal.removeEventListener('abort', onAbort);
      output.end();
      const durationMs = performance.now() - started;
      if (ended !== undefined) resolve({ kind: ended, durationMs, output });
      else if (!ready) resolve({ kind: 'setupFailed', reason: setupErrors.trim().split('\n').slice(-3).join(' ') || `unshare ended with ${signal ?? `exit code ${String(code)}`}` });
      else resolve({ kind: 'exited', code, signal, durationMs, output });
    };
    child.on('error', (error) => {
      setupErrors = error.message;
      finish(null, null);
    });
    child.on('close', finish);
  });
}

let probed: Promise<Isolation> | undefined;

/**
 * Whether this machine can run commands in a shadow: tried once per process
 * on a scratch folder (a write, a delete and a read through the overlay), and
 * the answer kept.
 */
export function isolation(): Promise<Isolation> {
  probed ??= probe();
  return probed;
}

async function probe(): Promise<Isolation> {
  if (process.platform !== 'linux') return { available: false, reason: `running a check in an isolated view of the workspace needs Linux namespaces, and this is ${process.platform}` };
  const folder = await mkdtemp(join(tmpdir(), 'efrit-shadow-probe-'));
  try {
    await writeFile(join(folder, 'kept'), 'kept');
    await writeFile(join(folder, 'removed'), 'removed');
    const shadow = await prepareShadow({ folders: [folder], changes: [{ kind: 'write', folder: 0, path: 'new/added', text: 'added' }, { kind: 'remove', folder: 0, path: 'removed' }] });
    try {
      const script = 'test -f kept && test -f new/added && test ! -e removed && echo written > kept && rm kept';
      const outcome = await runInShadow(shadow, { argv: ['/bin/sh', '-c', script], cwd: folder, timeoutMs: 10_000, signal: new AbortController().signal, env: process.env });
      const untouched = (await readdir(folder)).sort().join(',') === 'kept,removed' && (await lstat(join(folder, 'kept'))).size === 4;
      if (outcome.kind === 'exited' && outcome.code === 0 && untouched) return { available: true };
      const why = outcome.kind === 'setupFailed' ? outcome.reason : outcome.kind === 'exited' ? outcome.output.render(300) : outcome.kind;
      return { available: false, reason: `an overlay in a private user namespace (unshare) did not work here: ${why}` };
    } finally {
      await shadow.dispose();
    }
  } catch (error) {
    return { available: false, reason: `an overlay in a private user namespace (unshare) could not be tried: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    await rm(folder, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** `path` relative to `folder`, `/`-separated, or undefined when it is not inside. */
export function insideFolder(folder: string, path: string): string | undefined {
  if (path === folder) return '';
  const prefix = folder.endsWith(sep) ? folder : `${folder}${sep}`;
  return path.startsWith(prefix) ? path.slice(prefix.length).split(sep).join('/') : undefined;
}
