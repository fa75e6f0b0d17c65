/**
 * A fault-injecting wrapper around any transport, driven by the Environment's random source and clock so that
 * a simulated run's faults are a function of its seed.
 *
 *   const transport = withFaults(memoryTransport(), { rules: [{ to: 'broker.*', drop: 0.05 }] });
 *   transport.faults.partition(['broker.a.*'], ['namesrv.*']);   // later: transport.faults.heal()
 *
 * Faults are decided on the sending side, from `opts.from` (the sender's address; unknown when not given) to
 * the destination address or subject:
 * - the first rule whose `from` and `to` globs match (`*` matches any run of characters; no `*` means
 *   exact) applies: `drop` and `duplicate` are probabilities, `delay` a uniform integer delay in
 *   [minMs, maxMs]. Random draws happen in that order and only for what the rule configures.
 * - a partition drops every frame between its two sides, both directions, before any rule.
 * A dropped request is not answered: the requester fails with TIMEOUT when its timeout passes, as on a real
 * network. Replies pass through the same decision (from = the request's destination, to = its sender) on
 * the requester's side: a dropped reply also ends in TIMEOUT, a delayed one resolves later (or times out if
 * the delay passes the deadline); duplicating a reply is meaningless (the requester takes the first) and is
 * not drawn. A duplicated request reaches the responder twice; the second answer is ignored.
 *
 * Size and encoding errors are still raised synchronously when a frame is dropped or delayed. Counters and
 * the `events$` stream are shared by all transports the factory builds (one controller per `withFaults` call).
 */
import { Subject, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { RandomSource } from '../core/random.js';
import { CodecError, encodedLength } from './codec.js';
import type { Frame } from './frame.js';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  TransportError,
  type Incoming,
  type KvBucket,
  type KvOpenOptions,
  type RequestOptions,
  type SendOptions,
  type Transport,
  type TransportDeps,
  type TransportFactory,
  type TransportState,
} from './transport.js';

export interface FaultRule {
  /** Sender address glob; default `*` (which also matches frames sent without `from`). */
  from?: string;
  /** Destination address or subject glob; default `*`. */
  to?: string;
  /** Probability in [0, 1] that a frame is lost. */
  drop?: number;
  /** Probability in [0, 1] that a frame is delivered twice. */
  duplicate?: number;
  /** Delay each frame by a uniform integer number of milliseconds in [minMs, maxMs]. */
  delay?: { minMs: number; maxMs: number };
}

export interface FaultOptions {
  rules?: FaultRule[];
}

export interface FaultCounters {
  /** Frames dropped, by rules and partitions. */
  dropped: number;
  /** Of those, frames dropped by a partition. */
  partitioned: number;
  delayed: number;
  duplicated: number;
}

export type FaultKind = 'drop' | 'partition' | 'delay' | 'duplicate';

/** One fault applied, for traces. `leg` tells a request's reply from everything else. */
export interface FaultEvent {
  kind: FaultKind;
  from: string | undefined;
  to: string;
  code: number;
  leg: 'frame' | 'reply';
  delayMs?: number;
}

interface Decision {
  drop: boolean;
  partitioned: boolean;
  duplicate: boolean;
  delayMs: number;
}

const PASS: Decision = Object.freeze({ drop: false, partitioned: false, duplicate: false, delayMs: 0 });

type Matcher = (address: string | undefined) => boolean;

const matcherCache = new Map<string, Matcher>();

/** `*` matches any run of characters; a pattern without `*` is an exact address. */
export function globMatcher(pattern: string): Matcher {
  let m = matcherCache.get(pattern);
  if (m) return m;
  if (pattern === '*') {
    m = () => true;
  } else if (!pattern.includes('*')) {
    m = (a) => a === pattern;
  } else {
    const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
    m = (a) => a !== undefined && re.test(a);
  }
  if (matcherCache.size < 10_000) matcherCache.set(pattern, m);
  return m;
}

