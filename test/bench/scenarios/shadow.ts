/**
 * shadow — what it costs to give a check (agent.commands) the workspace as a
 * proposal would leave it, without touching the user's files: a workspace of
 * 10,000 files / 200 MB, a proposal that edits three files, creates one and
 * deletes one.
 *
 * Measured, in this process, with the server's own modules:
 * - prepare: the proposed files worked out from the WorkspaceEdit and staged
 *   on disk (proposed-state.ts, then prepareShadow);
 * - start: from spawning `unshare` to the command's exit, for `/bin/true`
 *   (namespaces, the scratch tmpfs, one overlay mount, the staged files copied
 *   into it), against spawning `/bin/true` directly;
 * - disk: bytes staged on disk for the shadow, against the tree's size (the
 *   scratch layer is a tmpfs: the same bytes again, in memory, gone when the
 *   command ends).
 * One more run checks the shadow is whole: `find` counts every file, and the
 * edited file has the proposal in it.
 *
 * Goals (issue #16): prepare + start well under a second (< 500 ms at the
 * median), disk a small fraction of the tree (< 1 %).
 */
import { spawn } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { WorkspaceEdit } from 'vscode-languageserver-types';
import { proposedState } from '../../../server/src/agent/proposed-state.js';
import { isolation, prepareShadow, runInShadow } from '../../../server/src/agent/shadow-workspace.js';
import { clock, ms } from '../model-rig.js';
import { fixed, summarize, verdict, type GoalCheck, type Scenario, type Table } from '../scenario.js';

interface Plan {
  files: number;
  fileBytes: number;
  runs: number;
}

const fullPlan: Plan = { files: 10_000, fileBytes: 20_000, runs: 15 };
const quickPlan: Plan = { files: 2_000, fileBytes: 20_000, runs: 5 };
const filesPerFolder = 100;
const goalReadyMs = 500;
const goalDiskShare = 0.01;

/** A source file of about `bytes`, ordinary lines of code. */
function sourceText(index: number, bytes: number): string {
  const line = (n: number): string => `export const value${index}_${n} = compute(${n}, 'feature ${index}'); // line ${n}\n`;
  let text = '';
  for (let n = 0; text.length < bytes; n++) text += line(n);
  return text.slice(0, bytes);
}

const pathOf = (index: number): string => `src/feature-${Math.floor(index / filesPerFolder)}/module-${index}.ts`;

async function makeWorkspace(plan: Plan): Promise<string> {
  const workspace = await mkdtemp(join(tmpdir(), 'efrit-bench-shadow-'));
  for (let folder = 0; folder < Math.ceil(plan.files / filesPerFolder); folder++) await mkdir(join(workspace, 'src', `feature-${folder}`), { recursive: true });
  for (let index = 0; index < plan.files; index++) await writeFile(join(workspace, pathOf(index)), sourceText(index, plan.fileBytes));
  return workspace;
}

/** Three files edited, one created, one deleted: a typical agent change. */
function proposal(workspace: string): WorkspaceEdit {
  const uri = (path: string): string => pathToFileURL(join(workspace, path)).href;
  const edit = (path: string) => ({ textDocument: { uri: uri(path), version: null }, edits: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: '// edited by the proposal\n' }] });
  return {
    documentChanges: [
      { kind: 'create', uri: uri('src/feature-0/module-new.ts') },
      { textDocument: { uri: uri('src/feature-0/module-new.ts'), version: null }, edits: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: 'export const created = true;\n' }] },
      edit(pathOf(1)),
      edit(pathOf(2)),
      edit(pathOf(3)),
      { kind: 'delete', uri: uri(pathOf(4)) },
    ],
  };
}

/** Bytes the directory's files take on disk (allocated blocks). */
async function diskBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const info = await lstat(path);
    total += info.blocks * 512;
    if (info.isDirectory()) total += await diskBytes(path);
  }
  return total;
}

function plainSpawn(argv: string[]): Promise<number> {
  const started = clock();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', () => resolve(clock() - started));
  });
}

