/**
 * The package as a user installs it: `npm pack`, then `npm install -g` of the
 * tarball into an empty prefix, with no registry reachable, then the
 * installed `efrit-lsp` started from a folder that has nothing to do with the
 * checkout. Then every command README.md tells an editor to run, started the
 * same way.
 *
 * npm runs with its own cache and config in a temporary folder, `--offline`
 * and a registry address nothing listens on: the install must not need the
 * network at all. The tarball is packed with `--ignore-scripts` from the
 * `dist/` that `npm run build` made before the tests (packing otherwise
 * rebuilds it, which is the same build).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createProtocolConnection,
  ExitNotification,
  InitializedNotification,
  InitializeRequest,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  type InitializeResult,
} from 'vscode-languageserver-protocol/node';
import type { ChatResult, StatusResult } from '../../server/src/protocol.js';
import { shouldRunEditorTests } from '../clients/editors.js';
import { readmeBlocks, readmeServerCommands, type ReadmeCommand } from '../support/readme-snippets.js';
import { startFakeOllama } from '../support/fake-ollama/server.js';
import { startFakeOpenAI } from '../support/fake-openai/server.js';
import { repoRoot, TestClient } from '../support/lsp-client.js';

const run = promisify(execFile);
/** npm pack and install take 30–60 s on a loaded two-core machine; the budget is for that, not a speed goal. */
const npmBudgetMs = 240_000;

let scratch: string;
let prefix: string;
let elsewhere: string;
let packedFiles: string[];
let tarball: string;

function npm(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    npm_config_cache: join(scratch, 'npm-cache'),
    npm_config_userconfig: join(scratch, 'npmrc'),
    npm_config_globalconfig: join(scratch, 'npmrc-global'),
    // Nothing listens there: a request to the registry fails at once instead of reaching the network.
    npm_config_registry: 'http://127.0.0.1:9/',
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
  };
  return run('npm', args, { cwd: repoRoot, env, timeout: npmBudgetMs, maxBuffer: 16 * 1024 * 1024 });
}

/** PATH as an editor started by the user has it, with an install's bin folder first and this Node on it. */
function pathWithInstall(installedPrefix = prefix): string {
  return [join(installedPrefix, 'bin'), dirname(process.execPath), process.env['PATH'] ?? ''].join(delimiter);
}

interface Started {
  initialize: InitializeResult;
  status: StatusResult;
  exitCode: number | null;
  stderr: string;
}

/** Starts `command` as an editor would (cwd: a folder unrelated to the checkout), initializes, asks the status, shuts down. */
async function startAsAnEditorWould(command: ReadmeCommand, installedPrefix = prefix): Promise<Started> {
  const [file, ...args] = command.argv;
  if (file === undefined) throw new Error(`empty command from ${command.source}`);
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: pathWithInstall(installedPrefix), ...command.env };
  for (const key of ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_AUTH_TOKEN', 'EFRIT_OFFLINE']) if (!(key in command.env)) delete env[key];
  const child = spawn(file, args, { cwd: elsewhere, env, stdio: 'pipe' });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
  const connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  connection.listen();
  try {
    const initialize = await Promise.race([
      connection.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, capabilities: {}, clientInfo: { name: 'install-test' } }),
      exited.then((code) => {
        throw new Error(`${command.source}: the server exited with ${String(code)} before answering initialize: ${stderr}`);
      }),
    ]);
    await connection.sendNotification(InitializedNotification.type, {});
    const status = await connection.sendRequest<StatusResult>('efrit/status', {});
    await connection.sendRequest(ShutdownRequest.type);
    await connection.sendNotification(ExitNotification.type);
    return { initialize, status, exitCode: await exited, stderr };
  } finally {
    connection.dispose();
    child.kill();
  }
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'efrit-install-'));
  prefix = join(scratch, 'prefix');
  elsewhere = join(scratch, 'some-project');
  mkdirSync(join(prefix, 'lib'), { recursive: true });
  mkdirSync(elsewhere);
  writeFileSync(join(elsewhere, 'main.py'), 'print("not the checkout")\n');
  writeFileSync(join(scratch, 'npmrc'), '');
  writeFileSync(join(scratch, 'npmrc-global'), '');
  const packed = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', scratch]);
  const [report] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  if (report === undefined) throw new Error(`npm pack reported nothing: ${packed.stderr}`);
  packedFiles = report.files.map((file) => file.path).sort();
  tarball = join(scratch, report.filename);
  await npm(['install', '--global', '--prefix', prefix, '--offline', tarball]);
}, npmBudgetMs * 2);

