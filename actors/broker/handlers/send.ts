import type { Frame } from '../../../transports/frame.js';
import { isWritable, type TopicConfig } from '../../protocol/route.js';
import type { Message } from '../../../core/message.js';
import { MessageCodecError, decodeMessageBatch } from '../../../core/message-codec.js';
import { headerInt, headerString, okReply } from '../../protocol/replies.js';
import { encodeSendReply, type SendReplyInput, type SendReplyItem } from '../../protocol/send-reply.js';
import { requestUniqRun, sharedUniqKeys, uniqRunProblem, UniqKeyBatch } from '../../protocol/uniq-keys.js';
import { decodeSendMany, encodeSendManyReply, type SendPartReply } from '../../protocol/send-many.js';
import { Status, StatusError } from '../../../core/status.js';
import { RETRY_TOPIC_PREFIX, SCHEDULE_TOPIC, TRANS_HALF_TOPIC, topicProblem } from '../../protocol/validation.js';
import { CLIENT_PROPERTIES, clientMessageProblem, delayLevelOf, storedWithWarning, toPutMessage, toScheduled, undeliverableProblem, uniqKeyOf, type BrokerPutMessage } from '../put-message.js';
import type { StorePutMessage, StorePutResult } from '../store-port.js';
import type { BrokerContext } from './context.js';
import { recordBound } from './reply.js';
import { rewriteForStore } from '../rewrite-put.js';

/**
 * SEND_MESSAGE / SEND_BATCH_MESSAGE: one queue, a batch of messages, one store call; SEND_MANY: batches for
 * several queues, one store call. Unknown topics are auto-created when the broker allows it; delayed messages go
 * to the schedule topic.
 */

/** The topic's config for writing: created when allowed, TOPIC_NOT_EXIST or NO_PERMISSION otherwise. */
export async function topicForWrite(ctx: BrokerContext, topic: string): Promise<TopicConfig> {
  const { config, created } = ctx.topics.ensureForSend(topic, ctx.clock.now(), ctx.limits.delayLevels.length);
  if (created) await ctx.topicsChanged();
  if (!isWritable(config.perm)) throw new StatusError(Status.NO_PERMISSION, `topic "${topic}" is not writable on broker ${ctx.brokerName}`);
  return config;
}

/** Puts a batch (delayed messages rewritten into the schedule topic); a store refusal becomes a StatusError. */
export async function putBatch(ctx: BrokerContext, batch: StorePutMessage[]): Promise<StorePutResult> {
  const maxLevel = ctx.limits.delayLevels.length;
  let scheduled = false;
  const now = ctx.clock.now();
  let plain = true;
  for (let i = 0; i < batch.length; i++) {
    if (batch[i]!.properties !== undefined) {
      plain = false;
      break;
    }
  }
  // no message with properties: no half message, timer or delay level, so the batch goes to the store as is
  if (plain) return storePut(ctx, batch);
  let halves: number[] | undefined;
  const out = batch.map((p, i) => {
    const special = rewriteForStore(p, now, ctx.limits.timerHorizonMs); // half messages and deliverAt timers
    if (special.topic === TRANS_HALF_TOPIC) (halves ??= []).push(i);
    if (special !== p) return special;
    const level = p.topic === SCHEDULE_TOPIC ? 0 : delayLevelOf(p);
    if (level === 0) return p;
    scheduled = true;
    return toScheduled(p, level, maxLevel);
  });
  if (scheduled) await topicForWrite(ctx, SCHEDULE_TOPIC);
  const r = await storePut(ctx, out);
  const tx = ctx.timerTx?.transactions;
  if (halves !== undefined && tx !== undefined) {
    // kept for their commit, which then needs no read
    const results = r.results;
    tx.stored(halves.map((i) => ({ put: out[i]!, queueOffset: results[i]!.queueOffset, msgId: results[i]!.msgId })));
  }
  return r;
}

async function storePut(ctx: BrokerContext, out: StorePutMessage[]): Promise<StorePutResult> {
  const r = await ctx.store.putMessages(out);
  if (r.status !== Status.OK && !storedWithWarning(r.status)) throw new StatusError(r.status, r.message ?? 'the store refused the batch');
  const n = r.count ?? r.results.length;
  if (n !== out.length) throw new StatusError(Status.STORE_FAILED, `the store answered ${n} results for ${out.length} messages`);
  return r;
}

function decodeBatch(body: Uint8Array): Message[] {
  try {
    // bodies stay views into the request body: the store copies them into its records at once
    return decodeMessageBatch(body);
  } catch (err) {
    if (err instanceof MessageCodecError) throw new StatusError(Status.BAD_FRAME, `message batch: ${err.message}`);
    throw err;
  }
}

/** A message that took a numbered key (toPutMessage's plain path), not one of its own. */
const numbered = (p: BrokerPutMessage): boolean => p.uniqPrefix !== undefined && p.properties === undefined;

