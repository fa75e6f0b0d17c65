import { rootLogger } from '../../actors/runtime/environment.js';
import { MqSystem, ActorSystem, simEnvironment, type SimEnvironment, type MessageExt } from '../../index.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { memoryTransport } from '../../transports/memory.js';
import { settle } from '../../core/clock.js';
import { Status } from '../../core/status.js';
import { readJsonFile } from '../../store/config-file.js';
import { TIMER_OFFSETS_FILE } from '../../actors/broker/schedule/timer-scheduler.js';
import type { TimerProgressFile } from '../../actors/broker/schedule/timer-index.js';
import type { StoreMode } from '../../store/open-store.js';
import { FAST, Received, eventually, memorySystem, startCluster } from './support.js';

/**
 * Delivery at a timestamp (timer messages): invisible until due, delivered on the real topic at its time
 * (exactly, on simulated time), nothing lost across a broker restart, beyond the horizon refused.
 */

/** Runs the simulated clock until `done()` holds (or `maxMs` of virtual time pass). */
async function runUntil(env: SimEnvironment, done: () => boolean, maxMs: number): Promise<void> {
  const until = env.clock.now() + maxMs;
  while (!done() && env.clock.now() <= until) {
    const moved = await env.clock.runUntil(done, until - env.clock.now());
    if (!moved && !done()) {
      await settle();
      if (env.clock.nextDue() === undefined) break;
    }
  }
  if (!done()) throw new Error(`not done within ${maxMs} virtual ms`);
}

async function drive<T>(env: SimEnvironment, p: Promise<T>, maxMs = 60_000): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await runUntil(env, () => done, maxMs);
  return p;
}

// a timer message is read once flushed: with sync flush that is at once, so a deliverAt 300 ms out is kept exactly
// (with async flush it could not come before the flush interval)
const BROKER = { name: 'broker-a', namesrv: ['ns-1'], storeDir: '/data/a', ...FAST.broker, flush: 'sync' as const, timerHorizonMs: 120_000 };

async function simCluster(seed: number, storeMode: StoreMode) {
  const env = await simEnvironment({ seed, transport: memoryTransport(), storage: (deps) => memoryStorage(deps), logger: rootLogger('error') });
  const system = new MqSystem(new ActorSystem(env));
  await drive(env, system.spawnNameServer({ id: 'ns-1', scanIntervalMs: 500, brokerExpiryMs: 3000 }));
  const broker = await drive(env, system.spawnBroker({ ...BROKER, storeMode }));
  await drive(env, broker.whenServing());
  return { env, system, broker };
}

