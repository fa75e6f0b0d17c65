import type { Observable } from 'rxjs';
import type { Frame } from '../../transports/frame.js';
import type { ActorSystem } from '../runtime/system.js';
import { replyError } from '../runtime/actor-host.js';
import { clientAddress } from '../protocol/commands.js';
import type { ConsumerStats } from '../protocol/observe.js';
import { queueKey, type MessageExt, type MessageQueue } from '../../core/message.js';
import { RequestCode } from '../protocol/request-codes.js';
import { Status, StatusError } from '../../core/status.js';
import { ClientInstance, newClientId } from '../client/client-instance.js';
import type { ClientLifecycle } from '../client/lifecycle.js';
import { hostClient } from '../client/hosting.js';
import { DeliveryBuffer } from './delivery.js';
import type { ProcessQueue } from './process-queue.js';
import { OrderlyConsumer } from './orderly.js';
import { OffsetStore } from './offset-store.js';
import { PullLoop } from './pull-loop.js';
import { ConcurrentConsumer } from './concurrent-consume.js';
import { RebalanceService, type Held } from './rebalance-service.js';
import { allocateStrategies, resolveConsumerOptions, type ConsumerOptions, type ResolvedConsumerOptions } from './consumer-options.js';
import { retryTopic } from '../protocol/retry-delay.js';
import { parseTagExpression, type TagFilter } from '../protocol/tag-expression.js';

export type { ConsumeFrom, ConsumeResult, ConsumerOptions } from './consumer-options.js';

/**
 * The push consumer (RocketMQ's DefaultMQPushConsumer), hosted as a client machine (client/hosting.ts) whose
 * hooks run the plain code here. Its parts: the options (consumer-options.ts); the rebalance that decides which
 * queues it holds (rebalance-service.ts, with the allocation strategies in rebalance.ts); one pull loop per held
 * queue (pull-loop.ts); the processing of pulled batches, concurrent with retry (concurrent-consume.ts) or
 * orderly (orderly.ts); and the offsets (offset-store.ts). Messages never pass through the machine.
 */

export interface Consumer extends AsyncIterable<MessageExt> {
  readonly clientId: string;
  readonly group: string;
  /**
   * Each message once per delivery. With a listener it is a tap of what the listener gets; without one, it
   * hands messages out (and so marks them processed) whenever no async iterator is active.
   */
  readonly messages$: Observable<MessageExt>;
  /** Iterates messages from a bounded buffer (back pressure); a message is processed once handed out. */
  [Symbol.asyncIterator](): AsyncIterator<MessageExt>;
  /** The queues this consumer holds now. */
  assignment(): MessageQueue[];
  /** The offset this consumer would commit for a queue it holds (or kept locally), if any. */
  offsetOf(mq: MessageQueue): number | undefined;
  /** Runs a rebalance now. */
  rebalance(): Promise<void>;
  /** Commits offsets now. */
  commit(): Promise<void>;
  /** Stops: in-flight processing finishes, offsets are committed, the consumer unregisters. */
  stop(): Promise<void>;
}

/** Hosts a consumer in `system` and starts it (resolves after the first rebalance). */
export async function startConsumer(system: ActorSystem, opts: ConsumerOptions): Promise<Consumer> {
  const o = resolveConsumerOptions(opts);
  const clientId = opts.clientId ?? newClientId('consumer', system.env.random);
  // two members with one client id would compute the same share and read the same queues
  if (system.addresses().includes(clientAddress(clientId)))
    throw new StatusError(Status.INVALID_ARGUMENT, `client id "${clientId}" is already used by another client in this system; give each consumer its own clientId`);
  let built: ConsumerImpl | undefined;
  const hosted = await hostClient(system, {
    role: 'consumer',
    clientId,
    ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}),
    intervals: {
      routes: o.routeRefreshMs,
      heartbeat: o.heartbeatIntervalMs,
      rebalance: o.rebalanceIntervalMs,
      commit: o.commitIntervalMs,
      lock: o.orderly ? o.lockRenewMs : 0, // orderly consumers renew their queue locks
    },
    build: (io) => (built = new ConsumerImpl(new ClientInstance(io, { clientId, namesrv: o.namesrv, requestTimeoutMs: o.requestTimeoutMs, masterDownMs: o.masterDownMs }), o)),
    onFailedStart: (impl) => impl.delivery.close(),
  }).catch((err: unknown) => {
    // a client id taken in another process fails the start with the broker's refusal itself
    throw built?.refused ?? err;
  });
  const impl = hosted.core;
  system.provideStats(clientAddress(clientId), () => impl.stats());
  return {
    clientId,
    group: o.group,
    messages$: impl.delivery.messages$,
    [Symbol.asyncIterator]: () => {
      if (o.listener) throw new StatusError(Status.INVALID_ARGUMENT, 'a consumer with a listener cannot be iterated; use messages$ to observe');
      return impl.delivery.iterator();
    },
    assignment: () => impl.assignment(),
    offsetOf: (mq) => impl.offsetOf(mq),
    rebalance: () => impl.rebalance(),
    commit: () => impl.commit(),
    stop: () => hosted.stop(),
  };
}

