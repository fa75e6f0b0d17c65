import type { Frame } from '../../../transports/frame.js';
import { encodeMessageExtBatch } from '../../../core/message-codec.js';
import { headerInt, headerString, okReply } from '../../protocol/replies.js';
import { Status, StatusError } from '../../../core/status.js';
import type { BrokerContext } from './context.js';

/** VIEW_MESSAGE_BY_ID and QUERY_MESSAGE (by key): reply body a MessageExt batch. */

export async function handleViewById(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const msgId = headerString(frame, 'msgId');
  const m = await ctx.store.lookupById(msgId);
  if (!m) throw new StatusError(Status.QUERY_NOT_FOUND, `no message ${msgId} on broker ${ctx.brokerName}`);
  return okReply(frame, {}, encodeMessageExtBatch([m]));
}

export async function handleQueryByKey(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const topic = headerString(frame, 'topic');
  const key = headerString(frame, 'key');
  const maxNum = Math.min(Math.max(1, headerInt(frame, 'maxNum', ctx.limits.maxQueryNum)), ctx.limits.maxQueryNum);
  const found = await ctx.store.lookupByKey(topic, key, maxNum);
  if (found.length === 0) throw new StatusError(Status.QUERY_NOT_FOUND, `no message with key "${key}" in topic "${topic}" on broker ${ctx.brokerName}`);
  return okReply(frame, {}, encodeMessageExtBatch(found.slice(0, maxNum)));
}
