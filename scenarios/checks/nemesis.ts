/**
 * The nemesis ops of a history, indexed for "was there a fault between these two ops?": their op indexes and
 * times in history order (times do not decrease along the history), overall and per target process, answered by
 * binary search.
 */

export class NemesisIndex {
  private readonly indexes: number[] = [];
  private readonly times: number[] = [];
  private readonly byTarget = new Map<string, number[]>();

  /** Adds one nemesis op; ops come in history order. */
  add(index: number, time: number, targets: readonly string[]): void {
    this.indexes.push(index);
    this.times.push(time);
    for (const target of new Set(targets)) {
      let list = this.byTarget.get(target);
      if (!list) this.byTarget.set(target, (list = []));
      list.push(index);
    }
  }

  get count(): number {
    return this.indexes.length;
  }

  /** True when some nemesis op lies strictly between op indexes `after` and `before`. */
  between(after: number, before: number): boolean {
    const i = firstAbove(this.indexes, after);
    return i < this.indexes.length && this.indexes[i]! < before;
  }

  /**
   * True when some nemesis op lies before op `before` and either after op `after` or at most `windowMs` before
   * `afterTime` (the time of op `after`).
   */
  explains(after: number, afterTime: number, before: number, windowMs: number): boolean {
    let i = firstAbove(this.indexes, after);
    if (windowMs > 0) i = Math.min(i, firstAtLeast(this.times, afterTime - windowMs));
    return i < this.indexes.length && this.indexes[i]! < before;
  }

  /** True when a nemesis op whose targets include `target` lies strictly between op indexes `after` and `before`. */
  targetedBetween(target: string, after: number, before: number): boolean {
    const list = this.byTarget.get(target);
    if (!list) return false;
    const i = firstAbove(list, after);
    return i < list.length && list[i]! < before;
  }
}

/** The first position whose value is > x in an ascending array (its length when none). */
function firstAbove(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first position whose value is >= x in an ascending array (its length when none). */
function firstAtLeast(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
