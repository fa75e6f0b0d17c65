import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/scenario-file.js';
import { checkDeterminism, runScenario } from '../../scenarios/runner.js';
import { formatVerdict } from '../../scenarios/checker.js';
import type { Scenario } from '../../scenarios/scenario-schema.js';

/**
 * Every scenario file passes its checks for a fixed seed, and replays bit for bit: the run is made twice and
 * the traces compared line by line. Two planted bugs show that the checker fails when the system does.
 */
const DIR = join(process.cwd(), 'scenarios', 'files');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();
const load = (name: string): Scenario => parseScenario(readFileSync(join(DIR, name), 'utf8'), name);
/** The sample of seeds every file runs with on every `npm test` (each run twice, for determinism). */
const SEEDS = [1];

describe('scenario files', () => {
  it('there are at least 12, each a story of its own', () => {
    expect(FILES.length).toBeGreaterThanOrEqual(12);
    const names = FILES.map((f) => load(f).name);
    expect(new Set(names).size).toBe(names.length);
  });

  for (const file of FILES) {
    for (const seed of SEEDS) {
      it(`${file} seed ${seed}: the checks pass and the run replays identically`, async () => {
        const { first, divergence } = await checkDeterminism(load(file), { seed });
        expect({ errors: first.errors, verdict: first.verdict.ok ? 'OK' : formatVerdict(first.verdict, 5) }).toEqual({ errors: [], verdict: 'OK' });
        expect(divergence).toBeUndefined();
        // the workload really ran: messages were acknowledged and consumed
        expect(first.verdict.stats.acked).toBeGreaterThan(0);
        expect(first.verdict.stats.uniqueDelivered).toBeGreaterThan(0);
      }, 60_000);
    }
  }
});

describe('planted bugs are caught', () => {
  it('sync-flush brokers that answer before the fsync lose acknowledged messages at a power loss: lost', async () => {
    const r = await runScenario(load('broker-crash-sync-flush.yaml'), { seed: 1, plantedBug: 'sync-flush-does-not-wait' });
    expect(r.verdict.ok).toBe(false);
    expect(r.verdict.violations.some((v) => v.check === 'lost')).toBe(true);
    expect(r.verdict.stats.lost).toBeGreaterThan(0);
  }, 60_000);

  it('a broker that acknowledges offset commits without storing them: offsets', async () => {
    const r = await runScenario(load('consumer-churn-rebalance.yaml'), { seed: 1, plantedBug: 'skip-offset-commits' });
    expect(r.verdict.ok).toBe(false);
    expect(r.verdict.violations.some((v) => v.check === 'offsets')).toBe(true);
  }, 60_000);
});
