import type { ClientInstance } from '../client/client-instance.js';
import type { SendHeader, TopicRoute } from '../protocol/commands.js';
import type { Message, MessageQueue, SendResult } from '../../core/message.js';
import { MessageProperty, SendStatus } from '../../core/message.js';
import { encodeMessageBatch, MessageCodecError } from '../../core/message-codec.js';
import { RequestCode } from '../protocol/request-codes.js';
import { oneWay, request } from '../protocol/replies.js';
import { decodeSendReply } from '../protocol/send-reply.js';
import { decodeSendManyReply, encodeSendMany } from '../protocol/send-many.js';
import { sharedUniqKeys, type UniqKeyBatch } from '../protocol/uniq-keys.js';
import type { HexLine } from '../../core/hex-line.js';
import { Status, StatusError } from '../../core/status.js';
import { writableQueues } from '../protocol/route.js';
import { AUTO_CREATE_TOPIC } from '../protocol/validation.js';
import { EMPTY_FAULT_STATE, updateFaultItem, type FaultState } from './fault-avoidance.js';
import { selectByKey, selectWithFaultAvoidance } from './queue-selector.js';
import { isOrderedBatch } from './ordered.js';

/**
 * The producer's send path, plain code (no machine events per message): find the route, pick a queue with
 * round robin and latency fault avoidance, send one batch to one queue, and retry on another broker when a
 * send fails. Each call sends one batch (one message is a batch of one).
 */

/** Statuses a retry on another broker cannot help with. */
const FINAL: ReadonlySet<number> = new Set<number>([
  Status.MESSAGE_ILLEGAL,
  Status.MESSAGE_TOO_LARGE,
  Status.BAD_FRAME,
  Status.PAYLOAD_TOO_LARGE,
  Status.INVALID_ARGUMENT,
]);

/** Reply statuses that still carry results (the message is stored, durability is in doubt). */
const STORED_WITH_WARNING: ReadonlyMap<number, SendStatus> = new Map<number, SendStatus>([
  [Status.FLUSH_DISK_TIMEOUT, SendStatus.FLUSH_DISK_TIMEOUT],
  [Status.FLUSH_SLAVE_TIMEOUT, SendStatus.FLUSH_SLAVE_TIMEOUT],
  [Status.SLAVE_NOT_AVAILABLE, SendStatus.SLAVE_NOT_AVAILABLE],
]);

/** A batch as every attempt sends it: encoded once, its unique keys drawn once. */
interface EncodedBatch {
  msgs: readonly Message[];
  body: Uint8Array;
  keys: UniqKeyBatch;
  /** Attempts after the first (0: an ordered batch, tried on its queue only). */
  retries: number;
}

const utf8 = new TextDecoder();

export interface SendPathOptions {
  group: string;
  sendTimeoutMs: number;
  retries: number;
}

export class SendPath {
  private seq = 0;
  private faults: FaultState = EMPTY_FAULT_STATE;
  /** Messages acknowledged and messages whose send failed (after its retries), since start. */
  readonly counts = { sent: 0, failed: 0 };
  /** Writable queues by topic, with the route they were made from (a refresh that changes the route replaces it). */
  private readonly writableCache = new Map<string, { route: TopicRoute; queues: readonly MessageQueue[] }>();

  constructor(
    private readonly client: ClientInstance,
    private readonly opts: SendPathOptions,
  ) {}

  /** The current fault state (for inspection and tests). */
  faultState(): FaultState {
    return this.faults;
  }

  /** The writable queues of `topic`, a copy; StatusError(NO_ROUTE) when the topic has none. */
  async queues(topic: string): Promise<MessageQueue[]> {
    return [...(await this.queuesOf(topic))];
  }

  /**
   * The writable queues of `topic`, shared (not to be changed): at once when its route is known, else once it is
   * looked up. StatusError(NO_ROUTE) when the topic has none.
   */
  queuesOf(topic: string): readonly MessageQueue[] | Promise<readonly MessageQueue[]> {
    const route = this.client.routes.get(topic);
    return route !== undefined ? this.checked(topic, route) : this.lookUp(topic);
  }

