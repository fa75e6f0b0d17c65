import { itPassesAndReplays, SCENARIO_FILES } from '../support/scenario-files.js';

/** The replication and failover scenario files: each passes its checks for a fixed seed and replays bit for bit. */
describe('scenario files: replication and failover', () => {
  const ha = SCENARIO_FILES.filter((f) => f.startsWith('ha-'));
  it('there are replication files to run', () => expect(ha.length).toBeGreaterThanOrEqual(8));
  itPassesAndReplays(ha);
});
