import { queueKey, type MessageExt, type MessageQueue } from '../../core/message.js';

/**
 * The messages of one assigned queue that were pulled but not yet processed (RocketMQ's ProcessQueue). The
 * cache bounds pulling (flow control), and its lowest offset is what may be committed: everything below it
 * was processed (or filtered out).
 */
export class ProcessQueue {
  /** Offset of the next pull. */
  nextOffset: number;
  /** Set when the queue is released (rebalance) or the consumer stops: pulls end, results are dropped. */
  dropped = false;
  /**
   * The cached messages as parallel arrays in offset order (pulls return ascending offsets, so adding is an
   * append): offset, body size and a processed mark each. `head` is the first unprocessed entry; processed
   * entries before it are cut off in bulk. No per-message map or object.
   */
  private offs: number[] = [];
  private sizes: number[] = [];
  private done: boolean[] = [];
  private head = 0;
  /** Where the last removal found its message: removals mostly go in order, so the next one is just after. */
  private hint = 0;
  private live = 0;
  private bytes = 0;
  private waiters: (() => void)[] = [];
  /** queueKey(mq), made once: the consumer looks its queues up by it for every batch. */
  readonly key: string;

  constructor(
    readonly mq: MessageQueue,
    startOffset: number,
  ) {
    this.nextOffset = startOffset;
    this.key = queueKey(mq);
  }

  get count(): number {
    return this.live;
  }

  get cachedBytes(): number {
    return this.bytes;
  }

  /** Index of `offset` among the cached entries, or -1. */
  private indexOf(offset: number): number {
    const offs = this.offs;
    const h = this.hint;
    if (h < offs.length && offs[h] === offset) return h;
    // processed entries below `head` stay until the next compaction, and a re-pull may bring one back
    let lo = 0;
    let hi = offs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = offs[mid]!;
      if (v === offset) return mid;
      if (v < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Caches pulled messages (in offset order, as pulls return them); offsets already cached are skipped. */
  add(msgs: readonly MessageExt[]): void {
    const offs = this.offs;
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      const o = m.queueOffset;
      const n = m.body.length;
      if (offs.length === 0 || o > offs[offs.length - 1]!) {
        offs.push(o);
        this.sizes.push(n);
        this.done.push(false);
      } else {
        const had = this.indexOf(o);
        if (had >= 0) {
          if (!this.done[had]) continue; // a duplicate
          this.done[had] = false; // processed, pulled again: cached again
          this.sizes[had] = n;
          if (had < this.head) this.head = had;
          this.live++;
          this.bytes += n;
          continue;
        }
        // out of order (rare): insert at its place
        let at = offs.length;
        while (at > 0 && offs[at - 1]! > o) at--;
        offs.splice(at, 0, o);
        this.sizes.splice(at, 0, n);
        this.done.splice(at, 0, false);
        if (at < this.head) this.head = at;
      }
      this.live++;
      this.bytes += n;
    }
  }

  /** Removes processed messages (by offset) and wakes a pull waiting for room. */
  remove(msgs: readonly MessageExt[]): void {
    const done = this.done;
    for (let i = 0; i < msgs.length; i++) {
      const at = this.indexOf(msgs[i]!.queueOffset);
      if (at < 0 || done[at]) continue;
      done[at] = true;
      this.hint = at + 1;
      this.live--;
      this.bytes -= this.sizes[at]!;
    }
    let h = this.head;
    const len = this.offs.length;
    while (h < len && done[h]) h++;
    this.head = h;
    if (h === len) {
      this.offs = [];
      this.sizes = [];
      this.done = [];
      this.head = 0;
      this.hint = 0;
    } else if (h >= 1024 && h * 2 >= len) {
      this.offs = this.offs.slice(h);
      this.sizes = this.sizes.slice(h);
      this.done = this.done.slice(h);
      this.hint = Math.max(0, this.hint - h);
      this.head = 0;
    }
    this.wake();
  }

  /** The offset to commit: the lowest unprocessed message, or the next pull offset when all are processed. */
  commitOffset(): number {
    return this.head < this.offs.length ? this.offs[this.head]! : this.nextOffset;
  }

  /** Whether the cache is over either limit (pulling should wait). */
  isFull(maxCount: number, maxBytes: number): boolean {
    return this.live >= maxCount || this.bytes >= maxBytes;
  }

  /** Resolves when messages are removed or the queue is dropped. */
  waitForRoom(): Promise<void> {
    if (this.dropped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  drop(): void {
    this.dropped = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