interface CompiledRule {
  rule: FaultRule;
  from: Matcher;
  to: Matcher;
}

function checkProbability(name: string, p: number | undefined): void {
  if (p !== undefined && !(p >= 0 && p <= 1)) throw new RangeError(`fault rule ${name} must be in [0, 1], got ${p}`);
}

function compile(rules: readonly FaultRule[]): CompiledRule[] {
  return rules.map((rule) => {
    checkProbability('drop', rule.drop);
    checkProbability('duplicate', rule.duplicate);
    if (rule.delay) {
      const { minMs, maxMs } = rule.delay;
      if (!(Number.isInteger(minMs) && Number.isInteger(maxMs) && minMs >= 0 && maxMs >= minMs)) {
        throw new RangeError(`fault rule delay needs integers 0 <= minMs <= maxMs, got ${minMs}..${maxMs}`);
      }
    }
    return { rule, from: globMatcher(rule.from ?? '*'), to: globMatcher(rule.to ?? '*') };
  });
}

/** Rules, partitions and counters shared by every transport one `withFaults` factory builds. */
export class FaultController {
  private rules: CompiledRule[] = [];
  private partitions: Array<{ a: Matcher[]; b: Matcher[] }> = [];
  private readonly events = new Subject<FaultEvent>();
  readonly counters: FaultCounters = { dropped: 0, partitioned: 0, delayed: 0, duplicated: 0 };
  /** Every fault applied, in order. */
  readonly events$: Observable<FaultEvent> = this.events.asObservable();

  constructor(rules: readonly FaultRule[] = []) {
    this.setRules(rules);
  }

  /** Replaces the rules (the first matching rule applies to a frame). */
  setRules(rules: readonly FaultRule[]): void {
    this.rules = compile(rules);
  }

  /** Drops every frame between an address matching a glob of `groupA` and one matching a glob of `groupB`. */
  partition(groupA: readonly string[], groupB: readonly string[]): void {
    this.partitions.push({ a: groupA.map(globMatcher), b: groupB.map(globMatcher) });
  }

  /** Removes every partition. */
  heal(): void {
    this.partitions = [];
  }

  get partitioned(): boolean {
    return this.partitions.length > 0;
  }

  /** @internal Decides what happens to one frame; draws from `random` only for what the matching rule sets. */
  decide(random: RandomSource, from: string | undefined, to: string, code: number, leg: 'frame' | 'reply'): Decision {
    if (this.partitions.length > 0 && from !== undefined) {
      for (const p of this.partitions) {
        const fa = p.a.some((m) => m(from));
        const fb = p.b.some((m) => m(from));
        if ((fa && p.b.some((m) => m(to))) || (fb && p.a.some((m) => m(to)))) {
          this.counters.dropped++;
          this.counters.partitioned++;
          this.emit('partition', from, to, code, leg);
          return { drop: true, partitioned: true, duplicate: false, delayMs: 0 };
        }
      }
    }
    if (this.rules.length === 0) return PASS;
    let rule: FaultRule | undefined;
    for (const r of this.rules) {
      if (r.from(from) && r.to(to)) {
        rule = r.rule;
        break;
      }
    }
    if (!rule) return PASS;
    if (rule.drop && random.next() < rule.drop) {
      this.counters.dropped++;
      this.emit('drop', from, to, code, leg);
      return { drop: true, partitioned: false, duplicate: false, delayMs: 0 };
    }
    let duplicate = false;
    if (leg === 'frame' && rule.duplicate && random.next() < rule.duplicate) {
      duplicate = true;
      this.counters.duplicated++;
      this.emit('duplicate', from, to, code, leg);
    }
    let delayMs = 0;
    if (rule.delay && rule.delay.maxMs > 0) {
      delayMs = rule.delay.minMs + random.int(rule.delay.maxMs - rule.delay.minMs + 1);
      if (delayMs > 0) {
        this.counters.delayed++;
        this.emit('delay', from, to, code, leg, delayMs);
      }
    }
    return duplicate || delayMs > 0 ? { drop: false, partitioned: false, duplicate, delayMs } : PASS;
  }

