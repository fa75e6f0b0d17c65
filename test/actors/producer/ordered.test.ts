import fc from 'fast-check';
import { isOrderedBatch, selectOrderedQueue } from '../../../actors/producer/ordered.js';
import type { MessageQueue } from '../../../core/message.js';
import { Status } from '../../../core/status.js';

describe('ordered send helpers', () => {
  const queues: MessageQueue[] = [0, 1, 2, 3].map((queueId) => ({ topic: 'T', brokerName: 'b', queueId }));
  const msg = { topic: 'T', body: new Uint8Array(0) };

  it('takes the queue the selector picks, as one of the given queues', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), (i) => {
        expect(selectOrderedQueue(queues, msg, (qs) => ({ ...qs[i]! }))).toBe(queues[i]);
      }),
    );
  });

  it('refuses a selector that throws or returns a queue that is not offered', () => {
    expect(() => selectOrderedQueue(queues, msg, () => ({ topic: 'T', brokerName: 'b', queueId: 9 }))).toThrow(expect.objectContaining({ status: Status.INVALID_ARGUMENT }));
    expect(() => selectOrderedQueue(queues, msg, () => undefined as unknown as MessageQueue)).toThrow(expect.objectContaining({ status: Status.INVALID_ARGUMENT }));
    expect(() =>
      selectOrderedQueue(queues, msg, () => {
        throw new Error('boom');
      }),
    ).toThrow(/boom/);
  });

  it('a batch with any sharding key is ordered', () => {
    expect(isOrderedBatch([msg, msg])).toBe(false);
    expect(isOrderedBatch([msg, { ...msg, shardingKey: 'k' }])).toBe(true);
  });
});
