import { MessageProperty, type MessageExt } from '../../../core/message.js';
import { Status, StatusError } from '../../../core/status.js';
import type { StorePutMessage } from '../store-port.js';

/**
 * Timer messages (delivery at any timestamp, as RocketMQ 5's timer messages), pure functions: a message with
 * a DELIVER_AT property in the future waits, invisible to consumers, in queue 0 of the system topic
 * TIMER_TOPIC with its real topic and queue in properties; at its time the timer scheduler writes it back.
 */

export const TIMER_TOPIC = 'RMQ_SYS_TIMER';
export const TIMER_QUEUE = 0;

/** The DELIVER_AT time of a message about to be stored (undefined: none or not a number). */
export function deliverAtOf(p: { properties?: Record<string, string> }): number | undefined {
  const v = p.properties?.[MessageProperty.DELIVER_AT];
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * What to store for a message with a DELIVER_AT time: the timer topic when the time lies ahead, the message
 * itself (without DELIVER_AT) when it has come; MESSAGE_ILLEGAL past `now + horizonMs`.
 */
export function toTimer(p: StorePutMessage, now: number, horizonMs: number): StorePutMessage {
  const raw = p.properties?.[MessageProperty.DELIVER_AT];
  const at = deliverAtOf(p);
  if (at === undefined) throw new StatusError(Status.MESSAGE_ILLEGAL, `deliverAt must be a non-negative integer (ms since epoch), got "${String(raw)}"`);
  if (p.properties?.[MessageProperty.DELAY] !== undefined) throw new StatusError(Status.MESSAGE_ILLEGAL, 'a message may have a delay level or a deliverAt time, not both');
  if (at > now + horizonMs)
    throw new StatusError(Status.MESSAGE_ILLEGAL, `deliverAt ${at} is ${at - now} ms ahead; at most ${horizonMs} ms (the broker's timerHorizonMs) allowed`);
  if (at <= now) {
    const props = { ...(p.properties ?? {}) };
    delete props[MessageProperty.DELIVER_AT];
    return { ...p, properties: props };
  }
  return {
    ...p,
    topic: TIMER_TOPIC,
    queueId: TIMER_QUEUE,
    properties: { ...(p.properties ?? {}), [MessageProperty.REAL_TOPIC]: p.topic, [MessageProperty.REAL_QID]: String(p.queueId) },
  };
}

/** A timer message whose time has come, back to its real topic and queue (without the timer properties). */
export function fromTimer(m: MessageExt): StorePutMessage {
  const props = { ...(m.properties ?? {}) };
  const topic = props[MessageProperty.REAL_TOPIC];
  const qid = Number(props[MessageProperty.REAL_QID]);
  if (topic === undefined || !Number.isInteger(qid) || qid < 0) throw new StatusError(Status.MESSAGE_ILLEGAL, `timer message ${m.msgId} has no real topic or queue`);
  delete props[MessageProperty.REAL_TOPIC];
  delete props[MessageProperty.REAL_QID];
  delete props[MessageProperty.DELIVER_AT];
  const out: StorePutMessage = { topic, queueId: qid, body: m.body, properties: props, bornTimestamp: m.bornTimestamp, bornHost: m.bornHost, reconsumeTimes: m.reconsumeTimes };
  if (m.tags !== undefined) out.tags = m.tags;
  if (m.keys !== undefined && m.keys.length > 0) out.keys = m.keys;
  return out;
}
