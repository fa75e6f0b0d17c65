import fc from 'fast-check';
import { QueueMap } from '../../core/queue-map.js';

describe('QueueMap', () => {
  it('agrees with a map keyed by topic#queueId under random sets and deletes (property)', () => {
    const op = fc.record({ del: fc.boolean(), topic: fc.constantFrom('a', 'b', 'a#1', ''), queueId: fc.nat(3), value: fc.integer() });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const m = new QueueMap<number>();
        const model = new Map<string, number>();
        for (const o of ops) {
          const k = JSON.stringify([o.topic, o.queueId]);
          if (o.del) {
            m.delete(o.topic, o.queueId);
            model.delete(k);
          } else {
            m.set(o.topic, o.queueId, o.value);
            model.set(k, o.value);
          }
          expect(m.get(o.topic, o.queueId)).toBe(model.get(k));
          expect(m.values().sort((x, y) => x - y)).toEqual([...model.values()].sort((x, y) => x - y));
        }
        m.clear();
        expect(m.values()).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
