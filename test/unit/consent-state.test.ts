import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../server/src/common/logger.js';
import { ConsentInMemory, ConsentStateFile, consentStatePath, maxConsentEntries, type ConsentKey } from '../../server/src/agent/consent-state.js';

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (message: string): void => {
    lines.push(message);
  };
  return { lines, error: push, warn: push, info: push, debug: push };
}

let scratch: string;
let project: string;
let path: string;
beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'efrit-consent-'));
  project = join(scratch, 'project');
  await mkdir(project);
  path = join(scratch, 'state', 'efrit-lsp', 'check-consent.json');
});
afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const testKey = (): ConsentKey => ({ folder: project, command: 'test', argv: ['npm', 'test', '--', '--run'] });
const at = (iso: string) => () => new Date(iso);

describe('where the answers are kept', () => {
  it('EFRIT_STATE_DIR first, then XDG_STATE_HOME, then ~/.local/state; relative values are ignored', () => {
    expect(consentStatePath({ EFRIT_STATE_DIR: '/tmp/s', XDG_STATE_HOME: '/x' }, '/home/u')).toBe('/tmp/s/check-consent.json');
    expect(consentStatePath({ XDG_STATE_HOME: '/x' }, '/home/u')).toBe('/x/efrit-lsp/check-consent.json');
    expect(consentStatePath({ EFRIT_STATE_DIR: 'rel', XDG_STATE_HOME: 'also-rel' }, '/home/u')).toBe('/home/u/.local/state/efrit-lsp/check-consent.json');
    expect(consentStatePath({}, '')).toBeUndefined();
  });
});

