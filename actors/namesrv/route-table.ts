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

/** Removes one address (as broker `brokerName`/`brokerId`) from brokers, clusters and live. */
function removeAddress(t: RouteTable, id: BrokerIdentity): { table: RouteTable; changed: boolean } {
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
      const names = clusters.get(bd.cluster);
      if (names?.has(id.brokerName)) {
        const c = new Map(clusters);
        const s = new Set(names);
        s.delete(id.brokerName);
        if (s.size > 0) c.set(bd.cluster, s);
        else c.delete(bd.cluster);
        clusters = c;
      }
      topics = removeBrokerQueues(topics, id.brokerName);
    }
    brokers = b;
  }
  return changed ? { table: { topics, brokers, clusters, live }, changed } : { table: t, changed };
}

function removeBrokerQueues(topics: RouteTable['topics'], brokerName: string): RouteTable['topics'] {
  let out: Map<string, ReadonlyMap<string, QueueData>> | undefined;
  for (const [topic, qds] of topics) {
    if (!qds.has(brokerName)) continue;
    out ??= new Map(topics);
    const m = new Map(qds);
    m.delete(brokerName);
    if (m.size > 0) out.set(topic, m);
    else out.delete(topic);
  }
  return out ?? topics;
}

/**
 * Registers (or refreshes) a broker. The master's topic configuration replaces what the table holds for its
 * broker name when it is the first registration of that address or its data version changed.
 */
export function registerBroker(table: RouteTable, reg: BrokerRegistration, now: number): RegisterResult {
  let t = table;
  let changed = false;
  // the address was known as another broker (name or id changed, e.g. a slave promoted): forget the old one
  const prev = t.live.get(reg.address);
  if (prev && (prev.brokerName !== reg.brokerName || prev.brokerId !== reg.brokerId)) {
    const r = removeAddress(t, { brokerName: prev.brokerName, brokerId: prev.brokerId, address: reg.address });
    t = r.table;
    changed = r.changed;
  }
  const first = !t.live.has(reg.address);

  // broker name -> addresses (an address appears under one id only; a displaced address is forgotten)
  let brokers = t.brokers;
  let clusters = t.clusters;
  let live = t.live;
  const bd = brokers.get(reg.brokerName);
  if (!bd || bd.addrs[reg.brokerId] !== reg.address || bd.cluster !== reg.cluster) {
    const addrs: Record<number, string> = {};
    for (const [id, addr] of Object.entries(bd?.addrs ?? {})) if (addr !== reg.address) addrs[Number(id)] = addr;
    const displaced = addrs[reg.brokerId];
    if (displaced !== undefined && live.has(displaced)) {
      const l = new Map(live);
      l.delete(displaced);
      live = l;
    }
    addrs[reg.brokerId] = reg.address;
    const b = new Map(brokers);
    b.set(reg.brokerName, { cluster: reg.cluster, brokerName: reg.brokerName, addrs });
    brokers = b;
    changed = true;
    if (bd && bd.cluster !== reg.cluster) {
      // the group moved to another cluster
      const old = clusters.get(bd.cluster);
      if (old?.has(reg.brokerName)) {
        const c = new Map(clusters);
        const set = new Set(old);
        set.delete(reg.brokerName);
        if (set.size > 0) c.set(bd.cluster, set);
        else c.delete(bd.cluster);
        clusters = c;
      }
    }
  }

  // cluster -> broker names
  const names = clusters.get(reg.cluster);
  if (!names?.has(reg.brokerName)) {
    const c = new Map(clusters);
    c.set(reg.cluster, new Set([...(names ?? []), reg.brokerName]));
    clusters = c;
    changed = true;
  }

  // topics, from the master, when its configuration is new
  let topics = t.topics;
  if (reg.brokerId === MASTER_ID && (first || !prev || !sameVersion(prev.dataVersion, reg.dataVersion))) {
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
    let out: Map<string, ReadonlyMap<string, QueueData>> | undefined;
    for (const [topic, qd] of wanted) {
      const qds = topics.get(topic);
      if (sameQueueData(qds?.get(reg.brokerName), qd)) continue;
      out ??= new Map(topics);
      const m = new Map(qds ?? []);
      m.set(reg.brokerName, qd);
      out.set(topic, m);
    }
    for (const [topic, qds] of topics) {
      if (!qds.has(reg.brokerName) || wanted.has(topic)) continue;
      out ??= new Map(topics);
      const m = new Map(qds);
      m.delete(reg.brokerName);
      if (m.size > 0) out.set(topic, m);
      else out.delete(topic);
    }
    if (out) {
      topics = out;
      changed = true;
    }
  }

  const nextLive = new Map(live);
  const entry: LiveBroker = {
    brokerName: reg.brokerName,
    brokerId: reg.brokerId,
    lastUpdate: now,
    dataVersion: { ...reg.dataVersion },
  };
  if (reg.haServerAddr !== undefined) entry.haServerAddr = reg.haServerAddr;
  nextLive.set(reg.address, entry);

  const result: RegisterResult = { table: { topics, brokers, clusters, live: nextLive }, changed };
  if (reg.brokerId !== MASTER_ID) {
    const masterAddr = brokers.get(reg.brokerName)?.addrs[MASTER_ID];
    if (masterAddr !== undefined) {
      result.masterAddr = masterAddr;
      const ha = nextLive.get(masterAddr)?.haServerAddr;
      if (ha !== undefined) result.haServerAddr = ha;
    }
  }
  return result;
}

/** Removes a broker. Removing the last address of a broker name removes its queues from every topic. */
export function unregisterBroker(table: RouteTable, id: BrokerIdentity): { table: RouteTable; changed: boolean } {
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
export function deleteTopic(table: RouteTable, topic: string, cluster?: string): { table: RouteTable; changed: boolean } {
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
