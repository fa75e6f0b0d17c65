import type { MqSystem } from '../../index.js';
import { FAST, Received, createTopic, duplicates, eventually, memorySystem, produceContinuously, sleep, spawnRecordingConsumer, startCluster } from './support.js';

/** A broker or a name server stopped mid-run. */
describe('fail-over end to end', () => {
  let system: MqSystem;
  afterEach(async () => {
    await system?.stop();
  });

  it('a stopped broker: sends go to the other one; after its restart its acknowledged messages are all consumed', async () => {
    system = await memorySystem();
    const [, brokerB] = await startCluster(system, { namesrv: ['ns-1', 'ns-2'], brokers: ['broker-a', 'broker-b'] });
    await createTopic(system, ['broker.broker-a.0', 'broker.broker-b.0'], 'ha', 4);
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1', 'ns-2'], ...FAST.client });
    const received = new Received();
    await spawnRecordingConsumer(system, received, 'c1', { group: 'ha-g', namesrv: ['ns-1', 'ns-2'], subscribe: { ha: '*' } });
    const load = produceContinuously(producer, 'ha', 'm', 2);
    await sleep(500);
    await brokerB!.stop();
    const stoppedAt = load.acked.length;
    await sleep(1_000);
    // sends kept succeeding, on broker-a
    expect(load.failed).toEqual([]);
    expect(load.acked.length).toBeGreaterThan(stoppedAt + 10);
    // the surviving broker's messages are consumed meanwhile
    const sinceStop = load.acked.slice(stoppedAt + 5);
    await eventually(() => {
      const got = new Set(received.bodies());
      return sinceStop.every((b) => got.has(b));
    }, 5_000, 'messages sent while broker-b was down');
    // broker-b comes back on its store
    const again = await system.spawnBroker({ name: 'broker-b', namesrv: ['ns-1', 'ns-2'], storeDir: '/data/broker-b', ...FAST.broker });
    await again.whenServing();
    await sleep(500);
    await load.stop();
    expect(load.failed).toEqual([]);
    const acked = new Set(load.acked);
    await eventually(() => {
      const got = new Set(received.bodies());
      return [...acked].every((b) => got.has(b));
    }, 10_000, 'every acknowledged message consumed after the restart');
    // a group that starts now reads everything from the first offset: broker-b's messages from before its stop too
    const late = new Received();
    await spawnRecordingConsumer(system, late, 'c-late', { group: 'ha-late', namesrv: ['ns-1', 'ns-2'], subscribe: { ha: '*' } });
    await eventually(() => {
      const got = new Set(late.bodies());
      return [...acked].every((b) => got.has(b));
    }, 10_000, 'every acknowledged message, from both brokers, consumed by a new group');
    expect(late.bodies().length).toBe(acked.size);
    const { extra } = duplicates(received.bodies());
    process.stderr.write(`broker fail-over: ${load.acked.length} acked, ${extra} duplicates\n`);
    expect(extra).toBeLessThanOrEqual(64);
  });

  it('a stopped name server: producers and consumers, old and new, carry on with the other', async () => {
    system = await memorySystem();
    const ns1 = await system.spawnNameServer({ id: 'ns-1', scanIntervalMs: 500, brokerExpiryMs: 3000 });
    await system.spawnNameServer({ id: 'ns-2', scanIntervalMs: 500, brokerExpiryMs: 3000 });
    for (const name of ['broker-a', 'broker-b']) {
      const b = await system.spawnBroker({ name, namesrv: ['ns-1', 'ns-2'], storeDir: `/data/${name}`, ...FAST.broker });
      await b.whenServing();
    }
    await createTopic(system, ['broker.broker-a.0', 'broker.broker-b.0'], 'ns', 2);
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1', 'ns-2'], ...FAST.client });
    const received = new Received();
    await spawnRecordingConsumer(system, received, 'c1', { group: 'ns-g', namesrv: ['ns-1', 'ns-2'], subscribe: { ns: '*' } });
    const load = produceContinuously(producer, 'ns', 'm', 2);
    await sleep(400);
    await ns1.stop();
    await sleep(800);
    // a new producer and a new consumer (of a new topic too) start with the first name server gone
    const late = await system.spawnProducer({ group: 'pg2', namesrv: ['ns-1', 'ns-2'], ...FAST.client });
    const lateSent: string[] = [];
    for (let i = 0; i < 10; i++) {
      await late.send({ topic: 'ns', body: Buffer.from(`late-${i}`) });
      lateSent.push(`late-${i}`);
    }
    await late.send({ topic: 'fresh', body: Buffer.from('fresh-0') });
    const freshGot = new Received();
    await spawnRecordingConsumer(system, freshGot, 'c2', { group: 'fresh-g', namesrv: ['ns-1', 'ns-2'], subscribe: { fresh: '*' } });
    await load.stop();
    expect(load.failed).toEqual([]);
    const want = [...load.acked, ...lateSent];
    await eventually(() => {
      const got = new Set(received.bodies());
      return want.every((b) => got.has(b));
    }, 10_000, 'every acknowledged message consumed');
    await eventually(() => freshGot.bodies().includes('fresh-0'), 5_000, 'the new consumer got its message');
  });
});
