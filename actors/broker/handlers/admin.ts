import type { Frame } from '../../../transports/frame.js';
import type { BrokerStatus, TopicConfigsBody } from '../../protocol/commands.js';
import { headerString, jsonBody, okReply, parseJsonBody } from '../../protocol/replies.js';
import { Status, StatusError } from '../../../core/status.js';
import { validateTopicConfig } from '../topic-config.js';
import { checkDeletableTopic } from '../../protocol/validation.js';
import type { BrokerContext } from './context.js';

/** Topic administration (create or update, list, delete) and the broker's status. */

export async function handleCreateTopic(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const cfg = validateTopicConfig(parseJsonBody(frame));
  if (ctx.topics.upsert(cfg, ctx.clock.now())) await ctx.topicsChanged();
  return okReply(frame);
}

export async function handleListTopics(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const body: TopicConfigsBody = { topics: ctx.topics.list() };
  return okReply(frame, {}, jsonBody(body));
}

export async function handleDeleteTopic(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const topic = headerString(frame, 'topic');
  checkDeletableTopic(topic);
  if (!ctx.topics.delete(topic, ctx.clock.now())) throw new StatusError(Status.TOPIC_NOT_EXIST, `topic "${topic}" does not exist on broker ${ctx.brokerName}`);
  ctx.offsets.deleteTopic(topic);
  await ctx.topicsChanged();
  return okReply(frame);
}

export async function handleBrokerStatus(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const body: BrokerStatus = { brokerName: ctx.brokerName, brokerId: ctx.brokerId, cluster: ctx.cluster, address: ctx.address, store: ctx.store.status() };
  return okReply(frame, {}, jsonBody(body));
}
