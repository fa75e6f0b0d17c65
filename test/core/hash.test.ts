import { javaHashCode, murmur3 } from '../../core/hash.js';

describe('hashes', () => {
  it('murmur3 matches reference vectors', () => {
    expect(murmur3('')).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('hello')).toBe(0x248bfa47);
    expect(murmur3('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
    expect(murmur3('abc')).toBe(0xb3dd93fa);
  });

  it('javaHashCode matches Java', () => {
    expect(javaHashCode('')).toBe(0);
    expect(javaHashCode('hello')).toBe(99162322);
    expect(javaHashCode('polygenelubricants')).toBe(-2147483648);
  });
});
