import type { Actor } from 'xstate';
import { brokerAddress } from '../protocol/commands.js';
import type { ActorSystem } from '../runtime/system.js';
import { resolveBrokerOptions, type BrokerOptions } from './broker-options.js';
import type { OpenStore } from './broker-runtime.js';
import { brokerMachine } from './broker.machine.js';
import type { BrokerContext } from './handlers/context.js';
import { openStorePort } from './store-adapter.js';

export type { BrokerOptions, BrokerSettings } from './broker-options.js';
export { BrokerConfigError, resolveBrokerOptions } from './broker-options.js';

export class BrokerStartError extends Error {
  readonly code = 'EBROKERSTART';
  constructor(message: string) {
    super(message);
    this.name = 'BrokerStartError';
  }
}

export interface BrokerHandle {
  /** Where the broker serves: `broker.<name>.<id>`. */
  readonly address: string;
  readonly actor: Actor<typeof brokerMachine>;
  /** The lifecycle state ('starting', 'registering', 'serving', 'shuttingDown', 'stopped', 'failed'). */
  state(): string;
  /** Resolves once the broker serves; rejects if it fails to start or stops first. */
  whenServing(): Promise<void>;
  /** The handlers' context while running (topics, offsets, clients, store): for inspection and tests. */
  context(): BrokerContext | undefined;
  /** Unregisters, answers held pulls, persists offsets, closes the store and frees the address. */
  stop(): Promise<void>;
}

export interface StartBrokerExtras {
  /** Opens the store (default: the message store on `system.env.storage`). Tests inject a fake. */
  openStore?: OpenStore;
}

/** Starts a broker in `system`; it takes storage, clock, random and logger from `system.env`. */
export async function startBroker(system: ActorSystem, opts: BrokerOptions, extras: StartBrokerExtras = {}): Promise<BrokerHandle> {
  const settings = resolveBrokerOptions(opts);
  const address = brokerAddress(settings.name, settings.id);
  const host = system.host({
    address,
    logic: brokerMachine,
    input: (io) => ({ io, settings, storage: system.env.storage, openStore: extras.openStore ?? openStorePort }),
  });
  const actor = host.actor;
  const state = (): string => {
    const v = actor.getSnapshot().value;
    return typeof v === 'string' ? v : JSON.stringify(v);
  };
  const waitFor = (accept: (s: string) => boolean): Promise<string> =>
    new Promise((resolve) => {
      const check = (): boolean => {
        const s = state();
        if (accept(s) || actor.getSnapshot().status !== 'active') {
          resolve(s);
          return true;
        }
        return false;
      };
      if (check()) return;
      const sub = actor.subscribe({ next: () => void (check() && sub.unsubscribe()), complete: () => void (check(), sub.unsubscribe()) });
    });
  let stopping: Promise<void> | undefined;
  return {
    address,
    actor,
    state,
    context: () => actor.getSnapshot().context.rt?.ctx,
    whenServing: async () => {
      const s = await waitFor((x) => x === 'serving');
      if (s !== 'serving') {
        const err = actor.getSnapshot().context.error;
        throw new BrokerStartError(`broker ${address} is ${s}${err ? `: ${err}` : ''}`);
      }
    },
    stop: () =>
      (stopping ??= (async () => {
        if (actor.getSnapshot().status === 'active') {
          actor.send({ type: 'stop' });
          await waitFor((x) => x === 'stopped' || x === 'failed');
        }
        system.unhost(address);
      })()),
  };
}
