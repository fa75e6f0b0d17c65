/**
 * The name server's route table as an immutable value and pure functions over it. Every change returns a new
 * table (maps are copied on write, untouched parts are shared), so a machine can keep the table in its
 * context and a test can compare tables. Semantics follow RocketMQ's RouteInfoManager. What brokers register
 * and what the table answers with (routes, cluster info, permissions) are the wire types of
 * actors/protocol/route.ts.
 */
import { MASTER_ID, type BrokerData, type BrokerIdentity, type BrokerRegistration, type ClusterInfo, type DataVersion, type QueueData, type TopicRoute } from '../protocol/route.js';

/** Liveness of one broker address (its cluster is its group's, in `brokers`). */
export interface LiveBroker {
  brokerName: string;
  brokerId: number;
  lastUpdate: number;
  dataVersion: DataVersion;
  haServerAddr?: string;
  /** The master epoch it registered with (under an HA controller). */
  epoch?: number;
}

export interface RouteTable {
  /** topic -> brokerName -> queue data */
  readonly topics: ReadonlyMap<string, ReadonlyMap<string, QueueData>>;
  /** brokerName -> broker data (always at least one address) */
  readonly brokers: ReadonlyMap<string, BrokerData>;
  /** cluster -> broker names (never empty) */
  readonly clusters: ReadonlyMap<string, ReadonlySet<string>>;
  /** broker address -> liveness */
  readonly live: ReadonlyMap<string, LiveBroker>;
}

export interface RegisterResult {
  table: RouteTable;
  /** Whether routes changed (a new broker or address, or a different topic configuration). */
  changed: boolean;
  /** For a slave: its master's address and HA address, when known. */
  masterAddr?: string;
  haServerAddr?: string;
  /** Set when the registration was refused (the table unchanged): why. */
  refused?: string;
}

export const EMPTY_ROUTE_TABLE: RouteTable = Object.freeze({
  topics: new Map(),
  brokers: new Map(),
  clusters: new Map(),
  live: new Map(),
});

export function emptyRouteTable(): RouteTable {
  return EMPTY_ROUTE_TABLE;
}

function sameVersion(a: DataVersion, b: DataVersion): boolean {
  return a.timestamp === b.timestamp && a.counter === b.counter;
}

function sameQueueData(a: QueueData | undefined, b: QueueData): boolean {
  return (
    a !== undefined &&
    a.brokerName === b.brokerName &&
    a.readQueueNums === b.readQueueNums &&
    a.writeQueueNums === b.writeQueueNums &&
    a.perm === b.perm &&
    a.topicSysFlag === b.topicSysFlag
  );
}

/** A change to the table: the new table (the same object when nothing changed) and whether anything did. */
export interface TableChange {
  table: RouteTable;
  changed: boolean;
}

/** `clusters` without `brokerName` in `cluster` (a cluster left with no broker names goes). */
function leaveCluster(clusters: RouteTable['clusters'], cluster: string, brokerName: string): RouteTable['clusters'] {
  const names = clusters.get(cluster);
  if (!names?.has(brokerName)) return clusters;
  const c = new Map(clusters);
  const s = new Set(names);
  s.delete(brokerName);
  if (s.size > 0) c.set(cluster, s);
  else c.delete(cluster);
  return c;
}

/** `topics` without the queues of `brokerName`, except in the topics `keep` holds (a topic left with none goes). */
function removeBrokerQueues(topics: RouteTable['topics'], brokerName: string, keep?: ReadonlyMap<string, unknown>): RouteTable['topics'] {
  let out: Map<string, ReadonlyMap<string, QueueData>> | undefined;
  for (const [topic, qds] of topics) {
    if (!qds.has(brokerName) || keep?.has(topic)) continue;
    out ??= new Map(topics);
    const m = new Map(qds);
    m.delete(brokerName);
    if (m.size > 0) out.set(topic, m);
    else out.delete(topic);
  }
  return out ?? topics;
}

