import fc from 'fast-check';
import {
  EMPTY_FAULT_STATE,
  isAvailable,
  notAvailableDuration,
  pickOne,
  removeFaultItem,
  updateFaultItem,
} from '../../../actors/producer/fault-avoidance.js';

describe('fault avoidance', () => {
  it('maps latency to RocketMQ not-available durations', () => {
    const cases: [number, number][] = [
      [0, 0], [49, 0], [50, 0], [100, 0], [549, 0], [550, 30000], [999, 30000], [1000, 60000], [2000, 120000], [3000, 180000],
      [14999, 180000], [15000, 600000], [99999, 600000],
    ];
    for (const [lat, d] of cases) expect(notAvailableDuration(lat)).toBe(d);
  });

  it('avoids a slow broker for its duration and a failed one for the longest', () => {
    let s = updateFaultItem(EMPTY_FAULT_STATE, 'a', 600, false, 1000);
    expect(isAvailable(s, 'a', 1000)).toBe(false);
    expect(isAvailable(s, 'a', 30999)).toBe(false);
    expect(isAvailable(s, 'a', 31000)).toBe(true);
    expect(isAvailable(s, 'b', 1000)).toBe(true);
    s = updateFaultItem(s, 'b', 10, true, 1000);
    expect(isAvailable(s, 'b', 600999)).toBe(false);
    expect(isAvailable(s, 'b', 601000)).toBe(true);
    s = updateFaultItem(s, 'a', 20, false, 2000);
    expect(isAvailable(s, 'a', 2000)).toBe(true);
    expect(isAvailable(removeFaultItem(s, 'b'), 'b', 1000)).toBe(true);
    expect(EMPTY_FAULT_STATE.size).toBe(0); // never mutated
  });

  it('picks the least bad broker when all are avoided', () => {
    expect(pickOne(EMPTY_FAULT_STATE, 0)).toBeUndefined();
    let s = updateFaultItem(EMPTY_FAULT_STATE, 'slow', 2500, false, 0);
    expect(pickOne(s, 0)).toBe('slow');
    s = updateFaultItem(s, 'dead', 0, true, 0);
    s = updateFaultItem(s, 'meh', 700, false, 0);
    s = updateFaultItem(s, 'worse', 1200, false, 0);
    // better half (2 of 4) is meh, worse; seq rotates among them
    expect([pickOne(s, 0, 0), pickOne(s, 0, 1), pickOne(s, 0, 2)]).toEqual(['meh', 'worse', 'meh']);
    expect(pickOne(s, 0, -1)).toBe('worse');
  });

  it('never picks from the worse half, for any state', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 20000 }), fc.boolean()), { minLength: 1, maxLength: 8 }), fc.nat({ max: 700000 }), fc.integer(), (items, now, seq) => {
        let s = EMPTY_FAULT_STATE;
        items.forEach(([lat, iso], i) => (s = updateFaultItem(s, `b${i}`, lat, iso, 0)));
        const picked = pickOne(s, now, seq);
        expect(picked).toBeDefined();
        const avail = [...s.values()].filter((x) => now >= x.availableAt);
        if (avail.length * 2 >= s.size && s.size > 1) expect(isAvailable(s, picked!, now)).toBe(true);
      }),
    );
  });
});
