import { Subject, type Observable } from 'rxjs';
import type { AnyActorLogic, InspectionEvent } from 'xstate';
import type { Environment } from './environment.js';
import { ActorHost, type HostOptions } from './actor-host.js';
import { machineKeys, toInspectionRecords, type InspectionRecord, type UnnumberedRecord } from './inspection.js';
import type { RoleStats } from '../protocol/observe.js';
import { LatestRecords } from './latest-records.js';
import { ObservePublisher, type ObservePublisherOptions } from './observe-publisher.js';

/**
 * An actor system: one Environment, the actors hosted on it, and one observation stream that every actor's
 * inspection records (and, when sampled, every role's figures) flow into, numbered in order.
 */
export class ActorSystem {
  private readonly inspections = new Subject<InspectionRecord>();
  private readonly hosts = new Map<string, ActorHost<AnyActorLogic>>();
  private readonly machines = machineKeys();
  private readonly stats = new Map<string, () => RoleStats | undefined>();
  /** What a late observer needs: each machine's definition, each live actor's start and latest snapshot, figures. */
  private readonly latest = new LatestRecords<InspectionRecord>();
  private seq = 0;
  private publisher: ObservePublisher | undefined;
  /** Every hosted actor's inspection records, in the order they happened. */
  readonly inspection$: Observable<InspectionRecord> = this.inspections.asObservable();

  constructor(readonly env: Environment) {}

  /** Hosts an actor at an address; the address must be free in this system. */
  host<TLogic extends AnyActorLogic>(opts: HostOptions<TLogic>): ActorHost<TLogic> {
    if (this.hosts.has(opts.address)) throw new Error(`address ${opts.address} is already hosted in this system`);
    const host = new ActorHost(this.env, opts, (ev, address) => this.inspect(ev, address));
    this.hosts.set(opts.address, host as unknown as ActorHost<AnyActorLogic>);
    return host;
  }

  /** Stops one hosted actor. */
  unhost(address: string): void {
    this.hosts.get(address)?.stop();
    this.hosts.delete(address);
    this.stats.delete(address);
  }

  addresses(): string[] {
    return [...this.hosts.keys()];
  }

  /** A role hosted at `address` offers its figures (undefined while it has none); `sampleStats` puts them on the stream. */
  provideStats(address: string, sample: () => RoleStats | undefined): void {
    this.stats.set(address, sample);
  }

  /** Puts one `stats` record per role that offers figures on the stream (an observer calls this periodically). */
  sampleStats(): void {
    const time = this.env.clock.now();
    for (const [address, sample] of this.stats) {
      let stats: RoleStats | undefined;
      try {
        stats = sample();
      } catch (err) {
        this.env.logger.warn({ err, actor: address }, 'could not sample a role\'s figures');
        continue;
      }
      if (stats !== undefined) this.emit({ time, address, actorId: address, kind: 'stats', stats });
    }
  }

  /**
   * The records that bring a new observer up to date: every machine definition in use, then each live actor's
   * start record and latest snapshot, then each role's latest figures (their original sequence numbers and times).
   */
  snapshot(): InspectionRecord[] {
    return this.latest.records();
  }

  /**
   * Publishes this system's observation stream on its transport while observers ask for it (ObservePublisher),
   * until the system stops. Once per system.
   */
  publishObservations(opts: ObservePublisherOptions): void {
    if (this.publisher !== undefined) throw new Error('this system already publishes its observations');
    this.publisher = new ObservePublisher(this, opts);
    this.publisher.start();
  }

  /** Stops every actor (newest first), then closes the transport. */
  async stop(): Promise<void> {
    this.publisher?.stop();
    for (const address of [...this.hosts.keys()].reverse()) this.unhost(address);
    this.inspections.complete();
    await this.env.transport.close();
  }

  private inspect(ev: InspectionEvent, address: string): void {
    for (const rec of toInspectionRecords(ev, address, this.env.clock.now(), this.machines)) this.emit(rec);
  }

  private emit(unnumbered: UnnumberedRecord): void {
    const rec = { ...unnumbered, seq: this.seq++ } as InspectionRecord;
    this.latest.add(rec);
    this.inspections.next(rec);
  }
}
