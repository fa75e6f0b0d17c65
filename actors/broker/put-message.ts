import { utf8Length } from '../../core/bytes.js';
import { PROP_KEYS, PROP_TAGS, RecordLayout } from '../../core/record-layout.js';
import { apartUniqKey } from '../../store/commit-log-batch.js';
import { MessageProperty, type Message, type MessageExt } from '../../core/message.js';
import { Status, StatusError } from '../../core/status.js';
import { SCHEDULE_TOPIC, messageProblem, type MessageRules } from '../protocol/validation.js';
import type { UniqKeyBatch } from '../protocol/uniq-keys.js';
import type { StorePutMessage, StorePutResult } from './store-port.js';

/**
 * Turning what a producer sent into what the store keeps (pure functions): system properties, the unique
 * key, and the rewrite of delayed messages into the schedule topic (one queue per delay level, as RocketMQ's
 * SCHEDULE_TOPIC_XXXX) and back.
 */

/**
 * Store answers for a batch that is stored but whose durability is in doubt (RocketMQ's FLUSH_DISK_TIMEOUT, and
 * FLUSH_SLAVE_TIMEOUT when a sync master's replicas did not acknowledge it in time): the send reply carries
 * this status and the batch's offsets and ids, and the producer reports the send as not OK but stored, rather
 * than failing it.
 */
export function storedWithWarning(status: number): boolean {
  return status === Status.FLUSH_DISK_TIMEOUT || status === Status.FLUSH_SLAVE_TIMEOUT;
}

/**
 * One past the last commit log offset a stored batch wrote a record at (replication acknowledges up to it: the
 * mixed log only); 0 for an empty batch.
 */
export function writtenBelow(put: StorePutResult): number {
  let last = -1;
  for (const o of writtenAt(put)) last = Math.max(last, o);
  return last + 1;
}

/** The commit log offsets a stored batch wrote its records at (what StorePort.whenRecordsFlushed waits for). */
export function writtenAt(put: StorePutResult): readonly number[] {
  return put.commitLogOffsets ?? put.results.map((r) => r.commitLogOffset);
}

/** System properties a client may set itself (users may not: the producer's own validation refuses them). */
export const CLIENT_PROPERTIES: ReadonlySet<string> = new Set([
  MessageProperty.UNIQ_KEY,
  MessageProperty.TRAN_MSG,
  MessageProperty.PRODUCER_GROUP,
  MessageProperty.WAIT_STORE_OK,
  MessageProperty.TRANSACTION_ID,
  MessageProperty.RETRY_TOPIC,
  MessageProperty.ORIGIN_MSG_ID,
  MessageProperty.RECONSUME_TIME,
  MessageProperty.MAX_RECONSUME_TIMES,
]);

/** The problem with a message from a client ([status, message]), or undefined: messageProblem, where CLIENT_PROPERTIES may be set. */
export function clientMessageProblem(m: Message, rules: MessageRules): [number, string] | undefined {
  return messageProblem(m, rules.clientProperties === CLIENT_PROPERTIES ? rules : { ...rules, clientProperties: CLIENT_PROPERTIES });
}

export interface BornInfo {
  queueId: number;
  bornHost: string;
  bornTimestamp: number;
}

/**
 * A store message as the broker builds it: a message without properties of its own carries its new unique key
 * apart, as a prefix and a number (the store writes it as the UNIQ_KEY property), not in a property object of
 * its own; `uniqKey` holds one given as a string.
 */
export type BrokerPutMessage = StorePutMessage & { uniqKey?: string; uniqPrefix?: string; uniqSeq?: number };

/** The unique key of a message about to be stored (UNIQ_KEY property, or the key carried apart). */
export function uniqKeyOf(p: BrokerPutMessage): string | undefined {
  return p.properties?.[MessageProperty.UNIQ_KEY] ?? apartUniqKey(p);
}

/**
 * The store message for message `i` of a sent batch: its UNIQ_KEY kept, or key i of the batch's run (`uniq`,
 * the request's or one the broker drew).
 */
