import { MessageProperty, type MessageExt } from '../../protocol/message.js';
import { Status, StatusError } from '../../protocol/status.js';
import { TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC } from '../../protocol/validation.js';
import type { StorePutMessage } from '../store-port.js';

/**
 * Transactional messages, pure functions: a half message (TRAN_MSG=true) waits, invisible to consumers, in
 * queue 0 of TRANS_HALF_TOPIC with its real topic and queue in properties. Its outcome is an op record in
 * queue 0 of TRANS_OP_HALF_TOPIC (tag COMMIT or ROLLBACK, body the half message's queue offset in decimal);
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

/** A committed half message on its real topic and queue: TRAN_MSG and the half properties removed. */
export function fromHalf(m: MessageExt): StorePutMessage {
  const props = { ...(m.properties ?? {}) };
  const topic = props[MessageProperty.REAL_TOPIC];
  const qid = Number(props[MessageProperty.REAL_QID]);
  if (topic === undefined || !Number.isInteger(qid) || qid < 0) throw new StatusError(Status.MESSAGE_ILLEGAL, `half message ${m.msgId} has no real topic or queue`);
  delete props[MessageProperty.REAL_TOPIC];
  delete props[MessageProperty.REAL_QID];
  delete props[MessageProperty.TRAN_MSG];
  delete props[MessageProperty.CHECK_TIMES];
  const out: StorePutMessage = { topic, queueId: qid, body: m.body, properties: props, bornTimestamp: m.bornTimestamp, bornHost: m.bornHost, reconsumeTimes: m.reconsumeTimes };
  if (m.tags !== undefined) out.tags = m.tags;
  if (m.keys !== undefined && m.keys.length > 0) out.keys = m.keys;
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The op record of a half message's outcome. */
export function opMessage(halfOffset: number, outcome: TxOutcome, now: number, host: string): StorePutMessage {
  return { topic: TRANS_OP_HALF_TOPIC, queueId: OP_QUEUE, body: encoder.encode(String(halfOffset)), tags: outcome, bornTimestamp: now, bornHost: host };
}

/** The half message offset and outcome an op record names; undefined for a malformed record. */
export function parseOp(m: { tags?: string; body: Uint8Array }): { halfOffset: number; outcome: TxOutcome } | undefined {
  if (m.tags !== 'COMMIT' && m.tags !== 'ROLLBACK') return undefined;
  const text = decoder.decode(m.body);
  if (!/^\d{1,16}$/.test(text)) return undefined;
  const halfOffset = Number(text);
  return Number.isSafeInteger(halfOffset) ? { halfOffset, outcome: m.tags } : undefined;
}
