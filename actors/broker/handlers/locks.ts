import type { Frame } from '../../../transports/frame.js';
import type { LockBatchReplyHeader, QueueLockBody } from '../../protocol/commands.js';
import { headerString, jsonBody, okReply, parseJsonBody } from '../../protocol/replies.js';
import { Status, StatusError } from '../../../core/status.js';
import { validateGroup } from '../../protocol/validation.js';
import { DEFAULT_QUEUE_LOCK_LEASE_MS, QueueLockTable, type LockedQueue } from '../queue-locks.js';
import type { BrokerContext } from './context.js';

/** LOCK_BATCH_MQ and UNLOCK_BATCH_MQ: the queue locks of orderly consumers (see queue-locks.ts). */

/** Most queues one lock or unlock request names. */
export const MAX_LOCK_BATCH = 1024;

const tables = new WeakMap<BrokerContext, QueueLockTable>();

/** The broker's lock table (made on first use, with the broker's clock and `queueLockLeaseMs`). */
export function queueLocksOf(ctx: BrokerContext): QueueLockTable {
  let t = tables.get(ctx);
  if (!t) {
    t = new QueueLockTable(() => ctx.clock.now(), ctx.limits.queueLockLeaseMs ?? DEFAULT_QUEUE_LOCK_LEASE_MS);
    tables.set(ctx, t);
  }
  return t;
}

function parseLockRequest(frame: Frame): { group: string; clientId: string; queues: LockedQueue[] } {
  const group = headerString(frame, 'consumerGroup');
  validateGroup(group);
  const clientId = headerString(frame, 'clientId');
  const body = parseJsonBody<Partial<QueueLockBody>>(frame);
  if (body === null || typeof body !== 'object' || !Array.isArray(body.queues)) throw new StatusError(Status.BAD_FRAME, 'lock body must be { queues: [{ topic, queueId }] }');
  if (body.queues.length > MAX_LOCK_BATCH) throw new StatusError(Status.INVALID_ARGUMENT, `at most ${MAX_LOCK_BATCH} queues per lock request, got ${body.queues.length}`);
  const queues: LockedQueue[] = [];
  for (const q of body.queues) {
    if (q === null || typeof q !== 'object' || typeof q.topic !== 'string' || q.topic.length === 0 || !Number.isSafeInteger(q.queueId) || q.queueId < 0)
      throw new StatusError(Status.BAD_FRAME, 'each queue to lock must be { topic: non-empty string, queueId: non-negative integer }');
    queues.push({ topic: q.topic, queueId: q.queueId });
  }
  return { group, clientId, queues };
}

export async function handleLockBatch(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const { group, clientId, queues } = parseLockRequest(frame);
  const table = queueLocksOf(ctx);
  const locked: QueueLockBody = { queues: table.lock(group, clientId, queues) };
  // the lease, so that a consumer never counts on a lock longer than the broker keeps it
  const header: LockBatchReplyHeader = { leaseMs: table.leaseMs };
  return okReply(frame, { ...header }, jsonBody(locked));
}

export async function handleUnlockBatch(ctx: BrokerContext, frame: Frame): Promise<Frame> {
  const { group, clientId, queues } = parseLockRequest(frame);
  const released = queueLocksOf(ctx).unlock(group, clientId, queues);
  return okReply(frame, { released });
}
