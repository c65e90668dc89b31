/**
 * multifile — how soon a change across files reaches the editor once the
 * model has finished proposing it. A scripted efrit/do (the fake model) reads
 * 10 files of about 8 KB each in one step, then proposes one change touching
 * all 10, three edits in each; the server checks every quote against what the
 * agent read, re-reads and re-hashes each file on disk (none is open in the
 * editor), builds one WorkspaceEdit and sends `workspace/applyEdit`.
 *
 * Measured on one clock (this process's `performance.now()`: the fake API and
 * the client both run here, the server is a child over stdio). The proposal
 * streams with 2 ms between events, so the server has taken in all but the
 * last when it comes, as with a real model, whose tokens come over seconds:
 * - the fake is about to write the proposal's final SSE event
 *   (`message_stop`: the model's last token) → the client has the
 *   `workspace/applyEdit` request. Goal: median < 50 ms.
 * - the bytes of the applyEdit params against the total size of the files
 *   changed (a change made of ranged edits, not whole files re-sent).
 * Baseline in the same run, alternating round by round: the same do reading
 * one file and changing it with three edits.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ApplyWorkspaceEditParams, ApplyWorkspaceEditResult } from 'vscode-languageserver-protocol';
import type { DoResult } from '../../../server/src/protocol.js';
import type { FakeReply, RecordedRequest } from '../../support/fake-anthropic/server.js';
import { startHarness } from '../../support/harness.js';
import { planWorkspaceEdit, writePlannedChanges } from '../../support/workspace-edit-files.js';
import { clock, ms } from '../model-rig.js';
import { fixed, summarize, verdict, type Scenario, type ScenarioContext, type Summary } from '../scenario.js';
import { generateSource } from '../source-text.js';

const goalMs = 50;
const fileCount = 10;
const fileChars = 8_000;
const editsPerFile = 3;

interface ScriptedFile {
  path: string;
  text: string;
  edits: { path: string; old_text: string; new_text: string }[];
  expected: string;
}

/** A generated module and three edits to it: a doc comment above three functions whose header lines occur once. */
function scriptedFile(index: number): ScriptedFile {
  const path = `src/module-${String(index).padStart(2, '0')}.ts`;
  const text = `${generateSource(fileChars, { seed: 0xf11e + index, asciiOnly: index % 2 === 0 })}\n`;
  const headers = text.split('\n').filter((line, _, all) => line.startsWith('export async function ') && all.indexOf(line) === all.lastIndexOf(line));
  const chosen = [headers[0], headers[Math.floor(headers.length / 2)], headers[headers.length - 1]].filter((line, at, all): line is string => line !== undefined && all.indexOf(line) === at);
  if (chosen.length < editsPerFile) throw new Error(`${path} has too few functions to edit`);
  const edits = chosen.map((line) => ({ path, old_text: line, new_text: `/** Checked by the multi-file benchmark: callers pass validated input. */\n${line}` }));
  let expected = text;
  for (const edit of edits) expected = expected.replace(edit.old_text, edit.new_text);
  return { path, text, edits, expected };
}

function readStep(files: readonly ScriptedFile[]): FakeReply {
  return { text: 'Reading the modules first.', toolUses: files.map((file) => ({ name: 'read_file', input: { path: file.path } })) };
}

/** A model streams a proposal this size over seconds: the events come apart, so the server has taken in all but the last when it comes. */
const proposalEventGapMs = 2;

function proposeStep(files: readonly ScriptedFile[]): FakeReply {
  return {
    toolUses: [{ name: 'propose_edits', input: { summary: `Document the entry points of ${files.length} modules.`, edits: files.flatMap((file) => file.edits) } }],
    chunkDelayMs: proposalEventGapMs,
  };
}

/** The last user turn carries tool results: the agent has read, so the model proposes. */
function hasToolResults(request: RecordedRequest): boolean {
  const last = request.body.messages?.at(-1);
  return Array.isArray(last?.content) && last.content.some((block) => block.type === 'tool_result');
}

