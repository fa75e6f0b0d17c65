/**
 * Counts operations in flight and lets a caller wait until none is left.
 *
 * It holds a count, not the promises. A Set of promises that come and go at a high rate keeps replacing its
 * hash table; a replaced table that had reached the old generation still points at the promises it held, and
 * through them at their results, so every young-generation collection keeps those alive and promotes them.
 * On the producer's send path a Set promoted send results by the megabyte while a count promotes next to
 * nothing, and scavenges got much shorter.
 */
export class InFlight {
  private n = 0;
  private waiters: Array<() => void> = [];

  /** Operations tracked and not yet settled. */
  get size(): number {
    return this.n;
  }

  /** Counts `p` until it settles (either way); returns `p`. */
  track<T>(p: Promise<T>): Promise<T> {
    this.n++;
    p.then(this.settled, this.settled);
    return p;
  }

  /** Resolves once nothing is in flight: at once when nothing is. */
  idle(): Promise<void> {
    return this.n === 0 ? Promise.resolve() : new Promise<void>((r) => this.waiters.push(r));
  }

  private readonly settled = (): void => {
    if (--this.n > 0 || this.waiters.length === 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  };
}
