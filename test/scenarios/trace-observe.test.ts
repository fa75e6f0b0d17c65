import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/scenario-file.js';
import { runScenario } from '../../scenarios/runner.js';

/**
 * A kept trace has what a viewer needs to redraw the run at any moment (the console's time travel): each
 * machine's definition once per process, each actor's start naming its machine, its states, and each role's
 * figures once a simulated second.
 */
describe('what a scenario trace tells an observer', () => {
  it('records machine definitions, actor starts and role figures besides the states', async () => {
    const file = join(process.cwd(), 'scenarios', 'files', 'first-hour.yaml');
    const lines: Record<string, unknown>[] = [];
    const r = await runScenario(parseScenario(readFileSync(file, 'utf8'), file), { seed: 1, trace: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
    expect(r.ok).toBe(true);
    const of = (k: string) => lines.filter((l) => l.k === k);

    const machines = of('machine');
    const brokerDef = machines.find((l) => l.p === 'broker-a' && (l.def as { id: string }).id === 'broker');
    expect(brokerDef).toBeDefined();
    expect(Object.keys((brokerDef!.def as { states: object }).states)).toContain('serving');
    // once per process and machine
    expect(new Set(machines.map((l) => `${String(l.p)} ${String(l.m)}`)).size).toBe(machines.length);

    const brokerStart = of('actor').find((l) => l.a === 'broker.broker-a.0' && l.id === 'broker.broker-a.0');
    expect(brokerStart).toMatchObject({ p: 'broker-a', m: brokerDef!.m });
    expect(of('state').some((l) => l.a === 'broker.broker-a.0' && l.s === 'serving')).toBe(true);

    const brokerStats = of('stats').filter((l) => l.a === 'broker.broker-a.0');
    expect(brokerStats.length).toBeGreaterThanOrEqual(Math.floor(r.simMs / 1000) - 2);
    const last = brokerStats.at(-1)!.stats as { role: string; store: { writeOffset: number } };
    expect(last.role).toBe('broker');
    expect(last.store.writeOffset).toBeGreaterThan(0);
  });
});
