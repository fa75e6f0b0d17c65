import type { Observable } from 'rxjs';
import type { TagFilter } from '../protocol/tag-expression.js';
import type { MessageExt } from '../../core/message.js';
import type { ReplicaRead, StoreHealth } from '../../store/message-store.js';
import type { BrokerStatus } from '../protocol/commands.js';

export type { ReplicaRead, StoreHealth } from '../../store/message-store.js';

/**
 * The part of the message store the broker uses, and nothing more: handlers are written against this port
 * so they can be tested with a fake, and `store-adapter.ts` binds it to the real store.
 */

/** One message handed to the store; the broker has validated it and picked its queue. */
export interface StorePutMessage {
  topic: string;
  queueId: number;
  body: Uint8Array;
  tags?: string;
  keys?: readonly string[];
  properties?: Record<string, string>;
  bornTimestamp: number;
  bornHost: string;
  reconsumeTimes?: number;
}

export interface StorePutItem {
  msgId: string;
  commitLogOffset: number;
  queueOffset: number;
}

/** The answer to one batch: a Status code (OK, or why nothing of the batch is stored), one item per message. */
export interface StorePutResult {
  status: number;
  message?: string;
  results: StorePutItem[];
  /**
   * Set when every msgId of `results` is this prefix followed by the 16 hex digits of its commit log offset
   * (the store's own id form): the send reply then carries the prefix once instead of an id per message.
   */
  msgIdPrefix?: string;
  /** Messages stored, when the store answers in compact form (then `results` is built only when read). */
  count?: number;
  /** Commit log offset of each message (compact form). */
  commitLogOffsets?: readonly number[];
  /** Queue offset of each message (compact form). */
  queueOffsets?: readonly number[];
}

export interface StoreGetRequest {
  topic: string;
  queueId: number;
  offset: number;
  maxCount: number;
  maxBytes?: number;
  /** Tag filter (undefined: every message). */
  filter?: TagFilter;
}

/** What a read found: the messages (tag-filtered), where the next read starts, and the queue's bounds. */
export interface StoreGetResult {
  /** The messages found (a store may build them only when asked: prefer `count` and `encode`). */
  messages: MessageExt[];
  /** How many messages were found (`messages.length`), when known without building them. */
  count?: number;
  /** The messages' body bytes in all, when known without building them. */
  bodyBytes?: number;
  /** The pull reply body of the messages: the store's records as they are (`encodeRecordBatch`). */
  encode?: () => Uint8Array;
  /** Where the next read starts (past every entry scanned, filtered out ones included). */
  nextOffset: number;
  minOffset: number;
  maxOffset: number;
  /** The commit log offset of the first message found, when the store knows it (how far behind the read lies). */
  firstCommitLogOffset?: number;
}

export interface StoreNewData {
  topic: string;
  queueId: number;
  maxOffset: number;
}

/** What replication reads and writes of the store (see MessageStore: readReplica, appendReplica, truncateTail). */
export interface ReplicationPort {
  /** `into`: where the records are read when it is long enough (a master's reusable chunk buffer). */
  readReplica(from: number, maxBytes: number, into?: Uint8Array): ReplicaRead;
  appendReplica(offset: number, data: Uint8Array): Promise<{ status: number; message?: string }>;
  truncateTail(offset: number): Promise<void>;
  /** An empty store starts at the commit log segment holding `offset` (MessageStore.startAtSegmentOf). */
  startAtSegmentOf(offset: number): Promise<void>;
  /** Every consume queue the store holds (a promoted slave makes sure each has its topic). */
  queueList(): { topic: string; queueId: number; maxOffset: number }[];
  /** Consumers see data below this offset only (the group's confirm offset); Infinity lifts the limit. */
  limitDispatch(offset: number): void;
  positions(): { writeOffset: number; flushedOffset: number; minOffset: number; dispatched: number };
  /** Each change of the commit log's write or flushed offset. */
  readonly positions$: Observable<{ writeOffset: number; flushedOffset: number }>;
  /** The store's flush mode: a slave acknowledges flushed data when it flushes sync. */
  readonly flush: 'sync' | 'async';
}

export interface StorePort {
  putMessages(batch: StorePutMessage[]): Promise<StorePutResult>;
  getMessages(req: StoreGetRequest): Promise<StoreGetResult>;
  lookupById(msgId: string): Promise<MessageExt | undefined>;
  lookupByKey(topic: string, key: string, maxNum: number): Promise<MessageExt[]>;
  minOffset(topic: string, queueId: number): number;
  /** One past the last message of the queue (0 for an empty or unknown queue). */
  maxOffset(topic: string, queueId: number): number;
  /** The first offset whose message was stored at or after `timestamp`. */
  offsetByTime(topic: string, queueId: number, timestamp: number): Promise<number>;
  readonly newData$: Observable<StoreNewData>;
  /**
   * Resolves once the commit log is durable below `commitLogOffset` (a put's commitLogOffset + 1 covers its
   * message); rejects when the store fails or closes first. Async flush acknowledges a put before its flush: a
   * service that persists its own progress over what it wrote (delay, timer) waits for this first.
   */
  whenFlushed(commitLogOffset: number): Promise<void>;
  /**
   * Resolves once the records at these commit log offsets are durable (whichever logs hold them: a per-queue
   * store has one per queue); rejects as whenFlushed.
   */
  whenRecordsFlushed(commitLogOffsets: readonly number[]): Promise<void>;
  /** What the store reports of itself (health, positions, lost ranges): the broker's status request shows it. */
  status(): StoreStatus;
  /** Each change of the store's health (the current one first). */
  readonly health$: Observable<StoreHealth>;
  /** Replication's access to the commit log (absent from stores that cannot replicate, like test fakes). */
  readonly replication?: ReplicationPort;
  close(): Promise<void>;
}

/** What the store reports of itself: health, positions, lost ranges (see BrokerStatus). */
export type StoreStatus = BrokerStatus['store'];
