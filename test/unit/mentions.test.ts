import { createHash } from 'node:crypto';
import { link, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { attachMentions, parseMentions, type MentionedFile } from '../../server/src/agent/mentions.js';
import { SearchRunner } from '../../server/src/agent/search-runner.js';
import { WorkspaceTools } from '../../server/src/agent/workspace-tools.js';
import { DocumentStore } from '../../server/src/documents/document-store.js';

const outsideMarker = 'OUTSIDE-MENTION-93c1: never attach me';
const fakeSecret = 'sk-fake-mention-0123456789';

const cartTs = `import { formatMoney } from './util/money.js';

export function cartTotal(prices: number[]): string {
  return formatMoney(prices.reduce((sum, price) => sum + price, 0));
}
`;
const longTs = Array.from({ length: 500 }, (_, i) => `export const value${i + 1} = ${i + 1};`).join('\n') + '\n';

let base: string;
let root: string;
let outside: string;
let documents: DocumentStore;
const searchRunner = new SearchRunner();

async function write(path: string, content: string | Uint8Array): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, content);
}

beforeAll(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'efrit-mentions-')));
  root = join(base, 'shop');
  outside = join(base, 'outside');
  await write(join(root, 'src', 'cart.ts'), cartTs);
  await write(join(root, 'src', 'long.ts'), longTs);
  await write(join(root, 'src', 'wide.ts'), Array.from({ length: 400 }, (_, i) => `export const line${i} = '${'x'.repeat(80)}';`).join('\n'));
  await write(join(root, 'src', 'empty.ts'), '');
  await write(join(root, 'src', 'one.ts'), 'export {};');
  await write(join(root, 'src', 'minified.js'), `var a=${'1+'.repeat(15_000)}1;`);
  await write(join(root, 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00, 0x00]));
  await write(join(root, '.env'), `API_KEY=${fakeSecret}\n`);
  await write(join(outside, 'notes.md'), `${outsideMarker}\n`);
  await symlink(join(outside, 'notes.md'), join(root, 'notes.md'));
  await link(join(outside, 'notes.md'), join(root, 'linked.md'));
  for (let i = 1; i <= 10; i++) await write(join(root, 'src', `part${i}.ts`), `export const part${i} = ${i};\n`);
});

afterAll(async () => {
  await searchRunner.close();
  await rm(base, { recursive: true, force: true });
});

beforeEach(() => {
  documents = new DocumentStore();
});

