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