  private emit(kind: FaultKind, from: string | undefined, to: string, code: number, leg: 'frame' | 'reply', delayMs?: number): void {
    if (!this.events.observed) return;
    this.events.next(delayMs === undefined ? { kind, from, to, code, leg } : { kind, from, to, code, leg, delayMs });
  }
}

/** A transport that loses, delays and duplicates frames as its controller says. */
export class FaultyTransport implements Transport {
  readonly kind: Transport['kind'];
  readonly maxPayload: number;
  readonly state$: Observable<TransportState>;
  /** The inner transport's key-value buckets, passed through untouched (faults apply to frames only). */
  readonly keyValue?: (bucket: string, opts?: KvOpenOptions) => Promise<KvBucket>;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly log: Logger;
  /** Timers of delayed sends and of requests the wrapper answers itself, with what to do on close. */
  private readonly timers = new Map<TimerHandle, () => void>();
  private closed = false;

  constructor(
    readonly inner: Transport,
    readonly faults: FaultController,
    deps: TransportDeps,
  ) {
    this.kind = inner.kind;
    this.maxPayload = inner.maxPayload;
    this.state$ = inner.state$;
    if (inner.keyValue !== undefined) this.keyValue = (bucket, opts) => inner.keyValue!(bucket, opts);
    this.clock = deps.clock;
    this.random = deps.random;
    this.log = deps.logger.child({ component: 'faulty-transport' });
  }

  get counters(): Readonly<FaultCounters> {
    return this.faults.counters;
  }
  setRules(rules: readonly FaultRule[]): void {
    this.faults.setRules(rules);
  }
  partition(groupA: readonly string[], groupB: readonly string[]): void {
    this.faults.partition(groupA, groupB);
  }
  heal(): void {
    this.faults.heal();
  }

  inbox(address: string): Observable<Incoming> {
    return this.inner.inbox(address);
  }
  subscribe(subject: string): Observable<Frame> {
    return this.inner.subscribe(subject);
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }

  send(to: string, frame: Frame, opts?: SendOptions): void {
    this.oneWay('send', to, frame, opts);
  }

  publish(subject: string, frame: Frame, opts?: SendOptions): void {
    this.oneWay('publish', subject, frame, opts);
  }

