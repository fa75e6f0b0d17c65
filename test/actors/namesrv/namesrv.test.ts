import { startNameServer } from '../../../actors/namesrv/namesrv.js';
import { PERM_READ_WRITE } from '../../../actors/protocol/route.js';
import { NAMESRV_STARTED_SUBJECT, type RegisterBrokerBody, type TopicRoute, type ClusterInfo } from '../../../actors/protocol/commands.js';
import type { Frame } from '../../../transports/frame.js';
import { jsonBody, parseJsonBody, request } from '../../../actors/protocol/replies.js';
import { RequestCode } from '../../../actors/protocol/request-codes.js';
import { Status } from '../../../core/status.js';
import { simSystem } from '../../support/sim.js';

function registration(brokerName: string, topics: string[], counter = 1) {
  const header = { cluster: 'c1', brokerName, brokerId: 0, address: `broker.${brokerName}.0` };
  const body: RegisterBrokerBody = {
    dataVersion: { timestamp: 1, counter },
    topics: topics.map((t) => ({ topicName: t, readQueueNums: 4, writeQueueNums: 4, perm: PERM_READ_WRITE, topicSysFlag: 0 })),
  };
  return request(RequestCode.REGISTER_BROKER, header, jsonBody(body));
}

async function setupNs() {
  const { env, system } = await simSystem(1);
  const ns = await startNameServer(system, { id: 'ns-1', brokerExpiryMs: 30_000, scanIntervalMs: 5_000 });
  const call = async (f: ReturnType<typeof request>) => {
    const p = env.transport.request(ns.address, f, { timeoutMs: 1000 });
    await env.clock.runUntil(() => false, 1);
    return p;
  };
  return { env, system, ns, call };
}

describe('name server', () => {
  it('announces its start once it listens, so brokers register at once', async () => {
    const { env, system } = await simSystem(1);
    const heard: Frame[] = [];
    env.transport.subscribe(NAMESRV_STARTED_SUBJECT).subscribe((f) => heard.push(f));
    const ns = await startNameServer(system, { id: 'ns-7' });
    await env.clock.runUntil(() => heard.length > 0, 100);
    expect(heard.map((f) => [f.code, f.header.namesrvId])).toEqual([[RequestCode.NAMESRV_STARTED, 'ns-7']]);
    // and it answers a registration sent on hearing it
    const reply = env.transport.request(ns.address, registration('a', ['orders']), { timeoutMs: 1000 });
    await env.clock.runUntil(() => false, 1);
    expect((await reply).status).toBe(Status.OK);
    await system.stop();
  });

  it('serves routes of registered brokers, per topic', async () => {
    const { system, call } = await setupNs();
    expect((await call(registration('a', ['orders', 'audit']))).status).toBe(Status.OK);
    expect((await call(registration('b', ['orders']))).status).toBe(Status.OK);
    const reply = await call(request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'orders' }));
    expect(reply.status).toBe(Status.OK);
    const route = parseJsonBody<TopicRoute>(reply);
    expect(route.queueDatas.map((q) => q.brokerName)).toEqual(['a', 'b']);
    expect(route.brokerDatas.map((b) => b.addrs[0])).toEqual(['broker.a.0', 'broker.b.0']);
    const audit = parseJsonBody<TopicRoute>(await call(request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'audit' })));
    expect(audit.queueDatas.map((q) => q.brokerName)).toEqual(['a']);
    const cluster = parseJsonBody<ClusterInfo>(await call(request(RequestCode.GET_BROKER_CLUSTER_INFO)));
    expect(cluster.clusterAddrTable).toEqual({ c1: ['a', 'b'] });
    const topics = parseJsonBody<{ topics: string[] }>(await call(request(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER)));
    expect(topics.topics).toEqual(['audit', 'orders']);
    await system.stop();
  });

  it('answers TOPIC_NOT_EXIST for an unknown topic and drops an unregistered broker', async () => {
    const { system, call } = await setupNs();
    const missing = await call(request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'nope' }));
    expect(missing.status).toBe(Status.TOPIC_NOT_EXIST);
    expect(String(missing.header.error)).toMatch(/nope/);
    await call(registration('a', ['orders']));
    await call(request(RequestCode.UNREGISTER_BROKER, { cluster: 'c1', brokerName: 'a', brokerId: 0, address: 'broker.a.0' }));
    expect((await call(request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'orders' }))).status).toBe(Status.TOPIC_NOT_EXIST);
    await system.stop();
  });

  it('drops brokers that stop registering after the expiry time, keeps those that do', async () => {
    const { env, system, ns, call } = await setupNs();
    await call(registration('a', ['orders']));
    await call(registration('b', ['orders']));
    for (let i = 0; i < 8; i++) {
      await env.clock.advance(5_000);
      await call(registration('b', ['orders'])); // b keeps registering, a went silent
    }
    const route = parseJsonBody<TopicRoute>(await call(request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'orders' })));
    expect(route.queueDatas.map((q) => q.brokerName)).toEqual(['b']);
    expect([...ns.routeTable().live.keys()]).toEqual(['broker.b.0']);
    await system.stop();
  });

  it('rejects malformed requests with a clear status and keeps serving', async () => {
    const { system, call } = await setupNs();
    const noHeader = await call(request(RequestCode.REGISTER_BROKER, {}, jsonBody({})));
    expect(noHeader.status).toBe(Status.BAD_FRAME);
    const badBody = await call(request(RequestCode.REGISTER_BROKER, { cluster: 'c1', brokerName: 'a', brokerId: 0, address: 'x' }, new Uint8Array([1, 2, 3])));
    expect(badBody.status).toBe(Status.BAD_FRAME);
    const badTopics = await call(request(RequestCode.REGISTER_BROKER, { cluster: 'c1', brokerName: 'a', brokerId: 0, address: 'x' }, jsonBody({ dataVersion: { timestamp: 1, counter: 1 }, topics: [{}] })));
    expect(badTopics.status).toBe(Status.BAD_FRAME);
    const unknown = await call(request(RequestCode.PULL_MESSAGE));
    expect(unknown.status).toBe(Status.REQUEST_CODE_NOT_SUPPORTED);
    expect((await call(registration('a', ['orders', 'TBW102']))).status).toBe(Status.OK);
    // the topics brokers need themselves are not deleted (a fuzzed delete once took auto-creation away)
    for (const topic of ['TBW102', 'SCHEDULE_TOPIC_XXXX', 'RMQ_SYS_TRANS_HALF_TOPIC']) {
      const refused = await call(request(RequestCode.DELETE_TOPIC_IN_NAMESRV, { topic }));
      expect(refused.status).toBe(Status.INVALID_ARGUMENT);
      expect(refused.header.error).toMatch(/cannot be deleted/);
    }
    expect((await call(request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'TBW102' }))).status).toBe(Status.OK);
    expect((await call(request(RequestCode.DELETE_TOPIC_IN_NAMESRV, { topic: 'orders' }))).status).toBe(Status.OK);
    await system.stop();
  });
});
