import fc from 'fast-check';
import { newUniqKey, sharedUniqKeySource, toPutMessage, uniqKeyOf, uniqKeySource } from '../../../actors/broker/put-message.js';
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

  it('sharedUniqKeySource is one source per random source, distinct keys across calls, deterministic for a seed', () => {
    const r = new SeededRandom(5);
    const a = sharedUniqKeySource(r);
    expect(sharedUniqKeySource(r)).toBe(a);
    const keys = new Set<string>();
    for (let i = 0; i < 1000; i++) keys.add(sharedUniqKeySource(r)());
    expect(keys.size).toBe(1000);
    for (const k of keys) expect(k).toMatch(/^[0-9A-F]{32}$/);
    const b = sharedUniqKeySource(new SeededRandom(5));
    expect(b()).toBe([...keys][0]);
  });

  it('toPutMessage carries a new unique key apart for a message without properties, inside them otherwise', () => {
    const born = { queueId: 1, bornHost: 'h', bornTimestamp: 2 };
    const plain = toPutMessage({ topic: 'T', body: new Uint8Array(1), tags: 'a' }, born, () => 'U1');
    expect(plain).toMatchObject({ topic: 'T', queueId: 1, tags: 'a', uniqKey: 'U1' });
    expect(plain.properties).toBeUndefined();
    expect(uniqKeyOf(plain)).toBe('U1');
    const withProps = toPutMessage({ topic: 'T', body: new Uint8Array(1), properties: { x: 'y' } }, born, () => 'U2');
    expect(withProps.properties).toEqual({ x: 'y', UNIQ_KEY: 'U2' });
    expect(uniqKeyOf(withProps)).toBe('U2');
    const own = toPutMessage({ topic: 'T', body: new Uint8Array(1), properties: { UNIQ_KEY: 'mine' } }, born, () => 'U3');
    expect(uniqKeyOf(own)).toBe('mine');
  });

  it('is deterministic for a seed (scenarios replay)', () => {
    const a = uniqKeySource(new SeededRandom(3));
    const b = uniqKeySource(new SeededRandom(3));
    expect([a(), a()]).toEqual([b(), b()]);
  });
});
