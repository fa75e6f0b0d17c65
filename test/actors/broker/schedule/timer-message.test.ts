import { TIMER_TOPIC, deliverAtOf, fromTimer, toTimer } from '../../../../actors/broker/schedule/timer-message.js';
import type { MessageExt } from '../../../../core/message.js';
import { Status } from '../../../../core/status.js';
import type { StorePutMessage } from '../../../../actors/broker/store-port.js';

const put = (props: Record<string, string>): StorePutMessage => ({ topic: 'orders', queueId: 3, body: Buffer.from('x'), tags: 'T', properties: { UNIQ_KEY: 'K', ...props }, bornTimestamp: 1, bornHost: 'h' });

describe('timer messages', () => {
  it('a future DELIVER_AT goes to the timer topic and comes back to its real topic and queue', () => {
    const p = toTimer(put({ DELIVER_AT: '5000' }), 1000, 10_000);
    expect(p).toMatchObject({ topic: TIMER_TOPIC, queueId: 0, properties: { REAL_TOPIC: 'orders', REAL_QID: '3', DELIVER_AT: '5000', UNIQ_KEY: 'K' } });
    const ext: MessageExt = { msgId: 'M', topic: p.topic, queueId: 0, queueOffset: 0, commitLogOffset: 0, bornTimestamp: 1, storeTimestamp: 2, reconsumeTimes: 0, bornHost: 'h', storeHost: 's', tags: 'T', body: p.body, properties: p.properties! };
    expect(deliverAtOf(ext)).toBe(5000);
    expect(fromTimer(ext)).toEqual({ topic: 'orders', queueId: 3, body: p.body, tags: 'T', properties: { UNIQ_KEY: 'K' }, bornTimestamp: 1, bornHost: 'h', reconsumeTimes: 0 });
  });

  it('a due DELIVER_AT is stored on its topic at once; past the horizon, or with a delay level, it is illegal', () => {
    expect(toTimer(put({ DELIVER_AT: '1000' }), 1000, 10)).toMatchObject({ topic: 'orders', properties: { UNIQ_KEY: 'K' } });
    expect(toTimer(put({ DELIVER_AT: '1000' }), 1000, 10).properties?.DELIVER_AT).toBeUndefined();
    expect(() => toTimer(put({ DELIVER_AT: '1011' }), 1000, 10)).toThrow(expect.objectContaining({ status: Status.MESSAGE_ILLEGAL, message: expect.stringMatching(/timerHorizonMs/) }));
    expect(() => toTimer(put({ DELIVER_AT: 'soon' }), 1000, 10)).toThrow(expect.objectContaining({ status: Status.MESSAGE_ILLEGAL }));
    expect(() => toTimer(put({ DELIVER_AT: '1005', DELAY: '2' }), 1000, 10)).toThrow(/not both/);
  });
});
