import fc from 'fast-check';
import {
  clusterInfo,
  deleteTopic,
  emptyRouteTable,
  heartbeat,
  registerBroker,
  routeByTopic,
  scanExpired,
  topicList,
  topicsByCluster,
  unregisterBroker,
  type RouteTable,
} from '../../../actors/namesrv/route-table.js';
import { PERM_READ, PERM_READ_WRITE, PERM_WRITE, readableQueues, writableQueues, type BrokerRegistration, type TopicConfig } from '../../../actors/protocol/route.js';

const tc = (topicName: string, q = 4, perm = PERM_READ_WRITE): TopicConfig => ({ topicName, readQueueNums: q, writeQueueNums: q, perm, topicSysFlag: 0 });
const reg = (over: Partial<BrokerRegistration> = {}): BrokerRegistration => ({
  cluster: 'c1',
  brokerName: 'broker-a',
  brokerId: 0,
  address: 'broker-a/0',
  dataVersion: { timestamp: 1, counter: 1 },
  topics: [tc('orders')],
  ...over,
});

function expectEmpty(t: RouteTable): void {
  expect(t.topics.size).toBe(0);
  expect(t.brokers.size).toBe(0);
  expect(t.clusters.size).toBe(0);
  expect(t.live.size).toBe(0);
}

/** Checks the table's internal consistency; returns nothing, throws on a violation. */
function checkInvariants(t: RouteTable): void {
  for (const [name, bd] of t.brokers) {
    expect(bd.brokerName).toBe(name);
    expect(Object.keys(bd.addrs).length).toBeGreaterThan(0);
    expect(t.clusters.get(bd.cluster)?.has(name)).toBe(true);
    for (const [id, addr] of Object.entries(bd.addrs)) {
      const l = t.live.get(addr);
      expect(l).toBeDefined();
      expect([l!.brokerName, l!.brokerId]).toEqual([name, Number(id)]);
    }
  }
  for (const [addr, l] of t.live) expect(t.brokers.get(l.brokerName)?.addrs[l.brokerId]).toBe(addr);
  for (const [cluster, names] of t.clusters) {
    expect(names.size).toBeGreaterThan(0);
    for (const n of names) expect(t.brokers.get(n)?.cluster).toBe(cluster);
  }
  for (const topic of topicList(t)) {
    const qds = t.topics.get(topic)!;
    expect(qds.size).toBeGreaterThan(0);
    const route = routeByTopic(t, topic)!;
    expect(route.queueDatas.map((q) => q.brokerName)).toEqual([...qds.keys()].sort());
    expect(route.brokerDatas.map((b) => b.brokerName)).toEqual([...qds.keys()].sort());
    for (const bd of route.brokerDatas) for (const addr of Object.values(bd.addrs)) expect(t.live.has(addr)).toBe(true);
  }
}

