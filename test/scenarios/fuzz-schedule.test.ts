/**
 * Drawn fault schedules: for any fuzz section and any seed, every step fits the schema, starts in the window,
 * names processes of the scenario (of the right kind for the fault), heals within maxFaultMs; the same seed
 * draws the same schedule.
 */
import fc from 'fast-check';
import { drawSchedule, fuzzWindow } from '../../scenarios/fuzz-schedule.js';
import { FAULT_KINDS, faultStep, scenarioSchema, stepProcesses, type FaultStep, type Scenario, type ScenarioInput } from '../../scenarios/scenario-schema.js';

const BROKER_ONLY = ['bitflip', 'truncate', 'slow-fsync', 'disk-full', 'eio', 'disk-heal'];

/** A scenario with `brokers` brokers, `producers` producers, `consumers` consumers and a fuzz section. */
function scenarioOf(brokers: number, producers: number, consumers: number, fuzz: Record<string, unknown>): Scenario {
  const input: ScenarioInput = {
    name: 'fuzzed',
    topology: {
      brokers: Array.from({ length: brokers }, (_, i) => ({ name: `b${i}` })),
      topics: [{ name: 'T' }],
      producers: Array.from({ length: producers }, (_, i) => ({ id: `p${i}`, group: 'pg' })),
      consumers: Array.from({ length: consumers }, (_, i) => ({ id: `c${i}`, group: 'cg', subscribe: { T: '*' } })),
    },
    workloads: [{ producer: 'p0', topic: 'T', rate: 10, from: 1000, until: 8000 }],
    fuzz: fuzz as ScenarioInput['fuzz'],
  };
  return scenarioSchema.parse(input);
}

const topologyArb = fc.record({ brokers: fc.integer({ min: 1, max: 3 }), producers: fc.integer({ min: 1, max: 2 }), consumers: fc.integer({ min: 0, max: 3 }) });

const scenarioArb = topologyArb.chain(({ brokers, producers, consumers }) => {
  const names = [...Array.from({ length: brokers }, (_, i) => `b${i}`), ...Array.from({ length: producers }, (_, i) => `p${i}`), ...Array.from({ length: consumers }, (_, i) => `c${i}`), 'ns-1'];
  const fuzz = fc.record(
    {
      faults: fc.uniqueArray(fc.constantFrom(...FAULT_KINDS), { minLength: 1 }),
      maxFaults: fc.integer({ min: 0, max: 12 }),
      from: fc.integer({ min: 0, max: 5000 }),
      until: fc.integer({ min: 0, max: 20_000 }),
      targets: fc.uniqueArray(fc.constantFrom(...names)),
      maxFaultMs: fc.integer({ min: 0, max: 20_000 }),
    },
    { requiredKeys: ['faults'] },
  );
  return fuzz.map((f) => scenarioOf(brokers, producers, consumers, f));
});

const seedArb = fc.integer({ min: 0, max: 0xffffffff });

describe('drawSchedule', () => {
  it('draws steps that fit the schema, start in the window and name processes of the right kind', () => {
    fc.assert(
      fc.property(scenarioArb, seedArb, (s, seed) => {
        const steps = drawSchedule(s, seed);
        const spec = s.fuzz!;
        const { from, until } = fuzzWindow(s);
        const brokers = s.topology.brokers.map((b) => b.name);
        const clients = [...s.topology.producers.map((p) => p.id), ...s.topology.consumers.map((c) => c.id)];
        const targets = spec.targets ?? [...brokers, ...s.topology.consumers.map((c) => c.id)];
        // the whole scenario with the drawn timeline still parses (every process it names exists)
        expect(scenarioSchema.safeParse({ ...s, timeline: steps }).success).toBe(true);
        expect(steps.filter((st) => st.do !== 'join' || !spec.faults.includes('leave')).length).toBeLessThanOrEqual(spec.maxFaults);
        let last = -Infinity;
        for (const st of steps) {
          expect(faultStep.parse(st)).toEqual(st);
          expect(spec.faults).toContain(st.do === 'join' && !spec.faults.includes('join') ? 'leave' : st.do);
          expect(st.at).toBeGreaterThanOrEqual(from);
          expect(st.at).toBeLessThanOrEqual(until);
          expect(st.at!).toBeGreaterThanOrEqual(last);
          last = st.at!;
          if ('target' in st && st.target !== undefined) expect(targets).toContain(st.target);
          if (st.do === 'clog') expect(targets).toContain(st.between[0]);
          if (BROKER_ONLY.includes(st.do)) expect(brokers).toContain((st as { target: string }).target);
          if (st.do === 'join' || st.do === 'leave') expect(clients).toContain(st.target);
          for (const k of ['for', 'restartAfter'] as const) {
            const v = (st as Record<string, unknown>)[k];
            if (v !== undefined) expect(v).toBeLessThanOrEqual(spec.maxFaultMs);
          }
          if (st.do === 'crash') expect(st.restartAfter).toBeDefined();
          if (st.do === 'drop' || st.do === 'duplicate') {
            expect(st.rate).toBeGreaterThan(0);
            expect(st.rate).toBeLessThanOrEqual(0.3);
          }
          if (st.do === 'delay') expect(st.ms.max).toBeLessThanOrEqual(500);
          if (['drop', 'duplicate', 'delay', 'partition', 'disk-full', 'eio'].includes(st.do)) expect((st as { for?: number }).for).toBeDefined();
        }
      }),
      { numRuns: 300 },
    );
  });

  it('draws the same schedule for the same scenario and seed', () => {
    fc.assert(
      fc.property(scenarioArb, seedArb, (s, seed) => {
        expect(drawSchedule(s, seed)).toEqual(drawSchedule(s, seed));
      }),
      { numRuns: 100 },
    );
  });

  it('draws different schedules for different seeds, and none without a fuzz section', () => {
    const s = scenarioOf(2, 1, 2, { faults: [...FAULT_KINDS], maxFaults: 6 });
    const drawn = new Set<string>();
    for (let seed = 0; seed < 20; seed++) drawn.add(JSON.stringify(drawSchedule(s, seed)));
    expect(drawn.size).toBeGreaterThan(15);
    const kinds = new Set<string>();
    for (let seed = 0; seed < 300; seed++) for (const st of drawSchedule(s, seed)) kinds.add(st.do);
    expect([...kinds].sort()).toEqual([...FAULT_KINDS].sort());
    expect(drawSchedule({ ...s, fuzz: undefined }, 1)).toEqual([]);
  });

  it('draws nothing of a kind no allowed target can suffer', () => {
    const s = scenarioOf(1, 1, 1, { faults: ['bitflip', 'eio'], maxFaults: 5, targets: ['c0'] });
    for (let seed = 0; seed < 50; seed++) expect(drawSchedule(s, seed)).toEqual([]);
    const partitions: FaultStep[] = [];
    const net = scenarioOf(1, 1, 1, { faults: ['partition'], maxFaults: 5, targets: [] });
    for (let seed = 0; seed < 50; seed++) partitions.push(...drawSchedule(net, seed));
    expect(partitions.length).toBeGreaterThan(0);
    for (const st of partitions) expect(stepProcesses(st)).toEqual([]);
  });
});
