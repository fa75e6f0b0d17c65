import { Status, StatusError } from '../../core/status.js';
import type { Credentials } from '../protocol/acl/signing.js';
import type { MessageExt } from '../../core/message.js';
import { validateGroup, validateTopic } from '../protocol/validation.js';
import { DEFAULT_MAX_RECONSUME_TIMES } from '../protocol/retry-delay.js';
import { parseTagExpression } from '../protocol/tag-expression.js';
import { allocateAveragely, allocateAveragelyByCircle, allocateConsistentHash, type AllocateStrategy } from './rebalance.js';

/** The consumer's options, their defaults, and their validation (pure). */

export type ConsumeResult = 'SUCCESS' | 'RETRY';
export type ConsumeFrom = 'first' | 'last' | { timestamp: number };

export interface ConsumerOptions {
  /** Consumer group name. */
  group: string;
  /** Access and secret key: every request is signed with them (for brokers and name servers with an ACL). */
  credentials?: Credentials;
  /** Name server ids (each reached at `namesrv.<id>`). */
  namesrv: string[];
  /** topic -> tag expression (`*`, `TagA || TagB`). */
  subscribe: Record<string, string>;
  /** Client id (the consumer listens at `client.<clientId>`); default `consumer-<random hex>`. */
  clientId?: string;
  /**
   * CLUSTERING (default): the group shares the queues, offsets are committed to the brokers, failed messages
   * go back to the broker for a later retry (the group's retry topic `%RETRY%group` is subscribed
   * automatically). BROADCASTING: every member reads every queue; offsets are kept in this consumer's memory
   * only (a restarted consumer starts again from `consumeFrom`), and failed messages are dropped after a log
   * line (as RocketMQ does).
   */
  model?: 'CLUSTERING' | 'BROADCASTING';
  /** Queue allocation among the group's members. Default 'average'. */
  allocate?: 'average' | 'circle' | 'consistent-hash';
  /** Rebalance interval (a rebalance also runs when the group's members change). Default 20000 ms. */
  rebalanceIntervalMs?: number;
  /** Largest number of messages one pull asks for. Default 32. */
  pullBatch?: number;
  /** How long the broker holds a pull that finds nothing (long polling). Default 15000 ms. */
  pullTimeoutMs?: number;
  /** Pause after a failed pull. Default 1000 ms. */
  pullBackoffMs?: number;
  /** Pulling of a queue pauses while this many of its messages wait to be processed. Default 1000. */
  maxCachedMessagesPerQueue?: number;
  /** Pulling of a queue pauses while this many body bytes of it wait to be processed. Default 100 MiB. */
  maxCachedBytesPerQueue?: number;
  /** Offset commit interval (offsets are also committed when a queue is released and at stop). Default 5000 ms. */
  commitIntervalMs?: number;
  /** Where a group without a committed offset starts. Default 'last' (retry topics always start at the first). */
  consumeFrom?: ConsumeFrom;
  /** Failures after which a message goes to the dead-letter topic. Default 16. */
  maxReconsumeTimes?: number;
  /** Messages per listener call. Default 1 (a RETRY then retries only that message). */
  consumeBatchSize?: number;
  /** Messages the async iterator buffers before back pressure stops taking pulled batches. Default 256. */
  bufferSize?: number;
  /** Delay before a message whose send-back failed is given to the listener again. Default 5000 ms. */
  localRetryDelayMs?: number;
  /** Route refresh interval. Default 30000 ms. */
  routeRefreshMs?: number;
  /** Heartbeat interval. Default 30000 ms. */
  heartbeatIntervalMs?: number;
  /** Timeout of control requests (offsets, member lists, send-back). Default 3000 ms. */
  requestTimeoutMs?: number;
  /**
   * How long reads (pulls, offset queries and commits, member lists) of a broker group go to its slave after the
   * master did not answer one, before the master is tried again. Default 10000 ms.
   */
  masterDownMs?: number;
  /**
   * Called with each batch (of `consumeBatchSize`); SUCCESS marks it processed, RETRY (or a throw) sends it
   * back for a later retry. Without a listener, messages are read with `for await` or `messages$`.
   */
  listener?: (msgs: MessageExt[]) => Promise<ConsumeResult> | ConsumeResult;
  /**
   * Orderly consumption (clustering, with a listener): each queue is locked at its broker before it is pulled
   * (a lease the consumer renews every `lockRenewMs`; when the consumer dies the lease runs out and another
   * member may lock the queue), and processed strictly one batch at a time. A failed batch (RETRY or a throw)
   * is not sent back: the queue is suspended for `suspendMs` and the same messages are given to the listener
   * again (their `reconsumeTimes` counting the local retries), up to `maxReconsumeTimes` retries, after which
   * they go to the dead-letter topic and the queue moves on. A queue taken away by a rebalance is unlocked only
   * after its batch in flight finished and its offset was committed. Default false.
   */
  orderly?: boolean;
  /** Orderly: lock renewal interval; a lock counts for 1.5 times this, or the broker's lease if shorter. Default 20000 ms. */
  lockRenewMs?: number;
  /** Orderly: how long a queue waits after a failed batch before the batch is retried. Default 1000 ms. */
  suspendMs?: number;
}

