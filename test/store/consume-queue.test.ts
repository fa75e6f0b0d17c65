import fc from 'fast-check';
import { SimClock, settle } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { faultyStorage } from '../../store/backends/faulty.js';
import {
  CQ_ENTRY_SIZE,
  ConsumeQueue,
  ConsumeQueueSet,
  decodeCqEntry,
  encodeCqEntry,
  type CqEntry,
} from '../../store/consume-queue.js';

const mem = (seed = 1) => memoryStorage({ clock: new SimClock(), random: new SeededRandom(seed) });
const entry = (i: number): CqEntry => ({ commitLogOffset: i * 100, size: 100, tagHash: (i * 7919) | 0 });
const entries = (from: number, n: number): CqEntry[] => Array.from({ length: n }, (_, k) => entry(from + k));

describe('consume queue entry codec', () => {
  it('round-trips entries, negative tag hashes included (property)', () => {
    fc.assert(
      fc.property(fc.nat(Number.MAX_SAFE_INTEGER), fc.nat(0xffffffff), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (o, s, h) => {
        const buf = new Uint8Array(CQ_ENTRY_SIZE + 3);
        encodeCqEntry({ commitLogOffset: o, size: s, tagHash: h }, buf, 3);
        expect(decodeCqEntry(buf, 3)).toEqual({ commitLogOffset: o, size: s, tagHash: h });
      }),
      { numRuns: 300 },
    );
  });
});

