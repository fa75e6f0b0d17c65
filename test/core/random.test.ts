import fc from 'fast-check';
import { CryptoRandom, SeededRandom } from '../../core/random.js';

describe('SeededRandom', () => {
  it('gives the same sequence for the same seed and another for another seed', () => {
    const take = (seed: number) => {
      const r = new SeededRandom(seed);
      return Array.from({ length: 20 }, () => r.next());
    };
    expect(take(42)).toEqual(take(42));
    expect(take(42)).not.toEqual(take(43));
  });

  it('stays in range for any seed', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 1_000_000 }), (seed, max) => {
        const r = new SeededRandom(seed);
        for (let i = 0; i < 50; i++) {
          const x = r.next();
          const k = r.int(max);
          if (!(x >= 0 && x < 1) || !(Number.isInteger(k) && k >= 0 && k < max)) return false;
        }
        return true;
      }),
    );
  });

  it('spreads values evenly enough to drive fault injection', () => {
    const r = new SeededRandom(7);
    const buckets = new Array(10).fill(0) as number[];
    for (let i = 0; i < 100_000; i++) buckets[r.int(10)]!++;
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(600);
  });
});

describe('CryptoRandom', () => {
  it('draws floats in [0, 1) and bytes of the asked length', () => {
    const r = new CryptoRandom();
    for (let i = 0; i < 5000; i++) {
      const x = r.next();
      expect(x >= 0 && x < 1).toBe(true);
    }
    expect(r.bytes(33)).toHaveLength(33);
  });
});
