/**
 * instructions — what a project's AGENTS.md costs in billed input tokens
 * over one 5-step efrit/do, sent as Efrit sends it (a second system block
 * with the cache mark, so it is written to the prompt cache once and read
 * back on every later step) against the same instructions not cached.
 *
 * "Not cached" is the server with `promptCaching` off: the same request
 * bodies without any cache mark, every step billed in full. The other way to
 * not cache them, sending them in the messages instead of the system prompt,
 * would not be "not cached" within one do (the messages carry cache marks
 * too, so a 5-step do would still read them from the cache); it only differs
 * across jobs, and Efrit has no such mode to measure. So the comparison is
 * cached vs billed in full, and to isolate the instructions from the rest of
 * the prompt each setting is also run without AGENTS.md: the instructions'
 * own cost is (with − without) in each setting.
 *
 * Each of the four runs gets a fresh server and a fresh fake Messages API (an
 * empty cache), a workspace with `src/cart.ts` and four helpers, and the same
 * scripted model: steps 1–4 read one helper each (read_file), step 5 proposes
 * the edit, which is applied. Billed input weighs cache writes 1.25×, reads
 * 0.1×, uncached input 1× (as the payload scenario does); tokens are the
 * fake's estimate, 4 UTF-8 bytes a token.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Methods, type DoResult } from '../../../server/src/protocol.js';
import type { RecordedRequest, RecordedUsage } from '../../support/fake-anthropic/server.js';
import type { FakeReply } from '../../support/fake-anthropic/types.js';
import { startHarness } from '../../support/harness.js';
import { serverEntry } from '../../support/lsp-client.js';
import { verdict, type GoalCheck, type Scenario, type ScenarioContext, type Table } from '../scenario.js';

const steps = 5;
const instructionsBytes = 8 * 1024;
const price = { uncached: 1, write: 1.25, read: 0.1 };
const goalShare = 0.5;

const cartTs = `import { formatMoney } from './util/money.js';
import { applyDiscount } from './util/discount.js';
import { taxFor } from './util/tax.js';
import { roundCents } from './util/round.js';

export function cartTotal(prices: number[], country: string): string {
  const sum = prices.reduce((total, price) => total + price, 0);
  return formatMoney(sum + taxFor(country, sum));
}
`;
const helpers: Record<string, string> = {
  'src/util/money.ts': 'export function formatMoney(cents: number): string {\n  return (cents / 100).toFixed(2);\n}\n',
  'src/util/discount.ts': 'export function applyDiscount(cents: number, percent: number): number {\n  return cents - Math.round((cents * percent) / 100);\n}\n',
  'src/util/tax.ts': "export function taxFor(country: string, cents: number): number {\n  return country === 'DE' ? Math.round(cents * 0.19) : 0;\n}\n",
  'src/util/round.ts': 'export function roundCents(value: number): number {\n  return Math.round(value);\n}\n',
};
const edit = {
  old_text: '  return formatMoney(sum + taxFor(country, sum));',
  new_text: '  return formatMoney(roundCents(sum + taxFor(country, sum)));',
};

/** About `bytes` of conventions, as a real AGENTS.md reads: sections of short rules. */
export function agentsMarkdown(bytes: number): string {
  const topics = ['Money', 'Naming', 'Tests', 'Errors', 'Modules', 'Comments', 'Commits', 'Reviews'];
  const verbs = ['Keep', 'Prefer', 'Avoid', 'Name', 'Test', 'Document', 'Check', 'Split'];
  const objects = ['amounts in integer cents', 'functions for what they return', 'one behaviour per test', 'errors the user can act on', 'one module per concept', 'why, not what', 'changes small and reviewable', 'public names before private ones'];
  let text = '# Working on the shop\n\nThese rules apply to every change in this repository.\n';
  for (let rule = 0; text.length < bytes; rule++) {
    if (rule % 8 === 0) text += `\n## ${topics[(rule / 8) % topics.length]}\n\n`;
    text += `- ${verbs[rule % verbs.length]} ${objects[(rule * 3) % objects.length]} (rule ${rule + 1}; see docs/conventions.md#r${rule + 1}).\n`;
  }
  return text;
}

interface Arm {
  name: string;
  promptCaching: boolean;
  instructions: boolean;
}

const arms: readonly Arm[] = [
  { name: 'cached instructions', promptCaching: true, instructions: true },
  { name: 'no instructions, caching on', promptCaching: true, instructions: false },
  { name: 'instructions not cached', promptCaching: false, instructions: true },
  { name: 'no instructions, caching off', promptCaching: false, instructions: false },
];

