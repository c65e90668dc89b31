/**
 * The shadow a check runs in, with real namespaces and a real overlay (no
 * stand-in): the command sees the proposed files, and whatever it does to the
 * workspace leaves the user's folder byte-identical.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { treeHash } from '../support/tree-hash.js';
import { isolation, prepareShadow, runInShadow, type PreparedShadow, type ShadowRun } from '../../server/src/agent/shadow-workspace.js';

let workspace: string;
let outside: string;
let shadow: PreparedShadow | undefined;
beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'efrit-shadow-ws-'));
  outside = await mkdtemp(join(tmpdir(), 'efrit-shadow-outside-'));
  await mkdir(join(workspace, 'src', 'util'), { recursive: true });
  await mkdir(join(workspace, 'test'));
  await writeFile(join(workspace, 'package.json'), '{ "name": "shop", "type": "module" }\n');
  await writeFile(join(workspace, 'src', 'cart.js'), 'export const total = (prices) => prices.reduce((a, b) => a + b, 1);\n');
  await writeFile(join(workspace, 'src', 'util', 'money.js'), 'export const cents = (n) => Math.round(n * 100);\n');
  await writeFile(join(workspace, 'test', 'old.test.js'), '// replaced by cart.test.js\n');
  await symlink('src/cart.js', join(workspace, 'main.js'));
});
afterEach(async () => {
  await shadow?.dispose();
  shadow = undefined;
  await rm(workspace, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

function run(argv: string[], extra: Partial<ShadowRun> = {}): ReturnType<typeof runInShadow> {
  return runInShadow(shadow as PreparedShadow, { argv, cwd: workspace, timeoutMs: 30_000, signal: new AbortController().signal, env: process.env, ...extra });
}

describe('a shadow of the workspace', () => {
  it('is available on this machine (Linux with unprivileged user namespaces and overlay)', async () => {
    expect(await isolation()).toEqual({ available: true });
  });

  it('shows the command the proposed files: changed, created and deleted, the rest as it is', async () => {
    shadow = await prepareShadow({
      folders: [workspace],
      changes: [
        { kind: 'write', folder: 0, path: 'src/cart.js', text: 'export const total = (prices) => prices.reduce((a, b) => a + b, 0);\n' },
        { kind: 'write', folder: 0, path: 'test/cart.test.js', text: '// new test\n' },
        { kind: 'remove', folder: 0, path: 'test/old.test.js' },
      ],
    });
    const outcome = await run(['/bin/sh', '-c', 'pwd; find . | sort; cat main.js']);
    expect(outcome).toMatchObject({ kind: 'exited', code: 0 });
    const printed = outcome.kind === 'exited' ? outcome.output.render(10_000) : '';
    expect(printed).toBe(
      [
        'Output:',
        workspace,
        '.',
        './main.js',
        './package.json',
        './src',
        './src/cart.js',
        './src/util',
        './src/util/money.js',
        './test',
        './test/cart.test.js',
        // Through the symlink, the proposed text.
        'export const total = (prices) => prices.reduce((a, b) => a + b, 0);',
      ].join('\n'),
    );
  });

  it('leaves the workspace byte-identical when the command deletes, rewrites, renames and creates files, by relative and absolute path', async () => {
    const before = await treeHash(workspace);
    shadow = await prepareShadow({ folders: [workspace], changes: [{ kind: 'write', folder: 0, path: 'src/cart.js', text: 'proposed\n' }] });
    const vandal = [
      'set -e',
      'echo rewritten > package.json',
      `echo rewritten > "${workspace}/src/util/money.js"`,
      'mv test/old.test.js test/moved.js',
      'rm -rf src',
      'mkdir src && echo new > src/new.js',
      'rm -f main.js && ln -s /etc/passwd main.js',
      'chmod 600 package.json',
      `rm -rf "${workspace}/test"`,
      'echo done',
    ].join('\n');
    const outcome = await run(['/bin/sh', '-c', vandal]);
    expect(outcome.kind === 'exited' ? [outcome.code, outcome.output.render(2_000)] : outcome).toEqual([0, 'Output:\ndone']);
    expect(await treeHash(workspace)).toBe(before);
    expect(await readFile(join(workspace, 'src', 'cart.js'), 'utf8')).toContain('reduce');
  });

  it('cannot unmount the overlay to reach the real folder, and sees only its own processes (no /proc/<pid>/root of the server to follow)', async () => {
    const before = await treeHash(workspace);
    shadow = await prepareShadow({ folders: [workspace], changes: [] });
    const escape = [
      // Lazily: the command's own cwd keeps the overlay busy otherwise.
      `umount -l "${workspace}" 2>/dev/null && echo unmounted || echo umount refused`,
      `echo written > "${workspace}/package.json"`,
      // Only the namespace's own processes are visible: the server's /proc/<pid>/root is not there to follow.
      `ls /proc | grep -c '^[0-9]' | sed 's/^/processes: /'`,
      `echo written > "/proc/${process.pid}/root${workspace}/package.json" 2>/dev/null && echo escaped || echo no way out`,
    ].join('\n');
    const outcome = await run(['/bin/sh', '-c', escape]);
    const printed = outcome.kind === 'exited' ? outcome.output.render(2_000) : outcome.kind;
    expect(printed).toContain('umount refused');
    expect(Number(/processes: (\d+)/.exec(printed)?.[1])).toBeLessThanOrEqual(8);
    expect(printed).toContain('no way out');
    expect(printed).not.toContain('escaped');
    expect(await treeHash(workspace)).toBe(before);
  });

  it('gives the command no standard input', async () => {
    shadow = await prepareShadow({ folders: [workspace], changes: [] });
    const outcome = await run(['/bin/sh', '-c', 'if read line; then echo "read: $line"; else echo "no input"; fi']);
    expect(outcome.kind === 'exited' ? outcome.output.render(200) : outcome.kind).toBe('Output:\nno input');
  });

  it('stops a command that runs past its timeout, with everything it started', async () => {
    shadow = await prepareShadow({ folders: [workspace], changes: [] });
    const outcome = await run(['/bin/sh', '-c', 'sleep 600 & echo started; sleep 600'], { timeoutMs: 300 });
    expect(outcome.kind).toBe('timedOut');
    expect(outcome.kind === 'timedOut' ? outcome.output.render(200) : '').toBe('Output:\nstarted');
  });

  it('stops the command when the job is cancelled, once it has started', async () => {
    shadow = await prepareShadow({ folders: [workspace], changes: [] });
    const cancel = new AbortController();
    const marker = join(outside, 'started');
    const outcome = run(['/bin/sh', '-c', `echo > "${marker}"; sleep 600`], { signal: cancel.signal });
    await expect.poll(async () => (await readdir(outside)).includes('started'), { timeout: 20_000 }).toBe(true);
    cancel.abort();
    expect((await outcome).kind).toBe('cancelled');
  });

  it('says why when the shadow cannot be set up, and runs nothing', async () => {
    shadow = await prepareShadow({ folders: [join(workspace, 'missing')], changes: [] });
    const marker = join(outside, 'ran');
    const outcome = await runInShadow(shadow, { argv: ['/bin/sh', '-c', `echo > "${marker}"`], cwd: join(workspace, 'missing'), timeoutMs: 30_000, signal: new AbortController().signal, env: process.env });
    expect(outcome.kind).toBe('setupFailed');
    expect(outcome.kind === 'setupFailed' ? outcome.reason : '').toMatch(/missing/);
    expect(await readdir(outside)).toEqual([]);
  });
});