describe('registerBroker', () => {
  it('adds a master with its topics, cluster and liveness', () => {
    const { table, changed } = registerBroker(emptyRouteTable(), reg({ haServerAddr: 'ha-a' }), 100);
    expect(changed).toBe(true);
    expect(topicList(table)).toEqual(['orders']);
    expect(routeByTopic(table, 'orders')).toEqual({
      queueDatas: [{ brokerName: 'broker-a', readQueueNums: 4, writeQueueNums: 4, perm: PERM_READ_WRITE, topicSysFlag: 0 }],
      brokerDatas: [{ cluster: 'c1', brokerName: 'broker-a', addrs: { 0: 'broker-a/0' } }],
    });
    expect(clusterInfo(table)).toEqual({
      brokerAddrTable: { 'broker-a': { cluster: 'c1', brokerName: 'broker-a', addrs: { 0: 'broker-a/0' } } },
      clusterAddrTable: { c1: ['broker-a'] },
    });
    expect(table.live.get('broker-a/0')).toMatchObject({ lastUpdate: 100, haServerAddr: 'ha-a' });
    expect(routeByTopic(table, 'nope')).toBeUndefined();
  });

  it('is a refresh when nothing changed, and applies a new topic configuration', () => {
    const t1 = registerBroker(emptyRouteTable(), reg(), 100).table;
    const again = registerBroker(t1, reg(), 200);
    expect(again.changed).toBe(false);
    expect(again.table.live.get('broker-a/0')!.lastUpdate).toBe(200);
    // same data version: topics are not re-read (RocketMQ skips unchanged configurations)
    expect(registerBroker(t1, reg({ topics: [tc('other')] }), 200).changed).toBe(false);
    const next = registerBroker(t1, reg({ dataVersion: { timestamp: 1, counter: 2 }, topics: [tc('other'), tc('orders', 8)] }), 300);
    expect(next.changed).toBe(true);
    expect(topicList(next.table)).toEqual(['orders', 'other']);
    expect(routeByTopic(next.table, 'orders')!.queueDatas[0]!.writeQueueNums).toBe(8);
    // a topic the master no longer has goes away
    const fewer = registerBroker(next.table, reg({ dataVersion: { timestamp: 1, counter: 3 }, topics: [tc('other')] }), 400);
    expect(topicList(fewer.table)).toEqual(['other']);
  });

  it('takes topics from the master only and tells a slave its master', () => {
    let t = registerBroker(emptyRouteTable(), reg({ haServerAddr: 'ha-a' }), 1).table;
    const slave = registerBroker(t, reg({ brokerId: 1, address: 'broker-a/1', topics: [tc('slave-only')] }), 2);
    t = slave.table;
    expect(slave.masterAddr).toBe('broker-a/0');
    expect(slave.haServerAddr).toBe('ha-a');
    expect(topicList(t)).toEqual(['orders']);
    expect(routeByTopic(t, 'orders')!.brokerDatas[0]!.addrs).toEqual({ 0: 'broker-a/0', 1: 'broker-a/1' });
    // the master leaves: the slave still serves reads of the group's queues
    t = unregisterBroker(t, { brokerName: 'broker-a', brokerId: 0, address: 'broker-a/0' }).table;
    const route = routeByTopic(t, 'orders')!;
    expect(route.brokerDatas[0]!.addrs).toEqual({ 1: 'broker-a/1' });
    expect(writableQueues(route, 'orders')).toEqual([]);
    expect(readableQueues(route, 'orders')).toHaveLength(4);
    checkInvariants(t);
  });

  it('moves an address that comes back under another id (slave promoted)', () => {
    let t = registerBroker(emptyRouteTable(), reg(), 1).table;
    t = registerBroker(t, reg({ brokerId: 1, address: 'broker-a/1' }), 1).table;
    t = unregisterBroker(t, { brokerName: 'broker-a', brokerId: 0, address: 'broker-a/0' }).table;
    t = registerBroker(t, reg({ brokerId: 0, address: 'broker-a/1', dataVersion: { timestamp: 2, counter: 1 } }), 2).table;
    expect(t.brokers.get('broker-a')!.addrs).toEqual({ 0: 'broker-a/1' });
    checkInvariants(t);
  });

  it('moves a broker group that re-registers in another cluster', () => {
    let t = registerBroker(emptyRouteTable(), reg(), 1).table;
    t = registerBroker(t, reg({ cluster: 'c2' }), 2).table;
    expect(clusterInfo(t).clusterAddrTable).toEqual({ c2: ['broker-a'] });
    checkInvariants(t);
  });
});

