import { filter, firstValueFrom, take, throwError, toArray, timeout } from 'rxjs';
import { startSystem, type MqSystem } from '../../index.js';
import { memoryNetwork, memoryTransport } from '../../transports/memory.js';
import { natsTransport } from '../../transports/nats.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { realEnvironment, rootLogger } from '../../actors/runtime/environment.js';
import type { TransportFactory } from '../../transports/transport.js';
import { OBSERVE_SUBJECT } from '../../actors/protocol/observe.js';
import { transportSource } from '../../observe/transport-source.js';
import type { LiveSource, ObservedRecord } from '../../observe/source.js';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A cluster (name server, broker, producer, consumer) in one system that publishes its records as `source`. */
async function cluster(transport: TransportFactory, source: string): Promise<MqSystem> {
  const system = await startSystem({ transport, storage: (deps) => memoryStorage(deps) });
  system.actors.publishObservations({ source, flushMs: 50 });
  await system.spawnNameServer({ id: 'ns-1' });
  await system.spawnBroker({ name: 'broker-a', namesrv: ['ns-1'], storeDir: 'a', flush: 'async' });
  const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'] });
  await producer.send({ topic: 'orders', body: Buffer.from('one') });
  return system;
}

async function observer(transport: TransportFactory): Promise<{ source: LiveSource; stop(): Promise<void> }> {
  const env = await realEnvironment({ transport, storage: (deps) => memoryStorage(deps), logger: rootLogger() });
  const source = transportSource(env.transport, { random: env.random, logger: env.logger, helloMs: 200 });
  return { source, stop: async () => (await source.close(), await env.transport.close()) };
}

/** The first record `accept`s in the source's snapshot, else the next one it streams. */
const until = (source: LiveSource, accept: (r: ObservedRecord) => boolean, ms = 5000): Promise<ObservedRecord> => {
  const next = firstValueFrom(
    source.records$.pipe(
      filter(accept),
      take(1),
      timeout({ first: ms, with: () => throwError(() => new Error(`no record that ${accept.toString()} within ${ms} ms`)) }),
    ),
  );
  const known = source.snapshot().find(accept);
  if (known === undefined) return next;
  next.catch(() => undefined);
  return Promise.resolve(known);
};

function checkClusterStream(transport: () => TransportFactory): void {
  it('publishes nothing until an observer says hello, then a snapshot with machine definitions, live records and figures', async () => {
    const t = transport();
    const system = await cluster(t, 'proc-a');
    // a listener on the stream's subject hears nothing while nobody observes
    const silentEnv = await realEnvironment({ transport: t, storage: (deps) => memoryStorage(deps), logger: rootLogger() });
    let heard = 0;
    const sub = silentEnv.transport.subscribe(OBSERVE_SUBJECT).subscribe(() => heard++);
    await silentEnv.transport.flush();
    await sleep(300);
    expect(heard).toBe(0);

    const obs = await observer(t);
    try {
      // the snapshot: the broker machine's definition, the broker's start record naming it, its current state
      const def = await until(obs.source, (r) => r.kind === 'machine' && r.definition.id === 'broker');
      expect(def.source).toBe('proc-a');
      const definition = def.kind === 'machine' ? def.definition : undefined;
      expect(Object.keys(definition?.states ?? {})).toEqual(expect.arrayContaining(['starting', 'serving', 'stopped']));
      await sleep(100);
      const snap = obs.source.snapshot();
      const brokerStart = snap.find((r) => r.kind === 'actor' && r.address === 'broker.broker-a.0' && r.actorId === r.address);
      expect(brokerStart).toMatchObject({ machine: def.kind === 'machine' ? def.machine : '' });
      expect(snap.find((r) => r.kind === 'snapshot' && r.address === 'broker.broker-a.0' && r.actorId === r.address)).toMatchObject({ state: 'serving' });
      // figures: the broker's store positions and the topic it holds; the producer's acknowledged send
      const stats = await until(obs.source, (r) => r.kind === 'stats' && r.stats.role === 'broker');
      expect(stats.kind === 'stats' && stats.stats.role === 'broker' && stats.stats.store.writeOffset).toBeGreaterThan(0);
      expect(stats.kind === 'stats' && stats.stats.role === 'broker' && stats.stats.topics.map((x) => x.topic)).toContain('orders');
      // a serving broker's requests show as counts by code
      expect(stats.kind === 'stats' && stats.stats.role === 'broker' && stats.stats.requests).toMatchObject({ SEND_MESSAGE: 1 });
      const producer = obs.source.snapshot().find((r) => r.kind === 'stats' && r.stats.role === 'producer');
      expect(producer).toMatchObject({ stats: { role: 'producer', group: 'pg', sent: 1, failed: 0 } });
      expect(heard).toBeGreaterThan(0);

      // live: a consumer that starts and stops shows up and leaves
      const consumer = await system.spawnConsumer({ group: 'cg', namesrv: ['ns-1'], subscribe: { orders: '*' }, consumeFrom: 'first' });
      const address = `client.${consumer.clientId}`;
      await until(obs.source, (r) => r.kind === 'snapshot' && r.address === address && r.actorId === address && r.state === 'running');
      const stopped = until(obs.source, (r) => r.kind === 'snapshot' && r.address === address && r.actorId === address && r.status !== 'active');
      await consumer.stop();
      await stopped;
      await sleep(100);
      expect(obs.source.snapshot().some((r) => r.address === address && r.kind !== 'stats')).toBe(false);
      expect(obs.source.dropped()).toEqual({ 'proc-a': 0 });
    } finally {
      sub.unsubscribe();
      await obs.stop();
      await silentEnv.transport.close();
      await system.stop();
    }
  }, 30_000);

  it('shows every process to one observer, each under its own source', async () => {
    const t = transport();
    const a = await startSystem({ transport: t, storage: (deps) => memoryStorage(deps) });
    const b = await startSystem({ transport: t, storage: (deps) => memoryStorage(deps) });
    // as an embedding service does it
    a.publishObservations({ source: 'proc-a' });
    b.publishObservations({ source: 'proc-b' });
    await a.spawnNameServer({ id: 'ns-1' });
    await b.spawnNameServer({ id: 'ns-2' });
    const obs = await observer(t);
    try {
      const sources = await firstValueFrom(
        obs.source.records$.pipe(
          filter((r) => r.kind === 'actor' && r.actorId.startsWith('namesrv.')),
          take(2),
          toArray(),
          timeout(5000),
        ),
      );
      expect(sources.map((r) => `${r.source} ${r.address}`).sort()).toEqual(['proc-a namesrv.ns-1', 'proc-b namesrv.ns-2']);
    } finally {
      await obs.stop();
      await a.stop();
      await b.stop();
    }
  }, 30_000);
}

