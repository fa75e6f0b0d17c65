import type { InspectionRecord } from './inspection.js';

/**
 * The records that bring a new observer up to date, kept as a stream goes by: each machine definition, each
 * live actor's start record with its latest snapshot, and each role's latest figures. An actor leaves once it
 * stops (or finishes); a role's figures once its root actor stops. Keyed per source (a publisher), when records
 * of several arrive.
 */
export class LatestRecords<R extends InspectionRecord> {
  private readonly definitions = new Map<string, R>();
  private readonly live = new Map<string, { actor: R; latest?: R }>();
  private readonly stats = new Map<string, R>();

  constructor(private readonly sourceOf: (r: R) => string = () => '') {}

  add(r: R): void {
    const source = this.sourceOf(r);
    switch (r.kind) {
      case 'machine':
        this.definitions.set(`${source}|${r.machine}`, r);
        break;
      case 'actor':
        this.live.set(`${source}|${r.address}|${r.actorId}`, { actor: r });
        break;
      case 'snapshot': {
        const key = `${source}|${r.address}|${r.actorId}`;
        if (r.status === undefined || r.status === 'active') {
          const entry = this.live.get(key);
          if (entry !== undefined) entry.latest = r;
        } else {
          this.live.delete(key);
          if (r.actorId === r.address) this.stats.delete(`${source}|${r.address}`);
        }
        break;
      }
      case 'stats':
        this.stats.set(`${source}|${r.address}`, r);
        break;
      default:
        break;
    }
  }

  /** Definitions first, then each live actor's start and latest snapshot, then the latest figures. */
  records(): R[] {
    const out: R[] = [...this.definitions.values()];
    for (const { actor, latest } of this.live.values()) {
      out.push(actor);
      if (latest !== undefined) out.push(latest);
    }
    out.push(...this.stats.values());
    return out;
  }

  /** Forgets everything of one source (a publisher that went away). */
  forget(source: string): void {
    const prefix = `${source}|`;
    for (const map of [this.definitions, this.live, this.stats] as Map<string, unknown>[]) {
      for (const key of map.keys()) if (key.startsWith(prefix)) map.delete(key);
    }
  }
}
