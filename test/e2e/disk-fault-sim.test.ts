import { MqSystem } from '../../index.js';
import { AdminClient } from '../../actors/client/admin-client.js';
import { ActorSystem } from '../../actors/runtime/system.js';
import { rootLogger, simEnvironment } from '../../actors/runtime/environment.js';
import { isWritable } from '../../actors/protocol/route.js';
import { Status } from '../../core/status.js';
import { faultyStorage, type FaultyStorage } from '../../store/backends/faulty.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { memoryTransport } from '../../transports/memory.js';
import { driveOn } from './sim-support.js';

/**
 * A broker whose consume queue writes fail (disk full) on simulated time: it stops acknowledging, registers its
 * topics read-only at once so producers send to the other broker, reports why through the admin status, and
 * once space returns it indexes what it had stored, takes writes again and registers writable; every
 * acknowledged message is consumed.
 */
describe('a broker whose disk fills under its consume queues', () => {
  it('refuses writes, routes producers elsewhere at once, says why, and resumes without losing a message', async () => {
    let disk: FaultyStorage | undefined;
    const env = await simEnvironment({ seed: 11, transport: memoryTransport(), storage: (deps) => (disk = faultyStorage(memoryStorage(deps))), logger: rootLogger('silent') });
    const system = new MqSystem(new ActorSystem(env));
    const drive = <T>(p: Promise<T>): Promise<T> => driveOn(env, p);
    await drive(system.spawnNameServer({ id: 'ns-1' }));
    // the name server's route cache would hide the change for a while: producers look routes up often here
    const broker = { namesrv: ['ns-1'], flush: 'sync' as const, segmentSize: 1 << 20 };
    await drive(system.spawnBroker({ name: 'a', storeDir: '/a', ...broker }));
    await drive(system.spawnBroker({ name: 'b', storeDir: '/b', ...broker }));
    const admin = new AdminClient(env.transport, { namesrv: ['ns-1'] });
    await drive(admin.createTopic('orders', { readQueues: 2, writeQueues: 2 }));
    const producer = await drive(system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], routeRefreshMs: 200 }));
    const acked: string[] = [];
    const send = async (body: string): Promise<void> => {
      const r = await drive(producer.send({ topic: 'orders', body: Buffer.from(body) }));
      expect(r.status).toBe('SEND_OK');
      acked.push(body);
    };
    for (let i = 0; i < 8; i++) await send(`before-${i}`);

    disk!.failWrites('ENOSPC', { where: (path) => /^\/?a\/consumequeue\//.test(path) });
    // the next batches that reach broker a are stored in its commit log, then indexing fails
    for (let i = 0; i < 8; i++) await send(`during-${i}`);
    const writableOn = async (name: string): Promise<boolean> => {
      const route = await drive(admin.route('orders'));
      return route.queueDatas.some((q) => q.brokerName === name && isWritable(q.perm));
    };
    // consume queue entries are held back until the checkpoint (every second) writes them: its write fails
    await env.clock.advance(1_000);
    expect(await writableOn('a')).toBe(false);
    expect(await writableOn('b')).toBe(true);
    const status = await drive(admin.brokerStatus());
    const a = status.brokers.find((s) => s.brokerName === 'a')!;
    expect(a.store.health).toMatchObject({ state: 'paused', status: Status.DISK_FULL });
    expect(a.store.health.reason).toMatch(/ENOSPC/);
    expect(status.brokers.find((s) => s.brokerName === 'b')!.store.health).toEqual({ state: 'ok' });
    // producers keep sending, all to broker b, all acknowledged
    for (let i = 0; i < 20; i++) await send(`after-${i}`);

    disk!.heal();
    await env.clock.advance(2_000);
    expect(await writableOn('a')).toBe(true);
    expect((await drive(admin.brokerStatus())).brokers.every((s) => s.store.health.state === 'ok')).toBe(true);
    for (let i = 0; i < 8; i++) await send(`healed-${i}`);

    const seen = new Set<string>();
    await drive(
      system.spawnConsumer({
        group: 'cg',
        namesrv: ['ns-1'],
        subscribe: { orders: '*' },
        consumeFrom: 'first',
        listener: (msgs) => {
          for (const m of msgs) seen.add(Buffer.from(m.body).toString());
          return 'SUCCESS';
        },
      }),
    );
    expect(await env.clock.runUntil(() => acked.every((b) => seen.has(b)), 60_000)).toBe(true);
    expect([...seen].sort()).toEqual([...acked].sort());
    await drive(system.stop());
  });
});
