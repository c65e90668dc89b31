/**
 * `npm run demo` offline, as a newcomer runs it (the built script, no key):
 * every part of it runs, and its change across files really lands — the
 * function renamed in the three files that use it, the test file created —
 * after the review it prints.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/lsp-client.js';

const demoScript = join(repoRoot, 'dist', 'scripts', 'demo.js');

function runDemo(workspace: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['ANTHROPIC_API_KEY'];
  delete env['ANTHROPIC_BASE_URL'];
  const child = spawn(process.execPath, [demoScript, '--workspace', workspace], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

let workspace: string | undefined;
afterEach(() => {
  if (workspace !== undefined) rmSync(workspace, { recursive: true, force: true });
  workspace = undefined;
});

describe('npm run demo, offline', () => {
  it('runs every step and applies its change across files after showing the review', async () => {
    workspace = mkdtempSync(join(tmpdir(), 'efrit-demo-test-'));
    const { code, stdout, stderr } = await runDemo(workspace);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('running OFFLINE');
    for (const part of ['code actions', 'run the fix', 'explain cartTotal', 'chat, two turns', 'a change across files, reviewed before it lands', 'review: 4 files', 'the file now', 'usage (efrit/status)']) {
      expect(stdout).toContain(part);
    }

    // The review came before the change, a diff per file, the created one against nothing.
    const review = stdout.slice(stdout.indexOf('review: 4 files'), stdout.indexOf('accept → workspace/executeCommand efrit.applyJob'));
    expect(review).toMatch(/ edit +src\/checkout\.ts/);
    expect(review).toMatch(/ create +test\/order-total\.test\.ts/);
    expect(review).toContain('+++ b/src/receipt.ts');
    expect(review).toMatch(/--- \/dev\/null\s*\n\+\+\+ b\/test\/order-total\.test\.ts/);
    expect(stdout).toContain('efrit.applyJob answered {"applied":true}');

    const onDisk = (path: string): string => readFileSync(join(workspace as string, path), 'utf8');
    expect(onDisk('src/checkout.ts')).toContain('return orderTotal(items, 0.2);');
    expect(onDisk('src/receipt.ts')).toContain("import { orderTotal, formatTotal, type LineItem } from './cart.js';");
    expect(onDisk('src/receipt.ts')).not.toContain('cartTotal');
    expect(existsSync(join(workspace, 'test/order-total.test.ts'))).toBe(true);
    expect(onDisk('test/order-total.test.ts')).toContain("import { orderTotal } from '../src/cart.js';");
    // The cart is open in the demo's editor: its rename is in the buffer (the final diff), not saved to disk.
    expect(stdout).toMatch(/\+export function orderTotal\(items: LineItem\[\], taxRate: number\): number \{/);
  });
});
