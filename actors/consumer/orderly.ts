import type { ClientInstance } from '../client/client-instance.js';
import type { LockBatchHeader, LockBatchReplyHeader, QueueLockBody, SendBackHeader } from '../protocol/commands.js';
import { queueKey, type MessageExt, type MessageQueue } from '../../core/message.js';
import { RequestCode } from '../protocol/request-codes.js';
import { jsonBody, parseJsonBody, request } from '../protocol/replies.js';
import type { ProcessQueue } from './process-queue.js';

/**
 * Orderly consumption (RocketMQ's ConsumeMessageOrderlyService with the rebalance's queue locks):
 *
 * - the consumer locks each assigned queue at its broker (LOCK_BATCH_MQ) before pulling it, and renews every
 *   lock every `lockRenewMs`; a lock counts here for 1.5 x lockRenewMs after the request that got it was
 *   sent, or for the broker's lease (`queueLockLeaseMs`, told in the reply) when that is shorter, so a consumer
 *   cut off from its broker stops processing before the broker gives the queue to another member;
 * - each queue is processed strictly serially, one batch (`consumeBatchSize`) at a time, and only while its
 *   lock holds;
 * - a batch that fails (RETRY or a throw) is suspended for `suspendMs` and then given to the listener again,
 *   the same messages with their reconsume count raised by one; a message that failed `maxReconsumeTimes`
 *   times more goes to the group's dead-letter topic (CONSUMER_SEND_MSG_BACK with delay level -1) and the queue
 *   moves on. The next message of a queue is never processed before the one in front of it is done.
 *
 * Releasing a queue (rebalance, stop) is the consumer's: it drops the queue, waits for `submit`'s promise (the
 * batch in flight), commits the offset and only then calls `unlock`.
 */

export type OrderlyListener = (msgs: MessageExt[]) => Promise<'SUCCESS' | 'RETRY'> | 'SUCCESS' | 'RETRY';

export interface OrderlySettings {
  group: string;
  listener: OrderlyListener;
  consumeBatchSize: number;
  maxReconsumeTimes: number;
  /** Lock renewal interval (default 20000 ms). */
  lockRenewMs: number;
  /** Pause of a queue after a failed batch before it is retried (default 1000 ms). */
  suspendMs: number;
}

/** What the orderly service uses of its consumer. */
export interface OrderlyHost {
  readonly client: ClientInstance;
  /** False once the queue is dropped or the consumer stops. */
  isActive(pq: ProcessQueue): boolean;
  /** Marks messages processed (the committable offset moves past them). */
  ack(pq: ProcessQueue, msgs: readonly MessageExt[]): void;
  /** Shows messages handed to the listener (the consumer's `messages$`). */
  tap(msgs: readonly MessageExt[]): void;
  /** The queues the consumer holds (their locks are renewed). */
  heldQueues(): MessageQueue[];
}

interface QueueState {
  /** Pulled, not yet processed, in offset order. */
  pending: MessageExt[];
  /** queue offset -> local failures so far. */
  failures: Map<number, number>;
  loop: Promise<void> | undefined;
}

/** Pause between checks while a queue waits for its lock. */
const LOCK_WAIT_MS = 100;

export class OrderlyConsumer {
  /** queue key -> until when its lock counts here (from when the request that got or renewed it was sent). */
  private readonly locks = new Map<string, number>();
  private readonly queues = new Map<ProcessQueue, QueueState>();
  private readonly sleepers = new Map<ProcessQueue, () => void>();
  private readonly lockValidMs: number;

  constructor(
    private readonly host: OrderlyHost,
    private readonly o: OrderlySettings,
  ) {
    this.lockValidMs = Math.round(o.lockRenewMs * 1.5);
  }

  private get io() {
    return this.host.client.io;
  }

  /** Whether this consumer holds the queue's lock now (as far as it knows). */
  isLocked(mq: MessageQueue): boolean {
    const until = this.locks.get(queueKey(mq));
    return until !== undefined && this.io.clock.now() < until;
  }

  /** Renews the locks of every held queue (the consumer's machine calls it every `lockRenewMs` while running). */
  async renew(): Promise<void> {
    const held = this.host.heldQueues();
    if (held.length > 0) await this.lock(held);
  }

  /**
   * Locks (or renews) queues, one request per broker; returns the queues now locked. Queues another member
   * holds are not; a failed request leaves its queues' local state as it was (they run out here).
   */
  async lock(mqs: readonly MessageQueue[]): Promise<MessageQueue[]> {
    const out: MessageQueue[] = [];
    await Promise.all(
      [...byBroker(mqs)].map(async ([brokerName, list]) => {
        const sentAt = this.io.clock.now();
        const header: LockBatchHeader = { consumerGroup: this.o.group, clientId: this.host.client.clientId };
        const body: QueueLockBody = { queues: list.map((q) => ({ topic: q.topic, queueId: q.queueId })) };
        let granted: Set<string>;
        let validMs = this.lockValidMs;
        try {
          const reply = await this.host.client.requestBroker(brokerName, request(RequestCode.LOCK_BATCH_MQ, { ...header }, jsonBody(body)));
          const got = parseJsonBody<QueueLockBody>(reply).queues ?? [];
          granted = new Set(got.map((q) => queueKey({ topic: q.topic, brokerName, queueId: q.queueId })));
          const lease = (reply.header as Partial<LockBatchReplyHeader>).leaseMs;
          if (typeof lease === 'number' && lease > 0 && lease < validMs) validMs = lease;
        } catch (err) {
          this.io.logger.warn({ err, broker: brokerName, queues: list.length }, 'locking queues failed; they are not processed until a lock succeeds');
          return;
        }
        for (const q of list) {
          const key = queueKey(q);
          if (granted.has(key)) {
            this.locks.set(key, sentAt + validMs);
            out.push(q);
          } else if (this.locks.delete(key)) {
            this.io.logger.warn({ queue: key }, 'queue lock lost: another member holds it');
          }
        }
      }),
    );
    return out;
  }

