import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseScenario } from '../../scenarios/scenario-file.js';
import { runScenario } from '../../scenarios/runner.js';
import { formatVerdict } from '../../scenarios/checker.js';
import type { FaultStep, Scenario } from '../../scenarios/scenario-schema.js';

/**
 * Fault schedules the fuzzer drew that found a bug, kept as they were drawn (the timeline from the failing
 * trace's header, so a later change to how schedules are drawn does not lose them). Each must pass now.
 */
interface Regression {
  file: string;
  seed: number;
  found: string;
  timeline: FaultStep[];
  /** The run's scenario from the file's (bench scenario's standard crash scenario stretches one). */
  adjust?: (s: Scenario) => Scenario;
}

const REGRESSIONS: Regression[] = [
  {
    file: 'ha-failover-fuzz.yaml',
    seed: 5,
    found: 'a consumer marked its master down after a clog and went on reading offsets from a slave that lagged the master: a queue it took over restarted from an older offset',
    timeline: [
      { at: 32671, do: 'pause', target: 'broker-a-2', for: 2370 },
      { at: 37308, do: 'crash', target: 'ctl-1', tear: false, restartAfter: 6284 },
      { at: 37764, do: 'clog', between: ['broker-a-1', 'c1'], for: 4371 },
      { at: 37890, do: 'crash', target: 'broker-a-2', tear: false, restartAfter: 6199 },
    ],
  },
  {
    file: 'ha-failover-fuzz.yaml',
    seed: 37,
    found: 'a pull past the queue end of a broker that serves less than the group holds (a slave, a new master limited to its confirm offset) was corrected down, and the consumers committed the lower offsets',
    timeline: [
      { at: 36031, do: 'partition', kind: 'bridge', target: 'broker-a-3', oneWay: false, for: 2004 },
      { at: 36875, do: 'partition', kind: 'ring', oneWay: false, for: 9826 },
      { at: 37941, do: 'drop', from: '*', to: '*', rate: 0.167, for: 5469 },
    ],
  },
  {
    file: 'ha-failover-fuzz.yaml',
    seed: 170,
    found: 'master and controller lost power together; the restarted controller had forgotten the master process, which came back without the tail it had not flushed and was confirmed in its old epoch: the slaves dropped an acknowledged message',
    timeline: [
      { at: 739, do: 'delay', from: '*', to: 'broker-a-3', ms: { min: 183, max: 292 }, for: 604 },
      { at: 13843, do: 'pause', target: 'broker-a-3', for: 5284 },
      { at: 27683, do: 'crash', target: 'broker-a-1', tear: true, restartAfter: 5104 },
      { at: 28766, do: 'crash', target: 'ctl-1', tear: true, restartAfter: 5039 },
    ],
  },
  {
    file: 'ha-failover-fuzz.yaml',
    seed: 221,
    found: 'a master restarted within its lease without its unflushed tail and was elected again on write offsets the slaves had reported before they received that tail: the slaves dropped an acknowledged message',
    timeline: [
      { at: 904, do: 'delay', from: '*', to: '*', ms: { min: 406, max: 492 }, for: 8786 },
      { at: 39724, do: 'crash', target: 'broker-a-1', tear: true, restartAfter: 4878 },
    ],
  },
  {
    file: 'broker-crash-sync-flush.yaml',
    seed: 438,
    found: 'a consumer resuming from a pause sent two offset commits at once; a network that reorders delivered the older last, and the broker offset went back',
    timeline: [
      { at: 37439, do: 'pause', target: 'c3', for: 7126 },
      { at: 42118, do: 'crash', target: 'c2', tear: true, restartAfter: 2721 },
      { at: 42631, do: 'delay', from: '*', to: '*', ms: { min: 139, max: 476 }, for: 4545 },
    ],
    // bench scenario's standard crash scenario: 60 s of load in batches of 20
    adjust: (s) => ({ ...s, workloads: s.workloads.map((w) => ({ ...w, until: 60_000, batch: 20 })) }),
  },
  {
    file: 'restart-without-full-reconsumption.yaml',
    seed: 6,
    found: 'after its only broker restarted, one consumer allocated every queue from a list without the other, which had not heartbeated yet: both pulled the same queues',
    timeline: [
      { at: 2055, do: 'crash', target: 'broker-a', tear: false, restartAfter: 5836 },
      { at: 22863, do: 'crash', target: 'broker-a', tear: false, restartAfter: 7206 },
      { at: 51334, do: 'crash', target: 'broker-a', tear: true, restartAfter: 8447 },
    ],
  },
  {
    file: 'clock-skew.yaml',
    seed: 4,
    found: 'async flush served messages before their flush; after a power loss their queue offsets were handed out again and the new messages skipped',
    timeline: [{ at: 14516, do: 'crash', target: 'broker-b', tear: false, restartAfter: 8379 }],
  },
  {
    file: 'slow-disk-back-pressure.yaml',
    seed: 13,
    found: 'a broker restarted onto a full disk could not start, and nothing started it again once the disk had room',
    timeline: [
      { at: 7414, do: 'crash', target: 'broker-b', tear: true, restartAfter: 1195 },
      { at: 8163, do: 'disk-full', target: 'broker-b', for: 4921 },
      { at: 12480, do: 'slow-fsync', target: 'broker-a', for: 915 },
      { at: 16211, do: 'crash', target: 'broker-b', tear: true, restartAfter: 7201 },
    ],
  },
  {
    file: 'network-chaos.yaml',
    seed: 23,
    found: 'the checker paired a send completion with another send in flight of the same producer, and reported acknowledged messages lost',
    timeline: [
      { at: 17222, do: 'delay', from: '*', to: 'p2', ms: { min: 37, max: 101 }, for: 2880 },
      { at: 19642, do: 'drop', from: '*', to: '*', rate: 0.236, for: 8928 },
      { at: 22599, do: 'drop', from: 'p1', to: '*', rate: 0.215, for: 2672 },
      { at: 58505, do: 'duplicate', from: '*', to: '*', rate: 0.115, for: 7925 },
    ],
  },
  {
    file: 'retries-to-dead-letter.yaml',
    seed: 24,
    found: 'a message answered RETRY and brought back by a consumer crash before its offset commit came twice, which the checker did not explain',
    timeline: [
      { at: 3071, do: 'crash', target: 'c1', tear: false, restartAfter: 6247 },
      { at: 5987, do: 'crash', target: 'c2', tear: true, restartAfter: 5299 },
      { at: 9013, do: 'pause', target: 'c1', for: 2782 },
      { at: 10447, do: 'crash', target: 'c1', tear: true, restartAfter: 2274 },
    ],
  },
];

describe('fuzzer finds, kept as regression cases', () => {
  for (const r of REGRESSIONS) {
    it(`${r.file} seed ${r.seed}: ${r.found}`, async () => {
      const parsed = parseScenario(readFileSync(join(process.cwd(), 'scenarios', 'files', r.file), 'utf8'), r.file);
      const s = r.adjust ? r.adjust(parsed) : parsed;
      const run = await runScenario(s, { seed: r.seed, timeline: r.timeline, trace: false });
      expect({ errors: run.errors, verdict: run.verdict.ok ? 'OK' : formatVerdict(run.verdict, 5) }).toEqual({ errors: [], verdict: 'OK' });
      expect(run.verdict.stats.acked).toBeGreaterThan(0);
    }, 60_000);
  }
});