  private async lookUp(topic: string): Promise<readonly MessageQueue[]> {
    const route = await this.client.routes.route(topic);
    // A topic the name servers do not know yet goes to the brokers that create topics on first send (they
    // register the auto-create key topic), as RocketMQ's producers do; the broker registers the new topic.
    if (!route) {
      const auto = this.client.routes.get(AUTO_CREATE_TOPIC) ?? (await this.client.routes.route(AUTO_CREATE_TOPIC));
      if (auto) return this.checked(topic, auto);
    }
    return this.checked(topic, route);
  }

  private checked(topic: string, route: TopicRoute | undefined): readonly MessageQueue[] {
    const queues = route ? this.writable(route, topic) : [];
    if (queues.length === 0) {
      throw new StatusError(
        Status.NO_ROUTE,
        route
          ? `topic "${topic}" has no writable queue on any master broker`
          : `no route for topic "${topic}": the name servers know neither it nor a broker that creates topics on first send (is a broker registered with them? create the topic, or turn on autoCreateTopics)`,
      );
    }
    return queues;
  }

  /** writableQueues of a route, made once per route object (a refresh that changes the route replaces it). */
  private writable(route: TopicRoute, topic: string): readonly MessageQueue[] {
    const cached = this.writableCache.get(topic);
    if (cached !== undefined && cached.route === route) return cached.queues;
    // frozen: the same queue objects go out in every SendResult of the route's life
    const queues = Object.freeze(writableQueues(route, topic).map((q) => Object.freeze(q)));
    this.writableCache.set(topic, { route, queues });
    return queues;
  }

  /** Picks the next queue (round robin, avoiding slow or failed brokers and `skipBroker`). */
  pick(queues: readonly MessageQueue[], skipBroker?: string, shardingKey?: string): MessageQueue {
    if (shardingKey !== undefined) return selectByKey(queues, shardingKey)!;
    return selectWithFaultAvoidance(queues, this.seq++, this.faults, this.client.io.clock.now(), skipBroker)!;
  }

  /**
   * Sends `msgs` (one topic) as one batch, first to `first` (or a queue picked now), retrying on another broker
   * up to `retries` times. Resolves with one result per message. An ordered send (`ordered`, or any message
   * with a sharding key) is tried once, on its queue only: it fails rather than move to another queue.
   * The batch's unique keys are drawn once, here: every attempt sends the same, so a message sent twice (a
   * lost reply, a timeout) keeps its key on whichever broker stores it.
   */
  send(msgs: readonly Message[], first?: MessageQueue, opts: { ordered?: boolean } = {}): Promise<SendResult[]> {
    let b: EncodedBatch;
    try {
      b = this.encoded(msgs, opts.ordered === true);
    } catch (err) {
      return this.counted(msgs.length, Promise.reject(err));
    }
    return this.counted(msgs.length, this.attempts(b, first, 0, undefined, undefined));
  }

