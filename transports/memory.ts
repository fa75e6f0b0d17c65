/**
 * The in-process transport. Frames are encoded with the frame codec when sent and decoded on delivery, so
 * size limits, copying and malformed input behave as on the wire: a receiver never shares a buffer with the
 * sender.
 *
 * A `MemoryNetwork` is one in-process "network" (the address and subject registry). `memoryTransport()`
 * makes a new network per call; every transport its factory builds joins that network, so calling the same
 * factory once per simulated process gives several transports that reach each other. A second
 * `memoryTransport()` call is a separate network. `memoryNetwork()` makes a network explicitly, to share it
 * between factories (`memoryTransport({ network })`).
 *
 * Delivery: each transport keeps one FIFO of outgoing frames, so the order per (sender, receiver) pair is the
 * order of sending. On a real clock the queue drains in a microtask (one task per batch); when the clock is a
 * `SimClock` it drains in a virtual timer due now (`setTimeout(fn, 0)`), so a run moves only when the runner
 * steps or advances the clock and is the same for the same seed. Frames queued while a batch is delivered
 * (replies, for example) go into the next batch.
 *
 * Every subscriber of an inbox address receives each frame sent there; for a request, the first reply wins
 * and later calls are ignored. `send()` always delivers kind OneWay with requestId 0; `flush()` waits for the
 * queued batch on a real clock and resolves at once on a SimClock. A reply too large to encode throws TransportError('PAYLOAD_TOO_LARGE') to the
 * replier (the requester then times out, as over NATS). Queues are not bounded here: the sending actors
 * bound what they send.
 *
 * Key-value buckets (`keyValue`, memory-kv.ts) belong to the network: every transport of it sees the same ones.
 */
import { BehaviorSubject, Observable, type Subscriber } from 'rxjs';
import type { Logger } from 'pino';
import { SimClock, type Clock, type TimerHandle } from '../core/clock.js';
import { CodecError, MIN_FRAME_BYTES, decodeFrame, encodeFrame } from './codec.js';
import { FrameKind, type Frame } from './frame.js';
import { MemoryKv } from './memory-kv.js';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  KvError,
  type KvBucket,
  type KvOpenOptions,
  TransportError,
  type Incoming,
  type RequestOptions,
  type SendOptions,
  type Transport,
  type TransportDeps,
  type TransportState,
} from './transport.js';

/**
 * On a real clock, how long (ms) the queue may drain in microtasks since the event loop last turned; past it
 * the next drain waits for the loop (setImmediate), so timers and I/O get to run.
 */
const MAX_MICROTASK_STREAK_MS = 1;

/** Default largest encoded frame: 1 MiB, as NATS's default max_payload. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

export interface MemoryTransportOptions {
  /** Largest encoded frame in bytes (default 1 MiB). Ignored when `network` is given (the network's applies). */
  maxPayload?: number;
  /** Join this network instead of making a new one. */
  network?: MemoryNetwork;
}

/** The in-process transport, plus test hooks. */
export interface MemoryTransport extends Transport {
  readonly kind: 'memory';
  /** The network's key-value bucket `bucket`, created when absent (memory-kv.ts). */
  keyValue(bucket: string, opts?: KvOpenOptions): Promise<KvBucket>;
  /**
   * Delivers raw bytes to the inbox at `address` as if they came off the wire. Bytes that fail to decode are
   * dropped with a warning and counted in `droppedFrames` (garbage has no reply path). A decoded request gets
   * a reply callback that discards the reply.
   */
  injectRaw(address: string, bytes: Uint8Array): void;
  /** Frames this transport dropped because they did not decode. */
  readonly droppedFrames: number;
}

interface InboxEntry {
  readonly owner: MemoryTransportImpl;
  readonly subscriber: Subscriber<Incoming>;
}

interface SubjectEntry {
  readonly owner: MemoryTransportImpl;
  readonly subscriber: Subscriber<Frame>;
}

/** One in-process network: who listens on which address and subject. */
export class MemoryNetwork {
  readonly maxPayload: number;
  /** @internal */ readonly inboxes = new Map<string, Set<InboxEntry>>();
  /** @internal */ readonly subjects = new Map<string, Set<SubjectEntry>>();
  /** @internal */ readonly kv: MemoryKv;

