import pino from 'pino';
import type { ClientInstance } from '../../../actors/client/client-instance.js';
import { ConcurrentConsumer, type ConcurrentSettings } from '../../../actors/consumer/concurrent-consume.js';
import { DeliveryBuffer } from '../../../actors/consumer/delivery.js';
import { ProcessQueue } from '../../../actors/consumer/process-queue.js';
import type { ConsumeResult } from '../../../actors/consumer/consumer-options.js';
import { okReply } from '../../../actors/protocol/replies.js';
import { SimClock } from '../../../core/clock.js';
import type { MessageExt } from '../../../core/message.js';
import { Status, StatusError } from '../../../core/status.js';
import type { Frame } from '../../../transports/frame.js';

const msg = (queueOffset: number, reconsumeTimes = 0): MessageExt => ({ msgId: `id-${queueOffset}`, queueOffset, reconsumeTimes, body: new Uint8Array(1) }) as MessageExt;

function setup(listener: ConcurrentSettings['listener'], opts: { model?: ConcurrentSettings['model']; failSendBacks?: number } = {}) {
  const clock = new SimClock();
  let failSendBacks = opts.failSendBacks ?? 0;
  const sendBacks: Record<string, unknown>[] = [];
  const client = {
    io: { clock, logger: pino({ level: 'silent' }) },
    requestBroker: async (_broker: string, frame: Frame) => {
      if (failSendBacks-- > 0) throw new StatusError(Status.SYSTEM_BUSY, 'busy');
      sendBacks.push(frame.header);
      return okReply(frame);
    },
  } as unknown as ClientInstance;
  const pq = new ProcessQueue({ topic: 'T', brokerName: 'a', queueId: 0 }, 0);
  const acked: number[] = [];
  const dispatched: MessageExt[][] = [];
  const delivery = new DeliveryBuffer(8);
  const consumer = new ConcurrentConsumer(
    {
      client,
      delivery,
      isActive: (q) => !q.dropped,
      ack: (_q, ms) => acked.push(...ms.map((m) => m.queueOffset)),
      dispatch: (_q, ms) => dispatched.push(ms),
    },
    { group: 'g', model: opts.model ?? 'CLUSTERING', listener, consumeBatchSize: 2, maxReconsumeTimes: 16, localRetryDelayMs: 1000 },
  );
  return { clock, pq, acked, dispatched, sendBacks, consumer, delivery };
}

describe('concurrent consume', () => {
  it('gives the listener chunks of consumeBatchSize and acks the successful ones', async () => {
    const calls: number[][] = [];
    const { pq, acked, sendBacks, consumer } = setup((ms) => (calls.push(ms.map((m) => m.queueOffset)), 'SUCCESS'));
    await consumer.consume(pq, [msg(0), msg(1), msg(2)]);
    expect(calls).toEqual([[0, 1], [2]]);
    expect(acked).toEqual([0, 1, 2]);
    expect(sendBacks).toHaveLength(0);
  });

  it('sends a failed chunk back (a throw counts as RETRY) with the delay level of its retries, and acks it', async () => {
    let n = 0;
    const { pq, acked, sendBacks, consumer } = setup((): ConsumeResult => {
      if (n++ === 0) throw new Error('boom');
      return 'RETRY';
    });
    await consumer.consume(pq, [msg(0), msg(1, 2), msg(2)]);
    expect(sendBacks).toEqual([
      { consumerGroup: 'g', msgId: 'id-0', delayLevel: 3, maxReconsumeTimes: 16 },
      { consumerGroup: 'g', msgId: 'id-1', delayLevel: 5, maxReconsumeTimes: 16 },
      { consumerGroup: 'g', msgId: 'id-2', delayLevel: 3, maxReconsumeTimes: 16 },
    ]);
    expect(acked).toEqual([0, 1, 2]);
  });

  it('retries here, later, a message whose send-back failed, and cancels such retries at stop', async () => {
    const { clock, pq, acked, dispatched, consumer } = setup(() => 'RETRY', { failSendBacks: 2 });
    await consumer.consume(pq, [msg(0), msg(1)]);
    expect(acked).toEqual([]);
    await clock.advance(999);
    expect(dispatched).toEqual([]);
    await clock.advance(1);
    expect(dispatched).toEqual([[msg(0, 1), msg(1, 1)]]);
    await consumer.consume(pq, [msg(2)]); // its send-back succeeds
    expect(acked).toEqual([2]);
    const again = setup(() => 'RETRY', { failSendBacks: 1 });
    await again.consumer.consume(again.pq, [msg(5)]);
    again.consumer.cancelRetries();
    await again.clock.advance(5000);
    expect(again.dispatched).toEqual([]);
  });

  it('drops failed broadcast messages without sending them back', async () => {
    const { pq, acked, sendBacks, consumer } = setup(() => 'RETRY', { model: 'BROADCASTING' });
    await consumer.consume(pq, [msg(0)]);
    expect(acked).toEqual([0]);
    expect(sendBacks).toHaveLength(0);
  });

  it('stops before a chunk of a dropped queue, and without a listener hands the messages out', async () => {
    const calls: number[] = [];
    const { pq, acked, consumer } = setup((ms) => (calls.push(ms.length), 'SUCCESS'));
    pq.drop();
    await consumer.consume(pq, [msg(0)]);
    expect(calls).toEqual([]);
    expect(acked).toEqual([]);
    const out = setup(undefined);
    const got: number[] = [];
    out.delivery.messages$.subscribe((m) => got.push(m.queueOffset));
    await out.consumer.consume(out.pq, [msg(0), msg(1)]);
    expect(got).toEqual([0, 1]);
    expect(out.acked).toEqual([0, 1]);
  });
});