describe('unregisterBroker, heartbeat, deleteTopic, queries', () => {
  it('removes the group and its queues with its last address', () => {
    let t = registerBroker(emptyRouteTable(), reg(), 1).table;
    t = registerBroker(t, reg({ brokerName: 'broker-b', address: 'broker-b/0', topics: [tc('orders'), tc('b-only')] }), 1).table;
    const r = unregisterBroker(t, { brokerName: 'broker-b', brokerId: 0, address: 'broker-b/0' });
    expect(r.changed).toBe(true);
    expect(topicList(r.table)).toEqual(['orders']);
    expect(routeByTopic(r.table, 'orders')!.brokerDatas.map((b) => b.brokerName)).toEqual(['broker-a']);
    expect(unregisterBroker(r.table, { brokerName: 'broker-b', brokerId: 0, address: 'broker-b/0' }).changed).toBe(false);
    // a wrong address does not remove another broker's entry
    expect(unregisterBroker(r.table, { brokerName: 'broker-a', brokerId: 0, address: 'elsewhere' }).table.brokers.size).toBe(1);
  });

  it('heartbeat refreshes only known brokers', () => {
    const t = registerBroker(emptyRouteTable(), reg(), 1).table;
    const h = heartbeat(t, 'broker-a/0', 50);
    expect(h.known).toBe(true);
    expect(h.table.live.get('broker-a/0')!.lastUpdate).toBe(50);
    expect(heartbeat(t, 'ghost', 50)).toEqual({ table: t, known: false });
  });

  it('deletes a topic everywhere or per cluster', () => {
    let t = registerBroker(emptyRouteTable(), reg({ topics: [tc('orders'), tc('x')] }), 1).table;
    t = registerBroker(t, reg({ cluster: 'c2', brokerName: 'broker-b', address: 'broker-b/0', topics: [tc('orders')] }), 1).table;
    expect(topicsByCluster(t, 'c2')).toEqual(['orders']);
    expect(topicsByCluster(t, 'c1')).toEqual(['orders', 'x']);
    const perCluster = deleteTopic(t, 'orders', 'c2');
    expect(perCluster.changed).toBe(true);
    expect(routeByTopic(perCluster.table, 'orders')!.brokerDatas.map((b) => b.brokerName)).toEqual(['broker-a']);
    expect(deleteTopic(t, 'orders', 'c9').changed).toBe(false);
    expect(deleteTopic(t, 'nope').changed).toBe(false);
    const all = deleteTopic(t, 'orders');
    expect(topicList(all.table)).toEqual(['x']);
    expect(topicList(t)).toEqual(['orders', 'x']); // the old table is untouched
  });

  it('lists writable and readable queues by permission', () => {
    let t = registerBroker(emptyRouteTable(), reg({ topics: [tc('t', 2, PERM_READ)] }), 1).table;
    t = registerBroker(t, reg({ brokerName: 'broker-b', address: 'broker-b/0', topics: [tc('t', 3, PERM_WRITE)] }), 1).table;
    const route = routeByTopic(t, 't')!;
    expect(writableQueues(route, 't')).toEqual([0, 1, 2].map((queueId) => ({ topic: 't', brokerName: 'broker-b', queueId })));
    expect(readableQueues(route, 't')).toEqual([0, 1].map((queueId) => ({ topic: 't', brokerName: 'broker-a', queueId })));
  });
});

// ------------------------------------------------------------------ properties

const nameArb = fc.constantFrom('broker-a', 'broker-b', 'broker-c');
const regArb: fc.Arbitrary<BrokerRegistration> = fc.record({
  cluster: fc.constantFrom('c1', 'c2'),
  brokerName: nameArb,
  brokerId: fc.nat({ max: 2 }),
  address: fc.constantFrom('h1', 'h2', 'h3', 'h4', 'h5'),
  dataVersion: fc.record({ timestamp: fc.nat({ max: 3 }), counter: fc.nat({ max: 3 }) }),
  topics: fc.uniqueArray(fc.constantFrom('t1', 't2', 't3', 't4'), { maxLength: 4 }).map((ts) => ts.map((n) => tc(n, 2))),
});

type Op =
  | { kind: 'register'; reg: BrokerRegistration; at: number }
  | { kind: 'unregister'; reg: BrokerRegistration }
  | { kind: 'heartbeat'; address: string; at: number }
  | { kind: 'expire'; at: number }
  | { kind: 'delete'; topic: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('register' as const), reg: regArb, at: fc.nat({ max: 1000 }) }), weight: 4 },
  fc.record({ kind: fc.constant('unregister' as const), reg: regArb }),
  fc.record({ kind: fc.constant('heartbeat' as const), address: fc.constantFrom('h1', 'h2', 'h3'), at: fc.nat({ max: 1000 }) }),
  fc.record({ kind: fc.constant('expire' as const), at: fc.nat({ max: 1000 }) }),
  fc.record({ kind: fc.constant('delete' as const), topic: fc.constantFrom('t1', 't2') }),
);