  constructor(opts: { maxPayload?: number } = {}) {
    const max = opts.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxPayload must be a positive integer, got ${max}`);
    this.maxPayload = max;
    this.kv = new MemoryKv(max);
  }

  /** A new transport on this network, using the given clock, random source and logger. */
  transport(deps: TransportDeps): MemoryTransport {
    return new MemoryTransportImpl(this, deps);
  }

  /** Whether anyone listens on the inbox `address`. */
  hasListener(address: string): boolean {
    return (this.inboxes.get(address)?.size ?? 0) > 0;
  }
}

/** A network to share between several transports (for example one per simulated process). */
export function memoryNetwork(opts: { maxPayload?: number } = {}): MemoryNetwork {
  return new MemoryNetwork(opts);
}

/**
 * A factory of in-process transports. One call is one network: every transport this factory builds reaches
 * the others; transports of another `memoryTransport()` call do not.
 */
export function memoryTransport(opts: MemoryTransportOptions = {}): (deps: TransportDeps) => MemoryTransport {
  const network = opts.network ?? new MemoryNetwork({ maxPayload: opts.maxPayload });
  return (deps) => network.transport(deps);
}

const Op = { Inbox: 0, Publish: 1, Reply: 2, Raw: 3 } as const;
type Op = (typeof Op)[keyof typeof Op];

interface Delivery {
  op: Op;
  /** Address or subject; unused for replies. */
  to: string;
  bytes: Uint8Array;
  /** For requests: the requesting transport and request id. For replies: the transport to resolve. */
  requester?: MemoryTransportImpl;
  requestId?: number;
}

interface Pending {
  resolve(f: Frame): void;
  reject(e: Error): void;
  timer: TimerHandle;
  to: string;
}

let transportSeq = 0;

class MemoryTransportImpl implements MemoryTransport {
  readonly kind = 'memory' as const;
  readonly maxPayload: number;
  readonly state$: BehaviorSubject<TransportState> = new BehaviorSubject<TransportState>('connected');
  droppedFrames = 0;

  private readonly clock: Clock;
  private readonly sim: boolean;
  private readonly log: Logger;
  private queue: Delivery[] = [];
  private scheduled = false;
  /** When the current run of microtask drains began (0: the event loop has turned since). */
  private streakStart = 0;
  private flushWaiters: Array<() => void> = [];
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  private closed = false;
  private readonly inboxEntries = new Set<InboxEntry>();
  private readonly subjectEntries = new Set<SubjectEntry>();
  private readonly drain = (): void => this.deliverBatch();

  constructor(
    private readonly network: MemoryNetwork,
    deps: TransportDeps,
  ) {
    this.maxPayload = network.maxPayload;
    this.clock = deps.clock;
    this.sim = deps.clock instanceof SimClock;
    this.log = deps.logger.child({ component: 'memory-transport', transport: ++transportSeq });
  }

  inbox(address: string): Observable<Incoming> {
    return new Observable<Incoming>((subscriber) => {
      if (this.closed) {
        subscriber.complete();
        return undefined;
      }
      const entry: InboxEntry = { owner: this, subscriber };
      let set = this.network.inboxes.get(address);
      if (!set) this.network.inboxes.set(address, (set = new Set()));
      set.add(entry);
      this.inboxEntries.add(entry);
      return () => {
        this.inboxEntries.delete(entry);
        const s = this.network.inboxes.get(address);
        if (s) {
          s.delete(entry);
          if (s.size === 0) this.network.inboxes.delete(address);
        }
      };
    });
  }

  subscribe(subject: string): Observable<Frame> {
    return new Observable<Frame>((subscriber) => {
      if (this.closed) {
        subscriber.complete();
        return undefined;
      }
      const entry: SubjectEntry = { owner: this, subscriber };
      let set = this.network.subjects.get(subject);
      if (!set) this.network.subjects.set(subject, (set = new Set()));
      set.add(entry);
      this.subjectEntries.add(entry);
      return () => {
        this.subjectEntries.delete(entry);
        const s = this.network.subjects.get(subject);
        if (s) {
          s.delete(entry);
          if (s.size === 0) this.network.subjects.delete(subject);
        }
      };
    });
  }

  request(to: string, frame: Frame, opts?: RequestOptions): Promise<Frame> {
    if (this.closed) return Promise.reject(new TransportError('CLOSED', `transport closed; cannot request ${to}`));
    const requestId = this.nextRequestId;
    this.nextRequestId = requestId >= 0xffffffff ? 1 : requestId + 1;
    let bytes: Uint8Array;
    try {
      bytes = this.encode({ ...frame, kind: FrameKind.Request, requestId }, to);
    } catch (err) {
      return Promise.reject(err);
    }
    const timeoutMs = opts?.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    return new Promise<Frame>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        if (this.pending.delete(requestId)) {
          reject(new TransportError('TIMEOUT', `no reply from ${to} within ${timeoutMs} ms (code ${frame.code})`));
        }
      }, timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer, to });
      this.enqueue({ op: Op.Inbox, to, bytes, requester: this, requestId });
    });
  }

  send(to: string, frame: Frame, _opts?: SendOptions): void {
    if (this.closed) throw new TransportError('CLOSED', `transport closed; cannot send to ${to}`);
    const f = frame.kind === FrameKind.OneWay && frame.requestId === 0 ? frame : { ...frame, kind: FrameKind.OneWay, requestId: 0 };
    this.enqueue({ op: Op.Inbox, to, bytes: this.encode(f, to) });
  }

  publish(subject: string, frame: Frame, _opts?: SendOptions): void {
    if (this.closed) throw new TransportError('CLOSED', `transport closed; cannot publish on ${subject}`);
    this.enqueue({ op: Op.Publish, to: subject, bytes: this.encode(frame, subject) });
  }

  injectRaw(address: string, bytes: Uint8Array): void {
    if (this.closed) throw new TransportError('CLOSED', `transport closed; cannot inject at ${address}`);
    this.enqueue({ op: Op.Raw, to: address, bytes: new Uint8Array(bytes) });
  }

  /** The network's bucket `bucket` (replicas are ignored: there is one copy). */
  async keyValue(bucket: string, _opts?: KvOpenOptions): Promise<KvBucket> {
    if (this.closed) throw new KvError('CLOSED', `transport closed; cannot open KV bucket ${bucket}`);
    return this.network.kv.open(bucket, () => this.closed);
  }

  flush(): Promise<void> {
    // On a simulated clock, delivery waits for the runner: everything queued has already left the sender.
    if (this.sim || (!this.scheduled && this.queue.length === 0)) return Promise.resolve();
    return new Promise<void>((resolve) => this.flushWaiters.push(resolve));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) {
      this.clock.clearTimeout(p.timer);
      p.reject(new TransportError('CLOSED', `transport closed while waiting for a reply from ${p.to}`));
      this.pending.delete(id);
    }
    for (const e of [...this.inboxEntries]) e.subscriber.complete();
    for (const e of [...this.subjectEntries]) e.subscriber.complete();
    this.state$.next('closed');
    this.state$.complete();
  }

  // ---- internals ----

  private encode(frame: Frame, to: string): Uint8Array {
    if (frame.body.length > this.maxPayload) throw this.tooLarge(frame.body.length + MIN_FRAME_BYTES, to, 'at least ');
    let bytes: Uint8Array;
    try {
      bytes = encodeFrame(frame);
    } catch (err) {
      if (err instanceof CodecError) throw new TransportError('BAD_FRAME', `cannot encode frame for ${to}: ${err.message}`);
      throw err;
    }
    if (bytes.length > this.maxPayload) throw this.tooLarge(bytes.length, to, '');
    return bytes;
  }

  private tooLarge(size: number, to: string, approx: string): TransportError {
    return new TransportError(
      'PAYLOAD_TOO_LARGE',
      `frame for ${to} is ${approx}${size} bytes encoded, more than the transport's maxPayload of ${this.maxPayload} bytes`,
    );
  }

  private enqueue(d: Delivery): void {
    this.queue.push(d);
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.sim) {
      this.clock.setTimeout(this.drain, 0);
      return;
    }
    // Microtasks are cheapest, but a busy in-process flow would then never let timers and I/O run (async
    // flushes, request timeouts, commit intervals). After a millisecond of microtask drains since the event
    // loop last turned, the next drain waits for the loop instead.
    const now = performance.now();
    if (this.streakStart === 0) {
      this.streakStart = now;
      setImmediate(this.endStreak);
    }
    if (now - this.streakStart > MAX_MICROTASK_STREAK_MS) setImmediate(this.drain);
    else queueMicrotask(this.drain);
  }

  private readonly endStreak = (): void => {
    this.streakStart = 0;
  };

  private deliverBatch(): void {
    const batch = this.queue;
    const waiters = this.flushWaiters;
    this.queue = [];
    this.flushWaiters = [];
    this.scheduled = false;
    for (let i = 0; i < batch.length; i++) {
      const d = batch[i]!;
      try {
        this.deliver(d);
      } catch (err) {
        this.log.error({ err, to: d.to }, 'delivery failed');
      }
    }
    for (const w of waiters) w();
  }

  private deliver(d: Delivery): void {
    switch (d.op) {
      case Op.Inbox:
      case Op.Raw:
        return this.deliverInbox(d);
      case Op.Publish:
        return this.deliverPublish(d);
      case Op.Reply:
        return d.requester!.receiveReply(d.requestId!, d.bytes);
    }
  }

  private deliverInbox(d: Delivery): void {
    const set = this.network.inboxes.get(d.to);
    let frame: Frame;
    try {
      frame = decodeFrame(d.bytes);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      this.droppedFrames++;
      this.log.warn({ to: d.to, bytes: d.bytes.length, reason: err.message }, 'dropped a frame that does not decode');
      return;
    }
    if (!set || set.size === 0) {
      if (d.requester) d.requester.failNoResponders(d.requestId!, d.to);
      else this.log.debug({ to: d.to, code: frame.code }, 'no listener; frame dropped');
      return;
    }
    let reply: ((f: Frame) => void) | undefined;
    if (d.requester) {
      let done = false;
      const requester = d.requester;
      const requestId = d.requestId!;
      reply = (f: Frame) => {
        if (done) return;
        done = true;
        this.sendReply(requester, requestId, f);
      };
    } else if (d.op === Op.Raw && frame.kind === FrameKind.Request) {
      reply = () => undefined;
    }
    const incoming: Incoming = reply ? { frame, reply } : { frame };
    if (set.size === 1) {
      for (const e of set) e.subscriber.next(incoming);
    } else {
      for (const e of [...set]) e.subscriber.next(incoming);
    }
  }

  private deliverPublish(d: Delivery): void {
    const set = this.network.subjects.get(d.to);
    if (!set || set.size === 0) return;
    const frame = decodeFrame(d.bytes);
    for (const e of set.size === 1 ? set : [...set]) e.subscriber.next(frame);
  }

  /** Called on the replier's transport (its queue carries the reply). */
  private sendReply(requester: MemoryTransportImpl, requestId: number, f: Frame): void {
    if (this.closed) {
      this.log.debug({ requestId }, 'reply after close dropped');
      return;
    }
    const bytes = this.encode({ ...f, kind: FrameKind.Reply, requestId }, 'reply');
    this.enqueue({ op: Op.Reply, to: '', bytes, requester, requestId });
  }

  private receiveReply(requestId: number, bytes: Uint8Array): void {
    const p = this.pending.get(requestId);
    if (!p) {
      this.log.debug({ requestId }, 'late or unknown reply ignored');
      return;
    }
    this.pending.delete(requestId);
    this.clock.clearTimeout(p.timer);
    let frame: Frame;
    try {
      frame = decodeFrame(bytes);
    } catch (err) {
      p.reject(new TransportError('BAD_FRAME', `reply from ${p.to} does not decode: ${(err as Error).message}`));
      return;
    }
    p.resolve(frame);
  }

  private failNoResponders(requestId: number, to: string): void {
    const p = this.pending.get(requestId);
    if (!p) return;
    this.pending.delete(requestId);
    this.clock.clearTimeout(p.timer);
    p.reject(new TransportError('NO_RESPONDERS', `no responders for ${to}`));
  }
}