  /** Forgets the queues' locks here and releases them at their brokers (failures are logged; leases run out). */
  async unlock(mqs: readonly MessageQueue[]): Promise<void> {
    for (const q of mqs) this.locks.delete(queueKey(q));
    await Promise.all(
      [...byBroker(mqs)].map(async ([brokerName, list]) => {
        const header: LockBatchHeader = { consumerGroup: this.o.group, clientId: this.host.client.clientId };
        const body: QueueLockBody = { queues: list.map((q) => ({ topic: q.topic, queueId: q.queueId })) };
        try {
          await this.host.client.requestBroker(brokerName, request(RequestCode.UNLOCK_BATCH_MQ, { ...header }, jsonBody(body)));
        } catch (err) {
          this.io.logger.warn({ err, broker: brokerName }, 'unlocking queues failed; their leases will run out');
        }
      }),
    );
  }

  /**
   * Queues pulled messages (in offset order, already in `pq`) for processing; returns the promise of the
   * queue's processing run, which settles when the queue has nothing left, is dropped, or the consumer stops.
   */
  submit(pq: ProcessQueue, msgs: readonly MessageExt[]): Promise<void> {
    let st = this.queues.get(pq);
    if (!st) this.queues.set(pq, (st = { pending: [], failures: new Map(), loop: undefined }));
    st.pending.push(...msgs);
    st.loop ??= this.run(pq, st);
    return st.loop;
  }

  /** Drops the state of a released queue. */
  forget(pq: ProcessQueue): void {
    this.queues.delete(pq);
  }

  private async run(pq: ProcessQueue, st: QueueState): Promise<void> {
    await Promise.resolve(); // `loop` is set before the first check below can clear it
    for (;;) {
      if (!this.host.isActive(pq) || st.pending.length === 0) {
        st.loop = undefined;
        return;
      }
      if (!this.isLocked(pq.mq)) {
        await this.pause(pq, LOCK_WAIT_MS);
        continue;
      }
      const chunk = st.pending.slice(0, this.o.consumeBatchSize);
      const view = chunk.map((m) => {
        const n = st.failures.get(m.queueOffset) ?? 0;
        return n === 0 ? m : { ...m, reconsumeTimes: m.reconsumeTimes + n };
      });
      this.host.tap(view);
      let ok: boolean;
      try {
        ok = (await this.o.listener(view)) === 'SUCCESS';
      } catch (err) {
        this.io.logger.warn({ err, queue: queueKey(pq.mq) }, 'listener threw; the batch is suspended and retried');
        ok = false;
      }
      if (ok) {
        this.done(pq, st, chunk);
        continue;
      }
      // failed: messages out of local retries go to the dead-letter topic, the rest wait and are tried again
      const dead: MessageExt[] = [];
      for (const m of chunk) {
        const n = st.failures.get(m.queueOffset) ?? 0;
        if (n >= this.o.maxReconsumeTimes && (await this.deadLetter(pq, m))) dead.push(m);
        else st.failures.set(m.queueOffset, Math.min(n + 1, this.o.maxReconsumeTimes));
      }
      if (dead.length > 0) this.done(pq, st, dead);
      if (dead.length < chunk.length) await this.pause(pq, this.o.suspendMs);
    }
  }

  private done(pq: ProcessQueue, st: QueueState, msgs: readonly MessageExt[]): void {
    const offsets = new Set(msgs.map((m) => m.queueOffset));
    st.pending = st.pending.filter((m) => !offsets.has(m.queueOffset));
    for (const off of offsets) st.failures.delete(off);
    this.host.ack(pq, msgs);
  }

  /** Sends one message to the group's dead-letter topic; false when that failed (it is then retried here). */
  private async deadLetter(pq: ProcessQueue, m: MessageExt): Promise<boolean> {
    const header: SendBackHeader = { consumerGroup: this.o.group, msgId: m.msgId, delayLevel: -1, maxReconsumeTimes: this.o.maxReconsumeTimes };
    try {
      await this.host.client.requestBroker(pq.mq.brokerName, request(RequestCode.CONSUMER_SEND_MSG_BACK, { ...header }));
      this.io.logger.warn({ queue: queueKey(pq.mq), msgId: m.msgId }, 'message failed maxReconsumeTimes times; sent to the dead-letter topic');
      return true;
    } catch (err) {
      this.io.logger.warn({ err, msgId: m.msgId }, 'sending to the dead-letter topic failed; the message is retried here');
      return false;
    }
  }

  /** Waits `ms`, or until `interrupt(pq)`. */
  private pause(pq: ProcessQueue, ms: number): Promise<void> {
    if (!this.host.isActive(pq)) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        this.io.clock.clearTimeout(t);
        this.sleepers.delete(pq);
        resolve();
      };
      const t = this.io.clock.setTimeout(wake, ms);
      this.sleepers.set(pq, wake);
    });
  }

  /** Ends a queue's pause now (call after dropping it, so that its release does not wait out the pause). */
  interrupt(pq: ProcessQueue): void {
    this.sleepers.get(pq)?.();
  }
}

function byBroker(mqs: readonly MessageQueue[]): Map<string, MessageQueue[]> {
  const m = new Map<string, MessageQueue[]>();
  for (const q of mqs) {
    const list = m.get(q.brokerName);
    if (list) list.push(q);
    else m.set(q.brokerName, [q]);
  }
  return m;
}
