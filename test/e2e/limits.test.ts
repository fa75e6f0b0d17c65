import { memoryNetwork, memoryStorage, memoryTransport, startSystem, type MqSystem, type SendResult } from '../../index.js';
import { Status, StatusError } from '../../core/status.js';
import { allocateAveragely, allocateAveragelyByCircle, allocateConsistentHash } from '../../actors/consumer/rebalance.js';
import { queueKey, type MessageQueue } from '../../core/message.js';
import { FAST, Received, createTopic, eventually, memorySystem, spawnRecordingConsumer, startCluster } from './support.js';

/** Back pressure of async sends, and one client id per consumer. */
describe('limits end to end', () => {
  let system: MqSystem;
  afterEach(async () => {
    await system?.stop();
  });

  it('async sends past maxInflightSends are refused at once with SYSTEM_BUSY; the accepted ones all succeed', async () => {
    system = await memorySystem();
    const brokers = await startCluster(system, { namesrv: ['ns-1'], brokers: ['broker-a'] });
    await createTopic(system, brokers.map((b) => b.address), 'burst');
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client, maxInflightSends: 50 });
    await producer.send({ topic: 'burst', body: Buffer.from('warm-up') });
    const outcomes = Array.from({ length: 500 }, (_, i) =>
      producer.send({ topic: 'burst', body: Buffer.from(`m${i}`) }).then(
        (r): SendResult | StatusError => r,
        (e: unknown) => e as StatusError,
      ),
    );
    // refused ones are refused at once: settled before any broker answer
    const refusedAtOnce = await Promise.race([Promise.all(outcomes.slice(50)), new Promise<'late'>((r) => setImmediate(() => r('late')))]);
    expect(refusedAtOnce).not.toBe('late');
    const results = await Promise.all(outcomes);
    const ok = results.filter((r): r is SendResult => !(r instanceof Error));
    const busy = results.filter((r): r is StatusError => r instanceof Error);
    expect(ok.length).toBe(50);
    expect(ok.every((r) => r.status === 'SEND_OK')).toBe(true);
    expect(busy.length).toBe(450);
    expect(busy.every((e) => e instanceof StatusError && e.status === Status.SYSTEM_BUSY)).toBe(true);
    expect(busy[0]!.message).toMatch(/maxInflightSends 50/);
    expect(() => producer.sendOneway({ topic: 'burst', body: Buffer.from('x') })).not.toThrow();
    // once the sends in flight are answered, sending works again
    const later = await producer.send({ topic: 'burst', body: Buffer.from('after') });
    expect(later.status).toBe('SEND_OK');
  });

  it('sends to a broker that does not answer are bounded too', async () => {
    system = await memorySystem();
    const [broker] = await startCluster(system, { namesrv: ['ns-1'], brokers: ['broker-a'] });
    await createTopic(system, [broker!.address], 'slow');
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client, maxInflightSends: 20, sendTimeoutMs: 800, retries: 0 });
    await producer.send({ topic: 'slow', body: Buffer.from('warm-up') });
    // the broker's address now swallows requests without answering
    system.actors.unhost(broker!.address);
    const blackHole = system.env.transport.inbox(broker!.address).subscribe(() => undefined);
    const pending = Array.from({ length: 20 }, (_, i) => producer.send({ topic: 'slow', body: Buffer.from(`s${i}`) }).catch((e: unknown) => e));
    await expect(producer.send({ topic: 'slow', body: Buffer.from('one too many') })).rejects.toMatchObject({ status: Status.SYSTEM_BUSY });
    expect(() => producer.sendOneway({ topic: 'slow', body: Buffer.from('one-way too') })).toThrow(/maxInflightSends 20/);
    const settled = await Promise.all(pending);
    expect(settled.every((e) => e instanceof Error)).toBe(true); // timed out, not queued forever
    blackHole.unsubscribe();
  });

  it('pulls stay below the transport frame limit: a 1024-message pull of 1 KiB messages on a 64 KiB transport', async () => {
    system = await startSystem({ transport: memoryTransport({ maxPayload: 64 * 1024 }), storage: (deps) => memoryStorage(deps) });
    const [broker] = await startCluster(system, { namesrv: ['ns-1'], brokers: ['broker-a'] });
    await createTopic(system, [broker!.address], 'wide', 1);
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client });
    const body = Buffer.alloc(1024, 7);
    for (let i = 0; i < 300; i += 30) await producer.sendBatch(Array.from({ length: 30 }, () => ({ topic: 'wide', body })));
    const received = new Received();
    const pulled: number[] = [];
    const consumer = await system.spawnConsumer({
      ...FAST.client,
      ...FAST.consumer,
      group: 'wide-g',
      namesrv: ['ns-1'],
      subscribe: { wide: '*' },
      consumeFrom: 'first',
      pullBatch: 1024,
      consumeBatchSize: 1024,
      maxCachedMessagesPerQueue: 4096,
      listener: (msgs) => {
        pulled.push(msgs.length);
        received.add('c', msgs);
        return 'SUCCESS';
      },
    });
    await eventually(() => received.all().length >= 300, 10_000, '300 messages');
    expect(received.all().length).toBe(300);
    // each pull reply carried at most what fits in 32 KiB of records
    expect(Math.max(...pulled)).toBeLessThanOrEqual(32);
    await consumer.stop();
  });

  it('a second consumer with the same client id is refused with a clear error', async () => {
    system = await memorySystem();
    const brokers = await startCluster(system, { namesrv: ['ns-1'], brokers: ['broker-a'] });
    await createTopic(system, brokers.map((b) => b.address), 'shared');
    const received = new Received();
    const first = await spawnRecordingConsumer(system, received, 'same-id', { group: 'g', namesrv: ['ns-1'], subscribe: { shared: '*' } });
    await expect(spawnRecordingConsumer(system, received, 'same-id', { group: 'g', namesrv: ['ns-1'], subscribe: { shared: '*' } })).rejects.toMatchObject({
      status: Status.INVALID_ARGUMENT,
      message: expect.stringMatching(/client id "same-id" is already used/),
    });
    const other = await spawnRecordingConsumer(system, received, 'other-id', { group: 'g', namesrv: ['ns-1'], subscribe: { shared: '*' } });
    const shared = (c: typeof first) => c.assignment().filter((q) => q.topic === 'shared');
    await eventually(() => shared(first).length === 2 && shared(other).length === 2, 5_000, 'queues shared by two members');
    const keys = [...shared(first), ...shared(other)].map(queueKey);
    expect(new Set(keys).size).toBe(4);
  });

  it('a consumer whose client id a live member of its group uses in another process is refused by the broker; the id is free once that member stops', async () => {
    const network = memoryNetwork();
    system = await startSystem({ transport: memoryTransport({ network }), storage: (deps) => memoryStorage(deps) });
    const brokers = await startCluster(system, { namesrv: ['ns-1'], brokers: ['broker-a'] });
    await createTopic(system, brokers.map((b) => b.address), 'shared');
    // a second process on the same network: its own actor system, so only the broker can tell
    const other = await startSystem({ transport: memoryTransport({ network }), storage: (deps) => memoryStorage(deps) });
    try {
      const received = new Received();
      const opts = { group: 'g', namesrv: ['ns-1'], subscribe: { shared: '*' } };
      const holder = await spawnRecordingConsumer(system, received, 'same-id', opts);
      await eventually(() => holder.assignment().filter((q) => q.topic === 'shared').length === 4, 5_000, 'the holder owns every queue');
      await expect(spawnRecordingConsumer(other, received, 'same-id', opts)).rejects.toMatchObject({
        status: Status.CLIENT_ID_CONFLICT,
        message: expect.stringMatching(/client id "same-id" is already used in consumer group g by another live client/),
      });
      // the refused one left nothing behind: the holder keeps its queues and stays the only member
      const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client });
      for (let i = 0; i < 8; i++) await producer.send({ topic: 'shared', body: Buffer.from(`m${i}`) });
      await eventually(() => received.bodies('same-id').length >= 8, 5_000, 'the holder consumed');
      expect(holder.assignment().filter((q) => q.topic === 'shared').length).toBe(4);
      // once the holder stops, the id is free in g
      await holder.stop();
      const again = await spawnRecordingConsumer(other, received, 'same-id', opts);
      await eventually(() => again.assignment().filter((q) => q.topic === 'shared').length === 4, 5_000, 'the new holder owns every queue');
      await again.stop();
    } finally {
      await other.stop();
    }
  });

  it('rebalance de-duplicates member ids: every queue has exactly one owner', () => {
    const mqs: MessageQueue[] = [];
    for (const brokerName of ['a', 'b']) for (let queueId = 0; queueId < 4; queueId++) mqs.push({ topic: 't', brokerName, queueId });
    const cids = ['c2', 'c1', 'c2', 'c3', 'c1'];
    for (const strategy of [allocateAveragely, allocateAveragelyByCircle, allocateConsistentHash]) {
      const owners = new Map<string, string[]>();
      for (const cid of new Set(cids)) for (const mq of strategy('g', cid, [...mqs, ...mqs], cids)) owners.set(queueKey(mq), [...(owners.get(queueKey(mq)) ?? []), cid]);
      expect(owners.size).toBe(8);
      expect([...owners.values()].every((o) => o.length === 1)).toBe(true);
    }
    // same answer as without duplicates
    expect(allocateAveragely('g', 'c2', mqs, cids)).toEqual(allocateAveragely('g', 'c2', mqs, ['c1', 'c2', 'c3']));
  });
});