interface StepFigures {
  step: number;
  usage: RecordedUsage;
  billed: number;
  rawBytes: number;
}

interface ArmResult {
  arm: Arm;
  steps: StepFigures[];
  billed: number;
  instructionsChars: number;
}

export const instructionsScenario: Scenario = {
  name: 'instructions',
  description: 'a 5-step efrit/do with an 8 KB AGENTS.md: billed input tokens with the instructions cached (system block) vs not cached (promptCaching off), each against no AGENTS.md',
  async run(context: ScenarioContext) {
    if (!existsSync(serverEntry)) throw new Error(`${serverEntry} is missing: build first (npm run build)`);
    const agentsMd = agentsMarkdown(instructionsBytes);
    const results: ArmResult[] = [];
    for (const arm of arms) {
      context.progress(`${steps}-step do: ${arm.name}`);
      results.push(await runArm(arm, agentsMd));
    }
    return report(results, agentsMd);
  },
};

function scriptedStep(request: RecordedRequest): FakeReply {
  // Step k's request carries k user and k − 1 assistant messages.
  const step = (request.body.messages.length + 1) / 2;
  const paths = Object.keys(helpers);
  if (step < steps) return { text: `Reading ${paths[step - 1]}.`, toolUses: [{ name: 'read_file', input: { path: paths[step - 1] } }], latencyMs: 0 };
  return { text: 'Rounding the total.', toolUses: [{ name: 'propose_edits', input: { summary: 'cartTotal rounds to whole cents before formatting.', edits: [edit] } }], latencyMs: 0 };
}

async function runArm(arm: Arm, agentsMd: string): Promise<ArmResult> {
  const workspace = await mkdtemp(join(tmpdir(), 'efrit-bench-instructions-'));
  try {
    await mkdir(join(workspace, 'src', 'util'), { recursive: true });
    await writeFile(join(workspace, 'src', 'cart.ts'), cartTs);
    for (const [path, text] of Object.entries(helpers)) await writeFile(join(workspace, path), text);
    if (arm.instructions) await writeFile(join(workspace, 'AGENTS.md'), agentsMd);
    const harness = await startHarness({
      workspaceFolder: workspace,
      initializationOptions: { logLevel: 'warn', promptCaching: arm.promptCaching },
      fake: { latencyMs: 0, respond: scriptedStep },
    });
    try {
      const { client, fake } = harness;
      const uri = await client.open('src/cart.ts', cartTs);
      const result = await client.request<DoResult>(Methods.do, { instruction: 'round the total to whole cents', textDocument: { uri } });
      if (result.steps !== steps || !result.applied) throw new Error(`${arm.name}: the do took ${result.steps} steps and was ${result.applied ? '' : 'not '}applied; expected ${steps} steps, applied`);
      if (fake.requests.length !== steps) throw new Error(`${arm.name}: the fake received ${fake.requests.length} requests, expected ${steps}`);
      return figuresOf(arm, fake.requests, agentsMd);
    } finally {
      await harness.stop();
    }
  } finally {
    await rm(workspace, { recursive: true, force: true });
  }
}

function figuresOf(arm: Arm, requests: readonly RecordedRequest[], agentsMd: string): ArmResult {
  const systems = requests.map((request) => JSON.stringify(request.body.system));
  // What is measured must be what was meant: the instructions in the system prompt of every step, unchanged, or nowhere.
  if (new Set(systems).size !== 1) throw new Error(`${arm.name}: the system prompt changed between steps`);
  const system = (requests[0]?.body.system ?? []) as { text: string; cache_control?: unknown }[];
  const instructionsBlock = system[1];
  if (arm.instructions && instructionsBlock?.text.includes(agentsMd.trimEnd()) !== true) throw new Error(`${arm.name}: AGENTS.md is not the second system block`);
  if (!arm.instructions && system.length !== 1) throw new Error(`${arm.name}: a second system block was sent without AGENTS.md`);
  const marks = requests.filter((request) => JSON.stringify(request.body).includes('"cache_control"')).length;
  if (arm.promptCaching !== (marks === requests.length)) throw new Error(`${arm.name}: ${marks} of ${requests.length} requests carried cache marks`);
  const stepFigures = requests.map((request, index): StepFigures => {
    if (request.outcome !== 'completed' || request.usage === undefined) throw new Error(`${arm.name}: step ${index + 1} ended ${request.outcome}`);
    return { step: index + 1, usage: request.usage, billed: billed(request.usage), rawBytes: request.rawBytes };
  });
  return { arm, steps: stepFigures, billed: round(sum(stepFigures.map((s) => s.billed))), instructionsChars: instructionsBlock?.text.length ?? 0 };
}