/** Removes one address (as broker `brokerName`/`brokerId`) from brokers, clusters and live. */
function removeAddress(t: RouteTable, id: BrokerIdentity): TableChange {
  let changed = false;
  let live = t.live;
  const l0 = live.get(id.address);
  if (l0 && l0.brokerName === id.brokerName && l0.brokerId === id.brokerId) {
    const l = new Map(live);
    l.delete(id.address);
    live = l;
    changed = true;
  }
  let brokers = t.brokers;
  let clusters = t.clusters;
  let topics = t.topics;
  const bd = brokers.get(id.brokerName);
  if (bd && bd.addrs[id.brokerId] === id.address) {
    changed = true;
    const addrs: Record<number, string> = { ...bd.addrs };
    delete addrs[id.brokerId];
    const b = new Map(brokers);
    if (Object.keys(addrs).length > 0) {
      b.set(id.brokerName, { ...bd, addrs });
    } else {
      // the group is gone: drop it from its cluster and its queues from every topic
      b.delete(id.brokerName);
      clusters = leaveCluster(clusters, bd.cluster, id.brokerName);
      topics = removeBrokerQueues(topics, id.brokerName);
    }
    brokers = b;
  }
  return changed ? { table: { topics, brokers, clusters, live }, changed } : { table: t, changed };
}

// ---------------------------------------------------------------------------------------------- registration steps

/** The address was known as another broker (name or id changed, e.g. a slave promoted): the old one is forgotten. */
function forgetOtherIdentity(t: RouteTable, reg: BrokerRegistration): TableChange {
  const prev = t.live.get(reg.address);
  if (!prev || (prev.brokerName === reg.brokerName && prev.brokerId === reg.brokerId)) return { table: t, changed: false };
  return removeAddress(t, { brokerName: prev.brokerName, brokerId: prev.brokerId, address: reg.address });
}

/**
 * Broker name -> addresses: the address under the registered id, and under no other (an address it displaces
 * is forgotten as live); a group registered in another cluster than before leaves the old one.
 */
function placeAddress(t: RouteTable, reg: BrokerRegistration): TableChange {
  const bd = t.brokers.get(reg.brokerName);
  if (bd && bd.addrs[reg.brokerId] === reg.address && bd.cluster === reg.cluster) return { table: t, changed: false };
  const addrs: Record<number, string> = {};
  for (const [id, addr] of Object.entries(bd?.addrs ?? {})) if (addr !== reg.address) addrs[Number(id)] = addr;
  let live = t.live;
  const displaced = addrs[reg.brokerId];
  if (displaced !== undefined && live.has(displaced)) {
    const l = new Map(live);
    l.delete(displaced);
    live = l;
  }
  addrs[reg.brokerId] = reg.address;
  const brokers = new Map(t.brokers);
  brokers.set(reg.brokerName, { cluster: reg.cluster, brokerName: reg.brokerName, addrs });
  const clusters = bd && bd.cluster !== reg.cluster ? leaveCluster(t.clusters, bd.cluster, reg.brokerName) : t.clusters;
  return { table: { ...t, brokers, clusters, live }, changed: true };
}

/** Cluster -> broker names: the registered cluster holds the broker name. */
function joinCluster(t: RouteTable, reg: BrokerRegistration): TableChange {
  const names = t.clusters.get(reg.cluster);
  if (names?.has(reg.brokerName)) return { table: t, changed: false };
  const clusters = new Map(t.clusters);
  clusters.set(reg.cluster, new Set([...(names ?? []), reg.brokerName]));
  return { table: { ...t, clusters }, changed: true };
}

/** The queue data of each topic a broker registers, by topic name. */
function queueDataOf(reg: BrokerRegistration): Map<string, QueueData> {
  const wanted = new Map<string, QueueData>();
  for (const tc of reg.topics) {
    wanted.set(tc.topicName, {
      brokerName: reg.brokerName,
      readQueueNums: tc.readQueueNums,
      writeQueueNums: tc.writeQueueNums,
      perm: tc.perm,
      topicSysFlag: tc.topicSysFlag,
    });
  }
  return wanted;
}

