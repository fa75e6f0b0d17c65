import fc from 'fast-check';
import { decodeMessageId, encodeMessageId, MessageIdError, messageIdEncoder, messageIdPrefix } from '../../store/message-id.js';

describe('message id', () => {
  it('uses RocketMQ layout (32 hex chars) for ipv4:port hosts', () => {
    const id = encodeMessageId('10.0.0.1:10911', 0x1234);
    expect(id).toBe('0A000001' + '00002A9F' + '0000000000001234');
    expect(decodeMessageId(id)).toEqual({ storeHost: '10.0.0.1:10911', commitLogOffset: 0x1234 });
  });

  it('keeps a host that starts with U+FEFF', () => {
    expect(decodeMessageId(encodeMessageId('\uFEFFbroker', 7))).toEqual({ storeHost: '\uFEFFbroker', commitLogOffset: 7 });
  });

  it('round-trips any host and offset', () => {
    const ipHost = fc
      .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 65535 }))
      .map(([a, b, c, d, p]) => `${a}.${b}.${c}.${d}:${p}`);
    const host = fc.oneof(ipHost, fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constantFrom('broker-a/0', '010.0.0.1:1', '1.2.3.4:99999'));
    fc.assert(
      fc.property(host, fc.maxSafeNat(), (h, off) => {
        const id = encodeMessageId(h, off);
        expect(id).toMatch(/^[0-9A-F]+$/);
        expect(decodeMessageId(id)).toEqual({ storeHost: h, commitLogOffset: off });
        expect(decodeMessageId(id.toLowerCase())).toEqual({ storeHost: h, commitLogOffset: off });
      }),
      { numRuns: 500 },
    );
  });

  it('rejects malformed ids and bad input clearly', () => {
    for (const bad of ['', 'XYZ', 'ABC', '0A00000100002A9F00000000000012', '0005AABB', '0A000001FFFFFFFF0000000000001234', '0A000001' + '00002A9F' + 'FFFFFFFF00000000']) {
      expect(() => decodeMessageId(bad)).toThrow(MessageIdError);
    }
    expect(() => decodeMessageId('zz')).toThrow(/malformed message id/);
    expect(() => encodeMessageId('h', -1)).toThrow(MessageIdError);
    expect(() => encodeMessageId('x'.repeat(256), 1)).toThrow(/255/);
  });
});

describe('messageIdEncoder', () => {
  it('gives the ids encodeMessageId gives (property)', () => {
    for (const host of ['10.0.0.1:10911', 'broker-a']) {
      const fast = messageIdEncoder(host);
      fc.assert(
        fc.property(fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 2 ** 33 })), (off) => {
          expect(fast(off)).toBe(encodeMessageId(host, off));
        }),
        { numRuns: 300 },
      );
      // Sequential offsets (the cached high part changes every 64 KiB).
      for (let off = 65_000; off < 200_000; off += 997) expect(fast(off)).toBe(encodeMessageId(host, off));
      expect(() => fast(-1)).toThrow();
      expect(fast(0).startsWith(messageIdPrefix(host))).toBe(true);
      expect(messageIdPrefix(host).length).toBe(encodeMessageId(host, 0).length - 16);
    }
  });
});
