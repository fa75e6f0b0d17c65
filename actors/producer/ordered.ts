import type { Message, MessageQueue } from '../../core/message.js';
import { queueKey } from '../../core/message.js';
import { Status, StatusError } from '../../core/status.js';

/**
 * Ordered sends. A message with a sharding key goes to the queue its key hashes to; a send with a selector
 * goes to the queue the selector picks. Either way the send is ordered: it is tried once, on that queue only
 * (a retry on another queue or broker would put the message out of order with the rest of its key), and a
 * failure is the caller's to handle (RocketMQ's semantics for sends with a MessageQueueSelector).
 */

/** Picks the queue for `msg` among the topic's writable queues (sorted by broker name, then queue id). */
export type QueueSelector = (queues: readonly MessageQueue[], msg: Message) => MessageQueue;

/** Options of one `Producer.send`. */
export interface SendOptions {
  /**
   * Chooses the queue (an ordered send: no retry elsewhere on failure). The function must return one of the
   * queues it is given; it should be pure, e.g. `(qs, m) => qs[hash(orderId) % qs.length]`.
   */
  selector?: QueueSelector;
}

/** The selector's choice, checked: it must be one of `queues`. */
export function selectOrderedQueue(queues: readonly MessageQueue[], msg: Message, selector: QueueSelector): MessageQueue {
  let mq: MessageQueue;
  try {
    mq = selector(queues, msg);
  } catch (err) {
    throw new StatusError(Status.INVALID_ARGUMENT, `the queue selector threw: ${err instanceof Error ? err.message : String(err)}`);
  }
  const key = mq && typeof mq === 'object' ? queueKey(mq) : undefined;
  const found = key === undefined ? undefined : queues.find((q) => queueKey(q) === key);
  if (!found) throw new StatusError(Status.INVALID_ARGUMENT, `the queue selector returned ${JSON.stringify(mq)}, which is not one of the ${queues.length} writable queues of topic "${msg.topic}"`);
  return found;
}

/** Whether a batch must stay on its queue: any message of it carries a sharding key. */
export function isOrderedBatch(msgs: readonly Message[]): boolean {
  for (const m of msgs) if (m.shardingKey !== undefined) return true;
  return false;
}
