import { Subject, type Observable } from 'rxjs';
import type { AnyActorLogic, InspectionEvent } from 'xstate';
import type { Environment } from './environment.js';
import { ActorHost, type HostOptions } from './actor-host.js';
import { machineKeys, toInspectionRecords, type InspectionRecord, type UnnumberedRecord } from './inspection.js';
import type { RoleStats } from '../protocol/observe.js';

/**
 * An actor system: one Environment, the actors hosted on it, and one observation stream that every actor's
 * inspection records (and, when sampled, every role's figures) flow into, numbered in order.
 */
export class ActorSystem {
  private readonly inspections = new Subject<InspectionRecord>();
  private readonly hosts = new Map<string, ActorHost<AnyActorLogic>>();
  private readonly machines = machineKeys();
  private readonly stats = new Map<string, () => RoleStats>();
  /** What a late observer needs: each machine's definition, each live actor's start and its latest snapshot. */
  private readonly definitions = new Map<string, InspectionRecord>();
  private readonly live = new Map<string, { actor: InspectionRecord; latest?: InspectionRecord }>();
  private seq = 0;
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

  /** A role hosted at `address` offers its figures; `sampleStats` puts them on the stream. */
  provideStats(address: string, sample: () => RoleStats): void {
    this.stats.set(address, sample);
  }

  /** Puts one `stats` record per role that offers figures on the stream (an observer calls this periodically). */
  sampleStats(): void {
    const time = this.env.clock.now();
    for (const [address, sample] of this.stats) {
      let stats: RoleStats;
      try {
        stats = sample();
      } catch (err) {
        this.env.logger.warn({ err, actor: address }, 'could not sample a role\'s figures');
        continue;
      }
      this.emit({ time, address, actorId: address, kind: 'stats', stats });
    }
  }

  /**
   * The records that bring a new observer up to date: every machine definition in use, then each live actor's
   * start record and latest snapshot (their original sequence numbers and times).
   */
  snapshot(): InspectionRecord[] {
    const out: InspectionRecord[] = [...this.definitions.values()];
    for (const { actor, latest } of this.live.values()) {
      out.push(actor);
      if (latest !== undefined) out.push(latest);
    }
    return out;
  }

  /** Stops every actor (newest first), then closes the transport. */
  async stop(): Promise<void> {
    for (const address of [...this.hosts.keys()].reverse()) this.unhost(address);
    this.inspections.complete();
    await this.env.transport.close();
  }

  private inspect(ev: InspectionEvent, address: string): void {
    for (const rec of toInspectionRecords(ev, address, this.env.clock.now(), this.machines)) this.emit(rec);
  }

  private emit(unnumbered: UnnumberedRecord): void {
    const rec = { ...unnumbered, seq: this.seq++ } as InspectionRecord;
    const key = `${rec.address}|${rec.actorId}`;
    if (rec.kind === 'machine') this.definitions.set(rec.machine, rec);
    else if (rec.kind === 'actor') this.live.set(key, { actor: rec });
    else if (rec.kind === 'snapshot') {
      if (rec.status === 'active' || rec.status === undefined) {
        const entry = this.live.get(key);
        if (entry !== undefined) entry.latest = rec;
      } else this.live.delete(key);
    }
    this.inspections.next(rec);
  }
}
