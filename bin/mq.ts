#!/usr/bin/env node
/* The `mq` command line. */
import { Command, InvalidArgumentError } from 'commander';
import { runDev } from './dev.js';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

const program = new Command()
  .name('mq')
  .description('A RocketMQ-style message queue built from XState actors')
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program
  .command('dev')
  .description('start an embedded cluster on the in-memory transport, with a demo')
  .option('--rounds <n>', 'demo rounds', positiveInt, 10)
  .action(async (opts: { rounds: number }) => {
    await runDev(opts);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`mq: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
