import fc from 'fast-check';
import { UniqKeyBatch, UniqKeys, sharedUniqKeys, toPutMessage, uniqKeyOf } from '../../../actors/broker/put-message.js';
import { SeededRandom } from '../../../core/random.js';

describe('unique keys', () => {
  it('UniqKeys gives distinct 32-hex-digit keys within a batch and across batches, in a row within a batch', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 5 }), (seed, sizes) => {
        const keys = new UniqKeys(new SeededRandom(seed), 500);
        const seen = new Set<string>();
        for (const n of sizes) {
          const taken = keys.take(n);
          const next = () => taken.nextKey();
          const batch = Array.from({ length: n }, () => next());
          for (const k of batch) expect(k).toMatch(/^[0-9A-F]{32}$/);
          batch.forEach((k, i) => expect(k).toBe(taken.prefix + (taken.first + i).toString(16).toUpperCase().padStart(8, '0')));
          expect(() => next()).toThrow(RangeError);
          for (const k of batch) seen.add(k);
          expect(() => keys.take(501)).toThrow(RangeError);
        }
        expect(seen.size).toBe(sizes.reduce((a, b) => a + b, 0));
      }),
      { numRuns: 50 },
    );
  });

  it('draws a new prefix when a batch would run past the keys left under the current one', () => {
    const keys = new UniqKeys(new SeededRandom(1), 8);
    const first = keys.take(1).nextKey();
    keys.take(6);
    const a = keys.take(1).nextKey(); // the last key under the first prefix
    const b = keys.take(2).nextKey(); // two do not fit: a new prefix
    expect(a.slice(0, 24)).toBe(first.slice(0, 24));
    expect(a.slice(24)).toBe('00000007');
    expect(b.slice(0, 24)).not.toBe(first.slice(0, 24));
    expect(b.slice(24)).toBe('00000000');
  });

  it('sharedUniqKeys is one per random source, distinct keys across calls, deterministic for a seed', () => {
    const r = new SeededRandom(5);
    const a = sharedUniqKeys(r);
    expect(sharedUniqKeys(r)).toBe(a);
    const keys = new Set<string>();
    for (let i = 0; i < 1000; i++) keys.add(sharedUniqKeys(r).take(1).nextKey());
    expect(keys.size).toBe(1000);
    expect(sharedUniqKeys(new SeededRandom(5)).take(1).nextKey()).toBe([...keys][0]);
  });

  it('toPutMessage carries a new unique key apart for a message without properties, inside them otherwise', () => {
    const born = { queueId: 1, bornHost: 'h', bornTimestamp: 2 };
    const keys = new UniqKeyBatch('P-', 0xfe, 3);
    const plain = toPutMessage({ topic: 'T', body: new Uint8Array(1), tags: 'a' }, born, keys);
    expect(plain).toMatchObject({ topic: 'T', queueId: 1, tags: 'a', uniqPrefix: 'P-', uniqSeq: 0xfe });
    expect(plain.properties).toBeUndefined();
    expect(uniqKeyOf(plain)).toBe('P-000000FE');
    const withProps = toPutMessage({ topic: 'T', body: new Uint8Array(1), properties: { x: 'y' } }, born, keys);
    expect(withProps.properties).toEqual({ x: 'y', UNIQ_KEY: 'P-000000FF' });
    expect(uniqKeyOf(withProps)).toBe('P-000000FF');
    const own = toPutMessage({ topic: 'T', body: new Uint8Array(1), properties: { UNIQ_KEY: 'mine' } }, born, keys);
    expect(uniqKeyOf(own)).toBe('mine');
    toPutMessage({ topic: 'T', body: new Uint8Array(1) }, born, keys); // the third and last key
    expect(() => toPutMessage({ topic: 'T', body: new Uint8Array(1) }, born, keys)).toThrow(RangeError);
  });

  it('is deterministic for a seed (scenarios replay)', () => {
    const a = new UniqKeys(new SeededRandom(3)).take(2);
    const b = new UniqKeys(new SeededRandom(3)).take(2);
    expect([a.nextKey(), a.nextKey()]).toEqual([b.nextKey(), b.nextKey()]);
  });
});
