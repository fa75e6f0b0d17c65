import { MqSystem, type Consumer, type MessageExt, type Producer } from '../../index.js';
import type { SimEnvironment } from '../../actors/runtime/environment.js';
import { jsonBody, expectOk, request } from '../../actors/protocol/replies.js';
import { RequestCode } from '../../actors/protocol/request-codes.js';
import { PERM_READ_WRITE } from '../../actors/protocol/route.js';
import { FAST } from './support.js';
import { OrderHistory } from './ordered-support.js';
import { driveOn, simMqSystem } from './sim-support.js';

/**
 * Ordered messages on simulated time: producers send with a sharding key, orderly consumers join and leave
 * while the messages flow; every listener call is recorded on the virtual clock.
 */
describe('ordered messages on simulated time', () => {
  let env: SimEnvironment;
  let system: MqSystem;

  const drive = <T>(p: Promise<T>, deadlineMs?: number): Promise<T> => driveOn(env, p, deadlineMs);
  const vsleep = (ms: number) => new Promise<void>((r) => env.clock.setTimeout(r, ms));

  async function start(brokers: string[]): Promise<void> {
    ({ env, system } = await simMqSystem(11));
    await drive(system.spawnNameServer({ id: 'ns-1', scanIntervalMs: 500, brokerExpiryMs: 3000 }));
    for (const name of brokers) {
      const b = await drive(system.spawnBroker({ name, namesrv: ['ns-1'], storeDir: `/data/${name}`, ...FAST.broker }));
      await drive(b.whenServing());
      const body = jsonBody({ topicName: 'orders', readQueueNums: 4, writeQueueNums: 4, perm: PERM_READ_WRITE, topicSysFlag: 0 });
      expectOk(await drive(env.transport.request(b.address, request(RequestCode.UPDATE_AND_CREATE_TOPIC, {}, body))), 'create topic');
    }
  }

  afterEach(async () => {
    if (system) await drive(system.stop());
  });

  const consumerOpts = { ...FAST.client, ...FAST.consumer, group: 'ordered-g', namesrv: ['ns-1'], subscribe: { orders: '*' }, orderly: true, lockRenewMs: 500, suspendMs: 200 };

  /** Each key's messages one after another (each send waits for the previous one's acknowledgement). */
  function produce(producer: Producer, keys: number, perKey: number, pauseMs: number): Promise<void> {
    return Promise.all(
      Array.from({ length: keys }, async (_, k) => {
        for (let s = 0; s < perKey; s++) {
          await producer.send({ topic: 'orders', shardingKey: `k${k}`, body: Buffer.from(`k${k}:${s}`) });
          await vsleep(pauseMs);
        }
      }),
    ).then(() => undefined);
  }

  it('100 keys x 100 messages, 4 consumers joining and leaving: per-key order holds and no queue is processed by two at once', async () => {
    await start(['broker-a', 'broker-b']);
    const history = new OrderHistory();
    const work = async () => {
      await vsleep(1);
      return 'SUCCESS' as const;
    };
    const spawn = (name: string) =>
      drive(system.spawnConsumer({ ...consumerOpts, clientId: name, consumeBatchSize: 2, listener: history.listener(name, () => env.clock.now(), work) }));
    const producer = await drive(system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client }));
    const consumers = new Map<string, Consumer>();
    consumers.set('c1', await spawn('c1'));
    consumers.set('c2', await spawn('c2'));
    let sent = false;
    const sending = produce(producer, 100, 100, 20).then(() => (sent = true));
    sending.catch(() => undefined);
    await env.clock.advance(500);
    consumers.set('c3', await spawn('c3'));
    await env.clock.advance(400);
    consumers.set('c4', await spawn('c4'));
    await env.clock.advance(400);
    await drive(consumers.get('c1')!.stop());
    await env.clock.advance(400);
    await drive(consumers.get('c3')!.stop());
    expect(await env.clock.runUntil(() => sent, 60_000)).toBe(true);
    await sending;
    expect(await env.clock.runUntil(() => history.complete(100, 100), 60_000)).toBe(true);

    const firstSeen = history.firstSeen();
    expect(firstSeen.size).toBe(100);
    const want = Array.from({ length: 100 }, (_, i) => i);
    for (const [key, seqs] of firstSeen) expect({ key, seqs }).toEqual({ key, seqs: want });
    expect(history.overlaps()).toEqual([]);
    // the queues moved between consumers while messages were processed
    const byQueue = new Map<string, Set<string>>();
    for (const c of history.calls) byQueue.set(c.queue, (byQueue.get(c.queue) ?? new Set()).add(c.consumer));
    expect(byQueue.size).toBe(8);
    expect([...byQueue.values()].some((s) => s.size >= 2)).toBe(true);
    expect(new Set(history.calls.map((c) => c.consumer))).toEqual(new Set(['c1', 'c2', 'c3', 'c4']));
    expect(history.calls.every((c) => c.bodies.length <= 2)).toBe(true);
  }, 60_000);

  it('a message that fails twice is retried locally after suspendMs; its key does not move on meanwhile', async () => {
    await start(['broker-a']);
    const history = new OrderHistory();
    const failures = new Map<string, number>();
    const seen: { at: number; body: string; reconsume: number }[] = [];
    const work = async (msgs: MessageExt[]) => {
      const body = Buffer.from(msgs[0]!.body).toString();
      seen.push({ at: env.clock.now(), body, reconsume: msgs[0]!.reconsumeTimes });
      await vsleep(1);
      if (body === 'k1:3') {
        const n = (failures.get(body) ?? 0) + 1;
        failures.set(body, n);
        if (n <= 2) return n === 1 ? ('RETRY' as const) : Promise.reject(new Error('listener failure'));
      }
      return 'SUCCESS' as const;
    };
    const producer = await drive(system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client }));
    await drive(produce(producer, 4, 10, 0));
    await drive(system.spawnConsumer({ ...consumerOpts, clientId: 'solo', listener: history.listener('solo', () => env.clock.now(), work) }));
    expect(await env.clock.runUntil(() => history.complete(4, 10), 30_000)).toBe(true);
    await env.clock.advance(2_000);
    const k1 = seen.filter((s) => s.body.startsWith('k1:'));
    expect(k1.map((s) => s.body)).toEqual(['k1:0', 'k1:1', 'k1:2', 'k1:3', 'k1:3', 'k1:3', 'k1:4', 'k1:5', 'k1:6', 'k1:7', 'k1:8', 'k1:9']);
    expect(k1.filter((s) => s.body === 'k1:3').map((s) => s.reconsume)).toEqual([0, 1, 2]);
    const tries = k1.filter((s) => s.body === 'k1:3');
    for (let i = 1; i < tries.length; i++) expect(tries[i]!.at - tries[i - 1]!.at).toBeGreaterThanOrEqual(200);
    // no message is processed twice without a failure
    expect(seen.length).toBe(42);
    for (const [, seqs] of history.firstSeen()) expect(seqs).toEqual(Array.from({ length: 10 }, (_, i) => i));
  }, 30_000);

  it('an ordered send fails instead of moving to another broker; a selector picks the queue', async () => {
    await start(['broker-a', 'broker-b']);
    const producer = await drive(system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client, sendTimeoutMs: 500 }));
    const queues = await drive(producer.queues('orders'));
    expect(queues.length).toBe(8);
    const onB = queues.find((q) => q.brokerName === 'broker-b')!;
    const picked = await drive(producer.send({ topic: 'orders', body: Buffer.from('x') }, { selector: (qs) => qs.find((q) => q.brokerName === 'broker-b' && q.queueId === 2)! }));
    expect(picked.queue).toEqual({ ...onB, queueId: 2 });
    // a key that hashes to broker-b
    let key = 0;
    for (;;) {
      const r = await drive(producer.send({ topic: 'orders', shardingKey: `key-${key}`, body: Buffer.from('probe') }));
      if (r.queue.brokerName === 'broker-b') break;
      key++;
    }
    system.actors.unhost('broker.broker-b.0'); // broker-b stops answering
    // an unordered send goes around the dead broker; ordered ones fail
    const plain = await drive(producer.send({ topic: 'orders', body: Buffer.from('plain') }));
    expect(plain.queue.brokerName).toBe('broker-a');
    await expect(drive(producer.send({ topic: 'orders', shardingKey: `key-${key}`, body: Buffer.from('ordered') }))).rejects.toBeDefined();
    await expect(drive(producer.send({ topic: 'orders', body: Buffer.from('sel') }, { selector: () => onB }))).rejects.toBeDefined();
    await expect(drive(producer.send({ topic: 'orders', body: Buffer.from('bad') }, { selector: () => ({ topic: 'orders', brokerName: 'nope', queueId: 0 }) }))).rejects.toMatchObject({ message: expect.stringMatching(/selector/) });
  }, 30_000);

  it('a consumer that dies stops renewing: its locks run out and another member takes its queues, never overlapping', async () => {
    ({ env, system } = await simMqSystem(5));
    await drive(system.spawnNameServer({ id: 'ns-1', scanIntervalMs: 500, brokerExpiryMs: 3000 }));
    const b = await drive(system.spawnBroker({ name: 'broker-a', namesrv: ['ns-1'], storeDir: '/data/a', ...FAST.broker, queueLockLeaseMs: 4000 }));
    await drive(b.whenServing());
    const history = new OrderHistory();
    const work = async () => {
      await vsleep(5);
      return 'SUCCESS' as const;
    };
    const producer = await drive(system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client }));
    await drive(produce(producer, 10, 20, 0));
    await drive(system.spawnConsumer({ ...consumerOpts, clientId: 'd1', listener: history.listener('d1', () => env.clock.now(), work) }));
    await env.clock.advance(300);
    system.actors.unhost('client.d1'); // its machine stops: no heartbeats, no lock renewals
    const diedAt = env.clock.now();
    await drive(system.spawnConsumer({ ...consumerOpts, clientId: 'd2', listener: history.listener('d2', () => env.clock.now(), work) }));
    expect(await env.clock.runUntil(() => history.complete(10, 20), 30_000)).toBe(true);
    const d1 = history.calls.filter((c) => c.consumer === 'd1');
    const d2 = history.calls.filter((c) => c.consumer === 'd2');
    expect(d1.length).toBeGreaterThan(0);
    // d1's last lock renewal was at most lockRenewMs before it died; the broker keeps the lease 4 s after it
    expect(Math.min(...d2.map((c) => c.start))).toBeGreaterThanOrEqual(diedAt + 4000 - 500);
    expect(history.overlaps()).toEqual([]);
    for (const [, seqs] of history.firstSeen()) expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i));
  }, 30_000);

  it('a message failing more than maxReconsumeTimes goes to the dead-letter topic and the queue moves on', async () => {
    await start(['broker-a']);
    const history = new OrderHistory();
    const seen: string[] = [];
    const work = async (msgs: MessageExt[]) => {
      const body = Buffer.from(msgs[0]!.body).toString();
      seen.push(body);
      return body === 'k0:1' ? ('RETRY' as const) : ('SUCCESS' as const);
    };
    const producer = await drive(system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client }));
    await drive(produce(producer, 1, 4, 0));
    await drive(system.spawnConsumer({ ...consumerOpts, clientId: 'solo', maxReconsumeTimes: 2, listener: history.listener('solo', () => env.clock.now(), work) }));
    expect(await env.clock.runUntil(() => seen.includes('k0:3'), 30_000)).toBe(true);
    expect(seen).toEqual(['k0:0', 'k0:1', 'k0:1', 'k0:1', 'k0:2', 'k0:3']);
    await env.clock.advance(1000); // the dead-letter write is served once flushed (async flush)
    const pull = await drive(
      env.transport.request('broker.broker-a.0', request(RequestCode.PULL_MESSAGE, { consumerGroup: 'inspect', topic: '%DLQ%ordered-g', queueId: 0, queueOffset: 0, maxMsgNums: 8, subExpression: '*', suspendTimeoutMs: 0 })),
    );
    expect(pull.header.pullStatus).toBe('FOUND');
  }, 30_000);
});
