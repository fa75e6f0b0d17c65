/* Connecting a command to NATS (bounded wait, logs on stderr) and waiting for signals. Loaded only by commands that run. */
import pino, { type Logger } from 'pino';
import { realEnvironment } from '../../actors/runtime/environment.js';
import { ActorSystem } from '../../actors/runtime/system.js';
import { diskStorage } from '../../store/backends/disk.js';
import { DirectListenError } from '../../transports/direct.js';
import { NatsConnectError } from '../../transports/nats-auth.js';
import { natsTransport, type DirectOptions } from '../../transports/nats.js';
import type { TransportFactory } from '../../transports/transport.js';
import { CliError, type ConnectionFlags } from './flags.js';
import { natsSecurity } from './nats-flags.js';

/**
 * Logs go to stderr so stdout carries only the command's output. Level from LOG_LEVEL, else `level`: 'warn'
 * for the long-running roles, 'error' for one-shot commands (whose failures end in one `mq:` line anyway).
 */
export function cliLogger(level: string): Logger {
  return pino({ level: process.env.LOG_LEVEL ?? level, base: undefined }, pino.destination(2));
}

export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(onTimeout()), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(t);
        reject(err);
      },
    );
  });
}

/**
 * An actor system on NATS; fails with one clear CliError when NATS cannot be reached in time, naming the cause
 * (authentication, unreachable, TLS). With `direct`, its inboxes are served over direct links too. It publishes
 * its actors' records while the cluster is observed, unless `publish` is false (the observer itself).
 */
export async function connectSystem(flags: ConnectionFlags, name: string, logLevel = 'error', direct?: DirectOptions, publish = true): Promise<ActorSystem> {
  const url = flags.nats;
  const servers = natsServers(url);
  const security = natsSecurity(flags);
  const inner = natsTransport({ servers, prefix: flags.prefix, name, ...security, connectTimeoutMs: flags.connectTimeout, ...(direct ? { direct } : {}) });
  const bounded: TransportFactory = (deps) =>
    withTimeout(
      Promise.resolve().then(() => inner(deps)),
      // the transport's own handshake timeout names the cause first; this bounds the rest of the start
      flags.connectTimeout + 1000,
      () => new CliError(`cannot connect to NATS at ${url}: no connection within ${flags.connectTimeout} ms`),
    ).catch((err: unknown) => {
      if (err instanceof CliError) throw err;
      if (err instanceof DirectListenError || err instanceof NatsConnectError) throw new CliError(err.message);
      throw new CliError(`cannot connect to NATS at ${url}: ${err instanceof Error ? err.message : String(err)}`);
    });
  const env = await realEnvironment({ transport: bounded, storage: () => diskStorage(), logger: cliLogger(logLevel) });
  const system = new ActorSystem(env);
  // `mq observe` sees every process: each publishes its actors' records while an observer asks for them
  if (publish) system.publishObservations({ source: `${name}.${process.pid}` });
  return system;
}

/** The servers of `--nats`: one URL, or several comma separated (the client takes the first that answers). */
export function natsServers(flag: string): string[] {
  const servers = flag.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (servers.length === 0) throw new CliError(`--nats: expected a NATS server URL, got ${JSON.stringify(flag)}`);
  return servers;
}

// ---------------------------------------------------------------------------------------------- signals

/**
 * Waits for SIGINT or SIGTERM, then runs `stop` (bounded by `graceMs`). A second signal exits at once.
 * Resolves with the signal received.
 */
export async function untilSignal(stop: () => Promise<void>, graceMs = 10_000): Promise<NodeJS.Signals> {
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const force = (): void => process.exit(130);
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  await withTimeout(stop(), graceMs, () => new CliError(`did not stop within ${graceMs} ms`));
  return signal;
}

/** Stops `system` after a failed start, bounded by `ms`; a failure to stop is logged (the start error is what matters). */
export async function stopAfterFailure(system: ActorSystem, ms = 3000): Promise<void> {
  await withTimeout(system.stop(), ms, () => new CliError(`did not stop within ${ms} ms`)).catch((err: unknown) =>
    system.env.logger.warn({ err }, 'stopping after a failed start failed'),
  );
}
