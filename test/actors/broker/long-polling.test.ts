import { LongPolling } from '../../../actors/broker/long-polling.js';
import { SimClock } from '../../../core/clock.js';

function recorder() {
  const events: string[] = [];
  return { events, cb: (name: string) => ({ wake: () => events.push(`${name}:wake`), timeout: () => events.push(`${name}:timeout`) }) };
}

describe('long polling', () => {
  it('wakes pulls of the queue that grew past their offset, at once', async () => {
    const clock = new SimClock();
    const lp = new LongPolling(clock, 10);
    const r = recorder();
    expect(lp.hold('t', 0, 5, 1000, r.cb('a'))).toBe(true);
    expect(lp.hold('t', 0, 7, 1000, r.cb('b'))).toBe(true);
    expect(lp.hold('t', 1, 5, 1000, r.cb('c'))).toBe(true);
    lp.notify('t', 0, 6);
    expect(r.events).toEqual(['a:wake']);
    lp.notify('t', 0, 7); // b waits for data past offset 7
    expect(r.events).toEqual(['a:wake']);
    expect(lp.size).toBe(2);
    await clock.advance(1000);
    expect(r.events).toEqual(['a:wake', 'b:timeout', 'c:timeout']);
    expect(lp.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('answers at timeout and never twice', async () => {
    const clock = new SimClock();
    const lp = new LongPolling(clock, 10);
    const r = recorder();
    lp.hold('t', 0, 0, 50, r.cb('a'));
    await clock.advance(49);
    expect(r.events).toEqual([]);
    await clock.advance(1);
    expect(r.events).toEqual(['a:timeout']);
    lp.notify('t', 0, 10);
    expect(r.events).toEqual(['a:timeout']);
  });

  it('is bounded and refuses non-positive timeouts', () => {
    const clock = new SimClock();
    const lp = new LongPolling(clock, 2);
    const r = recorder();
    expect(lp.hold('t', 0, 0, 0, r.cb('z'))).toBe(false);
    expect(lp.hold('t', 0, 0, 10, r.cb('a'))).toBe(true);
    expect(lp.hold('t', 0, 0, 10, r.cb('b'))).toBe(true);
    expect(lp.hold('t', 0, 0, 10, r.cb('c'))).toBe(false);
    lp.releaseAll();
    expect(r.events).toEqual(['a:timeout', 'b:timeout']);
    expect(lp.size).toBe(0);
    expect(clock.pending).toBe(0);
    expect(lp.hold('t', 0, 0, 10, r.cb('d'))).toBe(true);
  });
});
