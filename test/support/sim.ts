import { createHash } from 'node:crypto';
import { ActorSystem } from '../../actors/runtime/system.js';
import { simEnvironment, type SimEnvironment } from '../../actors/runtime/environment.js';
import type { InspectionRecord } from '../../actors/runtime/inspection.js';
import { memoryStorage } from '../../store/backends/memory.js';
import type { TransportFactory } from '../../transports/transport.js';
import { memoryTransport } from '../../transports/memory.js';

/** An actor system on the simulated Environment: virtual clock, seeded randomness, memory storage. */
export async function simSystem(seed: number, transport: TransportFactory = memoryTransport()): Promise<{ env: SimEnvironment; system: ActorSystem }> {
  const env = await simEnvironment({ seed, transport, storage: (deps) => memoryStorage(deps) });
  return { env, system: new ActorSystem(env) };
}

/** Hashes every inspection record of a system, in order: the trace of a run. */
export function traceOf(system: ActorSystem): { digest(): string; readonly count: number } {
  const hash = createHash('sha256');
  let count = 0;
  system.inspection$.subscribe((r: InspectionRecord) => {
    hash.update(JSON.stringify(r));
    hash.update('\n');
    count++;
  });
  return {
    digest: () => hash.copy().digest('hex'),
    get count() {
      return count;
    },
  };
}
