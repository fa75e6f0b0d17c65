import type { Actor } from 'xstate';
import { controllerAddress } from '../protocol/commands.js';
import { DEFAULT_CONTROLLER_SETTINGS, type ControllerSettings, type GroupState } from '../protocol/ha-controller.js';
import type { ActorSystem } from '../runtime/system.js';
import { controllerMachine } from './controller.machine.js';
import { loadControllerState } from './controller-state.js';

export interface ControllerOptions {
  /** The controller's id; it serves at `controller.<id>`. */
  id: string;
  /** Where it keeps its state (default `controller-<id>`, on the Environment's storage). */
  dir?: string;
  /** Lease, liveness and clock skew (ha-controller.ts; defaults 3000, 3000 and 500 ms). */
  settings?: Partial<ControllerSettings>;
}

export interface Controller {
  readonly id: string;
  readonly address: string;
  readonly actor: Actor<typeof controllerMachine>;
  /** The state of one broker group now. */
  group(brokerName: string): GroupState | undefined;
  stop(): Promise<void>;
}

/** Starts an HA controller in `system` (state loaded from its directory, each lease counted from now). */
export async function startController(system: ActorSystem, opts: ControllerOptions): Promise<Controller> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(opts.id)) throw new Error(`controller id "${opts.id}" must be 1-64 of [A-Za-z0-9_-]`);
  const settings: ControllerSettings = { ...DEFAULT_CONTROLLER_SETTINGS, ...opts.settings };
  for (const [k, v] of Object.entries(settings)) if (!Number.isFinite(v) || v < 0) throw new Error(`controller setting ${k} must be a number >= 0, got ${String(v)}`);
  const address = controllerAddress(opts.id);
  const dir = opts.dir ?? `controller-${opts.id}`;
  const env = system.env;
  const groups = loadControllerState(env.storage, dir, env.clock.now(), settings.leaseMs);
  const host = system.host({ address, logic: controllerMachine, input: (io) => ({ io, storage: env.storage, dir, settings, groups }) });
  system.provideStats(address, () => ({
    role: 'controller',
    groups: [...host.actor.getSnapshot().context.groups.values()].map((g) => ({ brokerName: g.brokerName, masterId: g.masterId ?? -1, epoch: g.epoch, inSync: g.inSync })),
  }));
  await env.transport.flush();
  return {
    id: opts.id,
    address,
    actor: host.actor,
    group: (name) => host.actor.getSnapshot().context.groups.get(name),
    stop: async () => {
      await host.actor.getSnapshot().context.writes.chain.catch(() => undefined);
      system.unhost(address);
    },
  };
}
