/**
 * The clock of a real run: real time in ms since its zero (set as the clients start, so a scenario's times
 * count from there, as they do in simulation), with real timers. It keeps its timers so that the run's end
 * clears every one left (a workload's interval, a fault's heal): nothing of a run fires after it.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';

export class RunClock implements Clock {
  private originMs = Date.now();
  private readonly timers = new Set<NodeJS.Timeout>();

  /** The wall clock (ms since the epoch) at the run's zero. */
  get origin(): number {
    return this.originMs;
  }

  /** The run's time starts over at 0 now. */
  zero(): void {
    this.originMs = Date.now();
  }

  now(): number {
    return Date.now() - this.originMs;
  }

  monotonicMs(): number {
    return performance.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, Math.max(0, ms));
    this.timers.add(t);
    return t;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    clearTimeout(handle as NodeJS.Timeout);
    this.timers.delete(handle as NodeJS.Timeout);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const t = setInterval(fn, Math.max(1, ms));
    this.timers.add(t);
    return t;
  }

  clearInterval(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    clearInterval(handle as NodeJS.Timeout);
    this.timers.delete(handle as NodeJS.Timeout);
  }

  /** Clears every timer still set. */
  clearAll(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