  /**
   * Sends batches for queues of one broker (`parts`, each one topic's) in one SEND_MANY request, as Kafka's
   * producer sends one request per broker: one promise per part, each settling on its own. A part the broker
   * refuses, or all of them when the request fails, is retried as `send` retries (on another broker, with the
   * same unique keys).
   */
  sendMany(parts: readonly { msgs: readonly Message[]; mq: MessageQueue }[]): Promise<SendResult[]>[] {
    const out: Promise<SendResult[]>[] = new Array<Promise<SendResult[]>>(parts.length);
    const ready: { at: number; b: EncodedBatch; mq: MessageQueue }[] = [];
    for (let k = 0; k < parts.length; k++) {
      const { msgs, mq } = parts[k]!;
      try {
        ready.push({ at: k, b: this.encoded(msgs, false), mq });
      } catch (err) {
        out[k] = this.counted(msgs.length, Promise.reject(err));
      }
    }
    if (ready.length === 1) out[ready[0]!.at] = this.counted(ready[0]!.b.msgs.length, this.attempts(ready[0]!.b, ready[0]!.mq, 0, undefined, undefined));
    if (ready.length < 2) return out;
    const brokerName = ready[0]!.mq.brokerName;
    const addr = this.client.brokerAddressOf(brokerName);
    const started = this.client.io.clock.now();
    const header = { producerGroup: this.opts.group, bornHost: this.client.clientId, bornTimestamp: started };
    const body = encodeSendMany(ready.map(({ b, mq }) => ({ topic: mq.topic, queueId: mq.queueId, uniqPrefix: b.keys.prefix, uniqFirst: b.keys.first, batch: b.body })));
    const replies = this.client.io.request(addr, request(RequestCode.SEND_MANY, header, body), this.opts.sendTimeoutMs).then((reply) => {
      if (reply.status !== Status.OK) throw new StatusError(reply.status, `send of ${ready.length} batches to ${brokerName} at ${addr}: ${typeof reply.header.error === 'string' ? reply.header.error : 'no message'}`);
      return { parts: decodeSendManyReply(reply.body, ready.length), epoch: reply.header.epoch };
    });
    // one request: one latency (or failure) for the broker's fault avoidance
    replies.then(
      () => (this.faults = updateFaultItem(this.faults, brokerName, this.client.io.clock.now() - started, false, this.client.io.clock.now())),
      () => (this.faults = updateFaultItem(this.faults, brokerName, this.client.io.clock.now() - started, true, this.client.io.clock.now())),
    );
    for (let j = 0; j < ready.length; j++) {
      const { at, b, mq } = ready[j]!;
      const first = replies.then(({ parts: rs, epoch }) => {
        const r = rs[j]!;
        const error = r.status === Status.OK || STORED_WITH_WARNING.has(r.status) ? undefined : utf8.decode(r.body);
        return this.results(r.status, error, r.body, epoch, mq, b, addr);
      });
      out[at] = this.counted(
        b.msgs.length,
        first.catch((err: unknown) => this.retryAfter(b, mq, err)),
      );
    }
    return out;
  }

  /** `p`, counted in `counts` once it settles. */
  private counted(n: number, p: Promise<SendResult[]>): Promise<SendResult[]> {
    return p.then(
      (r) => {
        this.counts.sent += n;
        return r;
      },
      (err: unknown) => {
        this.counts.failed += n;
        throw err;
      },
    );
  }

  /** A batch encoded once for all its attempts, with its unique keys. StatusError(MESSAGE_ILLEGAL) when it does not encode. */
  private encoded(msgs: readonly Message[], ordered: boolean): EncodedBatch {
    let body: Uint8Array;
    try {
      body = encodeMessageBatch(msgs);
    } catch (err) {
      if (err instanceof MessageCodecError) throw new StatusError(Status.MESSAGE_ILLEGAL, err.message);
      throw err;
    }
    return { msgs, body, keys: sharedUniqKeys(this.client.io.random).take(msgs.length), retries: ordered || isOrderedBatch(msgs) ? 0 : this.opts.retries };
  }

  /** What follows a first attempt on `mq` that failed with `err`: the retries, or `err` when none may follow. */
  private retryAfter(b: EncodedBatch, mq: MessageQueue, err: unknown): Promise<SendResult[]> {
    if ((err instanceof StatusError && FINAL.has(err.status)) || b.retries === 0) return Promise.reject(err);
    this.failedOn(b, mq, err, 0);
    return this.attempts(b, undefined, 1, mq.brokerName, err);
  }

  /** Attempts from `from` on (`skip`: the broker the last one failed on, `lastError` its failure). */
  private async attempts(b: EncodedBatch, first: MessageQueue | undefined, from: number, skip: string | undefined, lastError: unknown): Promise<SendResult[]> {
    const topic = b.msgs[0]!.topic;
    const shardingKey = b.msgs[0]!.shardingKey;
    let mq = first;
    for (let attempt = from; attempt <= b.retries; attempt++) {
      if (mq === undefined || attempt > from) {
        const queues = await this.queuesOf(topic);
        mq = this.pick(queues, skip, shardingKey);
      }
      const started = this.client.io.clock.now();
      try {
        const results = await this.sendTo(mq, b);
        this.faults = updateFaultItem(this.faults, mq.brokerName, this.client.io.clock.now() - started, false, this.client.io.clock.now());
        return results;
      } catch (err) {
        lastError = err;
        if (err instanceof StatusError && FINAL.has(err.status)) throw err;
        this.faults = updateFaultItem(this.faults, mq.brokerName, this.client.io.clock.now() - started, true, this.client.io.clock.now());
        this.failedOn(b, mq, err, attempt);
        skip = mq.brokerName;
      }
    }
    throw lastError;
  }