describe('ConsumeQueue', () => {
  it('appends across files and reads any range back', () => {
    const s = mem();
    const cq = ConsumeQueue.open(s, '/store', 'T', 3, 8);
    cq.put(0, entries(0, 5));
    cq.put(5, entries(5, 20));
    expect(cq.minOffset).toBe(0);
    expect(cq.maxOffset).toBe(25);
    expect(cq.read(6, 10)).toEqual(entries(6, 10));
    expect(cq.read(20, 100)).toEqual(entries(20, 5));
    expect(cq.read(25, 1)).toEqual([]);
    expect(s.list('/store/consumequeue/T/3')).toEqual(['00000000000000000000', '00000000000000000160', '00000000000000000320', '00000000000000000480']);
  });

  it('skips entries it already has and fills a hole with blanks', () => {
    const cq = ConsumeQueue.open(mem(), '/store', 'T', 0, 8);
    cq.put(0, entries(0, 4));
    expect(cq.put(2, entries(2, 4))).toBe(2);
    expect(cq.maxOffset).toBe(6);
    expect(cq.read(0, 6)).toEqual(entries(0, 6));
    cq.put(8, entries(8, 1));
    expect(cq.maxOffset).toBe(9);
    expect(cq.read(6, 2).map((e) => e.size)).toEqual([0, 0]);
    expect(cq.lastEntry()).toEqual(entry(8));
  });

  it('reopens with the same content, after a flush and after a crash drops what was not flushed', async () => {
    const s = mem();
    const cq = ConsumeQueue.open(s, '/store', 'T', 0, 8);
    cq.put(0, entries(0, 10));
    await cq.flush();
    cq.put(10, entries(10, 3));
    s.crash();
    const again = ConsumeQueue.open(s, '/store', 'T', 0, 8);
    expect(again.maxOffset).toBe(10);
    expect(again.read(0, 20)).toEqual(entries(0, 10));
  });

  it('cuts a torn partial entry on open', async () => {
    const s = mem();
    const cq = ConsumeQueue.open(s, '/store', 'T', 0, 8);
    cq.put(0, entries(0, 3));
    await cq.flush();
    const f = s.open('/store/consumequeue/T/0/00000000000000000000');
    f.write(60, new Uint8Array(7).fill(9));
    const again = ConsumeQueue.open(s, '/store', 'T', 0, 8);
    expect(again.maxOffset).toBe(3);
  });

  it('truncates entries pointing at or past a commit log offset (recovery)', () => {
    const cq = ConsumeQueue.open(mem(), '/store', 'T', 0, 8);
    cq.put(0, entries(0, 20));
    expect(cq.truncateFrom(1250)).toBe(8); // entry 12 spans [1200,1300): removed
    expect(cq.maxOffset).toBe(12);
    expect(cq.read(0, 100)).toEqual(entries(0, 12));
    cq.put(12, entries(12, 2));
    expect(cq.read(11, 3)).toEqual(entries(11, 3));
    expect(cq.truncateFrom(0)).toBe(14);
    expect(cq.maxOffset).toBe(0);
  });

  it('deletes files that point only below the commit log minimum and corrects minOffset (retention)', () => {
    const s = mem();
    const cq = ConsumeQueue.open(s, '/store', 'T', 0, 8);
    cq.put(0, entries(0, 30));
    expect(cq.deleteBelow(1900)).toBe(2); // files [0,8) and [8,16) point only below 1900
    expect(cq.minOffset).toBe(19);
    expect(cq.read(0, 3)).toEqual([]);
    expect(cq.read(19, 3)).toEqual(entries(19, 3));
    expect(s.list('/store/consumequeue/T/0')).toHaveLength(2);
    // never the last file, even when everything is expired
    expect(cq.deleteBelow(1_000_000)).toBe(1);
    expect(cq.minOffset).toBe(30);
    expect(cq.maxOffset).toBe(30);
    cq.put(30, entries(30, 1));
    expect(cq.read(30, 1)).toEqual([entry(30)]);
    const again = ConsumeQueue.open(s, '/store', 'T', 0, 8);
    expect(again.minOffset).toBe(24);
    again.deleteBelow(3000);
    expect(again.minOffset).toBe(30);
  });

  it('agrees with an array model under random puts, truncations, write-outs and reopenings, with and without write-behind (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('put' as const), n: fc.integer({ min: 1, max: 12 }) }),
            fc.record({ op: fc.constant('truncate' as const), at: fc.nat(60) }),
            fc.record({ op: fc.constant('reopen' as const) }),
            fc.record({ op: fc.constant('writeOut' as const) }),
            fc.record({ op: fc.constant('drop' as const) }),
          ),
          { maxLength: 25 },
        ),
        fc.constantFrom(0, 1, 3, 8),
        async (ops, writeBehind) => {
          const s = mem();
          const open = (): ConsumeQueue => ConsumeQueue.open(s, '/store', 'T', 1, 5, writeBehind);
          let cq = open();
          const model: CqEntry[] = [];
          /** Entries certainly in the files (written out, flushed, or put past write-behind's room). */
          let written = 0;
          let next = 0;
          for (const o of ops) {
            if (o.op === 'put') {
              const list = Array.from({ length: o.n }, (_, k) => ({ commitLogOffset: (next + k) * 10, size: 10, tagHash: next + k }));
              cq.put(model.length, list);
              model.push(...list);
              next += o.n;
              if (o.n > writeBehind) written = model.length;
            } else if (o.op === 'truncate') {
              cq.truncateFrom(o.at * 10);
              while (model.length > 0 && model[model.length - 1]!.commitLogOffset + 10 > o.at * 10) model.pop();
              next = Math.max(model.length > 0 ? model[model.length - 1]!.commitLogOffset / 10 + 1 : 0, next);
              written = Math.min(written, model.length);
            } else if (o.op === 'writeOut') {
              cq.writeOut();
              written = model.length;
            } else if (o.op === 'reopen') {
              await cq.flush();
              cq.close();
              cq = open();
              written = model.length;
            } else {
              // closed without a flush: what was held back is gone, what was written is there, in order
              cq.close();
              cq = open();
              expect(cq.maxOffset).toBeGreaterThanOrEqual(written);
              expect(cq.maxOffset).toBeLessThanOrEqual(model.length);
              model.length = cq.maxOffset;
              if (writeBehind === 0) expect(cq.maxOffset).toBe(written);
            }
            expect(cq.maxOffset).toBe(model.length);
            expect(cq.read(0, 1000)).toEqual(model);
            for (let i = 0; i < model.length; i += 1 + (i % 3)) expect(cq.read(i, 3)).toEqual(model.slice(i, i + 3));
          }
        },
      ),
      { numRuns: 120 },
    );
  });

  it('write-behind: single puts are held back (readable at once) and written in one write when room runs out or at the flush; a failed write-out keeps them', async () => {
    const disk = faultyStorage(mem());
    const cq = ConsumeQueue.open(disk, '/store', 'T', 0, 100, 4);
    for (let i = 0; i < 4; i++) cq.put(i, [entry(i)]);
    expect(disk.counters.writes).toBe(0);
    expect(cq.read(0, 10)).toEqual(entries(0, 4));
    cq.put(4, [entry(4)]); // no room: the four held are written in one write, the fifth is held
    expect(disk.counters.writes).toBe(1);
    expect(cq.needsFlush).toBe(true);
    disk.failWrites('ENOSPC');
    cq.put(5, [entry(5)]);
    cq.put(6, [entry(6)]);
    cq.put(7, [entry(7)]);
    expect(() => cq.put(8, [entry(8)])).toThrow(/ENOSPC|no space/i); // room ran out and the write-out failed
    expect(cq.maxOffset).toBe(8);
    await expect(cq.flush()).rejects.toThrow();
    expect(cq.read(0, 10)).toEqual(entries(0, 8));
    disk.heal();
    cq.put(8, [entry(8)]);
    await cq.flush();
    cq.close();
    expect(ConsumeQueue.open(disk, '/store', 'T', 0, 100, 4).read(0, 100)).toEqual(entries(0, 9));
  });
});

describe('ConsumeQueueSet.flush', () => {
  it('writes out and flushes many queues a slice at a time, so the broker runs between slices', async () => {
    const f = faultyStorage(mem());
    const set = new ConsumeQueueSet(f, '/s', 1000, 64);
    const queues = Array.from({ length: 300 }, (_, i) => set.get(`t${i >> 3}`, i & 7)!);
    for (const q of queues) q.put(0, entries(0, 2)); // held back (write-behind)
    const before = f.counters.writes;
    f.hangFlushes(); // a slow disk: every flush waits
    const done = set.flush();
    await settle();
    // only the first slice is written out while its flushes wait; the other queues still hold their entries
    const written = f.counters.writes - before;
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThanOrEqual(64 * 2);
    expect(queues.slice(64).every((q) => q.needsFlush)).toBe(true);
    f.heal();
    await done;
    expect(queues.filter((q) => q.needsFlush)).toEqual([]);
    for (const q of queues) expect(q.read(0, 10).map((e) => e.commitLogOffset)).toEqual([0, 100]);
    set.close();
  });
});
