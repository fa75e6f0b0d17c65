/** The scenario files under scenarios/files, and the check every one of them passes on every `npm test`. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatVerdict } from '../../scenarios/checker.js';
import { checkDeterminism, type RunOptions } from '../../scenarios/runner.js';
import { parseScenario } from '../../scenarios/scenario-file.js';
import type { Scenario } from '../../scenarios/scenario-schema.js';

const DIR = join(process.cwd(), 'scenarios', 'files');

/** Every scenario file's name, sorted. */
export const SCENARIO_FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

export const loadScenarioFile = (name: string): Scenario => parseScenario(readFileSync(join(DIR, name), 'utf8'), name);

/** The sample of seeds every file runs with on every `npm test` (each run twice, for determinism). */
const SEEDS = [1];

/**
 * One test per file and seed: the checks pass, the run replays bit for bit, and the workload really ran (with
 * `opts`, such as every broker on a per-queue store).
 */
export function itPassesAndReplays(files: readonly string[], opts: Pick<RunOptions, 'storeMode'> = {}): void {
  for (const file of files) {
    for (const seed of SEEDS) {
      it(`${file} seed ${seed}: the checks pass and the run replays identically`, async () => {
        const { first, divergence } = await checkDeterminism(loadScenarioFile(file), { ...opts, seed });
        expect({ errors: first.errors, verdict: first.verdict.ok ? 'OK' : formatVerdict(first.verdict, 5) }).toEqual({ errors: [], verdict: 'OK' });
        expect(divergence).toBeUndefined();
        expect(first.verdict.stats.acked).toBeGreaterThan(0);
        expect(first.verdict.stats.uniqueDelivered).toBeGreaterThan(0);
      }, 240_000); // a guard against a hang: simulations are CPU-bound and a busy machine runs them slower
    }
  }
}