afterAll(() => {
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds the bin, the server, SDK and undici bundles, the code cache, the Emacs and Neovim clients, LICENSE and README', () => {
    expect(tarball).toMatch(/efrit-lsp-\d+\.\d+\.\d+\.tgz$/);
    expect(packedFiles).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'package.json',
        'dist/efrit-lsp.cjs',
        'dist/efrit-lsp.js',
        'dist/efrit-lsp-server.cjs',
        'dist/anthropic-sdk.cjs',
        'dist/openai-sdk.cjs',
        'dist/ollama.cjs',
        // Loaded on the first call through a proxy or with tls.caFile (server/src/model/network.ts).
        'dist/undici.cjs',
        // With the AWS credential chain and signer: loaded on the first call to a bedrock: model only.
        'dist/bedrock-sdk.cjs',
        // With google-auth-library: loaded on the first call to a vertex: model only.
        'dist/vertex-sdk.cjs',
        'clients/emacs/efrit-lsp.el',
        'clients/neovim/lua/efrit/init.lua',
      ]),
    );
    expect(packedFiles.filter((path) => /^dist\/efrit-lsp-server\.[0-9a-f]{16}\.cache$/.test(path))).toHaveLength(1);
  });

  it('holds every bundle the server loads on first use (a provider\'s library, undici), as the installed server names them', () => {
    const installedDist = join(prefix, 'lib', 'node_modules', 'efrit-lsp', 'dist');
    const server = readFileSync(join(installedDist, 'efrit-lsp-server.cjs'), 'utf8');
    // esbuild writes each lazily loaded bundle as a require() of a file beside the server (scripts/server-bundle.ts).
    const loaded = [...new Set([...server.matchAll(/require\("\.\/([\w.-]+\.cjs)"\)/g)].map((match) => `dist/${match[1] as string}`))].sort();
    expect(loaded).toEqual(expect.arrayContaining(['dist/anthropic-sdk.cjs', 'dist/bedrock-sdk.cjs', 'dist/ollama.cjs', 'dist/openai-sdk.cjs', 'dist/undici.cjs', 'dist/vertex-sdk.cjs']));
    expect(loaded.filter((path) => !packedFiles.includes(path))).toEqual([]);
    expect(loaded.filter((path) => !existsSync(join(installedDist, path.slice('dist/'.length))))).toEqual([]);
  });

  it('holds no tests, sources, source maps, build scripts, VS Code sources or secrets', () => {
    const unwanted = packedFiles.filter(
      (path) =>
        /(^|\/)(test|tests|spec)(\/|$)|[-_.](test|spec)\.(ts|js|el|lua)$/.test(path) ||
        /\.(ts|map|tsbuildinfo)$/.test(path) ||
        /^(server|scripts|docs|\.ci)\//.test(path) ||
        path.startsWith('clients/vscode/') ||
        /(^|\/)(\.env|\.npmrc|id_rsa|.*\.pem|.*\.key)$/.test(path),
    );
    expect(unwanted).toEqual([]);
  });

  it('declares no runtime dependencies: everything it runs is in dist/, so installing it asks no registry', () => {
    const manifest = JSON.parse(readFileSync(join(prefix, 'lib', 'node_modules', 'efrit-lsp', 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest['dependencies'] ?? {}).toEqual({});
    expect(manifest['bin']).toEqual({ 'efrit-lsp': 'dist/efrit-lsp.cjs' });
    expect(readdirSync(join(prefix, 'lib', 'node_modules', 'efrit-lsp'))).not.toContain('node_modules');
  });
});

