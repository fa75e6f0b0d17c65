import fc from 'fast-check';
import { AdminClient, allAddresses, masterAddresses, pickBrokers, type AdminTransport } from '../../../actors/client/admin-client.js';
import type { ClusterInfo, ConsumerProgressBody, HaStatus, TopicConfig, TopicRoute } from '../../../actors/protocol/commands.js';
import type { MessageExt } from '../../../core/message.js';
import { encodeMessageExtBatch } from '../../../core/message-codec.js';
import { RequestCode } from '../../../actors/protocol/request-codes.js';
import { errorReply, jsonBody, okReply, parseJsonBody } from '../../../actors/protocol/replies.js';
import { Status, StatusError } from '../../../core/status.js';
import { TransportError } from '../../../transports/transport.js';
import type { Frame } from '../../../transports/frame.js';
import { encodeMessageId } from '../../../store/message-id.js';

type Peer = (f: Frame) => Frame;

/** A transport made of plain functions per address; an address without one does not answer. */
function fakeTransport(peers: Record<string, Peer>): AdminTransport & { log: { to: string; code: number }[] } {
  const log: { to: string; code: number }[] = [];
  return {
    log,
    request: async (to, frame) => {
      log.push({ to, code: frame.code });
      const peer = peers[to];
      if (!peer) throw new TransportError('NO_RESPONDERS', `no responders at ${to}`);
      return peer(frame);
    },
  };
}

const info: ClusterInfo = {
  brokerAddrTable: {
    'broker-a': { cluster: 'C1', brokerName: 'broker-a', addrs: { 0: 'broker.broker-a.0', 1: 'broker.broker-a.1' } },
    'broker-b': { cluster: 'C1', brokerName: 'broker-b', addrs: { 0: 'broker.broker-b.0' } },
  },
  clusterAddrTable: { C1: ['broker-a', 'broker-b'] },
};

const route: TopicRoute = {
  queueDatas: [
    { brokerName: 'broker-a', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicSysFlag: 0 },
    { brokerName: 'broker-b', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicSysFlag: 0 },
  ],
  brokerDatas: [info.brokerAddrTable['broker-a']!, info.brokerAddrTable['broker-b']!],
};

function namesrv(): Peer {
  return (f) => {
    switch (f.code) {
      case RequestCode.GET_BROKER_CLUSTER_INFO:
        return okReply(f, {}, jsonBody(info));
      case RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER:
        return okReply(f, {}, jsonBody({ topics: ['orders', 'audit'] }));
      case RequestCode.GET_ROUTEINFO_BY_TOPIC:
        return f.header.topic === 'orders' ? okReply(f, {}, jsonBody(route)) : errorReply(f, Status.TOPIC_NOT_EXIST, 'none');
      default:
        return errorReply(f, Status.REQUEST_CODE_NOT_SUPPORTED, 'no');
    }
  };
}

function message(storeHost: string, offset: number, keys: string[], storeTimestamp: number): MessageExt {
  return {
    msgId: encodeMessageId(storeHost, offset),
    topic: 'orders',
    queueId: 0,
    queueOffset: offset,
    commitLogOffset: offset,
    bornTimestamp: storeTimestamp - 1,
    storeTimestamp,
    reconsumeTimes: 0,
    bornHost: 'client',
    storeHost,
    keys,
    body: new TextEncoder().encode(`m${offset}`),
  };
}

