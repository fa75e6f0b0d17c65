import { type Consumer, type MqSystem, type Producer, type SendResult } from '../../index.js';
import { FAST, Received, createTopic, duplicates, eventually, produceContinuously, sleep, spawnRecordingConsumer } from './support.js';
import { NatsCluster } from './nats-cluster.js';

/**
 * The whole flow across processes over NATS: name servers and brokers are `mq namesrv` / `mq broker`
 * processes; producers and consumers run in this process on their own NATS connection.
 */
describe('end to end over NATS with name servers and brokers in their own processes', () => {
  const cluster = new NatsCluster('e2e', ['ns-1', 'ns-2'], 'sync');
  const procs = cluster.procs;
  let system: MqSystem;
  const startBroker = (name: string) => cluster.startBroker(name);

  beforeAll(async () => {
    await cluster.start(['broker-a', 'broker-b']);
    system = cluster.system;
  }, 60_000);

  afterAll(() => cluster.stop(), 30_000);

  const namesrv = ['ns-1', 'ns-2'];
  const producerOpts = (i: number) => ({ group: 'pg', namesrv, ...FAST.client, clientId: `nats-p${i}`, sendTimeoutMs: 1000 });

  async function sendAll(producers: Producer[], topic: string, perProducer: number, tag: string): Promise<SendResult[]> {
    const acked: SendResult[] = [];
    await Promise.all(
      producers.map(async (p, i) => {
        for (let n = 0; n < perProducer; n++) acked.push(await p.send({ topic, tags: tag, body: Buffer.from(`${tag}-p${i}-${n}`) }));
      }),
    );
    return acked;
  }

  it('delivers every acknowledged message exactly once to a group of 3 consumers fed by 3 producers', async () => {
    await createTopic(system, ['broker.broker-a.0', 'broker.broker-b.0'], 'nats-orders');
    const producers = await Promise.all([1, 2, 3].map((i) => system.spawnProducer(producerOpts(i))));
    const received = new Received();
    const consumers: Consumer[] = [];
    for (const c of ['n1', 'n2', 'n3']) consumers.push(await spawnRecordingConsumer(system, received, c, { group: 'nats-billing', namesrv, subscribe: { 'nats-orders': '*' } }));
    await eventually(() => consumers.every((c) => c.assignment().filter((q) => q.topic === 'nats-orders').length >= 2), 10_000, 'queues shared by the group');
    const acked = await sendAll(producers, 'nats-orders', 100, 'flow');
    expect(new Set(acked.map((r) => r.queue.brokerName))).toEqual(new Set(['broker-a', 'broker-b']));
    await eventually(() => received.all().length >= 300, 20_000, '300 messages');
    await new Promise((r) => setTimeout(r, 500));
    expect(received.bodies().length).toBe(300);
    expect(new Set(received.bodies()).size).toBe(300);
    expect([...received.byConsumer.values()].filter((l) => l.length > 0).length).toBe(3);
    for (const c of consumers) await c.stop();
    for (const p of producers) await p.stop();
  }, 60_000);

  it('broadcasts to every member, filters by tag, and moves queues when a member joins or leaves', async () => {
    await createTopic(system, ['broker.broker-a.0', 'broker.broker-b.0'], 'nats-events', 2);
    const producer = await system.spawnProducer(producerOpts(7));
    const everyone = new Received();
    const onlyA = new Received();
    const grouped = new Received();
    const bOpts = { group: 'nats-audit', namesrv, subscribe: { 'nats-events': '*' }, model: 'BROADCASTING' as const };
    const b1 = await spawnRecordingConsumer(system, everyone, 'nb1', bOpts);
    const b2 = await spawnRecordingConsumer(system, everyone, 'nb2', bOpts);
    const fa = await spawnRecordingConsumer(system, onlyA, 'nfa', { group: 'nats-only-a', namesrv, subscribe: { 'nats-events': 'A' } });
    const gOpts = { group: 'nats-moving', namesrv, subscribe: { 'nats-events': '*' } };
    const g1 = await spawnRecordingConsumer(system, grouped, 'ng1', gOpts);
    const mine = (c: Consumer) => c.assignment().filter((q) => q.topic === 'nats-events').length;
    await eventually(() => mine(g1) === 4 && mine(b1) === 4 && mine(b2) === 4, 10_000, 'assignments');

    const load = produceContinuously(producer, 'nats-events', 'ev', 2);
    await sleep(400);
    const g2 = await spawnRecordingConsumer(system, grouped, 'ng2', gOpts);
    await eventually(() => mine(g1) === 2 && mine(g2) === 2, FAST.consumer.rebalanceIntervalMs + FAST.client.heartbeatIntervalMs + 2_000, 'a joining member takes half the queues');
    await sleep(400);
    await g1.stop();
    await eventually(() => mine(g2) === 4, FAST.consumer.rebalanceIntervalMs + FAST.client.heartbeatIntervalMs + 2_000, 'the remaining member takes the queues of the one that left');
    await sleep(300);
    await load.stop();
    expect(load.failed).toEqual([]);
    // tags: the producer alternates nothing, so send a tagged set too
    for (let n = 0; n < 20; n++) await producer.send({ topic: 'nats-events', tags: n % 2 === 0 ? 'A' : 'B', body: Buffer.from(`tagged-${n}`) });

    const sent = new Set([...load.acked, ...Array.from({ length: 20 }, (_, n) => `tagged-${n}`)]);
    const has = (r: Received, who?: string) => () => {
      const got = new Set(r.bodies(who));
      return [...sent].every((b) => got.has(b));
    };
    await eventually(has(everyone, 'nb1'), 15_000, 'broadcast member 1 got everything');
    await eventually(has(everyone, 'nb2'), 15_000, 'broadcast member 2 got everything');
    await eventually(has(grouped), 15_000, 'the moving group got everything');
    await eventually(() => onlyA.bodies().filter((b) => b.startsWith('tagged-')).length >= 10, 15_000, 'tag A messages');
    await sleep(300);
    expect(onlyA.all().every((m) => m.tags === 'A')).toBe(true);
    expect(new Set(onlyA.bodies()).size).toBe(10);
    expect(duplicates(grouped.bodies()).extra).toBeLessThanOrEqual(64);
    for (const c of [b1, b2, fa, g2]) await c.stop();
    await producer.stop();
  }, 60_000);

  it('survives a broker killed mid-run and a name server killed: nothing acknowledged is lost', async () => {
    await createTopic(system, ['broker.broker-a.0', 'broker.broker-b.0'], 'nats-payments');
    const producers = await Promise.all([4, 5].map((i) => system.spawnProducer(producerOpts(i))));
    const received = new Received();
    const consumer = await spawnRecordingConsumer(system, received, 'k1', { group: 'nats-ledger', namesrv, subscribe: { 'nats-payments': '*' } });
    const before = await sendAll(producers, 'nats-payments', 50, 'before');

    procs.get('broker-b')!.kill('SIGKILL');
    await procs.get('broker-b')!.waitForExit(5_000);
    // producers route around the dead broker: every send still succeeds (retries go to broker-a)
    const during = await sendAll(producers, 'nats-payments', 50, 'during');
    expect(during.filter((r) => r.queue.brokerName === 'broker-a').length).toBeGreaterThan(50);

    // one name server goes away too; clients carry on with the other
    procs.get('ns-1')!.kill('SIGKILL');
    const late = await system.spawnProducer(producerOpts(6));
    const after = await sendAll([late], 'nats-payments', 20, 'after');

    await startBroker('broker-b'); // same store directory: its acknowledged messages come back
    const acked = [...before, ...during, ...after];
    const want = new Set(acked.map((r) => r.msgId));
    const got = () => new Set(received.all().map((m) => m.msgId));
    await eventually(() => [...want].every((id) => got().has(id)), 30_000, `all ${want.size} acknowledged messages consumed`);
    await consumer.stop();
    for (const p of [...producers, late]) await p.stop();
  }, 90_000);
});
