/**
 * check — the round trip of checking a proposal with the wrapped language
 * server (a 2,000-line TypeScript file and the same file with one type error
 * added, at two shadow documents at once: what `efrit/do` waits for before a
 * proposal goes on), against the same server's diagnostics for a plain edit
 * from the editor (the same one-line change typed into the open file, timed
 * from the didChange to the first publishDiagnostics that shows the error).
 *
 * typescript-language-server is asked for the shadows' diagnostics (the
 * tsserver pass-through it declares; see proxy/tsserver-diagnostics.ts), and
 * shadows stay open between checks (proxy/warm-shadows.ts), so three checks
 * are timed in each round, each proposing a different text:
 * - cold: no shadow open (every shadow closed first), as the first check of
 *   a job would be without the warm-up;
 * - after the warm-up: the file's current text was put at a shadow when the
 *   job started (`ProposalChecker.prepare`), and the check comes after the
 *   model has written its proposal. The model's writing is MODELLED here as a
 *   2,000 ms pause (`modelWritesMs`) between the warm-up and the check (a real
 *   `propose_edits` takes seconds to stream); the warm-up is the server's work
 *   during that pause, not counted in the check;
 * - repeat: the next proposal for the same file (the agent fixing its change),
 *   both shadows open from the check before; the model's writing of the fix
 *   is MODELLED by the same pause. Back to back, with no pause, the check
 *   would share tsserver with typescript-language-server's own re-check of
 *   every open file (shadows included) that the previous check's didChange
 *   set off after its 300 ms debounce.
 *
 * The baseline (the plain edit) is timed with no shadow open, as the editor
 * has it outside the agent's jobs; it is timed again with the shadows open,
 * to show what they cost the user meanwhile (typescript-language-server
 * checks every open file after an edit, shadows included).
 *
 * Run in-process: the real proxy router and WrappedServerLink around a real
 * typescript-language-server (a devDependency) driving the repository's
 * tsserver; the editor and efrit-lsp's server are in-memory ends. The plain
 * edit and the three checks alternate in each round, and are reported as
 * medians. Skipped when typescript-language-server is not installed.
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
/** How long the model is taken to write its proposal, between the warm-up and the check (see the top of this file). */
const modelWritesMs = 2000;
/** A pause after closing shadows, before the plain edit is timed: the server re-checks the open files on a close. */
const settleMs = 1000;

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
    const coldMs: number[] = [];
    const warmedMs: number[] = [];
    const repeatMs: number[] = [];
    const plainWhileOpenMs: number[] = [];
    let proposals = 2;
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
      /** A plain edit: the error typed in, timed to the first publish that shows it; then typed away again (untimed). */
      const plainEdit = async () => {
        const seen = publishes.length;
        const started = process.hrtime.bigint();
        edit(big.clean, big.broken);
        await until(() => publishes.slice(seen).some((p) => p.codes.includes(typeError)), "the plain edit's diagnostics");
        const shown = publishes.slice(seen).find((p) => p.codes.includes(typeError)) as { at: bigint };
        const after = publishes.length;
        edit(big.broken, big.clean);
        await until(() => publishes.slice(after).some((p) => !p.codes.includes(typeError)), 'the edit undone');
        return Number(shown.at - started) / 1e6;
      };
      /** The check: the file as it is and as the proposal would leave it, at two shadows at once; each proposal a new text. */
      const check = async () => {
        proposals += 1;
        const proposed = text.replace(big.clean, big.broken.replace('(17, 2)', `(17, ${proposals})`));
        const started = process.hrtime.bigint();
        const [beforeDiagnostics, afterDiagnostics] = await link.diagnosticsOfTexts({ uri, languageId: 'typescript', texts: [text, proposed] }, new AbortController().signal);
        const checked = process.hrtime.bigint();
        if (beforeDiagnostics?.some((d) => d.code === typeError) !== false || afterDiagnostics?.some((d) => d.code === typeError) !== true) {
          throw new Error(`check: the shadows' diagnostics are not what the texts hold: ${JSON.stringify([beforeDiagnostics, afterDiagnostics]).slice(0, 300)}`);
        }
        return Number(checked - started) / 1e6;
      };
      const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      for (let round = -1; round < rounds; round++) {
        // The baseline with no shadow open, as the editor has it outside the agent's jobs (closing them makes the server re-check the open files: let it finish).
        link.closeShadows();
        await pause(settleMs);
        const plain = await plainEdit();
        const cold = await check();
        link.closeShadows();
        link.warmShadows({ uri, languageId: 'typescript', texts: [text] });
        await pause(modelWritesMs);
        const warmed = await check();
        // The model writes its fix (modelled as the same pause); typescript-language-server's own re-check of the open files, shadows included, runs meanwhile.
        await pause(modelWritesMs);
        const repeat = await check();
        // What keeping shadows open costs the user meanwhile: the server checks them too after each edit.
        const plainWhileOpen = await plainEdit();
        // The first round warms both paths up (tsserver loads, the first project is built).
        if (round >= 0) {
          plainMs.push(plain);
          coldMs.push(cold);
          warmedMs.push(warmed);
          repeatMs.push(repeat);
          plainWhileOpenMs.push(plainWhileOpen);
        }
        context.progress(`round ${round + 1}/${rounds}`);
      }
    } finally {
      notify('exit', undefined);
      await until(() => exited, 'the router to stop the server').catch(() => child.killNow());
      rmSync(workspace, { recursive: true, force: true });
    }
    const plain = median(plainMs);
    const row = (what: string, values: number[]) => [what, fixed(median(values)), fixed(Math.min(...values)), fixed(Math.max(...values)), fixed(median(values) / plain, 2)];
    const ratio = (values: number[]) => median(values) / plain;
    const goal = (name: string, values: number[]) => ({ name, goal: '≤ 1.2×', actual: `${fixed(ratio(values), 2)}×`, met: ratio(values) <= 1.2 });
    return {
      tables: [
        {
          title: `check — a 2,000-line TypeScript file: proposal checked at shadows vs the same edit typed in the editor, median of ${rounds} (ms)`,
          columns: [{ header: 'what', align: 'left' }, { header: 'median ms' }, { header: 'min ms' }, { header: 'max ms' }, { header: '× plain' }],
          rows: [
            ['plain edit: didChange → first publish showing the error', fixed(plain), fixed(Math.min(...plainMs)), fixed(Math.max(...plainMs)), '1.00'],
            row('check after the warm-up (the job\'s first check; goal ≤ 1.2×)', warmedMs),
            row('check again after the model writes its fix, shadows open (goal ≤ 1.2×)', repeatMs),
            row('check cold: no shadow open', coldMs),
            row('plain edit while the shadows are open (the cost to the user during a job)', plainWhileOpenMs),
          ],
          notes: [
            'Each check asks typescript-language-server for the shadows\' syntactic, semantic and suggestion diagnostics (tsserver\'s own answer that they are complete), with no debounce and no quiet wait.',
            `"After the warm-up": the file's text was put at a shadow when the job started, and the model's writing of its proposal is modelled as a ${modelWritesMs} ms pause before the check (not counted); "again": the same pause for the model writing its fix.`,
            'The plain edit (the baseline) is timed with no shadow open, as outside a job; the last row times it with the two shadows open, which the server then checks too.',
            'The plain edit is timed to the first publish that shows the error (after typescript-language-server\'s 300 ms debounce), which is before the server is done too (suggestion diagnostics follow).',
          ],
        },
      ],
      summary: { plainMedianMs: plain, warmedMedianMs: median(warmedMs), repeatMedianMs: median(repeatMs), coldMedianMs: median(coldMs), ratio: ratio(warmedMs), repeatRatio: ratio(repeatMs), coldRatio: ratio(coldMs), plainWhileOpenMedianMs: median(plainWhileOpenMs) },
      raw: { plainMs, warmedMs, repeatMs, coldMs, plainWhileOpenMs },
      goals: [goal('check after the warm-up vs a plain edit, median', warmedMs), goal('check again (shadows open) vs a plain edit, median', repeatMs)],
    };
  },
};
