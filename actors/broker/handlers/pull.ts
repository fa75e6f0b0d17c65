import type { Frame } from '../../../transports/frame.js';
import { parseTagExpression, type TagFilter } from '../../protocol/tag-expression.js';
import { isReadable } from '../../protocol/route.js';
import type { PullReplyHeader, PullStatus } from '../../protocol/commands.js';
import { encodeMessageExtBatch } from '../../../core/message-codec.js';
import { headerInt, headerString, okReply } from '../../protocol/replies.js';
import { Status, StatusError } from '../../../core/status.js';
import { validateGroup } from '../../protocol/validation.js';
import type { StoreGetResult } from '../store-port.js';
import { encodedLength } from '../../../transports/codec.js';
import type { BrokerContext, Reply } from './context.js';
import { errorFrame, fitsFrame, sendReply } from './reply.js';
import { DEFAULT_SLAVE_READ_LAG_BYTES, suggestBrokerId } from '../ha/read-suggestion.js';
import { RequestCode } from '../../protocol/request-codes.js';

/**
 * PULL_MESSAGE: reads a queue from an offset, filtered by tag (the tag hash, then the record's tag); with
 * nothing new, holds the pull (long polling) until data arrives or `suspendTimeoutMs` passes. A replicating
 * broker says in each reply which broker of its group the consumer should pull from next (`suggestWhichBrokerId`).
 */

export interface PullRequest {
  consumerGroup: string;
  topic: string;
  queueId: number;
  queueOffset: number;
  maxMsgNums: number;
  filter: TagFilter;
  suspendTimeoutMs: number;
  maxBytes: number;
}

export interface PullOutcome extends PullReplyHeader {
  result: StoreGetResult;
}

/**
 * Maps what the store found at `offset` to a pull status and the offset the consumer reads next. An offset past
 * the queue's end is corrected down to it, unless `holdOverflow`: a replica that may not hold (or not serve yet)
 * what the group holds, a slave or any broker under a controller, answers as if nothing were new there and keeps
 * the offset, as RocketMQ's slaves do: a consumer corrected down would read the messages again.
 */
export function pullOutcome(offset: number, res: StoreGetResult, holdOverflow = false): Omit<PullOutcome, 'result'> {
  const bounds = { minOffset: res.minOffset, maxOffset: res.maxOffset };
  let pullStatus: PullStatus;
  let next: number;
  if (offset < res.minOffset) {
    pullStatus = 'OFFSET_ILLEGAL';
    next = res.minOffset;
  } else if (offset > res.maxOffset && !holdOverflow) {
    pullStatus = 'OFFSET_ILLEGAL';
    next = res.maxOffset;
  } else if (offset >= res.maxOffset) {
    pullStatus = 'NO_NEW_MSG';
    next = offset;
  } else if ((res.count ?? res.messages.length) > 0) {
    pullStatus = 'FOUND';
    next = res.nextOffset;
  } else {
    pullStatus = 'NO_MATCHED_MSG';
    next = Math.max(res.nextOffset, offset);
  }
  return { pullStatus, nextBeginOffset: next, ...bounds };
}