describe('efrit-lsp installed globally from the tarball', () => {
  it('is on PATH as <prefix>/bin/efrit-lsp, a copy that does not lead back into the checkout', () => {
    const bin = join(prefix, 'bin', 'efrit-lsp');
    expect(lstatSync(bin).isSymbolicLink() || lstatSync(bin).isFile()).toBe(true);
    expect(realpathSync(bin).startsWith(realpathSync(prefix))).toBe(true);
  });

  it('starts with --stdio from an unrelated folder, initializes, reports its status and shuts down cleanly', async () => {
    const started = await startAsAnEditorWould({ source: 'the installed bin', argv: [join(prefix, 'bin', 'efrit-lsp'), '--stdio'], env: {} });
    expect(started.initialize.serverInfo?.name).toBe('efrit-lsp');
    expect(started.initialize.capabilities.codeActionProvider).toBeTruthy();
    expect(started.initialize.capabilities.executeCommandProvider?.commands).toEqual(expect.arrayContaining(['efrit.runAction']));
    expect(started.status.apiKeyConfigured).toBe(false);
    // The code cache built with this Node travels in the package and is taken, wherever the package lands.
    expect(started.status.codeCache).toBe('used');
    expect(started.exitCode).toBe(0);
  });

  it.each([
    { provider: 'ollama', model: 'ollama:qwen2.5-coder:7b' },
    { provider: 'openai', model: 'openai:gpt-4.1' },
  ])('answers a chat with an $model model, its client library loaded from the package', async ({ provider, model }) => {
    const key = 'sk-proj-install-test-0000';
    const fake = provider === 'ollama' ? await startFakeOllama() : await startFakeOpenAI({ apiKey: key });
    fake.queueReplies({ text: `Hello through ${provider}.` });
    const client = await TestClient.start({
      entry: join(prefix, 'lib', 'node_modules', 'efrit-lsp', 'dist', 'efrit-lsp.cjs'),
      workspaceFolder: elsewhere,
      initializationOptions: { model, fastModel: model, [provider]: { baseURL: fake.baseURL } },
      env: { OLLAMA_HOST: undefined, OPENAI_BASE_URL: undefined, OPENAI_API_KEY: key },
    });
    try {
      const chat = await client.request<ChatResult>('efrit/chat', { message: 'Are you there?' });
      expect(chat.reply).toBe(`Hello through ${provider}.`);
      expect(fake.requests).toHaveLength(1);
    } finally {
      await client.stop();
      await fake.close();
    }
  });

  it('prints its version and usage from an unrelated folder (no LSP)', async () => {
    const env = { ...process.env, PATH: pathWithInstall() };
    const version = await run('efrit-lsp', ['--version'], { cwd: elsewhere, env });
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version);
    const help = await run('efrit-lsp', ['--help'], { cwd: elsewhere, env });
    expect(help.stdout).toContain('efrit-lsp --stdio');
  });
});

describe('every server command README.md gives an editor', () => {
  const commands = readmeServerCommands(readFileSync(join(repoRoot, 'README.md'), 'utf8'));

  it('is found in each snippet: eglot, lsp-mode, Neovim, Helix and the shell lines', () => {
    const sources = new Set(commands.map((command) => command.source.split(' ')[0]));
    expect([...sources].sort()).toEqual(expect.arrayContaining(['elisp', 'lua', 'sh', 'toml']));
    for (const command of commands) expect(command.argv[0]).not.toBe('npx');
  });

  it.each(commands.map((command) => [command.source, command] as const))('%s starts the installed server from an unrelated folder', async (_source, command) => {
    const started = await startAsAnEditorWould(command);
    expect(started.initialize.serverInfo?.name).toBe('efrit-lsp');
    expect(started.status.offline).toBe(command.argv.includes('--offline') || command.env['EFRIT_OFFLINE'] === '1');
    expect(started.exitCode).toBe(0);
  });
});