const MiB = 1024 * 1024;
/** The allocation strategy of each `allocate` option. */
export const allocateStrategies: Record<NonNullable<ConsumerOptions['allocate']>, AllocateStrategy> = {
  average: allocateAveragely,
  circle: allocateAveragelyByCircle,
  'consistent-hash': allocateConsistentHash,
};

/** The options with every default filled in. */
export type ResolvedConsumerOptions = Required<Omit<ConsumerOptions, 'listener' | 'clientId' | 'credentials'>> & Pick<ConsumerOptions, 'listener'>;

/** Validates the options (StatusError(INVALID_ARGUMENT) naming the bad one) and fills in the defaults. */
export function resolveConsumerOptions(opts: ConsumerOptions): ResolvedConsumerOptions {
  validateGroup(opts.group);
  if (!opts.subscribe || Object.keys(opts.subscribe).length === 0)
    throw new StatusError(Status.INVALID_ARGUMENT, 'a consumer must subscribe to at least one topic (option "subscribe")');
  for (const [topic, expr] of Object.entries(opts.subscribe)) {
    validateTopic(topic, { allowSystem: true });
    parseTagExpression(expr);
  }
  const model = opts.model ?? 'CLUSTERING';
  if (model !== 'CLUSTERING' && model !== 'BROADCASTING') throw new StatusError(Status.INVALID_ARGUMENT, `unknown message model "${String(model)}"`);
  const allocate = opts.allocate ?? 'average';
  if (!(allocate in allocateStrategies)) throw new StatusError(Status.INVALID_ARGUMENT, `unknown allocation strategy "${String(allocate)}"`);
  const consumeFrom = opts.consumeFrom ?? 'last';
  if (consumeFrom !== 'first' && consumeFrom !== 'last' && !(typeof consumeFrom === 'object' && Number.isSafeInteger(consumeFrom.timestamp)))
    throw new StatusError(Status.INVALID_ARGUMENT, `consumeFrom must be 'first', 'last' or { timestamp }, got ${JSON.stringify(consumeFrom)}`);
  const pos = (v: number | undefined, d: number, name: string): number => {
    if (v === undefined) return d;
    if (!Number.isFinite(v) || v <= 0) throw new StatusError(Status.INVALID_ARGUMENT, `consumer option ${name} must be a positive number, got ${v}`);
    return v;
  };
  const orderly = opts.orderly ?? false;
  if (orderly && model !== 'CLUSTERING') throw new StatusError(Status.INVALID_ARGUMENT, 'an orderly consumer must use the CLUSTERING model');
  if (orderly && !opts.listener) throw new StatusError(Status.INVALID_ARGUMENT, 'an orderly consumer needs a listener');
  return {
    group: opts.group,
    namesrv: opts.namesrv,
    orderly,
    lockRenewMs: pos(opts.lockRenewMs, 20000, 'lockRenewMs'),
    suspendMs: pos(opts.suspendMs, 1000, 'suspendMs'),
    subscribe: opts.subscribe,
    model,
    allocate,
    consumeFrom,
    listener: opts.listener,
    rebalanceIntervalMs: pos(opts.rebalanceIntervalMs, 20000, 'rebalanceIntervalMs'),
    pullBatch: pos(opts.pullBatch, 32, 'pullBatch'),
    pullTimeoutMs: pos(opts.pullTimeoutMs, 15000, 'pullTimeoutMs'),
    pullBackoffMs: pos(opts.pullBackoffMs, 1000, 'pullBackoffMs'),
    maxCachedMessagesPerQueue: pos(opts.maxCachedMessagesPerQueue, 1000, 'maxCachedMessagesPerQueue'),
    maxCachedBytesPerQueue: pos(opts.maxCachedBytesPerQueue, 100 * MiB, 'maxCachedBytesPerQueue'),
    commitIntervalMs: pos(opts.commitIntervalMs, 5000, 'commitIntervalMs'),
    maxReconsumeTimes: opts.maxReconsumeTimes ?? DEFAULT_MAX_RECONSUME_TIMES,
    consumeBatchSize: pos(opts.consumeBatchSize, 1, 'consumeBatchSize'),
    bufferSize: pos(opts.bufferSize, 256, 'bufferSize'),
    localRetryDelayMs: pos(opts.localRetryDelayMs, 5000, 'localRetryDelayMs'),
    routeRefreshMs: pos(opts.routeRefreshMs, 30000, 'routeRefreshMs'),
    heartbeatIntervalMs: pos(opts.heartbeatIntervalMs, 30000, 'heartbeatIntervalMs'),
    requestTimeoutMs: pos(opts.requestTimeoutMs, 3000, 'requestTimeoutMs'),
    masterDownMs: pos(opts.masterDownMs, 10000, 'masterDownMs'),
  };
}
