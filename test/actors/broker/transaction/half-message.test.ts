import fc from 'fast-check';
import { fromHalf, halfView, isHalf, opMessage, parseOp, toHalf } from '../../../../actors/broker/transaction/half-message.js';
import type { MessageExt } from '../../../../core/message.js';
import { Status } from '../../../../core/status.js';
import { TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC } from '../../../../actors/protocol/validation.js';
import type { StorePutMessage } from '../../../../actors/broker/store-port.js';
import { openMessageStore } from '../../../../store/message-store.js';
import { rootLogger } from '../../../../actors/runtime/environment.js';
import { SeededRandom } from '../../../../core/random.js';
import { memorySetup } from '../../../support/memory-store.js';

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

  it('op records round-trip, one offset or a group; malformed ones parse to undefined', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom('COMMIT' as const, 'ROLLBACK' as const), (o, outcome) => {
        const m = opMessage(o, outcome, 5, 'b');
        expect(m.topic).toBe(TRANS_OP_HALF_TOPIC);
        expect(parseOp({ tags: m.tags!, body: m.body })).toEqual({ halfOffsets: [o], outcome });
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), { minLength: 1, maxLength: 300 }), fc.constantFrom('COMMIT' as const, 'ROLLBACK' as const), (os, outcome) => {
        const m = opMessage(os, outcome, 5, 'b');
        expect(m).toMatchObject({ topic: TRANS_OP_HALF_TOPIC, queueId: 0, tags: outcome, bornTimestamp: 5, bornHost: 'b' });
        expect(parseOp({ tags: m.tags!, body: m.body })).toEqual({ halfOffsets: os, outcome });
      }),
      { numRuns: 200 },
    );
    // the original one-offset record is a group of one
    expect(parseOp({ tags: 'COMMIT', body: Buffer.from('42') })).toEqual({ halfOffsets: [42], outcome: 'COMMIT' });
    expect(() => opMessage([], 'COMMIT', 5, 'b')).toThrow(/at least one/);
    for (const bad of ['', '-1', '1,', ',1', '1,,2', '1;2', '1 ,2', '99999999999999999', 'x'])
      expect(parseOp({ tags: 'COMMIT', body: Buffer.from(bad) })).toBeUndefined();
    expect(parseOp({ tags: 'MAYBE', body: Buffer.from('1') })).toBeUndefined();
  });

  it('a committed message copies every property but the half ones, whatever their names', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 8 }), { maxKeys: 8 }), (user) => {
        const properties: Record<string, string> = { ...user, REAL_TOPIC: 'orders', REAL_QID: '3', TRAN_MSG: 'true', TRANSACTION_CHECK_TIMES: '2' };
        const ext: MessageExt = { msgId: 'M', topic: TRANS_HALF_TOPIC, queueId: 0, queueOffset: 1, commitLogOffset: 0, bornTimestamp: 1, storeTimestamp: 2, reconsumeTimes: 0, bornHost: 'h', storeHost: 's', body: Buffer.from('b'), properties };
        const want: Record<string, string> = {};
        // defineProperty, so that a user property named "__proto__" stays an own property as in the code under test
        for (const [k, v] of Object.entries(user))
          if (!['REAL_TOPIC', 'REAL_QID', 'TRAN_MSG', 'TRANSACTION_CHECK_TIMES'].includes(k)) Object.defineProperty(want, k, { value: v, enumerable: true, writable: true, configurable: true });
        const c = fromHalf(ext);
        expect(c.topic).toBe('orders');
        expect(c.queueId).toBe(3);
        expect(Object.entries(c.properties!).sort()).toEqual(Object.entries(want).sort());
      }),
      { numRuns: 200 },
    );
    const noQueue: MessageExt = { msgId: 'M', topic: TRANS_HALF_TOPIC, queueId: 0, queueOffset: 1, commitLogOffset: 0, bornTimestamp: 1, storeTimestamp: 2, reconsumeTimes: 0, bornHost: 'h', storeHost: 's', body: Buffer.from('b'), properties: { REAL_TOPIC: 'orders' } };
    expect(() => fromHalf(noQueue)).toThrow(expect.objectContaining({ status: Status.MESSAGE_ILLEGAL }));
  });
});

describe('committing a half message', () => {
  const name = fc.stringMatching(/^p[a-zA-Z0-9_]{0,8}$/);
  const text = fc.stringMatching(/^[a-zA-Z0-9 _.:-]{1,12}$/);
  const key = fc.stringMatching(/^[a-zA-Z0-9_.:-]{1,8}$/);

  it('from the half message as handed to the store writes the same message as from the half message read back (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.option(text, { nil: undefined }), fc.array(key, { maxLength: 3 }), fc.dictionary(name, text, { maxKeys: 4 }), fc.uint8Array({ minLength: 1, maxLength: 64 }), async (tags, keys, user, body) => {
        const { clock, mem } = memorySetup();
        const store = await openMessageStore({ dir: '/d', storage: mem, clock, random: new SeededRandom(1), logger: rootLogger('silent'), storeHost: '10.0.0.1:10911', flush: 'sync', segmentSize: 1 << 16 });
        try {
          const sent: StorePutMessage = { topic: 'orders', queueId: 1, body, properties: { ...user, UNIQ_KEY: 'U1', TRAN_MSG: 'true', PGROUP: 'pg' }, bornTimestamp: 5, bornHost: 'h' };
          if (tags !== undefined) sent.tags = tags;
          if (keys.length > 0) sent.keys = keys;
          const half = toHalf(sent);
          const stored = await store.putMessages([half]);
          const readBack = store.lookupById(stored.results[0]!.msgId)!;
          const a = await store.putMessages([fromHalf(readBack)]);
          const b = await store.putMessages([fromHalf(half)]);
          const [ma, mb] = [a, b].map((r) => store.lookupById(r.results[0]!.msgId)!);
          const shape = (m: MessageExt) => ({ topic: m.topic, queueId: m.queueId, body: [...m.body], tags: m.tags, keys: m.keys, properties: m.properties, bornTimestamp: m.bornTimestamp, bornHost: m.bornHost, reconsumeTimes: m.reconsumeTimes, size: (m as { size?: number }).size });
          expect(shape(mb)).toEqual(shape(ma));
          expect(mb.properties).toMatchObject({ UNIQ_KEY: 'U1', PGROUP: 'pg' });
          expect(mb.properties?.TRAN_MSG).toBeUndefined();
        } finally {
          await store.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
