/**
 * Confinement against what a path check alone cannot see: hard links (a
 * second name for a file that lives outside the workspace or in a secret
 * file) and a directory swapped for a symlink between the check and the read,
 * by a process racing the server.
 */
import { spawn } from 'node:child_process';
import { link, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listDirectoryExactly, readTextFile } from '../../server/src/agent/workspace-paths.js';
import { WorkspaceTools } from '../../server/src/agent/workspace-tools.js';
import type { ToolOutcome } from '../../server/src/agent/workspace-tools.js';
import { DocumentStore } from '../../server/src/documents/document-store.js';

// Seeing either of these in an outcome means confinement failed.
const outsideMarker = 'OUTSIDE-CONTENT-51c0e2d7-never-read';
const fakeSecret = 'sk-fake-hardlinked-9a8b7c6d5e4f';

let base: string;
let root: string;
let outside: string;
let documents: DocumentStore;

async function write(path: string, content: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, content);
}

beforeAll(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), 'efrit-confinement-')));
  root = join(base, 'project');
  outside = join(base, 'outside');
  await write(join(root, 'src', 'cart.ts'), 'export const cartTotal = (cents: number): number => cents; // findme\n');
  await write(join(root, '.env'), `API_KEY=${fakeSecret} # findme\n`);
  await write(join(outside, 'billing-notes.txt'), `${outsideMarker} findme\n`);
  await write(join(outside, 'shared-with-project.txt'), `${outsideMarker} findme\n`);

  // Two more names for files whose content must not be read: one for a file
  // outside the workspace, one harmless-looking name for the `.env`.
  await mkdir(join(root, 'docs'), { recursive: true });
  await link(join(outside, 'billing-notes.txt'), join(root, 'docs', 'billing-notes.txt'));
  await link(join(root, '.env'), join(root, 'config.txt'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

beforeEach(() => {
  documents = new DocumentStore();
});

function tools(workspace = root): WorkspaceTools {
  return new WorkspaceTools({ roots: () => [workspace], documents, allowSecretFiles: () => false });
}

function everything(outcome: ToolOutcome): string {
  return `${outcome.content}\n${outcome.note}\n${outcome.summary}`;
}

describe('hard links', () => {
  it('refuses a hard link inside the workspace to a file outside it, and the search does not return its content', async () => {
    const read = await tools().run('read_file', { path: 'docs/billing-notes.txt' });
    expect(read.isError, read.content).toBe(true);
    expect(read.content).toContain('hard link');
    expect(everything(read)).not.toContain(outsideMarker);

    const search = await tools().run('search_workspace', { query: 'findme' });
    expect(search.isError).toBe(false);
    expect(search.content).toContain('src/cart.ts:1:');
    expect(everything(search)).not.toContain(outsideMarker);
    expect(search.content).not.toContain('billing-notes.txt');
  });

  it('refuses a hard link named config.txt that is a second name for .env, and the search skips it', async () => {
    const read = await tools().run('read_file', { path: 'config.txt' });
    expect(read.isError, read.content).toBe(true);
    expect(read.content).toContain('hard link');
    expect(everything(read)).not.toContain(fakeSecret);

    const search = await tools().run('search_workspace', { query: 'API_KEY' });
    expect(everything(search)).not.toContain(fakeSecret);
    expect(search.content).toContain('No matches');
  });

  it('holds an open document that is a hard-linked file to the same rule', async () => {
    // The editor's text of config.txt is the .env's content.
    const uri = pathToFileURL(join(root, 'config.txt')).href;
    documents.open({ uri, languageId: 'plaintext', version: 1, text: `API_KEY=${fakeSecret} # findme\n` });
    const read = await tools().run('read_document', { uri });
    expect(read.isError, read.content).toBe(true);
    expect(read.content).toContain('hard link');
    const byPath = await tools().run('read_file', { path: 'config.txt' });
    expect(byPath.isError).toBe(true);
    const listed = await tools().run('list_documents', {});
    expect(listed.content).not.toContain('config.txt');
    const search = await tools().run('search_workspace', { query: 'findme' });
    for (const outcome of [read, byPath, listed, search]) expect(everything(outcome)).not.toContain(fakeSecret);
  });

  it('refuses a file that gained a second name after it was located (decided on the open file)', async () => {
    const path = join(root, 'src', 'late-link.ts');
    await write(path, 'export const late = 1;\n');
    expect(await readTextFile(path, { maxFileBytes: 1024, displayPath: 'src/late-link.ts' })).toMatchObject({ kind: 'text' });
    await link(path, join(outside, 'late-link-elsewhere.ts'));
    expect(await readTextFile(path, { maxFileBytes: 1024, displayPath: 'src/late-link.ts' })).toMatchObject({ kind: 'refused', cause: 'hardLinked' });
  });

  it('still reads a file whose only other name was removed', async () => {
    const path = join(root, 'src', 'unlinked.ts');
    await write(path, 'export const single = 1;\n');
    await link(path, join(root, 'src', 'unlinked-copy.ts'));
    await rm(join(root, 'src', 'unlinked-copy.ts'));
    const read = await tools().run('read_file', { path: 'src/unlinked.ts' });
    expect(read.isError, read.content).toBe(false);
    expect(read.content).toContain('export const single = 1;');
  });
});

describe('reading and listing decide on what was opened', () => {
  it('reads a file and lists a folder at their canonical paths', async () => {
    expect(await readTextFile(join(root, 'src', 'cart.ts'), { maxFileBytes: 1024, displayPath: 'src/cart.ts' })).toMatchObject({ kind: 'text' });
    const entries = await listDirectoryExactly(join(root, 'src'));
    expect(entries?.map((entry) => entry.name)).toContain('cart.ts');
  });

  it('refuses a path that goes through a symlinked folder, as a swapped one would', async () => {
    const through = join(root, 'linked-outside');
    await symlink(outside, through);
    try {
      const read = await readTextFile(join(through, 'shared-with-project.txt'), { maxFileBytes: 1024, displayPath: 'linked-outside/shared-with-project.txt' });
      expect(read).toMatchObject({ kind: 'refused', cause: 'pathChanged' });
      expect(JSON.stringify(read)).not.toContain(outsideMarker);
      expect(await listDirectoryExactly(through)).toBeUndefined();
    } finally {
      await rm(through);
    }
  });
});

describe('a directory swapped for a symlink while the server reads', () => {
  // A separate process, so the swaps happen truly in parallel with the
  // server's event loop and its thread pool. It keeps `swapped` flipping
  // between a real folder and a symlink to a folder outside the workspace by
  // atomic renames, until its stdin closes (or, as a safety net, 120 s pass).
  const racerSource = String.raw`
    const { renameSync } = require('node:fs');
    const [swapped, realParked, linkParked] = process.argv.slice(1);
    const deadline = Date.now() + 120000;
    let stopping = false;
    let swaps = 0;
    process.stdin.on('end', () => { stopping = true; });
    process.stdin.resume();
    function burst() {
      for (let i = 0; i < 100; i++) {
        renameSync(swapped, realParked);
        renameSync(linkParked, swapped);
        renameSync(swapped, linkParked);
        renameSync(realParked, swapped);
        swaps++;
      }
      if (swaps === 100) process.stdout.write('racing\n');
      if (stopping || Date.now() > deadline) {
        process.stdout.write('swaps ' + swaps + '\n');
        process.exit(0);
      }
      setImmediate(burst);
    }
    burst();
  `;

  let raceRoot: string;
  let parking: string;

  beforeAll(async () => {
    raceRoot = join(base, 'race-project');
    parking = join(base, 'race-parking');
    await write(join(raceRoot, 'README.md'), '# Racing project\n');
    // Several files, so each listing of the swapped folder offers the search several chances to read through it.
    for (let n = 1; n <= 5; n++) {
      await write(join(raceRoot, 'swapped', `data-${n}.txt`), 'needle from inside the workspace\n');
      await write(join(base, 'race-outside', `data-${n}.txt`), `needle ${outsideMarker}\n`);
    }
    await write(join(base, 'race-outside', 'only-outside.txt'), `needle ${outsideMarker}\n`);
    await mkdir(parking, { recursive: true });
    await symlink(join(base, 'race-outside'), join(parking, 'link'));
  });

  interface Racer {
    /** Resolves once the racer has swapped the folder a first hundred times. */
    racing: Promise<void>;
    /** Stops it and resolves with how many times it swapped. */
    stop(): Promise<number>;
  }

  function startRacer(): Racer {
    const racer = spawn(process.execPath, ['-e', racerSource, join(raceRoot, 'swapped'), join(parking, 'real'), join(parking, 'link')], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolveExit) => racer.once('exit', () => resolveExit()));
    let output = '';
    const racing = new Promise<void>((resolveRacing, rejectRacing) => {
      racer.stdout.setEncoding('utf8');
      racer.stdout.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('racing\n')) resolveRacing();
      });
      racer.once('exit', (code) => rejectRacing(new Error(`the racer exited early (code ${code}): ${output}`)));
    });
    racing.catch(() => undefined);
    return {
      racing,
      stop: async () => {
        racer.stdin.end();
        await exited;
        return Number(/swaps (\d+)/.exec(output)?.[1] ?? 0);
      },
    };
  }

  it('never returns content from outside the workspace, over 300 reads and 200 searches', { timeout: 120_000 }, async () => {
    const racer = startRacer();
    const leaks: string[] = [];
    const seen = { insideReads: 0, refusedReads: 0, insideMatches: 0 };
    let swaps = 0;
    try {
      await racer.racing;
      const workspace = tools(raceRoot);
      for (let i = 0; i < 300; i++) {
        const read = await workspace.run('read_file', { path: 'swapped/data-1.txt' });
        if (everything(read).includes(outsideMarker)) leaks.push(`read_file #${i}: ${read.content}`);
        else if (read.isError) seen.refusedReads++;
        else seen.insideReads++;
      }
      for (let i = 0; i < 200; i++) {
        const search = await workspace.run('search_workspace', { query: 'needle' });
        if (everything(search).includes(outsideMarker)) leaks.push(`search_workspace #${i}: ${search.content}`);
        else if (search.content.includes('from inside the workspace')) seen.insideMatches++;
      }
    } finally {
      swaps = await racer.stop();
    }
    const searchLeaks = leaks.filter((leak) => leak.startsWith('search_workspace')).length;
    expect(leaks, `${leaks.length - searchLeaks} read_file and ${searchLeaks} search_workspace leaks; inside reads ${seen.insideReads}, refused ${seen.refusedReads}, inside matches ${seen.insideMatches}`).toEqual([]);
    // The race really ran alongside the reads (a safety property: how often each side won is not asserted).
    expect(swaps).toBeGreaterThanOrEqual(100);
    expect(seen.insideReads + seen.refusedReads).toBe(300);
  });

  it('never lists the names in the folder outside, over 300 listings', { timeout: 120_000 }, async () => {
    const racer = startRacer();
    const listedOutside: number[] = [];
    let listed = 0;
    let swaps = 0;
    try {
      await racer.racing;
      for (let i = 0; i < 300; i++) {
        const entries = await listDirectoryExactly(join(raceRoot, 'swapped'));
        if (entries === undefined) continue;
        listed++;
        if (entries.some((entry) => entry.name === 'only-outside.txt')) listedOutside.push(i);
      }
    } finally {
      swaps = await racer.stop();
    }
    expect(listedOutside, `listings ${listedOutside.join(', ')} showed the outside folder (${listed} of 300 listed)`).toEqual([]);
    expect(swaps).toBeGreaterThanOrEqual(100);
  });
});
