/**
 * The message model: what a producer sends (`Message`), what it gets back (`SendResult`), what a consumer
 * receives (`MessageExt`), and the address of one queue (`MessageQueue`).
 */

/** A message as the user gives it to a producer. */
export interface Message {
  topic: string;
  body: Uint8Array;
  /** One tag (RocketMQ allows exactly one); consumers filter on it. */
  tags?: string;
  /** Business keys, indexed by the broker so that a message can be found by key. */
  keys?: string[];
  /** User properties (keys must not collide with the reserved system property names). */
  properties?: Record<string, string>;
  /** Delay level (1-based index into the broker's delay levels); 0 or absent means no delay. */
  delayLevel?: number;
  /** Absolute delivery time (ms since epoch, on the broker's clock); alternative to delayLevel. */
  deliverAt?: number;
  /** Messages with one sharding key go to one queue, in order. */
  shardingKey?: string;
}

export const SendStatus = {
  SEND_OK: 'SEND_OK',
  FLUSH_DISK_TIMEOUT: 'FLUSH_DISK_TIMEOUT',
  FLUSH_SLAVE_TIMEOUT: 'FLUSH_SLAVE_TIMEOUT',
  SLAVE_NOT_AVAILABLE: 'SLAVE_NOT_AVAILABLE',
} as const;
export type SendStatus = (typeof SendStatus)[keyof typeof SendStatus];

/** What a producer gets back for one message (a batch send gives one per message, in order). */
export interface SendResult {
  status: SendStatus;
  /** Store-side id: encodes the broker's store host and the commit log offset. */
  msgId: string;
  /** The unique key (UNIQ_KEY property): the producer's, made before the send and kept by its retries. */
  uniqKey?: string;
  queue: MessageQueue;
  queueOffset: number;
  /** Transaction id of a half message. */
  transactionId?: string;
  /** Under an HA controller: the master epoch the broker acknowledged the message in. */
  epoch?: number;
}

/** A message as a consumer sees it: the user's parts plus where and when it was stored. */
export interface MessageExt {
  msgId: string;
  topic: string;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
  bornTimestamp: number;
  storeTimestamp: number;
  reconsumeTimes: number;
  bornHost: string;
  storeHost: string;
  tags?: string;
  keys?: string[];
  properties?: Record<string, string>;
  body: Uint8Array;
}

/** One queue of one topic on one broker group. */
export interface MessageQueue {
  topic: string;
  brokerName: string;
  queueId: number;
}

/** A stable string key for a queue, for maps and sets: `topic@brokerName@queueId`. */
export function queueKey(mq: MessageQueue): string {
  return `${mq.topic}@${mq.brokerName}@${mq.queueId}`;
}

/** Orders queues by topic, then broker name, then queue id (RocketMQ's MessageQueue.compareTo). */
export function compareQueues(a: MessageQueue, b: MessageQueue): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.brokerName !== b.brokerName) return a.brokerName < b.brokerName ? -1 : 1;
  return a.queueId - b.queueId;
}

/** System property names (set by clients and brokers; users may not set them). */
export const MessageProperty = {
  UNIQ_KEY: 'UNIQ_KEY',
  DELAY: 'DELAY',
  DELIVER_AT: 'DELIVER_AT',
  SHARDING_KEY: 'SHARDING_KEY',
  REAL_TOPIC: 'REAL_TOPIC',
  REAL_QID: 'REAL_QID',
  RETRY_TOPIC: 'RETRY_TOPIC',
  ORIGIN_MSG_ID: 'ORIGIN_MESSAGE_ID',
  RECONSUME_TIME: 'RECONSUME_TIME',
  MAX_RECONSUME_TIMES: 'MAX_RECONSUME_TIMES',
  TRAN_MSG: 'TRAN_MSG',
  TRANSACTION_ID: '__transactionId__',
  PRODUCER_GROUP: 'PGROUP',
  CHECK_TIMES: 'TRANSACTION_CHECK_TIMES',
  WAIT_STORE_OK: 'WAIT',
} as const;

const reserved = new Set<string>(Object.values(MessageProperty));

export function isReservedProperty(name: string): boolean {
  return reserved.has(name);
}
