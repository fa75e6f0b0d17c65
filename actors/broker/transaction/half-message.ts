import { MessageProperty, type MessageExt } from '../../../core/message.js';
import { Status, StatusError } from '../../../core/status.js';
import { TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC } from '../../protocol/validation.js';
import type { StorePutMessage } from '../store-port.js';

/**
 * Transactional messages, pure functions: a half message (TRAN_MSG=true) waits, invisible to consumers, in
 * queue 0 of TRANS_HALF_TOPIC with its real topic and queue in properties. Its outcome is an op record in
 * queue 0 of TRANS_OP_HALF_TOPIC (tag COMMIT or ROLLBACK, body the queue offsets of the half messages it
 * settles, in decimal, comma-separated: one record per group of outcomes written together);
 * a commit also writes the message to its real topic, in the same store batch as the op record.
 */

export const HALF_QUEUE = 0;
export const OP_QUEUE = 0;
export type TxOutcome = 'COMMIT' | 'ROLLBACK';

/** Whether a message about to be stored is a half message. */
export function isHalf(p: { properties?: Record<string, string> }): boolean {
  return p.properties?.[MessageProperty.TRAN_MSG] === 'true';
}

/** The half message stored for a transactional send. MESSAGE_ILLEGAL without a producer group, or with a delay. */
export function toHalf(p: StorePutMessage): StorePutMessage {
  const props = p.properties ?? {};
  const group = props[MessageProperty.PRODUCER_GROUP];
  if (group === undefined || group === '') throw new StatusError(Status.MESSAGE_ILLEGAL, 'a transactional message must carry its producer group (PGROUP)');
  if (props[MessageProperty.DELAY] !== undefined || props[MessageProperty.DELIVER_AT] !== undefined)
    throw new StatusError(Status.MESSAGE_ILLEGAL, 'a transactional message may not be delayed');
  return {
    ...p,
    topic: TRANS_HALF_TOPIC,
    queueId: HALF_QUEUE,
    properties: { ...props, [MessageProperty.REAL_TOPIC]: p.topic, [MessageProperty.REAL_QID]: String(p.queueId) },
  };
}

/** The half message as its producer sent it (real topic and queue), for a check-back. */
export function halfView(m: MessageExt): MessageExt {
  const props = { ...(m.properties ?? {}) };
  const topic = props[MessageProperty.REAL_TOPIC];
  const qid = Number(props[MessageProperty.REAL_QID]);
  delete props[MessageProperty.REAL_TOPIC];
  delete props[MessageProperty.REAL_QID];
  return { ...m, topic: topic ?? m.topic, queueId: Number.isInteger(qid) ? qid : m.queueId, properties: props };
}

const HALF_ONLY: ReadonlySet<string> = new Set([MessageProperty.REAL_TOPIC, MessageProperty.REAL_QID, MessageProperty.TRAN_MSG, MessageProperty.CHECK_TIMES]);

/** What a commit reads of a half message: as stored and read back, or as handed to the store. */
export interface HalfSource {
  body: Uint8Array;
  bornTimestamp: number;
  bornHost: string;
  msgId?: string;
  properties?: Record<string, string>;
  tags?: string;
  keys?: readonly string[];
  reconsumeTimes?: number;
}

/**
 * A committed half message on its real topic and queue: TRAN_MSG and the half properties removed. From the
 * half message as read back or as it was handed to the store, the store writes the same record: a read-back
 * message has its tags and keys in its properties too, after the others, where the store puts them.
 */
export function fromHalf(m: HalfSource): StorePutMessage {
  const src = m.properties;
  const topic = src?.[MessageProperty.REAL_TOPIC];
  const qid = Number(src?.[MessageProperty.REAL_QID]);
  if (src === undefined || topic === undefined || !Number.isInteger(qid) || qid < 0) throw new StatusError(Status.MESSAGE_ILLEGAL, `half message ${m.msgId ?? ''} has no real topic or queue`);
  // one pass, no copy-then-delete (delete turns the object into a slow dictionary)
  const props: Record<string, string> = {};
  for (const k in src) {
    if (HALF_ONLY.has(k) || !Object.prototype.hasOwnProperty.call(src, k)) continue;
    if (k === '__proto__') Object.defineProperty(props, k, { value: src[k], enumerable: true, writable: true, configurable: true });
    else props[k] = src[k]!;
  }
  const out: StorePutMessage = { topic, queueId: qid, body: m.body, properties: props, bornTimestamp: m.bornTimestamp, bornHost: m.bornHost, reconsumeTimes: m.reconsumeTimes ?? 0 };
  if (m.tags !== undefined) out.tags = m.tags;
  if (m.keys !== undefined && m.keys.length > 0) out.keys = m.keys;
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const OFFSET = /^\d{1,16}$/;

/**
 * The op record of the outcome of one or more half messages: tag COMMIT or ROLLBACK, body their half offsets
 * in decimal, separated by commas (one offset is the record's original form). Throws for an empty list.
 */
export function opMessage(halfOffsets: number | readonly number[], outcome: TxOutcome, now: number, host: string): StorePutMessage {
  const list = typeof halfOffsets === 'number' ? String(halfOffsets) : halfOffsets.join(',');
  if (list === '') throw new StatusError(Status.INVALID_ARGUMENT, 'an op record names at least one half offset');
  return { topic: TRANS_OP_HALF_TOPIC, queueId: OP_QUEUE, body: encoder.encode(list), tags: outcome, bornTimestamp: now, bornHost: host };
}

/** The half message offsets and outcome an op record names (one or more); undefined for a malformed record. */
export function parseOp(m: { tags?: string; body: Uint8Array }): { halfOffsets: number[]; outcome: TxOutcome } | undefined {
  if (m.tags !== 'COMMIT' && m.tags !== 'ROLLBACK') return undefined;
  const parts = decoder.decode(m.body).split(',');
  const halfOffsets: number[] = new Array<number>(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const text = parts[i]!;
    if (!OFFSET.test(text)) return undefined;
    const o = Number(text);
    if (!Number.isSafeInteger(o)) return undefined;
    halfOffsets[i] = o;
  }
  return { halfOffsets, outcome: m.tags };
}
