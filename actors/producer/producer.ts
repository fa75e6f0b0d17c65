import { clientAddress } from '../protocol/commands.js';
import type { Frame } from '../../transports/frame.js';
import type { ActorSystem } from '../runtime/system.js';
import type { ActorIo } from '../runtime/actor-host.js';
import { InFlight } from '../runtime/in-flight.js';
import type { Message, MessageQueue, SendResult } from '../../core/message.js';
import { encodedMessageSize } from '../../core/message-codec.js';
import { replyError } from '../runtime/actor-host.js';
import { Status, StatusError } from '../../core/status.js';
import { DEFAULT_MAX_BODY_BYTES, validateBatch, validateGroup, validateMessage } from '../protocol/validation.js';
import { ClientInstance, newClientId } from '../client/client-instance.js';
import { hostClient } from '../client/hosting.js';
import type { Credentials } from '../protocol/acl/signing.js';
import type { FaultState } from './fault-avoidance.js';
import { LingerBatcher } from './linger-batcher.js';
import { SendPath } from './send-path.js';
import { selectOrderedQueue, type SendOptions } from './ordered.js';

export type { QueueSelector, SendOptions } from './ordered.js';

export interface ProducerOptions {
  /** Producer group name. */
  group: string;
  /** Access and secret key: every request is signed with them (for brokers and name servers with an ACL). */
  credentials?: Credentials;
  /** Name server ids (each reached at `namesrv.<id>`); routes are asked from one, falling over to the next. */
  namesrv: string[];
  /** Client id (the producer listens at `client.<clientId>`); default `producer-<random hex>`. */
  clientId?: string;
  /** How long one send waits for the broker. Default 3000 ms. */
  sendTimeoutMs?: number;
  /** Retries of a failed send, each on another broker when there is one. Default 2. */
  retries?: number;
  /** Largest message body in bytes; larger messages fail with MESSAGE_TOO_LARGE without being sent. Default 4 MiB. */
  maxMessageBytes?: number;
  /**
   * Automatic batching: sends to one queue within this time are combined into one request. Default 0: nothing
   * waits, and the sends of one turn of the event loop to one topic (without a sharding key or selector) go to
   * one queue as one request, at the end of the turn.
   */
  lingerMs?: number;
  /** Largest batch (encoded bytes) of automatic batching and of `sendBatch` splits. Default 256 KiB. */
  batchMaxBytes?: number;
  /** Route refresh interval. Default 30000 ms. */
  routeRefreshMs?: number;
  /** Heartbeat interval to every broker of the routes in use. Default 30000 ms. */
  heartbeatIntervalMs?: number;
  /**
   * Most sends (`send`, `sendBatch`, `sendOneway`) in flight at once, not yet answered. Past it a send is
   * refused at once with StatusError(SYSTEM_BUSY) instead of being queued in memory without limit (back
   * pressure: wait for earlier sends, then retry). Default 10000.
   */
  maxInflightSends?: number;
}

export interface Producer {
  readonly clientId: string;
  readonly group: string;
  /**
   * Sends one message; resolves when the broker acknowledged it (StatusError otherwise). A message with a
   * `shardingKey`, or a send with `opts.selector`, is ordered: it goes to the key's (the selector's) queue,
   * and fails instead of being retried on another queue.
   */
  send(msg: Message, opts?: SendOptions): Promise<SendResult>;
  /** Sends one message without waiting for, or getting, an answer. Invalid messages throw at once. */
  sendOneway(msg: Message): void;
  /** Sends messages of one topic; split into batches by bytes, each batch to one queue. One result per message, in order. */
  sendBatch(msgs: readonly Message[]): Promise<SendResult[]>;
  /** The writable queues of a topic, as the producer sees them. */
  queues(topic: string): Promise<MessageQueue[]>;
  /** The latency fault state (which brokers are avoided until when). */
  faults(): FaultState;
  /** Stops: lingering batches are sent, in-flight sends finish, the producer unregisters. */
  stop(): Promise<void>;
}

const KiB = 1024;
export const DEFAULT_MAX_INFLIGHT_SENDS = 10_000;

/** Hooks for producers built on this one (the transactional producer): frames it serves, its parts. */
export interface ProducerExtras {
  /** Sees every frame at the producer's address first; returns true when it handled it. */
  onFrame?: (frame: Frame, reply?: (f: Frame) => void) => boolean;
  /** Called once with the producer's client and send path, before startProducer resolves. */
  onParts?: (parts: ProducerParts) => void;
}