function apply(t: RouteTable, op: Op): RouteTable {
  switch (op.kind) {
    case 'register':
      return registerBroker(t, op.reg, op.at).table;
    case 'unregister':
      return unregisterBroker(t, op.reg).table;
    case 'heartbeat':
      return heartbeat(t, op.address, op.at).table;
    case 'expire':
      return scanExpired(t, op.at, 300).table;
    case 'delete':
      return deleteTopic(t, op.topic).table;
  }
}

describe('route table properties', () => {
  it('stays consistent under any sequence of operations', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 30 }), (ops) => {
        let t = emptyRouteTable();
        for (const op of ops) {
          t = apply(t, op);
          checkInvariants(t);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is empty after registering brokers and unregistering them all', () => {
    fc.assert(
      fc.property(fc.array(regArb, { maxLength: 15 }), fc.integer(), (regs, seed) => {
        let t = emptyRouteTable();
        regs.forEach((r, i) => (t = registerBroker(t, r, i).table));
        const order = regs.map((r, i) => ({ r, k: (Math.imul(i + 1, seed | 1) >>> 0) % 97 })).sort((a, b) => a.k - b.k);
        for (const { r } of order) t = unregisterBroker(t, r).table;
        expectEmpty(t);
      }),
      { numRuns: 300 },
    );
  });

  it('expiry removes exactly the brokers silent for longer than the expiry time', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 25 }), fc.nat({ max: 1500 }), fc.integer({ min: 1, max: 600 }), (ops, now, expiry) => {
        let t = emptyRouteTable();
        for (const op of ops) t = apply(t, op);
        const silent = [...t.live].filter(([, l]) => now - l.lastUpdate > expiry).map(([a]) => a).sort();
        const r = scanExpired(t, now, expiry);
        expect(r.removed).toEqual(silent);
        expect([...r.table.live.keys()].sort()).toEqual([...t.live.keys()].filter((a) => !silent.includes(a)).sort());
        for (const l of r.table.live.values()) expect(now - l.lastUpdate).toBeLessThanOrEqual(expiry);
        checkInvariants(r.table);
      }),
      { numRuns: 300 },
    );
  });

  it('routes a topic to exactly the live masters that registered it (masters only)', () => {
    const masterArb = fc.record({
      i: fc.nat({ max: 3 }),
      topics: fc.uniqueArray(fc.constantFrom('t1', 't2', 't3'), { maxLength: 3 }),
      at: fc.nat({ max: 1000 }),
      drop: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(masterArb, { maxLength: 20 }), fc.nat({ max: 1200 }), (steps, now) => {
        let t = emptyRouteTable();
        const model = new Map<string, { topics: string[]; at: number }>();
        steps.forEach((s, n) => {
          const brokerName = `b${s.i}`;
          const address = `addr-${s.i}`;
          if (s.drop) {
            t = unregisterBroker(t, { brokerName, brokerId: 0, address }).table;
            model.delete(brokerName);
          } else {
            t = registerBroker(t, { cluster: 'c', brokerName, brokerId: 0, address, dataVersion: { timestamp: n, counter: 0 }, topics: s.topics.map((x) => tc(x)) }, s.at).table;
            model.set(brokerName, { topics: s.topics, at: s.at });
          }
        });
        const expiry = 400;
        t = scanExpired(t, now, expiry).table;
        for (const [name, m] of model) if (now - m.at > expiry) model.delete(name);
        for (const topic of ['t1', 't2', 't3']) {
          const expected = [...model].filter(([, m]) => m.topics.includes(topic)).map(([n]) => n).sort();
          const route = routeByTopic(t, topic);
          expect(route?.brokerDatas.map((b) => b.brokerName) ?? []).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });
});
