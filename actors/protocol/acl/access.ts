/**
 * What a request needs from the account that signed it, by request code (as RocketMQ's PlainAccessResource):
 *
 * - send: PUB on the topic (SEND_MANY: on each of its parts' topics);
 * - pull, consumer offsets (query, commit), heartbeat, queue locks: SUB on each topic and SUB on the group;
 * - admin requests (create, delete or list topics, delete routes, key-value config, message by id): an admin account;
 * - name server registration (REGISTER_BROKER, UNREGISTER_BROKER) and replication between brokers (HA_PULL,
 *   HA_SYNC_CONFIG): an admin or broker account;
 * - route look-ups, unregistering a client, ending a transaction: any valid account (the broker checks that a
 *   transaction's producer group is the half message's own);
 * - any other code: an admin account (what is not listed is refused to others).
 *
 * A retry or dead-letter topic (`%RETRY%g`, `%DLQ%g`) is the group's: it needs the permission on group `g`.
 */
import type { Frame } from '../../../transports/frame.js';
import { Status, StatusError } from '../../../core/status.js';
import { RequestCode } from '../request-codes.js';
import { DLQ_TOPIC_PREFIX, RETRY_TOPIC_PREFIX } from '../validation.js';
import { Perm, type NeededPerm } from './perm.js';
import { decodeSendMany } from '../send-many.js';

export interface ResourceNeed {
  kind: 'topic' | 'group';
  name: string;
  perm: NeededPerm;
}

/** What a request needs: an admin account, a registering (admin or broker) account, or permissions on resources. */
export type AccessNeed = { kind: 'admin' } | { kind: 'registration' } | { kind: 'resources'; needs: ResourceNeed[] };

const ANY_ACCOUNT: AccessNeed = Object.freeze({ kind: 'resources', needs: [] }) as AccessNeed;
const ADMIN: AccessNeed = Object.freeze({ kind: 'admin' });
const REGISTRATION: AccessNeed = Object.freeze({ kind: 'registration' });

const ANY_ACCOUNT_CODES: ReadonlySet<number> = new Set<number>([
  RequestCode.GET_ROUTEINFO_BY_TOPIC,
  RequestCode.GET_BROKER_CLUSTER_INFO,
  RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
  RequestCode.GET_TOPICS_BY_CLUSTER,
  RequestCode.GET_KV_CONFIG,
  RequestCode.UNREGISTER_CLIENT,
  RequestCode.END_TRANSACTION,
]);

/** A topic's need: on the topic, or on the group for a retry or dead-letter topic. */
export function topicNeed(topic: string, perm: NeededPerm): ResourceNeed {
  if (topic.startsWith(RETRY_TOPIC_PREFIX)) return { kind: 'group', name: topic.slice(RETRY_TOPIC_PREFIX.length), perm };
  if (topic.startsWith(DLQ_TOPIC_PREFIX)) return { kind: 'group', name: topic.slice(DLQ_TOPIC_PREFIX.length), perm };
  return { kind: 'topic', name: topic, perm };
}

