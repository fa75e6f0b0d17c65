/**
 * Shrinking fault schedules with a synthetic failure: the schedule shrinks to exactly the steps the failure
 * needs, their durations and rates shrink to the least that still fails, and the run budget holds.
 */
import type { FaultStep } from '../../scenarios/scenario-schema.js';
import { shrinkSchedule } from '../../scenarios/shrink.js';

const SCHEDULE: FaultStep[] = [
  { at: 500, do: 'pause', target: 'c1', for: 2000 },
  { at: 1000, do: 'drop', from: '*', to: '*', rate: 0.2, for: 3000 },
  { at: 1500, do: 'crash', target: 'broker-b', tear: true, restartAfter: 4000 },
  { at: 2000, do: 'crash', target: 'broker-a', tear: true, restartAfter: 8000 },
  { at: 2500, do: 'delay', from: 'c1', to: '*', ms: { min: 100, max: 400 }, for: 1000 },
  { at: 3000, do: 'skew', target: 'c1', ms: 3000 },
  { at: 3500, do: 'partition', kind: 'isolate', target: 'broker-a', oneWay: false, for: 6000 },
  { at: 4000, do: 'eio', target: 'broker-b', for: 500 },
];

/** Fails when broker-a crashes for at least 1 s and some partition lasts at least 1 s. */
async function crashAndPartition(t: FaultStep[]): Promise<boolean> {
  const crash = t.some((st) => st.do === 'crash' && st.target === 'broker-a' && (st.restartAfter ?? Infinity) >= 1000);
  const partition = t.some((st) => st.do === 'partition' && (st.for ?? Infinity) >= 1000);
  return crash && partition;
}

describe('shrinkSchedule', () => {
  it('keeps exactly the steps the failure needs, each shortened to the least that still fails', async () => {
    const seen: number[] = [];
    const r = await shrinkSchedule(SCHEDULE, crashAndPartition, { onStep: (t, runs) => seen.push(t.length, runs) });
    expect(r.timeline).toEqual([
      { at: 2000, do: 'crash', target: 'broker-a', tear: true, restartAfter: 1000 },
      { at: 3500, do: 'partition', kind: 'isolate', target: 'broker-a', oneWay: false, for: 1500 },
    ]);
    expect(r.runs).toBeLessThan(40);
    expect(seen.length).toBeGreaterThan(0);
    expect(await crashAndPartition(r.timeline)).toBe(true);
  });

  it('halves rates and delay ranges too', async () => {
    const t: FaultStep[] = [
      { at: 0, do: 'heal' },
      { at: 10, do: 'drop', from: '*', to: '*', rate: 0.3, for: 100 },
      { at: 20, do: 'delay', from: '*', to: '*', ms: { min: 200, max: 400 }, for: 100 },
    ];
    const fails = async (x: FaultStep[]): Promise<boolean> => x.some((st) => st.do === 'drop' && st.rate > 0.05) && x.some((st) => st.do === 'delay' && st.ms.max >= 100);
    const r = await shrinkSchedule(t, fails);
    expect(r.timeline).toEqual([
      { at: 10, do: 'drop', from: '*', to: '*', rate: 0.075, for: 1 },
      { at: 20, do: 'delay', from: '*', to: '*', ms: { min: 50, max: 100 }, for: 1 },
    ]);
  });

  it('shrinks to nothing when the failure needs no fault, in one run', async () => {
    const r = await shrinkSchedule(SCHEDULE, async () => true);
    expect(r).toEqual({ timeline: [], runs: 1 });
  });

  it('stops at maxRuns with the best schedule found so far', async () => {
    let calls = 0;
    const r = await shrinkSchedule(SCHEDULE, async (t) => (calls++, crashAndPartition(t)), { maxRuns: 5 });
    expect(calls).toBe(5);
    expect(r.runs).toBe(5);
    expect(await crashAndPartition(r.timeline)).toBe(true);
    expect(r.timeline.length).toBeLessThanOrEqual(SCHEDULE.length);
  });

  it('returns the schedule as it is when nothing smaller fails', async () => {
    const one: FaultStep[] = [{ at: 1, do: 'crash', target: 'broker-a', tear: true }];
    const r = await shrinkSchedule(one, async (t) => t.length === 1);
    expect(r.timeline).toEqual(one);
    expect(r.runs).toBe(1);
  });
});
