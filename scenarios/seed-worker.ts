/**
 * A worker thread of the seed pool (seed-pool.ts): runs the seeds it is sent, one at a time, each with the
 * fault schedule drawn for it when the pool fuzzes, and answers a summary of each run. The scenario comes once,
 * as parsed (plain data).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runScenario } from './runner.js';
import { drawSchedule } from './fuzz-schedule.js';
import type { Scenario } from './scenario-schema.js';
import type { SeedJob, SeedSummary } from './seed-pool.js';

const { scenario } = workerData as { scenario: Scenario };

parentPort!.on('message', (job: SeedJob) => {
  void (async () => {
    try {
      const timeline = job.fuzz ? drawSchedule(scenario, job.seed) : undefined;
      const r = await runScenario(scenario, { seed: job.seed, timeline, trace: false });
      const summary: SeedSummary = {
        seed: job.seed,
        ok: r.ok,
        violations: r.verdict.violations.length,
        firstViolation: r.verdict.violations[0]?.message,
        errors: r.errors,
        sends: r.verdict.stats.sends,
        simMs: r.simMs,
        realMs: r.realMs,
      };
      parentPort!.postMessage(summary);
    } catch (err) {
      parentPort!.postMessage({ seed: job.seed, ok: false, violations: 0, errors: [err instanceof Error ? (err.stack ?? err.message) : String(err)], sends: 0, simMs: 0, realMs: 0 } satisfies SeedSummary);
    }
  })();
});
