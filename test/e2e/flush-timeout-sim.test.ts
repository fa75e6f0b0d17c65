import { MqSystem } from '../../index.js';
import { ActorSystem } from '../../actors/runtime/system.js';
import { rootLogger, simEnvironment, type SimEnvironment } from '../../actors/runtime/environment.js';
import { startTransactionProducer } from '../../actors/producer/transaction-producer.js';
import { faultyStorage, type FaultyStorage } from '../../store/backends/faulty.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { memoryTransport } from '../../transports/memory.js';
import { driveOn } from './sim-support.js';

/**
 * FLUSH_DISK_TIMEOUT means stored, its flush late: what the broker writes itself (delayed messages coming due, a
 * committed transaction's message) is not written again on it, or the consumer gets it twice. Simulated time, a
 * disk whose fsync hangs a while.
 */
const FLUSH_TIMEOUT_MS = 200;

async function setup(): Promise<{ env: SimEnvironment; system: MqSystem; disk: FaultyStorage; drive: <T>(p: Promise<T>) => Promise<T> }> {
  let disk: FaultyStorage | undefined;
  const env = await simEnvironment({ seed: 5, transport: memoryTransport(), storage: (deps) => (disk = faultyStorage(memoryStorage(deps))), logger: rootLogger('silent') });
  const system = new MqSystem(new ActorSystem(env));
  const drive = <T>(p: Promise<T>): Promise<T> => driveOn(env, p);
  await drive(system.spawnNameServer({ id: 'ns-1' }));
  await drive(system.spawnBroker({ name: 'a', namesrv: ['ns-1'], storeDir: '/a', flush: 'sync', flushTimeoutMs: FLUSH_TIMEOUT_MS, txCheckIntervalMs: 1_000, segmentSize: 1 << 20 }));
  return { env, system, disk: disk!, drive };
}

/** Every body consumed from `topic` (from its first offset) within 30 s of simulated time. */
async function consumedBodies(env: SimEnvironment, system: MqSystem, topic: string, expect: number): Promise<string[]> {
  const bodies: string[] = [];
  await driveOn(
    env,
    system.spawnConsumer({
      group: `${topic}-cg`,
      namesrv: ['ns-1'],
      subscribe: { [topic]: '*' },
      consumeFrom: 'first',
      listener: (msgs) => {
        for (const m of msgs) bodies.push(Buffer.from(m.body).toString());
        return 'SUCCESS';
      },
    }),
  );
  await env.clock.runUntil(() => bodies.length >= expect, 30_000);
  await env.clock.advance(5_000); // room for a copy that should not come
  return bodies;
}

describe('a flush that times out on what the broker writes itself', () => {
  // due after 1 s: written back, answered FLUSH_DISK_TIMEOUT, and not written again while the disk hangs
  it.each([
    ['delayed', 'later', (_now: number) => ({ delayLevel: 1 })],
    ['timer', 'timed', (now: number) => ({ deliverAt: now + 1_000 })],
  ])('a %s message coming due while fsync hangs is written once', async (_kind, topic, due) => {
    const { env, system, disk, drive } = await setup();
    const producer = await drive(system.spawnProducer({ group: 'pg', namesrv: ['ns-1'] }));
    expect((await drive(producer.send({ topic, body: Buffer.from('once'), ...due(env.clock.now()) }))).status).toBe('SEND_OK');
    disk.hangFlushes();
    await env.clock.advance(6_000);
    disk.heal();
    expect(await consumedBodies(env, system, topic, 1)).toEqual(['once']);
    await drive(system.stop());
  });

  it('a committed transaction whose outcome meets a hanging fsync is delivered once', async () => {
    const { env, system, disk, drive } = await setup();
    const producer = await drive(startTransactionProducer(system.actors, { group: 'tpg', namesrv: ['ns-1'], checkListener: () => 'COMMIT' }));
    const sent = await drive(
      producer.sendInTransaction({ topic: 'tx', body: Buffer.from('committed') }, () => {
        disk.hangFlushes(); // the half message is stored; its outcome meets the hanging disk
        return 'COMMIT';
      }),
    );
    expect(sent.state).toBe('COMMIT');
    // check-backs would commit an unsettled half again
    await env.clock.advance(6_000);
    disk.heal();
    expect(await consumedBodies(env, system, 'tx', 1)).toEqual(['committed']);
    await drive(producer.stop());
    await drive(system.stop());
  });
});
