import fc from 'fast-check';
import { EMPTY_FAULT_STATE, updateFaultItem } from '../../../actors/producer/fault-avoidance.js';
import { selectByKey, selectQueue, selectWithFaultAvoidance } from '../../../actors/producer/queue-selector.js';
import { queueKey, type MessageQueue } from '../../../core/message.js';

const queues: MessageQueue[] = ['a', 'b', 'c'].flatMap((b) => [0, 1].map((queueId) => ({ topic: 'T', brokerName: b, queueId })));

describe('selectQueue', () => {
  it('goes round robin and covers every queue evenly', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1_000_000, max: 1_000_000 }), (start) => {
        const seen = Array.from({ length: queues.length * 3 }, (_, i) => queueKey(selectQueue(queues, start + i)!));
        for (const q of queues) expect(seen.filter((k) => k === queueKey(q))).toHaveLength(3);
      }),
      { numRuns: 100 },
    );
    expect(selectQueue([], 0)).toBeUndefined();
  });

  it('skips the broker given, unless it is the only one', () => {
    for (let seq = 0; seq < 12; seq++) expect(selectQueue(queues, seq, 'b')!.brokerName).not.toBe('b');
    const onlyB = queues.filter((q) => q.brokerName === 'b');
    expect(selectQueue(onlyB, 1, 'b')).toEqual(onlyB[1]);
  });
});

describe('selectByKey', () => {
  it('maps a key to one queue, spread across queues', () => {
    fc.assert(
      fc.property(fc.string(), (key) => {
        expect(selectByKey(queues, key)).toBe(selectByKey(queues, key));
      }),
    );
    const hit = new Set(Array.from({ length: 200 }, (_, i) => queueKey(selectByKey(queues, `order-${i}`)!)));
    expect(hit.size).toBe(queues.length);
    expect(selectByKey([], 'k')).toBeUndefined();
  });
});

describe('selectWithFaultAvoidance', () => {
  it('avoids unavailable brokers and the skipped one', () => {
    const faults = updateFaultItem(EMPTY_FAULT_STATE, 'a', 5000, false, 0);
    for (let seq = 0; seq < 12; seq++) {
      expect(selectWithFaultAvoidance(queues, seq, faults, 100)!.brokerName).not.toBe('a');
      expect(selectWithFaultAvoidance(queues, seq, faults, 100, 'b')!.brokerName).toBe('c');
    }
    // after the not-available duration, 'a' is back
    const later = new Set(Array.from({ length: 6 }, (_, seq) => selectWithFaultAvoidance(queues, seq, faults, 180000)!.brokerName));
    expect(later.has('a')).toBe(true);
  });

  it('falls back to the least bad broker when all are avoided', () => {
    let faults = updateFaultItem(EMPTY_FAULT_STATE, 'a', 0, true, 0);
    faults = updateFaultItem(faults, 'b', 700, false, 0);
    faults = updateFaultItem(faults, 'c', 1500, false, 0);
    expect(selectWithFaultAvoidance(queues, 0, faults, 10)!.brokerName).toBe('b');
    expect(selectWithFaultAvoidance([], 0, faults, 10)).toBeUndefined();
  });

  it('always returns a queue from the list', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'z'), fc.nat({ max: 20000 }), fc.boolean())), fc.integer(), fc.nat({ max: 1_000_000 }), (ups, seq, now) => {
        let f = EMPTY_FAULT_STATE;
        for (const [b, lat, iso] of ups) f = updateFaultItem(f, b, lat, iso, 0);
        const q = selectWithFaultAvoidance(queues, seq, f, now);
        expect(queues).toContain(q);
      }),
    );
  });
});
