import fc from 'fast-check';
import {
  allocateAveragely,
  allocateAveragelyByCircle,
  allocateConsistentHash,
  consistentHashStrategy,
  type AllocateStrategy,
} from '../../../actors/consumer/rebalance.js';
import { queueKey, type MessageQueue } from '../../../core/message.js';

const mq = (brokerName: string, queueId: number, topic = 'T'): MessageQueue => ({ topic, brokerName, queueId });
const keys = (qs: MessageQueue[]) => qs.map(queueKey);

const queuesArb = fc
  .uniqueArray(fc.tuple(fc.constantFrom('broker-a', 'broker-b', 'broker-c'), fc.nat({ max: 15 })), {
    maxLength: 40,
    selector: ([b, q]) => `${b}/${q}`,
  })
  .map((xs) => xs.map(([b, q]) => mq(b, q)));
const cidsArb = fc.uniqueArray(fc.stringMatching(/^[a-z0-9@.-]{1,10}$/), { minLength: 1, maxLength: 12 });

const strategies: [string, AllocateStrategy][] = [
  ['averagely', allocateAveragely],
  ['by circle', allocateAveragelyByCircle],
  ['consistent hash', allocateConsistentHash],
];

function shuffle<T>(xs: T[], seed: number): T[] {
  const out = xs.slice();
  let s = seed | 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) | 0;
    const j = (s >>> 8) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe.each(strategies)('%s', (_name, allocate) => {
  it('covers every queue exactly once over all members', () => {
    fc.assert(
      fc.property(queuesArb, cidsArb, (mqs, cids) => {
        const all = cids.flatMap((cid) => keys(allocate('g', cid, mqs, cids)));
        expect(all.sort()).toEqual(keys(mqs).sort());
      }),
      { numRuns: 200 },
    );
  });

  it('is deterministic and independent of input order and duplicates', () => {
    fc.assert(
      fc.property(queuesArb, cidsArb, fc.integer(), (mqs, cids, seed) => {
        const mqs2 = shuffle([...mqs, ...mqs.slice(0, 3)], seed);
        const cids2 = shuffle([...cids, cids[0]!], seed + 1);
        for (const cid of cids) expect(keys(allocate('g', cid, mqs2, cids2))).toEqual(keys(allocate('g', cid, mqs, cids)));
      }),
      { numRuns: 150 },
    );
  });

  it('gives nothing to a member not in the group or for empty inputs', () => {
    const mqs = [mq('a', 0), mq('a', 1)];
    expect(allocate('g', 'x', mqs, ['c1', 'c2'])).toEqual([]);
    expect(allocate('g', '', mqs, ['c1', ''])).toEqual([]);
    expect(allocate('g', 'c1', [], ['c1'])).toEqual([]);
    expect(allocate('g', 'c1', mqs, [])).toEqual([]);
    expect(keys(allocate('g', 'c1', mqs, ['c1']))).toEqual(keys(mqs));
  });
});

describe('allocateAveragely', () => {
  it('matches RocketMQ examples', () => {
    const mqs = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => mq('a', i));
    const ids = (cid: string, cids: string[]) => allocateAveragely('g', cid, mqs, cids).map((q) => q.queueId);
    expect(ids('c1', ['c1', 'c2', 'c3'])).toEqual([0, 1, 2]);
    expect(ids('c2', ['c1', 'c2', 'c3'])).toEqual([3, 4, 5]);
    expect(ids('c3', ['c1', 'c2', 'c3'])).toEqual([6, 7]);
    expect(ids('c9', ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9'])).toEqual([]);
  });

  it('gives every member a share within one of the others', () => {
    fc.assert(
      fc.property(queuesArb, cidsArb, (mqs, cids) => {
        const sizes = cids.map((c) => allocateAveragely('g', c, mqs, cids).length);
        return Math.max(...sizes) - Math.min(...sizes) <= 1;
      }),
    );
  });
});

describe('allocateAveragelyByCircle', () => {
  it('deals queues round the members', () => {
    const mqs = [0, 1, 2, 3, 4].map((i) => mq('a', i));
    expect(allocateAveragelyByCircle('g', 'c2', mqs, ['c2', 'c1']).map((q) => q.queueId)).toEqual([1, 3]);
  });
});

describe('allocateConsistentHash', () => {
  it('moves queues only to a member that joins', () => {
    fc.assert(
      fc.property(queuesArb, cidsArb, fc.stringMatching(/^[a-z0-9@.-]{1,10}$/), (mqs, cids, joiner) => {
        if (cids.includes(joiner)) return;
        const after = [...cids, joiner];
        for (const cid of cids) {
          const before = new Set(keys(allocateConsistentHash('g', cid, mqs, cids)));
          for (const k of keys(allocateConsistentHash('g', cid, mqs, after))) expect(before.has(k)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('moves about 1/(n+1) of the queues when one member joins', () => {
    const strategy = consistentHashStrategy(100);
    const mqs = Array.from({ length: 8 }, (_, b) => Array.from({ length: 64 }, (_, q) => mq(`broker-${b}`, q))).flat();
    let moved = 0;
    let trials = 0;
    for (let n = 2; n <= 10; n++) {
      const cids = Array.from({ length: n }, (_, i) => `10.0.0.${i}@${i}`);
      const joiner = `10.0.1.${n}@new`;
      const taken = strategy('g', joiner, mqs, [...cids, joiner]).length;
      const fraction = taken / mqs.length;
      expect(fraction).toBeLessThan(2.5 / (n + 1));
      moved += fraction * (n + 1);
      trials++;
    }
    // on average, the joiner takes close to its fair share
    expect(moved / trials).toBeGreaterThan(0.6);
    expect(moved / trials).toBeLessThan(1.4);
  });

  it('rejects a bad virtual node count', () => {
    expect(() => consistentHashStrategy(0)).toThrow(RangeError);
  });
});
