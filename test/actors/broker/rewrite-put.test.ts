import { rewriteForStore } from '../../../actors/broker/rewrite-put.js';
import { TIMER_TOPIC } from '../../../actors/broker/schedule/timer-message.js';
import { resolveTimerTxOptions, DEFAULT_TIMER_TX_SETTINGS } from '../../../actors/broker/timer-tx-options.js';
import { resolveBrokerOptions } from '../../../actors/broker/broker-options.js';
import { TRANS_HALF_TOPIC } from '../../../actors/protocol/validation.js';

const base = { topic: 't', queueId: 1, body: Buffer.from('x'), bornTimestamp: 1, bornHost: 'h' };

describe('rewriteForStore', () => {
  it('leaves plain and delay-level messages as they are, rewrites half and timer messages', () => {
    const plain = { ...base, properties: { UNIQ_KEY: 'K' } };
    expect(rewriteForStore(plain, 0)).toBe(plain);
    const delayed = { ...base, properties: { DELAY: '2' } };
    expect(rewriteForStore(delayed, 0)).toBe(delayed);
    expect(rewriteForStore({ ...base, properties: { TRAN_MSG: 'true', PGROUP: 'g' } }, 0).topic).toBe(TRANS_HALF_TOPIC);
    expect(rewriteForStore({ ...base, properties: { DELIVER_AT: '10' } }, 0).topic).toBe(TIMER_TOPIC);
    expect(() => rewriteForStore({ ...base, properties: { DELIVER_AT: String(8 * 24 * 3600_000) } }, 0)).toThrow(/timerHorizonMs/);
  });
});

describe('timer and transaction options', () => {
  it('default as documented and refuse bad values', () => {
    expect(resolveTimerTxOptions({})).toEqual(DEFAULT_TIMER_TX_SETTINGS);
    expect(DEFAULT_TIMER_TX_SETTINGS).toEqual({ timerHorizonMs: 7 * 24 * 3600_000, txCheckIntervalMs: 60_000, txCheckTimeoutMs: 6_000, txMaxChecks: 15, txCheckExhausted: 'rollback' });
    expect(resolveTimerTxOptions({ txCheckExhausted: 'commit', txMaxChecks: 0 })).toMatchObject({ txCheckExhausted: 'commit', txMaxChecks: 0 });
    expect(() => resolveTimerTxOptions({ txCheckExhausted: 'maybe' as never })).toThrow(/txCheckExhausted/);
    expect(() => resolveTimerTxOptions({ timerHorizonMs: -1 })).toThrow(expect.objectContaining({ code: 'ECONFIG' }));
    expect(() => resolveTimerTxOptions({ txMaxChecks: 1.5 })).toThrow(/txMaxChecks/);
    const s = resolveBrokerOptions({ name: 'b', namesrv: [], storeDir: '/d', timerHorizonMs: 1000, txCheckIntervalMs: 5 });
    expect(s.limits.timerHorizonMs).toBe(1000);
    expect(s.timerTx.txCheckIntervalMs).toBe(5);
  });
});
