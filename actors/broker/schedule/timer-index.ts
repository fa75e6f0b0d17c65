/**
 * The timer scheduler's pure parts: a min-heap of timers ordered by (due time, queue offset), and the
 * progress through the timer queue (every offset below `lowWater` is done; `done` holds the offsets above it
 * already fired), persisted as ranges so that a restart neither loses a timer nor fires a done one again.
 */
import { MinHeap } from '../../../core/min-heap.js';
import { shape, ShapeMismatch, type Shape } from '../../../store/config-file.js';

export interface TimerEntry {
  /** When it is due (ms since epoch). */
  at: number;
  /** Queue offset in the timer topic. */
  offset: number;
  msgId: string;
}

/** Timers in (due time, queue offset) order. */
export class TimerHeap<T extends TimerEntry = TimerEntry> extends MinHeap<T> {
  constructor() {
    super(less);
  }

  /** Removes and returns every entry due at or before `now` (at most `max`), earliest first. */
  popDue(now: number, max: number): T[] {
    const out: T[] = [];
    for (let top = this.peek(); out.length < max && top !== undefined && top.at <= now; top = this.peek()) out.push(this.pop()!);
    return out;
  }
}

function less(a: TimerEntry, b: TimerEntry): boolean {
  return a.at < b.at || (a.at === b.at && a.offset < b.offset);
}

/** [from, to) ranges of sorted, distinct offsets. */
export function toRanges(sorted: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const o of sorted) {
    const last = out[out.length - 1];
    if (last && last[1] === o) last[1] = o + 1;
    else out.push([o, o + 1]);
  }
  return out;
}

export function fromRanges(ranges: readonly (readonly [number, number])[]): number[] {
  const out: number[] = [];
  for (const [a, b] of ranges) for (let o = a; o < b; o++) out.push(o);
  return out;
}

export interface TimerProgressFile {
  /** Every timer-queue offset below it is done. */
  lowWater: number;
  /** Offsets at or above lowWater already done, as [from, to) ranges. */
  done: [number, number][];
}

/** Longest done range in a progress file (a longer one is not a file this code wrote). */
export const MAX_DONE_RANGE = 100_000_000;

/** The shape of timerOffsets.json: `{ lowWater, done: [[from, to), ...] }`, each range non-empty and bounded. */
export const timerProgressShape: Shape<TimerProgressFile> = shape.fields<TimerProgressFile>({
  lowWater: shape.int(0),
  done: shape.array((v, field) => {
    const r = shape.array(shape.int(0), 2)(v, field);
    if (r.length !== 2 || r[0]! >= r[1]! || r[1]! - r[0]! > MAX_DONE_RANGE) throw new ShapeMismatch(field, `a range [from, to) with from < to, at most ${MAX_DONE_RANGE} long`, v);
    return [r[0]!, r[1]!] as [number, number];
  }),
});

/** Which timer-queue offsets are done (fired, or skipped as malformed or missing). */
export class TimerProgress {
  private lw: number;
  private readonly doneAbove = new Set<number>();

  constructor(file?: TimerProgressFile) {
    this.lw = file && Number.isSafeInteger(file.lowWater) && file.lowWater >= 0 ? file.lowWater : 0;
    if (file && Array.isArray(file.done)) {
      for (const r of file.done) {
        if (!Array.isArray(r) || !Number.isSafeInteger(r[0]) || !Number.isSafeInteger(r[1]) || r[1] - r[0] > MAX_DONE_RANGE) continue;
        for (let o = Math.max(r[0], this.lw); o < r[1]; o++) this.doneAbove.add(o);
      }
      this.compact();
    }
  }

  get lowWater(): number {
    return this.lw;
  }

  isDone(offset: number): boolean {
    return offset < this.lw || this.doneAbove.has(offset);
  }

  markDone(offset: number): void {
    if (offset < this.lw) return;
    this.doneAbove.add(offset);
    if (offset === this.lw) this.compact();
  }

  /** Retention removed everything below `min`: nothing below it can fire any more. */
  raiseTo(min: number): void {
    if (min <= this.lw) return;
    for (const o of this.doneAbove) if (o < min) this.doneAbove.delete(o);
    this.lw = min;
    this.compact();
  }

  /** Offsets done above lowWater (for tests and inspection). */
  get doneCount(): number {
    return this.doneAbove.size;
  }

  toFile(): TimerProgressFile {
    return { lowWater: this.lw, done: toRanges([...this.doneAbove].sort((a, b) => a - b)) };
  }

  private compact(): void {
    while (this.doneAbove.delete(this.lw)) this.lw++;
  }
}
