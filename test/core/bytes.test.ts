import fc from 'fast-check';
import {
  HEX_BYTES,
  HEX_CODES,
  HEX_DIGITS,
  getU64,
  isNumberedFileName,
  latin1Slice,
  numberedFileName,
  readU16,
  readU32,
  readU64,
  setU64,
  utf8Length,
  writeU16,
  writeU32,
  writeU64,
} from '../../core/bytes.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.oneof(u32, fc.maxSafeNat());
/** Strings of any UTF-16 code units: lone surrogates, pairs, ASCII, two- and three-byte characters. */
const anyString = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
  fc.string({ unit: fc.constantFrom('a', 'é', '€', '\ud83d\ude00', '\ud83d', '\ude00') }),
);

describe('big-endian integers', () => {
  it('u16 and u32 round-trip at any position, in network order', () => {
    fc.assert(
      fc.property(u32, fc.nat(8), (v, at) => {
        const buf = new Uint8Array(at + 4);
        writeU32(buf, at, v);
        expect(readU32(buf, at)).toBe(v);
        expect(Buffer.from(buf).readUInt32BE(at)).toBe(v);
        writeU16(buf, at, v & 0xffff);
        expect(readU16(buf, at)).toBe(v & 0xffff);
        expect(Buffer.from(buf).readUInt16BE(at)).toBe(v & 0xffff);
      }),
      { numRuns: 300 },
    );
  });

  it('writeU32 writes a negative int32 as its two’s complement', () => {
    const buf = new Uint8Array(4);
    writeU32(buf, 0, -2);
    expect([...buf]).toEqual([0xff, 0xff, 0xff, 0xfe]);
    expect(readU32(buf, 0) | 0).toBe(-2);
  });

  it('u64 round-trips every safe integer, through a byte array and through a DataView, with the same bytes', () => {
    fc.assert(
      fc.property(u64, fc.nat(8), (v, at) => {
        const a = new Uint8Array(at + 8);
        writeU64(a, at, v);
        expect(readU64(a, at)).toBe(v);
        expect(Buffer.from(a).readBigUInt64BE(at)).toBe(BigInt(v));
        const b = new Uint8Array(at + 8);
        setU64(new DataView(b.buffer), at, v);
        expect([...b]).toEqual([...a]);
        expect(getU64(new DataView(b.buffer), at)).toBe(v);
      }),
      { numRuns: 300 },
    );
  });

  it('readU64 answers -1 for a value of 2^53 or more', () => {
    const buf = new Uint8Array(8);
    writeU32(buf, 0, 0x200000);
    expect(readU64(buf, 0)).toBe(-1);
    writeU32(buf, 0, 0x1fffff);
    writeU32(buf, 4, 0xffffffff);
    expect(readU64(buf, 0)).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('utf8Length', () => {
  it('agrees with TextEncoder for any string, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) })), (s) =>
        utf8Length(s) === new TextEncoder().encode(s).length,
      ),
      { numRuns: 500 },
    );
  });

  it('agrees with Buffer.byteLength and TextEncoder.encodeInto (the writers the codecs use)', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const n = utf8Length(s);
        expect(n).toBe(Buffer.byteLength(s, 'utf8'));
        const out = new Uint8Array(3 * s.length);
        expect(new TextEncoder().encodeInto(s, out).written).toBe(n);
      }),
      { numRuns: 500 },
    );
  });

  it('counts ASCII as one byte a character, pairs as four, lone surrogates as three', () => {
    expect(utf8Length('')).toBe(0);
    expect(utf8Length('TopicTest')).toBe(9);
    expect(utf8Length('é€')).toBe(5);
    expect(utf8Length('\ud83d\ude00')).toBe(4);
    expect(utf8Length('\ud83d')).toBe(3);
    expect(utf8Length('\ude00\ud83d')).toBe(6);
    expect(utf8Length('a\ud83d')).toBe(4);
  });
});

describe('latin1Slice', () => {
  it('reads bytes of any Uint8Array (a view at an offset included) as one character each', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(8), fc.nat(), fc.nat(), (bytes, lead, a, b) => {
        const backing = new Uint8Array(lead + bytes.length);
        backing.set(bytes, lead);
        const view = backing.subarray(lead);
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
        const end = start + (bytes.length - start === 0 ? 0 : b % (bytes.length - start + 1));
        expect(latin1Slice.call(view, start, end)).toBe(String.fromCharCode(...bytes.subarray(start, end)));
      }),
      { numRuns: 200 },
    );
  });
});

describe('hex tables', () => {
  it('agree with toString(16), upper case', () => {
    for (let d = 0; d < 16; d++) {
      expect(HEX_DIGITS[d]).toBe(d.toString(16).toUpperCase());
      expect(String.fromCharCode(HEX_CODES[d]!)).toBe(HEX_DIGITS[d]);
    }
    expect(HEX_CODES.length).toBe(16);
    for (let b = 0; b < 256; b++) expect(HEX_BYTES[b]).toBe(b.toString(16).toUpperCase().padStart(2, '0'));
    expect(HEX_BYTES.length).toBe(256);
  });
});

describe('numbered file names', () => {
  it('are 20 zero-padded decimal digits, and recognized as such', () => {
    expect(numberedFileName(0)).toBe('00000000000000000000');
    expect(numberedFileName(1073741824)).toBe('00000000001073741824');
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const name = numberedFileName(n);
        expect(name).toHaveLength(20);
        expect(Number(name)).toBe(n);
        expect(isNumberedFileName(name)).toBe(true);
      }),
    );
    for (const bad of ['', '0', '0000000000000000000', '000000000000000000000', '0000000000000000000a', '00000000000000000000.tmp']) {
      expect(isNumberedFileName(bad)).toBe(false);
    }
  });
});