describe.each(['mixed', 'per-queue'] as const)('timer messages (deliverAt, %s store)', (storeMode) => {
  let system: MqSystem | undefined;
  let env: SimEnvironment | undefined;
  afterEach(async () => {
    if (system && env) await drive(env, system.stop());
    else await system?.stop();
    system = undefined;
    env = undefined;
  });

  it('on simulated time, delivers each message on its real topic exactly at its deliverAt, none before', async () => {
    const c = await simCluster(7, storeMode);
    ({ env, system } = c);
    const e = env!;
    const producer = await drive(e, system!.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client }));
    const got: { m: MessageExt; at: number }[] = [];
    const consumer = await drive(
      e,
      system!.spawnConsumer({ group: 'cg', namesrv: ['ns-1'], ...FAST.client, ...FAST.consumer, subscribe: { timed: '*' }, listener: (ms) => {
        for (const m of ms) got.push({ m, at: e.clock.now() });
        return 'SUCCESS';
      } }),
    );
    // the topic exists and the consumer holds its queues before the first timer is due
    await drive(e, producer.send({ topic: 'timed', body: Buffer.from('warm-up') }));
    await runUntil(e, () => consumer.assignment().length === 4 && got.length === 1, 10_000);
    got.length = 0;
    const t0 = e.clock.now();
    const offsets = [1234, 50, 5000, 60_000, 777, 777, 30_001, 2, 119_000];
    const due = new Map<string, number>();
    for (const [i, d] of offsets.entries()) {
      const at = t0 + d;
      due.set(`m${i}`, at);
      await drive(e, producer.send({ topic: 'timed', body: Buffer.from(`m${i}`), deliverAt: at }));
    }
    // a message whose time has come is delivered at once; one beyond the horizon is refused clearly
    await expect(drive(e, producer.send({ topic: 'timed', body: Buffer.from('late'), deliverAt: e.clock.now() + 200_000 }))).rejects.toMatchObject({
      status: Status.MESSAGE_ILLEGAL,
      message: expect.stringMatching(/timerHorizonMs/),
    });
    await runUntil(e, () => got.length >= offsets.length, 200_000);
    expect(got.length).toBe(offsets.length);
    for (const { m, at } of got) {
      const body = Buffer.from(m.body).toString();
      expect(m.topic).toBe('timed');
      expect(m.storeTimestamp).toBe(due.get(body));
      expect(at).toBe(due.get(body));
      expect(m.properties?.DELIVER_AT).toBeUndefined();
      expect(m.properties?.REAL_TOPIC).toBeUndefined();
    }
    expect(new Set(got.map((g) => Buffer.from(g.m.body).toString())).size).toBe(offsets.length);
    expect(c.broker.context()?.timerTx?.timer.pending).toBe(0);
  });

  it('loses none of the scheduled messages across a broker restart between scheduling and due time', async () => {
    const c = await simCluster(11, storeMode);
    ({ env, system } = c);
    const e = env!;
    const producer = await drive(e, system!.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client }));
    const got: { body: string; at: number; due: number }[] = [];
    await drive(
      e,
      system!.spawnConsumer({ group: 'cg', namesrv: ['ns-1'], ...FAST.client, ...FAST.consumer, subscribe: { timed: '*' }, listener: (ms) => {
        for (const m of ms) got.push({ body: Buffer.from(m.body).toString(), at: e.clock.now(), due: 0 });
        return 'SUCCESS';
      } }),
    );
    const t0 = e.clock.now();
    const due = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const at = t0 + 500 + i * 250; // 0.5 s ... 10.25 s
      due.set(`m${i}`, at);
      await drive(e, producer.send({ topic: 'timed', body: Buffer.from(`m${i}`), deliverAt: at }));
    }
    // some fire, then the broker stops (progress persisted) and starts again on the same store
    await runUntil(e, () => got.length >= 10, 20_000);
    await drive(e, c.broker.stop());
    const file = readJsonFile<TimerProgressFile>(e.storage, `/data/a/${TIMER_OFFSETS_FILE}`);
    expect(file?.lowWater).toBeGreaterThanOrEqual(10);
    await runUntil(e, () => e.clock.now() >= t0 + 4000, 10_000);
    const again = await drive(e, system!.spawnBroker({ ...BROKER, storeMode }));
    await drive(e, again.whenServing());
    await runUntil(e, () => got.length >= 40, 60_000);
    // let any duplicate show up
    await runUntil(e, () => e.clock.now() >= t0 + 20_000, 20_000);
    const bodies = got.map((g) => g.body);
    expect(new Set(bodies).size).toBe(40);
    expect(bodies.length).toBe(40);
    for (const g of got) expect(g.at).toBeGreaterThanOrEqual(due.get(g.body)!);
  });
});

describe('timer messages on real time', () => {
  let system: MqSystem | undefined;
  afterEach(async () => {
    await system?.stop();
  });

  it('delivers messages at arbitrary timestamps no earlier than due', async () => {
    system = await memorySystem();
    await startCluster(system, { namesrv: ['ns-1'], brokers: ['broker-a'] });
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client });
    const received = new Received();
    const arrivedAt = new Map<string, number>();
    await system.spawnConsumer({ group: 'cg', namesrv: ['ns-1'], ...FAST.client, ...FAST.consumer, clientId: 'c1', subscribe: { timed: '*' }, listener: (ms) => {
      for (const m of ms) arrivedAt.set(Buffer.from(m.body).toString(), Date.now());
      received.add('c1', ms);
      return 'SUCCESS';
    } });
    const due = new Map<string, number>();
    const now = Date.now();
    for (let i = 0; i < 30; i++) {
      const at = now + 100 + ((i * 7919) % 1400);
      due.set(`t${i}`, at);
      await producer.send({ topic: 'timed', body: Buffer.from(`t${i}`), deliverAt: at });
    }
    await eventually(() => received.all().length >= 30, 10_000, '30 timed messages');
    for (const [body, at] of arrivedAt) expect(at).toBeGreaterThanOrEqual(due.get(body)!);
    for (const m of received.all()) expect(m.storeTimestamp).toBeGreaterThanOrEqual(due.get(Buffer.from(m.body).toString())!);
    await new Promise((r) => setTimeout(r, 200));
    expect(received.all().length).toBe(30);
  });
});