function str(frame: Frame, name: string): string {
  const v = frame.header[name];
  if (typeof v !== 'string' || v.length === 0) throw new StatusError(Status.BAD_FRAME, `header "${name}" must be a non-empty string`);
  return v;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function json(frame: Frame): unknown {
  try {
    return JSON.parse(decoder.decode(frame.body));
  } catch (err) {
    throw new StatusError(Status.BAD_FRAME, `malformed JSON body: ${(err as Error).message}`);
  }
}

/** `list[i][field]` strings of a JSON body (`{ offsets: [{ topic }] }`, `{ queues: [{ topic }] }`), each once. */
function topicsIn(doc: unknown, list: string): string[] {
  const arr = doc !== null && typeof doc === 'object' ? (doc as Record<string, unknown>)[list] : undefined;
  if (!Array.isArray(arr)) throw new StatusError(Status.BAD_FRAME, `body must be { ${list}: [...] }`);
  const out = new Set<string>();
  for (const e of arr) {
    const t = e !== null && typeof e === 'object' ? (e as { topic?: unknown }).topic : undefined;
    if (typeof t !== 'string') throw new StatusError(Status.BAD_FRAME, `each of ${list} must name a topic`);
    out.add(t);
  }
  return [...out];
}

function consumerNeeds(group: string, topics: readonly string[]): AccessNeed {
  return { kind: 'resources', needs: [...topics.map((t) => topicNeed(t, Perm.SUB)), { kind: 'group', name: group, perm: Perm.SUB }] };
}

function heartbeatNeeds(frame: Frame): AccessNeed {
  const doc = json(frame) as { consumers?: unknown };
  const consumers = doc !== null && typeof doc === 'object' ? doc.consumers : undefined;
  if (!Array.isArray(consumers)) throw new StatusError(Status.BAD_FRAME, 'heartbeat body must be { producerGroups, consumers: [...] }');
  const needs: ResourceNeed[] = [];
  for (const c of consumers as { group?: unknown; subscriptions?: unknown }[]) {
    if (c === null || typeof c !== 'object' || typeof c.group !== 'string' || c.subscriptions === null || typeof c.subscriptions !== 'object')
      throw new StatusError(Status.BAD_FRAME, 'each heartbeat consumer must be { group, subscriptions }');
    needs.push({ kind: 'group', name: c.group, perm: Perm.SUB });
    for (const t of Object.keys(c.subscriptions)) needs.push(topicNeed(t, Perm.SUB));
  }
  return { kind: 'resources', needs };
}

/** What `frame` needs; StatusError(BAD_FRAME) when the fields the decision reads are missing or malformed. */
export function accessNeed(frame: Frame): AccessNeed {
  switch (frame.code) {
    case RequestCode.SEND_MESSAGE:
    case RequestCode.SEND_BATCH_MESSAGE:
      return { kind: 'resources', needs: [topicNeed(str(frame, 'topic'), Perm.PUB)] };
    case RequestCode.SEND_MANY:
      return { kind: 'resources', needs: [...new Set(decodeSendMany(frame.body).map((p) => p.topic))].map((t) => topicNeed(t, Perm.PUB)) };
    case RequestCode.PULL_MESSAGE:
    case RequestCode.QUERY_CONSUMER_OFFSET:
      return consumerNeeds(str(frame, 'consumerGroup'), [str(frame, 'topic')]);
    case RequestCode.UPDATE_CONSUMER_OFFSET:
      return consumerNeeds(str(frame, 'consumerGroup'), topicsIn(json(frame), 'offsets'));
    case RequestCode.LOCK_BATCH_MQ:
    case RequestCode.UNLOCK_BATCH_MQ:
      return consumerNeeds(str(frame, 'consumerGroup'), topicsIn(json(frame), 'queues'));
    case RequestCode.HEART_BEAT:
      return heartbeatNeeds(frame);
    case RequestCode.GET_CONSUMER_LIST_BY_GROUP:
    case RequestCode.GET_CONSUMER_STATS_FROM_SERVER:
    case RequestCode.CONSUMER_SEND_MSG_BACK:
      return consumerNeeds(str(frame, 'consumerGroup'), []);
    case RequestCode.GET_MAX_OFFSET:
    case RequestCode.GET_MIN_OFFSET:
    case RequestCode.SEARCH_OFFSET_BY_TIMESTAMP:
    case RequestCode.QUERY_MESSAGE:
      return { kind: 'resources', needs: [topicNeed(str(frame, 'topic'), Perm.SUB)] };
    case RequestCode.REGISTER_BROKER:
    case RequestCode.UNREGISTER_BROKER:
    case RequestCode.HA_PULL:
    case RequestCode.HA_SYNC_CONFIG:
    case RequestCode.HA_GET_EPOCHS:
    case RequestCode.HA_READ_TAIL:
      return REGISTRATION;
    default:
      return ANY_ACCOUNT_CODES.has(frame.code) ? ANY_ACCOUNT : ADMIN;
  }
}