export function parsePullRequest(ctx: BrokerContext, frame: Frame): PullRequest {
  const consumerGroup = headerString(frame, 'consumerGroup');
  validateGroup(consumerGroup);
  const topic = headerString(frame, 'topic');
  const queueId = headerInt(frame, 'queueId');
  const queueOffset = headerInt(frame, 'queueOffset');
  if (queueOffset < 0) throw new StatusError(Status.INVALID_ARGUMENT, `queueOffset must not be negative, got ${queueOffset}`);
  const maxMsgNums = Math.min(Math.max(1, headerInt(frame, 'maxMsgNums', 32)), ctx.limits.maxPullMsgs);
  const suspendTimeoutMs = Math.min(Math.max(0, headerInt(frame, 'suspendTimeoutMs', 0)), ctx.limits.maxSuspendMs);
  // Counted in record bytes: the reply adds a few lengths per message (and an id or store host of its own where
  // one differs from the batch's), so half the transport's frame limit leaves room even for the smallest messages.
  const byteCap = Math.min(ctx.limits.maxPullBytes, Math.floor(ctx.maxPayload() / 2));
  const maxBytes = Math.min(Math.max(1, headerInt(frame, 'maxBytes', byteCap)), byteCap);
  const sub = frame.header.subExpression;
  if (sub !== undefined && typeof sub !== 'string') throw new StatusError(Status.BAD_FRAME, 'header "subExpression" must be a string');
  let filter: TagFilter;
  try {
    filter = parseTagExpression(sub);
  } catch (err) {
    throw new StatusError(Status.SUBSCRIPTION_ILLEGAL, err instanceof Error ? err.message : String(err));
  }
  if (ctx.ha !== undefined && !ctx.ha.readable()) {
    throw new StatusError(Status.SERVICE_NOT_AVAILABLE, `broker ${ctx.address} serves no reads until its controller names its role and its log agrees with the master's`);
  }
  const config = ctx.topics.get(topic);
  if (!config) throw new StatusError(Status.TOPIC_NOT_EXIST, `topic "${topic}" does not exist on broker ${ctx.brokerName}`);
  if (!isReadable(config.perm)) throw new StatusError(Status.NO_PERMISSION, `topic "${topic}" is not readable on broker ${ctx.brokerName}`);
  if (queueId < 0 || queueId >= config.readQueueNums)
    throw new StatusError(Status.INVALID_ARGUMENT, `queue ${queueId} of topic "${topic}" does not exist (${config.readQueueNums} read queues)`);
  return { consumerGroup, topic, queueId, queueOffset, maxMsgNums, filter, suspendTimeoutMs, maxBytes };
}

/**
 * A pull at the end of its queue (most pulls at an ordinary load, each once before it is held and again when woken)
 * finds nothing new: answered from the queue's bounds without a read.
 */
function atEnd(ctx: BrokerContext, req: PullRequest): StoreGetResult | undefined {
  const maxOffset = ctx.store.maxOffset(req.topic, req.queueId);
  if (req.queueOffset !== maxOffset) return undefined;
  const minOffset = ctx.store.minOffset(req.topic, req.queueId);
  if (req.queueOffset < minOffset) return undefined;
  return { messages: [], count: 0, bodyBytes: 0, nextOffset: req.queueOffset, minOffset, maxOffset };
}

/** Runs a pull once against the store. */
export async function runPull(ctx: BrokerContext, req: PullRequest): Promise<PullOutcome> {
  const result = atEnd(ctx, req) ?? await ctx.store.getMessages({
    topic: req.topic,
    queueId: req.queueId,
    offset: req.queueOffset,
    maxCount: req.maxMsgNums,
    maxBytes: req.maxBytes,
    ...(req.filter.all ? {} : { filter: req.filter }),
  });
  const suggested = readSuggestion(ctx, result);
  return { ...pullOutcome(req.queueOffset, result, ctx.ha?.holdsOverflow() ?? false), ...(suggested !== undefined ? { suggestWhichBrokerId: suggested } : {}), result };
}

/** The broker of its group the consumer should pull from next (ha/read-suggestion.ts); undefined without replication. */
export function readSuggestion(ctx: BrokerContext, result: StoreGetResult): number | undefined {
  const repl = ctx.store.replication;
  if (ctx.ha === undefined || repl === undefined) return undefined;
  const master = ctx.ha.master;
  return suggestBrokerId({
    brokerId: ctx.brokerId,
    inSync: () => master?.inSync() ?? [],
    writeOffset: repl.positions().writeOffset,
    firstCommitLogOffset: result.firstCommitLogOffset,
    slaveReadLagBytes: ctx.limits.slaveReadLagBytes ?? DEFAULT_SLAVE_READ_LAG_BYTES,
  });
}

