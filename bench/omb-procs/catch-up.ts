/**
 * Catch-up detection for the backlog workload: the backlog over time from samples of what was stored and what
 * was consumed, and the first moment it is below one second of production.
 */

export interface BacklogSample {
  /** Since the consumers started, ms. */
  atMs: number;
  /** Messages stored so far (the preloaded backlog included). */
  stored: number;
  /** Messages the consumer group has received so far. */
  consumed: number;
}

/** Messages stored and not yet consumed at a sample (never below zero: duplicates are not a negative backlog). */
export function backlogAt(s: BacklogSample): number {
  return Math.max(0, s.stored - s.consumed);
}

/**
 * The first sample (in time order) whose backlog is under `ratePerSecond` messages, that is under one second of
 * production at that rate; undefined when none is.
 */
export function caughtUpAt(samples: readonly BacklogSample[], ratePerSecond: number): BacklogSample | undefined {
  return samples.find((s) => backlogAt(s) < ratePerSecond);
}

/** Messages consumed per second between the first sample and `until` (the drain rate). */
export function drainRate(samples: readonly BacklogSample[], until: BacklogSample): number {
  const first = samples[0];
  if (first === undefined || until.atMs <= first.atMs) return NaN;
  return ((until.consumed - first.consumed) * 1000) / (until.atMs - first.atMs);
}
