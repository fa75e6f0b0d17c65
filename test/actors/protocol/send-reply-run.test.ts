import fc from 'fast-check';
import { decodeSendReply, encodeSendReply, type SendReplyInput } from '../../../actors/protocol/send-reply.js';

const hex = (v: number, digits: number): string => v.toString(16).toUpperCase().padStart(digits, '0');
const hexPrefix = fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 24, maxLength: 24 }).map((ds) => ds.map((d) => hex(d, 1)).join(''));

describe('send reply: unique keys of a batch as a run of one counter', () => {
  it('a run encodes to the same reply the keys themselves give', () => {
    fc.assert(
      fc.property(hexPrefix, fc.integer({ min: 0, max: 2 ** 32 - 600 }), fc.integer({ min: 1, max: 300 }), (prefix, first, n) => {
        const keys = Array.from({ length: n }, (_, i) => prefix + hex(first + i, 8));
        const run = { prefix, first };
        const rows = keys.map((uniqKey, i) => ({ queueOffset: i, commitLogOffset: 1000 + i * 200, msgId: `ID${i}`, uniqKey }));
        const withRun = encodeSendReply(rows.map(({ uniqKey: _u, ...rest }) => rest as SendReplyInput), undefined, run);
        expect(withRun).toEqual(encodeSendReply(rows));
        expect(decodeSendReply(withRun).map((r) => r.uniqKey)).toEqual(keys);
      }),
    );
  });
});