  request(to: string, frame: Frame, opts?: RequestOptions): Promise<Frame> {
    if (this.closed) return Promise.reject(new TransportError('CLOSED', `transport closed; cannot request ${to}`));
    const from = opts?.from;
    const d = this.faults.decide(this.random, from, to, frame.code, 'frame');
    if (d === PASS) return this.replyLeg(this.inner.request(to, frame, opts), to, frame, opts);
    try {
      this.precheck(to, frame);
    } catch (err) {
      return Promise.reject(err);
    }
    const timeoutMs = opts?.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const start = this.clock.now();
    return new Promise<Frame>((resolve, reject) => {
      const timeoutError = (): TransportError =>
        new TransportError('TIMEOUT', `no reply from ${to} within ${timeoutMs} ms (code ${frame.code})`);
      if (d.drop || d.delayMs >= timeoutMs) {
        this.after(timeoutMs, () => reject(timeoutError()), reject);
        return;
      }
      this.after(
        d.delayMs,
        () => {
          const rest = { ...opts, timeoutMs: Math.max(1, timeoutMs - (this.clock.now() - start)) };
          this.replyLeg(this.inner.request(to, frame, rest), to, frame, opts, start).then(resolve, reject);
          if (d.duplicate) this.inner.request(to, frame, rest).catch(() => undefined);
        },
        reject,
      );
    });
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const [handle, onClose] of this.timers) {
        this.clock.clearTimeout(handle);
        onClose();
      }
      this.timers.clear();
    }
    await this.inner.close();
  }

  // ---- internals ----

  private oneWay(op: 'send' | 'publish', to: string, frame: Frame, opts: SendOptions | undefined): void {
    if (this.closed) throw new TransportError('CLOSED', `transport closed; cannot ${op} to ${to}`);
    const d = this.faults.decide(this.random, opts?.from, to, frame.code, 'frame');
    if (d === PASS) {
      this.inner[op](to, frame, opts);
      return;
    }
    this.precheck(to, frame);
    if (d.drop) return;
    const go = (): void => {
      try {
        this.inner[op](to, frame, opts);
        if (d.duplicate) this.inner[op](to, frame, opts);
      } catch (err) {
        this.log.warn({ err, to }, 'delayed frame could not be sent');
      }
    };
    if (d.delayMs > 0) this.after(d.delayMs, go, () => undefined);
    else go();
  }

  /** Applies the reply's faults (from the destination back to the sender) to a request in flight. */
  private replyLeg(reply: Promise<Frame>, to: string, frame: Frame, opts: RequestOptions | undefined, start?: number): Promise<Frame> {
    const t0 = start ?? this.clock.now();
    return reply.then((r) => {
      const d = this.faults.decide(this.random, to, opts?.from ?? '', frame.code, 'reply');
      if (d === PASS) return r;
      const timeoutMs = opts?.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
      const left = timeoutMs - (this.clock.now() - t0);
      return new Promise<Frame>((resolve, reject) => {
        if (d.drop || d.delayMs >= left) {
          const err = new TransportError('TIMEOUT', `no reply from ${to} within ${timeoutMs} ms (code ${frame.code})`);
          this.after(Math.max(0, left), () => reject(err), reject);
        } else {
          this.after(d.delayMs, () => resolve(r), reject);
        }
      });
    });
  }

  /** Runs `fn` after `ms` on the clock; on close, cancels it and calls `onClose` with a CLOSED error. */
  private after(ms: number, fn: () => void, onClose: (e: Error) => void): void {
    if (this.closed) {
      onClose(new TransportError('CLOSED', 'transport closed'));
      return;
    }
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(handle);
      fn();
    }, ms);
    this.timers.set(handle, () => onClose(new TransportError('CLOSED', 'transport closed')));
  }

  /** Raises size and encoding errors now for a frame that will be dropped or sent later. */
  private precheck(to: string, frame: Frame): void {
    let size: number;
    try {
      size = encodedLength(frame);
    } catch (err) {
      if (err instanceof CodecError) throw new TransportError('BAD_FRAME', `cannot encode frame for ${to}: ${err.message}`);
      throw err;
    }
    if (size > this.maxPayload) {
      throw new TransportError(
        'PAYLOAD_TOO_LARGE',
        `frame for ${to} is ${size} bytes encoded, more than the transport's maxPayload of ${this.maxPayload} bytes`,
      );
    }
  }
}

export interface FaultyTransportFactory {
  (deps: TransportDeps): FaultyTransport | Promise<FaultyTransport>;
  /** The rules, partitions and counters shared by every transport this factory builds. */
  readonly faults: FaultController;
}

/**
 * Wraps a transport factory so that every transport it builds injects faults. `opts` is the options object
 * or just the list of rules.
 */
export function withFaults(inner: TransportFactory, opts: FaultOptions | readonly FaultRule[] = {}): FaultyTransportFactory {
  const rules = Array.isArray(opts) ? (opts as readonly FaultRule[]) : ((opts as FaultOptions).rules ?? []);
  const faults = new FaultController(rules);
  const factory = (deps: TransportDeps): FaultyTransport | Promise<FaultyTransport> => {
    const t = inner(deps);
    return t instanceof Promise ? t.then((x) => new FaultyTransport(x, faults, deps)) : new FaultyTransport(t, faults, deps);
  };
  return Object.assign(factory, { faults });
}