/** A batch for one queue checked and made ready for the store (prepareBatch). */
interface PreparedBatch {
  topic: string;
  batch: BrokerPutMessage[];
  /** Body bytes. */
  total: number;
  /** The broker's own unique keys, when the request carried none (the reply then carries them). */
  ownKeys: UniqKeyBatch | undefined;
}

/** What a send request says about where its messages come from. */
interface Born {
  bornHost: string;
  bornTimestamp: number;
}

function bornOf(ctx: BrokerContext, frame: Frame): Born {
  headerString(frame, 'producerGroup');
  return { bornTimestamp: headerInt(frame, 'bornTimestamp', ctx.clock.now()), bornHost: typeof frame.header.bornHost === 'string' ? frame.header.bornHost : '' };
}

export async function handleSend(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const topic = headerString(frame, 'topic');
  const born = bornOf(ctx, frame);
  const queueId = headerInt(frame, 'queueId');
  // the producer's unique keys for the batch (BAD_FRAME when malformed); a request without them gets the broker's
  const p = await prepareBatch(ctx, topic, queueId, frame.body, born, (count) => requestUniqRun(frame.header, count));
  const r = await putBatch(ctx, p.batch);
  ctx.metrics.stored(topic, p.batch.length, p.total);
  // the producer knows the keys it sent: the reply carries none (a key of its own a message had, it knows too)
  return withEpoch(withStoreStatus(okReply(frame, {}, sendReplyBytes(r, 0, p.batch, p.ownKeys)), r), ctx.ha?.registrationEpoch());
}

/**
 * SEND_MANY (send-many.ts): each part is checked as SEND_BATCH_MESSAGE checks its batch, and fails alone; the
 * parts that pass go to the store in one put, and share its outcome.
 */
export async function handleSendMany(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const born = bornOf(ctx, frame);
  const parts = decodeSendMany(frame.body);
  const replies: SendPartReply[] = new Array<SendPartReply>(parts.length);
  const ready: { at: number; p: PreparedBatch }[] = [];
  for (let k = 0; k < parts.length; k++) {
    const part = parts[k]!;
    try {
      const p = await prepareBatch(ctx, part.topic, part.queueId, part.batch, born, (count) => {
        const problem = uniqRunProblem(part.uniqPrefix, part.uniqFirst, count);
        if (problem !== undefined) throw new StatusError(Status.BAD_FRAME, problem);
        return new UniqKeyBatch(part.uniqPrefix, part.uniqFirst, count);
      });
      ready.push({ at: k, p });
    } catch (err) {
      replies[k] = failedPart(err);
    }
  }
  if (ready.length > 0) {
    const all = ready.length === 1 ? ready[0]!.p.batch : ready.flatMap((x) => x.p.batch);
    let r: StorePutResult | undefined;
    try {
      r = await putBatch(ctx, all);
    } catch (err) {
      const failed = failedPart(err);
      for (const x of ready) replies[x.at] = failed;
    }
    if (r !== undefined) {
      let from = 0;
      for (const { at, p } of ready) {
        ctx.metrics.stored(p.topic, p.batch.length, p.total);
        replies[at] = { status: r.status, body: sendReplyBytes(r, from, p.batch, p.ownKeys) };
        from += p.batch.length;
      }
    }
  }
  return withEpoch(okReply(frame, {}, encodeSendManyReply(replies)), ctx.ha?.registrationEpoch());
}

const utf8 = new TextEncoder();

/** A part's failure as its reply: a StatusError's status and message; anything else is the broker's fault, thrown. */
function failedPart(err: unknown): SendPartReply {
  if (!(err instanceof StatusError)) throw err;
  return { status: err.status, body: utf8.encode(err.message) };
}

/**
 * Checks one queue's batch as a send request carries it (`body`, encodeMessageBatch) and makes its store
 * messages; `run(count)` gives the request's unique keys for it (undefined: the broker makes them).
 * StatusError when the topic, a message or the batch is refused.
 */
