import type { ClientInstance } from '../client/client-instance.js';
import type { SendHeader, TopicRoute } from '../protocol/commands.js';
import type { Message, MessageQueue, SendResult } from '../../core/message.js';
import { MessageProperty, SendStatus } from '../../core/message.js';
import { encodeMessageBatch, MessageCodecError } from '../../core/message-codec.js';
import { RequestCode } from '../protocol/request-codes.js';
import { oneWay, request } from '../protocol/replies.js';
import { decodeSendReply } from '../protocol/send-reply.js';
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
  private readonly writableCache = new WeakMap<TopicRoute, Map<string, MessageQueue[]>>();

  constructor(
    private readonly client: ClientInstance,
    private readonly opts: SendPathOptions,
  ) {}

  /** The current fault state (for inspection and tests). */
  faultState(): FaultState {
    return this.faults;
  }

  /** The writable queues of `topic`; StatusError(NO_ROUTE) when the topic has none. */
  async queues(topic: string): Promise<MessageQueue[]> {
    let route: TopicRoute | undefined = this.client.routes.get(topic);
    if (!route) route = await this.client.routes.route(topic);
    // A topic the name servers do not know yet goes to the brokers that create topics on first send (they
    // register the auto-create key topic), as RocketMQ's producers do; the broker registers the new topic.
    if (!route) {
      const auto = this.client.routes.get(AUTO_CREATE_TOPIC) ?? (await this.client.routes.route(AUTO_CREATE_TOPIC));
      if (auto) return this.checked(topic, auto);
    }
    return this.checked(topic, route);
  }

  private checked(topic: string, route: TopicRoute | undefined): MessageQueue[] {
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
  private writable(route: TopicRoute, topic: string): MessageQueue[] {
    let byTopic = this.writableCache.get(route);
    if (byTopic === undefined) this.writableCache.set(route, (byTopic = new Map()));
    let queues = byTopic.get(topic);
    // frozen: the same queue objects go out in every SendResult of the route's life
    if (queues === undefined) byTopic.set(topic, (queues = writableQueues(route, topic).map((q) => Object.freeze(q))));
    return queues.slice();
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
  async send(msgs: readonly Message[], first?: MessageQueue, opts: { ordered?: boolean } = {}): Promise<SendResult[]> {
    try {
      const results = await this.attempts(msgs, first, opts);
      this.counts.sent += msgs.length;
      return results;
    } catch (err) {
      this.counts.failed += msgs.length;
      throw err;
    }
  }

  private async attempts(msgs: readonly Message[], first: MessageQueue | undefined, opts: { ordered?: boolean }): Promise<SendResult[]> {
    const topic = msgs[0]!.topic;
    const retries = opts.ordered || isOrderedBatch(msgs) ? 0 : this.opts.retries;
    const shardingKey = msgs[0]!.shardingKey;
    let body: Uint8Array;
    try {
      body = encodeMessageBatch(msgs);
    } catch (err) {
      if (err instanceof MessageCodecError) throw new StatusError(Status.MESSAGE_ILLEGAL, err.message);
      throw err;
    }
    const keys = sharedUniqKeys(this.client.io.random).take(msgs.length);
    let lastError: unknown;
    let skip: string | undefined;
    let mq = first;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (mq === undefined || attempt > 0) {
        const queues = await this.queues(topic);
        mq = this.pick(queues, skip, shardingKey);
      }
      const started = this.client.io.clock.now();
      try {
        const results = await this.sendTo(mq, msgs, body, keys);
        this.faults = updateFaultItem(this.faults, mq.brokerName, this.client.io.clock.now() - started, false, this.client.io.clock.now());
        return results;
      } catch (err) {
        lastError = err;
        if (err instanceof StatusError && FINAL.has(err.status)) throw err;
        this.faults = updateFaultItem(this.faults, mq.brokerName, this.client.io.clock.now() - started, true, this.client.io.clock.now());
        this.client.io.logger.debug({ err, broker: mq.brokerName, attempt }, 'send failed; retrying on another broker');
        skip = mq.brokerName;
        // refresh the route in the background: the broker may be gone
        this.client.routes.route(topic, true).catch(() => undefined);
      }
    }
    throw lastError;
  }

  /**
   * One request to one queue: `body` is `msgs` encoded, `keys` their unique keys (message i's is its UNIQ_KEY
   * property if it has one, else key i of the run).
   */
  async sendTo(mq: MessageQueue, msgs: readonly Message[], body: Uint8Array, keys: UniqKeyBatch): Promise<SendResult[]> {
    const count = msgs.length;
    const header: SendHeader = {
      producerGroup: this.opts.group,
      topic: mq.topic,
      queueId: mq.queueId,
      bornHost: this.client.clientId,
      bornTimestamp: this.client.io.clock.now(),
      uniqPrefix: keys.prefix,
      uniqFirst: keys.first,
    };
    const code = count === 1 ? RequestCode.SEND_MESSAGE : RequestCode.SEND_BATCH_MESSAGE;
    const addr = this.client.brokerAddressOf(mq.brokerName);
    const reply = await this.client.io.request(addr, request(code, { ...header }, body), this.opts.sendTimeoutMs);
    let status: SendStatus = SendStatus.SEND_OK;
    if (reply.status !== Status.OK) {
      const warn = STORED_WITH_WARNING.get(reply.status);
      if (warn === undefined || reply.body.length === 0) {
        const msg = typeof reply.header.error === 'string' ? reply.header.error : 'no message';
        throw new StatusError(reply.status, `send to ${mq.topic}/${mq.brokerName}/${mq.queueId} at ${addr}: ${msg}`);
      }
      status = warn;
    }
    let out: SendResult[];
    const epoch = reply.header.epoch;
    // the keys are the run's; a key in the reply (from a broker that made its own) is the one stored
    let line: HexLine | undefined; // made at the first key the reply does not carry
    let i = 0;
    try {
      out = decodeSendReply(reply.body, (msgId, queueOffset, _commitLogOffset, replied): SendResult => {
        const uniqKey = i < count ? (replied ?? msgs[i]!.properties?.[MessageProperty.UNIQ_KEY] ?? (line ??= keys.line()).at(i)) : replied;
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