/** Topics -> queue data: the broker's configuration replaces what the table holds for its broker name. */
function replaceTopicConfig(t: RouteTable, reg: BrokerRegistration): TableChange {
  const wanted = queueDataOf(reg);
  let out: Map<string, ReadonlyMap<string, QueueData>> | undefined;
  for (const [topic, qd] of wanted) {
    const qds = t.topics.get(topic);
    if (sameQueueData(qds?.get(reg.brokerName), qd)) continue;
    out ??= new Map(t.topics);
    const m = new Map(qds ?? []);
    m.set(reg.brokerName, qd);
    out.set(topic, m);
  }
  const topics = removeBrokerQueues(out ?? t.topics, reg.brokerName, wanted);
  return topics === t.topics ? { table: t, changed: false } : { table: { ...t, topics }, changed: true };
}

/**
 * Whether a registration carries a topic configuration to take: from a master only, when its address is
 * registered for the first time (`first`) or its data version differs from the one `prev` registered.
 */
function takesTopicConfig(reg: BrokerRegistration, prev: LiveBroker | undefined, first: boolean): boolean {
  return reg.brokerId === MASTER_ID && (first || !prev || !sameVersion(prev.dataVersion, reg.dataVersion));
}

/** Broker address -> liveness: the address live as the registered broker, updated `now`. */
function markLive(t: RouteTable, reg: BrokerRegistration, now: number): RouteTable {
  const live = new Map(t.live);
  const entry: LiveBroker = {
    brokerName: reg.brokerName,
    brokerId: reg.brokerId,
    lastUpdate: now,
    dataVersion: { ...reg.dataVersion },
  };
  if (reg.haServerAddr !== undefined) entry.haServerAddr = reg.haServerAddr;
  if (reg.epoch !== undefined) entry.epoch = reg.epoch;
  live.set(reg.address, entry);
  return { ...t, live };
}

/** For a slave: its master's address and HA address, when the table knows them (nothing for a master). */
function masterOf(t: RouteTable, reg: BrokerRegistration): { masterAddr?: string; haServerAddr?: string } {
  if (reg.brokerId === MASTER_ID) return {};
  const masterAddr = t.brokers.get(reg.brokerName)?.addrs[MASTER_ID];
  if (masterAddr === undefined) return {};
  const ha = t.live.get(masterAddr)?.haServerAddr;
  return ha !== undefined ? { masterAddr, haServerAddr: ha } : { masterAddr };
}

/**
 * Why a registration as master is refused: another live address is the group's master with a higher epoch
 * (apache/rocketmq#6316: a name server that took the last master to register could route producers to a
 * fenced old master). A registration without an epoch is never refused.
 */
function staleMaster(t: RouteTable, reg: BrokerRegistration): string | undefined {
  if (reg.brokerId !== MASTER_ID || reg.epoch === undefined) return undefined;
  const current = t.brokers.get(reg.brokerName)?.addrs[MASTER_ID];
  if (current === undefined || current === reg.address) return undefined;
  const e = t.live.get(current)?.epoch;
  if (e === undefined || e <= reg.epoch) return undefined;
  return `${current} is the master of ${reg.brokerName} in epoch ${e}, after epoch ${reg.epoch} of ${reg.address}: not registered as master`;
}

/**
 * Registers (or refreshes) a broker. The master's topic configuration replaces what the table holds for its
 * broker name when it is the first registration of that address or its data version changed.
 */
export function registerBroker(table: RouteTable, reg: BrokerRegistration, now: number): RegisterResult {
  const stale = staleMaster(table, reg);
  if (stale !== undefined) return { table, changed: false, refused: stale };
  const prev = table.live.get(reg.address);
  const forgot = forgetOtherIdentity(table, reg);
  const first = !forgot.table.live.has(reg.address);
  const placed = placeAddress(forgot.table, reg);
  const joined = joinCluster(placed.table, reg);
  const configured = takesTopicConfig(reg, prev, first) ? replaceTopicConfig(joined.table, reg) : joined;
  const t = markLive(configured.table, reg, now);
  const changed = forgot.changed || placed.changed || joined.changed || configured.changed;
  return { table: t, changed, ...masterOf(t, reg) };
}

