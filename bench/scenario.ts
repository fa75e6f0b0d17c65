/**
 * `npm run bench -- scenario [--seeds N] [--json]`: how fast the simulator runs scenarios on this machine.
 *
 * - The standard crash scenario (2 name servers, 2 brokers, 2 producers, 3 consumers, 60 simulated seconds,
 *   21,000 messages; scenarios/files/broker-crash-sync-flush.yaml stretched to 60 s) runs N seeds (default
 *   20), each with a fault schedule drawn from the file's fuzz section, on a worker thread per core: seeds per
 *   minute, and violations.
 * - The idle-heavy delay scenario (delay-and-timer-across-crash.yaml: delayed and timer messages up to two
 *   minutes out) runs once: simulated time over real time.
 * There is no peer to run beside it: no other broker simulates its own cluster. The goal of 1,000 fuzzed seeds
 * with no violation is met only by a run with `--seeds 1000` (about an hour here).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseScenario } from '../scenarios/scenario-file.js';
import { runScenario, type RunResult } from '../scenarios/runner.js';
import { runSeeds } from '../scenarios/seed-pool.js';
import type { Scenario } from '../scenarios/scenario-schema.js';
import { atLeast, atMost, round, type Bench } from './harness.js';

const FILES = join(process.cwd(), 'scenarios', 'files');
/** Runs of the idle-heavy delay scenario; the median counts. */
const DELAY_RUNS = 3;
const load = (name: string): Scenario => parseScenario(readFileSync(join(FILES, name), 'utf8'), name);

/**
 * The standard crash scenario: the sync-flush crash story with its load stretched over 60 simulated seconds,
 * sent in batches of 20 (350 messages a second in 17.5 requests).
 */
function standard(): Scenario {
  const s = load('broker-crash-sync-flush.yaml');
  return { ...s, name: 'standard-crash', workloads: s.workloads.map((w) => ({ ...w, until: 60_000, batch: 20 })) };
}

function seedsArg(args: string[]): number {
  const i = args.indexOf('--seeds');
  const n = i >= 0 ? Number(args[i + 1]) : 20;
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error(`--seeds takes a whole number from 1 to 100000, got ${args[i + 1]}`);
  return n;
}

const bench: Bench = async ({ args, progress }) => {
  const seeds = seedsArg(args);
  // the idle-heavy scenario first, on a fresh process: the median of a few runs
  const delays: RunResult[] = [];
  for (let i = 0; i < DELAY_RUNS; i++) delays.push(await runScenario(load('delay-and-timer-across-crash.yaml'), { seed: 1, trace: false }));
  const delay = delays.sort((a, b) => a.realMs - b.realMs)[Math.floor(DELAY_RUNS / 2)]!;
  const speedup = delay.simMs / Math.max(1, delay.realMs);
  const s = standard();
  let done = 0;
  const start = performance.now();
  const summaries = await runSeeds(s, {
    seeds: Array.from({ length: seeds }, (_, i) => i + 1),
    fuzz: true,
    onSummary: () => {
      done++;
      if (done % 10 === 0 || done === seeds) progress(`${done}/${seeds} seeds, ${round((performance.now() - start) / done / 1000, 2)} s a seed`);
    },
  });
  const failures = summaries.filter((x) => !x.ok).map(({ seed, violations, firstViolation, errors }) => ({ seed, violations, firstViolation, errors }));
  const messages = summaries.reduce((n, x) => n + x.sends, 0);
  const realMin = (performance.now() - start) / 60_000;
  const seedsPerMinute = seeds / realMin;

  progress(`delay scenario: ${round(delay.simMs / 1000, 1)} simulated s in ${round(delay.realMs / 1000, 2)} s (${round(speedup, 1)}x, the median of ${DELAY_RUNS} runs)`);

  return {
    figures: { seeds, messagesPerSeed: Math.round(messages / seeds), seedsPerMinute: round(seedsPerMinute, 2), failures, delay: { simMs: delay.simMs, realMs: delay.realMs, ok: delay.ok } },
    goals: [
      atLeast('standard crash scenario seeds per minute', seedsPerMinute, 120, 'seeds/min'),
      atLeast('messages per seed of the standard scenario', messages / seeds, 20_000, 'messages'),
      atLeast('simulated time over real time, idle-heavy delay scenario', speedup, 100, 'x'),
      atLeast('fuzzed seeds of the standard scenario run', seeds, 1000, 'seeds'),
      atMost('fuzzed seeds with violations', failures.length, 0, 'seeds'),
    ],
    table: [{ seeds, 'seeds/min': round(seedsPerMinute, 1), 'messages/seed': Math.round(messages / seeds), failed: failures.length, 'delay speedup': round(speedup, 1) }],
  };
};

export default bench;