export function toPutMessage(m: Message, born: BornInfo, uniq: UniqKeyBatch, i: number): BrokerPutMessage {
  const src = m.properties;
  if (src === undefined && m.shardingKey === undefined && m.delayLevel === undefined && m.deliverAt === undefined) {
    // the usual message: no property object, no copy; one object shape for all
    const keys = m.keys !== undefined && m.keys.length > 0 ? m.keys : undefined;
    return {
      topic: m.topic,
      queueId: born.queueId,
      body: m.body,
      tags: m.tags,
      keys,
      properties: undefined,
      uniqPrefix: uniq.prefix,
      uniqSeq: uniq.seqAt(i),
      bornTimestamp: born.bornTimestamp,
      bornHost: born.bornHost,
    };
  }
  const props: Record<string, string> = src === undefined ? {} : { ...src };
  if (props[MessageProperty.UNIQ_KEY] === undefined) props[MessageProperty.UNIQ_KEY] = uniq.keyAt(i);
  if (m.shardingKey !== undefined) props[MessageProperty.SHARDING_KEY] = m.shardingKey;
  if (m.delayLevel !== undefined && m.delayLevel > 0) props[MessageProperty.DELAY] = String(m.delayLevel);
  if (m.deliverAt !== undefined) props[MessageProperty.DELIVER_AT] = String(m.deliverAt);
  const out: StorePutMessage = {
    topic: m.topic,
    queueId: born.queueId,
    body: m.body,
    properties: props,
    bornTimestamp: born.bornTimestamp,
    bornHost: born.bornHost,
  };
  if (m.tags !== undefined) out.tags = m.tags;
  if (m.keys !== undefined && m.keys.length > 0) out.keys = m.keys;
  const rt = src === undefined ? undefined : props[MessageProperty.RECONSUME_TIME];
  if (rt !== undefined) {
    const times = Number(rt);
    if (Number.isInteger(times) && times > 0) out.reconsumeTimes = times;
  }
  return out;
}

/** Queue of the schedule topic for a delay level (1-based level -> queue level - 1). */
export function scheduleQueueOf(level: number): number {
  return level - 1;
}

/**
 * Rewrites a message with a delay level into the schedule topic: it waits there until its time, then the
 * scheduler writes it back to its real topic and queue. Levels past `maxLevel` use the longest delay.
 */
export function toScheduled(p: StorePutMessage, level: number, maxLevel: number): StorePutMessage {
  if (!Number.isInteger(level) || level < 1) throw new StatusError(Status.MESSAGE_ILLEGAL, `delay level must be at least 1, got ${level}`);
  const lv = Math.min(level, maxLevel);
  return {
    ...p,
    topic: SCHEDULE_TOPIC,
    queueId: scheduleQueueOf(lv),
    properties: {
      ...(p.properties ?? {}),
      [MessageProperty.REAL_TOPIC]: p.topic,
      [MessageProperty.REAL_QID]: String(p.queueId),
      [MessageProperty.DELAY]: String(lv),
    },
  };
}

/** The delay level of a message about to be stored (0: none). */
export function delayLevelOf(p: StorePutMessage): number {
  const v = Number(p.properties?.[MessageProperty.DELAY] ?? 0);
  return Number.isInteger(v) && v > 0 ? v : 0;
}

/** A scheduled message, due now, back to its real topic and queue (without the schedule properties). */
export function fromScheduled(m: MessageExt): StorePutMessage {
  const props = { ...(m.properties ?? {}) };
  const topic = props[MessageProperty.REAL_TOPIC];
  const qid = Number(props[MessageProperty.REAL_QID]);
  if (topic === undefined || !Number.isInteger(qid) || qid < 0)
    throw new StatusError(Status.MESSAGE_ILLEGAL, `scheduled message ${m.msgId} has no real topic or queue`);
  delete props[MessageProperty.REAL_TOPIC];
  delete props[MessageProperty.REAL_QID];
  delete props[MessageProperty.DELAY];
  const out: StorePutMessage = {
    topic,
    queueId: qid,
    body: m.body,
    properties: props,
    bornTimestamp: m.bornTimestamp,
    bornHost: m.bornHost,
    reconsumeTimes: m.reconsumeTimes,
  };
  if (m.tags !== undefined) out.tags = m.tags;
  if (m.keys !== undefined && m.keys.length > 0) out.keys = m.keys;
  return out;
}

