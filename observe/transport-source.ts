/**
 * Observes every process of a cluster over a transport (NATS): says hello on OBSERVE_HELLO_SUBJECT (first
 * asking for snapshots, then every few seconds to keep the publishers publishing), and turns the batches that
 * arrive on OBSERVE_SUBJECT and on its own snapshot subject into records tagged with their publisher.
 */
import { Subject, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import { frame } from '../transports/frame.js';
import type { Transport } from '../transports/transport.js';
import { RealClock, type Clock } from '../core/clock.js';
import type { RandomSource } from '../core/random.js';
import { RequestCode } from '../actors/protocol/request-codes.js';
import { OBSERVE_HELLO_SUBJECT, OBSERVE_SUBJECT, observeSnapshotSubject, type ObserveBatch, type ObserveHello } from '../actors/protocol/observe.js';
import type { InspectionRecord } from '../actors/runtime/inspection.js';
import { LatestRecords } from '../actors/runtime/latest-records.js';
import type { LiveSource, ObservedRecord } from './source.js';

export interface TransportSourceOptions {
  /** Says hello this often (default 5000 ms; publishers stop publishing 15 s after the last one). */
  helloMs?: number;
  clock?: Clock;
  random: RandomSource;
  logger: Logger;
}

const KINDS = new Set(['actor', 'machine', 'event', 'snapshot', 'stats']);

/** Reads one batch; undefined (and a warning) for one that is not a batch. */
export function parseBatch(body: Uint8Array): ObserveBatch | undefined {
  let b: ObserveBatch;
  try {
    b = JSON.parse(Buffer.from(body).toString('utf8')) as ObserveBatch;
  } catch {
    return undefined;
  }
  if (b === null || typeof b !== 'object' || typeof b.source !== 'string' || !Array.isArray(b.records) || typeof b.dropped !== 'number') return undefined;
  return b;
}

function isRecord(r: unknown): r is InspectionRecord {
  const x = r as Partial<InspectionRecord> | null;
  return x !== null && typeof x === 'object' && typeof x.kind === 'string' && KINDS.has(x.kind) && typeof x.address === 'string' && typeof x.actorId === 'string' && typeof x.time === 'number' && typeof x.seq === 'number';
}

export function transportSource(transport: Transport, opts: TransportSourceOptions): LiveSource {
  const clock = opts.clock ?? new RealClock();
  const observer = `obs-${opts.random.int(0x7fffffff).toString(36)}${opts.random.int(0x7fffffff).toString(36)}`;
  const records = new Subject<ObservedRecord>();
  const latest = new LatestRecords<ObservedRecord>((r) => r.source);
  const dropped: Record<string, number> = {};
  let warned = false;
  const onBatch = (body: Uint8Array): void => {
    const b = parseBatch(body);
    if (b === undefined) {
      if (!warned) opts.logger.warn('an observation batch could not be read (a publisher of another version?)');
      warned = true;
      return;
    }
    dropped[b.source] = b.dropped;
    for (const r of b.records) {
      if (!isRecord(r)) continue;
      const rec = { ...r, source: b.source } as ObservedRecord;
      latest.add(rec);
      records.next(rec);
    }
  };
  const subs: Subscription[] = [OBSERVE_SUBJECT, observeSnapshotSubject(observer)].map((subject) =>
    transport.subscribe(subject).subscribe({ next: (f) => onBatch(f.body), error: (err: unknown) => records.error(err) }),
  );
  const hello = (snapshot: boolean, bye = false): void => {
    const body: ObserveHello = { observer, snapshot, ...(bye ? { bye } : {}) };
    try {
      transport.publish(OBSERVE_HELLO_SUBJECT, frame({ code: RequestCode.OBSERVE_HELLO, body: Buffer.from(JSON.stringify(body), 'utf8') }));
    } catch (err) {
      opts.logger.warn({ err }, 'could not say hello to the publishers');
    }
  };
  // subscriptions first (the transport flushes them), then the hello that asks for snapshots
  const first = transport.flush().then(() => hello(true));
  first.catch((err: unknown) => opts.logger.warn({ err }, 'could not say hello to the publishers'));
  const timer = clock.setInterval(() => hello(false), opts.helloMs ?? 5000);
  return {
    snapshot: () => latest.records(),
    records$: records.asObservable(),
    dropped: () => ({ ...dropped }),
    close: async () => {
      clock.clearInterval(timer);
      hello(false, true);
      for (const s of subs) s.unsubscribe();
      records.complete();
    },
  };
}
