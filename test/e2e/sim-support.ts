import { MqSystem } from '../../index.js';
import { ActorSystem } from '../../actors/runtime/system.js';
import { rootLogger, simEnvironment, type SimEnvironment } from '../../actors/runtime/environment.js';
import { memoryTransport } from '../../transports/memory.js';
import { memoryStorage } from '../../store/backends/memory.js';

/** A whole system on the simulated Environment: virtual clock, seeded randomness, memory transport and storage. */
export async function simMqSystem(seed: number): Promise<{ env: SimEnvironment; system: MqSystem }> {
  const env = await simEnvironment({ seed, transport: memoryTransport(), storage: (deps) => memoryStorage(deps), logger: rootLogger() });
  return { env, system: new MqSystem(new ActorSystem(env)) };
}

/** Runs simulated time until `p` settles (bounded in simulated time) and returns its result. */
export async function driveOn<T>(env: SimEnvironment, p: Promise<T>, deadlineMs = 60_000): Promise<T> {
  let done = false;
  const tracked = p.finally(() => (done = true));
  tracked.catch(() => undefined);
  if (!(await env.clock.runUntil(() => done, deadlineMs))) throw new Error(`not settled within ${deadlineMs} ms of simulated time`);
  return tracked;
}
