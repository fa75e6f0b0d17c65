import fc from 'fast-check';
import { UniqKeys, sharedUniqKeys, toPutMessage, uniqKeyOf } from '../../../actors/broker/put-message.js';
import { uniqKeyRunOf } from '../../../actors/protocol/send-reply.js';
import { SeededRandom } from '../../../actors/runtime/random.js';

describe('unique keys', () => {
  it('UniqKeys gives distinct 32-hex-digit keys within a batch and across batches, in a row within a batch', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 5 }), (seed, sizes) => {
        const keys = new UniqKeys(new SeededRandom(seed), 500);
        const seen = new Set<string>();
        for (const n of sizes) {
          const next = keys.take(n);
          const batch = Array.from({ length: n }, () => next());
          for (const k of batch) expect(k).toMatch(/^[0-9A-F]{32}$/);
          if (n > 0) expect(uniqKeyRunOf(batch[0], batch[n - 1], n)).toBeDefined();
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
    const first = keys.take(1)();
    keys.take(6);
    const a = keys.take(1)(); // the last key under the first prefix
    const b = keys.take(2)(); // two do not fit: a new prefix
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
    for (let i = 0; i < 1000; i++) keys.add(sharedUniqKeys(r).take(1)());
    expect(keys.size).toBe(1000);
    expect(sharedUniqKeys(new SeededRandom(5)).take(1)()).toBe([...keys][0]);
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
    const a = new UniqKeys(new SeededRandom(3)).take(2);
    const b = new UniqKeys(new SeededRandom(3)).take(2);
    expect([a(), a()]).toEqual([b(), b()]);
  });
});
