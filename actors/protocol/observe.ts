/**
 * What the observation stream carries besides XState's inspection: each role's figures, sampled about once a
 * second while someone observes (a serving broker's requests never pass through its machine, so they show here
 * as counters by request code), and the wire envelope that carries a batch of records over a transport.
 */
import type { BrokerStatus, HaStatus } from './commands.js';

/** A broker's figures: store positions, replication, requests by code, topics and consumer groups. */
export interface BrokerStats {
  role: 'broker';
  brokerName: string;
  brokerId: number;
  cluster: string;
  /** Commit log write, flush, min and dispatched offsets, and whether the store takes writes. */
  store: BrokerStatus['store']['positions'] & { health: BrokerStatus['store']['health']['state'] };
  /** Replication role and progress, when the broker is part of a group with slaves or a controller. */
  ha?: Pick<HaStatus, 'role' | 'mode' | 'epoch' | 'master' | 'confirmOffset' | 'inSync' | 'slaves'>;
  /** Requests served since start, by request code name (SEND_MESSAGE, PULL_MESSAGE, ...). */
  requests: Record<string, number>;
  /** Pulls held (long polling) right now. */
  heldPulls: number;
  /** Each topic's queues: their min and max consume queue offsets. */
  topics: { topic: string; queues: { queueId: number; minOffset: number; maxOffset: number }[] }[];
  /** Each consumer group: its committed offset per queue and the client ids the broker knows in it. */
  groups: { group: string; clients: string[]; offsets: { topic: string; queueId: number; offset: number }[] }[];
}

/** A consumer's figures: the queues it holds now and what it consumed. */
export interface ConsumerStats {
  role: 'consumer';
  group: string;
  clientId: string;
  /** Queues assigned to it by rebalance, with the next offset it pulls and messages cached, not yet consumed. */
  queues: { topic: string; brokerName: string; queueId: number; nextOffset: number; cached: number }[];
  /** Messages handed to the listener since start. */
  consumed: number;
}

/** A producer's figures. */
export interface ProducerStats {
  role: 'producer';
  group: string;
  clientId: string;
  /** Messages acknowledged (SEND_OK or stored with a flush or slave timeout) and sends that failed, since start. */
  sent: number;
  failed: number;
}

export interface NameServerStats {
  role: 'namesrv';
  /** Brokers registered and topics routed now. */
  brokers: number;
  topics: number;
}

export interface ControllerStats {
  role: 'controller';
  /** Each broker group it decides for: the master's broker id (-1: none), the epoch and the in-sync set. */
  groups: { brokerName: string; masterId: number; epoch: number; inSync: number[] }[];
}

export type RoleStats = BrokerStats | ConsumerStats | ProducerStats | NameServerStats | ControllerStats;

/** The subject observers listen on; every publisher sends its batches there. */
export const OBSERVE_SUBJECT = '_observe.records';
/** Where a publisher sends the snapshot one observer asked for (its hello): only that observer hears it. */
export const observeSnapshotSubject = (observer: string): string => `_observe.snapshot.${observer}`;
/**
 * The subject observers say hello on, when they start and then every few seconds: every publisher answers the
 * first hello of an observer with a snapshot, and publishes its records while any observer keeps saying hello.
 */
export const OBSERVE_HELLO_SUBJECT = '_observe.hello';

/** OBSERVE_HELLO body (JSON). */
export interface ObserveHello {
  /** The observer's id (letters, digits, '-' and '_'): its snapshot subject's last token. */
  observer: string;
  /** Whether it wants a snapshot (its first hello). */
  snapshot: boolean;
  /** The observer leaves: a publisher no other observer greeted lately stops publishing at once. */
  bye?: boolean;
}

/** OBSERVE_RECORDS body (JSON): records of one publisher, in order. `records` are InspectionRecords. */
export interface ObserveBatch {
  source: string;
  /** Records the publisher dropped since it started (its buffer was full). */
  dropped: number;
  records: unknown[];
}