async function prepareBatch(ctx: BrokerContext, topic: string, queueId: number, body: Uint8Array, born: Born, run: (count: number) => UniqKeyBatch | undefined): Promise<PreparedBatch> {
  const allowSystem = topic.startsWith(RETRY_TOPIC_PREFIX);
  const tp = topicProblem(topic, { allowSystem });
  if (tp) throw new StatusError(Status.MESSAGE_ILLEGAL, tp);
  const msgs = decodeBatch(body);
  if (msgs.length === 0) throw new StatusError(Status.MESSAGE_ILLEGAL, 'a batch must hold at least one message');
  const given = run(msgs.length);
  const rules = { allowSystem, maxBodyBytes: ctx.limits.maxBodyBytes, maxDelayLevel: ctx.limits.delayLevels.length, clientProperties: CLIENT_PROPERTIES };
  let total = 0;
  // The topic is checked once per batch (above); a tag once per run of messages carrying it. A plain message
  // (no keys, properties, delay, deliverAt or sharding key) then needs only its body length checked here.
  let okTags: string | undefined;
  const maxBody = rules.maxBodyBytes;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!;
    if (m.topic !== topic) throw new StatusError(Status.MESSAGE_ILLEGAL, `message ${i}: topic "${m.topic}" differs from the request's "${topic}"`);
    const n = m.body.length;
    if (
      m.keys === undefined &&
      m.properties === undefined &&
      m.delayLevel === undefined &&
      m.deliverAt === undefined &&
      m.shardingKey === undefined &&
      (m.tags === undefined || m.tags === okTags) &&
      n > 0 &&
      n <= maxBody
    ) {
      total += n;
      continue;
    }
    const p = clientMessageProblem(m, rules);
    if (p) throw new StatusError(p[0], `message ${i}: ${p[1]}`);
    if (m.tags !== undefined) okTags = m.tags;
    total += n;
  }
  if (total > ctx.limits.maxBatchBytes) throw new StatusError(Status.MESSAGE_TOO_LARGE, `batch bodies take ${total} bytes, at most ${ctx.limits.maxBatchBytes} allowed`);
  const config = await topicForWrite(ctx, topic);
  if (!Number.isInteger(queueId) || queueId < 0 || queueId >= config.writeQueueNums)
    throw new StatusError(Status.INVALID_ARGUMENT, `queue ${queueId} of topic "${topic}" does not exist (${config.writeQueueNums} write queues)`);
  const keys = given ?? sharedUniqKeys(ctx.random).take(msgs.length);
  const where = { queueId, bornHost: born.bornHost, bornTimestamp: born.bornTimestamp };
  const batch = msgs.map((m, i) => toPutMessage(m, where, keys, i));
  // what is acknowledged must be deliverable: its record, after any later rewrite, fits a pull reply
  const bound = recordBound(ctx);
  for (let i = 0; i < batch.length; i++) {
    const p = undeliverableProblem(batch[i]!, bound);
    if (p) throw new StatusError(p[0], `message ${i}: ${p[1]}`);
  }
  return { topic, batch, total, ownKeys: given === undefined ? keys : undefined };
}

/**
 * Under a controller the reply names the master epoch the write was answered in (read once the store and the
 * replicas answered: an epoch change in between answers FLUSH_SLAVE_TIMEOUT, never OK), so a history can tell
 * which master acknowledged what.
 */
function withEpoch(reply: Frame, epoch: number | undefined): Frame {
  return epoch === undefined ? reply : { ...reply, header: { ...reply.header, epoch } };
}

/** An OK reply, or, for a batch stored with a warning (FLUSH_DISK_TIMEOUT), the same reply under that status. */
function withStoreStatus(reply: Frame, r: StorePutResult): Frame {
  if (r.status === Status.OK) return reply;
  return { ...reply, status: r.status, header: { ...reply.header, error: r.message ?? 'stored, durability unknown' } };
}

/**
 * The send reply (send-reply.ts) of `batch`, whose results are the store's from `from` on; with `keys` (the
 * broker's own) it carries the batch's unique keys, without them none.
 */
function sendReplyBytes(r: StorePutResult, from: number, batch: BrokerPutMessage[], keys: UniqKeyBatch | undefined): Uint8Array {
  const cl = r.commitLogOffsets;
  const qo = r.queueOffsets;
  const n = batch.length;
  if (r.msgIdPrefix !== undefined && cl !== undefined && qo !== undefined) {
    // compact answer: every msgId is the prefix + its offset, derived by the reply's reader, never built here
    const items: SendReplyInput[] = new Array<SendReplyInput>(n);
    // plain messages (the usual batch) each took the next of the keys taken above, in order
    const run = keys !== undefined && batch.every(numbered) ? { prefix: keys.prefix, first: keys.first } : undefined;
    for (let i = 0; i < n; i++) {
      const uniqKey = run === undefined && keys !== undefined ? uniqKeyOf(batch[i]!) : undefined;
      items[i] = uniqKey === undefined ? { queueOffset: qo[from + i]!, commitLogOffset: cl[from + i]! } : { queueOffset: qo[from + i]!, commitLogOffset: cl[from + i]!, uniqKey };
    }
    return encodeSendReply(items, r.msgIdPrefix, run);
  }
  const items: SendReplyItem[] = new Array<SendReplyItem>(n);
  for (let i = 0; i < n; i++) {
    const item = r.results[from + i]!;
    const uniqKey = keys === undefined ? undefined : uniqKeyOf(batch[i]!);
    items[i] = uniqKey === undefined ? item : { msgId: item.msgId, queueOffset: item.queueOffset, commitLogOffset: item.commitLogOffset, uniqKey };
  }
  return encodeSendReply(items, r.msgIdPrefix);
}
