import type { Consumer, MqSystem } from '../../index.js';
import { RequestCode } from '../../actors/protocol/request-codes.js';
import { request } from '../../actors/protocol/replies.js';
import { FAST, Received, createTopic, duplicates, eventually, memorySystem, sleep, spawnRecordingConsumer, startCluster } from './support.js';

/** Committed offsets survive broker restarts; stopping a consumer mid-batch neither skips nor multiplies messages. */
describe('offsets across restarts', () => {
  let system: MqSystem;
  afterEach(async () => {
    await system?.stop();
  });

  it('a restarted broker keeps every group\'s committed offsets: nothing consumed is delivered again', async () => {
    system = await memorySystem();
    const [broker] = await startCluster(system, { namesrv: ['ns-1'], brokers: ['broker-a'] });
    await createTopic(system, [broker!.address], 'keep', 4);
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client });
    for (let i = 0; i < 100; i++) await producer.send({ topic: 'keep', body: Buffer.from(`a-${i}`) });
    const groups = ['g1', 'g2'];
    const first = new Received();
    const consumers: Consumer[] = [];
    for (const g of groups) consumers.push(await spawnRecordingConsumer(system, first, `${g}-c`, { group: g, namesrv: ['ns-1'], subscribe: { keep: '*' } }));
    await eventually(() => groups.every((g) => first.bodies(`${g}-c`).length >= 100), 10_000, 'both groups consumed the first 100');
    // one group stays running through the restart, the other is stopped before it
    await consumers[1]!.stop();
    await sleep(FAST.consumer.commitIntervalMs * 2 + FAST.broker.offsetPersistMs);
    const before = first.all().length;
    await broker!.stop();
    const again = await system.spawnBroker({ name: 'broker-a', namesrv: ['ns-1'], storeDir: '/data/broker-a', ...FAST.broker });
    await again.whenServing();
    for (let i = 0; i < 50; i++) await producer.send({ topic: 'keep', body: Buffer.from(`b-${i}`) });
    const second = new Received();
    await spawnRecordingConsumer(system, second, 'g2-c2', { group: 'g2', namesrv: ['ns-1'], subscribe: { keep: '*' } });
    await eventually(() => second.bodies().filter((b) => b.startsWith('b-')).length >= 50, 10_000, 'g2 got the new messages');
    await eventually(() => first.bodies('g1-c').filter((b) => b.startsWith('b-')).length >= 50, 10_000, 'g1 got the new messages');
    await sleep(500);
    // nothing of the first 100 again, in either group
    expect(second.bodies().filter((b) => b.startsWith('a-'))).toEqual([]);
    expect(first.all().length - before).toBe(50);
    expect(duplicates(second.bodies()).extra).toBe(0);
    // a group that did not exist is not affected: it reads from the first offset
    const fresh = new Received();
    await spawnRecordingConsumer(system, fresh, 'g3-c', { group: 'g3', namesrv: ['ns-1'], subscribe: { keep: '*' } });
    await eventually(() => fresh.all().length >= 150, 10_000, 'a new group reads everything');
  });

  it('a consumer stopped mid-batch 3 times neither skips nor multiplies messages, and sends nothing back for retry', async () => {
    system = await memorySystem();
    const [broker] = await startCluster(system, { namesrv: ['ns-1'], brokers: ['broker-a'] });
    await createTopic(system, [broker!.address], 'slow', 2);
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client });
    const total = 120;
    for (let i = 0; i < total; i++) await producer.send({ topic: 'slow', body: Buffer.from(`s-${i}`) });
    const received = new Received();
    const started: string[] = [];
    const spawnSlow = (name: string) =>
      system.spawnConsumer({
        ...FAST.client,
        ...FAST.consumer,
        group: 'slow-g',
        namesrv: ['ns-1'],
        subscribe: { slow: '*' },
        clientId: name,
        pullBatch: 16,
        listener: async (msgs) => {
          started.push(...msgs.map((m) => Buffer.from(m.body).toString()));
          await sleep(15); // slow: a stop lands while a pulled batch is being processed
          received.add(name, msgs);
          return 'SUCCESS' as const;
        },
      });
    const restarts = 3;
    for (let r = 0; r < restarts; r++) {
      const c = await spawnSlow(`slow-${r}`);
      const at = received.all().length;
      await eventually(() => received.all().length >= at + 20, 5_000, `run ${r} made progress`);
      await c.stop(); // mid-batch: 16 pulled per queue, 20 done
    }
    await spawnSlow('slow-last');
    await eventually(() => new Set(received.bodies()).size >= total, 10_000, 'every message consumed');
    await sleep(500);
    const bodies = received.bodies();
    const { distinct, extra } = duplicates(bodies);
    process.stderr.write(`stop mid-batch: ${bodies.length} deliveries of ${distinct} messages, ${extra} duplicates over ${restarts} stops\n`);
    expect(distinct).toBe(total);
    // bounded by the in-flight window (the message being processed at each stop), never multiplied
    expect(extra).toBeLessThanOrEqual(restarts * 2);
    expect(Math.max(...[...countBy(bodies).values()])).toBeLessThanOrEqual(2);
    // nothing was sent back for retry
    const retry = await system.env.transport.request(broker!.address, request(RequestCode.GET_MAX_OFFSET, { topic: '%RETRY%slow-g', queueId: 0 }));
    expect(retry.header.offset ?? 0).toBe(0);
  });
});

function countBy(xs: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}
