import type { Frame } from '../../../transports/frame.js';
import { FrameKind } from '../../../transports/frame.js';
import { RequestCode, requestCodeName } from '../../protocol/request-codes.js';
import { Status, StatusError } from '../../../core/status.js';
import { handleBrokerStatus, handleCreateTopic, handleDeleteTopic, handleListTopics } from './admin.js';
import { handleConsumerList, handleHeartbeat, handleUnregisterClient } from './clients.js';
import type { BrokerContext, Handler, Reply } from './context.js';
import {
  handleConsumerProgress,
  handleGetMaxOffset,
  handleGetMinOffset,
  handleQueryConsumerOffset,
  handleSearchOffsetByTime,
  handleUpdateConsumerOffset,
} from './offsets.js';
import { handlePull } from './pull.js';
import { handleQueryByKey, handleViewById } from './query.js';
import { errorFrame, sendReply } from './reply.js';
import { handleSend, handleSendMany } from './send.js';
import { handleSendBack } from './send-back.js';
import { handleLockBatch, handleUnlockBatch } from './locks.js';
import { handleEndTransaction } from '../transaction/end-transaction.js';
import { handleHaEpochs, handleHaPull, handleHaReadTail, handleHaStatus, handleHaSyncConfig } from './ha.js';
import { UNKNOWN_REQUEST_CODE } from '../broker-metrics.js';

/** Request code -> handler: every request the broker serves. */
export const BROKER_HANDLERS: ReadonlyMap<number, Handler> = new Map<number, Handler>([
  [RequestCode.SEND_MESSAGE, handleSend],
  [RequestCode.SEND_BATCH_MESSAGE, handleSend],
  [RequestCode.SEND_MANY, handleSendMany],
  [RequestCode.PULL_MESSAGE, handlePull],
  [RequestCode.QUERY_CONSUMER_OFFSET, handleQueryConsumerOffset],
  [RequestCode.UPDATE_CONSUMER_OFFSET, handleUpdateConsumerOffset],
  [RequestCode.GET_MAX_OFFSET, handleGetMaxOffset],
  [RequestCode.GET_MIN_OFFSET, handleGetMinOffset],
  [RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, handleSearchOffsetByTime],
  [RequestCode.GET_CONSUMER_STATS_FROM_SERVER, handleConsumerProgress],
  [RequestCode.HEART_BEAT, handleHeartbeat],
  [RequestCode.UNREGISTER_CLIENT, handleUnregisterClient],
  [RequestCode.GET_CONSUMER_LIST_BY_GROUP, handleConsumerList],
  [RequestCode.VIEW_MESSAGE_BY_ID, handleViewById],
  [RequestCode.QUERY_MESSAGE, handleQueryByKey],
  [RequestCode.UPDATE_AND_CREATE_TOPIC, handleCreateTopic],
  [RequestCode.GET_ALL_TOPIC_CONFIG, handleListTopics],
  [RequestCode.DELETE_TOPIC_IN_BROKER, handleDeleteTopic],
  [RequestCode.GET_BROKER_RUNTIME_INFO, handleBrokerStatus],
  [RequestCode.CONSUMER_SEND_MSG_BACK, handleSendBack],
  [RequestCode.END_TRANSACTION, handleEndTransaction],
  [RequestCode.LOCK_BATCH_MQ, handleLockBatch],
  [RequestCode.UNLOCK_BATCH_MQ, handleUnlockBatch],
  [RequestCode.HA_PULL, handleHaPull],
  [RequestCode.HA_SYNC_CONFIG, handleHaSyncConfig],
  [RequestCode.GET_BROKER_HA_STATUS, handleHaStatus],
  [RequestCode.HA_GET_EPOCHS, handleHaEpochs],
  [RequestCode.HA_READ_TAIL, handleHaReadTail],
]);

/**
 * Serves one frame: checks it against the ACL when the broker has one (a refusal is NO_PERMISSION naming what
 * is missing), runs its handler and sends the reply (or the error: a StatusError keeps its status,
 * anything else is SYSTEM_ERROR and is logged) through sendReply, which logs a reply that cannot be sent.
 * Counts the request in the broker's metrics with the status it was answered and the time from arrival to
 * reply (a pull answered later, after being held, is counted by the pull handler when it answers). Never throws, never rejects.
 */
export async function dispatchFrame(ctx: BrokerContext, frame: Frame, reply: Reply): Promise<void> {
  const handler = BROKER_HANDLERS.get(frame.code);
  if (frame.kind !== FrameKind.Request && frame.kind !== FrameKind.OneWay) return;
  const start = ctx.clock.monotonicMs();
  let out: Frame | undefined;
  try {
    if (ctx.acl !== undefined) {
      const verdict = ctx.acl.check(frame);
      if (!verdict.ok) {
        ctx.logger.info({ code: requestCodeName(frame.code), status: verdict.status, reason: verdict.message }, 'request refused by the ACL');
        throw new StatusError(verdict.status, verdict.message);
      }
    }
    if (!handler) throw new StatusError(Status.REQUEST_CODE_NOT_SUPPORTED, `broker ${ctx.brokerName} does not serve ${requestCodeName(frame.code)}`);
    out = await handler(ctx, frame, reply);
  } catch (err) {
    out = errorFrame(ctx, frame, err);
  }
  const code = handler === undefined ? UNKNOWN_REQUEST_CODE : frame.code;
  if (reply === undefined) {
    // one-way: nothing is sent back; counted with the status its handler came to
    ctx.metrics.answered(code, out?.status ?? Status.OK);
    return;
  }
  // undefined: the handler answers later through `reply` (a held pull) and counts it then
  if (out === undefined) return;
  const status = sendReply(ctx, frame, reply, out);
  ctx.metrics.answered(code, status, ctx.clock.monotonicMs() - start);
}
