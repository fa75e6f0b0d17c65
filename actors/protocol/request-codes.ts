/**
 * Request codes carried in a frame's `code` field (uint16). Numbers follow RocketMQ's RequestCode where one
 * exists, so a trace reads like a RocketMQ one; codes of our own sit above 1000.
 */
export const RequestCode = {
  // broker: data path
  SEND_MESSAGE: 10,
  PULL_MESSAGE: 11,
  QUERY_MESSAGE: 12,
  QUERY_BROKER_OFFSET: 13,
  QUERY_CONSUMER_OFFSET: 14,
  UPDATE_CONSUMER_OFFSET: 15,
  UPDATE_AND_CREATE_TOPIC: 17,
  GET_ALL_TOPIC_CONFIG: 21,
  GET_BROKER_CONFIG: 26,
  SEARCH_OFFSET_BY_TIMESTAMP: 29,
  GET_MAX_OFFSET: 30,
  GET_MIN_OFFSET: 31,
  GET_EARLIEST_MSG_STORETIME: 32,
  VIEW_MESSAGE_BY_ID: 33,
  HEART_BEAT: 34,
  UNREGISTER_CLIENT: 35,
  CONSUMER_SEND_MSG_BACK: 36,
  END_TRANSACTION: 37,
  GET_CONSUMER_LIST_BY_GROUP: 38,
  CHECK_TRANSACTION_STATE: 39,
  NOTIFY_CONSUMER_IDS_CHANGED: 40,
  LOCK_BATCH_MQ: 41,
  UNLOCK_BATCH_MQ: 42,
  GET_ALL_CONSUMER_OFFSET: 43,
  GET_ALL_DELAY_OFFSET: 45,
  GET_BROKER_RUNTIME_INFO: 28,
  GET_CONSUMER_RUNNING_INFO: 307,
  GET_CONSUMER_STATS_FROM_SERVER: 208,
  QUERY_TOPIC_CONSUME_BY_WHO: 300,
  // name server
  PUT_KV_CONFIG: 100,
  GET_KV_CONFIG: 101,
  DELETE_KV_CONFIG: 102,
  REGISTER_BROKER: 103,
  UNREGISTER_BROKER: 104,
  GET_ROUTEINFO_BY_TOPIC: 105,
  GET_BROKER_CLUSTER_INFO: 106,
  GET_ALL_TOPIC_LIST_FROM_NAMESERVER: 206,
  DELETE_TOPIC_IN_BROKER: 215,
  DELETE_TOPIC_IN_NAMESRV: 216,
  GET_TOPICS_BY_CLUSTER: 224,
  /** Ours: a starting name server's broadcast asking brokers to register (commands.ts, NAMESRV_STARTED_SUBJECT). */
  NAMESRV_STARTED: 1010,
  /** Ours: a batch of observation records a process publishes (protocol/observe.ts, OBSERVE_SUBJECT). */
  OBSERVE_RECORDS: 1040,
  /** Ours: an observer's hello: publishers answer with a snapshot and publish while observers keep saying it. */
  OBSERVE_HELLO: 1041,
  /** Ours: a slave asks its master for commit log records from an offset, and acknowledges what it holds (HaPullHeader). */
  HA_PULL: 1020,
  /** Ours: a slave copies its master's topics, consumer offsets and schedule progress, and sends its own offsets. */
  HA_SYNC_CONFIG: 1021,
  /** Ours: the controller (ha-controller.ts): a broker's heartbeat, a master's in-sync change, a group's state. */
  CONTROLLER_HEARTBEAT: 1030,
  CONTROLLER_ALTER_SYNC_STATE: 1031,
  CONTROLLER_GET_GROUP: 1032,
  /** Ours: a slave asks its master for its epoch entries, write offset and confirm offset before it follows it. */
  HA_GET_EPOCHS: 1022,
  /** Ours: a fixed master that lost an unflushed tail asks its slave for it (records from an offset, as HA_PULL's). */
  HA_READ_TAIL: 1023,
  /** Ours (RocketMQ's GET_BROKER_HA_STATUS): a broker's replication role, in-sync set and per-slave progress. */
  GET_BROKER_HA_STATUS: 907,
  // batches
  SEND_BATCH_MESSAGE: 320,
  /** Ours: the batches of a producer's turn for several queues of one broker in one request (send-many.ts). */
  SEND_MANY: 1050,
} as const;

export type RequestCodeValue = (typeof RequestCode)[keyof typeof RequestCode];

const names = new Map<number, string>(Object.entries(RequestCode).map(([k, v]) => [v, k]));

/** The symbolic name of a request code (`REQUEST_<n>` for an unknown one). */
export function requestCodeName(code: number): string {
  return names.get(code) ?? `REQUEST_${code}`;
}

/** Whether `code` is one of the known request codes. */
export function isRequestCode(code: number): code is RequestCodeValue {
  return names.has(code);
}
