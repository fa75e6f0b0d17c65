/**
 * The console's tables as plain rows, built from a ClusterView: actors, brokers, topics, consumer groups and
 * producers, after RocketMQ Dashboard's. No HTML: the web console and the terminal viewer both render them.
 * Rates are per second, from a role's latest figures and the sample before (undefined until there are two).
 */
import type { BrokerStats, ConsumerStats, ProducerStats, RoleStats } from '../actors/protocol/observe.js';
import { roleOfAddress, type ClusterView, type RoleEntry } from './cluster-view.js';
import { formatState } from './state-value.js';

export interface ActorRow {
  source: string;
  address: string;
  actorId: string;
  /** namesrv, broker, producer, consumer, controller, or the address's first part. */
  role: string;
  machine?: string;
  root: boolean;
  state: string;
  status?: string;
  lastEvent?: string;
  lastTime: number;
  stateSince: number;
}

export interface BrokerRow {
  source: string;
  address: string;
  brokerName: string;
  brokerId: number;
  cluster: string;
  /** master, slave, or none (no replication). */
  role: string;
  health: string;
  epoch?: number;
  /** Commit log bytes held: write offset - min offset. */
  commitLogSize: number;
  writeOffset: number;
  flushedOffset: number;
  dispatched: number;
  minOffset: number;
  /** Messages stored per second (sum of queue max offsets), consumed per second (committed offsets), requests per second. */
  inTps?: number;
  outTps?: number;
  requestTps?: number;
  heldPulls: number;
  /** Bytes the furthest slave lacks (on a master), or this slave lacks (on a slave). */
  replicationLag?: number;
  inSync?: number[];
  time: number;
}

/** A serving broker's requests of one code (they never pass through its machine: they show as counts). */
export interface RequestRow {
  /** `<brokerName>/<brokerId>`. */
  broker: string;
  address: string;
  code: string;
  total: number;
  tps?: number;
}

export interface TopicRow {
  topic: string;
  /** Broker names serving it. */
  brokers: string[];
  queues: number;
  minOffset: number;
  maxOffset: number;
  /** Messages held: max - min offsets, summed. */
  messages: number;
  tps?: number;
}

export interface GroupQueueRow {
  topic: string;
  brokerName: string;
  queueId: number;
  /** The queue's max offset at the broker. */
  brokerOffset?: number;
  /** The group's committed offset there. */
  consumerOffset?: number;
  /** brokerOffset - consumerOffset. */
  lag?: number;
  /** Client id holding the queue (from the consumers' own figures), '' when none says so. */
  client: string;
  /** Messages the holder cached, not yet consumed. */
  cached?: number;
}

export interface GroupRow {
  group: string;
  /** Client ids the brokers know in the group, and those whose figures we have. */
  clients: string[];
  totalLag: number;
  /** Committed messages per second (all queues). */
  tps?: number;
  /** Messages handed to listeners, summed over the consumers we have figures of. */
  consumed: number;
  queues: GroupQueueRow[];
}

export interface ProducerRow {
  source: string;
  address: string;
  group: string;
  clientId: string;
  sent: number;
  failed: number;
  tps?: number;
}

type Entry<S extends RoleStats> = RoleEntry<S>;

function entries<R extends RoleStats['role']>(view: ClusterView, role: R): Entry<Extract<RoleStats, { role: R }>>[] {
  const out: Entry<Extract<RoleStats, { role: R }>>[] = [];
  for (const e of view.roles.values()) if (e.latest.stats.role === role) out.push(e as Entry<Extract<RoleStats, { role: R }>>);
  return out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.source < b.source ? -1 : 1));
}

