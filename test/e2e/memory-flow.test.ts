import type { Consumer, MqSystem, SendResult } from '../../index.js';
import { Status } from '../../core/status.js';
import { FAST, Received, createTopic, eventually, memorySystem, spawnRecordingConsumer, startCluster } from './support.js';

/**
 * The whole message flow in one process on the memory transport: 2 name servers, 2 brokers, producers and a
 * consumer group, as a user embeds it.
 */
describe('end to end on the memory transport', () => {
  let system: MqSystem;
  afterEach(async () => {
    await system?.stop();
  });

  it.each(['mixed', 'per-queue'] as const)('delivers every acknowledged message exactly once to a group of 3 consumers fed by 3 producers (%s store)', async (storeMode) => {
    system = await memorySystem();
    const brokers = await startCluster(system, { namesrv: ['ns-1', 'ns-2'], brokers: ['broker-a', 'broker-b'], storeMode });
    await createTopic(system, brokers.map((b) => b.address), 'orders');
    const producers = await Promise.all([1, 2, 3].map((i) => system.spawnProducer({ group: 'pg', namesrv: ['ns-1', 'ns-2'], ...FAST.client, clientId: `p${i}` })));
    const received = new Received();
    const consumers: Consumer[] = [];
    for (const c of ['c1', 'c2', 'c3']) consumers.push(await spawnRecordingConsumer(system, received, c, { group: 'billing', namesrv: ['ns-1', 'ns-2'], subscribe: { orders: '*' } }));
    // within one rebalance interval the 8 queues are shared by the 3 members
    await eventually(() => consumers.every((c) => c.assignment().filter((q) => q.topic === 'orders').length >= 2), 5_000, 'queues shared by the group');
    const acked: SendResult[] = [];
    await Promise.all(
      producers.map(async (p, i) => {
        for (let n = 0; n < 100; n++) acked.push(await p.send({ topic: 'orders', tags: 'paid', body: Buffer.from(`p${i}-${n}`) }));
      }),
    );
    expect(new Set(acked.map((r) => r.queue.brokerName))).toEqual(new Set(['broker-a', 'broker-b']));
    await eventually(() => received.all().length >= 300, 20_000, '300 messages');
    // a little longer: nothing more (no duplicate) arrives without a fault
    await new Promise((r) => setTimeout(r, 500));
    const bodies = received.bodies();
    expect(bodies.length).toBe(300);
    expect(new Set(bodies).size).toBe(300);
    // the work was shared
    const counts = [...received.byConsumer.values()].map((l) => l.length);
    expect(counts.filter((n) => n > 0).length).toBe(3);
    // the store is laid out as asked: a log per queue, or one for all
    expect(system.env.storage.list('/data/broker-a')).toContain(storeMode === 'per-queue' ? 'logs' : 'commitlog');
  });

  it('broadcasting delivers every message to every member; tag filters deliver only matching messages', async () => {
    system = await memorySystem();
    await startCluster(system, { namesrv: ['ns-1'], brokers: ['broker-a'] });
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client });
    for (let n = 0; n < 40; n++) await producer.send({ topic: 'events', tags: n % 2 === 0 ? 'A' : 'B', body: Buffer.from(`e${n}`) });
    const everyone = new Received();
    for (const c of ['b1', 'b2']) await spawnRecordingConsumer(system, everyone, c, { group: 'audit', namesrv: ['ns-1'], subscribe: { events: '*' }, model: 'BROADCASTING' });
    const onlyA = new Received();
    await spawnRecordingConsumer(system, onlyA, 'fa', { group: 'only-a', namesrv: ['ns-1'], subscribe: { events: 'A' } });
    await eventually(() => everyone.bodies('b1').length >= 40 && everyone.bodies('b2').length >= 40 && onlyA.all().length >= 20, 15_000, 'broadcast and filtered delivery');
    expect(new Set(everyone.bodies('b1')).size).toBe(40);
    expect(new Set(everyone.bodies('b2')).size).toBe(40);
    await new Promise((r) => setTimeout(r, 300));
    expect(onlyA.all().every((m) => m.tags === 'A')).toBe(true);
    expect(onlyA.all().length).toBe(20);
  });

  it('rejects bad input with a clear status and keeps serving', async () => {
    system = await memorySystem();
    await startCluster(system, { namesrv: ['ns-1'], brokers: ['broker-a'] });
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client, maxMessageBytes: 1024 });
    await expect(producer.send({ topic: '../etc', body: Buffer.from('x') })).rejects.toMatchObject({ status: Status.MESSAGE_ILLEGAL, message: expect.stringMatching(/topic/) });
    await expect(producer.send({ topic: 'big', body: Buffer.alloc(2048) })).rejects.toMatchObject({ status: Status.MESSAGE_TOO_LARGE });
    const ok = await producer.send({ topic: 'fine', body: Buffer.from('still serving') });
    expect(ok.status).toBe('SEND_OK');
  });
});
