/**
 * The bin starts the bundled server from V8's code cache (see
 * server/src/launcher.ts). These tests run a copy of the built bin in a
 * folder of its own, as an install would have it.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StatusResult } from '../../server/src/protocol.js';
import { eventually } from '../support/eventually.js';
import { repoRoot, TestClient } from '../support/lsp-client.js';

const dist = join(repoRoot, 'dist');
let install: string;
let client: TestClient | undefined;

beforeEach(() => {
  install = mkdtempSync(join(tmpdir(), 'efrit-install-'));
  for (const file of ['efrit-lsp.cjs', 'efrit-lsp-server.cjs']) copyFileSync(join(dist, file), join(install, file));
  writeFileSync(join(install, 'package.json'), JSON.stringify({ name: 'efrit-lsp', version: '9.8.7', type: 'module' }));
});
afterEach(async () => {
  await client?.stop();
  client = undefined;
  rmSync(install, { recursive: true, force: true });
});

const cachesIn = (folder: string): string[] => readdirSync(folder).filter((name) => name.endsWith('.cache'));

describe('the code cache', () => {
  it('is made by the build, named after the bundle it belongs to', () => {
    const built = cachesIn(dist);
    expect(built).toHaveLength(1);
    expect(built[0]).toMatch(/^efrit-lsp-server\.[0-9a-f]{16}\.cache$/);
    expect(readFileSync(join(dist, 'efrit-lsp.cjs'), 'utf8')).toContain(built[0]?.split('.')[1]);
  });

  it('is written by a server that started without one, and used by the next', async () => {
    client = await TestClient.start({ entry: join(install, 'efrit-lsp.cjs') });
    expect(client.initializeResult.serverInfo?.version).toBe('9.8.7');
    expect((await client.request<StatusResult>('efrit/status', {})).codeCache).toBe('missing');
    await eventually(() => (cachesIn(install).length > 0 ? true : undefined), 'the cache to be written', 30_000);
    expect(cachesIn(install)).toEqual(cachesIn(dist));
    await client.stop();

    client = await TestClient.start({ entry: join(install, 'efrit-lsp.cjs') });
    expect((await client.request<StatusResult>('efrit/status', {})).codeCache).toBe('used');
    expect(client.stderr).toBe('');
  });

  it('is replaced when V8 refuses it, and the server starts all the same', async () => {
    const name = cachesIn(dist)[0] as string;
    writeFileSync(join(install, name), 'not bytecode at all');
    client = await TestClient.start({ entry: join(install, 'efrit-lsp.cjs') });
    expect((await client.request<StatusResult>('efrit/status', {})).codeCache).toBe('rejected');
    await eventually(() => (statSync(join(install, name)).size > 1_000 ? true : undefined), 'the refused cache to be replaced', 30_000);
    expect(statSync(join(install, name)).size).toBeGreaterThan(100_000);
    expect(existsSync(join(install, `${name}.${client.child.pid}.tmp`))).toBe(false);
  });
});
