import fc from 'fast-check';
import { ProcessQueue } from '../../../actors/consumer/process-queue.js';
import type { MessageExt } from '../../../core/message.js';

const mq = { topic: 'T', brokerName: 'a', queueId: 0 };
const ext = (queueOffset: number, size = 1): MessageExt => ({
  msgId: `m${queueOffset}`,
  topic: 'T',
  queueId: 0,
  queueOffset,
  commitLogOffset: queueOffset,
  bornTimestamp: 0,
  storeTimestamp: 0,
  reconsumeTimes: 0,
  bornHost: 'h',
  storeHost: 's',
  body: new Uint8Array(size),
});

describe('process queue', () => {
  it('commits the lowest unprocessed offset, or the next pull offset when all are processed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.nat(), { maxLength: 60 }), (n, picks) => {
        const pq = new ProcessQueue(mq, 0);
        const msgs = Array.from({ length: n }, (_, i) => ext(i, 3));
        pq.add(msgs);
        pq.nextOffset = n;
        const left = new Set(msgs.map((m) => m.queueOffset));
        for (const p of picks) {
          const o = p % n;
          pq.remove([msgs[o]!]);
          left.delete(o);
          const expected = left.size === 0 ? n : Math.min(...left);
          if (pq.commitOffset() !== expected) return false;
          if (pq.count !== left.size || pq.cachedBytes !== left.size * 3) return false;
        }
        return true;
      }),
      { numRuns: 200 },
    );
  });

  it('reports when it is over a limit and wakes a waiting pull on removal or drop', async () => {
    const pq = new ProcessQueue(mq, 0);
    pq.add([ext(0, 10), ext(1, 10)]);
    expect(pq.isFull(2, 1000)).toBe(true);
    expect(pq.isFull(3, 20)).toBe(true);
    expect(pq.isFull(3, 21)).toBe(false);
    let woke = false;
    const w = pq.waitForRoom().then(() => (woke = true));
    await Promise.resolve();
    expect(woke).toBe(false);
    pq.remove([ext(0)]);
    await w;
    expect(woke).toBe(true);
    const w2 = pq.waitForRoom();
    pq.drop();
    await w2;
    await pq.waitForRoom(); // a dropped queue never blocks
  });

  it('matches a set model under overlapping pulls, re-adds and removals in any order (compacting on the way)', () => {
    const op = fc.oneof(
      fc.record({ add: fc.nat({ max: 3000 }), n: fc.integer({ min: 1, max: 600 }) }),
      fc.record({ remove: fc.nat({ max: 3600 }), n: fc.integer({ min: 1, max: 900 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const pq = new ProcessQueue(mq, 0);
        pq.nextOffset = 1_000_000;
        const model = new Map<number, number>();
        for (const o of ops) {
          if ('add' in o) {
            const msgs = Array.from({ length: o.n }, (_, i) => ext(o.add + i, (o.add + i) % 7));
            pq.add(msgs);
            for (const m of msgs) if (!model.has(m.queueOffset)) model.set(m.queueOffset, m.body.length);
          } else {
            const msgs = Array.from({ length: o.n }, (_, i) => ext(o.remove + i));
            pq.remove(msgs);
            for (const m of msgs) model.delete(m.queueOffset);
          }
          const expected = model.size === 0 ? 1_000_000 : Math.min(...model.keys());
          let bytes = 0;
          for (const b of model.values()) bytes += b;
          if (pq.commitOffset() !== expected || pq.count !== model.size || pq.cachedBytes !== bytes) return false;
        }
        return true;
      }),
      { numRuns: 150 },
    );
  });

  it('takes back processed messages that a re-pull brings again, below the lowest unprocessed one', () => {
    const pq = new ProcessQueue(mq, 0);
    pq.nextOffset = 100;
    pq.add([ext(0), ext(1)]);
    pq.add([ext(2)]);
    pq.remove([ext(1)]);
    pq.remove([ext(0)]);
    expect(pq.commitOffset()).toBe(2);
    pq.add([ext(0), ext(1)]);
    expect(pq.count).toBe(3);
    expect(pq.commitOffset()).toBe(0);
    pq.remove([ext(0), ext(1), ext(2)]);
    expect(pq.count).toBe(0);
    expect(pq.commitOffset()).toBe(100);
  });

  it('ignores duplicates', () => {
    const pq = new ProcessQueue(mq, 5);
    pq.add([ext(5), ext(6)]);
    pq.add([ext(6)]);
    expect(pq.count).toBe(2);
    expect(pq.commitOffset()).toBe(5);
  });
});
