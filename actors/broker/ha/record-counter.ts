import { readU32 } from '../../../core/bytes.js';
import type { ReplicaRead } from '../store-port.js';

/** How far behind the write offset the counter counts (a slave further behind has no lag in messages). */
export const COUNT_LIMIT_BYTES = 64 * 1024 * 1024;
/**
 * At most this many bytes between two marks: a count from a mark reads no more (with a mark every MiB, each of
 * `bench ha`'s status requests, one every 10 ms, read up to a MiB into a new buffer).
 */
export const MARK_BYTES = 64 * 1024;
const READ_BYTES = 1024 * 1024;

/**
 * The records between two commit log offsets (record boundaries), for the HA status's lag in messages. Counting
 * by reading the log on every status request read up to 64 MiB each time (a status sampled every 10 ms under load
 * took a third of a master's CPU); this keeps cumulative counts at marks no more than MARK_BYTES apart, up to
 * COUNT_LIMIT_BYTES behind the newest, so each byte of the log is read once to extend them and a count reads at
 * most MARK_BYTES more.
 */
export class RecordCounter {
  /** Where reads land: they are counted at once (the log's records are read once more, not kept). */
  private scratch = new Uint8Array(0);
  /** Mark offsets, ascending, each a record boundary; counts[i] is the records from marks[0] to marks[i]. */
  private marks: number[] = [];
  private counts: number[] = [];

  constructor(
    private readonly read: (from: number, maxBytes: number, into?: Uint8Array) => ReplicaRead,
    private readonly limit = COUNT_LIMIT_BYTES,
    private readonly markBytes = MARK_BYTES,
  ) {}

  /** Records in [from, to) when both are record boundaries at most `limit` apart and readable; else undefined. */
  between(from: number, to: number): number | undefined {
    if (from > to || to - from > this.limit) return undefined;
    if (from === to) return 0;
    const last = this.marks[this.marks.length - 1];
    // nothing counted yet, `from` before the counted range, or the log was cut below its last mark: start at `from`
    if (last === undefined || from < this.marks[0]! || to < last) this.reset(from);
    if (!this.extendTo(to)) {
      this.marks = [];
      this.counts = [];
      return undefined;
    }
    const i = this.markAtOrBefore(from);
    const head = this.count(this.marks[i]!, from);
    if (head === undefined) return undefined;
    const n = this.counts[this.counts.length - 1]! - this.counts[i]! - head;
    this.trim(to);
    return n;
  }

  private reset(at: number): void {
    this.marks = [at];
    this.counts = [0];
  }

  /** Extends the marks to `to`, reading what lies past the last mark. False when the log does not read there. */
  private extendTo(to: number): boolean {
    let at = this.marks[this.marks.length - 1]!;
    let n = this.counts[this.counts.length - 1]!;
    let sinceMark = 0;
    while (at < to) {
      const r = this.readOnce(at, to, READ_BYTES);
      if (r === undefined) return false;
      n += r.records;
      sinceMark += r.next - at;
      at = r.next;
      if (sinceMark >= this.markBytes || at >= to) {
        this.marks.push(at);
        this.counts.push(n);
        sinceMark = 0;
      }
    }
    return true;
  }

  /** Records in [from, to), read from the log (to - from is at most a mark's spacing). */
  private count(from: number, to: number): number | undefined {
    let n = 0;
    for (let at = from; at < to; ) {
      const r = this.readOnce(at, to, to - at);
      if (r === undefined) return undefined;
      n += r.records;
      at = r.next;
    }
    return n;
  }

  /** One read at `at` of at most `maxBytes`: the records it holds before `to`, and where the next read starts. */
  private readOnce(at: number, to: number, maxBytes: number): { records: number; next: number } | undefined {
    const n = Math.min(maxBytes, to - at);
    if (this.scratch.length < n) this.scratch = new Uint8Array(n);
    const r = this.read(at, n, this.scratch);
    if (r.kind !== 'data' || r.offset > to) return undefined;
    const end = Math.min(r.data.length, to - r.offset);
    let records = 0;
    for (let p = 0; p < end; p += readU32(r.data, p)) records++;
    return { records, next: r.offset + end };
  }

  private markAtOrBefore(offset: number): number {
    let lo = 0;
    let hi = this.marks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.marks[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Drops the marks more than `limit` behind `to` (keeping the last one at or before that point). */
  private trim(to: number): void {
    const drop = this.markAtOrBefore(to - this.limit);
    if (drop > 0) {
      this.marks.splice(0, drop);
      this.counts.splice(0, drop);
    }
  }
}
