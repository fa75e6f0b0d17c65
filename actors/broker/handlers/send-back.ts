import type { Frame } from '../../../transports/frame.js';
import { DEFAULT_MAX_RECONSUME_TIMES, dlqTopic, retryLevel, retryTopic, shouldDeadLetter } from '../../protocol/retry-delay.js';
import { MessageProperty, type MessageExt } from '../../../core/message.js';
import { headerInt, headerString, okReply } from '../../protocol/replies.js';
import { Status, StatusError } from '../../../core/status.js';
import { validateGroup } from '../../protocol/validation.js';
import type { StorePutMessage } from '../store-port.js';
import type { BrokerContext } from './context.js';
import { putBatch } from './send.js';

/**
 * CONSUMER_SEND_MSG_BACK: a message the consumer failed to process goes to the group's retry topic with a
 * delay for its level (through the schedule topic), or, past `maxReconsumeTimes`, to its dead-letter topic.
 */

export interface SendBackPlan {
  topic: string;
  /** 0: no delay (dead letter). */
  delayLevel: number;
  reconsumeTimes: number;
  deadLetter: boolean;
}

/** Where a failed message goes (RocketMQ's rules: level 0 means 3 + reconsumeTimes; a negative one, straight to the DLQ). */
export function planSendBack(group: string, reconsumeTimes: number, delayLevel: number, maxReconsumeTimes: number, maxLevel: number): SendBackPlan {
  const next = reconsumeTimes + 1;
  if (shouldDeadLetter(reconsumeTimes, maxReconsumeTimes) || delayLevel < 0) return { topic: dlqTopic(group), delayLevel: 0, reconsumeTimes: next, deadLetter: true };
  const level = Math.min(delayLevel === 0 ? retryLevel(reconsumeTimes) : delayLevel, maxLevel);
  return { topic: retryTopic(group), delayLevel: level, reconsumeTimes: next, deadLetter: false };
}

/** The message written back: same body, tags, keys and properties, plus where it came from. */
export function sendBackMessage(orig: MessageExt, plan: SendBackPlan, maxReconsumeTimes: number): StorePutMessage {
  const props: Record<string, string> = { ...(orig.properties ?? {}) };
  props[MessageProperty.RETRY_TOPIC] ??= orig.topic;
  props[MessageProperty.ORIGIN_MSG_ID] ??= orig.msgId;
  props[MessageProperty.RECONSUME_TIME] = String(plan.reconsumeTimes);
  props[MessageProperty.MAX_RECONSUME_TIMES] = String(maxReconsumeTimes);
  delete props[MessageProperty.DELAY];
  delete props[MessageProperty.REAL_TOPIC];
  delete props[MessageProperty.REAL_QID];
  if (plan.delayLevel > 0) props[MessageProperty.DELAY] = String(plan.delayLevel);
  const out: StorePutMessage = {
    topic: plan.topic,
    queueId: 0,
    body: orig.body,
    properties: props,
    bornTimestamp: orig.bornTimestamp,
    bornHost: orig.bornHost,
    reconsumeTimes: plan.reconsumeTimes,
  };
  if (orig.tags !== undefined) out.tags = orig.tags;
  if (orig.keys !== undefined && orig.keys.length > 0) out.keys = orig.keys;
  return out;
}

export async function handleSendBack(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const group = headerString(frame, 'consumerGroup');
  validateGroup(group);
  const msgId = headerString(frame, 'msgId');
  const delayLevel = headerInt(frame, 'delayLevel', 0);
  const maxReconsumeTimes = headerInt(frame, 'maxReconsumeTimes', DEFAULT_MAX_RECONSUME_TIMES);
  if (maxReconsumeTimes < 0) throw new StatusError(Status.INVALID_ARGUMENT, 'maxReconsumeTimes must not be negative');
  const orig = await ctx.store.lookupById(msgId);
  if (!orig) throw new StatusError(Status.QUERY_NOT_FOUND, `no message ${msgId} on broker ${ctx.brokerName}`);
  const plan = planSendBack(group, orig.reconsumeTimes, delayLevel, maxReconsumeTimes, ctx.limits.delayLevels.length);
  const { created } = ctx.topics.createSystem(plan.topic, 1, ctx.clock.now());
  if (created) await ctx.topicsChanged();
  const r = await putBatch(ctx, [sendBackMessage(orig, plan, maxReconsumeTimes)]);
  return okReply(frame, { msgId: r.results[0]!.msgId, topic: plan.topic, deadLetter: plan.deadLetter });
}
