/* `mq observe` (definition; the work is in observe-run.ts, loaded when the command runs). */
import type { Command } from 'commander';
import { hostPort } from './flags.js';
import type { ObserveFlags } from './observe-run.js';

export function registerObserve(program: Command): void {
  program
    .command('observe')
    .description('watch a cluster: --web serves the web console (state charts, cluster tables, time travel over --trace files)')
    .option('--web <host:port>', 'serve the web console there (port 0: any free one)', hostPort)
    .option('--trace <file>', 'a scenario trace (mq scenario run FILE --trace OUT) the console opens for time travel')
    .option('--nats <urls>', 'NATS server(s) of the cluster to watch live')
    .option('--prefix <prefix>', 'subject prefix of that cluster', 'mq')
    .action(async (f: ObserveFlags) => (await import('./observe-run.js')).runObserve(f));
}
