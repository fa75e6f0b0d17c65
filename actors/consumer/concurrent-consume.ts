import type { TimerHandle } from '../../core/clock.js';
import type { ClientInstance } from '../client/client-instance.js';
import type { SendBackHeader } from '../protocol/commands.js';
import { queueKey, type MessageExt } from '../../core/message.js';
import { RequestCode } from '../protocol/request-codes.js';
import { request } from '../protocol/replies.js';
import { retryLevel } from '../protocol/retry-delay.js';
import type { Delivered, DeliveryBuffer } from './delivery.js';
import type { ProcessQueue } from './process-queue.js';
import type { ConsumeResult, ResolvedConsumerOptions } from './consumer-options.js';

/**
 * Concurrent consumption (RocketMQ's ConsumeMessageConcurrentlyService): a pulled batch goes to the listener
 * in chunks of `consumeBatchSize` (or, without a listener, out through the delivery buffer). A failed chunk
 * (RETRY or a throw) is sent back to the broker for a later retry from the group's retry topic; a message whose
 * send-back fails is given to the listener again here after `localRetryDelayMs`. Broadcasting drops failures.
 */

export type ConcurrentSettings = Pick<ResolvedConsumerOptions, 'group' | 'model' | 'listener' | 'consumeBatchSize' | 'maxReconsumeTimes' | 'localRetryDelayMs'>;

/** What concurrent consumption uses of its consumer. */
export interface ConcurrentHost {
  readonly client: ClientInstance;
  /** The iterator's buffer and the `messages$` tap. */
  readonly delivery: DeliveryBuffer;
  /** False once the queue is dropped or the consumer stops. */
  isActive(pq: ProcessQueue): boolean;
  /** Marks messages processed (the committable offset moves past them). */
  ack(pq: ProcessQueue, msgs: readonly MessageExt[]): void;
  /** Queues messages for processing after the queue's earlier batches (a local retry). */
  dispatch(pq: ProcessQueue, msgs: MessageExt[]): void;
}

export class ConcurrentConsumer {
  private readonly retryTimers = new Set<TimerHandle>();
  private readonly client: ClientInstance;

  constructor(
    private readonly host: ConcurrentHost,
    private readonly o: ConcurrentSettings,
  ) {
    this.client = host.client;
  }

  private get io() {
    return this.client.io;
  }

  /** Processes one pulled batch: the listener's chunks one after another, or hands the messages out (no listener). */
  async consume(pq: ProcessQueue, msgs: MessageExt[]): Promise<void> {
    const listener = this.o.listener;
    if (!listener) {
      const entries: Delivered[] = msgs.map((msg) => ({ msg, ack: () => this.host.ack(pq, [msg]) }));
      await this.host.delivery.push(entries, () => !this.host.isActive(pq));
      return;
    }
    for (let i = 0; i < msgs.length; i += this.o.consumeBatchSize) {
      if (!this.host.isActive(pq)) return; // not started: left for whoever holds the queue next
      const chunk = i === 0 && msgs.length <= this.o.consumeBatchSize ? msgs : msgs.slice(i, i + this.o.consumeBatchSize);
      this.host.delivery.tap(chunk);
      let result: ConsumeResult;
      try {
        result = await listener(chunk);
      } catch (err) {
        this.io.logger.warn({ err, queue: queueKey(pq.mq) }, 'listener threw; the messages will be retried');
        result = 'RETRY';
      }
      if (result === 'SUCCESS') this.host.ack(pq, chunk);
      else await this.retry(pq, chunk);
    }
  }

  /** Sends failed messages back to the broker; the ones that cannot be sent back are retried here later. */
  private async retry(pq: ProcessQueue, msgs: MessageExt[]): Promise<void> {
    if (this.o.model === 'BROADCASTING') {
      this.io.logger.warn({ queue: queueKey(pq.mq), msgIds: msgs.map((m) => m.msgId) }, 'broadcast messages failed; dropped');
      this.host.ack(pq, msgs);
      return;
    }
    const failed: MessageExt[] = [];
    await Promise.all(
      msgs.map(async (m) => {
        const header: SendBackHeader = {
          consumerGroup: this.o.group,
          msgId: m.msgId,
          delayLevel: retryLevel(m.reconsumeTimes),
          maxReconsumeTimes: this.o.maxReconsumeTimes,
        };
        try {
          await this.client.requestBroker(pq.mq.brokerName, request(RequestCode.CONSUMER_SEND_MSG_BACK, { ...header }));
        } catch (err) {
          this.io.logger.warn({ err, msgId: m.msgId }, 'send-back failed; retrying locally later');
          failed.push(m);
        }
      }),
    );
    const sent = msgs.filter((m) => !failed.includes(m));
    if (sent.length > 0) this.host.ack(pq, sent);
    if (failed.length > 0) {
      const again = failed.map((m) => ({ ...m, reconsumeTimes: m.reconsumeTimes + 1 }));
      const t = this.io.clock.setTimeout(() => {
        this.retryTimers.delete(t);
        if (this.host.isActive(pq)) this.host.dispatch(pq, again);
      }, this.o.localRetryDelayMs);
      this.retryTimers.add(t);
    }
  }

  /** Cancels the local retries still waiting (at stop: their messages stay unprocessed). */
  cancelRetries(): void {
    for (const t of this.retryTimers) this.io.clock.clearTimeout(t);
    this.retryTimers.clear();
  }
}
