/**
 * The wire contract between the roles: for each request code, the header fields it carries, what its body
 * holds and what the reply carries. Headers are flat maps (strings, numbers, booleans). Control-plane bodies
 * are small JSON documents (`jsonBody`/`parseJsonBody` in replies.ts); message data never is: it travels in
 * the binary batch codecs of core/message-codec.ts.
 *
 * Errors come back as a reply whose `status` is not OK and whose header `error` says why.
 */
import type { TopicConfig, TopicRoute, ClusterInfo, DataVersion } from './route.js';

// ---------------------------------------------------------------------------------------------- addresses

/** A name server's address: `namesrv.<id>`. */
export const namesrvAddress = (id: string): string => `namesrv.${id}`;
/** A broker's address: `broker.<brokerName>.<brokerId>` (brokerId 0 is the master). */
export const brokerAddress = (brokerName: string, brokerId = 0): string => `broker.${brokerName}.${brokerId}`;
/** A client's (producer's or consumer's) address, where brokers send notices and checks: `client.<clientId>`. */
export const clientAddress = (clientId: string): string => `client.${clientId}`;
/** An HA controller's address (actors/controller/). */
export const controllerAddress = (id: string): string => `controller.${id}`;

// ---------------------------------------------------------------------------------------------- name server

/**
 * REGISTER_BROKER. Body RegisterBrokerBody as JSON, deflated from 4 KiB on (header `bodyEncoding: 'deflate'`),
 * split into parts when it does not fit one frame (headers `part`, `parts`, `registration`;
 * actors/protocol/register-body.ts). Reply: OK (header `masterAddr` for a slave when known; `partial: true` for
 * a part that is not the last).
 */
export interface RegisterBrokerHeader {
  cluster: string;
  brokerName: string;
  brokerId: number;
  address: string;
  /**
   * Under an HA controller: the master epoch the broker serves in. A name server keeps the master of the higher
   * epoch when two register as master of one group (apache/rocketmq#6316), and refuses the older.
   */
  epoch?: number;
}
export interface RegisterBrokerBody {
  dataVersion: DataVersion;
  topics: TopicConfig[];
}
/** UNREGISTER_BROKER: header as RegisterBrokerHeader, no body. */

/**
 * NAMESRV_STARTED: published (a broadcast, no reply) on NAMESRV_STARTED_SUBJECT by a name server once it
 * serves, header NamesrvStartedHeader. Every broker given that name server's id registers with it at once,
 * rather than at its next register interval.
 */
export const NAMESRV_STARTED_SUBJECT = 'namesrv.started';
export interface NamesrvStartedHeader {
  /** The id of the name server that started (it serves at `namesrvAddress(namesrvId)`). */
  namesrvId: string;
}

/** GET_ROUTEINFO_BY_TOPIC: header `topic`. Reply body TopicRoute, or status TOPIC_NOT_EXIST. */
export type RouteReplyBody = TopicRoute;
/** GET_BROKER_CLUSTER_INFO: no header. Reply body ClusterInfo. */
export type ClusterInfoReplyBody = ClusterInfo;
/**
 * GET_ALL_TOPIC_LIST_FROM_NAMESERVER: optional header `after` (a topic name); reply body `{ topics }`, the
 * sorted names after `after` up to a page's bytes, and header `more: true` when names remain
 * (actors/namesrv/topic-list-page.ts). DELETE_TOPIC_IN_NAMESRV: header `topic`.
 */
export interface TopicListReplyBody {
  topics: string[];
}

// ---------------------------------------------------------------------------------------------- broker: send

/**
 * SEND_MESSAGE / SEND_BATCH_MESSAGE: one queue, a batch of messages (`encodeMessageBatch`). Reply body
 * `encodeSendReply` (send-reply.ts, binary): one result per message in order (msgId, queueOffset,
 * commitLogOffset, and the uniqKey only when the broker made the keys: a request's own run is not sent back);
 * read it with `decodeSendReply`. Statuses: TOPIC_NOT_EXIST, NO_PERMISSION, MESSAGE_ILLEGAL, MESSAGE_TOO_LARGE,
 * BAD_FRAME (a malformed body or unique key header), SYSTEM_BUSY (back pressure: retry later), STORE_FAILED, DISK_FULL.
 * SEND_MANY carries batches for several queues of one broker (send-many.ts): header producerGroup, bornHost and
 * bornTimestamp, each part its topic, queue and key run; each part is answered with its own status.
 */
