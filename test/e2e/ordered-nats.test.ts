import { type Consumer, type MqSystem, type Producer } from '../../index.js';
import { FAST, createTopic, eventually, sleep } from './support.js';
import { NatsCluster } from './nats-cluster.js';
import { OrderHistory } from './ordered-support.js';

/**
 * Ordered messages across processes over NATS: a name server and two brokers are `mq namesrv` / `mq broker`
 * processes (they serve LOCK_BATCH_MQ); orderly consumers in this process join and leave while keyed messages
 * flow, and every listener call is recorded.
 */
describe('ordered messages over NATS with the name server and brokers in their own processes', () => {
  const cluster = new NatsCluster('ord', ['ns-1'], 'async');
  let system: MqSystem;

  beforeAll(async () => {
    await cluster.start(['broker-a', 'broker-b']);
    system = cluster.system;
  }, 60_000);

  afterAll(() => cluster.stop(), 30_000);

  it('100 keys x 100 messages, 4 orderly consumers joining and leaving: per-key order holds, no queue processed by two at once', async () => {
    await createTopic(system, ['broker.broker-a.0', 'broker.broker-b.0'], 'ordered-nats', 4);
    const history = new OrderHistory();
    // a real asynchronous gap per call (timed with performance.now), without a timer's millisecond per message
    const work = async () => {
      await new Promise((r) => setImmediate(r));
      return 'SUCCESS' as const;
    };
    const spawn = (name: string) =>
      system.spawnConsumer({
        ...FAST.client,
        ...FAST.consumer,
        group: 'ordered-nats-g',
        namesrv: ['ns-1'],
        subscribe: { 'ordered-nats': '*' },
        clientId: name,
        orderly: true,
        lockRenewMs: 1000,
        suspendMs: 200,
        listener: history.listener(name, () => performance.now(), work),
      });
    const producer: Producer = await system.spawnProducer({ group: 'ordered-pg', namesrv: ['ns-1'], ...FAST.client, clientId: 'ord-p1', sendTimeoutMs: 2000 });
    const consumers = new Map<string, Consumer>();
    consumers.set('o1', await spawn('o1'));
    consumers.set('o2', await spawn('o2'));
    const sending = Promise.all(
      Array.from({ length: 100 }, async (_, k) => {
        for (let s = 0; s < 100; s++) {
          await producer.send({ topic: 'ordered-nats', shardingKey: `k${k}`, body: Buffer.from(`k${k}:${s}`) });
          await sleep(10);
        }
      }),
    );
    await sleep(300);
    consumers.set('o3', await spawn('o3'));
    await sleep(300);
    consumers.set('o4', await spawn('o4'));
    await sleep(300);
    await consumers.get('o1')!.stop();
    await sleep(300);
    await consumers.get('o3')!.stop();
    await sending;
    await eventually(() => history.complete(100, 100), 100_000, 'every keyed message processed');

    const want = Array.from({ length: 100 }, (_, i) => i);
    const firstSeen = history.firstSeen();
    expect(firstSeen.size).toBe(100);
    for (const [key, seqs] of firstSeen) expect({ key, seqs }).toEqual({ key, seqs: want });
    expect(history.overlaps()).toEqual([]);
    expect(new Set(history.calls.map((c) => c.consumer))).toEqual(new Set(['o1', 'o2', 'o3', 'o4']));
    for (const c of consumers.values()) await c.stop();
    await producer.stop();
  }, 150_000);
});
