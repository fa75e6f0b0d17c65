import { defer, EMPTY, from, switchMap, type Observable } from 'rxjs';
import type { Actor } from 'xstate';
import { brokerAddress } from '../protocol/commands.js';
import type { ActorSystem } from '../runtime/system.js';
import { resolveBrokerOptions, type BrokerOptions } from './broker-options.js';
import type { OpenStore } from './broker-runtime.js';
import { brokerMachine } from './broker.machine.js';
import type { BrokerContext } from './handlers/context.js';
import type { HaRoleState } from './ha/ha-runtime.js';
import { openStorePort } from './store-adapter.js';
import { brokerStats } from './broker-stats.js';
import { signedIo } from '../runtime/signed-io.js';
import { RegistrationTimeoutError, registrationStatus, type RegistrationStatus } from './registration.js';
import { BrokerMetrics } from './broker-metrics.js';
import { brokerMetricsSnapshot, type BrokerMetricsSnapshot } from './metrics-snapshot.js';

export type { BrokerOptions, BrokerSettings } from './broker-options.js';
export { BrokerConfigError, resolveBrokerOptions } from './broker-options.js';
export type { RegistrationStatus } from './registration.js';
export type { HaRole, HaRoleState } from './ha/ha-runtime.js';
export type { BrokerMetricsSnapshot, BrokerGauges } from './metrics-snapshot.js';

export class BrokerStartError extends Error {
  readonly code = 'EBROKERSTART';
  constructor(
    message: string,
    /** The name servers that did not have the broker, when that was the trouble. */
    readonly missingNameServers: readonly string[] = [],
  ) {
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
  /** Which name servers have the broker now (none before it registers). */
  registration(): RegistrationStatus;
  /** The registration status and every change of it, once the broker serves; completes when it stops. */
  readonly registration$: Observable<RegistrationStatus>;
  /**
   * The broker's replication role (master, slave of whom, or none yet) once it serves, then each change of it
   * (under a controller: the elections); completes when it stops. Nothing for a broker that does not replicate.
   */
  readonly role$: Observable<HaRoleState>;
  /**
   * Resolves once the broker serves and every name server has it; rejects with BrokerStartError naming the
   * missing name servers when that takes longer than `timeoutMs` (default: the broker's registerWaitMs) after
   * it serves. The broker goes on serving and retrying either way.
   */
  whenRegistered(timeoutMs?: number): Promise<void>;
  /** The handlers' context while running (topics, offsets, clients, store): for inspection and tests. */
  context(): BrokerContext | undefined;
  /**
   * The broker's metrics now, as plain data: its counters since it started (messages and bytes per topic,
   * requests, latencies) and, while it runs, its gauges (commit log size, lags, held pulls, replication).
   * observe/metrics.ts exports them to Prometheus.
   */
  metrics(): BrokerMetricsSnapshot;
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
  const metrics = new BrokerMetrics();
  const host = system.host({
    address,
    logic: brokerMachine,
    input: (io) => ({ io: signedIo(io, settings.credentials), settings, storage: system.env.storage, openStore: extras.openStore ?? openStorePort, metrics }),
  });
  const actor = host.actor;
  system.provideStats(address, () => {
    const ctx = actor.getSnapshot().context.rt?.ctx;
    return ctx === undefined ? undefined : brokerStats(ctx);
  });
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
  const whenServing = async (): Promise<void> => {
    const s = await waitFor((x) => x === 'serving');
    if (s !== 'serving') {
      const err = actor.getSnapshot().context.error;
      throw new BrokerStartError(`broker ${address} is ${s}${err ? `: ${err}` : ''}`);
    }
  };
  const registrations = () => actor.getSnapshot().context.rt?.registrations;
  return {
    address,
    actor,
    state,
    context: () => actor.getSnapshot().context.rt?.ctx,
    metrics: () => {
      // gauges while the store is open and not closing
      const s = state();
      const ctx = s === 'serving' || s === 'registering' ? actor.getSnapshot().context.rt?.ctx : undefined;
      return brokerMetricsSnapshot(settings.name, settings.id, metrics, ctx);
    },
    whenServing,
    registration: () => registrations()?.status() ?? registrationStatus(settings.namesrv, new Set()),
    registration$: defer(() => from(whenServing())).pipe(switchMap(() => registrations()!.status$)),
    role$: defer(() => from(whenServing())).pipe(switchMap(() => actor.getSnapshot().context.rt?.ctx.ha?.role$ ?? EMPTY)),
    whenRegistered: async (timeoutMs = settings.registerWaitMs) => {
      await whenServing();
      try {
        await registrations()!.whenAll(timeoutMs);
      } catch (err) {
        if (err instanceof RegistrationTimeoutError) throw new BrokerStartError(`broker ${address} serves, but ${err.message}`, err.missing);
        throw new BrokerStartError(`broker ${address}: ${err instanceof Error ? err.message : String(err)}`);
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

/**
 * Starts a broker and resolves once it serves and every name server it was given has it (what
 * `MqSystem.spawnBroker` does): a client started then finds its routes. When that takes longer than the
 * broker's registerWaitMs, or the broker fails to start, it is stopped and the promise rejects with a
 * BrokerStartError that names the name servers that did not answer.
 */
export async function startRegisteredBroker(system: ActorSystem, opts: BrokerOptions, extras: StartBrokerExtras = {}): Promise<BrokerHandle> {
  const broker = await startBroker(system, opts, extras);
  try {
    await broker.whenRegistered();
  } catch (err) {
    await broker.stop();
    throw err;
  }
  return broker;
}