// ---------------------------------------------------------------------------------------------- record sizes

/** Bytes of one stored property (`name 0x01 value 0x02`) whose value takes `valueBytes`. */
const propertyBytes = (name: string, valueBytes: number): number => utf8Length(name) + 2 + valueBytes;

/** Bytes of the KEYS value: the keys, a space between each two. */
function keysBytes(keys: readonly string[]): number {
  let n = keys.length - 1;
  for (let i = 0; i < keys.length; i++) n += utf8Length(keys[i]!);
  return n;
}

/** Bytes of a unique key carried apart (a string, or a prefix and 8 hex digits), 0 when none. */
function apartKeyBytes(p: BrokerPutMessage): number {
  if (p.uniqKey !== undefined) return utf8Length(p.uniqKey);
  return p.uniqPrefix !== undefined ? utf8Length(p.uniqPrefix) + 8 : 0;
}

const UNIQ_KEY_PROPERTY_BYTES = propertyBytes(MessageProperty.UNIQ_KEY, 0);

/**
 * The length of the properties of the record the store writes for `p`: its properties, TAGS, KEYS and a
 * unique key carried apart, as the commit log's batch encoder lays them out.
 */
export function storedPropertiesLength(p: BrokerPutMessage): number {
  const tags = p.tags !== undefined && p.tags !== '' ? p.tags : undefined;
  const keys = p.keys !== undefined && p.keys.length > 0 ? p.keys : undefined;
  const props = p.properties;
  let n = 0;
  let tagsDone = false;
  let keysDone = false;
  let hasUniq = false;
  if (props !== undefined) {
    for (const k in props) {
      if (k === PROP_TAGS && tags !== undefined) {
        tagsDone = true;
        n += propertyBytes(k, utf8Length(tags));
      } else if (k === PROP_KEYS && keys !== undefined) {
        keysDone = true;
        n += propertyBytes(k, keysBytes(keys));
      } else n += propertyBytes(k, utf8Length(props[k]!));
      if (k === MessageProperty.UNIQ_KEY) hasUniq = true;
    }
  }
  if (tags !== undefined && !tagsDone) n += propertyBytes(PROP_TAGS, utf8Length(tags));
  if (keys !== undefined && !keysDone) n += propertyBytes(PROP_KEYS, keysBytes(keys));
  if (!hasUniq && (p.uniqKey !== undefined || p.uniqPrefix !== undefined)) n += UNIQ_KEY_PROPERTY_BYTES + apartKeyBytes(p);
  return n;
}

/** The size of the commit log record the store writes for `p`, on a store whose host takes `storeHostBytes`. */
export function storedRecordSize(p: BrokerPutMessage, storeHostBytes: number): number {
  return RecordLayout.FixedSize + utf8Length(p.bornHost) + storeHostBytes + utf8Length(p.topic) + storedPropertiesLength(p) + p.body.length;
}

/** Longest decimal a u32 field takes (queue ids, delay levels, reconsume counts). */
const U32_DIGITS = 10;

/**
 * The property bytes the rewrites of a stored message can add. The broker writes copies of a message with
 * properties of its own: a delay level or timer to the schedule or timer topic and back, a half message to the
 * half topic and back on commit, a send-back to the retry or dead-letter topic and from there through the
 * schedule topic again. Each property any of them sets is counted once, at its longest value (a later rewrite
 * replaces or removes what an earlier one set; none stacks a name twice). `msgIdBytes`: the length of this
 * broker's message ids (the ORIGIN_MESSAGE_ID of a send-back).
 */
export function rewritePropertyMargin(msgIdBytes: number): number {
  const topic = RecordLayout.MaxShortString;
  return (
    propertyBytes(MessageProperty.REAL_TOPIC, topic) +
    propertyBytes(MessageProperty.REAL_QID, U32_DIGITS) +
    propertyBytes(MessageProperty.DELAY, U32_DIGITS) +
    propertyBytes(MessageProperty.RETRY_TOPIC, topic) +
    propertyBytes(MessageProperty.ORIGIN_MSG_ID, msgIdBytes) +
    propertyBytes(MessageProperty.RECONSUME_TIME, U32_DIGITS) +
    propertyBytes(MessageProperty.MAX_RECONSUME_TIMES, U32_DIGITS)
  );
}