function billed(usage: RecordedUsage): number {
  return round(usage.input_tokens * price.uncached + usage.cache_creation_input_tokens * price.write + usage.cache_read_input_tokens * price.read);
}

const round = (value: number): number => Math.round(value * 100) / 100;
const sum = (values: readonly number[]): number => values.reduce((total, value) => total + value, 0);
const int = (value: number): string => Math.round(value).toLocaleString('en-US');
const percent = (share: number): string => `${(share * 100).toFixed(1)}%`;

function report(results: readonly ArmResult[], agentsMd: string) {
  const [cached, cachedBase, uncached, uncachedBase] = results as [ArmResult, ArmResult, ArmResult, ArmResult];
  const perStep: Table = {
    title: `instructions — billed input tokens per step of a ${steps}-step efrit/do, AGENTS.md of ${int(Buffer.byteLength(agentsMd))} bytes`,
    columns: [{ header: 'step' }, ...results.flatMap((r) => [{ header: `${r.arm.name}: uncached/write/read` }, { header: 'billed' }])],
    rows: Array.from({ length: steps }, (_, index) => [
      String(index + 1),
      ...results.flatMap((r) => {
        const s = r.steps[index] as StepFigures;
        return [`${int(s.usage.input_tokens)}/${int(s.usage.cache_creation_input_tokens)}/${int(s.usage.cache_read_input_tokens)}`, int(s.billed)];
      }),
    ]),
    notes: [
      'uncached/write/read: the fake\'s input_tokens, cache_creation_input_tokens and cache_read_input_tokens for the step\'s request;',
      'billed = uncached + 1.25 × write + 0.1 × read. Each run has its own fresh fake, so step 1 always starts from an empty cache.',
    ],
  };

  const costCached = cached.billed - cachedBase.billed;
  const costUncached = uncached.billed - uncachedBase.billed;
  const share = costCached / costUncached;
  const goals: GoalCheck[] = [
    {
      name: `instructions: billed input of an 8 KB AGENTS.md over a ${steps}-step do, cached`,
      goal: `< ${percent(goalShare)} of not cached`,
      actual: `${percent(share)} (${int(costCached)} vs ${int(costUncached)})`,
      met: share < goalShare,
    },
  ];
  const summaryTable: Table = {
    title: `instructions — summary: ${steps}-step do, billed input tokens`,
    columns: [{ header: 'figure', align: 'left' }, { header: 'cached' }, { header: 'not cached' }, { header: 'cached/not' }, { header: 'goal', align: 'left' }, { header: 'met?', align: 'left' }],
    rows: [
      ['whole do, with AGENTS.md', int(cached.billed), int(uncached.billed), percent(cached.billed / uncached.billed), '', ''],
      ['whole do, without AGENTS.md', int(cachedBase.billed), int(uncachedBase.billed), percent(cachedBase.billed / uncachedBase.billed), '', ''],
      ['the instructions themselves (with − without)', int(costCached), int(costUncached), percent(share), `< ${percent(goalShare)}`, verdict(goals[0]?.met ?? false)],
      ['  per step, steps 2–5 (with − without)', int(stepCost(cached, cachedBase, 1)), int(stepCost(uncached, uncachedBase, 1)), '', '', ''],
    ],
    notes: [
      '"cached": Efrit as it ships, AGENTS.md in a second system block with the cache mark: written once (1.25×), read on later steps (0.1×).',
      '"not cached": promptCaching off, so every step pays the instructions in full; both are run without AGENTS.md too, and',
      'the difference is what the instructions cost. Sending them in the first user message instead would be cached within one do',
      '(the messages carry cache marks), so it is not the uncached case; it differs only across jobs. Checked in every run: the system',
      'prompt was byte-identical across the steps, and the instructions were its second block exactly when AGENTS.md was present.',
    ],
  };
  return {
    tables: [perStep, summaryTable],
    summary: {
      steps,
      instructionsBytes: Buffer.byteLength(agentsMd),
      billedInputTokens: Object.fromEntries(results.map((r) => [r.arm.name, r.billed])),
      instructionsCost: { cached: round(costCached), notCached: round(costUncached), ratio: share },
    },
    raw: { price, arms: results.map((r) => ({ ...r.arm, billed: r.billed, instructionsChars: r.instructionsChars, steps: r.steps })) },
    goals,
  };
}

/** The instructions' billed cost in the steps after the first, averaged: what each further step pays for them. */
function stepCost(withThem: ArmResult, without: ArmResult, from: number): number {
  const later = (r: ArmResult): number => sum(r.steps.slice(from).map((s) => s.billed));
  return (later(withThem) - later(without)) / (steps - from);
}