export function pullReply(frame: Frame, o: PullOutcome): Frame {
  const header: PullReplyHeader = { pullStatus: o.pullStatus, nextBeginOffset: o.nextBeginOffset, minOffset: o.minOffset, maxOffset: o.maxOffset };
  if (o.suggestWhichBrokerId !== undefined) header.suggestWhichBrokerId = o.suggestWhichBrokerId;
  const body = o.pullStatus !== 'FOUND' ? new Uint8Array(0) : o.result.encode ? o.result.encode() : encodeMessageExtBatch(o.result.messages);
  return okReply(frame, { ...header }, body);
}

/**
 * The reply to a pull, cut to fit the transport's frame limit: while the reply is too large and holds more
 * than one message, the pull runs again for half as many. One message that does not fit alone (stored before
 * the send path refused such messages, or under a larger limit) cannot be delivered on this transport:
 * MESSAGE_TOO_LARGE, and the broker says so in its log.
 */
export async function fitPull(ctx: BrokerContext, frame: Frame, req: PullRequest, first: PullOutcome): Promise<Frame> {
  let o = first;
  for (;;) {
    const f = pullReply(frame, o);
    const max = ctx.maxPayload();
    if (fitsFrame(f, max)) {
      if (o.pullStatus === 'FOUND') ctx.metrics.pulled(req.topic, o.result.count ?? o.result.messages.length, bodyBytesOf(o.result));
      return f;
    }
    const n = o.result.count ?? o.result.messages.length;
    if (n <= 1) {
      const what = `the first message of ${req.topic}#${req.queueId} from queue offset ${req.queueOffset} takes ${encodedLength(f)} bytes in a pull reply`;
      ctx.logger.warn({ topic: req.topic, queueId: req.queueId, queueOffset: req.queueOffset, maxPayload: max }, `${what}: it cannot be delivered on this transport`);
      throw new StatusError(Status.MESSAGE_TOO_LARGE, `${what}, more than the transport's frame limit of ${max} bytes: it cannot be delivered on this transport`);
    }
    o = await runPull(ctx, { ...req, maxMsgNums: Math.floor(n / 2) });
  }
}

/** The body bytes a read found (from the store's figure, else summed over its messages: stores that build them). */
function bodyBytesOf(r: StoreGetResult): number {
  if (r.bodyBytes !== undefined) return r.bodyBytes;
  let n = 0;
  for (const m of r.messages) n += m.body.length;
  return n;
}

export async function handlePull(ctx: BrokerContext, frame: Frame, reply: Reply): Promise<Frame | undefined> {
  const req = parsePullRequest(ctx, frame);
  const first = await runPull(ctx, req);
  if (first.pullStatus !== 'NO_NEW_MSG' || req.suspendTimeoutMs <= 0 || !reply) return fitPull(ctx, frame, req, first);
  const deadline = ctx.clock.now() + req.suspendTimeoutMs;
  // Answered later, outside the dispatcher: whatever the read or the reply does, it is answered or logged here.
  const answer = (hold: boolean): void => {
    const start = ctx.clock.monotonicMs();
    runPull(ctx, req)
      .then((o) => {
        const left = deadline - ctx.clock.now();
        if (hold && o.pullStatus === 'NO_NEW_MSG' && left > 0 && park(left)) return undefined;
        return fitPull(ctx, frame, req, o);
      })
      .catch((err: unknown) => errorFrame(ctx, frame, err))
      .then((out) => {
        // counted here, not in the dispatcher, which returned long ago; its latency runs from the wake-up (new
        // data, or time up) to the reply: the wait before was long polling, not service
        if (out !== undefined) ctx.metrics.answered(RequestCode.PULL_MESSAGE, sendReply(ctx, frame, reply, out), ctx.clock.monotonicMs() - start);
      })
      .catch((err: unknown) => ctx.logger.error({ err }, 'a held pull could not be answered'));
  };
  const park = (ms: number): boolean =>
    ctx.polling.hold(req.topic, req.queueId, req.queueOffset, ms, { wake: () => answer(true), timeout: () => answer(false) });
  // the queue may have grown while the store read: the notice is gone, so look again before holding
  if (ctx.store.maxOffset(req.topic, req.queueId) > req.queueOffset) {
    answer(false);
    return undefined;
  }
  return park(req.suspendTimeoutMs) ? undefined : pullReply(frame, first);
}
