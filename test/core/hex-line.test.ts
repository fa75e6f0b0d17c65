import fc from 'fast-check';
import { HexLine } from '../../core/hex-line.js';

const hex = (v: number, digits: number): string => v.toString(16).toUpperCase().padStart(digits, '0');

describe('HexLine', () => {
  it('gives every string as its prefix and the hex digits of its value, whatever the order they are read in', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 10 })),
        fc.constantFrom(8 as const, 16 as const),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
        fc.boolean(),
        (prefix, digits, fractions, reverse) => {
          const max = digits === 8 ? 0xffffffff : Number.MAX_SAFE_INTEGER;
          const values = fractions.map((f) => Math.floor(f * max));
          const line = new HexLine(prefix, digits, values.length);
          const at = values.map((v) => line.add(v));
          const order = reverse ? [...at].reverse() : at;
          for (const i of order) expect(line.at(i)).toBe(prefix + hex(values[i]!, digits));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('takes no string once read, and has none past those added', () => {
    const line = new HexLine('P-', 8, 3);
    line.add(1);
    line.add(0xabc);
    expect([line.at(1), line.at(0)]).toEqual(['P-00000ABC', 'P-00000001']);
    expect(() => line.add(2)).toThrow(Error);
    expect(() => line.at(2)).toThrow(RangeError);
  });

  it('gives right strings while many lines are open at once (their scratch is reused)', () => {
    const lines = Array.from({ length: 20 }, (_, k) => new HexLine(`L${k}-`, 8, 300));
    for (let v = 0; v < 300; v++) lines.forEach((l, k) => l.add(v * 20 + k));
    lines.forEach((l, k) => expect(l.at(299)).toBe(`L${k}-${hex(299 * 20 + k, 8)}`));
    const again = new HexLine('Z', 16, 2);
    again.add(5);
    expect(again.at(0)).toBe(`Z${hex(5, 16)}`);
  });

  it('refuses more strings than it has room for', () => {
    const line = new HexLine('X', 16, 1);
    line.add(7);
    expect(() => line.add(8)).toThrow(RangeError);
  });
});
