/**
 * The embedding API: start an actor system on a transport and spawn roles in it.
 *
 *   const system = await startSystem({ transport: memoryTransport() });
 *   system.inspection$.subscribe(console.log);
 *   await system.stop();
 */
import type { Logger } from 'pino';
import { realEnvironment, rootLogger } from './actors/runtime/environment.js';
import { ActorSystem } from './actors/runtime/system.js';
import type { StorageBackend } from './store/backend.js';
import { diskStorage } from './store/backends/disk.js';
import type { TransportFactory } from './transports/transport.js';

export interface SystemOptions {
  /** `memoryTransport()` or `natsTransport({ servers })`. */
  transport: TransportFactory;
  /** Where brokers store data; the real file system by default. */
  storage?: () => StorageBackend;
  /** Root logger; pino at LOG_LEVEL (default 'warn') otherwise. */
  logger?: Logger;
}

export async function startSystem(opts: SystemOptions): Promise<ActorSystem> {
  const env = await realEnvironment({
    transport: opts.transport,
    storage: opts.storage ?? (() => diskStorage()),
    logger: opts.logger ?? rootLogger(),
  });
  return new ActorSystem(env);
}

export { ActorSystem } from './actors/runtime/system.js';
export type { InspectionRecord } from './actors/runtime/inspection.js';
export type { ActorIo, FrameEvent } from './actors/runtime/actor-host.js';
export { realEnvironment, simEnvironment, type Environment, type SimEnvironment } from './actors/runtime/environment.js';
export { SimClock, RealClock, type Clock } from './actors/runtime/clock.js';
export { SeededRandom, CryptoRandom, type RandomSource } from './actors/runtime/random.js';
export { Status, StatusError } from './actors/protocol/status.js';
export { memoryTransport } from './transports/memory.js';
export { natsTransport } from './transports/nats.js';
export type { Transport, TransportFactory } from './transports/transport.js';
