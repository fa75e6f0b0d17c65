import fc from 'fast-check';
import { MessageCodecError } from '../../../core/message-codec.js';
import { decodeSendReply, encodeSendReply, type SendReplyItem } from '../../../actors/protocol/send-reply.js';
import { encodeMessageId } from '../../../store/message-id.js';

const hex8 = (n: number): string => (n >>> 0).toString(16).toUpperCase().padStart(8, '0');

describe('send reply codec', () => {
  it('round-trips store ids and broker-made unique keys compactly', () => {
    const prefix = 'ABCDEF0123456789ABCDEF01';
    const items: SendReplyItem[] = Array.from({ length: 100 }, (_, i) => ({
      msgId: encodeMessageId('broker-a/0', 1000 + i * 130),
      queueOffset: 7 + i,
      commitLogOffset: 1000 + i * 130,
      uniqKey: prefix + hex8(i),
    }));
    const bytes = encodeSendReply(items);
    expect(decodeSendReply(bytes)).toEqual(items);
    // a prefix the store vouches for gives the same bytes without checking each id
    const prefix0 = items[0]!.msgId.slice(0, -16);
    expect(encodeSendReply(items, prefix0)).toEqual(bytes);
    // a vouched prefix that is not the first id's is ignored
    expect(decodeSendReply(encodeSendReply(items, 'FF'))).toEqual(items);
    // prefixes once, then 1 + 8 + 8 + 4 bytes per message
    expect(bytes.length).toBeLessThan(100 + 100 * 21);
  });

  it('keeps an id or key that starts with U+FEFF', () => {
    const items: SendReplyItem[] = [
      { msgId: '\uFEFFid', queueOffset: 1, commitLogOffset: 2, uniqKey: '\uFEFF' },
      { msgId: encodeMessageId('\uFEFFhost', 5), queueOffset: 3, commitLogOffset: 5, uniqKey: '\uFEFFkey' },
    ];
    expect(decodeSendReply(encodeSendReply(items))).toEqual(items);
  });

  it('round-trips anything: ids and keys of any shape, big offsets, no key', () => {
    const str = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFabcdef'), minLength: 30, maxLength: 34 }), fc.string({ unit: 'binary', maxLength: 8 }));
    const item = fc.record(
      {
        host: fc.constantFrom('broker-a/0', '10.0.0.1:10911', 'é/1'),
        derived: fc.boolean(),
        other: str,
        queueOffset: fc.maxSafeNat(),
        commitLogOffset: fc.maxSafeNat(),
        uniqKey: fc.oneof(str, fc.constant('0123456789ABCDEF01234567').chain((p) => fc.nat().map((n) => p + hex8(n)))),
      },
      { requiredKeys: ['host', 'derived', 'other', 'queueOffset', 'commitLogOffset'] },
    );
    fc.assert(
      fc.property(fc.array(item, { maxLength: 20 }), (raw) => {
        const items: SendReplyItem[] = raw.map((r) => {
          const it: SendReplyItem = { msgId: r.derived ? encodeMessageId(r.host, r.commitLogOffset) : r.other, queueOffset: r.queueOffset, commitLogOffset: r.commitLogOffset };
          if (r.uniqKey !== undefined) it.uniqKey = r.uniqKey;
          return it;
        });
        expect(decodeSendReply(encodeSendReply(items))).toEqual(items);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses malformed bodies with a codec error, never another error', () => {
    const good = encodeSendReply([{ msgId: encodeMessageId('b/0', 5), queueOffset: 1, commitLogOffset: 5, uniqKey: 'X' }]);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, v) => {
        const bad = good.slice();
        bad[at] = v;
        try {
          decodeSendReply(bad);
        } catch (err) {
          expect(err).toBeInstanceOf(MessageCodecError);
        }
      }),
      { numRuns: 200 },
    );
    for (let n = 0; n < good.length; n++) expect(() => decodeSendReply(good.subarray(0, n))).toThrow(MessageCodecError);
    expect(() => encodeSendReply([{ msgId: 'x', queueOffset: -1, commitLogOffset: 0 }])).toThrow(MessageCodecError);
  });
});
