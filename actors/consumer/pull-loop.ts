import type { Frame } from '../../transports/frame.js';
import type { ClientInstance } from '../client/client-instance.js';
import type { PullHeader, PullReplyHeader } from '../protocol/commands.js';
import { MessageProperty, queueKey, type MessageExt, type MessageQueue } from '../../core/message.js';
import { decodePullBody } from '../../core/record-batch.js';
import { RequestCode } from '../protocol/request-codes.js';
import { request } from '../protocol/replies.js';
import { isRetryTopic } from '../protocol/retry-delay.js';
import { matchesTag, type TagFilter } from '../protocol/tag-expression.js';
import type { ProcessQueue } from './process-queue.js';
import type { ResolvedConsumerOptions } from './consumer-options.js';

/**
 * The consumer's pull loop: one loop per held queue pulls batches from the queue's broker (long polling),
 * keeps what matches the subscription, and hands it on, within the queue's cache limits (flow control).
 */

export type PullSettings = Pick<
  ResolvedConsumerOptions,
  'group' | 'pullBatch' | 'pullTimeoutMs' | 'pullBackoffMs' | 'requestTimeoutMs' | 'maxCachedMessagesPerQueue' | 'maxCachedBytesPerQueue'
>;

/** What the pull loop uses of its consumer. */
export interface PullHost {
  readonly client: ClientInstance;
  /** Topic -> the subscription's tag filter. */
  readonly filters: ReadonlyMap<string, TagFilter>;
  /** An orderly consumer's locks: a queue is pulled only while its lock holds, and never a pull ahead. */
  readonly orderly: { isLocked(mq: MessageQueue): boolean } | undefined;
  /** False once the queue is dropped or the consumer stops. */
  isActive(pq: ProcessQueue): boolean;
  /** Takes the messages kept of a pulled batch (already in the queue's cache) for processing. */
  dispatch(pq: ProcessQueue, msgs: MessageExt[]): void;
  /** Notes the queue's committable offset (a pull that kept nothing moved it). */
  noteOffset(pq: ProcessQueue): void;
}

export class PullLoop {
  private readonly client: ClientInstance;

  constructor(
    private readonly host: PullHost,
    private readonly o: PullSettings,
  ) {
    this.client = host.client;
  }

  private get io() {
    return this.client.io;
  }

  private sleep(ms: number, pq: ProcessQueue): Promise<void> {
    return new Promise((resolve) => {
      const t = this.io.clock.setTimeout(resolve, ms);
      void pq.waitForRoom().then(() => {
        if (pq.dropped) {
          this.io.clock.clearTimeout(t);
          resolve();
        }
      });
    });
  }

  /** One pull request for a queue from `offset`, to broker `preferId` of the queue's group when the route has it. */
  private pull(pq: ProcessQueue, expression: string, offset: number, preferId: number | undefined): Promise<Frame> {
    const { mq } = pq;
    const header: PullHeader = {
      consumerGroup: this.o.group,
      topic: mq.topic,
      queueId: mq.queueId,
      queueOffset: offset,
      maxMsgNums: this.o.pullBatch,
      subExpression: expression,
      suspendTimeoutMs: this.o.pullTimeoutMs,
    };
    return this.client.requestBroker(mq.brokerName, request(RequestCode.PULL_MESSAGE, { ...header }), {
      timeoutMs: this.o.pullTimeoutMs + this.o.requestTimeoutMs,
      slaveOk: true,
      ...(preferId !== undefined ? { preferBrokerId: preferId } : {}),
    });
  }

