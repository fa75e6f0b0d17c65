import { runScenario } from '../../scenarios/runner.js';
import { itPassesAndReplays, loadScenarioFile, SCENARIO_FILES } from '../support/scenario-files.js';

/**
 * The scenario files that do not depend on the mixed commit log (all but replication's, which ships its bytes)
 * pass on brokers whose store keeps a log per queue (storeMode 'per-queue'), and replay bit for bit. A test file
 * of its own, so that the test workers share the files.
 */
describe('scenario files, every broker on a per-queue store', () => {
  it('the run option reaches the brokers: the same seed runs otherwise on per-queue stores (message ids name their log)', async () => {
    const s = loadScenarioFile('first-hour.yaml');
    const mixed = await runScenario(s, { seed: 1 });
    const perQueue = await runScenario(s, { seed: 1, storeMode: 'per-queue' });
    expect(mixed.ok && perQueue.ok).toBe(true);
    expect(perQueue.traceDigest).not.toBe(mixed.traceDigest);
  });

  itPassesAndReplays(
    SCENARIO_FILES.filter((f) => !f.startsWith('ha-')),
    { storeMode: 'per-queue' },
  );
});