describe.skipIf(!shouldRunEditorTests('emacs'))("README's eglot snippet under emacs -Q", () => {
  it('loads eglot and the installed client, and sets the server command, as written (with /path/to/efrit-lsp the installed package)', async () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const snippet = readmeBlocks(readme, 'elisp').find((block) => block.includes("(require 'efrit-lsp)"));
    if (snippet === undefined) throw new Error("README has no Emacs Lisp block that requires 'efrit-lsp");
    const init = join(scratch, 'init.el');
    writeFileSync(init, `${snippet.replaceAll('/path/to/efrit-lsp', join(prefix, 'lib', 'node_modules', 'efrit-lsp'))}\n`);
    const report = "(princ (format \"eglot:%s server:%S\" (featurep 'eglot) efrit-lsp-server-command))";
    const { stdout } = await run('emacs', ['-Q', '--batch', '-l', init, '--eval', report], { cwd: elsewhere, timeout: 60_000 });
    expect(stdout).toBe('eglot:t server:("efrit-lsp" "--stdio")');
  });
});

describe.skipIf(!shouldRunEditorTests('nvim'))("README's Neovim snippet", () => {
  it('starts efrit-lsp from PATH for a Python file in an unrelated folder, as written (with /path/to/efrit-lsp the installed package)', async () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const snippet = readmeBlocks(readme, 'lua').find((block) => block.includes("require('efrit').setup"));
    if (snippet === undefined) throw new Error("README has no Lua block that calls require('efrit').setup");
    const init = join(scratch, 'init.lua');
    writeFileSync(init, `${snippet.replaceAll('/path/to/efrit-lsp', join(prefix, 'lib', 'node_modules', 'efrit-lsp'))}\n`);
    const check = join(scratch, 'check.lua');
    writeFileSync(
      check,
      [
        "vim.cmd('edit main.py')",
        'vim.wait(60000, function()',
        '  for _, client in pairs(vim.lsp.get_active_clients()) do if client.initialized then return true end end',
        '  return false',
        'end, 50)',
        "for _, client in pairs(vim.lsp.get_active_clients()) do io.stdout:write(client.name .. ' ' .. table.concat(client.config.cmd, ' ') .. ' ' .. tostring(client.initialized) .. '\\n') end",
        "vim.cmd('qa!')",
      ].join('\n'),
    );
    const { stdout } = await run('nvim', ['--headless', '-u', init, '-c', `luafile ${check}`], { cwd: elsewhere, env: { ...process.env, PATH: pathWithInstall() }, timeout: 90_000 });
    expect(stdout.trim()).toBe('efrit efrit-lsp --stdio true');
  });
});

describe('npm install -g of the checkout', () => {
  it('links efrit-lsp onto PATH, and it starts from an unrelated folder', async () => {
    const linkedPrefix = join(scratch, 'linked-prefix');
    mkdirSync(join(linkedPrefix, 'lib'), { recursive: true });
    // --ignore-scripts: the checkout's dist/ is already built for the tests, and prepare would rebuild it under them.
    await npm(['install', '--global', '--prefix', linkedPrefix, '--offline', '--ignore-scripts', repoRoot]);
    // A link to the checkout, not a copy: a rebuild is picked up without installing again.
    expect(realpathSync(join(linkedPrefix, 'lib', 'node_modules', 'efrit-lsp'))).toBe(realpathSync(repoRoot));
    const started = await startAsAnEditorWould({ source: 'linked install', argv: ['efrit-lsp', '--stdio'], env: {} }, linkedPrefix);
    expect(started.initialize.serverInfo?.name).toBe('efrit-lsp');
    expect(started.exitCode).toBe(0);
  }, npmBudgetMs);
});