class ConsumerImpl implements ClientLifecycle {
  readonly delivery: DeliveryBuffer;
  private readonly filters = new Map<string, TagFilter>();
  private readonly held = new Map<string, Held>();
  private readonly offsets: OffsetStore;
  private state: 'starting' | 'running' | 'stopping' = 'starting';
  /** Queue locks and serial processing, for an orderly consumer. */
  private readonly orderly: OrderlyConsumer | undefined;
  private readonly puller: PullLoop;
  private readonly concurrent: ConcurrentConsumer;
  private readonly rebalancer: RebalanceService;

  constructor(
    readonly client: ClientInstance,
    private readonly o: ResolvedConsumerOptions,
  ) {
    this.delivery = new DeliveryBuffer(o.bufferSize);
    this.offsets = new OffsetStore(client, { group: o.group, model: o.model, consumeFrom: o.consumeFrom }, this.held);
    for (const [topic, expr] of Object.entries(o.subscribe)) this.filters.set(topic, parseTagExpression(expr));
    if (o.model === 'CLUSTERING' && !this.filters.has(retryTopic(o.group))) this.filters.set(retryTopic(o.group), parseTagExpression('*'));
    const subscriptions: Record<string, string> = {};
    for (const [t, f] of this.filters) subscriptions[t] = f.expression;
    client.consumers.set(o.group, { group: o.group, messageModel: o.model, subscriptions });
    for (const t of this.filters.keys()) client.routes.track(t);
    if (o.orderly && o.listener) {
      this.orderly = new OrderlyConsumer(
        {
          client,
          isActive: (pq) => this.active(pq),
          ack: (pq, msgs) => this.ack(pq, msgs),
          tap: (msgs) => this.delivery.tap(msgs),
          heldQueues: () => this.assignment(),
        },
        { group: o.group, listener: o.listener, consumeBatchSize: o.consumeBatchSize, maxReconsumeTimes: o.maxReconsumeTimes, lockRenewMs: o.lockRenewMs, suspendMs: o.suspendMs },
      );
    }
    this.puller = new PullLoop(
      {
        client,
        filters: this.filters,
        orderly: this.orderly,
        isActive: (pq) => this.active(pq),
        dispatch: (pq, msgs) => this.dispatch(pq, msgs),
        noteOffset: (pq) => this.offsets.note(pq),
      },
      o,
    );
    this.concurrent = new ConcurrentConsumer(
      {
        client,
        delivery: this.delivery,
        isActive: (pq) => this.active(pq),
        ack: (pq, msgs) => this.ack(pq, msgs),
        dispatch: (pq, msgs) => this.dispatch(pq, msgs),
      },
      o,
    );
    this.rebalancer = new RebalanceService(
      {
        client,
        held: this.held,
        offsets: this.offsets,
        orderly: this.orderly,
        isRunning: () => this.state === 'running',
        startPulling: (pq) => void this.puller.run(pq),
      },
      { group: o.group, model: o.model, strategy: allocateStrategies[o.allocate], topics: [...this.filters.keys()] },
    );
  }

  private get io() {
    return this.client.io;
  }

  /** The broker's refusal of this consumer's client id (another live member of the group has it), if any. */
  refused: StatusError | undefined;

