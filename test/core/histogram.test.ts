import { cumulativeCounts, Histogram, LATENCY_BOUNDS_MS } from '../../core/histogram.js';

describe('Histogram', () => {
  it('puts each value in the first bucket whose bound is at least the value, the rest in the last', () => {
    const h = new Histogram([1, 5, 10]);
    for (const v of [0, 1, 1.5, 5, 7, 10, 11, 1000]) h.observe(v);
    const s = h.snapshot();
    expect(s.counts).toEqual([2, 2, 2, 2]);
    expect(s.count).toBe(8);
    expect(s.sum).toBeCloseTo(1035.5);
    expect(cumulativeCounts(s)).toEqual([2, 4, 6, 8]);
  });

  it('starts empty, ignores NaN, and hands out copies', () => {
    const h = new Histogram();
    expect(h.snapshot()).toEqual({ bounds: LATENCY_BOUNDS_MS, counts: new Array(LATENCY_BOUNDS_MS.length + 1).fill(0), sum: 0, count: 0 });
    const before = h.snapshot();
    h.observe(NaN);
    h.observe(0.3);
    expect(before.count).toBe(0);
    const s = h.snapshot();
    expect(s.count).toBe(1);
    expect(s.counts[LATENCY_BOUNDS_MS.indexOf(0.5)]).toBe(1);
  });

  it('refuses bounds that are not ascending or not finite', () => {
    expect(() => new Histogram([1, 1])).toThrow(RangeError);
    expect(() => new Histogram([2, 1])).toThrow(RangeError);
    expect(() => new Histogram([1, Infinity])).toThrow(RangeError);
  });
});
