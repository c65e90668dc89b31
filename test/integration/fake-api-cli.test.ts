/** `npm run fake-api`: the developers' fake Messages API, run from the command line as the README shows. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/lsp-client.js';

const run = promisify(execFile);
const cli = join(repoRoot, 'dist', 'test', 'support', 'fake-anthropic', 'cli.js');

describe('the fake API command line', () => {
  it('prints its usage and options for --help and exits 0, without starting a server', async () => {
    const { stdout, stderr } = await run(process.execPath, [cli, '--help'], { timeout: 20_000 });
    expect(stdout).toContain('usage: fake-anthropic --port N');
    expect(stdout).toContain('--latency-ms');
    expect(stdout).toContain('ANTHROPIC_BASE_URL=http://127.0.0.1:N');
    expect(stdout).not.toContain('listening');
    expect(stderr).toBe('');
  });

  it('still refuses an unknown option with the usage line and exit code 1', async () => {
    await expect(run(process.execPath, [cli, '--colour', 'blue'], { timeout: 20_000 })).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("unknown option '--colour'") });
  });
});