describe('the observation stream over the memory transport', () => {
  checkClusterStream(() => memoryTransport({ network: memoryNetwork() }));

  it('stops publishing as soon as its last observer leaves', async () => {
    const t = memoryTransport({ network: memoryNetwork() });
    const system = await cluster(t, 'proc-a');
    const listenerEnv = await realEnvironment({ transport: t, storage: (deps) => memoryStorage(deps), logger: rootLogger() });
    let heard = 0;
    const sub = listenerEnv.transport.subscribe(OBSERVE_SUBJECT).subscribe(() => heard++);
    const producer = await system.spawnProducer({ group: 'pg2', namesrv: ['ns-1'] });
    const obs = await observer(t);
    try {
      await until(obs.source, (r) => r.kind === 'stats' && r.stats.role === 'broker');
      await producer.send({ topic: 'orders', body: Buffer.from('two') });
      await sleep(200);
      expect(heard).toBeGreaterThan(0);
      await obs.stop();
      await sleep(100);
      heard = 0;
      await producer.send({ topic: 'orders', body: Buffer.from('three') });
      await sleep(1200); // past a flush and a figures sample
      expect(heard).toBe(0);
    } finally {
      sub.unsubscribe();
      await listenerEnv.transport.close();
      await system.stop();
    }
  }, 30_000);

  it('drops the oldest records beyond its buffer between two flushes, and says how many', async () => {
    const t = memoryTransport({ network: memoryNetwork() });
    const system = await startSystem({ transport: t, storage: (deps) => memoryStorage(deps) });
    system.actors.publishObservations({ source: 'small', flushMs: 400, capacity: 4 });
    const obs = await observer(t);
    try {
      await sleep(50); // the hello arrived: the publisher buffers from now on
      await system.spawnNameServer({ id: 'ns-1' });
      await system.spawnBroker({ name: 'broker-a', namesrv: ['ns-1'], storeDir: 'a', flush: 'async' });
      await sleep(600);
      expect(obs.source.dropped().small).toBeGreaterThan(0);
    } finally {
      await obs.stop();
      await system.stop();
    }
  }, 30_000);
});

describe('the observation stream over NATS', () => {
  let nats: NatsServer;
  let n = 0;
  beforeAll(async () => {
    nats = await startNatsServer();
  }, 30_000);
  afterAll(async () => {
    await nats?.stop();
  });
  checkClusterStream(() => natsTransport({ servers: nats.url, prefix: `obs${n++}` }));
});
