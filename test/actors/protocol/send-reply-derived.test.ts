import fc from 'fast-check';
import { MessageCodecError } from '../../../core/message-codec.js';
import { decodeSendReply, encodeSendReply, type SendReplyInput } from '../../../actors/protocol/send-reply.js';
import { encodeMessageId } from '../../../store/message-id.js';

describe('send reply without msgIds (trusted prefix)', () => {
  const host = 'broker-b/1';
  const prefix = encodeMessageId(host, 0).slice(0, -16);

  it('derives every msgId from the prefix and the commit log offset', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 2 ** 45 }), fc.option(fc.string({ maxLength: 40 }), { nil: undefined })), { minLength: 1, maxLength: 30 }), (rows) => {
        const items: SendReplyInput[] = rows.map(([q, c, u]) => (u === undefined ? { queueOffset: q, commitLogOffset: c } : { queueOffset: q, commitLogOffset: c, uniqKey: u }));
        const back = decodeSendReply(encodeSendReply(items, prefix));
        expect(back).toEqual(rows.map(([q, c, u]) => ({ msgId: encodeMessageId(host, c), queueOffset: q, commitLogOffset: c, ...(u === undefined ? {} : { uniqKey: u }) })));
        // the same bytes as when every id is spelled out
        expect(encodeSendReply(items, prefix)).toEqual(encodeSendReply(back, prefix));
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a result without msgId when there is no prefix to derive it from', () => {
    expect(() => encodeSendReply([{ queueOffset: 0, commitLogOffset: 5 }])).toThrow(MessageCodecError);
    expect(() => encodeSendReply([{ queueOffset: 0, commitLogOffset: 5 }], '')).toThrow(MessageCodecError);
  });
});