  async start(): Promise<void> {
    await this.client.routes.refreshAll();
    const { conflicts } = await this.client.heartbeatAll();
    if (conflicts.length > 0) {
      // brokers that took the heartbeat forget this client again (the holder of the id stays: it has another instance)
      await this.client.unregister({ consumerGroup: this.o.group });
      this.refused = new StatusError(Status.CLIENT_ID_CONFLICT, `consumer ${this.client.clientId} of group ${this.o.group} failed to start: ${conflicts[0]!.message}`);
      throw this.refused;
    }
    this.state = 'running';
    await this.rebalance();
  }

  tick(task: string): void {
    if (this.state !== 'running') return;
    if (task === 'routes') void this.client.routes.refreshAll();
    else if (task === 'heartbeat') void this.client.heartbeat();
    else if (task === 'rebalance') void this.rebalance();
    else if (task === 'commit') void this.commit();
    else if (task === 'lock') void this.orderly?.renew();
  }

  onFrame(frame: Frame, reply?: (f: Frame) => void): void {
    if (frame.code === RequestCode.NOTIFY_CONSUMER_IDS_CHANGED) {
      if (frame.header.consumerGroup === this.o.group && this.state === 'running') void this.rebalance();
      return;
    }
    if (reply) replyError({ frame, reply }, Status.REQUEST_CODE_NOT_SUPPORTED, `consumer ${this.client.clientId} does not handle code ${frame.code}`);
  }

  /** Messages consumed (acknowledged by the listener or the iterator's reader) since start. */
  private consumed = 0;

  stats(): ConsumerStats {
    const queues = [...this.held.values()].map(({ pq }) => ({ topic: pq.mq.topic, brokerName: pq.mq.brokerName, queueId: pq.mq.queueId, nextOffset: pq.nextOffset, cached: pq.count }));
    return { role: 'consumer', group: this.o.group, clientId: this.client.clientId, queues, consumed: this.consumed };
  }

  assignment(): MessageQueue[] {
    return [...this.held.values()].map((h) => h.pq.mq);
  }

  offsetOf(mq: MessageQueue): number | undefined {
    return this.offsets.offsetOf(mq);
  }

  /** Rebalances every subscribed topic; concurrent calls share one run (and ask for one more after it). */
  rebalance(): Promise<void> {
    return this.rebalancer.run();
  }

  private active(pq: ProcessQueue): boolean {
    return !pq.dropped && this.state === 'running';
  }

  /** Queues a pulled batch for processing after the queue's earlier batches. */
  private dispatch(pq: ProcessQueue, msgs: MessageExt[]): void {
    const h = this.held.get(pq.key);
    if (!h || h.pq !== pq) return;
    if (this.orderly) {
      h.chain = this.orderly.submit(pq, msgs);
      return;
    }
    h.chain = h.chain
      .then(() => this.concurrent.consume(pq, msgs))
      .catch((err: unknown) => this.io.logger.error({ err, queue: queueKey(pq.mq) }, 'consuming a batch failed'));
  }

  private ack(pq: ProcessQueue, msgs: readonly MessageExt[]): void {
    pq.remove(msgs);
    this.consumed += msgs.length;
    this.offsets.note(pq);
  }

  /** Commits every offset that changed since the last commit, one request per broker (clustering only). */
  commit(): Promise<void> {
    return this.offsets.commit();
  }

  /** Stops: in-flight batches finish, offsets are committed, orderly locks released, the consumer unregisters. */
  async drain(): Promise<void> {
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    this.concurrent.cancelRetries();
    // unblock deliveries waiting for buffer room (buffered messages stay unprocessed)
    this.delivery.close();
    for (const h of this.held.values()) this.orderly?.interrupt(h.pq);
    await Promise.all([...this.held.values()].map((h) => h.chain));
    await this.rebalancer.inFlight?.catch(() => undefined);
    if (wasRunning && this.o.model === 'CLUSTERING') await this.commit(); // notes every held queue's offset first
    for (const h of this.held.values()) h.pq.drop();
    // orderly: the locks go only now, after the last batches finished and their offsets were committed
    if (this.orderly) await this.orderly.unlock(this.assignment());
    this.held.clear();
    await this.client.unregister({ consumerGroup: this.o.group });
  }
}
