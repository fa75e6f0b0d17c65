import fc from 'fast-check';
import { decodeMessageId, encodeMessageId, MessageIdError } from '../../store/message-id.js';

describe('message id', () => {
  it('uses RocketMQ layout (32 hex chars) for ipv4:port hosts', () => {
    const id = encodeMessageId('10.0.0.1:10911', 0x1234);
    expect(id).toBe('0A000001' + '00002A9F' + '0000000000001234');
    expect(decodeMessageId(id)).toEqual({ storeHost: '10.0.0.1:10911', commitLogOffset: 0x1234 });
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
