/**
 * Where an observer's records come from: one actor system in this process (`localSource`), or every process
 * of a cluster over a transport (`transportSource`, observe/transport-source.ts). Either way a source gives the
 * records that bring a new viewer up to date, then the live stream, each record tagged with its publisher.
 */
import { map, type Observable } from 'rxjs';
import type { ActorSystem } from '../actors/runtime/system.js';
import type { InspectionRecord } from '../actors/runtime/inspection.js';

/** A record with the publisher it came from (one actor system: a process, or a process incarnation). */
export type ObservedRecord = InspectionRecord & { source: string };

export interface LiveSource {
  /** Records that bring a new viewer up to date (definitions, live actors, their latest snapshots and figures). */
  snapshot(): ObservedRecord[];
  /** Every record from now on. */
  readonly records$: Observable<ObservedRecord>;
  /** Records each publisher dropped because its buffer was full (a slow link or observer). */
  dropped(): Record<string, number>;
  close(): Promise<void>;
}

export interface LocalSourceOptions {
  /** The publisher's name in records (default 'local'). */
  source?: string;
  /** How often the roles' figures are sampled (default 1000 ms; on the system's clock). */
  statsMs?: number;
}

/** Observes one actor system in this process: no buffer, nothing dropped. */
export function localSource(system: ActorSystem, opts: LocalSourceOptions = {}): LiveSource {
  const source = opts.source ?? 'local';
  const clock = system.env.clock;
  const tag = (r: InspectionRecord): ObservedRecord => ({ ...r, source });
  const records$ = system.inspection$.pipe(map(tag));
  system.sampleStats();
  const timer = clock.setInterval(() => system.sampleStats(), opts.statsMs ?? 1000);
  return {
    snapshot: () => system.snapshot().map(tag),
    records$,
    dropped: () => ({ [source]: 0 }),
    close: async () => {
      clock.clearInterval(timer);
    },
  };
}
