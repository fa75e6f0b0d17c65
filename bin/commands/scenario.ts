/* `mq scenario run|replay|fuzz` (definitions; the work is in scenario-run.ts, loaded when a command runs). */
import type { Command } from 'commander';
import { nonNegativeInt, oneOf, positiveInt } from './flags.js';
import type { FuzzFlags, RunFlags } from './scenario-run.js';

const run = () => import('./scenario-run.js');

const LOG_LEVELS = ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

export function registerScenario(program: Command): void {
  const scenario = program.command('scenario').description('run scenario files on a simulated cluster (or a real one): check, replay, fuzz');

  scenario
    .command('run')
    .description('run a scenario file and check its history; exit 1 when a check or the run fails')
    .argument('<file>', 'scenario file (YAML)')
    .option('--seed <n>', "seed of the run (default: the file's)", nonNegativeInt)
    .option('--trace <out>', 'write the trace (JSON lines) to this file')
    .option('--check-determinism', 'run twice and fail at the first trace line that differs')
    .option('--real', 'run on real processes and real time: nats-server, mq namesrv and mq broker processes, embedded clients')
    .option('--log <level>', `log level of the processes (${LOG_LEVELS.join(', ')})`, oneOf(...LOG_LEVELS), 'silent')
    .action(async (file: string, f: RunFlags) => (await run()).runScenarioFile(file, f));

  scenario
    .command('replay')
    .description('re-run the scenario, seed and fault schedule a trace names; compare the new trace with it line by line')
    .argument('<trace>', 'trace file written by scenario run or scenario fuzz')
    .action(async (trace: string) => (await run()).replayTrace(trace));

  scenario
    .command('fuzz')
    .description("run a scenario with a fault schedule drawn from its fuzz section for each seed; exit 1 when any fails")
    .argument('<file>', 'scenario file (YAML) with a fuzz section')
    .requiredOption('--seeds <n>', 'how many seeds to run', positiveInt)
    .option('--from <s>', 'first seed', nonNegativeInt, 1)
    .option('--shrink', "shrink each failing seed's schedule and print the smaller one")
    .option('--trace-dir <dir>', 'where the traces of failing seeds go', 'scenario-failures')
    .option('--jobs <n>', 'seeds run at once, each on a worker thread (default: one per core)', positiveInt)
    .action(async (file: string, f: FuzzFlags) => (await run()).fuzzScenarioFile(file, f));
}
