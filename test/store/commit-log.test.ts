import fc from 'fast-check';
import { CompactPutResult, derivedMsgIdPrefix } from '../../store/commit-log.js';
import { encodeMessageId, messageIdEncoder } from '../../store/message-id.js';

describe('compact put results', () => {
  it('builds the same items as one object per message, only when read, once', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 40 }), fc.nat(), fc.integer({ min: 1, max: 5000 })), { maxLength: 40 }), (rows) => {
        let built = 0;
        const id = (o: number): string => {
          built++;
          return encodeMessageId('10.0.0.1:10911', o);
        };
        const r = new CompactPutResult(rows.map((x) => x[0]), rows.map((x) => x[1]), rows.map((x) => x[2]), id, undefined);
        expect(r.status).toBe(0);
        expect(r.count).toBe(rows.length);
        expect(built).toBe(0);
        const items = r.results;
        expect(items).toEqual(rows.map(([c, q, s]) => ({ commitLogOffset: c, queueOffset: q, size: s, msgId: encodeMessageId('10.0.0.1:10911', c) })));
        expect(r.results).toBe(items);
        expect(built).toBe(rows.length);
      }),
      { numRuns: 50 },
    );
  });

  it('finds the msgId prefix of the store id form, and none for another form', () => {
    const host = 'broker-a:10911';
    const prefix = derivedMsgIdPrefix(messageIdEncoder(host));
    expect(prefix).toBe(encodeMessageId(host, 0).slice(0, -16));
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (o) => expect(prefix! + o.toString(16).toUpperCase().padStart(16, '0')).toBe(encodeMessageId(host, o))), { numRuns: 100 });
    expect(derivedMsgIdPrefix((o) => `id-${o}`)).toBeUndefined();
    expect(derivedMsgIdPrefix((o) => `P${o.toString(16).padStart(16, '0')}`)).toBeUndefined(); // lower case hex
  });
});
