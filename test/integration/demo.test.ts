/**
 * `npm run demo` offline, as a newcomer runs it (the built script, no key):
 * every part of it runs, and its change across files really lands — the
 * function renamed in the three files that use it, the test file created —
 * after the review it prints. The same with `--provider openai` and
 * `--provider ollama`, through the server's other providers, their real
 * client libraries and their fakes: the demo model behind each works from
 * what the tools returned, so the change is the same.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/lsp-client.js';

const demoScript = join(repoRoot, 'dist', 'scripts', 'demo.js');

function runDemo(workspace: string, providerArgs: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // What would send each provider to a real endpoint instead of its fake.
  for (const name of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'OPENAI_API_KEY', 'OPENAI_BASE_URL', 'OLLAMA_HOST']) delete env[name];
  const child = spawn(process.execPath, [demoScript, ...providerArgs, '--workspace', workspace], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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

const providers = [
  { name: 'anthropic (the default)', args: [], fake: 'the bundled fake Anthropic API', model: 'claude-' },
  { name: 'openai', args: ['--provider', 'openai'], fake: 'the bundled fake Chat Completions API', model: 'openai:gpt-4.1' },
  { name: 'ollama', args: ['--provider', 'ollama'], fake: 'the bundled fake Ollama API', model: 'ollama:qwen2.5-coder:7b' },
];

describe.each(providers)('npm run demo, offline, provider $name', ({ args, fake, model }) => {
  it('runs every step and applies its change across files after showing the review', async () => {
    workspace = mkdtempSync(join(tmpdir(), 'efrit-demo-test-'));
    const { code, stdout, stderr } = await runDemo(workspace, args);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`running OFFLINE against ${fake}`);
    expect(stdout).toContain(`  model ${model}`);
    for (const part of ['code actions', 'run the fix', 'explain cartTotal', 'chat, two turns', 'a change across files, reviewed before it lands', 'review: 4 files', 'the file now', 'usage (efrit/status)']) {
      expect(stdout).toContain(part);
    }

    // The review came before the change, a diff per file, the created one against nothing.
    const review = stdout.slice(stdout.indexOf('review: 4 files'), stdout.indexOf('accept → workspace/executeCommand efrit.applyJob'));
    const listed = review.split('\n').filter((line) => /^ {2}(edit|create|rename|delete) /.test(line));
    expect(listed.map((line) => line.trim().split(/ +/))).toEqual([
      ['edit', 'src/cart.ts'],
      ['edit', 'src/checkout.ts'],
      ['edit', 'src/receipt.ts'],
      ['create', 'test/order-total.test.ts'],
    ]);
    expect(review).toContain('+++ b/src/receipt.ts');
    expect(review).toMatch(/--- \/dev\/null\s*\n\+\+\+ b\/test\/order-total\.test\.ts/);
    expect(stdout).toContain('efrit.applyJob answered {"applied":true}');

    const onDisk = (path: string): string => readFileSync(join(workspace as string, path), 'utf8');
    expect(onDisk('src/checkout.ts')).toBe(
      "// checkout.ts — what the customer pays.\nimport { orderTotal, type LineItem } from './cart.js';\n\nexport function amountDue(items: LineItem[]): number {\n  return orderTotal(items, 0.2);\n}\n",
    );
    expect(onDisk('src/receipt.ts')).toContain("import { orderTotal, formatTotal, type LineItem } from './cart.js';");
    expect(onDisk('src/receipt.ts')).toContain('  const net = orderTotal(items, 0);\n  const gross = orderTotal(items, 0.2);\n');
    expect(onDisk('src/receipt.ts')).not.toContain('cartTotal');
    expect(existsSync(join(workspace, 'test/order-total.test.ts'))).toBe(true);
    expect(onDisk('test/order-total.test.ts')).toContain("import { orderTotal } from '../src/cart.js';");
    expect(onDisk('test/order-total.test.ts')).toContain('expect(orderTotal([], 0.2)).toEqual(orderTotal([], 0.2));');
    // The cart is open in the demo's editor: its rename is in the buffer (the final diff), not saved to disk.
    expect(stdout).toMatch(/\+export function orderTotal\(items: LineItem\[\], taxRate: number\): number \{/);
  });
});