/** Per second between the previous and latest sample of a figure; undefined without two samples. */
function rate<S extends RoleStats>(e: Entry<S>, figure: (s: S) => number): number | undefined {
  if (e.previous === undefined) return undefined;
  const dt = e.latest.time - e.previous.time;
  if (dt <= 0) return undefined;
  return Math.max(0, ((figure(e.latest.stats) - figure(e.previous.stats)) * 1000) / dt);
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const queueMaxSum = (s: BrokerStats): number => sum(s.topics.flatMap((t) => t.queues.map((q) => q.maxOffset)));
const committedSum = (s: BrokerStats): number => sum(s.groups.flatMap((g) => g.offsets.map((o) => o.offset)));
const requestSum = (s: BrokerStats): number => sum(Object.values(s.requests));

export function actorRows(view: ClusterView): ActorRow[] {
  const rows: ActorRow[] = [];
  for (const a of view.actors.values()) {
    const stats = view.roles.get(`${a.source}|${a.address}`)?.latest.stats;
    rows.push({
      source: a.source,
      address: a.address,
      actorId: a.actorId,
      role: stats?.role ?? roleOfAddress(a.address),
      ...(a.machine !== undefined ? { machine: a.machine } : {}),
      root: a.root,
      state: formatState(a.state, a.status),
      ...(a.status !== undefined ? { status: a.status } : {}),
      ...(a.lastEvent !== undefined ? { lastEvent: a.lastEvent } : {}),
      lastTime: a.lastTime,
      stateSince: a.stateSince,
    });
  }
  return rows.sort((a, b) => cmp(a.source, b.source) || cmp(a.address, b.address) || (a.root === b.root ? cmp(a.actorId, b.actorId) : a.root ? -1 : 1));
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function brokerRows(view: ClusterView): BrokerRow[] {
  return entries(view, 'broker').map((e) => {
    const s = e.latest.stats;
    const ha = s.ha;
    const lags = (ha?.slaves ?? []).map((x) => x.lagBytes);
    const inTps = rate(e, queueMaxSum);
    const outTps = rate(e, committedSum);
    const requestTps = rate(e, requestSum);
    return {
      source: e.source,
      address: e.address,
      brokerName: s.brokerName,
      brokerId: s.brokerId,
      cluster: s.cluster,
      role: ha?.role ?? (s.brokerId === 0 ? 'master' : 'slave'),
      health: s.store.health,
      ...(ha?.epoch !== undefined ? { epoch: ha.epoch } : {}),
      commitLogSize: s.store.writeOffset - s.store.minOffset,
      writeOffset: s.store.writeOffset,
      flushedOffset: s.store.flushedOffset,
      dispatched: s.store.dispatched,
      minOffset: s.store.minOffset,
      ...(inTps !== undefined ? { inTps } : {}),
      ...(outTps !== undefined ? { outTps } : {}),
      ...(requestTps !== undefined ? { requestTps } : {}),
      heldPulls: s.heldPulls,
      ...(lags.length > 0 ? { replicationLag: Math.max(...lags) } : {}),
      ...(ha?.inSync !== undefined ? { inSync: ha.inSync } : {}),
      time: e.latest.time,
    };
  });
}

/** Each broker's requests by code, busiest first (by rate, then total). */
export function requestRows(view: ClusterView): RequestRow[] {
  const rows: RequestRow[] = [];
  for (const e of entries(view, 'broker')) {
    const s = e.latest.stats;
    for (const [code, total] of Object.entries(s.requests)) {
      const tps = rate(e, (x) => x.requests[code] ?? 0);
      rows.push({ broker: `${s.brokerName}/${s.brokerId}`, address: e.address, code, total, ...(tps !== undefined ? { tps } : {}) });
    }
  }
  return rows.sort((a, b) => cmp(a.address, b.address) || (b.tps ?? 0) - (a.tps ?? 0) || b.total - a.total || cmp(a.code, b.code));
}

/**
 * The broker whose figures stand for each broker group: its master (by HA role, else id 0), else the member
 * furthest ahead.
 */
function groupLeaders(view: ClusterView): Map<string, Entry<BrokerStats>> {
  const leaders = new Map<string, Entry<BrokerStats>>();
  const rank = (e: Entry<BrokerStats>): number => {
    const s = e.latest.stats;
    return (s.ha?.role === 'master' ? 2 : s.ha === undefined && s.brokerId === 0 ? 1 : 0) * 1e15 + s.store.writeOffset;
  };
  for (const e of entries(view, 'broker')) {
    const name = e.latest.stats.brokerName;
    const known = leaders.get(name);
    if (known === undefined || rank(e) > rank(known)) leaders.set(name, e);
  }
  return leaders;
}

export function topicRows(view: ClusterView): TopicRow[] {
  const topics = new Map<string, TopicRow>();
  for (const [name, e] of groupLeaders(view)) {
    const prev = new Map(e.previous?.stats.topics.map((t) => [t.topic, sum(t.queues.map((q) => q.maxOffset))]) ?? []);
    const dt = e.previous === undefined ? 0 : e.latest.time - e.previous.time;
    for (const t of e.latest.stats.topics) {
      let row = topics.get(t.topic);
      if (row === undefined) topics.set(t.topic, (row = { topic: t.topic, brokers: [], queues: 0, minOffset: 0, maxOffset: 0, messages: 0 }));
      const max = sum(t.queues.map((q) => q.maxOffset));
      const min = sum(t.queues.map((q) => q.minOffset));
      row.brokers.push(name);
      row.queues += t.queues.length;
      row.maxOffset += max;
      row.minOffset += min;
      row.messages += max - min;
      const before = prev.get(t.topic);
      if (dt > 0 && before !== undefined) row.tps = (row.tps ?? 0) + Math.max(0, ((max - before) * 1000) / dt);
    }
  }
  return [...topics.values()].sort((a, b) => cmp(a.topic, b.topic));
}

export function groupRows(view: ClusterView): GroupRow[] {
  const groups = new Map<string, GroupRow & { queueIndex: Map<string, GroupQueueRow>; clientSet: Set<string> }>();
  const groupOf = (name: string) => {
    let g = groups.get(name);
    if (g === undefined) groups.set(name, (g = { group: name, clients: [], totalLag: 0, consumed: 0, queues: [], queueIndex: new Map(), clientSet: new Set() }));
    return g;
  };
  const queueOf = (g: GroupRow & { queueIndex: Map<string, GroupQueueRow> }, topic: string, brokerName: string, queueId: number) => {
    const k = `${topic}|${brokerName}|${queueId}`;
    let q = g.queueIndex.get(k);
    if (q === undefined) g.queueIndex.set(k, (q = { topic, brokerName, queueId, client: '' }));
    return q;
  };
  for (const [brokerName, e] of groupLeaders(view)) {
    const s = e.latest.stats;
    const maxOf = new Map<string, number>();
    for (const t of s.topics) for (const q of t.queues) maxOf.set(`${t.topic}|${q.queueId}`, q.maxOffset);
    for (const grp of s.groups) {
      const g = groupOf(grp.group);
      for (const c of grp.clients) g.clientSet.add(c);
      for (const o of grp.offsets) {
        const q = queueOf(g, o.topic, brokerName, o.queueId);
        q.consumerOffset = o.offset;
        const max = maxOf.get(`${o.topic}|${o.queueId}`);
        if (max !== undefined) q.brokerOffset = max;
      }
      const r = rate(e, (st) => sum(st.groups.filter((x) => x.group === grp.group).flatMap((x) => x.offsets.map((o) => o.offset))));
      if (r !== undefined) g.tps = (g.tps ?? 0) + r;
    }
  }
  for (const e of entries(view, 'consumer')) {
    const s: ConsumerStats = e.latest.stats;
    const g = groupOf(s.group);
    g.clientSet.add(s.clientId);
    g.consumed += s.consumed;
    for (const held of s.queues) {
      const q = queueOf(g, held.topic, held.brokerName, held.queueId);
      q.client = s.clientId;
      q.cached = held.cached;
    }
  }
  // Queues of the group's topics that no offset or holder mentions yet still have a broker offset.
  const out: GroupRow[] = [];
  for (const g of groups.values()) {
    for (const q of g.queueIndex.values()) {
      if (q.brokerOffset === undefined) {
        const leader = groupLeaders(view).get(q.brokerName);
        const max = leader?.latest.stats.topics.find((t) => t.topic === q.topic)?.queues.find((x) => x.queueId === q.queueId)?.maxOffset;
        if (max !== undefined) q.brokerOffset = max;
      }
      if (q.brokerOffset !== undefined) {
        q.lag = Math.max(0, q.brokerOffset - (q.consumerOffset ?? 0));
        g.totalLag += q.lag;
      }
    }
    const queues = [...g.queueIndex.values()].sort((a, b) => cmp(a.topic, b.topic) || cmp(a.brokerName, b.brokerName) || a.queueId - b.queueId);
    out.push({
      group: g.group,
      clients: [...g.clientSet].sort(),
      totalLag: g.totalLag,
      ...(g.tps !== undefined ? { tps: g.tps } : {}),
      consumed: g.consumed,
      queues,
    });
  }
  return out.sort((a, b) => cmp(a.group, b.group));
}

export function producerRows(view: ClusterView): ProducerRow[] {
  return entries(view, 'producer').map((e) => {
    const s: ProducerStats = e.latest.stats;
    const tps = rate(e, (x) => x.sent);
    return { source: e.source, address: e.address, group: s.group, clientId: s.clientId, sent: s.sent, failed: s.failed, ...(tps !== undefined ? { tps } : {}) };
  });
}
