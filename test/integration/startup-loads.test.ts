/**
 * What the shipped server reads and loads before an editor gets its answer to
 * `initialize`. Speed itself is the start-up benchmark's (test/bench); these
 * pin the shape that keeps it: code only a model call needs stays unloaded,
 * and the bundle stays one byte a character for V8.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StatusResult } from '../../server/src/protocol.js';
import { repoRoot, TestClient } from '../support/lsp-client.js';

let folder: string;
let client: TestClient | undefined;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'efrit-startup-'));
});
afterEach(async () => {
  await client?.stop();
  client = undefined;
  rmSync(folder, { recursive: true, force: true });
});

/** Node's built-in modules and the files required by the server, as it exits. */
interface Loaded {
  builtins: string[];
  files: string[];
}

/** Runs the bin through initialize and one efrit/status, behind a proxy as a corporate user is, and lists what it loaded. */
async function loadedByStartUp(): Promise<Loaded> {
  const record = join(folder, 'loaded.json');
  const preload = join(folder, 'record-loaded.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify({ builtins: process.moduleLoadList.filter((name) => name.startsWith('NativeModule ')).map((name) => name.slice('NativeModule '.length)), files: Object.keys(require.cache) })));\n`,
  );
  client = await TestClient.start({
    env: { NODE_OPTIONS: `--require ${preload}`, HTTPS_PROXY: 'http://proxy.corp.example:3128', NO_PROXY: 'localhost,10.0.0.0/8,[::1]' },
  });
  await client.request<StatusResult>('efrit/status', {});
  await client.stop();
  return JSON.parse(readFileSync(record, 'utf8')) as Loaded;
}

describe('start-up', () => {
  it('answers initialize without loading TLS, HTTP, undici or any provider SDK: those wait for the first model call', async () => {
    const loaded = await loadedByStartUp();
    expect(loaded.builtins).toContain('net');
    expect(loaded.builtins.filter((name) => /^(tls|_tls_wrap|https?|_http_client|zlib)$/.test(name))).toEqual([]);
    expect(loaded.files.some((file) => file.endsWith('efrit-lsp.cjs'))).toBe(true);
    expect(loaded.files.filter((file) => file.includes('node_modules') || /(sdk|undici|ollama)\.cjs$/.test(file))).toEqual([]);
  });

  it('runs a bundle of ASCII only, so V8 holds its source one byte a character', () => {
    const bundle = readFileSync(join(repoRoot, 'dist', 'efrit-lsp-server.cjs'), 'latin1');
    const outside = [...bundle.matchAll(/[^\x00-\x7f]+/g)].slice(0, 3).map((match) => match.index);
    expect(outside).toEqual([]);
  });
});
