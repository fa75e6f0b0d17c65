import fc from 'fast-check';
import { CACHED_MAX, readUtf8 } from '../../core/utf8-strings.js';

const enc = new TextEncoder();

describe('readUtf8: bytes to strings through the short-string cache', () => {
  it('returns what was encoded, at any position in a buffer, however often and in whatever order it is read', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constantFrom('topic', 'queueId', '\uFEFFbom', '')), { minLength: 1, maxLength: 40 }), fc.nat(7), (strings, lead) => {
        const parts = strings.map((s) => enc.encode(s));
        const buf = new Uint8Array(lead + parts.reduce((n, p) => n + p.length, 0));
        const at: number[] = [];
        let p = lead;
        for (const part of parts) {
          at.push(p);
          buf.set(part, p);
          p += part.length;
        }
        // twice: the second pass is served from the cache where the first filled it
        for (let round = 0; round < 2; round++) strings.forEach((s, i) => expect(readUtf8(buf, at[i]!, at[i]! + parts[i]!.length)).toBe(s));
      }),
    );
  });

  it('never confuses two strings that share a cache slot: each read compares the bytes', () => {
    // far more distinct short strings than slots, read back in turn: every one must come back as itself
    const names = Array.from({ length: 5000 }, (_, i) => `q-${i.toString(36)}`);
    const bytes = names.map((n) => enc.encode(n));
    for (let round = 0; round < 2; round++) names.forEach((n, i) => expect(readUtf8(bytes[i]!, 0, bytes[i]!.length)).toBe(n));
  });

  it('reads long ASCII and any UTF-8 beyond the cache, and says undefined for bytes that are not UTF-8', () => {
    const long = 'x'.repeat(CACHED_MAX + 1);
    expect(readUtf8(enc.encode(long), 0, long.length)).toBe(long);
    expect(readUtf8(enc.encode('größe'), 0, 7)).toBe('größe');
    expect(readUtf8(new Uint8Array([0x61, 0xff, 0x62]), 0, 3)).toBeUndefined();
    expect(readUtf8(new Uint8Array([0xc3]), 0, 1)).toBeUndefined();
    expect(readUtf8(new Uint8Array(4), 2, 2)).toBe('');
  });
});
