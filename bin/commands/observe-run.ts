/* `mq observe`: the web console over a live cluster (NATS) and/or a trace file, until SIGINT or SIGTERM. */
import { existsSync } from 'node:fs';
import type { LiveSource } from '../../observe/source.js';
import { serveConsole } from '../../observe/web/server.js';
import { CliError, out } from './flags.js';

export interface ObserveFlags {
  web?: { host: string; port: number };
  trace?: string;
  nats?: string;
  prefix: string;
}

/**
 * The live source `mq observe` watches: the one place that turns the connection flags into a LiveSource
 * (records of every process of the cluster, over NATS). Undefined when no cluster is given, and for now also
 * when one is: the NATS source is not wired here yet.
 */
export async function openLiveSource(f: ObserveFlags): Promise<LiveSource | undefined> {
  if (f.nats === undefined) return undefined;
  return undefined;
}

export async function runObserve(f: ObserveFlags): Promise<void> {
  if (f.web === undefined) throw new CliError('give --web HOST:PORT (the terminal viewer is not built yet)');
  if (f.trace !== undefined && !existsSync(f.trace)) throw new CliError(`no trace file ${f.trace}`);
  const source = await openLiveSource(f);
  if (source === undefined) {
    out(f.nats === undefined ? 'mq observe: live observation over NATS needs --nats URL; serving time travel only' : 'mq observe: live observation over NATS is not available yet; serving time travel only');
  }
  const server = await serveConsole(source, { ...f.web, ...(f.trace !== undefined ? { traceFile: f.trace } : {}) });
  out(`mq observe: web console at ${server.url}${f.trace !== undefined ? ` (trace ${f.trace})` : ''}`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  await server.close();
  await source?.close();
  out(`mq observe: ${signal}, stopped`);
  process.exitCode = signal === 'SIGTERM' ? 143 : 130;
}