export interface SendHeader {
  producerGroup: string;
  topic: string;
  queueId: number;
  bornHost: string;
  bornTimestamp: number;
  /**
   * The batch's unique keys (actors/protocol/uniq-keys.ts): the shared prefix (24 uppercase hex digits) and
   * the number of the first message's key; message i's is the prefix + the 8 hex digits of uniqFirst + i,
   * unless it has a UNIQ_KEY property. Both or neither; without them the broker makes the keys.
   */
  uniqPrefix?: string;
  uniqFirst?: number;
}

// ---------------------------------------------------------------------------------------------- broker: pull

/**
 * PULL_MESSAGE. With no new message the broker holds the pull for up to `suspendTimeoutMs` and answers as
 * soon as data arrives (long polling). Reply header PullReplyHeader; body the messages found (empty unless
 * FOUND): the store's records as they are (core/record-batch.ts), or `encodeMessageExtBatch` of them from a
 * store that has no records to hand; `decodePullBody` reads either.
 */
export interface PullHeader {
  consumerGroup: string;
  topic: string;
  queueId: number;
  queueOffset: number;
  maxMsgNums: number;
  /** Tag expression: `*`, `TagA || TagB`. */
  subExpression: string;
  suspendTimeoutMs: number;
  maxBytes?: number;
}
export type PullStatus = 'FOUND' | 'NO_NEW_MSG' | 'NO_MATCHED_MSG' | 'OFFSET_ILLEGAL';
export interface PullReplyHeader {
  pullStatus: PullStatus;
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
  /**
   * The broker id of its group the consumer should pull this queue from next (RocketMQ's suggestWhichBrokerId):
   * a slave while the consumer reads far behind the master's writes, the master (0) once it caught up. Absent from
   * brokers that do not replicate.
   */
  suggestWhichBrokerId?: number;
}

// ---------------------------------------------------------------------------------------------- broker: offsets

/** QUERY_CONSUMER_OFFSET: header {consumerGroup, topic, queueId}. Reply header `offset`, or QUERY_NOT_FOUND. */
export interface ConsumerOffsetHeader {
  consumerGroup: string;
  topic: string;
  queueId: number;
}
/** UPDATE_CONSUMER_OFFSET: header `consumerGroup`, body: every offset of the group this client commits. */
export interface UpdateOffsetsBody {
  offsets: { topic: string; queueId: number; offset: number }[];
}
/** GET_MAX_OFFSET / GET_MIN_OFFSET: header {topic, queueId}; SEARCH_OFFSET_BY_TIMESTAMP adds `timestamp`. Reply header `offset`. */
export interface QueueHeader {
  topic: string;
  queueId: number;
}
/** GET_CONSUMER_STATS_FROM_SERVER: header `consumerGroup`. Reply body: per queue, broker and consumer offsets. */
export interface ConsumerProgressBody {
  queues: { topic: string; brokerName: string; queueId: number; brokerOffset: number; consumerOffset: number; lag: number }[];
}

// ---------------------------------------------------------------------------------------------- broker: clients

/**
 * HEART_BEAT: header `clientId`, `instance` (a token drawn once per client; optional); body HeartbeatBody. Reply
 * OK, or CLIENT_ID_CONFLICT when another live member of one of the consumer groups has this client id under
 * another instance token (nothing is recorded then). Silent clients expire.
 */
export interface HeartbeatBody {
  producerGroups: string[];
  consumers: { group: string; messageModel: 'CLUSTERING' | 'BROADCASTING'; subscriptions: Record<string, string> }[];
}
/**
 * UNREGISTER_CLIENT: header `clientId`, optional `producerGroup`, `consumerGroup`, `instance` (with it, a consumer
 * group member goes only when it is that instance).
 */
/** GET_CONSUMER_LIST_BY_GROUP: header `consumerGroup`. Reply body `{ clientIds }` (sorted). */
export interface ConsumerListBody {
  clientIds: string[];
}
/** NOTIFY_CONSUMER_IDS_CHANGED: one-way, broker -> clientAddress(clientId), header `consumerGroup`. */

/**
 * CONSUMER_SEND_MSG_BACK: a message the consumer failed to process goes back for a later retry.
 * Header: `consumerGroup`, `msgId` (of the original), `delayLevel` (0: the broker picks from reconsume
 * times), `maxReconsumeTimes`. Past the maximum, the message goes to the group's dead-letter topic.
 */
