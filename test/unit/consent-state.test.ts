import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../server/src/common/logger.js';
import { ConsentInMemory, ConsentStateFile, consentStatePath, maxConsentEntries, type ConsentKey } from '../../server/src/agent/consent-state.js';

/** Lines as the log shows them: the message, then an error's own words in brackets. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (message: string, detail?: unknown): void => {
    lines.push(detail instanceof Error ? `${message} [${detail.message}]` : message);
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
      expect.stringMatching(new RegExp(`^check "test": could not write ${broken}; "Always" is remembered until the server stops \\[EEXIST`)),
    ]);
  });

  it('without a home folder, remembers in memory only, and says so', async () => {
    const logger = recordingLogger();
    const store = new ConsentStateFile({ path: undefined, logger });
    expect(await store.has(testKey())).toBe(false);
    expect(logger.lines).toEqual([]);
    await store.remember(testKey());
    expect(await store.has(testKey())).toBe(true);
    expect(logger.lines).toEqual(['check "test": "Always" is remembered until the server stops (no home folder to keep it in)']);
  });

  it('keeps the answers for other folders and other argvs of the same check', async () => {
    const store = new ConsentStateFile({ path, logger: recordingLogger() });
    await store.remember(testKey());
    await store.remember({ ...testKey(), folder: scratch });
    await store.remember({ ...testKey(), argv: ['npm', 'test'] });
    for (const key of [testKey(), { ...testKey(), folder: scratch }, { ...testKey(), argv: ['npm', 'test'] }]) expect(await store.has(key)).toBe(true);
  });

  it('remembers a folder that cannot be resolved by its path as given', async () => {
    const store = new ConsentStateFile({ path, logger: recordingLogger() });
    const gone = { ...testKey(), folder: join(scratch, 'gone') };
    await store.remember(gone);
    expect(await new ConsentStateFile({ path, logger: recordingLogger() }).has(gone)).toBe(true);
  });

  it('takes a file of exactly maxBytes, and refuses one byte more', async () => {
    await new ConsentStateFile({ path, logger: recordingLogger() }).remember(testKey());
    const size = (await stat(path)).size;
    expect(await new ConsentStateFile({ path, logger: recordingLogger(), maxBytes: size }).has(testKey())).toBe(true);
    const logger = recordingLogger();
    expect(await new ConsentStateFile({ path, logger, maxBytes: size - 1 }).has(testKey())).toBe(false);
    expect(logger.lines).toEqual([`${path} is ignored, so checks are asked about again: it is larger than ${size - 1} bytes`]);
  });

  it('writes two answers that fill maxBytes exactly, and keeps one answer too large for any file in memory only', async () => {
    const measure = join(scratch, 'measure.json');
    const wide = new ConsentStateFile({ path: measure, logger: recordingLogger(), now: at('2026-12-06T19:00:00Z') });
    await wide.remember(testKey());
    await wide.remember({ ...testKey(), command: 'lint' });
    const size = (await stat(measure)).size;
    const exact = new ConsentStateFile({ path, logger: recordingLogger(), maxBytes: size, now: at('2026-12-06T19:00:00Z') });
    await exact.remember(testKey());
    await exact.remember({ ...testKey(), command: 'lint' });
    expect((await stat(path)).size).toBe(size);
    expect(await exact.has(testKey())).toBe(true);

    const logger = recordingLogger();
    const tiny = join(scratch, 'tiny.json');
    const store = new ConsentStateFile({ path: tiny, logger, maxBytes: 100 });
    await store.remember(testKey());
    expect(await store.has(testKey())).toBe(true);
    await expect(stat(tiny)).rejects.toThrow(/ENOENT/);
    expect(logger.lines).toEqual([`check "test": could not write ${tiny}; "Always" is remembered until the server stops [one answer is larger than 100 bytes (a very long folder path)]`]);
  });

  it('closes the file after every read and write', async () => {
    const store = new ConsentStateFile({ path, logger: recordingLogger() });
    await store.remember(testKey());
    const before = (await readdir('/proc/self/fd')).length;
    for (let n = 0; n < 20; n++) {
      await store.has(testKey());
      await store.remember(testKey());
    }
    expect((await readdir('/proc/self/fd')).length).toBeLessThanOrEqual(before);
  });

  it.skipIf(process.getuid?.() !== 0)('ignores a file that belongs to another user', async () => {
    await new ConsentStateFile({ path, logger: recordingLogger() }).remember(testKey());
    await chown(path, 4242, 4242);
    const logger = recordingLogger();
    expect(await new ConsentStateFile({ path, logger }).has(testKey())).toBe(false);
    expect(logger.lines).toEqual([`${path} is ignored, so checks are asked about again: it belongs to another user`]);
  });

  describe('a file with any part malformed is ignored whole', () => {
    const sha = 'a'.repeat(64);
    const good = () => ({ folder: project, check: 'test', argvSha256: sha, allowedAt: '2026-12-06T19:00:00.000Z' });
    const cases: [string, (entry: Record<string, unknown>) => unknown][] = [
      ['not an object', () => ['entries']],
      ['another version', (entry) => ({ version: 2, entries: [entry] })],
      ['entries not a list', (entry) => ({ version: 1, entries: { 0: entry } })],
      ['an entry not an object', (entry) => ({ version: 1, entries: [entry, 'test'] })],
      ['an entry that is null', (entry) => ({ version: 1, entries: [entry, null] })],
      ['a folder not text', (entry) => ({ version: 1, entries: [entry, { ...entry, folder: 42 }] })],
      ['a relative folder', (entry) => ({ version: 1, entries: [entry, { ...entry, folder: 'project' }] })],
      ['a folder too long', (entry) => ({ version: 1, entries: [entry, { ...entry, folder: `/${'a'.repeat(4_096)}` }] })],
      ['a check name in a list', (entry) => ({ version: 1, entries: [entry, { ...entry, check: ['test'] }] })],
      ['a check name that is not one', (entry) => ({ version: 1, entries: [entry, { ...entry, check: '1 rm -rf' }] })],
      ['a hash in a list', (entry) => ({ version: 1, entries: [entry, { ...entry, argvSha256: [sha] }] })],
      ['a hash with more after it', (entry) => ({ version: 1, entries: [entry, { ...entry, argvSha256: `${sha}0` }] })],
      ['a hash with more before it', (entry) => ({ version: 1, entries: [entry, { ...entry, argvSha256: `0${sha}` }] })],
      ['a time that is a number', (entry) => ({ version: 1, entries: [entry, { ...entry, allowedAt: 12345 }] })],
      ['a time that is not one', (entry) => ({ version: 1, entries: [entry, { ...entry, allowedAt: 'yesterday' }] })],
    ];
    it.each(cases)('%s', async (_, shape) => {
      await mkdir(join(scratch, 'state', 'efrit-lsp'), { recursive: true });
      await writeFile(path, JSON.stringify(shape(good())), { mode: 0o600 });
      const logger = recordingLogger();
      // The good entry's own answer, which a partial reading would trust.
      const key = { ...testKey(), argv: ['x'] };
      expect(await new ConsentStateFile({ path, logger }).has(key)).toBe(false);
      expect(logger.lines).toEqual([`${path} is ignored, so checks are asked about again: it is not a version 1 list of at most ${maxConsentEntries} answers`]);
    });

    it('too many entries, while the same at the bound is read', async () => {
      await mkdir(join(scratch, 'state', 'efrit-lsp'), { recursive: true });
      await writeFile(path, JSON.stringify({ version: 1, entries: [good(), good(), good()] }), { mode: 0o600 });
      const tooMany = recordingLogger();
      expect(await new ConsentStateFile({ path, logger: tooMany, maxEntries: 2 }).has(testKey())).toBe(false);
      expect(tooMany.lines).toEqual([`${path} is ignored, so checks are asked about again: it is not a version 1 list of at most 2 answers`]);
      await writeFile(path, JSON.stringify({ version: 1, entries: [good(), { ...good(), folder: `/${'a'.repeat(4_095)}` }] }), { mode: 0o600 });
      const logger = recordingLogger();
      // Well formed, though no entry is for this key.
      expect(await new ConsentStateFile({ path, logger, maxEntries: 2 }).has(testKey())).toBe(false);
      expect(logger.lines).toEqual([]);
    });
  });
});

describe('ConsentInMemory', () => {
  it('keeps one copy of an answer given twice, so it does not push another out early', async () => {
    const memory = new ConsentInMemory();
    for (const command of ['b', 'a', 'a']) await memory.remember({ ...testKey(), command });
    for (let n = 0; n < maxConsentEntries - 2; n++) await memory.remember({ ...testKey(), command: `c${n}` });
    expect(await memory.has({ ...testKey(), command: 'b' })).toBe(true);
  });

  it('makes an answer given again the newest', async () => {
    const memory = new ConsentInMemory();
    await memory.remember({ ...testKey(), command: 'a' });
    await memory.remember({ ...testKey(), command: 'b' });
    await memory.remember({ ...testKey(), command: 'a' });
    for (let n = 0; n < maxConsentEntries - 1; n++) await memory.remember({ ...testKey(), command: `c${n}` });
    expect(await memory.has({ ...testKey(), command: 'b' })).toBe(false);
    expect(await memory.has({ ...testKey(), command: 'a' })).toBe(true);
  });

  it(`keeps at most ${maxConsentEntries} answers, the oldest dropped`, async () => {
    const memory = new ConsentInMemory();
    for (let n = 0; n <= maxConsentEntries; n++) await memory.remember({ ...testKey(), command: `c${n}` });
    expect(await memory.has({ ...testKey(), command: 'c0' })).toBe(false);
    expect(await memory.has({ ...testKey(), command: 'c1' })).toBe(true);
    expect(await memory.has({ ...testKey(), command: `c${maxConsentEntries}` })).toBe(true);
  });
});