/** What a producer built on this one uses of it: its client, its send path, and its batching of single sends. */
export interface ProducerParts {
  client: ClientInstance;
  path: SendPath;
  batched: (msg: Message) => Promise<SendResult>;
}

/** Hosts a producer in `system` and starts it. */
export async function startProducer(system: ActorSystem, opts: ProducerOptions, extras: ProducerExtras = {}): Promise<Producer> {
  validateGroup(opts.group);
  const o = {
    sendTimeoutMs: positive(opts.sendTimeoutMs, 3000, 'sendTimeoutMs'),
    retries: nonNegative(opts.retries, 2, 'retries'),
    maxMessageBytes: positive(opts.maxMessageBytes, DEFAULT_MAX_BODY_BYTES, 'maxMessageBytes'),
    lingerMs: nonNegative(opts.lingerMs, 0, 'lingerMs'),
    batchMaxBytes: positive(opts.batchMaxBytes, 256 * KiB, 'batchMaxBytes'),
    routeRefreshMs: positive(opts.routeRefreshMs, 30000, 'routeRefreshMs'),
    heartbeatIntervalMs: positive(opts.heartbeatIntervalMs, 30000, 'heartbeatIntervalMs'),
    maxInflightSends: positive(opts.maxInflightSends, DEFAULT_MAX_INFLIGHT_SENDS, 'maxInflightSends'),
  };
  const clientId = opts.clientId ?? newClientId('producer', system.env.random);
  let stopping = false;
  let impl!: ProducerImpl;
  const hosted = await hostClient(system, {
    role: 'producer',
    clientId,
    ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}),
    intervals: { routes: o.routeRefreshMs, heartbeat: o.heartbeatIntervalMs },
    build: (io) => {
      impl = new ProducerImpl(io, clientId, opts.group, opts.namesrv, o, () => stopping);
      extras.onParts?.({ client: impl.client, path: impl.path, batched: impl.batched });
      return {
        start: async () => {
          impl.client.producerGroups.add(opts.group);
        },
        tick: (task) => {
          if (task === 'routes') void impl.client.routes.refreshAll();
          else if (task === 'heartbeat') void impl.client.heartbeat();
        },
        onFrame: (frame: Frame, reply) => {
          if (extras.onFrame?.(frame, reply)) return;
          if (reply) replyError({ frame, reply }, Status.REQUEST_CODE_NOT_SUPPORTED, `producer ${clientId} does not handle code ${frame.code}`);
        },
        drain: async () => {
          stopping = true;
          await impl.drain();
          await impl.client.unregister({ producerGroup: opts.group });
        },
      };
    },
  });
  system.provideStats(clientAddress(clientId), () => ({ role: 'producer', group: opts.group, clientId, ...impl.path.counts }));
  return {
    clientId,
    group: opts.group,
    send: (m, so) => impl.send(m, so),
    sendOneway: (m) => impl.sendOneway(m),
    sendBatch: (ms) => impl.sendBatch(ms),
    queues: (t) => impl.path.queues(t),
    faults: () => impl.path.faultState(),
    stop: () => hosted.stop(),
  };
}

class ProducerImpl {
  readonly client: ClientInstance;
  readonly path: SendPath;
  private readonly batcher: LingerBatcher;
  private readonly inflight = new InFlight();

  constructor(
    io: ActorIo,
    readonly clientId: string,
    readonly group: string,
    namesrv: string[],
    private readonly o: { sendTimeoutMs: number; retries: number; maxMessageBytes: number; lingerMs: number; batchMaxBytes: number; maxInflightSends: number },
    private readonly isStopping: () => boolean,
  ) {
    this.client = new ClientInstance(io, { clientId, namesrv, requestTimeoutMs: o.sendTimeoutMs });
    this.path = new SendPath(this.client, { group, sendTimeoutMs: o.sendTimeoutMs, retries: o.retries });
    this.batcher = new LingerBatcher((msgs, mq) => this.path.send(msgs, mq), io.clock, o.lingerMs, o.batchMaxBytes, io.logger, (parts) => this.path.sendMany(parts));
  }

  private checkRunning(): void {
    if (this.isStopping()) throw new StatusError(Status.SERVICE_NOT_AVAILABLE, `producer ${this.clientId} is stopping or stopped`);
    if (this.inflight.size >= this.o.maxInflightSends)
      throw new StatusError(
        Status.SYSTEM_BUSY,
        `producer ${this.clientId} has ${this.inflight.size} sends in flight (maxInflightSends ${this.o.maxInflightSends}); wait for earlier sends to finish and retry`,
      );
  }

