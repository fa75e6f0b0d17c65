import type { ClientInstance } from '../client/client-instance.js';
import type { ConsumerListBody } from '../protocol/commands.js';
import { queueKey, type MessageQueue } from '../../core/message.js';
import { RequestCode } from '../protocol/request-codes.js';
import { parseJsonBody, request } from '../protocol/replies.js';
import { Status, StatusError } from '../../core/status.js';
import { readableQueues } from '../protocol/route.js';
import { ProcessQueue } from './process-queue.js';
import type { OffsetStore } from './offset-store.js';
import type { OrderlyConsumer } from './orderly.js';
import type { AllocateStrategy } from './rebalance.js';

/**
 * The consumer's rebalance (RocketMQ's RebalanceImpl): for each subscribed topic it asks a broker for the
 * group's members, computes this member's share of the topic's readable queues with the allocation strategy
 * (rebalance.ts; a broadcasting consumer takes every queue), releases the queues it no longer owns (their
 * offsets committed first; an orderly consumer unlocks them only after their batch in flight finished) and
 * starts holding the new ones where their offsets say.
 */

/** A queue the consumer holds. */
export interface Held {
  pq: ProcessQueue;
  /** Batches waiting to be processed, one after another. */
  chain: Promise<void>;
}

export interface RebalanceSettings {
  group: string;
  model: 'CLUSTERING' | 'BROADCASTING';
  strategy: AllocateStrategy;
  /** The subscribed topics (the group's retry topic among them when clustering). */
  topics: readonly string[];
}

/** What the rebalance uses of its consumer. */
export interface RebalanceHost {
  readonly client: ClientInstance;
  /** Queue key -> the queues the consumer holds: the rebalance adds and removes them. */
  readonly held: Map<string, Held>;
  readonly offsets: OffsetStore;
  /** Queue locks, for an orderly consumer. */
  readonly orderly: OrderlyConsumer | undefined;
  /** False from the moment the consumer stops. */
  isRunning(): boolean;
  /** Starts pulling a queue just taken. */
  startPulling(pq: ProcessQueue): void;
}

export class RebalanceService {
  private rebalancing: Promise<void> | undefined;
  private rebalanceAgain = false;
  private readonly client: ClientInstance;

  constructor(
    private readonly host: RebalanceHost,
    private readonly o: RebalanceSettings,
  ) {
    this.client = host.client;
  }

  private get io() {
    return this.client.io;
  }

  /** The run under way, if any (stop waits for it). */
  get inFlight(): Promise<void> | undefined {
    return this.rebalancing;
  }

  /** Rebalances every subscribed topic; concurrent calls share one run (and ask for one more after it). */
  run(): Promise<void> {
    if (this.rebalancing) {
      this.rebalanceAgain = true;
      return this.rebalancing;
    }
    this.rebalancing = (async () => {
      try {
        do {
          this.rebalanceAgain = false;
          for (const topic of this.o.topics) {
            if (!this.host.isRunning()) return;
            try {
              await this.rebalanceTopic(topic);
            } catch (err) {
              this.io.logger.warn({ err, topic }, 'rebalance of topic failed; keeping its queues');
            }
          }
        } while (this.rebalanceAgain && this.host.isRunning());
      } finally {
        this.rebalancing = undefined;
      }
    })();
    return this.rebalancing;
  }

  private async rebalanceTopic(topic: string): Promise<void> {
    const route = await this.client.routes.route(topic);
    if (!route) return; // unknown topic (a retry topic appears with the first send-back)
    const all = readableQueues(route, topic);
    let mine: MessageQueue[];
    if (this.o.model === 'BROADCASTING') mine = all;
    else {
      const brokers = route.brokerDatas.map((b) => b.brokerName).sort();
      let cids = await this.consumerIds(brokers);
      if (!cids.includes(this.client.clientId)) {
        // no broker knows this member (they restarted, or expired it): tell them now rather than at the next
        // heartbeat, so that they tell the group and every member allocates from the same list
        await this.client.heartbeat();
        cids = await this.consumerIds(brokers);
        if (!cids.includes(this.client.clientId)) cids.push(this.client.clientId);
      }
      mine = this.o.strategy(this.o.group, this.client.clientId, all, cids);
    }
    const wanted = new Set(mine.map(queueKey));
    const released: MessageQueue[] = [];
    const finishing: Held[] = [];
    for (const [key, h] of this.host.held) {
      if (h.pq.mq.topic !== topic || wanted.has(key)) continue;
      h.pq.drop();
      this.host.held.delete(key);
      this.host.offsets.set(h.pq.mq, h.pq.commitOffset(), key);
      released.push(h.pq.mq);
      finishing.push(h);
    }
    if (released.length > 0) {
      this.io.logger.debug({ topic, released: released.map(queueKey) }, 'queues released');
      if (this.host.orderly) await this.finishOrderly(finishing);
      else if (this.o.model === 'CLUSTERING') await this.host.offsets.commit();
    }
    // an orderly consumer pulls only the queues it could lock (the others are tried at the next rebalance)
    const locked = this.host.orderly ? new Set((await this.host.orderly.lock(mine.filter((mq) => !this.host.held.has(queueKey(mq))))).map(queueKey)) : undefined;
    for (const mq of mine) {
      const key = queueKey(mq);
      if (this.host.held.has(key) || !this.host.isRunning()) continue;
      if (locked && !locked.has(key)) continue;
      let offset: number;
      try {
        offset = await this.host.offsets.startOffset(mq);
      } catch (err) {
        this.io.logger.warn({ err, queue: key }, 'cannot find where to start; trying again at the next rebalance');
        continue;
      }
      if (this.host.held.has(key) || !this.host.isRunning()) continue;
      const pq = new ProcessQueue(mq, offset);
      this.host.held.set(key, { pq, chain: Promise.resolve() });
      this.host.offsets.set(mq, offset, key);
      this.host.startPulling(pq);
    }
  }

  /**
   * The group's members: the union of what every broker of the topic knows. A broker knows a client from its
   * heartbeats, so one that just restarted knows only the clients that have heartbeated since; asking only it
   * would make each member allocate from a different partial list, and several would pull one queue.
   */
  private async consumerIds(brokerNames: string[]): Promise<string[]> {
    const answers = await Promise.allSettled(
      brokerNames.map(async (name) => {
        const reply = await this.client.requestBroker(name, request(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: this.o.group }), { slaveOk: true });
        return parseJsonBody<ConsumerListBody>(reply).clientIds;
      }),
    );
    const ids = new Set<string>();
    let answered = false;
    let last: unknown;
    for (const a of answers) {
      if (a.status === 'rejected') last = a.reason;
      else {
        answered = true;
        for (const id of a.value) ids.add(id);
      }
    }
    if (!answered) throw last ?? new StatusError(Status.NO_ROUTE, 'no broker to ask for the group members');
    return [...ids].sort();
  }

  /**
   * Orderly release of dropped queues: waits for each one's batch in flight, commits the offsets past what
   * was processed, and only then unlocks the queues at their brokers (so the next holder starts after them).
   */
  private async finishOrderly(finishing: readonly Held[]): Promise<void> {
    const orderly = this.host.orderly!;
    for (const h of finishing) orderly.interrupt(h.pq);
    await Promise.all(finishing.map((h) => h.chain));
    for (const h of finishing) {
      this.host.offsets.set(h.pq.mq, h.pq.commitOffset());
      orderly.forget(h.pq);
    }
    await this.host.offsets.commit();
    await orderly.unlock(finishing.map((h) => h.pq.mq));
  }
}
