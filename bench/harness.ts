/**
 * What every benchmark is made of. A benchmark is `bench/NAME.ts` whose default export is a `Bench`; run it
 * with `npm run bench -- NAME [--json] [options]`. It measures its peer (raw file writes, core NATS,
 * JetStream) in the same run and reports ratios, because absolute figures drift on shared machines.
 */
import { readFileSync } from 'node:fs';

export interface Goal {
  name: string;
  value: number;
  target: number;
  unit: string;
  met: boolean;
}

export interface BenchContext {
  /** True with --json: print nothing but the final JSON object (progress goes to stderr). */
  json: boolean;
  /** Arguments after the benchmark's name, --json removed. */
  args: string[];
  /** A progress line: on stderr, so stdout stays one JSON object with --json. */
  progress(message: string): void;
}

export interface BenchResult {
  /** Raw figures, printed as they are under "figures" in JSON. */
  figures: Record<string, unknown>;
  /** One entry per goal the issue names. */
  goals: Goal[];
  /** Rows for the readable table on a terminal. */
  table?: Array<Record<string, string | number>>;
}

export type Bench = (ctx: BenchContext) => Promise<BenchResult>;

/** A goal where bigger is better (`atMost` for latencies and lags). */
export function atLeast(name: string, value: number, target: number, unit: string): Goal {
  return { name, value: round(value), target, unit, met: value >= target };
}

export function atMost(name: string, value: number, target: number, unit: string): Goal {
  return { name, value: round(value), target, unit, met: value <= target };
}

/** The value of `--name=value` or `--name value` among a bench's arguments. */
export function option(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
    if (a === `--${name}` && args[i + 1] !== undefined) return args[i + 1];
  }
  return undefined;
}

export function round(v: number, digits = 3): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Runs `fn` repeatedly for about `ms` milliseconds (at least once) and returns operations per second. */
export async function rate(ms: number, fn: () => Promise<number> | number): Promise<{ ops: number; seconds: number; perSecond: number }> {
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(ms * 1e6));
  let ops = 0;
  let now = start;
  do {
    ops += await fn();
    now = process.hrtime.bigint();
  } while (now < deadline);
  const seconds = Number(now - start) / 1e9;
  return { ops, seconds, perSecond: ops / seconds };
}

/** Percentile (0..100) of a list of numbers (sorted in place). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  values.sort((a, b) => a - b);
  const i = Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1));
  return values[i]!;
}

/**
 * CPU time (user and system, in ms) process `pid` has used so far, read from /proc on Linux (in clock ticks of
 * 10 ms, the fixed USER_HZ); undefined where there is no such file.
 */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces) in parentheses: utime and stime are the 12th and 13th
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
}
