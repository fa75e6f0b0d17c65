import fc from 'fast-check';
import { TimerHeap, TimerProgress, fromRanges, toRanges } from '../../../../actors/broker/schedule/timer-index.js';

describe('TimerHeap', () => {
  it('pops entries in (due time, offset) order whatever the insertion order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 10_000 })), { maxLength: 200 }), (items) => {
        const h = new TimerHeap();
        items.forEach(([at, offset]) => h.push({ at, offset, msgId: `${offset}` }));
        const out = [];
        for (let e = h.pop(); e; e = h.pop()) out.push([e.at, e.offset]);
        const sorted = [...items].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        expect(out).toEqual(sorted);
      }),
      { numRuns: 200 },
    );
  });

  it('popDue takes only what is due, at most max', () => {
    const h = new TimerHeap();
    [5, 1, 9, 3, 3].forEach((at, i) => h.push({ at, offset: i, msgId: String(i) }));
    expect(h.popDue(3, 10).map((e) => e.at)).toEqual([1, 3, 3]);
    expect(h.popDue(100, 1).map((e) => e.at)).toEqual([5]);
    expect(h.size).toBe(1);
    expect(h.peek()?.at).toBe(9);
  });
});

describe('offset ranges', () => {
  it('round-trip any set of offsets', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 500 }), { maxLength: 100 }), (xs) => {
        const sorted = [...xs].sort((a, b) => a - b);
        const ranges = toRanges(sorted);
        expect(fromRanges(ranges)).toEqual(sorted);
        for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBeGreaterThan(ranges[i - 1]![1]);
      }),
    );
  });
});

describe('TimerProgress', () => {
  it('raises lowWater over contiguous done offsets and survives its file', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 60 }), { maxLength: 60 }), (done) => {
        const p = new TimerProgress();
        for (const o of done) p.markDone(o);
        const set = new Set(done);
        let lw = 0;
        while (set.has(lw)) lw++;
        expect(p.lowWater).toBe(lw);
        const back = new TimerProgress(JSON.parse(JSON.stringify(p.toFile())));
        for (let o = 0; o <= 61; o++) expect(back.isDone(o)).toBe(set.has(o));
      }),
    );
  });

  it('raiseTo drops everything below the new floor; a malformed file starts from 0', () => {
    const p = new TimerProgress({ lowWater: 2, done: [[5, 7]] });
    expect(p.isDone(1)).toBe(true);
    expect(p.isDone(3)).toBe(false);
    expect(p.isDone(6)).toBe(true);
    p.raiseTo(6);
    expect(p.lowWater).toBe(7);
    expect(p.doneCount).toBe(0);
    expect(new TimerProgress({ lowWater: -3, done: 'x' } as never).lowWater).toBe(0);
  });
});
