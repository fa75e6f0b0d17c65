/**
 * The wire contract between the roles: for each request code, the header fields it carries, what its body
 * holds and what the reply carries. Headers are flat maps (strings, numbers, booleans). Control-plane bodies
 * are small JSON documents (`jsonBody`/`parseJsonBody` in replies.ts); message data never is: it travels in
 * the binary batch codecs of message-codec.ts.
 *
 * Errors come back as a reply whose `status` is not OK and whose header `error` says why.
 */
import type { TopicConfig, TopicRoute, ClusterInfo, DataVersion } from '../namesrv/route-table.js';

// ---------------------------------------------------------------------------------------------- addresses

/** A name server's address: `namesrv.<id>`. */
export const namesrvAddress = (id: string): string => `namesrv.${id}`;
/** A broker's address: `broker.<brokerName>.<brokerId>` (brokerId 0 is the master). */
export const brokerAddress = (brokerName: string, brokerId = 0): string => `broker.${brokerName}.${brokerId}`;
/** A client's (producer's or consumer's) address, where brokers send notices and checks: `client.<clientId>`. */
export const clientAddress = (clientId: string): string => `client.${clientId}`;

// ---------------------------------------------------------------------------------------------- name server

/** REGISTER_BROKER. Reply: OK (header `masterAddr` for a slave when known). */
export interface RegisterBrokerHeader {
  cluster: string;
  brokerName: string;
  brokerId: number;
  address: string;
}
export interface RegisterBrokerBody {
  dataVersion: DataVersion;
  topics: TopicConfig[];
}
/** UNREGISTER_BROKER: header as RegisterBrokerHeader, no body. */

/** GET_ROUTEINFO_BY_TOPIC: header `topic`. Reply body TopicRoute, or status TOPIC_NOT_EXIST. */
export type RouteReplyBody = TopicRoute;
/** GET_BROKER_CLUSTER_INFO: no header. Reply body ClusterInfo. */
export type ClusterInfoReplyBody = ClusterInfo;
/** GET_ALL_TOPIC_LIST_FROM_NAMESERVER: reply body `{ topics }`. DELETE_TOPIC_IN_NAMESRV: header `topic`. */
export interface TopicListReplyBody {
  topics: string[];
}

// ---------------------------------------------------------------------------------------------- broker: send

/**
 * SEND_MESSAGE / SEND_BATCH_MESSAGE: one queue, a batch of messages (`encodeMessageBatch`). Reply body
 * SendReplyBody, one result per message in order. Statuses: TOPIC_NOT_EXIST, NO_PERMISSION, MESSAGE_ILLEGAL,
 * MESSAGE_TOO_LARGE, SYSTEM_BUSY (back pressure: retry later), STORE_FAILED, DISK_FULL.
 */
export interface SendHeader {
  producerGroup: string;
  topic: string;
  queueId: number;
  bornHost: string;
  bornTimestamp: number;
}
export interface SendReplyBody {
  results: { msgId: string; queueOffset: number; uniqKey?: string }[];
}

// ---------------------------------------------------------------------------------------------- broker: pull

/**
 * PULL_MESSAGE. With no new message the broker holds the pull for up to `suspendTimeoutMs` and answers as
 * soon as data arrives (long polling). Reply header PullReplyHeader; body `encodeMessageExtBatch` of the
 * messages found (empty unless FOUND).
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

/** HEART_BEAT: header `clientId`; body HeartbeatBody. Reply OK. Silent clients expire. */
export interface HeartbeatBody {
  producerGroups: string[];
  consumers: { group: string; messageModel: 'CLUSTERING' | 'BROADCASTING'; subscriptions: Record<string, string> }[];
}
/** UNREGISTER_CLIENT: header `clientId`, optional `producerGroup`, `consumerGroup`. */
/** GET_CONSUMER_LIST_BY_GROUP: header `consumerGroup`. Reply body `{ clientIds }` (sorted). */
export interface ConsumerListBody {
  clientIds: string[];
}
/** NOTIFY_CONSUMER_IDS_CHANGED: one-way, broker -> clientAddress(clientId), header `consumerGroup`. */

/**
 * CONSUMER_SEND_MSG_BACK: a message the consumer failed to process goes back for a later retry.
 * Header: `consumerGroup`, `commitLogOffset` (of the original), `delayLevel` (0: the broker picks from
 * reconsume times), `maxReconsumeTimes`. Past the maximum, the message goes to the group's dead-letter topic.
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