interface Arm {
  name: string;
  files: ScriptedFile[];
  latencies: number[];
  paramBytes: number;
  changedBytes: number;
}

function row(arm: Arm, summary: Summary, goal: string, met: boolean | undefined): string[] {
  return [arm.name, String(arm.files.length), fixed(summary.p50, 2), fixed(summary.p90, 2), fixed(summary.min, 2), fixed(summary.max, 2), goal, met === undefined ? '' : verdict(met)];
}

export const multiFileScenario: Scenario = {
  name: 'multifile',
  description: "a scripted 10-file change from efrit/do: the model's last token → workspace/applyEdit at the client, and its bytes against the files' size; a 1-file change as the baseline",
  async run(context: ScenarioContext) {
    const rounds = context.quick ? 10 : 40;
    const warmUps = 3;
    const workspace = mkdtempSync(join(tmpdir(), 'efrit-multifile-'));
    const all = Array.from({ length: fileCount }, (_, index) => scriptedFile(index));
    for (const file of all) {
      mkdirSync(dirname(join(workspace, file.path)), { recursive: true });
      writeFileSync(join(workspace, file.path), file.text);
    }
    const entry = 'src/index.ts';
    writeFileSync(join(workspace, entry), `${all.map((file, index) => `export * as module${index} from './${file.path.slice('src/'.length).replace(/\.ts$/, '.js')}';`).join('\n')}\n`);

    const arms: Arm[] = [
      { name: `${fileCount} files, ${editsPerFile} edits each`, files: all, latencies: [], paramBytes: 0, changedBytes: 0 },
      { name: `baseline: 1 file, ${editsPerFile} edits`, files: all.slice(0, 1), latencies: [], paramBytes: 0, changedBytes: 0 },
    ];
    let current: Arm = arms[0] as Arm;
    /** Request index → when the fake was about to write its final event. */
    const lastEventAt = new Map<number, number>();
    /** What the callbacks saw in the current round (an object: TypeScript does not follow assignments made in callbacks). */
    const seen: { proposalRequest?: number | undefined; arrived?: { at: number; params: ApplyWorkspaceEditParams } | undefined; checkFailure?: string | undefined } = {};

    const harness = await startHarness({
      workspaceFolder: workspace,
      fake: {
        now: clock,
        maxLoggedRequests: 1_000,
        respond: (request) => {
          if (!hasToolResults(request)) return readStep(current.files);
          seen.proposalRequest = request.index;
          return proposeStep(current.files);
        },
        onStreamEvent: (request, event) => {
          if (event.type === 'message_stop') lastEventAt.set(request.index, clock());
        },
      },
      onApplyEdit: (params): ApplyWorkspaceEditResult => {
        seen.arrived = { at: clock(), params };
        // The editor's side: apply it to the files, checking the result is the change proposed.
        const plan = planWorkspaceEdit(params.edit, () => undefined);
        if (!plan.ok) {
          seen.checkFailure = plan.reason;
          return { applied: false, failureReason: plan.reason };
        }
        for (const change of plan.changes) {
          const file = current.files.find((candidate) => pathToFileURL(join(workspace, candidate.path)).href === change.uri);
          if (file === undefined || change.after !== file.expected) seen.checkFailure = `${change.uri} did not come out as proposed`;
        }
        writePlannedChanges(plan.changes);
        return { applied: true };
      },
    });
    const { client } = harness;
    try {
      const uri = await client.open(entry, readFileSync(join(workspace, entry), 'utf8'));
      const once = async (arm: Arm): Promise<number> => {
        current = arm;
        Object.assign(seen, { arrived: undefined, proposalRequest: undefined });
        const result = await client.request<DoResult>('efrit/do', { instruction: 'Document the entry point of every module.', textDocument: { uri }, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } });
        const { arrived, proposalRequest, checkFailure } = seen;
        if (checkFailure !== undefined) throw new Error(`the change did not check out: ${checkFailure}`);
        if (!result.applied || arrived === undefined || proposalRequest === undefined) throw new Error(`the ${arm.name} change was not applied: ${result.summary}`);
        const sentAt = lastEventAt.get(proposalRequest);
        if (sentAt === undefined) throw new Error('the fake did not report the proposal\'s final event');
        arm.paramBytes = Buffer.byteLength(JSON.stringify(arrived.params));
        arm.changedBytes = arm.files.reduce((total, file) => total + Buffer.byteLength(file.text), 0);
        // Back to the files as they were, for the next round to change again.
        for (const file of arm.files) writeFileSync(join(workspace, file.path), file.text);
        return arrived.at - sentAt;
      };
      for (let warm = 0; warm < warmUps; warm++) for (const arm of arms) await once(arm);
      for (let round = 0; round < rounds; round++) {
        for (const arm of arms) arm.latencies.push(await once(arm));
        if (round % 10 === 9) context.progress(`multifile: ${round + 1}/${rounds}`);
      }
    } finally {
      await harness.stop();
      rmSync(workspace, { recursive: true, force: true });
    }

    const [many, one] = arms as [Arm, Arm];
    const manySummary = summarize(many.latencies);
    const oneSummary = summarize(one.latencies);
    const met = manySummary.p50 < goalMs;
    const bytesRow = (arm: Arm): string[] => [arm.name, arm.paramBytes.toLocaleString('en-US'), arm.changedBytes.toLocaleString('en-US'), `${((arm.paramBytes / arm.changedBytes) * 100).toFixed(1)}%`];
    return {
      tables: [
        {
          title: `multifile — the model's last token → workspace/applyEdit at the client, ${rounds} rounds each, alternating (ms)`,
          columns: [
            { header: 'change', align: 'left' },
            { header: 'files' },
            { header: 'median' },
            { header: 'p90' },
            { header: 'min' },
            { header: 'max' },
            { header: 'goal' },
            { header: 'met?', align: 'left' },
          ],
          rows: [row(many, manySummary, `< ${goalMs}`, met), row(one, oneSummary, '', undefined)],
          notes: [
            `From the fake writing the proposal's message_stop to the client reading workspace/applyEdit: the SDK's last event, the agent loop's end, each quote checked against the lines read, every file re-read and re-hashed on disk (none is open), one WorkspaceEdit built, serialised and piped.`,
            `The proposal streams with ${proposalEventGapMs} ms between events (as a model's tokens come apart), so what is timed is what follows its last token, not the taking in of the earlier ones.`,
            `Files: generated TypeScript of about ${fileChars.toLocaleString('en-US')} characters each, not open in the editor; the do is about an open index file that the change leaves alone.`,
          ],
        },
        {
          title: 'multifile — what the editor is sent, against the files it changes (bytes)',
          columns: [{ header: 'change', align: 'left' }, { header: 'applyEdit params' }, { header: 'files changed, total size' }, { header: 'share' }],
          rows: [bytesRow(many), bytesRow(one)],
          notes: ['The params as JSON (label and WorkspaceEdit): ranged text edits, so the share is the edits\' size, not the files\'.'],
        },
      ],
      summary: {
        tenFileMedianMs: manySummary.p50,
        oneFileMedianMs: oneSummary.p50,
        tenFileParamBytes: many.paramBytes,
        tenFileChangedBytes: many.changedBytes,
        oneFileParamBytes: one.paramBytes,
        oneFileChangedBytes: one.changedBytes,
      },
      raw: { tenFile: many.latencies, oneFile: one.latencies },
      goals: [{ name: "10-file change: model's last token → workspace/applyEdit, median", goal: `< ${goalMs} ms`, actual: ms(manySummary.p50, 2), met }],
    };
  },
};
