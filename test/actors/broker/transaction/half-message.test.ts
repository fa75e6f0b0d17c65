import fc from 'fast-check';
import { fromHalf, halfView, isHalf, opMessage, parseOp, toHalf } from '../../../../actors/broker/transaction/half-message.js';
import type { MessageExt } from '../../../../actors/protocol/message.js';
import { Status } from '../../../../actors/protocol/status.js';
import { TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC } from '../../../../actors/protocol/validation.js';

const props = { UNIQ_KEY: 'K', TRAN_MSG: 'true', PGROUP: 'tpg', user: 'v' };
const put = { topic: 'orders', queueId: 2, body: Buffer.from('x'), keys: ['k1'], properties: props, bornTimestamp: 1, bornHost: 'h' };

describe('half messages', () => {
  it('go to the half topic and come back, committed, to their real topic without TRAN_MSG', () => {
    expect(isHalf(put)).toBe(true);
    const h = toHalf(put);
    expect(h).toMatchObject({ topic: TRANS_HALF_TOPIC, queueId: 0, properties: { ...props, REAL_TOPIC: 'orders', REAL_QID: '2' } });
    const ext: MessageExt = { msgId: 'M', topic: h.topic, queueId: 0, queueOffset: 7, commitLogOffset: 0, bornTimestamp: 1, storeTimestamp: 2, reconsumeTimes: 0, bornHost: 'h', storeHost: 's', keys: ['k1'], body: h.body, properties: h.properties! };
    expect(halfView(ext)).toMatchObject({ topic: 'orders', queueId: 2, properties: props });
    const c = fromHalf(ext);
    expect(c).toMatchObject({ topic: 'orders', queueId: 2, keys: ['k1'], properties: { UNIQ_KEY: 'K', PGROUP: 'tpg', user: 'v' } });
    expect(c.properties?.TRAN_MSG).toBeUndefined();
  });

  it('must name their producer group and may not be delayed', () => {
    expect(() => toHalf({ ...put, properties: { TRAN_MSG: 'true' } })).toThrow(expect.objectContaining({ status: Status.MESSAGE_ILLEGAL }));
    expect(() => toHalf({ ...put, properties: { ...props, DELAY: '3' } })).toThrow(/delayed/);
    expect(() => toHalf({ ...put, properties: { ...props, DELIVER_AT: '3' } })).toThrow(/delayed/);
  });

  it('op records round-trip; malformed ones parse to undefined', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom('COMMIT' as const, 'ROLLBACK' as const), (o, outcome) => {
        const m = opMessage(o, outcome, 5, 'b');
        expect(m.topic).toBe(TRANS_OP_HALF_TOPIC);
        expect(parseOp({ tags: m.tags!, body: m.body })).toEqual({ halfOffset: o, outcome });
      }),
    );
    expect(parseOp({ tags: 'MAYBE', body: Buffer.from('1') })).toBeUndefined();
    expect(parseOp({ tags: 'COMMIT', body: Buffer.from('-1') })).toBeUndefined();
    expect(parseOp({ tags: 'COMMIT', body: Buffer.from('') })).toBeUndefined();
  });
});
