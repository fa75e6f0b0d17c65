import type { ClientInstance } from '../client/client-instance.js';
import type { UpdateOffsetsBody } from '../protocol/commands.js';
import { queueKey, type MessageQueue } from '../../core/message.js';
import { RequestCode } from '../protocol/request-codes.js';
import { jsonBody, request } from '../protocol/replies.js';
import { Status, StatusError } from '../../core/status.js';
import { isRetryTopic } from '../protocol/retry-delay.js';
import type { ProcessQueue } from './process-queue.js';
import type { ConsumeFrom } from './consumer-options.js';

/**
 * The consumer's offsets: per queue the offset to commit (clustering) or the local offset store
 * (broadcasting, kept in memory only), what the brokers acknowledged, the commits (one request per broker),
 * and where a newly held queue starts.
 */

export interface OffsetStoreSettings {
  group: string;
  model: 'CLUSTERING' | 'BROADCASTING';
  /** Where a group without a committed offset starts (retry topics always start at the first). */
  consumeFrom: ConsumeFrom;
}

export class OffsetStore {
  /** queue -> offset to commit (clustering) or the local offset store (broadcasting). */
  private readonly offsets = new Map<string, { mq: MessageQueue; offset: number }>();
  private readonly committed = new Map<string, number>();

  constructor(
    private readonly client: ClientInstance,
    private readonly s: OffsetStoreSettings,
    /** The queues the consumer holds, by queue key: their offsets are noted at each commit; the others are forgotten once committed. */
    private readonly held: ReadonlyMap<string, { readonly pq: ProcessQueue }>,
  ) {}

  /** The offset kept for a queue, if any. */
  offsetOf(mq: MessageQueue): number | undefined {
    return this.offsets.get(queueKey(mq))?.offset;
  }

  /** The commit under way (commits run one at a time). */
  private commits: Promise<void> = Promise.resolve();

  set(mq: MessageQueue, offset: number, key = queueKey(mq)): void {
    this.offsets.set(key, { mq, offset });
  }

  /** Keeps the queue's committable offset (the lowest it has not processed), unless the queue was dropped. */
  note(pq: ProcessQueue): void {
    if (pq.dropped) return;
    const offset = pq.commitOffset();
    const kept = this.offsets.get(pq.key);
    if (kept !== undefined && kept.mq === pq.mq) kept.offset = offset;
    else this.offsets.set(pq.key, { mq: pq.mq, offset });
  }

  /**
   * Commits every offset that changed since the last commit, one request per broker (clustering only). Commits
   * run one after another: two in flight to one broker could arrive in the other order (a network that reorders,
   * a consumer resuming from a pause with a periodic and a rebalance commit due), and the older offset would win.
   */
  commit(): Promise<void> {
    const run = this.commits.then(() => this.commitNow());
    this.commits = run.catch(() => undefined);
    return run;
  }

  private async commitNow(): Promise<void> {
    if (this.s.model === 'BROADCASTING') return;
    for (const h of this.held.values()) this.note(h.pq);
    const byBroker = new Map<string, UpdateOffsetsBody['offsets']>();
    const keys = new Map<string, string[]>();
    for (const [key, { mq, offset }] of this.offsets) {
      if (this.committed.get(key) === offset) continue;
      let list = byBroker.get(mq.brokerName);
      if (!list) {
        byBroker.set(mq.brokerName, (list = []));
        keys.set(mq.brokerName, []);
      }
      list.push({ topic: mq.topic, queueId: mq.queueId, offset });
      keys.get(mq.brokerName)!.push(key);
    }
    await Promise.all(
      [...byBroker].map(async ([brokerName, offsets]) => {
        try {
          // a slave keeps offsets too and hands them to its master, which takes the ones further ahead
          await this.client.requestBroker(brokerName, request(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: this.s.group }, jsonBody({ offsets })), { slaveOk: true });
          for (let i = 0; i < offsets.length; i++) this.committed.set(keys.get(brokerName)![i]!, offsets[i]!.offset);
        } catch (err) {
          this.client.io.logger.warn({ err, broker: brokerName }, 'offset commit failed; will retry at the next commit');
        }
      }),
    );
    // queues released and committed are forgotten
    for (const [key, { offset }] of this.offsets) {
      if (!this.held.has(key) && this.committed.get(key) === offset) {
        this.offsets.delete(key);
        this.committed.delete(key);
      }
    }
  }

  /**
   * Where a newly held queue starts: the local offset (broadcasting) or the group's committed one
   * (clustering), else the first, last or by-timestamp offset of `consumeFrom`.
   */
  async startOffset(mq: MessageQueue): Promise<number> {
    const key = queueKey(mq);
    if (this.s.model === 'BROADCASTING') {
      const local = this.offsets.get(key);
      if (local) return local.offset;
    } else {
      const reply = await this.client.requestBroker(
        mq.brokerName,
        request(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: this.s.group, topic: mq.topic, queueId: mq.queueId }),
        { allow: [Status.QUERY_NOT_FOUND], slaveOk: true, masterFirst: true },
      );
      if (reply.status === Status.OK && typeof reply.header.offset === 'number' && reply.header.offset >= 0) return reply.header.offset;
    }
    const from: ConsumeFrom = isRetryTopic(mq.topic) ? 'first' : this.s.consumeFrom;
    const q = { topic: mq.topic, queueId: mq.queueId };
    const reply =
      from === 'first'
        ? await this.client.requestBroker(mq.brokerName, request(RequestCode.GET_MIN_OFFSET, q), { slaveOk: true })
        : from === 'last'
          ? await this.client.requestBroker(mq.brokerName, request(RequestCode.GET_MAX_OFFSET, q), { slaveOk: true })
          : await this.client.requestBroker(mq.brokerName, request(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { ...q, timestamp: from.timestamp }), { slaveOk: true });
    const off = reply.header.offset;
    if (typeof off !== 'number' || !Number.isSafeInteger(off) || off < 0)
      throw new StatusError(Status.BAD_FRAME, `broker answered offset ${String(off)} for ${queueKey(mq)}`);
    return off;
  }
}
