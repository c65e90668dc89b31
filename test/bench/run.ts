#!/usr/bin/env node
/**
 * `npm run bench`: runs the registered scenarios, prints one table per
 * scenario figure set on stdout (progress goes to stderr, so stdout can be
 * piped), and writes everything measured to test/bench/results/latest.json
 * plus a timestamped copy, so runs can be compared later.
 *
 *   node dist/test/bench/run.js [--quick] [--only capture,sync] [--list]
 *
 * A goal that is not met is reported, not failed on: on a shared, noisy
 * machine a red build from one slow run would teach people to ignore it.
 * The exit code is non-zero only when a scenario could not run or its
 * results did not check out.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/lsp-client.js';
import { billedTokensChart, markdownReport } from './report.js';
import { fixed, type GoalCheck, type Scenario, type ScenarioResult, type Table } from './scenario.js';
import { scenarios } from './scenarios/index.js';

const usage = `Usage: node dist/test/bench/run.js [options]   (or: npm run bench -- [options])

  --quick            fewer iterations and runs: the whole suite in well under a minute
  --only NAME[,..]   run only these scenarios (also --only=NAME,NAME)
  --list             list the scenarios and exit
  --help             this text

Scenarios: ${scenarios.map((s) => s.name).join(', ')}
Results: test/bench/results/latest.json and a timestamped copy beside it.
`;

interface Options {
  quick: boolean;
  only: string[] | undefined;
  list: boolean;
  help: boolean;
}

function parseArgs(args: readonly string[]): Options {
  const options: Options = { quick: false, only: undefined, list: false, help: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--quick') options.quick = true;
    else if (arg === '--list') options.list = true;
    else if (arg === '--help' || arg === '-h') options.help = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg === '--only' ? args[++i] : arg.slice('--only='.length);
      if (value === undefined || value === '') throw new UsageError('--only needs a comma-separated list of scenario names');
      options.only = [...(options.only ?? []), ...value.split(',').map((name) => name.trim()).filter((name) => name !== '')];
    } else throw new UsageError(`unknown option "${arg}"`);
  }
  return options;
}

class UsageError extends Error {}

function select(only: string[] | undefined): Scenario[] {
  if (only === undefined) return [...scenarios];
  const unknown = only.filter((name) => !scenarios.some((s) => s.name === name));
  if (unknown.length > 0) throw new UsageError(`unknown scenario ${unknown.map((n) => `"${n}"`).join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`);
  // Registry order, not argument order: the order scenarios run in is part of what was measured.
  return scenarios.filter((s) => only.includes(s.name));
}

export function formatTable(table: Table): string {
  const widths = table.columns.map((column, index) => Math.max(column.header.length, ...table.rows.map((row) => (row[index] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    table.columns
      .map((column, index) => {
        const cell = cells[index] ?? '';
        const width = widths[index] as number;
        return (column.align ?? 'right') === 'left' ? cell.padEnd(width) : cell.padStart(width);
      })
      .join('  ')
      .trimEnd();
  const out = [table.title, line(table.columns.map((c) => c.header)), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(line)];
  for (const note of table.notes ?? []) out.push(`  ${note}`);
  return out.join('\n');
}

function machine() {
  const cores = cpus();
  return {
    cpuModel: cores[0]?.model ?? 'unknown',
    cpuCount: cores.length,
    node: process.version,
    platform: platform(),
    release: release(),
    arch: arch(),
    totalMemoryMB: Math.round(totalmem() / 2 ** 20),
    // The load when the run started: a busy shared machine explains a slow run.
    loadAverage: loadavg(),
  };
}

interface ScenarioRecord {
  description: string;
  durationMs: number;
  summary?: Record<string, unknown>;
  goals?: GoalCheck[];
  raw?: unknown;
  error?: string;
}

async function main(): Promise<number> {
  let options: Options;
  let selected: Scenario[];
  try {
    options = parseArgs(process.argv.slice(2));
    selected = select(options.only);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n\n${usage}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (options.list) {
    for (const s of scenarios) process.stdout.write(`${s.name.padEnd(12)} ${s.description}\n`);
    return 0;
  }

  const mode = options.quick ? 'quick' : 'full';
  const info = machine();
  const startedAt = new Date();
  process.stdout.write(
    `efrit-lsp bench — ${mode} mode — ${info.cpuCount}× ${info.cpuModel}, node ${info.node}, load ${info.loadAverage.map((l) => l.toFixed(2)).join(' ')}\n`,
  );

  const records: Record<string, ScenarioRecord> = {};
  const allGoals: (GoalCheck & { scenario: string })[] = [];
  const allTables: { scenario: string; table: Table }[] = [];
  let failed = 0;
  for (const scenario of selected) {
    process.stderr.write(`[${scenario.name}] ${scenario.description}\n`);
    const start = performance.now();
    let result: ScenarioResult | undefined;
    try {
      result = await scenario.run({ quick: options.quick, progress: (message) => process.stderr.write(`[${scenario.name}] ${message}\n`) });
    } catch (error) {
      failed++;
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      records[scenario.name] = { description: scenario.description, durationMs: performance.now() - start, error: message };
      process.stdout.write(`\n${scenario.name}: FAILED\n${message}\n`);
      continue;
    }
    const durationMs = performance.now() - start;
    records[scenario.name] = { description: scenario.description, durationMs, summary: result.summary, goals: result.goals, raw: result.raw };
    allGoals.push(...result.goals.map((goal) => ({ ...goal, scenario: scenario.name })));
    for (const table of result.tables) process.stdout.write(`\n${formatTable(table)}\n`);
    allTables.push(...result.tables.map((table) => ({ scenario: scenario.name, table })));
    process.stderr.write(`[${scenario.name}] done in ${fixed(durationMs / 1000)} s\n`);
  }

  const missed = allGoals.filter((goal) => !goal.met);
  process.stdout.write(`\ngoals met: ${allGoals.length - missed.length}/${allGoals.length}\n`);
  for (const goal of missed) process.stdout.write(`  missed: ${goal.name}: ${goal.actual} (goal ${goal.goal})\n`);

  const finishedAt = new Date();
  const report = {
    schema: 1,
    mode,
    argv: process.argv.slice(2),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    machine: info,
    scenarios: records,
    goals: allGoals,
  };
  const resultsDir = join(repoRoot, 'test', 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const stamped = join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}-${mode}.json`);
  writeFileSync(join(resultsDir, 'latest.json'), json);
  writeFileSync(stamped, json);
  writeFileSync(join(resultsDir, 'report.md'), markdownReport({ mode, startedAt: report.startedAt, machine: info, goals: allGoals, tables: allTables }));
  const perTurn = records['payload']?.summary?.['billedInputTokensPerTurn'] as { on?: number[]; off?: number[] } | undefined;
  if (perTurn?.on !== undefined && perTurn.off !== undefined) writeFileSync(join(resultsDir, 'billed-tokens.svg'), billedTokensChart(perTurn.on, perTurn.off));
  process.stdout.write(`results: ${join('test', 'bench', 'results', 'latest.json')} (and ${stamped.slice(repoRoot.length + 1)}), report.md${perTurn === undefined ? '' : ', billed-tokens.svg'}\n`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
