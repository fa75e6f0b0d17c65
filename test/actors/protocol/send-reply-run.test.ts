import fc from 'fast-check';
import { decodeSendReply, encodeSendReply, uniqKeyRunOf, type SendReplyInput } from '../../../actors/protocol/send-reply.js';

const hex = (v: number, digits: number): string => v.toString(16).toUpperCase().padStart(digits, '0');
const hexPrefix = fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 24, maxLength: 24 }).map((ds) => ds.map((d) => hex(d, 1)).join(''));

describe('send reply: unique keys of a batch as a run of one counter', () => {
  it('a run found from the ends encodes to the same reply the keys themselves give', () => {
    fc.assert(
      fc.property(hexPrefix, fc.integer({ min: 0, max: 2 ** 32 - 600 }), fc.integer({ min: 1, max: 300 }), (prefix, first, n) => {
        const keys = Array.from({ length: n }, (_, i) => prefix + hex(first + i, 8));
        const run = uniqKeyRunOf(keys[0], keys[n - 1], n);
        expect(run).toEqual({ prefix, first });
        const rows = keys.map((uniqKey, i) => ({ queueOffset: i, commitLogOffset: 1000 + i * 200, msgId: `ID${i}`, uniqKey }));
        const withRun = encodeSendReply(rows.map(({ uniqKey: _u, ...rest }) => rest as SendReplyInput), undefined, run);
        expect(withRun).toEqual(encodeSendReply(rows));
        expect(decodeSendReply(withRun).map((r) => r.uniqKey)).toEqual(keys);
      }),
    );
  });

  it('finds no run when the ends are not one prefix and consecutive counters', () => {
    const p = 'ABCDEF0123456789ABCDEF01';
    expect(uniqKeyRunOf(`${p}00000001`, `${p}00000003`, 3)).toEqual({ prefix: p, first: 1 });
    expect(uniqKeyRunOf(`${p}00000001`, `${p}00000004`, 3)).toBeUndefined(); // a gap
    expect(uniqKeyRunOf(`${p}00000001`, `FFFFFF0123456789ABCDEF0100000003`, 3)).toBeUndefined(); // another prefix
    expect(uniqKeyRunOf(`${p}0000000G`, `${p}00000003`, 3)).toBeUndefined(); // not hex
    expect(uniqKeyRunOf(`${p.toLowerCase()}00000001`, `${p.toLowerCase()}00000003`, 3)).toBeUndefined(); // lower case
    expect(uniqKeyRunOf(undefined, `${p}00000003`, 3)).toBeUndefined();
    expect(uniqKeyRunOf('short', 'short', 1)).toBeUndefined();
  });
});
