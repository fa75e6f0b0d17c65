import { itPassesAndReplays, SCENARIO_FILES } from '../support/scenario-files.js';

/**
 * The scenario files that do not depend on the mixed commit log (all but replication's, which ships its bytes)
 * pass on brokers whose store keeps a log per queue (storeMode 'per-queue'), and replay bit for bit. A test file
 * of its own, so that the test workers share the files.
 */
describe('scenario files, every broker on a per-queue store', () => {
  itPassesAndReplays(
    SCENARIO_FILES.filter((f) => !f.startsWith('ha-')),
    { storeMode: 'per-queue' },
  );
});
