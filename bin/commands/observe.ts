/* `mq observe` (definition; the work is in observe-run.ts, loaded when the command runs). */
import type { Command } from 'commander';
import { connectionOptions, hostPort, positiveInt } from './flags.js';
import type { ObserveFlags } from './observe-run.js';

export function registerObserve(program: Command): void {
  connectionOptions(
    program
      .command('observe')
      .description(
        'watch a cluster: a live table of every actor (state, last event, age) and broker (offsets, dispatch and replication lag), redrawn in place; ' +
          '--json prints every record; --web serves the web console (state charts, cluster tables, time travel over --trace files)',
      )
      .option('--attach <url>', "watch an embedded cluster through its console's stream (mq dev --web, system.observe) instead of NATS")
      .option('--web <host:port>', 'serve the web console there (port 0: any free one) instead of the table', hostPort)
      .option('--trace <file>', 'a scenario trace (mq scenario run FILE --trace OUT) the web console opens for time travel')
      .option('--json', 'one JSON line per record instead of the table')
      .option('--all', 'child actors too (invoked services, timers), under their hosted actor')
      .option('--redraw <ms>', 'how often the table is redrawn', positiveInt, 500),
  ).action(async (f: ObserveFlags, cmd: Command) =>
    (await import('./observe-run.js')).runObserve({ ...f, natsGiven: cmd.getOptionValueSource('nats') !== 'default' }),
  );
}
