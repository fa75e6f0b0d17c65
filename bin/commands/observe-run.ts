/* `mq observe`: the live table (or --json records) of a cluster, or the web console over it and/or a trace. */
import { existsSync } from 'node:fs';
import type { LiveSource } from '../../observe/source.js';
import { AttachError, sseSource } from '../../observe/sse-source.js';
import { transportSource } from '../../observe/transport-source.js';
import { serveConsole } from '../../observe/web/server.js';
import { connectSystem } from './connect.js';
import { CliError, out, type ConnectionFlags } from './flags.js';
import { watchInTerminal } from './observe-terminal.js';

export interface ObserveFlags extends ConnectionFlags {
  attach?: string;
  web?: { host: string; port: number };
  trace?: string;
  json?: boolean;
  all?: boolean;
  redraw: number;
  /** Whether --nats was given (else it holds its default). */
  natsGiven: boolean;
}

/** What is watched, for the table's first line. */
function titleOf(f: ObserveFlags): string {
  return f.attach !== undefined ? `mq observe ${f.attach}` : `mq observe ${f.nats} (prefix ${f.prefix})`;
}

/**
 * The live source: a console's stream with --attach, else every process of the cluster over NATS; none when only
 * a trace is served. The returned close also closes what the source runs on.
 */
export async function openLiveSource(f: ObserveFlags): Promise<LiveSource | undefined> {
  if (f.attach !== undefined) {
    try {
      return await sseSource(f.attach);
    } catch (err) {
      if (err instanceof AttachError) throw new CliError(err.message);
      throw err;
    }
  }
  if (f.trace !== undefined && !f.natsGiven) return undefined;
  const system = await connectSystem(f, 'mq-observe', 'error', undefined, false);
  const source = transportSource(system.env.transport, { random: system.env.random, logger: system.env.logger });
  return { ...source, close: async () => (await source.close(), await system.stop()) };
}

/** Resolves with the first SIGINT or SIGTERM. */
const untilSignal = (): Promise<NodeJS.Signals> =>
  new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });

export async function runObserve(f: ObserveFlags): Promise<void> {
  if (f.trace !== undefined && f.web === undefined) throw new CliError('time travel over a trace is in the web console: add --web HOST:PORT');
  if (f.trace !== undefined && !existsSync(f.trace)) throw new CliError(`no trace file ${f.trace}`);
  if (f.attach !== undefined && f.natsGiven) throw new CliError('--attach and --nats each name what to watch: give one');
  if (f.web !== undefined && f.json === true) throw new CliError('--json prints records in the terminal; the web console (--web) shows them itself: give one');
  const source = await openLiveSource(f);
  const signal = untilSignal();
  try {
    if (f.web === undefined) {
      await watchInTerminal(source!, { title: titleOf(f), json: f.json === true, all: f.all === true, redrawMs: f.redraw }, signal);
      return;
    }
    const server = await serveConsole(source, { ...f.web, ...(f.trace !== undefined ? { traceFile: f.trace } : {}) });
    out(`mq observe: web console at ${server.url}${source !== undefined ? ` watching ${titleOf(f).slice('mq observe '.length)}` : ''}${f.trace !== undefined ? ` (trace ${f.trace})` : ''}`);
    const got = await signal;
    await server.close();
    out(`mq observe: ${got}, stopped`);
  } finally {
    await source?.close();
  }
  process.exitCode = (await signal) === 'SIGTERM' ? 143 : 130;
}
