import type { Clock, TimerHandle } from '../../core/clock.js';
import { QueueMap } from '../../core/queue-map.js';

/**
 * Held pulls (long polling), keyed by queue. A pull that found no new message waits here until the queue
 * grows past its offset (then `wake` re-runs it) or its time is up (then `timeout` answers NO_NEW_MSG).
 * Timers come from the injected Clock. The number of held pulls is bounded: past the bound `hold` refuses
 * and the caller answers at once. `releaseAll` answers every held pull (shutdown).
 */

export interface HeldPullCallbacks {
  /** The queue grew past the pull's offset: re-run it and answer. */
  wake(): void;
  /** Time is up, or the broker is shutting down: answer NO_NEW_MSG. */
  timeout(): void;
}

interface Held {
  topic: string;
  queueId: number;
  offset: number;
  timer: TimerHandle;
  cb: HeldPullCallbacks;
  done: boolean;
}

export const DEFAULT_MAX_HELD_PULLS = 10_000;

export class LongPolling {
  private readonly byQueue = new QueueMap<Set<Held>>();
  private count = 0;

  /**
   * `onCallbackError` hears a callback that threw (the others are called all the same); without it the error
   * is thrown on, after the held pull is gone.
   */
  constructor(
    private readonly clock: Clock,
    readonly maxHeld = DEFAULT_MAX_HELD_PULLS,
    private readonly onCallbackError?: (err: unknown) => void,
  ) {}

  /** Number of pulls held now. */
  get size(): number {
    return this.count;
  }

  /**
   * Holds a pull of (topic, queueId) waiting for data past `offset` for at most `timeoutMs`. Returns false
   * (and holds nothing) when the bound is reached or the timeout is not positive.
   */
  hold(topic: string, queueId: number, offset: number, timeoutMs: number, cb: HeldPullCallbacks): boolean {
    if (!(timeoutMs > 0) || this.count >= this.maxHeld) return false;
    const h: Held = { topic, queueId, offset, cb, done: false, timer: undefined as unknown as TimerHandle };
    h.timer = this.clock.setTimeout(() => this.finish(h, 'timeout'), timeoutMs);
    let set = this.byQueue.get(topic, queueId);
    if (!set) this.byQueue.set(topic, queueId, (set = new Set()));
    set.add(h);
    this.count++;
    return true;
  }

  /** The queue's max offset is now `maxOffset`: wakes every pull held at an offset below it. */
  notify(topic: string, queueId: number, maxOffset: number): void {
    const set = this.byQueue.get(topic, queueId);
    if (!set) return;
    for (const h of [...set]) if (h.offset < maxOffset) this.finish(h, 'wake');
  }

  /** Answers every held pull with its timeout callback (shutdown). */
  releaseAll(): void {
    for (const set of this.byQueue.values()) for (const h of [...set]) this.finish(h, 'timeout');
  }

  private finish(h: Held, how: 'wake' | 'timeout'): void {
    if (h.done) return;
    h.done = true;
    this.clock.clearTimeout(h.timer);
    const set = this.byQueue.get(h.topic, h.queueId);
    if (set) {
      set.delete(h);
      if (set.size === 0) this.byQueue.delete(h.topic, h.queueId);
    }
    this.count--;
    try {
      if (how === 'wake') h.cb.wake();
      else h.cb.timeout();
    } catch (err) {
      // a timer or the store's notice called this: a throw would end up outside any request
      if (this.onCallbackError === undefined) throw err;
      this.onCallbackError(err);
    }
  }
}
