import type { Subscription } from 'rxjs';
import type { Logger } from 'pino';
import { frame } from '../../transports/frame.js';
import { RingBuffer } from '../../core/ring-buffer.js';
import type { TimerHandle } from '../../core/clock.js';
import { RequestCode } from '../protocol/request-codes.js';
import { OBSERVE_HELLO_SUBJECT, OBSERVE_SUBJECT, observeSnapshotSubject, type ObserveHello } from '../protocol/observe.js';
import type { ActorSystem } from './system.js';
import type { InspectionRecord } from './inspection.js';

export interface ObservePublisherOptions {
  /** This publisher's name in records (unique in the cluster: a process). */
  source: string;
  /** How often buffered records go out, as one frame or a few (default 200 ms). */
  flushMs?: number;
  /** Records buffered at most between two flushes; beyond it the oldest are dropped and counted (default 20,000). */
  capacity?: number;
  /** How often the roles' figures are sampled while observed (default 1000 ms). */
  statsMs?: number;
  /** How long after an observer's last hello the publisher goes on publishing (default 15,000 ms). */
  idleMs?: number;
}

const OBSERVER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Publishes an actor system's observation stream on its transport, so one observer sees every process of a
 * cluster. Costs nothing while nobody observes: records are buffered only while some observer said hello in
 * the last `idleMs`. An observer's first hello gets the system's snapshot on the observer's own subject; then
 * every `flushMs` the buffered records go out on OBSERVE_SUBJECT in frames below the transport's frame limit.
 * A full buffer drops its oldest records; batches carry the count.
 */
export class ObservePublisher {
  private readonly ring: RingBuffer<InspectionRecord>;
  private readonly subs: Subscription[] = [];
  private readonly logger: Logger;
  private timer: TimerHandle | undefined;
  /** Each observer's last hello. */
  private readonly observers = new Map<string, number>();
  /** Whether some observer said hello within idleMs (as of the last hello or flush). */
  private observed = false;
  private lastStats = 0;
  private dropped = 0;
  private readonly o: Required<ObservePublisherOptions>;

  constructor(
    private readonly system: ActorSystem,
    opts: ObservePublisherOptions,
  ) {
    this.o = { flushMs: 200, capacity: 20_000, statsMs: 1000, idleMs: 15_000, ...opts };
    this.ring = new RingBuffer(this.o.capacity);
    this.logger = system.env.logger.child({ actor: `observe.${opts.source}` });
  }

  start(): void {
    const { transport, clock } = this.system.env;
    this.subs.push(
      transport.subscribe(OBSERVE_HELLO_SUBJECT).subscribe({
        next: (f) => this.onHello(f.body),
        error: (err: unknown) => this.logger.warn({ err }, 'observer hellos no longer arrive'),
      }),
      this.system.inspection$.subscribe((r) => {
        if (this.observed && !this.ring.push(r)) this.dropped++;
      }),
    );
    this.timer = clock.setInterval(() => this.flush(), this.o.flushMs);
  }

  stop(): void {
    this.system.env.clock.clearInterval(this.timer);
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
  }

  /** Forgets observers silent for idleMs; says whether any is left. */
  private refresh(): boolean {
    const now = this.system.env.clock.now();
    for (const [observer, at] of this.observers) if (now - at >= this.o.idleMs) this.observers.delete(observer);
    this.observed = this.observers.size > 0;
    return this.observed;
  }

  private onHello(body: Uint8Array): void {
    let hello: ObserveHello;
    try {
      hello = JSON.parse(Buffer.from(body).toString('utf8')) as ObserveHello;
      if (typeof hello.observer !== 'string' || !OBSERVER_ID.test(hello.observer)) throw new Error('observer must be 1-64 of [A-Za-z0-9_-]');
    } catch (err) {
      this.logger.warn({ err }, 'ignored a malformed observer hello');
      return;
    }
    const wasActive = this.refresh();
    if (hello.bye === true) this.observers.delete(hello.observer);
    else this.observers.set(hello.observer, this.system.env.clock.now());
    this.refresh();
    if (hello.snapshot !== true || hello.bye === true) return;
    // what is buffered goes out before the snapshot, which covers it; the figures follow at the next flush
    this.publish(OBSERVE_SUBJECT, this.ring.drain());
    this.publish(observeSnapshotSubject(hello.observer), this.system.snapshot());
    if (!wasActive) this.lastStats = 0;
  }

  private flush(): void {
    if (!this.refresh()) {
      if (this.ring.size > 0) this.ring.drain();
      return;
    }
    this.sampleIfDue(this.system.env.clock.now());
    if (this.ring.size > 0) this.publish(OBSERVE_SUBJECT, this.ring.drain());
  }

  private sampleIfDue(now: number): void {
    if (now - this.lastStats < this.o.statsMs) return;
    this.lastStats = now;
    this.system.sampleStats();
  }

  /** Publishes `records` in frames of at most half the transport's frame limit (one record alone may be larger). */
  private publish(subject: string, records: readonly InspectionRecord[]): void {
    const { transport } = this.system.env;
    const limit = Math.max(4096, Math.floor(transport.maxPayload / 2));
    const head = `{"source":${JSON.stringify(this.o.source)},"dropped":${this.dropped},"records":[`;
    let parts: string[] = [];
    let bytes = head.length;
    const send = (): void => {
      if (parts.length === 0) return;
      try {
        transport.publish(subject, frame({ code: RequestCode.OBSERVE_RECORDS, body: Buffer.from(`${head}${parts.join(',')}]}`, 'utf8') }));
      } catch (err) {
        this.logger.warn({ err, records: parts.length }, 'could not publish observation records');
      }
      parts = [];
      bytes = head.length;
    };
    for (const r of records) {
      const json = JSON.stringify(r);
      const n = Buffer.byteLength(json) + 1;
      if (bytes + n + 2 > limit) send();
      parts.push(json);
      bytes += n;
    }
    send();
  }
}