/** What the rewrites can add to a record of `topic`: their properties, and the topic grown to the longest a record holds. */
export function rewriteMargin(topic: string, propertyMargin: number): number {
  return propertyMargin + Math.max(0, RecordLayout.MaxShortString - utf8Length(topic));
}

/** How large the records of one broker may be. */
export interface RecordBound {
  /** The store host's length in bytes (every record carries it). */
  storeHostBytes: number;
  /** rewritePropertyMargin of the store's message ids. */
  propertyMargin: number;
  /** Largest record a reply carries (a pull reply of just this record fits the transport's frame limit). */
  maxRecordBytes: number;
  /** The transport's frame limit the bound comes from (for messages). */
  maxPayload: number;
}

const TAGS_PROPERTY_BYTES = propertyBytes(PROP_TAGS, 0);
const KEYS_PROPERTY_BYTES = propertyBytes(PROP_KEYS, 0);

/**
 * At least storedPropertiesLength(p), counted without measuring: 3 bytes per UTF-16 unit (a property the
 * message sets twice, as a field and in its properties, counts twice).
 */
function propertiesBound(p: BrokerPutMessage): number {
  let n = p.tags === undefined ? 0 : TAGS_PROPERTY_BYTES + 3 * p.tags.length;
  if (p.uniqKey !== undefined) n += UNIQ_KEY_PROPERTY_BYTES + 3 * p.uniqKey.length;
  else if (p.uniqPrefix !== undefined) n += UNIQ_KEY_PROPERTY_BYTES + 3 * p.uniqPrefix.length + 8;
  const keys = p.keys;
  if (keys !== undefined) {
    n += KEYS_PROPERTY_BYTES + keys.length;
    for (let i = 0; i < keys.length; i++) n += 3 * keys[i]!.length;
  }
  const props = p.properties;
  if (props !== undefined) for (const k in props) n += 2 + 3 * (k.length + props[k]!.length);
  return n;
}

/**
 * Whether `p` can be stored and still delivered after any rewrite: [MESSAGE_TOO_LARGE, why] when its record
 * with the rewrites' margin would be larger than a reply carries, or its properties with theirs than a record
 * holds; undefined when it fits. A message far below both bounds is passed on a cheap upper bound, without
 * measuring it.
 */
export function undeliverableProblem(p: BrokerPutMessage, bound: RecordBound): [number, string] | undefined {
  const upper = propertiesBound(p);
  if (
    upper + bound.propertyMargin <= RecordLayout.MaxProperties &&
    RecordLayout.FixedSize + 3 * (p.bornHost.length + p.topic.length) + bound.storeHostBytes + upper + p.body.length + bound.propertyMargin + RecordLayout.MaxShortString <=
      bound.maxRecordBytes
  )
    return undefined;
  const props = storedPropertiesLength(p);
  if (props + bound.propertyMargin > RecordLayout.MaxProperties) {
    return [
      Status.MESSAGE_TOO_LARGE,
      `its properties take ${props} bytes as stored; with the ${bound.propertyMargin} bytes retries and delays may add, at most ${RecordLayout.MaxProperties - bound.propertyMargin} are allowed`,
    ];
  }
  const need = storedRecordSize(p, bound.storeHostBytes) + rewriteMargin(p.topic, bound.propertyMargin);
  if (need <= bound.maxRecordBytes) return undefined;
  const maxBody = Math.max(0, p.body.length - (need - bound.maxRecordBytes));
  return [
    Status.MESSAGE_TOO_LARGE,
    `stored with room for its retry and delay rewrites it takes ${need} bytes, more than the ${bound.maxRecordBytes} a pull reply carries ` +
      `on this transport (frame limit ${bound.maxPayload} bytes): its body may take at most ${maxBody} bytes, got ${p.body.length}`,
  ];
}