export interface SendBackHeader {
  consumerGroup: string;
  msgId: string;
  delayLevel: number;
  maxReconsumeTimes: number;
}

// ---------------------------------------------------------------------------------------------- broker: admin

/** UPDATE_AND_CREATE_TOPIC: body TopicConfig. GET_ALL_TOPIC_CONFIG: reply body `{ topics: TopicConfig[] }`. */
export interface TopicConfigsBody {
  topics: TopicConfig[];
}
/** GET_BROKER_RUNTIME_INFO: no header; the reply body is a BrokerStatus (JSON). */
export interface BrokerStatus {
  brokerName: string;
  brokerId: number;
  cluster: string;
  address: string;
  store: {
    /**
     * Whether the store takes writes: 'ok'; 'paused' while a consume queue or index write fails (retried until
     * it succeeds); 'failed' until a restart. `status` is what writes are refused with meanwhile.
     */
    health: { state: 'ok' | 'paused' | 'failed'; status?: number; reason?: string };
    /** Commit log write, flush and min offsets, and how far it is indexed. */
    positions: { writeOffset: number; flushedOffset: number; minOffset: number; dispatched: number };
    /** Commit log bytes found corrupt: their records are lost, their offsets never used again. */
    corruptRanges: readonly { from: number; to: number; segment: string; reason: string; foundBy: 'recovery' | 'read' }[];
  };
}

/**
 * HA_PULL request header: a slave of `brokerName` (its id and address) asks for records from `offset` (its write
 * offset) and acknowledges `ackOffset` (what it holds, durably when it flushes sync); the master holds the
 * request up to `waitMs` when nothing is new. Reply header HaPullReplyHeader; body the records (whole, as they
 * lie in the commit log) when `kind` is 'data'.
 *
 * A stream keeps several requests at the master (HaSettings.pullsInFlight): the first of stream `stream` asks
 * from `offset` and starts the master's cursor for that slave there; each with `follow` asks for what comes after
 * the cursor (the last chunk the master answered on the stream) and moves it. A request of an older stream is
 * answered 'none' and moves nothing.
 */
export interface HaPullHeader {
  brokerName: string;
  brokerId: number;
  address: string;
  offset: number;
  ackOffset: number;
  maxBytes: number;
  waitMs: number;
  /** The slave's stream (0 or absent: a lone request, records from `offset`). */
  stream?: number;
  /** Records from the stream's cursor rather than from `offset`. */
  follow?: boolean;
}

/**
 * HA_PULL reply header: 'data' (records from `offset`), 'none' (nothing new), 'ahead' (the slave holds a tail
 * the master does not: it diverged), 'gone' (retention deleted `offset`: the master's oldest is `minOffset`).
 */
export interface HaPullReplyHeader {
  kind: 'data' | 'none' | 'ahead' | 'gone';
  offset: number;
  masterWrite: number;
  minOffset: number;
  /** Under a controller: what the in-sync set holds (a slave serves only below it); -1 without one. */
  confirmOffset: number;
  /** The epoch the records belong to and where the master's epoch starts (0 without a controller). */
  epoch: number;
  epochStart: number;
  /** The master's topic table version: a slave whose copy is older copies it at once. */
  topics: string;
  /** The stream the master answers on (the request's, or 0: it follows none of this slave's, start another). */
  stream: number;
}

/** HA_GET_EPOCHS reply body (JSON): the master's epoch entries, write offset and confirm offset (-1: none). */
export interface HaEpochsReply {
  entries: { epoch: number; startOffset: number }[];
  writeOffset: number;
  confirmOffset: number;
}

/** GET_BROKER_HA_STATUS reply body (JSON): the broker's replication role and, on a master, its slaves. */
export interface HaStatus {
  brokerName: string;
  brokerId: number;
  address: string;
  role: 'master' | 'slave' | 'none';
  mode?: 'sync' | 'async';
  /** Under a controller: the master epoch this broker is in, and (on the master) the in-sync set's version. */
  epoch?: number;
  /** Under a controller: the confirm offset (consumers read below it). */
  confirmOffset?: number;
  /** The master's address (on a slave: the one it follows). */
  master?: string;
  /** Commit log write and flushed offsets of this broker. */
  writeOffset: number;
  flushedOffset: number;
  /** On a master: the in-sync set's broker ids, itself included. */
  inSync?: number[];
  minInSyncReplicas?: number;
  /** On a master: each slave's progress; on a slave: its own (lastContact: its last reply from the master). */
  slaves?: HaSlaveStatus[];
}