describe('ConsentStateFile', () => {
  it('remembers "Always" in a file only the user may read (0600, its folder 0700), found again by a new reader', async () => {
    const logger = recordingLogger();
    await new ConsentStateFile({ path, logger, now: at('2026-12-06T19:00:00Z') }).remember(testKey());

    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(scratch, 'state', 'efrit-lsp'))).mode & 0o777).toBe(0o700);
    // A server started later reads it.
    expect(await new ConsentStateFile({ path, logger }).has(testKey())).toBe(true);
    const written = JSON.parse(await readFile(path, 'utf8')) as unknown;
    expect(written).toEqual({ version: 1, entries: [{ folder: project, check: 'test', argvSha256: expect.stringMatching(/^[0-9a-f]{64}$/), allowedAt: '2026-12-06T19:00:00.000Z' }] });
    // No temporary file is left beside it.
    expect(await readdir(join(scratch, 'state', 'efrit-lsp'))).toEqual(['check-consent.json']);
    expect(logger.lines).toEqual([`check "test": "Always" remembered for ${project} in ${path} (delete the file, or the entry, to be asked again)`]);
  });

  it('never writes the argv (it may carry a secret), only its hash', async () => {
    await new ConsentStateFile({ path, logger: recordingLogger() }).remember({ ...testKey(), argv: ['curl', '-H', 'x-api-key: sk-ant-secret'] });
    expect(await readFile(path, 'utf8')).not.toContain('sk-ant-secret');
  });

  it('asks again for a changed argv, another check or another folder; the same folder through a symbolic link is the same', async () => {
    const store = new ConsentStateFile({ path, logger: recordingLogger() });
    await store.remember(testKey());
    expect(await store.has({ ...testKey(), argv: ['npm', 'test'] })).toBe(false);
    expect(await store.has({ ...testKey(), command: 'lint' })).toBe(false);
    expect(await store.has({ ...testKey(), folder: scratch })).toBe(false);
    await symlink(project, join(scratch, 'link'));
    expect(await store.has({ ...testKey(), folder: join(scratch, 'link') })).toBe(true);
  });

  it('forgets at once when the file is deleted', async () => {
    const store = new ConsentStateFile({ path, logger: recordingLogger() });
    await store.remember(testKey());
    await rm(path);
    expect(await store.has(testKey())).toBe(false);
  });

  it('ignores a corrupt file whole, with a log line, and a later "Always" replaces it', async () => {
    await new ConsentStateFile({ path, logger: recordingLogger() }).remember(testKey());
    const good = await readFile(path, 'utf8');
    await writeFile(path, good.slice(0, -20), { mode: 0o600 });
    const logger = recordingLogger();
    const store = new ConsentStateFile({ path, logger });

    expect(await store.has(testKey())).toBe(false);
    expect(logger.lines).toEqual([`${path} is ignored, so checks are asked about again: it is not JSON`]);
    await store.remember(testKey());
    expect(await new ConsentStateFile({ path, logger }).has(testKey())).toBe(true);
  });

  it('trusts nothing of a file with one malformed entry', async () => {
    const store = new ConsentStateFile({ path, logger: recordingLogger() });
    await store.remember(testKey());
    const file = JSON.parse(await readFile(path, 'utf8')) as { entries: object[] };
    file.entries.push({ folder: 'relative/path', check: 'lint', argvSha256: '0'.repeat(64), allowedAt: '2026-12-06T19:00:00Z' });
    await writeFile(path, JSON.stringify(file), { mode: 0o600 });
    const logger = recordingLogger();
    expect(await new ConsentStateFile({ path, logger }).has(testKey())).toBe(false);
    expect(logger.lines).toEqual([`${path} is ignored, so checks are asked about again: it is not a version 1 list of at most ${maxConsentEntries} answers`]);
  });

  it('ignores a file that is too large, writable by others, or a symbolic link', async () => {
    await new ConsentStateFile({ path, logger: recordingLogger() }).remember(testKey());
    const logger = recordingLogger();
    const store = new ConsentStateFile({ path, logger, maxBytes: 100 });
    expect(await store.has(testKey())).toBe(false);

    await chmod(path, 0o666);
    expect(await new ConsentStateFile({ path, logger }).has(testKey())).toBe(false);
    await chmod(path, 0o600);

    const elsewhere = join(scratch, 'planted.json');
    await writeFile(elsewhere, await readFile(path), { mode: 0o600 });
    const linked = join(scratch, 'linked.json');
    await symlink(elsewhere, linked);
    expect(await new ConsentStateFile({ path: linked, logger }).has(testKey())).toBe(false);
    expect(logger.lines).toEqual([
      `${path} is ignored, so checks are asked about again: it is larger than 100 bytes`,
      `${path} is ignored, so checks are asked about again: others may write to it`,
      `${linked} is ignored, so checks are asked about again: it is not a regular file`,
    ]);
  });

  it('keeps at most maxEntries answers and maxBytes, dropping the oldest first', async () => {
    const store = new ConsentStateFile({ path, logger: recordingLogger(), maxEntries: 3 });
    for (const name of ['a', 'b', 'c', 'd']) await store.remember({ ...testKey(), command: name });
    expect(await store.has({ ...testKey(), command: 'a' })).toBe(false);
    for (const name of ['b', 'c', 'd']) expect(await store.has({ ...testKey(), command: name })).toBe(true);

    const small = new ConsentStateFile({ path: join(scratch, 'small.json'), logger: recordingLogger(), maxBytes: 600 });
    for (const name of ['a', 'b', 'c', 'd']) await small.remember({ ...testKey(), command: name });
    expect((await stat(join(scratch, 'small.json'))).size).toBeLessThanOrEqual(600);
    expect(await small.has({ ...testKey(), command: 'd' })).toBe(true);
    expect(await small.has({ ...testKey(), command: 'a' })).toBe(false);
  });

  it('answering "Always" again for the same check keeps one entry', async () => {
    const store = new ConsentStateFile({ path, logger: recordingLogger() });
    await Promise.all([store.remember(testKey()), store.remember(testKey())]);
    expect((JSON.parse(await readFile(path, 'utf8')) as { entries: unknown[] }).entries).toHaveLength(1);
  });

  it('keeps the answer for the server’s life, with a log line, when the file cannot be written', async () => {
    await writeFile(join(scratch, 'not-a-folder'), '');
    const logger = recordingLogger();
    const broken = join(scratch, 'not-a-folder', 'check-consent.json');
    const store = new ConsentStateFile({ path: broken, logger });
    await store.remember(testKey());
    expect(await store.has(testKey())).toBe(true);
    expect(logger.lines).toEqual([
      expect.stringMatching(new RegExp(`^${broken} is ignored, so checks are asked about again: it could not be read \\(ENOTDIR`)),
      `check "test": could not write ${broken}; "Always" is remembered until the server stops`,
    ]);
  });

  it('without a home folder, remembers in memory only', async () => {
    const store = new ConsentStateFile({ path: undefined, logger: recordingLogger() });
    expect(await store.has(testKey())).toBe(false);
    await store.remember(testKey());
    expect(await store.has(testKey())).toBe(true);
  });
});

describe('ConsentInMemory', () => {
  it(`keeps at most ${maxConsentEntries} answers, the oldest dropped`, async () => {
    const memory = new ConsentInMemory();
    for (let n = 0; n <= maxConsentEntries; n++) await memory.remember({ ...testKey(), command: `c${n}` });
    expect(await memory.has({ ...testKey(), command: 'c0' })).toBe(false);
    expect(await memory.has({ ...testKey(), command: `c${maxConsentEntries}` })).toBe(true);
  });
});