describe('AdminClient', () => {
  it('falls over to the next name server when one does not answer, and asks the one that answered first next time', async () => {
    const t = fakeTransport({ 'namesrv.ns-2': namesrv() });
    const admin = new AdminClient(t, { namesrv: ['ns-1', 'ns-2'] });
    expect(await admin.listTopics()).toEqual(['audit', 'orders']);
    expect(t.log.map((l) => l.to)).toEqual(['namesrv.ns-1', 'namesrv.ns-2']);
    await admin.clusterInfo();
    expect(t.log.map((l) => l.to).slice(2)).toEqual(['namesrv.ns-2']);
  });

  it('says which name servers did not answer when none does', async () => {
    const admin = new AdminClient(fakeTransport({}), { namesrv: ['ns-1', 'ns-2'] });
    await expect(admin.clusterInfo()).rejects.toThrow(/cluster info: no name server answered .*namesrv\.ns-1.*namesrv\.ns-2/);
  });

  it('does not fall over on an answer that is an error, and reports a missing topic clearly', async () => {
    const t = fakeTransport({ 'namesrv.ns-1': namesrv(), 'namesrv.ns-2': namesrv() });
    const admin = new AdminClient(t, { namesrv: ['ns-1', 'ns-2'] });
    const err = await admin.route('nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).status).toBe(Status.TOPIC_NOT_EXIST);
    expect(t.log).toHaveLength(1);
    expect(await admin.tryRoute('nope')).toBeUndefined();
    expect((await admin.route('orders')).brokerDatas).toHaveLength(2);
    await expect(admin.route('bad topic!')).rejects.toThrow(/INVALID_ARGUMENT/);
  });

  it('needs at least one name server', () => {
    expect(() => new AdminClient(fakeTransport({}), { namesrv: [] })).toThrow(/at least one name server/);
  });

  it('creates a topic on the master of every broker group of the cluster', async () => {
    const created: Record<string, TopicConfig> = {};
    const broker = (addr: string): Peer => (f) => {
      created[addr] = parseJsonBody<TopicConfig>(f);
      return okReply(f);
    };
    const t = fakeTransport({ 'namesrv.ns-1': namesrv(), 'broker.broker-a.0': broker('a'), 'broker.broker-b.0': broker('b') });
    const r = await new AdminClient(t, { namesrv: ['ns-1'] }).createTopic('orders', { readQueues: 3, writeQueues: 2 });
    expect(r.brokers.map((b) => b.brokerName)).toEqual(['broker-a', 'broker-b']);
    expect(created.a).toEqual({ topicName: 'orders', readQueueNums: 3, writeQueueNums: 2, perm: 6, topicSysFlag: 0 });
    expect(created.b).toEqual(created.a);
    expect(t.log.some((l) => l.to === 'broker.broker-a.1')).toBe(false);
  });

  it('reports the brokers a topic could not be created on', async () => {
    const t = fakeTransport({ 'namesrv.ns-1': namesrv(), 'broker.broker-a.0': (f) => okReply(f) });
    await expect(new AdminClient(t, { namesrv: ['ns-1'] }).createTopic('orders')).rejects.toThrow(/failed on 1 of 2 brokers \(created on broker-a\).*broker\.broker-b\.0/);
  });

  it('merges consumer progress from every master and lists the brokers that did not answer', async () => {
    const progress = (brokerName: string, lag: number): Peer => (f) => {
      expect(f.header.consumerGroup).toBe('g');
      const body: ConsumerProgressBody = {
        queues: [
          { topic: 'orders', brokerName, queueId: 1, brokerOffset: 10, consumerOffset: 10 - lag, lag },
          { topic: '%RETRY%g', brokerName, queueId: 0, brokerOffset: 0, consumerOffset: 0, lag: 0 },
        ],
      };
      return okReply(f, {}, jsonBody(body));
    };
    const t = fakeTransport({ 'namesrv.ns-1': namesrv(), 'broker.broker-a.0': progress('broker-a', 3), 'broker.broker-b.0': progress('broker-b', 4) });
    const admin = new AdminClient(t, { namesrv: ['ns-1'] });
    const p = await admin.consumerProgress('g');
    expect(p.queues.map((q) => `${q.topic}@${q.brokerName}`)).toEqual(['%RETRY%g@broker-a', '%RETRY%g@broker-b', 'orders@broker-a', 'orders@broker-b']);
    expect(p.totalLag).toBe(7);
    expect(p.unreachable).toEqual([]);
    expect((await admin.consumerProgress('g', ['orders'])).queues).toHaveLength(2);

    const half = fakeTransport({ 'namesrv.ns-1': namesrv(), 'broker.broker-a.0': progress('broker-a', 3) });
    const p2 = await new AdminClient(half, { namesrv: ['ns-1'] }).consumerProgress('g');
    expect(p2.totalLag).toBe(3);
    expect(p2.unreachable.map((u) => u.address)).toEqual(['broker.broker-b.0']);
    await expect(new AdminClient(fakeTransport({ 'namesrv.ns-1': namesrv() }), { namesrv: ['ns-1'] }).consumerProgress('g')).rejects.toThrow(/no broker answered/);
  });

  it('finds a message by id at the broker its id names, else at every broker', async () => {
    const m = message('broker.broker-b.0', 96, ['k1'], 1000);
    const view = (has: MessageExt | undefined): Peer => (f) =>
      has && f.header.msgId === has.msgId ? okReply(f, {}, encodeMessageExtBatch([has])) : errorReply(f, Status.QUERY_NOT_FOUND, 'no such message');
    const t = fakeTransport({ 'namesrv.ns-1': namesrv(), 'broker.broker-b.0': view(m), 'broker.broker-a.0': view(undefined) });
    const admin = new AdminClient(t, { namesrv: ['ns-1'] });
    expect((await admin.messageById(m.msgId)).msgId).toBe(m.msgId);
    expect(t.log.map((l) => l.to)).toEqual(['broker.broker-b.0']);

    // the storing broker is gone, a slave has the message
    const moved = fakeTransport({ 'namesrv.ns-1': namesrv(), 'broker.broker-a.1': view(m), 'broker.broker-a.0': view(undefined) });
    expect((await new AdminClient(moved, { namesrv: ['ns-1'] }).messageById(m.msgId)).body).toEqual(m.body);

    const other = encodeMessageId('broker.broker-a.0', 5);
    await expect(admin.messageById(other)).rejects.toThrow(/QUERY_NOT_FOUND: no message with id/);
    await expect(admin.messageById('XYZ')).rejects.toThrow(/INVALID_ARGUMENT: malformed message id/);
  });

  it('queries a key on every broker of the topic and merges by store time', async () => {
    const byKey = (msgs: MessageExt[]): Peer => (f) => {
      const found = msgs.filter((m) => m.keys?.includes(String(f.header.key)));
      return found.length > 0 ? okReply(f, {}, encodeMessageExtBatch(found)) : errorReply(f, Status.QUERY_NOT_FOUND, 'none');
    };
    const t = fakeTransport({
      'namesrv.ns-1': namesrv(),
      'broker.broker-a.0': byKey([message('broker.broker-a.0', 0, ['k'], 30), message('broker.broker-a.0', 64, ['z'], 5)]),
      'broker.broker-b.0': byKey([message('broker.broker-b.0', 0, ['k'], 10)]),
    });
    const admin = new AdminClient(t, { namesrv: ['ns-1'] });
    expect((await admin.messagesByKey('orders', 'k')).map((m) => m.storeTimestamp)).toEqual([10, 30]);
    expect(await admin.messagesByKey('orders', 'none')).toEqual([]);
    await expect(admin.messagesByKey('missing', 'k')).rejects.toThrow(/TOPIC_NOT_EXIST/);
  });
});

describe('AdminClient.haStatus', () => {
  const status = (id: number, role: HaStatus['role']): HaStatus => ({ brokerName: 'broker-a', brokerId: id, address: `broker.broker-a.${id}`, role, writeOffset: 10, flushedOffset: 10 });
  const broker = (st: HaStatus): Peer => (f) => (f.code === RequestCode.GET_BROKER_HA_STATUS ? okReply(f, {}, jsonBody(st)) : errorReply(f, Status.REQUEST_CODE_NOT_SUPPORTED, 'no'));

  it("asks every broker of the group for its HA status and lists those that do not answer", async () => {
    const t = fakeTransport({ 'namesrv.ns-1': namesrv(), 'broker.broker-a.0': broker(status(0, 'master')) });
    const g = await new AdminClient(t, { namesrv: ['ns-1'] }).haStatus('broker-a');
    expect(g.brokerName).toBe('broker-a');
    expect(g.cluster).toBe('C1');
    expect(g.brokers).toEqual([status(0, 'master')]);
    expect(g.unreachable).toEqual([{ brokerId: 1, address: 'broker.broker-a.1', error: expect.stringMatching(/broker\.broker-a\.1/) }]);
    expect(t.log.filter((l) => l.code === RequestCode.GET_BROKER_HA_STATUS).map((l) => l.to).sort()).toEqual(['broker.broker-a.0', 'broker.broker-a.1']);
  });

  it('sorts by broker id, and names the known groups for an unknown one', async () => {
    const t = fakeTransport({ 'namesrv.ns-1': namesrv(), 'broker.broker-a.1': broker(status(1, 'slave')), 'broker.broker-a.0': broker(status(0, 'master')) });
    const admin = new AdminClient(t, { namesrv: ['ns-1'] });
    expect((await admin.haStatus('broker-a')).brokers.map((b) => b.brokerId)).toEqual([0, 1]);
    await expect(admin.haStatus('broker-z')).rejects.toThrow('broker group "broker-z" is not registered with the name servers (known: broker-a, broker-b)');
  });
});

describe('pickBrokers', () => {
  it('takes the only cluster by default and refuses to guess among several', () => {
    expect(pickBrokers(info, {}).map((b) => b.brokerName)).toEqual(['broker-a', 'broker-b']);
    expect(pickBrokers(info, { brokerName: 'broker-b' }).map((b) => b.brokerName)).toEqual(['broker-b']);
    const two: ClusterInfo = {
      brokerAddrTable: { ...info.brokerAddrTable, x: { cluster: 'C2', brokerName: 'x', addrs: { 0: 'broker.x.0' } } },
      clusterAddrTable: { ...info.clusterAddrTable, C2: ['x'] },
    };
    expect(() => pickBrokers(two, {})).toThrow(/2 clusters \(C1, C2\): name one/);
    expect(pickBrokers(two, { cluster: 'C2' }).map((b) => b.brokerName)).toEqual(['x']);
    expect(() => pickBrokers(two, { cluster: 'C3' })).toThrow(/cluster "C3" is not known/);
    expect(() => pickBrokers(two, { brokerName: 'x', cluster: 'C1' })).toThrow(/is in cluster "C2"/);
    expect(() => pickBrokers({ brokerAddrTable: {}, clusterAddrTable: {} }, {})).toThrow(/no broker is registered/);
  });

  it('picks every broker group of the named cluster, sorted, and nothing else', () => {
    const arb = fc.dictionary(fc.constantFrom('c1', 'c2', 'c3'), fc.uniqueArray(fc.stringMatching(/^[a-z]{1,6}$/), { minLength: 1, maxLength: 5 }), { minKeys: 1 });
    fc.assert(
      fc.property(arb, (clusters) => {
        const brokerAddrTable: ClusterInfo['brokerAddrTable'] = {};
        const clusterAddrTable: ClusterInfo['clusterAddrTable'] = {};
        for (const [c, names] of Object.entries(clusters)) {
          clusterAddrTable[c] = names.map((n) => `${c}-${n}`);
          for (const n of names) brokerAddrTable[`${c}-${n}`] = { cluster: c, brokerName: `${c}-${n}`, addrs: { 0: `broker.${c}-${n}.0` } };
        }
        const ci = { brokerAddrTable, clusterAddrTable };
        for (const c of Object.keys(clusters)) {
          const got = pickBrokers(ci, { cluster: c }).map((b) => b.brokerName);
          expect(got).toEqual([...clusterAddrTable[c]!].sort());
        }
        expect(masterAddresses(ci)).toHaveLength(Object.keys(brokerAddrTable).length);
        expect(allAddresses(ci)).toEqual(masterAddresses(ci));
      }),
      { numRuns: 100 },
    );
  });
});
