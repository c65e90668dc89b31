/**
 * check — the round trip of checking a proposal with the wrapped language
 * server (a 2,000-line TypeScript file and the same file with one type error
 * added, at two shadow documents at once: what `efrit/do` waits for before a
 * proposal goes on), against the same server's diagnostics for a plain edit
 * from the editor (the same one-line change typed into the open file, timed
 * from the didChange to the first publishDiagnostics that shows the error).
 *
 * Run in-process: the real proxy router and WrappedServerLink around a real
 * typescript-language-server (a devDependency) driving the repository's
 * tsserver; the editor and efrit-lsp's server are in-memory ends. The two are
 * alternated, plain edit first, then a check, and reported as medians.
 * Skipped when typescript-language-server is not installed.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Message, NotificationMessage, RequestMessage, ResponseMessage } from 'vscode-languageserver/node';
import { DocumentStore } from '../../../server/src/documents/document-store.js';
import { createDocumentSync } from '../../../server/src/features/document-sync.js';
import { spawnWrappedServer } from '../../../server/src/proxy/child.js';
import { memoryLink } from '../../../server/src/proxy/memory-transport.js';
import { ProxyRouter } from '../../../server/src/proxy/router.js';
import { WrappedServerLink } from '../../../server/src/proxy/wrapped-server-link.js';
import { repoRoot } from '../../support/lsp-client.js';
import { fixed, median, type Scenario, type ScenarioContext, type ScenarioResult } from '../scenario.js';

const cli = join(repoRoot, 'node_modules', 'typescript-language-server', 'lib', 'cli.mjs');
const tsserver = join(repoRoot, 'node_modules', 'typescript', 'lib', 'tsserver.js');

/** 2,000 lines of plain TypeScript: small typed functions and constants. */
function bigFile(): { text: string; clean: string; broken: string } {
  const lines: string[] = [];
  for (let i = 0; lines.length < 1990; i++) {
    lines.push(`export function scale_${i}(value: number, factor: number): number {`, `  return value * factor + ${i};`, '}', '', `export const value_${i}: number = scale_${i}(${i}, 2);`, '');
  }
  const text = `${lines.slice(0, 2000).join('\n')}\n`;
  return { text, clean: 'export const value_17: number = scale_17(17, 2);', broken: 'export const value_17: string = scale_17(17, 2);' };
}

const typeError = 2322;

