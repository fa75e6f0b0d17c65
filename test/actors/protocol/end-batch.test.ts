import fc from 'fast-check';
import { decodeEndBatch, encodeEndBatch, MAX_END_BATCH, type EndEntry } from '../../../actors/protocol/end-batch.js';
import { Status } from '../../../core/status.js';

const entry = fc.record({
  msgId: fc.stringMatching(/^[0-9A-F]{2,80}$/),
  halfOffset: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  state: fc.constantFrom('COMMIT' as const, 'ROLLBACK' as const, 'UNKNOWN' as const),
});

describe('END_TRANSACTION batches', () => {
  it('round-trip any list of outcomes', () => {
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 50 }), (entries: EndEntry[]) => {
        expect(decodeEndBatch(encodeEndBatch(entries), entries.length)).toEqual(entries);
      }),
      { numRuns: 200 },
    );
  });

  it('refuse empty, oversized or bad lists when encoding', () => {
    const e: EndEntry = { msgId: 'AB', halfOffset: 1, state: 'COMMIT' };
    expect(() => encodeEndBatch([])).toThrow(expect.objectContaining({ status: Status.INVALID_ARGUMENT }));
    expect(() => encodeEndBatch(Array.from({ length: MAX_END_BATCH + 1 }, () => e))).toThrow(/1 to/);
    expect(() => encodeEndBatch([{ ...e, msgId: 'A\tB' }])).toThrow(/message id/);
    expect(() => encodeEndBatch([{ ...e, halfOffset: -1 }])).toThrow(/halfOffset/);
    expect(() => encodeEndBatch([{ ...e, state: 'MAYBE' as 'COMMIT' }])).toThrow(/state/);
  });

  it('refuse malformed bodies and wrong counts with BAD_FRAME', () => {
    const body = encodeEndBatch([{ msgId: 'AB', halfOffset: 1, state: 'COMMIT' }, { msgId: 'CD', halfOffset: 2, state: 'ROLLBACK' }]);
    const bad = (b: Uint8Array, n: number) => expect(() => decodeEndBatch(b, n)).toThrow(expect.objectContaining({ status: Status.BAD_FRAME }));
    bad(body, 1);
    bad(body, 3);
    bad(body, 0);
    for (const text of ['', 'COMMIT\t1', 'COMMIT\t-1\tAB', 'MAYBE\t1\tAB', 'COMMIT\t1\tAB\tx', 'COMMIT\t1\t'])
      bad(Buffer.from(text), 1);
    bad(Uint8Array.from([0xff, 0xfe]), 1);
  });
});
