/**
 * What a benchmark scenario is, what it hands back, and the few statistics
 * every scenario needs. A scenario is one module under `scenarios/` listed in
 * `scenarios/index.ts`; the runner (`run.ts`) owns the command line, the
 * printing and the JSON, so a scenario only measures and describes.
 *
 * These machines are shared and noisy: a scenario compares against a baseline
 * measured in the same run wherever one exists, and reports percentiles or
 * medians, never a single run or a mean alone.
 */
import { readFileSync } from 'node:fs';

export interface ScenarioContext {
  /** Fewer iterations and runs, so the whole suite finishes well under a minute. */
  quick: boolean;
  /** A progress line for the operator (stderr); stdout is kept for the tables. */
  progress(message: string): void;
}

/** A goal checked against one measured figure, e.g. "p99 < 100 µs at 1M chars". */
export interface GoalCheck {
  /** What was measured, e.g. `capture p99 @ 1M`. */
  name: string;
  /** The goal as a person reads it, e.g. `< 100 µs`. */
  goal: string;
  /** The measured figure as a person reads it, e.g. `42.1 µs`. */
  actual: string;
  met: boolean;
}

export interface TableColumn {
  header: string;
  /** Numbers read best right-aligned; names and verdicts left-aligned. @default 'right' */
  align?: 'left' | 'right';
}

/** One printed table; cells are already formatted, the runner only aligns them. */
export interface Table {
  title: string;
  columns: TableColumn[];
  rows: string[][];
  /** Lines printed under the table: how to read it, caveats. */
  notes?: string[];
}

export interface ScenarioResult {
  tables: Table[];
  /** The headline figures, small and stable in shape, for comparing runs. */
  summary: Record<string, unknown>;
  /** Every figure measured, for whoever wants to recompute the summary. */
  raw: unknown;
  goals: GoalCheck[];
}

export interface Scenario {
  /** The name used by `--only` (lower case, no spaces). */
  name: string;
  /** One line: what is measured and against what. */
  description: string;
  run(context: ScenarioContext): Promise<ScenarioResult>;
}

export interface Summary {
  n: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * The nearest-rank percentile of already sorted values: an actual sample,
 * never an interpolation between two, so "p99" is a latency that happened.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  const index = Math.min(sorted.length - 1, Math.max(0, rank - 1));
  return sorted[index] as number;
}

/** The median (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function summarize(values: ArrayLike<number>): Summary {
  // A typed-array copy sorts numerically without a comparator and allocates once.
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    n: sorted.length,
    min: sorted.length > 0 ? (sorted[0] as number) : Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : Number.NaN,
  };
}

/** Nanoseconds between two `process.hrtime.bigint()` readings, in microseconds. */
export function microsBetween(start: bigint, end: bigint): number {
  return Number(end - start) / 1e3;
}

/** Nanoseconds between two `process.hrtime.bigint()` readings, in milliseconds. */
export function millisBetween(start: bigint, end: bigint): number {
  return Number(end - start) / 1e6;
}

/** A number with a fixed count of decimals, or `n/a` when it is not a number. */
export function fixed(value: number | undefined, digits = 1): string {
  return value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits);
}

/** The `met?` cell. */
export function verdict(met: boolean): string {
  return met ? 'yes' : 'NO';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A process's resident memory now, in MB (`VmRSS` from /proc); NaN when it cannot be read. */
export function residentMB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? Number.NaN : Number(match[1]) / 1024;
}
