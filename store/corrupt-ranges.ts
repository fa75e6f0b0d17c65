/**
 * Commit log bytes a store found corrupt: recovery's scan (a record whose CRC or layout fails, skipped up to
 * the next intact record) or a read (a record a consume queue entry or a key pointed at that does not read
 * back). The records in such a range are lost; those around it are kept. Kept in memory while the store is
 * open (recovery finds those it scans again after a restart).
 */

export interface CorruptRange {
  /** Global commit log offsets [from, to). */
  from: number;
  to: number;
  /** The segment file holding them (its 20-digit name); a range never spans two segments. */
  segment: string;
  /** What was wrong with the first bytes of the range (CRC mismatch, bad magic, bad record size...). */
  reason: string;
  foundBy: 'recovery' | 'read';
}

/** The corrupt ranges of one store, ascending and not overlapping. */
export class CorruptRanges {
  private ranges: CorruptRange[] = [];

  constructor(found: readonly CorruptRange[] = []) {
    for (const r of found) this.add(r);
  }

  /** Adds a range unless a known one overlaps it; true when it is new. */
  add(r: CorruptRange): boolean {
    if (r.to <= r.from) return false;
    let i = this.ranges.length;
    while (i > 0 && this.ranges[i - 1]!.from >= r.to) i--;
    const before = this.ranges[i - 1];
    if (before !== undefined && before.to > r.from) return false;
    this.ranges.splice(i, 0, { ...r });
    return true;
  }

  /** The ranges that end above `minOffset` (retention removes the older ones' segments). */
  list(minOffset = 0): CorruptRange[] {
    return this.ranges.filter((r) => r.to > minOffset).map((r) => ({ ...r }));
  }
}
