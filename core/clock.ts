/**
 * Time for actors and the store. Nothing in actors/ or store/ reads the system clock or starts a timer
 * except through a Clock handed to it by the Environment.
 *
 * The shape matches XState v5's `clock` option (setTimeout/clearTimeout), so an actor created by the
 * runtime runs its delayed transitions on the same clock.
 */
import { MinHeap } from './min-heap.js';

export type TimerHandle = { readonly __timer: unique symbol } | number | object;

export interface Clock {
  /** Milliseconds since the Unix epoch (virtual in a simulation). */
  now(): number;
  /**
   * Milliseconds on a monotonic clock, with a fraction (sub-millisecond where the platform has it): for
   * measuring how long something took (latency metrics), never for dates. Virtual in a simulation.
   */
  monotonicMs(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | undefined): void;
}

/** The system clock and Node's timers. Timers are unref'd so that a forgotten one never keeps a process up. */
export class RealClock implements Clock {
  now(): number {
    return Date.now();
  }
  monotonicMs(): number {
    return performance.now();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return t;
  }
  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) clearTimeout(handle as NodeJS.Timeout);
  }
  setInterval(fn: () => void, ms: number): TimerHandle {
    const t = setInterval(fn, Math.max(1, ms));
    t.unref();
    return t;
  }
  clearInterval(handle: TimerHandle | undefined): void {
    if (handle !== undefined) clearInterval(handle as NodeJS.Timeout);
  }
}

interface SimTimer {
  id: number;
  due: number;
  seq: number;
  fn: () => void;
  interval: number; // 0 for one-shot
}

/** Lets pending promise callbacks (microtasks) run to completion before the next timer fires. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A virtual clock: time stands still until the runner advances it, and timers fire in one total order
 * (due time, then creation order). With a seeded random source and the in-memory transport scheduled on this
 * clock, a run is a pure function of its seed.
 */
export class SimClock implements Clock {
  private current: number;
  private seq = 0;
  private nextId = 1;
  private readonly timers = new Map<number, SimTimer>();
  /** Ordered by (due, creation order); cleared timers stay until they reach the top. */
  private readonly heap = new MinHeap<SimTimer>((a, b) => a.due < b.due || (a.due === b.due && a.seq < b.seq));
  /** Number of timer callbacks fired so far; useful in traces. */
  fired = 0;

  constructor(start = 1_700_000_000_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  /** The virtual now: durations measured on a simulated clock are those of its timers. */
  monotonicMs(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, 0);
  }
  clearTimeout(handle: TimerHandle | undefined): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }
  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, Math.max(1, ms));
  }
  clearInterval(handle: TimerHandle | undefined): void {
    this.clearTimeout(handle);
  }

  /** Timers not yet fired or cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Due time of the next live timer, or undefined when none is pending. */
  nextDue(): number | undefined {
    this.dropDead();
    return this.heap.peek()?.due;
  }

  /**
   * Fires the next due timer (moving time forward to it) and lets its microtasks settle.
   * Returns false when no timer is pending.
   */
  async step(): Promise<boolean> {
    const t = this.popNext();
    if (!t) return false;
    this.fire(t);
    await settle();
    return true;
  }

  /** Advances virtual time by `ms`, firing every timer that falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const until = this.current + Math.max(0, ms);
    await settle();
    for (;;) {
      const due = this.nextDue();
      if (due === undefined || due > until) break;
      await this.step();
    }
    this.current = until;
    await settle();
  }

  /** Fires timers until none is pending or `maxSteps` is reached; returns the number fired. */
  async runAll(maxSteps = 1_000_000): Promise<number> {
    let n = 0;
    await settle();
    while (n < maxSteps && (await this.step())) n++;
    return n;
  }

  /** Fires timers until `done()` holds, time passes `deadline` (virtual ms from now) or nothing is pending. */
  async runUntil(done: () => boolean, deadlineMs = 3_600_000): Promise<boolean> {
    const until = this.current + deadlineMs;
    await settle();
    while (!done()) {
      const due = this.nextDue();
      if (due === undefined || due > until) return done();
      await this.step();
    }
    return true;
  }

  private add(fn: () => void, ms: number, interval: number): number {
    const t: SimTimer = { id: this.nextId++, due: this.current + Math.max(0, ms), seq: this.seq++, fn, interval };
    this.timers.set(t.id, t);
    this.heap.push(t);
    return t.id;
  }

  private fire(t: SimTimer): void {
    this.current = Math.max(this.current, t.due);
    this.fired++;
    if (t.interval > 0) {
      t.due = this.current + t.interval;
      t.seq = this.seq++;
      this.heap.push(t);
    } else {
      this.timers.delete(t.id);
    }
    t.fn();
  }

  private dropDead(): void {
    for (let top = this.heap.peek(); top !== undefined && this.timers.get(top.id) !== top; top = this.heap.peek()) this.heap.pop();
  }

  private popNext(): SimTimer | undefined {
    this.dropDead();
    return this.heap.pop();
  }
}
