import pino, { type Logger } from 'pino';
import type { StorageBackend } from '../../store/backend.js';
import type { Transport, TransportFactory } from '../../transports/transport.js';
import { RealClock, SimClock, type Clock } from '../../core/clock.js';
import { CryptoRandom, SeededRandom, type RandomSource } from '../../core/random.js';

/**
 * The one door to the outside world for actors and the store: clock and timers, randomness, files, network
 * and logging. Real in production, simulated in scenarios and tests.
 */
export interface Environment {
  readonly kind: 'real' | 'simulated';
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly storage: StorageBackend;
  readonly transport: Transport;
  readonly logger: Logger;
}

export interface SimEnvironment extends Environment {
  readonly kind: 'simulated';
  readonly clock: SimClock;
  readonly random: SeededRandom;
}

/** The root logger: level from LOG_LEVEL (default 'warn' so tests and benchmarks stay quiet). */
export function rootLogger(level = process.env.LOG_LEVEL ?? 'warn'): Logger {
  return pino({ level, base: undefined });
}

export interface EnvironmentOptions {
  transport: TransportFactory;
  /** Storage backend; built after clock and random so a memory backend can use them. */
  storage: (deps: { clock: Clock; random: RandomSource; logger: Logger }) => StorageBackend;
  logger?: Logger;
}

export async function realEnvironment(opts: EnvironmentOptions): Promise<Environment> {
  const clock = new RealClock();
  const random = new CryptoRandom();
  const logger = opts.logger ?? rootLogger();
  const transport = await opts.transport({ clock, random, logger });
  const storage = opts.storage({ clock, random, logger });
  return { kind: 'real', clock, random, storage, transport, logger };
}

export async function simEnvironment(opts: EnvironmentOptions & { seed: number; start?: number }): Promise<SimEnvironment> {
  const clock = new SimClock(opts.start);
  const random = new SeededRandom(opts.seed);
  const logger = opts.logger ?? rootLogger();
  const transport = await opts.transport({ clock, random, logger });
  const storage = opts.storage({ clock, random, logger });
  return { kind: 'simulated', clock, random, storage, transport, logger };
}
