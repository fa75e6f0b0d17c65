/**
 * Runs many seeds of one scenario on several cores: a pool of worker threads (seed-worker.ts), each running
 * one seed at a time with no trace (a failing seed is re-run with its trace by whoever wants it). Summaries
 * arrive as seeds finish, in any order; the result lists them by seed.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { Scenario } from './scenario-schema.js';

export interface SeedJob {
  seed: number;
  /** Draw a fault schedule for the seed from the scenario's fuzz section instead of running its timeline. */
  fuzz: boolean;
}

export interface SeedSummary {
  seed: number;
  ok: boolean;
  violations: number;
  firstViolation?: string;
  errors: string[];
  sends: number;
  simMs: number;
  realMs: number;
}

export interface SeedPoolOptions {
  seeds: readonly number[];
  fuzz: boolean;
  /** Worker threads (default: the machine's cores). */
  jobs?: number;
  onSummary?(s: SeedSummary): void;
}

/** Runs the seeds; resolves once all finished, with their summaries in seed order. */
export async function runSeeds(scenario: Scenario, opts: SeedPoolOptions): Promise<SeedSummary[]> {
  const jobs = Math.max(1, Math.min(opts.jobs ?? availableParallelism(), opts.seeds.length));
  const queue = [...opts.seeds];
  const out: SeedSummary[] = [];
  const url = new URL('./seed-worker.js', import.meta.url);
  const lane = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const worker = new Worker(url, { workerData: { scenario } });
      const next = (): void => {
        const seed = queue.shift();
        if (seed === undefined) {
          void worker.terminate().then(() => resolve());
          return;
        }
        worker.postMessage({ seed, fuzz: opts.fuzz } satisfies SeedJob);
      };
      worker.on('message', (s: SeedSummary) => {
        out.push(s);
        opts.onSummary?.(s);
        next();
      });
      worker.once('error', reject);
      next();
    });
  await Promise.all(Array.from({ length: jobs }, lane));
  return out.sort((a, b) => a.seed - b.seed);
}
