import type { Frame } from '../../../transports/frame.js';
import type { ConsumerProgressBody, UpdateOffsetsBody } from '../../protocol/commands.js';
import { headerInt, headerString, jsonBody, okReply, parseJsonBody } from '../../protocol/replies.js';
import { Status, StatusError } from '../../../core/status.js';
import { validateGroup } from '../../protocol/validation.js';
import { retryTopic } from '../../protocol/retry-delay.js';
import type { BrokerContext } from './context.js';

/** Consumer offsets (query, commit), queue bounds (min, max, by time) and consumer progress. */

function queueOf(ctx: BrokerContext, frame: Frame): { topic: string; queueId: number } {
  const topic = headerString(frame, 'topic');
  const queueId = headerInt(frame, 'queueId');
  if (!ctx.topics.get(topic)) throw new StatusError(Status.TOPIC_NOT_EXIST, `topic "${topic}" does not exist on broker ${ctx.brokerName}`);
  if (queueId < 0) throw new StatusError(Status.INVALID_ARGUMENT, `queueId must not be negative, got ${queueId}`);
  return { topic, queueId };
}

export async function handleQueryConsumerOffset(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const group = headerString(frame, 'consumerGroup');
  const topic = headerString(frame, 'topic');
  const queueId = headerInt(frame, 'queueId');
  const offset = ctx.offsets.query(group, topic, queueId);
  if (offset === undefined) throw new StatusError(Status.QUERY_NOT_FOUND, `no offset of group ${group} on ${topic}/${queueId}`);
  return okReply(frame, { offset });
}

export async function handleUpdateConsumerOffset(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const group = headerString(frame, 'consumerGroup');
  validateGroup(group);
  const body = parseJsonBody<UpdateOffsetsBody>(frame);
  if (body === null || typeof body !== 'object' || !Array.isArray(body.offsets)) throw new StatusError(Status.BAD_FRAME, 'body must be { offsets: [...] }');
  ctx.offsets.commit(group, body.offsets);
  return okReply(frame);
}

export async function handleGetMaxOffset(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const q = queueOf(ctx, frame);
  return okReply(frame, { offset: ctx.store.maxOffset(q.topic, q.queueId) });
}

export async function handleGetMinOffset(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const q = queueOf(ctx, frame);
  return okReply(frame, { offset: ctx.store.minOffset(q.topic, q.queueId) });
}

export async function handleSearchOffsetByTime(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const q = queueOf(ctx, frame);
  const timestamp = headerInt(frame, 'timestamp');
  return okReply(frame, { offset: await ctx.store.offsetByTime(q.topic, q.queueId, timestamp) });
}

/** Topics a group consumes here: those it has offsets on, those it subscribes to, and its retry topic. */
export function topicsOfGroup(ctx: BrokerContext, group: string): string[] {
  const topics = new Set<string>(ctx.offsets.ofGroup(group).map((e) => e.topic));
  for (const t of Object.keys(ctx.clients.consumerGroup(group)?.subscriptions ?? {})) topics.add(t);
  topics.add(retryTopic(group));
  return [...topics].filter((t) => ctx.topics.get(t) !== undefined).sort();
}

/**
 * A group's progress on every queue of the topics it consumes here: the queue's max offset, the group's
 * committed offset (0 when none) and the lag between them. GET_CONSUMER_STATS_FROM_SERVER answers it; the
 * broker's metrics read it too.
 */
export function groupProgress(ctx: BrokerContext, group: string): ConsumerProgressBody['queues'] {
  const queues: ConsumerProgressBody['queues'] = [];
  for (const topic of topicsOfGroup(ctx, group)) {
    const cfg = ctx.topics.get(topic)!;
    for (let queueId = 0; queueId < cfg.readQueueNums; queueId++) {
      const brokerOffset = ctx.store.maxOffset(topic, queueId);
      const committed = ctx.offsets.query(group, topic, queueId);
      const consumerOffset = committed ?? 0;
      queues.push({ topic, brokerName: ctx.brokerName, queueId, brokerOffset, consumerOffset, lag: Math.max(0, brokerOffset - consumerOffset) });
    }
  }
  return queues;
}

export async function handleConsumerProgress(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const group = headerString(frame, 'consumerGroup');
  const body: ConsumerProgressBody = { queues: groupProgress(ctx, group) };
  return okReply(frame, {}, jsonBody(body));
}