  /**
   * Pulls one queue until it is released or the consumer stops: one request and one promise per batch. After any
   * reply that found messages (and moved the offset on), the next pull goes out before this one is decoded and
   * handed on, so the broker works meanwhile: one pull ahead, never for an orderly consumer, and only while the
   * queue's cache has room for two more batches by count and is not full by bytes.
   *
   * Each reply may name the broker of the group to pull from next (`suggestWhichBrokerId`: a slave while this
   * queue is read far behind the master's writes, the master again once caught up); the queue's next pulls ask
   * for it, until another reply says otherwise or a pull fails (then the master, or the group's slave while the
   * master is marked down).
   */
  async run(pq: ProcessQueue): Promise<void> {
    const { mq } = pq;
    const filter = this.host.filters.get(mq.topic)!;
    let ahead: { offset: number; reply: Promise<Frame> } | undefined;
    let preferId: number | undefined;
    while (this.host.isActive(pq)) {
      if (this.host.orderly && !this.host.orderly.isLocked(mq)) {
        await this.sleep(this.o.pullBackoffMs, pq); // pulled only while locked; the renewal may get it back
        continue;
      }
      if (pq.isFull(this.o.maxCachedMessagesPerQueue, this.o.maxCachedBytesPerQueue)) {
        await pq.waitForRoom();
        continue;
      }
      const pending = ahead !== undefined && ahead.offset === pq.nextOffset ? ahead.reply : this.pull(pq, filter.expression, pq.nextOffset, preferId);
      ahead = undefined;
      let reply: Frame;
      try {
        reply = await pending;
      } catch (err) {
        if (!this.host.isActive(pq)) return;
        this.io.logger.debug({ err, queue: queueKey(mq), preferId }, 'pull failed; backing off');
        preferId = undefined; // the suggested broker may be gone: the group's choice again
        this.client.routes.route(mq.topic, true).catch(() => undefined); // the broker may have moved or gone
        await this.sleep(this.o.pullBackoffMs, pq);
        continue;
      }
      if (!this.host.isActive(pq)) return;
      const h = reply.header as unknown as PullReplyHeader;
      preferId = nextPreference(preferId, h.suggestWhichBrokerId);
      const next = typeof h.nextBeginOffset === 'number' ? h.nextBeginOffset : pq.nextOffset;
      switch (h.pullStatus) {
        case 'FOUND': {
          const cap = this.o.maxCachedMessagesPerQueue;
          if (
            !this.host.orderly &&
            typeof h.nextBeginOffset === 'number' &&
            next > pq.nextOffset &&
            pq.count + 2 * this.o.pullBatch <= cap &&
            !pq.isFull(cap, this.o.maxCachedBytesPerQueue)
          ) {
            const p = this.pull(pq, filter.expression, next, preferId);
            p.catch(() => undefined); // a pull ahead that is not used (queue dropped, offset moved) may fail unseen
            ahead = { offset: next, reply: p };
          }
          let msgs: MessageExt[];
          try {
            msgs = decodePullBody(reply.body);
          } catch (err) {
            this.io.logger.error({ err, queue: queueKey(mq) }, 'malformed pull reply; backing off');
            await this.sleep(this.o.pullBackoffMs, pq);
            continue;
          }
          // the broker filtered already (tag hash, then the record's tag); this keeps the subscription exact
          // whatever the broker sent (no copy for '*')
          let kept = filter.all ? msgs : msgs.filter((m) => matchesTag(filter, m.tags));
          if (isRetryTopic(mq.topic)) kept = kept.map(restoreRetryTopic);
          pq.add(kept);
          pq.nextOffset = next;
          if (kept.length > 0) this.host.dispatch(pq, kept);
          else this.host.noteOffset(pq);
          break;
        }
        case 'NO_NEW_MSG':
        case 'NO_MATCHED_MSG':
          pq.nextOffset = next;
          this.host.noteOffset(pq);
          break;
        case 'OFFSET_ILLEGAL':
          this.io.logger.warn({ queue: queueKey(mq), offset: pq.nextOffset, next }, 'pull offset illegal; moving to the broker\'s suggestion');
          pq.nextOffset = next;
          this.host.noteOffset(pq);
          break;
        default:
          this.io.logger.warn({ queue: queueKey(mq), status: h.pullStatus }, 'unknown pull status; backing off');
          await this.sleep(this.o.pullBackoffMs, pq);
      }
    }
  }
}

/** The broker id a queue's next pulls prefer after a reply that suggested `suggested` (0 or none: the master). */
export function nextPreference(current: number | undefined, suggested: unknown): number | undefined {
  if (suggested === undefined) return current;
  return typeof suggested === 'number' && Number.isSafeInteger(suggested) && suggested > 0 ? suggested : undefined;
}

/** A message from the retry topic shows the topic it was first sent to (as RocketMQ does). */
export function restoreRetryTopic(m: MessageExt): MessageExt {
  const real = m.properties?.[MessageProperty.RETRY_TOPIC];
  return real !== undefined && isRetryTopic(m.topic) ? { ...m, topic: real } : m;
}
