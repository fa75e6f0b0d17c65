#!/usr/bin/env -S node --max-semi-space-size=64
/*
 * The `mq` command line: one process per role on NATS, admin commands, `mq dev`, and scenario runs on a
 * simulated cluster (`mq scenario`). Command definitions load only commander; each command loads its
 * implementation (and the actor system) when it runs.
 */
import { Command, CommanderError } from 'commander';
import { registerAdmin } from './commands/admin.js';
import { registerConsume, registerProduce } from './commands/clients.js';
import { CliError, errorMessage, flushStdout, hostPort, positiveInt } from './commands/flags.js';
import { registerObserve } from './commands/observe.js';
import { registerRoles } from './commands/roles.js';
import { registerScenario } from './commands/scenario.js';

/** Every failure ends as one line on stderr, `mq: <message>`, and a non-zero exit code. */
function fail(message: string, code: number): never {
  process.stderr.write(`mq: ${message}\n`);
  process.exit(code);
}

const program = new Command()
  .name('mq')
  .description('A RocketMQ-style message queue built from XState actors')
  .configureOutput({
    // commander's own errors (missing or bad flags, unknown commands) as one line
    outputError: (str, write) => write(`mq: ${str.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()}\n`),
  })
  .exitOverride((err: CommanderError) => {
    throw err;
  });

program
  .command('dev')
  .description('start an embedded cluster on the in-memory transport, with a demo producer and consumer')
  .option('--count <n>', 'messages the demo sends', positiveInt, 10)
  .option('--store <dir>', 'store directory (default: a temporary one, removed at the end)')
  .option('--verbose', 'print every actor state change')
  .option('--web <host:port>', 'serve the web console there (port 0: any free one) and keep running after the demo until Ctrl-C', hostPort)
  .action(async (opts: { count: number; store?: string; verbose?: boolean; web?: { host: string; port: number } }) => {
    const { runDev } = await import('./dev.js'); // loaded only when run: flag errors stay fast
    await runDev(opts);
  });

registerRoles(program);
registerProduce(program);
registerConsume(program);
registerAdmin(program);
registerScenario(program);
registerObserve(program);

process.on('unhandledRejection', (err: unknown) => fail(errorMessage(err), 1));
process.on('uncaughtException', (err: unknown) => fail(errorMessage(err), 1));

program.parseAsync(process.argv).then(
  async () => {
    await flushStdout();
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  },
  async (err: unknown) => {
    await flushStdout();
    if (err instanceof CommanderError) {
      // help and version exit 0; usage errors were already printed by outputError
      process.exit(err.exitCode === 0 ? 0 : 2);
    }
    fail(errorMessage(err), err instanceof CliError ? err.exitCode : 1);
  },
);
