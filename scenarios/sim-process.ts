/**
 * One simulated process of a scenario: its own clock view, network endpoint and disk over the run's one
 * simulated clock and network, so that it can crash, pause, or run fast or slow on its own.
 *
 * - `ProcessClock` reads the run's clock plus the process's skew and drift, and runs its timers only while
 *   the process lives: a crash clears them all; a pause holds what falls due (frames and timers alike) and
 *   runs it, in order, at resume. A periodic timer that fell due several times in a pause runs once.
 * - `ProcessTransport` is the process's endpoint: frames that arrive and replies to its requests pass the
 *   same gate, so a paused process does nothing at all; after a crash its addresses are free and nothing
 *   it had in flight comes back. Every frame it sends and every reply it gets is reported to a tap (the
 *   trace), and so are its consumer offset commits and reads (the history).
 */
import { Observable, type Subscription } from 'rxjs';
import type { Clock, SimClock, TimerHandle } from '../core/clock.js';
import type { Frame } from '../transports/frame.js';
import { TransportError, type Incoming, type RequestOptions, type SendOptions, type Transport } from '../transports/transport.js';

export class ProcessClock implements Clock {
  private readonly handles = new Set<TimerHandle>();
  private held: (() => void)[] = [];
  private readonly heldOnce = new Set<() => void>();
  private offset = 0;
  private rate = 0;
  private rateFrom = 0;
  private dead = false;
  private paused = false;

  /** @param onFire called as each of the process's timers fires (the trace records it) */
  constructor(
    private readonly base: SimClock,
    private readonly onFire?: () => void,
  ) {}

  now(): number {
    const t = this.base.now();
    return Math.floor(t + this.offset + this.rate * (t - this.rateFrom));
  }

  /** The process's own reading: durations follow its skew and drift as its dates do. */
  monotonicMs(): number {
    return this.now();
  }

  /** The clock reads `ms` further ahead from now on. */
  skew(ms: number): void {
    this.offset += ms;
  }

  /** The clock runs `rate` faster than the run's (0.01: 1% fast) from now on; timers shrink to match. */
  drift(rate: number): void {
    const t = this.base.now();
    this.offset += this.rate * (t - this.rateFrom);
    this.rate = rate;
    this.rateFrom = t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    if (this.dead) return -1;
    const h = this.base.setTimeout(() => {
      this.handles.delete(h);
      this.onFire?.();
      this.run(fn);
    }, this.scaled(ms));
    this.handles.add(h);
    return h;
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    if (this.dead) return -1;
    const h = this.base.setInterval(() => {
      this.onFire?.();
      this.run(fn, true);
    }, this.scaled(ms));
    this.handles.add(h);
    return h;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    this.base.clearTimeout(handle);
    this.handles.delete(handle);
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.clearTimeout(handle);
  }

  /** Runs `fn` now if the process runs, at resume if it is paused, never if it crashed. */
  run(fn: () => void, once = false): void {
    if (this.dead) return;
    if (!this.paused) {
      fn();
      return;
    }
    if (once) {
      if (this.heldOnce.has(fn)) return;
      this.heldOnce.add(fn);
    }
    this.held.push(fn);
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused || this.dead) return;
    this.paused = false;
    const held = this.held;
    this.held = [];
    this.heldOnce.clear();
    for (const fn of held) fn();
  }

  /** The process is gone: no timer of it fires again, nothing held runs. */
  kill(): void {
    this.dead = true;
    for (const h of this.handles) this.base.clearTimeout(h);
    this.handles.clear();
    this.held = [];
    this.heldOnce.clear();
  }

  private scaled(ms: number): number {
    return this.rate === 0 ? ms : Math.max(0, Math.round(ms / (1 + this.rate)));
  }
}

/** What a process's endpoint reports: frames sent, replies received (status), by address. */
export type TapEvent =
  | { k: 'send'; from: string | undefined; to: string; code: number; request: boolean; bytes: number }
  | { k: 'reply'; from: string | undefined; to: string; code: number; status: number; request: Frame; reply: Frame }
  | { k: 'publish'; from: string | undefined; subject: string; code: number };

export class ProcessTransport implements Transport {
  readonly kind = 'memory' as const;
  private readonly subs = new Set<Subscription>();
  private dead = false;

  constructor(
    private readonly inner: Transport,
    private readonly clock: ProcessClock,
    private readonly tap: (ev: TapEvent) => void,
    /** Answers a request in place of its destination (planted bugs in tests): a reply frame, or undefined to send it. */
    private readonly intercept?: (to: string, frame: Frame) => Frame | undefined,
  ) {}

  get maxPayload(): number {
    return this.inner.maxPayload;
  }

  get state$() {
    return this.inner.state$;
  }

  inbox(address: string): Observable<Incoming> {
    return this.gated(this.inner.inbox(address));
  }

  subscribe(subject: string): Observable<Frame> {
    return this.gated(this.inner.subscribe(subject));
  }

  request(to: string, frame: Frame, opts?: RequestOptions): Promise<Frame> {
    this.alive();
    this.tap({ k: 'send', from: opts?.from, to, code: frame.code, request: true, bytes: frame.body.length });
    const fake = this.intercept?.(to, frame);
    return new Promise((resolve, reject) => {
      (fake ? Promise.resolve(fake) : this.inner.request(to, frame, opts)).then(
        (reply) =>
          this.clock.run(() => {
            this.tap({ k: 'reply', from: opts?.from, to, code: frame.code, status: reply.status, request: frame, reply });
            resolve(reply);
          }),
        (err: unknown) => this.clock.run(() => reject(err)),
      );
    });
  }

  send(to: string, frame: Frame, opts?: SendOptions): void {
    this.alive();
    this.tap({ k: 'send', from: opts?.from, to, code: frame.code, request: false, bytes: frame.body.length });
    this.inner.send(to, frame, opts);
  }

  publish(subject: string, frame: Frame, opts?: SendOptions): void {
    this.alive();
    this.tap({ k: 'publish', from: opts?.from, subject, code: frame.code });
    this.inner.publish(subject, frame, opts);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  /** The process crashed: its addresses are free at once and nothing more goes in or out. */
  kill(): void {
    this.dead = true;
    for (const s of this.subs) s.unsubscribe();
    this.subs.clear();
  }

  async close(): Promise<void> {
    this.kill();
    await this.inner.close();
  }

  private alive(): void {
    if (this.dead) throw new TransportError('CLOSED', 'the process crashed');
  }

  private gated<T>(source: Observable<T>): Observable<T> {
    return new Observable<T>((sub) => {
      if (this.dead) return undefined;
      const s = source.subscribe({
        next: (v) => this.clock.run(() => sub.next(v)),
        error: (e: unknown) => sub.error(e),
        complete: () => sub.complete(),
      });
      this.subs.add(s);
      return () => {
        s.unsubscribe();
        this.subs.delete(s);
      };
    });
  }
}
