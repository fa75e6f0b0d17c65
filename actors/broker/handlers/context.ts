import type { Logger } from 'pino';
import type { Frame } from '../../../transports/frame.js';
import type { Clock } from '../../../core/clock.js';
import type { RandomSource } from '../../../core/random.js';
import type { ClientRegistry } from '../client-registry.js';
import type { ConsumerOffsets } from '../consumer-offsets.js';
import type { LongPolling } from '../long-polling.js';
import type { StorePort } from '../store-port.js';
import type { TopicTable } from '../topic-config.js';
import type { TimerTxServices } from '../timer-tx-runtime.js';
import type { AclVerdict } from '../../protocol/acl/authorize.js';
import type { BrokerHa } from '../ha/ha-runtime.js';
import type { BrokerMetrics } from '../broker-metrics.js';

/** Limits and settings the handlers apply. */
export interface HandlerLimits {
  /** Largest message body (default 4 MiB). */
  maxBodyBytes: number;
  /** Largest sum of bodies in one send batch (default 4 MiB). */
  maxBatchBytes: number;
  /** Most messages one pull returns (default 1024). */
  maxPullMsgs: number;
  /** Most bytes one pull returns (default 4 MiB). */
  maxPullBytes: number;
  /** Longest a pull is held (default 30000 ms). */
  maxSuspendMs: number;
  /** Delay of each level in ms, level 1 first. */
  delayLevels: readonly number[];
  /** Most messages one QUERY_MESSAGE returns (default 64). */
  maxQueryNum: number;
  /** Farthest ahead a message's deliverAt may lie (default 7 days). */
  timerHorizonMs?: number;
  /** How long an orderly consumer's queue lock lasts without renewal (default 60000 ms). */
  queueLockLeaseMs?: number;
  /** How far behind the commit log's writes a pull may read before a master suggests a slave (default 256 MiB). */
  slaveReadLagBytes?: number;
}

/** Everything a request handler reaches: the broker's state and its door to the world. */
export interface BrokerContext {
  readonly brokerName: string;
  readonly brokerId: number;
  readonly cluster: string;
  /** The broker's own address (its store host in message ids). */
  readonly address: string;
  readonly store: StorePort;
  readonly topics: TopicTable;
  readonly offsets: ConsumerOffsets;
  readonly clients: ClientRegistry;
  readonly polling: LongPolling;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: Logger;
  readonly limits: HandlerLimits;
  /** Counters for metrics (messages and bytes per topic, requests, latencies): one update per request or batch. */
  readonly metrics: BrokerMetrics;
  /** The largest frame the transport carries now: a pull reply stays below it. */
  maxPayload(): number;
  /** Sends a one-way frame (notices to clients). */
  send(to: string, frame: Frame): void;
  /** Persists the topic table and tells the name servers (called after every change). */
  topicsChanged(): Promise<void>;
  /** Timer scheduler and transaction service (set once they run). */
  timerTx?: TimerTxServices;
  /** Replication: the broker's role (master of its group, or slave) and its parts. */
  ha?: BrokerHa;
  /** The ACL (with `aclFile`): whether a request may be served; checked before its handler. */
  readonly acl?: { check(frame: Frame): AclVerdict };
}

/** A request's reply callback (absent for one-way frames). */
export type Reply = ((frame: Frame) => void) | undefined;

/**
 * A handler answers a request: it returns the reply frame, or undefined when it answers later through
 * `reply` itself (a held pull). Errors it throws become error replies (see dispatch.ts).
 */
export type Handler = (ctx: BrokerContext, frame: Frame, reply: Reply) => Promise<Frame | undefined>;