export interface HaSlaveStatus {
  brokerId: number;
  address: string;
  ackOffset: number;
  /** Bytes of the master's commit log the slave does not hold yet. */
  lagBytes: number;
  /** Messages the slave does not hold yet, summed over the master's queues (from consume queue offsets, when known). */
  lagMessages?: number;
  /** Time of its last contact (the broker's clock, ms since the epoch), and how long ago that was. */
  lastContact: number;
  sinceContactMs: number;
  inSync: boolean;
}

/** DELETE_TOPIC_IN_BROKER: header `topic`. VIEW_MESSAGE_BY_ID: header `msgId`; reply body one MessageExt batch. */
/** QUERY_MESSAGE: header {topic, key, maxNum}; reply body a MessageExt batch. */

export type { TopicConfig, TopicRoute, ClusterInfo, DataVersion };

// ---------------------------------------------------------------------------------------------- added for the broker

/**
 * CONSUMER_SEND_MSG_BACK reply header: the id of the message written back, the topic it went to
 * (`%RETRY%group`, or `%DLQ%group` past maxReconsumeTimes) and whether that is the dead-letter topic. A retry
 * waits in the schedule topic for its delay level (3 + reconsumeTimes when the request's delayLevel is 0)
 * before it appears in the retry topic. The request header carries `msgId` (not a commit log offset).
 */
export interface SendBackReplyHeader {
  msgId: string;
  topic: string;
  deadLetter: boolean;
}

// ---------------------------------------------------------------------------------------------- added for transactions

/**
 * END_TRANSACTION (producer -> broker holding the half message; a request, or one-way): the outcome of a
 * transaction. `msgId` and `halfOffset` are the half message's store id and queue offset (the SendResult of
 * the half message's send). COMMIT writes the message to its real topic once; ROLLBACK drops it; UNKNOWN is
 * ignored (the broker will check). Reply header EndTransactionReplyHeader. Statuses: INVALID_ARGUMENT (no such
 * half message), NO_PERMISSION (another producer group's), STORE_FAILED and the like.
 */
export interface EndTransactionHeader {
  producerGroup: string;
  msgId: string;
  halfOffset: number;
  transactionState: 'COMMIT' | 'ROLLBACK' | 'UNKNOWN';
  /** Whether this answers a CHECK_TRANSACTION_STATE. */
  fromTransactionCheck: boolean;
  transactionId?: string;
}
export interface EndTransactionReplyHeader {
  outcome: 'COMMITTED' | 'ROLLED_BACK' | 'ALREADY_RESOLVED' | 'IGNORED';
}

/**
 * CHECK_TRANSACTION_STATE (broker -> clientAddress(clientId) of a live producer of the group; one-way): asks
 * the outcome of a half message still without one. Body: the half message as sent (one MessageExt batch,
 * `encodeMessageExtBatch`, on its real topic and queue). The producer answers with END_TRANSACTION to
 * `brokerAddr` (fromTransactionCheck true), or not at all when its check listener says UNKNOWN.
 */
export interface CheckTransactionStateHeader {
  brokerName: string;
  brokerAddr: string;
  producerGroup: string;
  msgId: string;
  halfOffset: number;
  /** How many checks this one is (1 for the first). */
  checkTimes: number;
  transactionId?: string;
}

// ---------------------------------------------------------------------------------------------- added for ordered messages

/**
 * LOCK_BATCH_MQ (orderly consumer -> master broker): locks queues of this broker for the client, or renews its
 * locks. Header LockBatchHeader; body QueueLockBody (the queues to lock, at most 1024). Reply header
 * LockBatchReplyHeader; reply body QueueLockBody: the queues now locked by this client (free ones, its own, and
 * ones whose lease expired; queues locked by another live client are left out). A lock lasts the broker's
 * `queueLockLeaseMs` (the reply's `leaseMs`).
 *
 * UNLOCK_BATCH_MQ: same header and body; releases the queues this client holds among them. Reply OK with
 * header `released` (how many).
 */
export interface LockBatchHeader {
  consumerGroup: string;
  clientId: string;
}
/** LOCK_BATCH_MQ reply header: how long the broker keeps a lock without renewal. */
export interface LockBatchReplyHeader {
  leaseMs: number;
}
export interface QueueLockBody {
  queues: { topic: string; queueId: number }[];
}
