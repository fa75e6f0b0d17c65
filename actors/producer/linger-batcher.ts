import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { InFlight } from '../runtime/in-flight.js';
import type { Message, MessageQueue, SendResult } from '../../core/message.js';
import { queueKey } from '../../core/message.js';
import { sendPartOverhead } from '../protocol/send-many.js';
import { MESSAGE_BATCH_HEADER_BYTES } from '../../core/message-codec.js';

/**
 * Automatic batching: sends to one queue within `lingerMs` are combined into one batch (up to `maxBytes` of
 * encoded messages), sent with one request; each caller's promise resolves with its own result. A batch
 * leaves when its linger time is up, when the next message would make it too large, or on `flushAll()`.
 * With `lingerMs` 0 nothing waits for time: the batches leave at the end of the turn (a microtask after the
 * first add), holding what the turn's code sent, so one send alone leaves at once; the turn's batches for
 * queues of one broker then leave together (`sendMany`, one request per broker, up to `maxBytes` each).
 */

interface Waiter {
  resolve(r: SendResult): void;
  reject(err: unknown): void;
}

interface Pending {
  mq: MessageQueue;
  msgs: Message[];
  waiters: Waiter[];
  bytes: number;
  timer: TimerHandle | undefined;
}

export type SendBatch = (msgs: readonly Message[], mq: MessageQueue) => Promise<SendResult[]>;
/** Sends batches for queues of one broker together: one promise per batch. */
export type SendMany = (parts: readonly { msgs: readonly Message[]; mq: MessageQueue }[]) => Promise<SendResult[]>[];

export class LingerBatcher {
  /**
   * Batches by queue object: the send path hands out one frozen object per queue for its route's life, so a
   * look-up makes no key string. (Two objects for one queue, across a route refresh, make two batches: both
   * still leave in the order they were made.)
   */
  private readonly pending = new Map<MessageQueue, Pending>();
  private readonly inflight = new InFlight();
  private turnQueued = false;
  /** With lingerMs 0: the queue each topic's messages of this turn go to. */
  private readonly turnQueues = new Map<string, MessageQueue>();

  constructor(
    private readonly sendBatch: SendBatch,
    private readonly clock: Clock,
    private readonly lingerMs: number,
    private readonly maxBytes: number,
    private readonly logger: Logger,
    private readonly sendMany?: SendMany,
  ) {}

  /** Number of batches waiting for their linger time. */
  get lingering(): number {
    return this.pending.size;
  }

  /** Adds one message (of `bytes` encoded bytes) for queue `mq`; resolves when its batch is acknowledged. */
  add(mq: MessageQueue, msg: Message, bytes: number): Promise<SendResult> {
    let p = this.pending.get(mq);
    if (p && p.bytes + bytes > this.maxBytes) {
      this.flush(mq);
      p = undefined;
    }
    if (!p) {
      p = { mq, msgs: [], waiters: [], bytes: 0, timer: undefined };
      this.pending.set(mq, p);
      if (this.lingerMs > 0) p.timer = this.clock.setTimeout(() => this.flush(mq), this.lingerMs);
      else if (!this.turnQueued) {
        this.turnQueued = true;
        queueMicrotask(this.endTurn);
      }
    }
    const batch = p;
    return new Promise<SendResult>((resolve, reject) => {
      batch.msgs.push(msg);
      batch.waiters.push({ resolve, reject });
      batch.bytes += bytes;
      if (batch.bytes >= this.maxBytes) this.flush(mq);
    });
  }

  private readonly endTurn = (): void => {
    this.turnQueued = false;
    this.turnQueues.clear();
    if (this.sendMany === undefined || this.pending.size < 2) return this.flushAll();
    // one request per broker (and per maxBytes) for the turn's batches
    const open = new Map<string, { parts: Pending[]; bytes: number }>();
    const full: Pending[][] = [];
    for (const p of this.pending.values()) {
      const bytes = MESSAGE_BATCH_HEADER_BYTES + p.bytes + sendPartOverhead(p.mq.topic);
      let g = open.get(p.mq.brokerName);
      if (g !== undefined && g.bytes + bytes > this.maxBytes) {
        full.push(g.parts);
        g = undefined;
      }
      if (g === undefined) open.set(p.mq.brokerName, (g = { parts: [], bytes: 2 })); // (the part count)
      g.parts.push(p);
      g.bytes += bytes;
    }
    this.pending.clear();
    for (const g of open.values()) full.push(g.parts);
    for (const group of full) {
      if (group.length === 1) this.settle(group[0]!, this.sendBatch(group[0]!.msgs, group[0]!.mq));
      else {
        const results = this.sendMany(group);
        for (let k = 0; k < group.length; k++) this.settle(group[k]!, results[k]!);
      }
    }
  };

  /**
   * Adds a message without a queue of its own: with lingerMs 0 to its topic's queue of this turn (`pick` chooses it
   * at the topic's first message of the turn), so a turn's messages to one topic make one batch; else to the queue
   * `pick` chooses for it.
   */
  addToTopic(topic: string, pick: () => MessageQueue, msg: Message, bytes: number): Promise<SendResult> {
    if (this.lingerMs > 0) return this.add(pick(), msg, bytes);
    let mq = this.turnQueues.get(topic);
    if (mq === undefined) {
      mq = pick();
      this.turnQueues.set(topic, mq);
    }
    return this.add(mq, msg, bytes);
  }

  /** Sends every lingering batch now. */
  flushAll(): void {
    for (const key of [...this.pending.keys()]) this.flush(key);
  }

  /** Sends every lingering batch and waits until every batch sent so far is answered. */
  async drain(): Promise<void> {
    this.flushAll();
    while (this.inflight.size > 0) await this.inflight.idle();
  }

  private flush(mq: MessageQueue): void {
    const p = this.pending.get(mq);
    if (!p) return;
    this.pending.delete(mq);
    this.clock.clearTimeout(p.timer);
    this.settle(p, this.sendBatch(p.msgs, p.mq));
  }

  /** Hands a sent batch's results (or failure) to its callers. */
  private settle(p: Pending, sent: Promise<SendResult[]>): void {
    const done = sent.then(
      (results) => {
        for (let i = 0; i < p.waiters.length; i++) p.waiters[i]!.resolve(results[i]!);
      },
      (err: unknown) => {
        this.logger.debug({ err, queue: queueKey(p.mq), messages: p.msgs.length }, 'lingered batch failed');
        for (const w of p.waiters) w.reject(err);
      },
    );
    void this.inflight.track(done);
  }
}
