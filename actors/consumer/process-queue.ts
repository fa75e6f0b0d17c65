import type { MessageExt, MessageQueue } from '../protocol/message.js';

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
  private readonly msgs = new Map<number, MessageExt>();
  private bytes = 0;
  private waiters: (() => void)[] = [];

  constructor(
    readonly mq: MessageQueue,
    startOffset: number,
  ) {
    this.nextOffset = startOffset;
  }

  get count(): number {
    return this.msgs.size;
  }

  get cachedBytes(): number {
    return this.bytes;
  }

  /** Caches pulled messages (in offset order, as pulls return them). */
  add(msgs: readonly MessageExt[]): void {
    for (const m of msgs) {
      if (this.msgs.has(m.queueOffset)) continue;
      this.msgs.set(m.queueOffset, m);
      this.bytes += m.body.length;
    }
  }

  /** Removes processed messages and wakes a pull waiting for room. */
  remove(msgs: readonly MessageExt[]): void {
    for (const m of msgs) {
      const had = this.msgs.get(m.queueOffset);
      if (!had) continue;
      this.msgs.delete(m.queueOffset);
      this.bytes -= had.body.length;
    }
    this.wake();
  }

  /** The offset to commit: the lowest unprocessed message, or the next pull offset when all are processed. */
  commitOffset(): number {
    for (const k of this.msgs.keys()) return k; // insertion order is offset order
    return this.nextOffset;
  }

  /** Whether the cache is over either limit (pulling should wait). */
  isFull(maxCount: number, maxBytes: number): boolean {
    return this.msgs.size >= maxCount || this.bytes >= maxBytes;
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
