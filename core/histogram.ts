/**
 * A fixed-bucket histogram of plain numbers: a count per bucket, the sum and the count, as Prometheus keeps
 * them. Observing is a short scan of the bounds and three additions, no allocation: cheap enough for once per
 * request. Exporters read `snapshot()` (a copy) when they are asked.
 */

/** Latency bounds in milliseconds: 0.1 ms to 10 s, about 2.5x apart (Prometheus' default spacing, finer below 5 ms). */
export const LATENCY_BOUNDS_MS: readonly number[] = Object.freeze([0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]);

/** A histogram's figures at one time. */
export interface HistogramSnapshot {
  /** Upper bounds of the buckets, ascending (a value v falls in the first bucket with v <= bound). */
  bounds: readonly number[];
  /** Values per bucket, not cumulative: `bounds.length + 1` entries, the last for values above every bound. */
  counts: number[];
  /** Sum of every value observed. */
  sum: number;
  /** Number of values observed (the sum of `counts`). */
  count: number;
}

export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  /** @param bounds ascending, finite upper bounds (default LATENCY_BOUNDS_MS) */
  constructor(readonly bounds: readonly number[] = LATENCY_BOUNDS_MS) {
    for (let i = 0; i < bounds.length; i++) {
      if (!Number.isFinite(bounds[i]) || (i > 0 && bounds[i]! <= bounds[i - 1]!)) {
        throw new RangeError(`histogram bounds must be finite and ascending, got [${bounds.join(', ')}]`);
      }
    }
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  /** Counts one value (a value that is not a number is ignored: a clock read gone wrong must not poison the sum). */
  observe(v: number): void {
    if (!(v === v)) return;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }

  snapshot(): HistogramSnapshot {
    return { bounds: this.bounds, counts: this.counts.slice(), sum: this.sum, count: this.count };
  }
}

/** Cumulative counts of a snapshot, one per bound and one for +Inf (what Prometheus' `_bucket` series carry). */
export function cumulativeCounts(s: HistogramSnapshot): number[] {
  const out = new Array<number>(s.counts.length);
  let acc = 0;
  for (let i = 0; i < s.counts.length; i++) out[i] = acc += s.counts[i]!;
  return out;
}