  /** An attempt failed: logged, and the topic's route refreshed in the background (the broker may be gone). */
  private failedOn(b: EncodedBatch, mq: MessageQueue, err: unknown, attempt: number): void {
    this.client.io.logger.debug({ err, broker: mq.brokerName, attempt }, 'send failed; retrying on another broker');
    this.client.routes.route(b.msgs[0]!.topic, true).catch(() => undefined);
  }

  /**
   * One request to one queue: `b.body` is `b.msgs` encoded, `b.keys` their unique keys (message i's is its
   * UNIQ_KEY property if it has one, else key i of the run).
   */
  private async sendTo(mq: MessageQueue, b: EncodedBatch): Promise<SendResult[]> {
    const header: SendHeader = {
      producerGroup: this.opts.group,
      topic: mq.topic,
      queueId: mq.queueId,
      bornHost: this.client.clientId,
      bornTimestamp: this.client.io.clock.now(),
      uniqPrefix: b.keys.prefix,
      uniqFirst: b.keys.first,
    };
    const code = b.msgs.length === 1 ? RequestCode.SEND_MESSAGE : RequestCode.SEND_BATCH_MESSAGE;
    const addr = this.client.brokerAddressOf(mq.brokerName);
    const reply = await this.client.io.request(addr, request(code, { ...header }, b.body), this.opts.sendTimeoutMs);
    return this.results(reply.status, typeof reply.header.error === 'string' ? reply.header.error : undefined, reply.body, reply.header.epoch, mq, b, addr);
  }

  /** The results of a batch from its reply's status, error message, body (send-reply.ts) and epoch header. */
  private results(replyStatus: number, error: string | undefined, body: Uint8Array, epoch: unknown, mq: MessageQueue, b: EncodedBatch, addr: string): SendResult[] {
    const count = b.msgs.length;
    let status: SendStatus = SendStatus.SEND_OK;
    if (replyStatus !== Status.OK) {
      const warn = STORED_WITH_WARNING.get(replyStatus);
      if (warn === undefined || body.length === 0) throw new StatusError(replyStatus, `send to ${mq.topic}/${mq.brokerName}/${mq.queueId} at ${addr}: ${error ?? 'no message'}`);
      status = warn;
    }
    let out: SendResult[];
    // the keys are the run's; a key in the reply (from a broker that made its own) is the one stored
    let line: HexLine | undefined; // made at the first key the reply does not carry
    let i = 0;
    try {
      out = decodeSendReply(body, (msgId, queueOffset, _commitLogOffset, replied): SendResult => {
        const uniqKey = i < count ? (replied ?? b.msgs[i]!.properties?.[MessageProperty.UNIQ_KEY] ?? (line ??= b.keys.line()).at(i)) : replied;
        i++;
        return uniqKey === undefined ? { status, msgId, queue: mq, queueOffset } : { status, msgId, queue: mq, queueOffset, uniqKey };
      });
      // under a controller: the master epoch the broker answered in
      if (typeof epoch === 'number' && Number.isSafeInteger(epoch)) for (const r of out) r.epoch = epoch;
    } catch (err) {
      if (err instanceof MessageCodecError) throw new StatusError(Status.BAD_FRAME, `broker ${addr}: ${err.message}`);
      throw err;
    }
    if (out.length !== count) throw new StatusError(Status.BAD_FRAME, `broker ${addr} answered ${out.length} results for ${count} messages`);
    return out;
  }

  /** A one-way send: no reply, no retry; failures are logged. */
  sendOneway(mq: MessageQueue, msgs: readonly Message[]): void {
    const keys = sharedUniqKeys(this.client.io.random).take(msgs.length);
    const header: SendHeader = {
      producerGroup: this.opts.group,
      topic: mq.topic,
      queueId: mq.queueId,
      bornHost: this.client.clientId,
      bornTimestamp: this.client.io.clock.now(),
      uniqPrefix: keys.prefix,
      uniqFirst: keys.first,
    };
    const code = msgs.length === 1 ? RequestCode.SEND_MESSAGE : RequestCode.SEND_BATCH_MESSAGE;
    this.client.io.send(this.client.brokerAddressOf(mq.brokerName), oneWay(code, { ...header }, encodeMessageBatch(msgs)));
  }
}