/** Removes a broker. Removing the last address of a broker name removes its queues from every topic. */
export function unregisterBroker(table: RouteTable, id: BrokerIdentity): TableChange {
  return removeAddress(table, id);
}

/** Refreshes a registered broker's last update time; `known` is false for an address the table does not hold. */
export function heartbeat(table: RouteTable, address: string, now: number): { table: RouteTable; known: boolean } {
  const l = table.live.get(address);
  if (!l) return { table, known: false };
  const live = new Map(table.live);
  live.set(address, { ...l, lastUpdate: Math.max(l.lastUpdate, now) });
  return { table: { ...table, live }, known: true };
}

/** Removes every broker not heard from for more than `expiryMs`; `removed` lists their addresses, sorted. */
export function scanExpired(table: RouteTable, now: number, expiryMs: number): { table: RouteTable; removed: string[] } {
  const removed: string[] = [];
  for (const [address, l] of table.live) if (now - l.lastUpdate > expiryMs) removed.push(address);
  removed.sort();
  let t = table;
  for (const address of removed) {
    const l = t.live.get(address)!;
    t = removeAddress(t, { brokerName: l.brokerName, brokerId: l.brokerId, address }).table;
  }
  return { table: t, removed };
}

/** The route of a topic: its queue data per broker name and those brokers' addresses; undefined if none. */
export function routeByTopic(table: RouteTable, topic: string): TopicRoute | undefined {
  const qds = table.topics.get(topic);
  if (!qds || qds.size === 0) return undefined;
  const queueDatas: QueueData[] = [];
  const brokerDatas: BrokerData[] = [];
  for (const name of [...qds.keys()].sort()) {
    const bd = table.brokers.get(name);
    if (!bd) continue;
    queueDatas.push({ ...qds.get(name)! });
    brokerDatas.push({ cluster: bd.cluster, brokerName: bd.brokerName, addrs: { ...bd.addrs } });
  }
  return queueDatas.length > 0 ? { queueDatas, brokerDatas } : undefined;
}

/** Every broker group and every cluster's broker names (sorted), as a JSON-friendly value. */
export function clusterInfo(table: RouteTable): ClusterInfo {
  const brokerAddrTable: Record<string, BrokerData> = {};
  for (const name of [...table.brokers.keys()].sort()) {
    const bd = table.brokers.get(name)!;
    brokerAddrTable[name] = { cluster: bd.cluster, brokerName: bd.brokerName, addrs: { ...bd.addrs } };
  }
  const clusterAddrTable: Record<string, string[]> = {};
  for (const name of [...table.clusters.keys()].sort()) clusterAddrTable[name] = [...table.clusters.get(name)!].sort();
  return { brokerAddrTable, clusterAddrTable };
}

/** Every topic with at least one queue, sorted. */
export function topicList(table: RouteTable): string[] {
  return [...table.topics.keys()].sort();
}

/** The topics served by brokers of `cluster`, sorted. */
export function topicsByCluster(table: RouteTable, cluster: string): string[] {
  const names = table.clusters.get(cluster);
  if (!names) return [];
  const out: string[] = [];
  for (const [topic, qds] of table.topics) for (const n of qds.keys()) if (names.has(n)) {
    out.push(topic);
    break;
  }
  return out.sort();
}

/** Deletes a topic everywhere, or only from the brokers of `cluster` when given. */
export function deleteTopic(table: RouteTable, topic: string, cluster?: string): TableChange {
  const qds = table.topics.get(topic);
  if (!qds) return { table, changed: false };
  const topics = new Map(table.topics);
  if (cluster === undefined) {
    topics.delete(topic);
  } else {
    const names = table.clusters.get(cluster);
    if (!names) return { table, changed: false };
    const m = new Map(qds);
    for (const n of names) m.delete(n);
    if (m.size === qds.size) return { table, changed: false };
    if (m.size > 0) topics.set(topic, m);
    else topics.delete(topic);
  }
  return { table: { ...table, topics }, changed: true };
}
