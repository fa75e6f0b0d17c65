import { Subject, type Observable } from 'rxjs';
import type { AnyActorLogic } from 'xstate';
import type { Environment } from './environment.js';
import { ActorHost, type HostOptions } from './actor-host.js';
import type { InspectionRecord } from './inspection.js';

/**
 * An actor system: one Environment, the actors hosted on it, and one inspection stream that every actor's
 * state changes flow into.
 */
export class ActorSystem {
  private readonly inspections = new Subject<InspectionRecord>();
  private readonly hosts = new Map<string, ActorHost<AnyActorLogic>>();
  /** Every hosted actor's inspection records, in the order they happened. */
  readonly inspection$: Observable<InspectionRecord> = this.inspections.asObservable();

  constructor(readonly env: Environment) {}

  /** Hosts an actor at an address; the address must be free in this system. */
  host<TLogic extends AnyActorLogic>(opts: HostOptions<TLogic>): ActorHost<TLogic> {
    if (this.hosts.has(opts.address)) throw new Error(`address ${opts.address} is already hosted in this system`);
    const host = new ActorHost(this.env, opts, (r) => this.inspections.next(r));
    this.hosts.set(opts.address, host as unknown as ActorHost<AnyActorLogic>);
    return host;
  }

  /** Stops one hosted actor. */
  unhost(address: string): void {
    this.hosts.get(address)?.stop();
    this.hosts.delete(address);
  }

  addresses(): string[] {
    return [...this.hosts.keys()];
  }

  /** Stops every actor (newest first), then closes the transport. */
  async stop(): Promise<void> {
    for (const address of [...this.hosts.keys()].reverse()) this.unhost(address);
    this.inspections.complete();
    await this.env.transport.close();
  }
}
