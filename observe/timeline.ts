/**
 * Time travel over a recorded stream (a scenario trace): the records in fold order, and the view after any
 * prefix of them, from a checkpoint (a cloned view every CHECKPOINT_EVERY records) plus the records since. Pure
 * and free of Node and the DOM: the browser scrubs with it.
 */
import { applyRecord, cloneView, emptyView, sortRecords, type ClusterView } from './cluster-view.js';
import type { ObservedRecord } from './source.js';

export const CHECKPOINT_EVERY = 2000;

export class Timeline {
  /** Records in fold order (time, then sequence within a source). */
  readonly records: readonly ObservedRecord[];
  /** checkpoints[i]: the view after the first i * checkpointEvery records (built as scrubbing reaches them). */
  private readonly checkpoints: ClusterView[] = [emptyView()];

  /** @param checkpointEvery records between two checkpoints (tests make it small) */
  constructor(
    records: readonly ObservedRecord[],
    private readonly checkpointEvery = CHECKPOINT_EVERY,
  ) {
    this.records = sortRecords(records);
  }

  get length(): number {
    return this.records.length;
  }

  /** First and last record time (0 and 0 when empty). */
  get range(): { from: number; to: number } {
    const n = this.records.length;
    return n === 0 ? { from: 0, to: 0 } : { from: this.records[0]!.time, to: this.records[n - 1]!.time };
  }

  /** The view after the first `count` records (a fresh copy: the caller may keep or change it). */
  after(count: number): ClusterView {
    const n = Math.max(0, Math.min(count, this.records.length));
    const every = this.checkpointEvery;
    const c = Math.floor(n / every);
    while (this.checkpoints.length <= c) {
      const i = this.checkpoints.length;
      const view = cloneView(this.checkpoints[i - 1]!);
      for (let k = (i - 1) * every; k < i * every; k++) applyRecord(view, this.records[k]!);
      this.checkpoints.push(view);
    }
    const view = cloneView(this.checkpoints[c]!);
    for (let k = c * every; k < n; k++) applyRecord(view, this.records[k]!);
    return view;
  }

  /** How many records lie at or before `time`. */
  countAt(time: number): number {
    let lo = 0;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.records[mid]!.time <= time) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The view at `time`: every record up to and including it. */
  at(time: number): ClusterView {
    return this.after(this.countAt(time));
  }

  /**
   * The record count just after the next (direction 1) or previous (-1) state change from `count`: a snapshot
   * whose state differs from the actor's state before it. Returns `count` when there is none.
   */
  stepStateChange(count: number, direction: 1 | -1): number {
    const changes = this.stateChanges();
    if (direction === 1) {
      for (const c of changes) if (c > count) return c;
      return count;
    }
    for (let i = changes.length - 1; i >= 0; i--) if (changes[i]! < count) return changes[i]!;
    return count > 0 ? 0 : count;
  }

  private changes: number[] | undefined;

  /** Record counts right after each state change (ascending). */
  stateChanges(): number[] {
    if (this.changes !== undefined) return this.changes;
    const last = new Map<string, string>();
    const out: number[] = [];
    this.records.forEach((r, i) => {
      if (r.kind !== 'snapshot') return;
      const key = `${r.source}|${r.address}|${r.actorId}`;
      const state = JSON.stringify(r.state ?? r.status ?? null);
      if (last.get(key) !== state) out.push(i + 1);
      last.set(key, state);
    });
    return (this.changes = out);
  }
}
