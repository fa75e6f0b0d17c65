import type { BrokerContext } from '../../../../actors/broker/handlers/context.js';
import { BrokerMetrics } from '../../../../actors/broker/broker-metrics.js';
import { handleLockBatch, handleUnlockBatch, queueLocksOf, MAX_LOCK_BATCH } from '../../../../actors/broker/handlers/locks.js';
import { dispatchFrame } from '../../../../actors/broker/handlers/dispatch.js';
import type { QueueLockBody } from '../../../../actors/protocol/commands.js';
import { RequestCode } from '../../../../actors/protocol/request-codes.js';
import { jsonBody, parseJsonBody, request } from '../../../../actors/protocol/replies.js';
import { Status } from '../../../../core/status.js';
import { SimClock } from '../../../../core/clock.js';
import { rootLogger } from '../../../../actors/runtime/environment.js';
import type { Frame } from '../../../../transports/frame.js';

describe('LOCK_BATCH_MQ / UNLOCK_BATCH_MQ handlers', () => {
  const clock = new SimClock(0);
  const ctx = { brokerName: 'b', clock, logger: rootLogger('silent'), limits: { queueLockLeaseMs: 1000 }, metrics: new BrokerMetrics(), maxPayload: () => 1 << 20 } as unknown as BrokerContext;
  const lockReq = (code: number, clientId: string, queues: unknown) => request(code, { consumerGroup: 'g', clientId }, jsonBody({ queues }));

  it('locks, refuses another client, unlocks, and honours the lease', async () => {
    const a = await handleLockBatch(ctx, lockReq(RequestCode.LOCK_BATCH_MQ, 'a', [{ topic: 'T', queueId: 0 }, { topic: 'T', queueId: 1 }]));
    expect(parseJsonBody<QueueLockBody>(a).queues).toHaveLength(2);
    expect(a.header.leaseMs).toBe(1000); // the consumer counts on a lock no longer than this
    const b = await handleLockBatch(ctx, lockReq(RequestCode.LOCK_BATCH_MQ, 'b', [{ topic: 'T', queueId: 1 }, { topic: 'T', queueId: 2 }]));
    expect(parseJsonBody<QueueLockBody>(b).queues).toEqual([{ topic: 'T', queueId: 2 }]);
    const un = await handleUnlockBatch(ctx, lockReq(RequestCode.UNLOCK_BATCH_MQ, 'a', [{ topic: 'T', queueId: 1 }]));
    expect(un.header.released).toBe(1);
    expect(queueLocksOf(ctx).holder('g', { topic: 'T', queueId: 1 })).toBeUndefined();
    await clock.advance(1000); // a's lease on T/0 runs out
    const b2 = await handleLockBatch(ctx, lockReq(RequestCode.LOCK_BATCH_MQ, 'b', [{ topic: 'T', queueId: 0 }]));
    expect(parseJsonBody<QueueLockBody>(b2).queues).toEqual([{ topic: 'T', queueId: 0 }]);
  });

  it('answers bad requests with a clear status through the dispatcher', async () => {
    const replies: Frame[] = [];
    const send = async (f: Frame) => {
      await dispatchFrame(ctx, { ...f, requestId: 1 }, (r) => replies.push(r));
      return replies[replies.length - 1]!;
    };
    expect((await send(lockReq(RequestCode.LOCK_BATCH_MQ, 'a', 'nope'))).status).toBe(Status.BAD_FRAME);
    expect((await send(lockReq(RequestCode.LOCK_BATCH_MQ, 'a', [{ topic: 'T', queueId: -1 }]))).status).toBe(Status.BAD_FRAME);
    const many = Array.from({ length: MAX_LOCK_BATCH + 1 }, (_, i) => ({ topic: 'T', queueId: i }));
    expect((await send(lockReq(RequestCode.LOCK_BATCH_MQ, 'a', many))).status).toBe(Status.INVALID_ARGUMENT);
    expect((await send(request(RequestCode.LOCK_BATCH_MQ, { consumerGroup: 'g' }, jsonBody({ queues: [] })))).status).toBe(Status.BAD_FRAME);
    const ok = await send(lockReq(RequestCode.LOCK_BATCH_MQ, 'a', [{ topic: 'T', queueId: 7 }]));
    expect(ok.status).toBe(Status.OK);
  });
});
