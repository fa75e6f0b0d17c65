import fc from 'fast-check';
import { newUniqKey, uniqKeySource } from '../../../actors/broker/put-message.js';
import { SeededRandom } from '../../../actors/runtime/random.js';

describe('unique keys', () => {
  it('newUniqKey gives 32 upper-case hex digits', () => {
    const r = new SeededRandom(7);
    for (let i = 0; i < 100; i++) expect(newUniqKey(r)).toMatch(/^[0-9A-F]{32}$/);
  });

  it('uniqKeySource gives distinct 32-hex-digit keys within a batch and across batches', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 1, max: 300 }), (seed, n) => {
        const r = new SeededRandom(seed);
        const seen = new Set<string>();
        for (let batch = 0; batch < 3; batch++) {
          const next = uniqKeySource(r);
          for (let i = 0; i < n; i++) {
            const k = next();
            expect(k).toMatch(/^[0-9A-F]{32}$/);
            seen.add(k);
          }
        }
        expect(seen.size).toBe(3 * n);
      }),
      { numRuns: 50 },
    );
  });

  it('is deterministic for a seed (scenarios replay)', () => {
    const a = uniqKeySource(new SeededRandom(3));
    const b = uniqKeySource(new SeededRandom(3));
    expect([a(), a()]).toEqual([b(), b()]);
  });
});