function tools(): WorkspaceTools {
  return new WorkspaceTools({ roots: () => [root], documents, allowSecretFiles: () => false, searchRunner });
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

describe('parseMentions', () => {
  it('finds @path and @path:LINE, relative to the workspace folder', () => {
    expect(parseMentions('Why does @src/cart.ts call @src/util/money.ts:2 here?')).toEqual([
      { written: '@src/cart.ts', path: 'src/cart.ts' },
      { written: '@src/util/money.ts:2', path: 'src/util/money.ts', line: 2 },
    ]);
  });

  it('leaves trailing punctuation out of the path', () => {
    const mentions = parseMentions('See @src/a.ts. Then @src/b.ts, @src/c.ts; @src/d.ts: and (@src/e.ts). or @src/f.ts:12.');
    expect(mentions.map((m) => m.written)).toEqual(['@src/a.ts', '@src/b.ts', '@src/c.ts', '@src/d.ts', '@src/e.ts', '@src/f.ts:12']);
    expect(mentions.at(-1)).toEqual({ written: '@src/f.ts:12', path: 'src/f.ts', line: 12 });
  });

  it('takes a mention only at the start of a word: not an e-mail address, not a diff header', () => {
    expect(parseMentions('Mail me@example.com about @@ -1,3 +1,4 @@ please')).toEqual([]);
    expect(parseMentions('@README.md first')).toEqual([{ written: '@README.md', path: 'README.md' }]);
  });

  it('skips code fenced with ```, where @ is a decorator, to the end when the fence is not closed', () => {
    const message = 'Why is this slow?\n```ts\n@Component({})\nclass Cart {}\n```\nIt is in @src/cart.ts';
    expect(parseMentions(message).map((m) => m.written)).toEqual(['@src/cart.ts']);
    expect(parseMentions('Compare:```@Injectable()```@src/cart.ts')).toEqual([{ written: '@src/cart.ts', path: 'src/cart.ts' }]);
    expect(parseMentions('@src/a.ts and then\n```\n@Component({})\nclass Cart {}\n')).toEqual([{ written: '@src/a.ts', path: 'src/a.ts' }]);
  });

  it('ignores an @ followed by punctuation only, and reads :LINE only at the end of the path', () => {
    expect(parseMentions('(see @) or @... then')).toEqual([]);
    expect(parseMentions('@notes/2026:12draft.md')).toEqual([{ written: '@notes/2026:12draft.md', path: 'notes/2026:12draft.md' }]);
  });

  it('lists a file mentioned twice once', () => {
    expect(parseMentions('@src/a.ts and again @src/a.ts, but @src/a.ts:3 is another').map((m) => m.written)).toEqual(['@src/a.ts', '@src/a.ts:3']);
  });
});

describe('attachMentions', () => {
  it('attaches nothing to a message without mentions', async () => {
    expect(await attachMentions('make it faster', tools())).toEqual({ text: undefined, files: [], notes: [] });
  });

  it('attaches a file named relative to the workspace, numbered as read_file shows it, and records what was read', async () => {
    const { text, files, notes } = await attachMentions('what does @src/cart.ts do?', tools());

    expect(notes).toEqual(['attached src/cart.ts lines 1–6']);

    expect(text).toBe(
      [
        'Attached by the user (@src/cart.ts): src/cart.ts - lines 1-6 of 6, from disk',
        "1| import { formatMoney } from './util/money.js';",
        '2| ',
        '3| export function cartTotal(prices: number[]): string {',
        '4|   return formatMoney(prices.reduce((sum, price) => sum + price, 0));',
        '5| }',
        '6| ',
      ].join('\n'),
    );
    expect(files).toEqual<MentionedFile[]>([
      {
        displayPath: 'src/cart.ts',
        realPath: join(root, 'src', 'cart.ts'),
        lexicalPath: join(root, 'src', 'cart.ts'),
        uri: pathToFileURL(join(root, 'src', 'cart.ts')).href,
        text: cartTs,
        shownLines: { start: 1, end: 6 },
        origin: { kind: 'disk', realPath: join(root, 'src', 'cart.ts'), lexicalPath: join(root, 'src', 'cart.ts'), sha256: sha256(cartTs) },
      },
    ]);
  });

  it('shows 40 lines on each side of :LINE', async () => {
    const { text, files } = await attachMentions('is @src/long.ts:100 right?', tools());

    expect(text?.split('\n')[0]).toBe('Attached by the user (@src/long.ts:100): src/long.ts - lines 60-140 of 501, from disk');
    expect(text).toContain(' 60| export const value60 = 60;');
    expect(text).toContain('140| export const value140 = 140;');
    expect(text).not.toContain('value59 ');
    expect(text).not.toContain('value141 ');
    expect(files[0]?.shownLines).toEqual({ start: 60, end: 140 });
    expect(files[0]?.text).toBe(longTs);
  });

  it('clamps the window at the start of the file, and says when LINE is past the end', async () => {
    const near = await attachMentions('@src/long.ts:3', tools());
    expect(near.files[0]?.shownLines).toEqual({ start: 1, end: 43 });
    expect(near.text).not.toContain('past the end');

    const last = await attachMentions('@src/cart.ts:6', tools());
    expect(last.text).not.toContain('past the end');

    const past = await attachMentions('@src/cart.ts:90', tools());
    expect(past.files[0]?.shownLines).toEqual({ start: 1, end: 6 });
    expect(past.text).toContain('[Line 90 is past the end: src/cart.ts has 6 lines.]');

    const one = await attachMentions('@src/one.ts:2', tools());
    expect(one.text).toContain('[Line 2 is past the end: src/one.ts has 1 line.]');
  });

  it('shows the start of a line longer than the limit, and says so', async () => {
    const { text, files } = await attachMentions('@src/minified.js:1', tools());
    expect(files[0]?.shownLines).toEqual({ start: 1, end: 1 });
    expect(text).toContain('1| var a=1+1+');
    expect(text).toContain('[Line 1 is longer than the 20000-character limit of an attached file; only its start is shown.]');
    expect((text as string).length).toBeLessThan(20_000 + 400);
  });

  it('attaches an open document that is not on disk yet, with no real path', async () => {
    const uri = pathToFileURL(join(root, 'src', 'draft.ts')).href;
    documents.open({ uri, languageId: 'typescript', version: 1, text: 'export const draft = true;\n' });

    const { files } = await attachMentions('@src/draft.ts', tools());

    expect(files).toHaveLength(1);
    expect(Object.keys(files[0] as MentionedFile)).not.toContain('realPath');
    expect(files[0]).toMatchObject({ displayPath: 'src/draft.ts', uri, text: 'export const draft = true;\n' });
  });

  it('turns a failure of the workspace tools into a line saying so, not an exception', async () => {
    const failing = new WorkspaceTools({
      roots: () => {
        throw new Error('the workspace folders are not known yet');
      },
      documents,
      allowSecretFiles: () => false,
      searchRunner,
    });

    const { text, files } = await attachMentions('@src/cart.ts', failing);

    expect(text).toBe('@src/cart.ts was not attached: it could not be read (the workspace folders are not known yet).');
    expect(files).toEqual([]);
  });

  it('attaches the editor’s text of an open document, with its version, opening and journal epoch', async () => {
    const uri = pathToFileURL(join(root, 'src', 'cart.ts')).href;
    const edited = cartTs.replace('prices: number[]', 'prices: readonly number[]');
    documents.open({ uri, languageId: 'typescript', version: 7, text: edited });
    const document = documents.get(uri);

    const { text, files, notes } = await attachMentions('@src/cart.ts', tools());

    expect(notes).toEqual(['attached src/cart.ts lines 1–6 (editor text)']);
    expect(text).toContain("src/cart.ts - lines 1-6 of 6, the editor's text (version 7), which may have unsaved changes");
    expect(text).toContain('readonly number[]');
    expect(files).toEqual([
      {
        displayPath: 'src/cart.ts',
        realPath: join(root, 'src', 'cart.ts'),
        uri,
        text: edited,
        shownLines: { start: 1, end: 6 },
        origin: { kind: 'editor', uri, version: 7, openId: document?.openId, epoch: document?.journal.epoch },
      },
    ]);
  });

  it('says why an unknown path is not attached', async () => {
    const { text, files } = await attachMentions('look at @src/nope.ts', tools());
    expect(text).toBe('@src/nope.ts was not attached: there is no file src/nope.ts in the workspace (nor open in the editor).');
    expect(files).toEqual([]);
  });

  it('refuses a secret-looking file, a symlink out of the workspace, a hard link, a path outside, with the reason', async () => {
    const { text, files, notes } = await attachMentions('compare @.env with @notes.md, @linked.md and @../outside/notes.md', tools());

    const lines = (text as string).split('\n\n');
    expect(lines).toHaveLength(4);
    expect(notes).toEqual(lines);
    expect(lines[0]).toMatch(/^@\.env was not attached: \.env looks like it holds secrets .* agent\.allowSecretFiles\.$/);
    expect(lines[1]).toMatch(/^@notes\.md was not attached: "notes\.md" is outside the workspace/);
    expect(lines[2]).toMatch(/^@linked\.md was not attached: linked\.md is a hard link/);
    expect(lines[3]).toMatch(/^@\.\.\/outside\/notes\.md was not attached: "\.\.\/outside\/notes\.md" is outside the workspace/);
    expect(text).not.toContain(fakeSecret);
    expect(text).not.toContain(outsideMarker);
    expect(files).toEqual([]);
  });

  it('refuses a folder and a binary file, as read_file does', async () => {
    const { text } = await attachMentions('@src and @logo.png', tools());
    expect(text).toContain('@src was not attached: src is a directory, not a file.');
    expect(text).toContain('@logo.png was not attached: logo.png is a binary file');
  });

  it('attaches an empty file as empty', async () => {
    const { text, files, notes } = await attachMentions('fill in @src/empty.ts', tools());
    expect(notes).toEqual(['attached src/empty.ts (empty)']);
    expect(text).toBe('Attached by the user (@src/empty.ts): src/empty.ts is empty (0 bytes).');
    expect(files[0]).toMatchObject({ text: '', shownLines: { start: 1, end: 1 }, origin: { kind: 'disk', sha256: sha256('') } });
  });

  it('attaches at most 8 mentions; the 9th is named as not attached', async () => {
    const message = Array.from({ length: 9 }, (_, i) => `@src/part${i + 1}.ts`).join(' ');

    const { text, files, notes } = await attachMentions(message, tools());

    expect(files.map((file) => file.displayPath)).toEqual(Array.from({ length: 8 }, (_, i) => `src/part${i + 1}.ts`));
    expect(text?.split('\n\n').at(-1)).toBe('@src/part9.ts was not attached: at most 8 mentions per message are attached.');
    expect(notes).toHaveLength(9);
    expect(notes.at(-1)).toBe('@src/part9.ts was not attached: at most 8 mentions per message are attached.');
  });

  it('counts refused mentions toward the 8, and names at most 10 of those left over', async () => {
    const message = Array.from({ length: 30 }, (_, i) => `@missing${i + 1}.ts`).join(' ');

    const { text } = await attachMentions(message, tools());

    const parts = (text as string).split('\n\n');
    expect(parts).toHaveLength(9);
    expect(parts.at(-1)).toBe(
      '@missing9.ts, @missing10.ts, @missing11.ts, @missing12.ts, @missing13.ts, @missing14.ts, @missing15.ts, @missing16.ts, @missing17.ts, @missing18.ts and 12 more were not attached: at most 8 mentions per message are attached.',
    );
  });

  it('cuts a long file at 20,000 characters, saying where and how to see the rest', async () => {
    const { text, files } = await attachMentions('@src/wide.ts', tools());

    const shown = text as string;
    const last = files[0]?.shownLines.end as number;
    expect(last).toBeGreaterThan(150);
    expect(last).toBeLessThan(400);
    expect(shown.length).toBeLessThan(20_000 + 400);
    expect(shown).toContain(`[Cut at line ${last} to stay within 20000 characters; lines ${last + 1}-400 were not shown. @src/wide.ts:LINE shows the lines around LINE.]`);
    expect(shown.split('\n')[0]).toBe(`Attached by the user (@src/wide.ts): src/wide.ts - lines 1-${last} of 400, from disk`);
  });

  it('honours smaller limits given as options', async () => {
    const { text, files } = await attachMentions('@src/long.ts:50 @src/cart.ts', tools(), { maxMentions: 1, windowLines: 2, maxChars: 10_000 });
    expect(files).toHaveLength(1);
    expect(files[0]?.shownLines).toEqual({ start: 48, end: 52 });
    expect(text).toContain('@src/cart.ts was not attached: at most 1 mention per message is attached.');
  });
});
