import fc from 'fast-check';
import { Status, StatusError } from '../../../core/status.js';
import { SeededRandom } from '../../../core/random.js';
import { UniqKeyBatch, UniqKeys, requestUniqRun, runKey, sharedUniqKeys, uniqRunProblem } from '../../../actors/protocol/uniq-keys.js';

const hex = (v: number, digits: number): string => v.toString(16).toUpperCase().padStart(digits, '0');
const hexPrefix = fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 24, maxLength: 24 }).map((ds) => ds.map((d) => hex(d, 1)).join(''));
const keysOf = (b: UniqKeyBatch): string[] => Array.from({ length: b.count }, (_, i) => b.keyAt(i));

describe('unique keys', () => {
  it('UniqKeys gives distinct 32-hex-digit keys within a batch and across batches, in a row within a batch', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 5 }), (seed, sizes) => {
        const keys = new UniqKeys(new SeededRandom(seed), 500);
        const seen = new Set<string>();
        for (const n of sizes) {
          const taken = keys.take(n);
          const batch = keysOf(taken);
          for (const k of batch) expect(k).toMatch(/^[0-9A-F]{32}$/);
          batch.forEach((k, i) => expect(k).toBe(taken.prefix + hex(taken.first + i, 8)));
          expect(() => taken.keyAt(n)).toThrow(RangeError);
          // the batch's line holds the same keys
          const line = taken.line();
          batch.forEach((k, i) => expect(line.at(i)).toBe(k));
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
    const first = keys.take(1).keyAt(0);
    keys.take(6);
    const a = keys.take(1).keyAt(0); // the last key under the first prefix
    const b = keys.take(2).keyAt(0); // two do not fit: a new prefix
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
    for (let i = 0; i < 1000; i++) keys.add(sharedUniqKeys(r).take(1).keyAt(0));
    expect(keys.size).toBe(1000);
    expect(sharedUniqKeys(new SeededRandom(5)).take(1).keyAt(0)).toBe([...keys][0]);
  });

  it('is deterministic for a seed (scenarios replay)', () => {
    const a = new UniqKeys(new SeededRandom(3)).take(2);
    const b = new UniqKeys(new SeededRandom(3)).take(2);
    expect(keysOf(a)).toEqual(keysOf(b));
  });

  it('runKey writes the number as 8 uppercase hex digits, modulo 2^32', () => {
    expect(runKey('P', 0xab)).toBe('P000000AB');
    expect(runKey('P', 2 ** 32 + 1)).toBe('P00000001');
  });
});

describe('unique key run headers', () => {
  it('a batch run goes through its headers and back to the same keys', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 1, max: 300 }), (seed, n) => {
        const taken = new UniqKeys(new SeededRandom(seed), 1000).take(n);
        const run = requestUniqRun(taken.header(), n)!;
        expect(run).toBeInstanceOf(UniqKeyBatch);
        expect(keysOf(run)).toEqual(keysOf(taken));
      }),
      { numRuns: 50 },
    );
  });

  it('a request without the headers has no run', () => {
    expect(requestUniqRun({ topic: 'T' }, 3)).toBeUndefined();
    expect(uniqRunProblem(undefined, undefined, 3)).toBeUndefined();
  });

  it('takes any well-formed run whose last number is a u32', () => {
    fc.assert(
      fc.property(hexPrefix, fc.integer({ min: 1, max: 1024 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (prefix, n, raw) => {
        const first = raw % (2 ** 32 - n + 1);
        const run = requestUniqRun({ uniqPrefix: prefix, uniqFirst: first }, n)!;
        expect(run.keyAt(n - 1)).toBe(prefix + hex(first + n - 1, 8));
      }),
    );
  });

  it('refuses a malformed run with BAD_FRAME', () => {
    const prefixChar = fc.constantFrom(...'0123456789ABCDEF'.split(''));
    const badPrefix = fc.oneof(
      // wrong length
      fc.array(prefixChar, { maxLength: 40 }).filter((cs) => cs.length !== 24).map((cs) => cs.join('')),
      // right length, a character that is not an uppercase hex digit
      fc.tuple(hexPrefix, fc.integer({ min: 0, max: 23 }), fc.string({ minLength: 1, maxLength: 1 }).filter((c) => !/[0-9A-F]/.test(c))).map(([p, at, c]) => p.slice(0, at) + c + p.slice(at + 1)),
      fc.constantFrom<unknown>(12, true, null),
    );
    const badFirst = fc.oneof(
      fc.integer({ max: -1 }),
      fc.double({ min: 0, max: 1e6, noNaN: true }).filter((d) => !Number.isInteger(d)),
      fc.constantFrom<unknown>(NaN, Infinity, 2 ** 32, 2 ** 53, '0', false),
    );
    const expectBad = (header: Record<string, unknown>, n: number): void => {
      let err: unknown;
      try {
        requestUniqRun(header, n);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(StatusError);
      expect((err as StatusError).status).toBe(Status.BAD_FRAME);
    };
    fc.assert(fc.property(badPrefix, fc.integer({ min: 0, max: 1000 }), (prefix, first) => expectBad({ uniqPrefix: prefix, uniqFirst: first }, 1)));
    fc.assert(fc.property(hexPrefix, badFirst, (prefix, first) => expectBad({ uniqPrefix: prefix, uniqFirst: first }, 1)));
    // the last key would wrap around onto the batch's first ones
    fc.assert(fc.property(hexPrefix, fc.integer({ min: 2, max: 1000 }), (prefix, n) => expectBad({ uniqPrefix: prefix, uniqFirst: 2 ** 32 - n + 1 }, n)));
    // one header without the other
    fc.assert(fc.property(hexPrefix, (prefix) => expectBad({ uniqPrefix: prefix }, 1)));
    expectBad({ uniqFirst: 0 }, 1);
    expectBad({ uniqPrefix: 'abcdef0123456789abcdef01', uniqFirst: 0 }, 1); // lowercase
  });
});
