import { OrderlyConsumer, type OrderlyHost } from '../../../actors/consumer/orderly.js';
import type { ClientInstance } from '../../../actors/client/client-instance.js';
import type { QueueLockBody } from '../../../actors/protocol/commands.js';
import type { MessageQueue } from '../../../core/message.js';
import { jsonBody, okReply, parseJsonBody } from '../../../actors/protocol/replies.js';
import { SimClock } from '../../../core/clock.js';
import { rootLogger } from '../../../actors/runtime/environment.js';
import type { Frame, Header } from '../../../transports/frame.js';

/** An orderly consumer whose broker grants every lock and answers with `replyHeader`. */
function orderly(replyHeader: Header, lockRenewMs: number) {
  const clock = new SimClock(0);
  const client = {
    clientId: 'c1',
    io: { clock, logger: rootLogger('silent') },
    requestBroker: async (_broker: string, frame: Frame) => okReply(frame, replyHeader, jsonBody({ queues: parseJsonBody<QueueLockBody>(frame).queues })),
  } as unknown as ClientInstance;
  const host: OrderlyHost = { client, isActive: () => true, ack: () => undefined, tap: () => undefined, heldQueues: () => [] };
  const o = new OrderlyConsumer(host, { group: 'g', listener: () => 'SUCCESS', consumeBatchSize: 1, maxReconsumeTimes: 3, lockRenewMs, suspendMs: 100 });
  return { clock, o };
}

const mq: MessageQueue = { topic: 'T', brokerName: 'b', queueId: 0 };

describe('orderly consumer: how long a queue lock counts', () => {
  it('1.5 x lockRenewMs when the broker keeps locks longer', async () => {
    const { clock, o } = orderly({ leaseMs: 60_000 }, 2000);
    expect(await o.lock([mq])).toEqual([mq]);
    await clock.advance(2999);
    expect(o.isLocked(mq)).toBe(true);
    await clock.advance(1);
    expect(o.isLocked(mq)).toBe(false);
  });

  it("the broker's lease when that is shorter: the consumer stops before the broker hands the queue on", async () => {
    const { clock, o } = orderly({ leaseMs: 1000 }, 2000);
    expect(await o.lock([mq])).toEqual([mq]);
    await clock.advance(999);
    expect(o.isLocked(mq)).toBe(true);
    await clock.advance(1);
    expect(o.isLocked(mq)).toBe(false);
  });
});
