/**
 * Routes as they travel between the roles: a broker registers its topic configuration with the name
 * servers, producers and consumers ask them for a topic's route. Permissions, the master's broker id, the
 * route and cluster documents, and which queues of a route a producer may write or a consumer may read.
 * The name server's table built from registrations is actors/namesrv/route-table.ts.
 */
import type { MessageQueue } from '../../core/message.js';

export const PERM_INHERIT = 1;
export const PERM_WRITE = 2;
export const PERM_READ = 4;
export const PERM_READ_WRITE = PERM_READ | PERM_WRITE;

export const MASTER_ID = 0;

export function isReadable(perm: number): boolean {
  return (perm & PERM_READ) !== 0;
}

export function isWritable(perm: number): boolean {
  return (perm & PERM_WRITE) !== 0;
}

/** A broker's view of one topic, as it registers it. */
export interface TopicConfig {
  topicName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicSysFlag: number;
}

/** One broker group's queues of one topic. */
export interface QueueData {
  brokerName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicSysFlag: number;
}

/** A broker group: its cluster, name and the address of each broker id (0 is the master). */
export interface BrokerData {
  cluster: string;
  brokerName: string;
  addrs: Readonly<Record<number, string>>;
}

/** Changes whenever a broker's topic configuration changes; registration with an unchanged one is a refresh. */
export interface DataVersion {
  timestamp: number;
  counter: number;
}

export interface TopicRoute {
  queueDatas: QueueData[];
  brokerDatas: BrokerData[];
}

export interface ClusterInfo {
  brokerAddrTable: Record<string, BrokerData>;
  clusterAddrTable: Record<string, string[]>;
}

/** What a broker registers with a name server (REGISTER_BROKER's header and body). */
export interface BrokerRegistration {
  cluster: string;
  brokerName: string;
  brokerId: number;
  address: string;
  haServerAddr?: string;
  /** Under an HA controller: the master epoch the broker serves in (see RegisterBrokerHeader). */
  epoch?: number;
  dataVersion: DataVersion;
  /** The broker's complete topic configuration (used from the master only). */
  topics: readonly TopicConfig[];
}

/** One broker address as the broker it was registered as (UNREGISTER_BROKER). */
export interface BrokerIdentity {
  brokerName: string;
  brokerId: number;
  address: string;
}

const byBrokerName = (a: QueueData, b: QueueData): number => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0);

/** Queues a producer may write: writable queue data of broker groups that have a master, by broker name. */
export function writableQueues(route: TopicRoute, topic: string): MessageQueue[] {
  const masters = new Set(route.brokerDatas.filter((b) => b.addrs[MASTER_ID] !== undefined).map((b) => b.brokerName));
  const out: MessageQueue[] = [];
  for (const qd of [...route.queueDatas].sort(byBrokerName)) {
    if (!isWritable(qd.perm) || !masters.has(qd.brokerName)) continue;
    for (let q = 0; q < qd.writeQueueNums; q++) out.push({ topic, brokerName: qd.brokerName, queueId: q });
  }
  return out;
}

/** Queues a consumer may read: readable queue data of broker groups with any address, by broker name. */
export function readableQueues(route: TopicRoute, topic: string): MessageQueue[] {
  const present = new Set(route.brokerDatas.filter((b) => Object.keys(b.addrs).length > 0).map((b) => b.brokerName));
  const out: MessageQueue[] = [];
  for (const qd of [...route.queueDatas].sort(byBrokerName)) {
    if (!isReadable(qd.perm) || !present.has(qd.brokerName)) continue;
    for (let q = 0; q < qd.readQueueNums; q++) out.push({ topic, brokerName: qd.brokerName, queueId: q });
  }
  return out;
}