export const checkScenario: Scenario = {
  name: 'check',
  description: 'proposal check: a 2,000-line TypeScript file at shadow documents through typescript-language-server vs its diagnostics for the same edit typed in the editor',
  async run(context: ScenarioContext): Promise<ScenarioResult> {
    if (!existsSync(cli) || !existsSync(tsserver)) {
      context.progress('typescript-language-server is not installed (npm install): skipped');
      return { tables: [{ title: 'check — skipped: typescript-language-server is not installed', columns: [{ header: 'what', align: 'left' }], rows: [] }], summary: { skipped: true }, raw: {}, goals: [] };
    }
    const rounds = context.quick ? 3 : 12;
    const workspace = mkdtempSync(join(tmpdir(), 'efrit-bench-check-'));
    mkdirSync(join(workspace, 'src'));
    writeFileSync(join(workspace, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, target: 'es2022', module: 'nodenext', noEmit: true }, include: ['src'] }));
    const big = bigFile();
    writeFileSync(join(workspace, 'src', 'big.ts'), big.text);
    const uri = pathToFileURL(join(workspace, 'src', 'big.ts')).href;

    const documents = new DocumentStore();
    const [editorOuter, editorInner] = memoryLink();
    const [efritOuter, efritInner] = memoryLink();
    const child = spawnWrappedServer(process.execPath, [cli, '--stdio']);
    const link = new WrappedServerLink();
    let exited = false;
    new ProxyRouter({ editor: editorInner, efrit: efritInner, documents: { documents, sync: createDocumentSync(documents) }, child, link, exit: () => (exited = true) });
    // efrit-lsp's end: it has nothing to say here but its initialize and shutdown answers.
    efritOuter.reader.listen((message: Message) => {
      const request = message as RequestMessage;
      if (request.id !== undefined && request.method !== undefined) void efritOuter.writer.write({ jsonrpc: '2.0', id: request.id, result: request.method === 'initialize' ? { capabilities: {} } : null } as ResponseMessage);
    });
    const publishes: { at: bigint; codes: unknown[] }[] = [];
    const answers = new Map<number, (response: ResponseMessage) => void>();
    editorOuter.reader.listen((message: Message) => {
      const notification = message as NotificationMessage;
      const response = message as ResponseMessage;
      if (notification.method === 'textDocument/publishDiagnostics') {
        const params = notification.params as { uri: string; diagnostics: { code?: unknown }[] };
        if (params.uri === uri) publishes.push({ at: process.hrtime.bigint(), codes: params.diagnostics.map((d) => d.code) });
      } else if (notification.method !== undefined && (message as RequestMessage).id !== undefined) {
        void editorOuter.writer.write({ jsonrpc: '2.0', id: (message as RequestMessage).id, result: null } as ResponseMessage);
      } else if (typeof response.id === 'number') answers.get(response.id)?.(response);
    });
    const ask = (id: number, method: string, params: unknown) =>
      new Promise<ResponseMessage>((resolve) => {
        answers.set(id, resolve);
        void editorOuter.writer.write({ jsonrpc: '2.0', id, method, params } as RequestMessage);
      });
    const notify = (method: string, params: unknown) => void editorOuter.writer.write({ jsonrpc: '2.0', method, params } as NotificationMessage);
    const until = async (predicate: () => boolean, what: string) => {
      const deadline = Date.now() + 120_000;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`check: timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };

    const plainMs: number[] = [];
    const checkMs: number[] = [];
    try {
      const root = pathToFileURL(workspace).href;
      await ask(1, 'initialize', {
        processId: process.pid,
        rootUri: root,
        workspaceFolders: [{ uri: root, name: 'bench' }],
        capabilities: { textDocument: { publishDiagnostics: {} } },
        initializationOptions: { tsserver: { path: tsserver } },
      });
      notify('initialized', {});
      let version = 1;
      let text = big.text;
      notify('textDocument/didOpen', { textDocument: { uri, languageId: 'typescript', version, text } });
      await until(() => publishes.length > 0, 'tsserver to load the project and check the file');
      context.progress('project loaded');

      const edit = (from: string, to: string) => {
        const offset = text.indexOf(from);
        const before = text.slice(0, offset);
        const line = before.split('\n').length - 1;
        text = text.replace(from, to);
        notify('textDocument/didChange', {
          textDocument: { uri, version: ++version },
          contentChanges: [{ range: { start: { line, character: 0 }, end: { line, character: from.length } }, text: to }],
        });
      };
      for (let round = -1; round < rounds; round++) {
        // A plain edit: the error typed in, then the first publish that shows it; then typed away again (untimed).
        const seen = publishes.length;
        const started = process.hrtime.bigint();
        edit(big.clean, big.broken);
        await until(() => publishes.slice(seen).some((p) => p.codes.includes(typeError)), 'the plain edit\'s diagnostics');
        const shown = publishes.slice(seen).find((p) => p.codes.includes(typeError)) as { at: bigint };
        const after = publishes.length;
        edit(big.broken, big.clean);
        await until(() => publishes.slice(after).some((p) => !p.codes.includes(typeError)), 'the edit undone');

        // The check: the file as it is and as the proposal would leave it, at two shadows at once.
        const checkStarted = process.hrtime.bigint();
        const [beforeDiagnostics, afterDiagnostics] = await link.diagnosticsOfTexts({ uri, languageId: 'typescript', texts: [text, text.replace(big.clean, big.broken)] }, new AbortController().signal);
        const checked = process.hrtime.bigint();
        if (beforeDiagnostics?.some((d) => d.code === typeError) !== false || afterDiagnostics?.some((d) => d.code === typeError) !== true) {
          throw new Error(`check: the shadows' diagnostics are not what the texts hold: ${JSON.stringify([beforeDiagnostics, afterDiagnostics]).slice(0, 300)}`);
        }
        // The first round warms both paths up (tsserver builds the shadows' project the first time).
        if (round >= 0) {
          plainMs.push(Number(shown.at - started) / 1e6);
          checkMs.push(Number(checked - checkStarted) / 1e6);
        }
        context.progress(`round ${round + 1}/${rounds}`);
      }
    } finally {
      notify('exit', undefined);
      await until(() => exited, 'the router to stop the server').catch(() => child.killNow());
      rmSync(workspace, { recursive: true, force: true });
    }
    const plain = median(plainMs);
    const check = median(checkMs);
    const quietMs = 750;
    const ratio = check / plain;
    return {
      tables: [
        {
          title: `check — a 2,000-line TypeScript file: proposal checked at shadows vs the same edit typed in the editor, median of ${rounds} (ms)`,
          columns: [{ header: 'what', align: 'left' }, { header: 'median ms' }, { header: 'min ms' }, { header: 'max ms' }],
          rows: [
            ['plain edit: didChange → first publish showing the error', fixed(plain), fixed(Math.min(...plainMs)), fixed(Math.max(...plainMs))],
            ['check: both shadows opened → diagnostics taken', fixed(check), fixed(Math.min(...checkMs)), fixed(Math.max(...checkMs))],
            [`check without the ${quietMs} ms quiet wait`, fixed(check - quietMs), '', ''],
            ['ratio check / plain (goal ≤ 1.2)', fixed(ratio, 2), '', ''],
          ],
          notes: [
            `A shadow's diagnostics are taken once typescript-language-server has published and then stayed quiet for ${quietMs} ms (it publishes syntax, semantic and suggestion diagnostics in turn, and LSP has no "done"); a server with pull diagnostics answers at once instead.`,
            'The plain edit is timed to the first publish that shows the error, which is before the server is done too (suggestion diagnostics follow).',
          ],
        },
      ],
      summary: { plainMedianMs: plain, checkMedianMs: check, ratio },
      raw: { plainMs, checkMs },
      goals: [{ name: 'check round trip vs a plain edit, median', goal: '≤ 1.2×', actual: `${fixed(ratio, 2)}×`, met: ratio <= 1.2 }],
    };
  },
};