  private track<T>(p: Promise<T>): Promise<T> {
    return this.inflight.track(p);
  }

  send(msg: Message, opts?: SendOptions): Promise<SendResult> {
    try {
      this.checkRunning();
      validateMessage(msg, { maxBodyBytes: this.o.maxMessageBytes });
    } catch (err) {
      return Promise.reject(err);
    }
    this.client.routes.track(msg.topic);
    const selector = opts?.selector;
    if (selector) {
      // ordered by the caller's choice of queue: sent alone (not lingered), tried once
      return this.track(
        (async () => {
          const mq = selectOrderedQueue(await this.path.queues(msg.topic), msg, selector);
          return (await this.path.send([msg], mq, { ordered: true }))[0]!;
        })(),
      );
    }
    return this.track(this.batched(msg));
  }

  /**
   * Sends `msg` in a batch (linger-batcher.ts): with its sharding key's queue, else its topic's queue of the turn
   * (or, lingering, a queue picked for it).
   */
  readonly batched = async (msg: Message): Promise<SendResult> => {
    let queues = this.path.queuesOf(msg.topic);
    if (queues instanceof Promise) queues = await queues;
    const size = encodedMessageSize(msg);
    if (msg.shardingKey !== undefined) return this.batcher.add(this.path.pick(queues, undefined, msg.shardingKey), msg, size);
    return this.batcher.addToTopic(msg.topic, () => this.path.pick(queues), msg, size);
  };

  sendOneway(msg: Message): void {
    this.checkRunning();
    validateMessage(msg, { maxBodyBytes: this.o.maxMessageBytes });
    this.client.routes.track(msg.topic);
    void this.track(
      (async () => {
        const queues = await this.path.queuesOf(msg.topic);
        this.path.sendOneway(this.path.pick(queues, undefined, msg.shardingKey), [msg]);
      })().catch((err: unknown) => this.client.io.logger.warn({ err, topic: msg.topic }, 'one-way send failed')),
    );
  }

  async sendBatch(msgs: readonly Message[]): Promise<SendResult[]> {
    this.checkRunning();
    validateBatch(msgs, { maxBodyBytes: this.o.maxMessageBytes, maxBatchBytes: Number.MAX_SAFE_INTEGER });
    this.client.routes.track(msgs[0]!.topic);
    const queues = await this.path.queuesOf(msgs[0]!.topic);
    // a chunk holds messages bound for one queue: a sharding key's messages never ride with another queue's
    const target = (m: Message): MessageQueue | undefined => (m.shardingKey === undefined ? undefined : this.path.pick(queues, undefined, m.shardingKey));
    const chunks: { msgs: Message[]; mq: MessageQueue | undefined }[] = [];
    let cur: Message[] = [];
    let curMq: MessageQueue | undefined;
    let bytes = 0;
    for (const m of msgs) {
      const n = encodedMessageSize(m);
      const mq = target(m);
      if (cur.length > 0 && (bytes + n > this.o.batchMaxBytes || mq !== curMq)) {
        chunks.push({ msgs: cur, mq: curMq });
        cur = [];
        bytes = 0;
      }
      cur.push(m);
      curMq = mq;
      bytes += n;
    }
    chunks.push({ msgs: cur, mq: curMq });
    const sendChunk = (c: { msgs: Message[]; mq: MessageQueue | undefined }): Promise<SendResult[]> => this.path.send(c.msgs, c.mq ?? this.path.pick(queues));
    // the usual case, one chunk: its results as they are (no Promise.all, no copy)
    if (chunks.length === 1) return this.track(sendChunk(chunks[0]!));
    return (await this.track(Promise.all(chunks.map(sendChunk)))).flat();
  }

  /** Sends lingering batches and waits for every send in flight (failures are the callers'). */
  async drain(): Promise<void> {
    await this.batcher.drain();
    while (this.inflight.size > 0) await this.inflight.idle();
  }
}

function positive(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v <= 0) throw new StatusError(Status.INVALID_ARGUMENT, `producer option ${name} must be a positive number, got ${v}`);
  return v;
}

function nonNegative(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 0) throw new StatusError(Status.INVALID_ARGUMENT, `producer option ${name} must be a non-negative integer, got ${v}`);
  return v;
}