export const shadowScenario: Scenario = {
  name: 'shadow',
  description: 'the shadow a check runs in: time to prepare and start it, and disk used, for a 10,000-file / 200 MB workspace',
  async run(context) {
    const available = await isolation();
    if (!available.available) throw new Error(`no shadow on this machine: ${available.reason}`);
    const plan = context.quick ? quickPlan : fullPlan;
    const treeMB = (plan.files * plan.fileBytes) / 1e6;
    context.progress(`writing a workspace of ${plan.files} files / ${treeMB.toFixed(0)} MB`);
    const workspace = await makeWorkspace(plan);
    try {
      const edit = proposal(workspace);
      const prepareMs: number[] = [];
      const startMs: number[] = [];
      const readyMs: number[] = [];
      const plainMs: number[] = [];
      const staged: number[] = [];
      const onDisk: number[] = [];
      const signal = new AbortController().signal;
      for (let run = 0; run < plan.runs; run++) {
        context.progress(`run ${run + 1} of ${plan.runs}`);
        const started = clock();
        const state = await proposedState(edit, { roots: [workspace], openDocuments: () => [], near: undefined });
        const shadow = await prepareShadow(state.spec);
        const prepared = clock();
        try {
          staged.push(shadow.stagedBytes);
          onDisk.push(await diskBytes(shadow.dir));
          const outcome = await runInShadow(shadow, { argv: ['/bin/true'], cwd: state.cwd, timeoutMs: 30_000, signal, env: process.env });
          if (outcome.kind !== 'exited' || outcome.code !== 0) throw new Error(`/bin/true in the shadow ended ${JSON.stringify(outcome).slice(0, 300)}`);
          prepareMs.push(prepared - started);
          startMs.push(outcome.durationMs);
          readyMs.push(prepared - started + outcome.durationMs);
        } finally {
          await shadow.dispose();
        }
        plainMs.push(await plainSpawn(['/bin/true']));
      }

      context.progress('checking the shadow is whole');
      const state = await proposedState(edit, { roots: [workspace], openDocuments: () => [], near: undefined });
      const shadow = await prepareShadow(state.spec);
      try {
        const look = await runInShadow(shadow, { argv: ['/bin/sh', '-c', `find . -type f | wc -l; head -1 ${pathOf(1)}; test ! -e ${pathOf(4)} && echo deleted`], cwd: state.cwd, timeoutMs: 60_000, signal, env: process.env });
        const seen = look.kind === 'exited' ? look.output.render(500) : look.kind;
        const expected = `Output:\n${plan.files}\n// edited by the proposal\ndeleted`;
        if (seen !== expected) throw new Error(`the shadow is not the proposed workspace: expected ${JSON.stringify(expected)}, saw ${JSON.stringify(seen)}`);
      } finally {
        await shadow.dispose();
      }

      const prepare = summarize(prepareMs);
      const start = summarize(startMs);
      const ready = summarize(readyMs);
      const plain = summarize(plainMs);
      const treeBytes = plan.files * plan.fileBytes;
      const diskShare = Math.max(...onDisk) / treeBytes;
      const goals: GoalCheck[] = [
        { name: `shadow ready (prepare + start) p50, ${plan.files} files / ${treeMB.toFixed(0)} MB`, goal: `< ${goalReadyMs} ms`, actual: ms(ready.p50, 1), met: ready.p50 < goalReadyMs },
        { name: 'disk used by the shadow, share of the tree', goal: `< ${(goalDiskShare * 100).toFixed(0)} %`, actual: `${(diskShare * 100).toFixed(4)} %`, met: diskShare < goalDiskShare },
      ];
      const timeTable: Table = {
        title: `shadow: time (ms) for a ${plan.files}-file / ${treeMB.toFixed(0)} MB workspace, 5-file proposal, ${plan.runs} runs`,
        columns: [{ header: 'step', align: 'left' }, { header: 'p50' }, { header: 'p90' }, { header: 'max' }],
        rows: [
          ['prepare (proposed files worked out and staged)', fixed(prepare.p50, 1), fixed(prepare.p90, 1), fixed(prepare.max, 1)],
          ['start and run /bin/true in the shadow', fixed(start.p50, 1), fixed(start.p90, 1), fixed(start.max, 1)],
          ['ready: both', fixed(ready.p50, 1), fixed(ready.p90, 1), fixed(ready.max, 1)],
          ['baseline: spawn /bin/true directly', fixed(plain.p50, 1), fixed(plain.p90, 1), fixed(plain.max, 1)],
        ],
        notes: ['"start" is unshare (user, mount and PID namespaces), a scratch tmpfs, the staged files copied into it, one overlay mount over the folder, a nested user namespace, exec: nothing of it grows with the workspace.'],
      };
      const diskTable: Table = {
        title: 'shadow: disk used',
        columns: [{ header: 'what', align: 'left' }, { header: 'bytes' }, { header: 'share of the tree' }, { header: `< ${(goalDiskShare * 100).toFixed(0)} %?`, align: 'left' }],
        rows: [
          ['the workspace', String(treeBytes), '100 %', ''],
          ['staged for the shadow (file contents)', String(Math.max(...staged)), `${((Math.max(...staged) / treeBytes) * 100).toFixed(4)} %`, ''],
          ['staged for the shadow (allocated on disk)', String(Math.max(...onDisk)), `${(diskShare * 100).toFixed(4)} %`, verdict(diskShare < goalDiskShare)],
        ],
        notes: ['Unchanged files are not copied: the overlay shows them from the workspace itself. The scratch layer (a tmpfs) holds the same few bytes in memory, plus whatever the command writes, and is gone when it ends.'],
      };
      return {
        tables: [timeTable, diskTable],
        summary: { files: plan.files, treeBytes, prepareP50Ms: prepare.p50, startP50Ms: start.p50, readyP50Ms: ready.p50, readyMaxMs: ready.max, plainSpawnP50Ms: plain.p50, stagedBytes: Math.max(...staged), diskBytes: Math.max(...onDisk), diskShare },
        raw: { prepareMs, startMs, readyMs, plainMs, staged, onDisk },
        goals,
      };
    } finally {
      await rm(workspace, { recursive: true, force: true });
    }
  },
};
