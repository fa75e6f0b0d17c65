/** Latency percentiles of the OpenMessaging-style benchmark, from the harness's `percentile`. */
import { percentile, round } from '../harness.js';

export interface LatencySummary {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** p50, p99, p99.9 and the largest of `values` (ms; sorted in place), rounded to µs. */
export function summarize(values: number[]): LatencySummary {
  const max = values.reduce((a, b) => Math.max(a, b), values.length > 0 ? -Infinity : NaN);
  return {
    samples: values.length,
    p50Ms: round(percentile(values, 50)),
    p99Ms: round(percentile(values, 99)),
    p999Ms: round(percentile(values, 99.9)),
    maxMs: round(max),
  };
}

/** Several processes' samples as one list (each process sends its own). */
export function merged(lists: readonly (readonly number[])[]): number[] {
  const out: number[] = [];
  for (const l of lists) for (const v of l) out.push(v);
  return out;
}
