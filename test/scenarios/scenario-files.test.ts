import { runScenario } from '../../scenarios/runner.js';
import { itPassesAndReplays, loadScenarioFile as load, SCENARIO_FILES } from '../support/scenario-files.js';

/**
 * Every scenario file passes its checks for a fixed seed, and replays bit for bit: the run is made twice and
 * the traces compared line by line (the replication files in scenario-files-ha.test.ts: two test files, so that
 * the test workers share them). Two planted bugs show that the checker fails when the system does.
 */
describe('scenario files', () => {
  it('there are at least 12, each a story of its own', () => {
    expect(SCENARIO_FILES.length).toBeGreaterThanOrEqual(12);
    const names = SCENARIO_FILES.map((f) => load(f).name);
    expect(new Set(names).size).toBe(names.length);
  });

  itPassesAndReplays(SCENARIO_FILES.filter((f) => !f.startsWith('ha-')));
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
