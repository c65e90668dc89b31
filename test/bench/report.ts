/**
 * The human-readable side of a bench run: a Markdown report (the goals first,
 * then every scenario's tables) and an SVG chart of billed input tokens per
 * turn, deltas + prompt cache against full resend, from the payload scenario.
 * Written beside the JSON in test/bench/results/, which git ignores.
 */
import type { GoalCheck, Table } from './scenario.js';

export interface ReportInput {
  mode: string;
  startedAt: string;
  machine: { cpuModel: string; cpuCount: number; node: string; loadAverage: number[] };
  goals: (GoalCheck & { scenario: string })[];
  tables: { scenario: string; table: Table }[];
}

const escapeCell = (cell: string): string => cell.replace(/\|/g, '\\|');

export function markdownTable(table: Table): string {
  const header = `| ${table.columns.map((column) => escapeCell(column.header)).join(' | ')} |`;
  const rule = `|${table.columns.map((column) => ((column.align ?? 'right') === 'left' ? ' --- ' : ' ---: ')).join('|')}|`;
  const rows = table.rows.map((row) => `| ${table.columns.map((_, index) => escapeCell(row[index] ?? '')).join(' | ')} |`);
  const notes = (table.notes ?? []).map((note) => `> ${note}`);
  return [`**${table.title}**`, '', header, rule, ...rows, ...(notes.length > 0 ? ['', ...notes] : [])].join('\n');
}

/** The goals of a run as one Markdown table: the summary the README carries. */
export function goalsTable(goals: readonly (GoalCheck & { scenario: string })[]): string {
  return markdownTable({
    title: 'Goals',
    columns: [{ header: 'scenario', align: 'left' }, { header: 'measure', align: 'left' }, { header: 'goal' }, { header: 'measured' }, { header: 'met?', align: 'left' }],
    rows: goals.map((goal) => [goal.scenario, goal.name, goal.goal, goal.actual, goal.met ? 'yes' : 'NO']),
  });
}

export function markdownReport(input: ReportInput): string {
  const met = input.goals.filter((goal) => goal.met).length;
  const parts = [
    `# efrit-lsp benchmark report (${input.mode} mode)`,
    '',
    `${input.startedAt}; ${input.machine.cpuCount}× ${input.machine.cpuModel}, node ${input.machine.node}, load at start ${input.machine.loadAverage.map((l) => l.toFixed(2)).join(' ')}. Reproduce with \`npm run bench\` (or \`npm run bench -- --quick\`).`,
    '',
    `${met} of ${input.goals.length} goals met. Every comparison is against a baseline measured in the same run.`,
    '',
    goalsTable(input.goals),
  ];
  let scenario = '';
  for (const entry of input.tables) {
    if (entry.scenario !== scenario) {
      scenario = entry.scenario;
      parts.push('', `## ${scenario}`);
    }
    parts.push('', markdownTable(entry.table));
  }
  return `${parts.join('\n')}\n`;
}

/** A line chart of two series over turns 1..n, as a standalone SVG. */
export function billedTokensChart(on: readonly number[], off: readonly number[]): string {
  const width = 720;
  const height = 360;
  const margin = { left: 70, right: 20, top: 40, bottom: 50 };
  const turns = Math.max(on.length, off.length);
  const top = Math.max(1, ...on, ...off);
  const x = (index: number): number => margin.left + (turns <= 1 ? 0 : (index * (width - margin.left - margin.right)) / (turns - 1));
  const y = (value: number): number => height - margin.bottom - (value / top) * (height - margin.top - margin.bottom);
  const path = (values: readonly number[]): string => values.map((value, index) => `${index === 0 ? 'M' : 'L'}${x(index).toFixed(1)},${y(value).toFixed(1)}`).join(' ');
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((share) => Math.round(top * share));
  const lines = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">Billed input tokens per turn (writes ×1.25, reads ×0.1)</text>`,
    ...ticks.map(
      (tick) =>
        `<line x1="${margin.left}" x2="${width - margin.right}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#ddd"/><text x="${margin.left - 8}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end">${tick.toLocaleString('en-US')}</text>`,
    ),
    ...Array.from({ length: turns }, (_, index) => `<text x="${x(index).toFixed(1)}" y="${height - margin.bottom + 18}" text-anchor="middle">${index + 1}</text>`),
    `<text x="${width / 2}" y="${height - 10}" text-anchor="middle">turn</text>`,
    `<path d="${path(off)}" fill="none" stroke="#c0392b" stroke-width="2"/>`,
    `<path d="${path(on)}" fill="none" stroke="#2471a3" stroke-width="2"/>`,
    `<rect x="${margin.left + 10}" y="${margin.top}" width="12" height="3" fill="#c0392b"/><text x="${margin.left + 28}" y="${margin.top + 5}">full resend (deltas and promptCaching off)</text>`,
    `<rect x="${margin.left + 10}" y="${margin.top + 18}" width="12" height="3" fill="#2471a3"/><text x="${margin.left + 28}" y="${margin.top + 23}">deltas + prompt cache</text>`,
    '</svg>',
  ];
  return `${lines.join('\n')}\n`;
}
