import type { Consumer, MqSystem } from '../../index.js';
import { FAST, Received, createTopic, duplicates, eventually, memorySystem, produceContinuously, sleep, spawnRecordingConsumer, startCluster } from './support.js';

/** Members joining and leaving a group while producers keep sending. */
describe('rebalancing under load', () => {
  let system: MqSystem;
  afterEach(async () => {
    await system?.stop();
  });

  it('a member joining then one leaving moves queues within a rebalance interval and loses nothing', async () => {
    system = await memorySystem();
    const brokers = await startCluster(system, { namesrv: ['ns-1'], brokers: ['broker-a', 'broker-b'] });
    await createTopic(system, brokers.map((b) => b.address), 'flow', 4);
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client });
    const received = new Received();
    const opts = { group: 'flow-g', namesrv: ['ns-1'], subscribe: { flow: '*' } };
    const members: Consumer[] = [];
    for (const c of ['c1', 'c2']) members.push(await spawnRecordingConsumer(system, received, c, opts));
    const mine = (c: Consumer) => c.assignment().filter((q) => q.topic === 'flow').length;
    await eventually(() => members.every((c) => mine(c) === 4), 5_000, 'two members with 4 queues each');

    const load = produceContinuously(producer, 'flow', 'm', 2);
    await sleep(600);
    // a third member joins: within one rebalance interval (plus a heartbeat) the 8 queues are split 3/3/2
    const joinedAt = Date.now();
    members.push(await spawnRecordingConsumer(system, received, 'c3', opts));
    await eventually(() => members.every((c) => mine(c) >= 2) && members.reduce((n, c) => n + mine(c), 0) === 8, 3_000, 'queues moved to the new member');
    const joinMs = Date.now() - joinedAt;
    await sleep(600);
    expect(received.bodies('c3').length).toBeGreaterThan(0);
    // the first member leaves: its queues go to the others
    const leftAt = Date.now();
    await members[0]!.stop();
    const rest = members.slice(1);
    await eventually(() => rest.every((c) => mine(c) === 4), 3_000, 'queues of the leaving member taken over');
    const leaveMs = Date.now() - leftAt;
    await sleep(600);
    await load.stop();
    expect(load.failed).toEqual([]);
    expect(load.acked.length).toBeGreaterThan(50);

    // every acknowledged message is consumed at least once
    const acked = new Set(load.acked);
    await eventually(() => {
      const got = new Set(received.bodies());
      return [...acked].every((b) => got.has(b));
    }, 10_000, 'every acknowledged message consumed');
    await sleep(500);
    const bodies = received.bodies();
    const { extra } = duplicates(bodies);
    process.stderr.write(`rebalance: ${load.acked.length} acked, ${bodies.length} received, ${extra} duplicates, join ${joinMs} ms, leave ${leaveMs} ms\n`);
    // duplicates only around the two moves: at most one pull batch per moved queue each time
    expect(extra).toBeLessThanOrEqual(64);
    expect(joinMs).toBeLessThan(FAST.consumer.rebalanceIntervalMs + FAST.client.heartbeatIntervalMs + 1_000);
    expect(leaveMs).toBeLessThan(FAST.consumer.rebalanceIntervalMs + FAST.client.heartbeatIntervalMs + 1_000);
  });
});
