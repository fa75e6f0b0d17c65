import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryTransport, startSystem, type MqSystem } from '../../index.js';
import { rootLogger } from '../../actors/runtime/environment.js';
import { diskStorage } from '../../store/backends/disk.js';
import { RequestCode } from '../../actors/protocol/request-codes.js';
import { parseJsonBody, request } from '../../actors/protocol/replies.js';
import type { TopicRoute } from '../../actors/protocol/commands.js';
import { Status } from '../../core/status.js';
import type { BrokerHandle } from '../../actors/broker/broker.js';
import type { BrokerOptions } from '../../actors/broker/broker-options.js';
import type { Transport, TransportFactory } from '../../transports/transport.js';
import { TransportError } from '../../transports/transport.js';
import type { Frame } from '../../transports/frame.js';
import { FAST, createTopic, eventually, sleep } from './support.js';

/** Reads from slaves: a dead master's reads go to its slave within a request, and lagging reads are sent there. */

interface Seen {
  to: string;
  code: number;
  topic: unknown;
}

/**
 * The memory transport, watched: every request is noted, and a broker in `unregistered` cannot unregister from
 * the name servers (its stop then looks, to them, like a crash: it stays in the routes until it expires).
 */
function watched(seen: Seen[], noUnregister: Set<string>): TransportFactory {
  const inner = memoryTransport();
  return async (deps) => {
    const t = await inner(deps);
    return new Proxy(t, {
      get(target, prop) {
        if (prop === 'request') {
          return (to: string, frame: Frame, opts?: { from?: string; timeoutMs?: number }) => {
            seen.push({ to, code: frame.code, topic: frame.header.topic });
            if (frame.code === RequestCode.UNREGISTER_BROKER && opts?.from !== undefined && noUnregister.has(opts.from))
              return Promise.reject(new TransportError('TIMEOUT', 'dropped by the test'));
            return target.request(to, frame, opts);
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as Transport;
  };
}

async function routeIds(system: MqSystem, topic: string): Promise<string[]> {
  const reply = await system.env.transport.request('namesrv.ns', request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }));
  if (reply.status !== Status.OK) return [];
  return Object.keys(parseJsonBody<TopicRoute>(reply).brokerDatas.find((b) => b.brokerName === 'b')?.addrs ?? {}).sort();
}

/** The offsets a broker holds for group `g` on topic T, summed over its queues. */
function committed(b: BrokerHandle, g: string): number {
  return b.context()!.offsets.ofGroup(g).filter((e) => e.topic === 'T').reduce((n, e) => n + e.offset, 0);
}

describe('consumers read from slaves', () => {
  let root: string;
  let system: MqSystem | undefined;
  const seen: Seen[] = [];
  const noUnregister = new Set<string>();
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'actormq-slave-reads-'));
    seen.length = 0;
    noUnregister.clear();
  });
  afterEach(async () => {
    await system?.stop();
    system = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  async function cluster(extra: Partial<BrokerOptions> = {}) {
    const s = await startSystem({ transport: watched(seen, noUnregister), storage: () => diskStorage(root), logger: rootLogger('silent') });
    system = s;
    await s.spawnNameServer({ id: 'ns' }); // brokers expire after the default 120 s: far longer than these tests
    const base = { name: 'b', namesrv: ['ns'], segmentSize: 64 * 1024, warmAheadBytes: 0, ...FAST.broker, ...extra };
    const startMaster = (): Promise<BrokerHandle> => s.spawnBroker({ ...base, storeDir: 'master', ha: { mode: 'async' } });
    const master = await startMaster();
    const slave = await s.spawnBroker({ ...base, id: 1, storeDir: 'slave', ha: { mode: 'async', configSyncMs: 100 } });
    return { s, master, slave, startMaster };
  }

  async function fill(s: MqSystem, master: BrokerHandle, slave: BrokerHandle, queues: number, n: number, size = 100): Promise<string[]> {
    await createTopic(s, [master.address], 'T', queues);
    await eventually(() => slave.context()!.topics.get('T') !== undefined, 5_000, 'the slave copied the topic');
    const producer = await s.spawnProducer({ group: 'pg', namesrv: ['ns'], ...FAST.client });
    const sent: string[] = [];
    for (let i = 0; i < n; i += 10) {
      const batch = Array.from({ length: 10 }, (_, j) => `m${i + j}`);
      await producer.sendBatch(batch.map((b) => ({ topic: 'T', body: Buffer.from(b.padEnd(size, '.')) })));
      sent.push(...batch);
    }
    await producer.stop();
    const indexed = (b: BrokerHandle): number => Array.from({ length: queues }, (_, q) => b.context()!.store.maxOffset('T', q)).reduce((a, x) => a + x, 0);
    await eventually(() => indexed(slave) === n, 10_000, 'the slave holds and indexed every message');
    for (;;) {
      if ((await routeIds(s, 'T')).join() === '0,1') break;
      await sleep(20);
    }
    return sent;
  }

  it('a master that dies: reads go on from the slave within seconds, offsets are committed there, and none goes back when the master returns', async () => {
    const { s, master, slave, startMaster } = await cluster();
    const sent = await fill(s, master, slave, 2, 200);
    const got: string[] = [];
    let gate: Promise<void> | undefined;
    let open = (): void => undefined;
    const consumerOpts = { group: 'g', namesrv: ['ns'], subscribe: { T: '*' }, ...FAST.client, ...FAST.consumer, pullBatch: 4, maxCachedMessagesPerQueue: 8 };
    const c1 = await s.spawnConsumer({
      ...consumerOpts,
      clientId: 'c1',
      listener: async (msgs) => {
        if (gate) await gate;
        for (const m of msgs) got.push(Buffer.from(m.body).toString().replace(/\.+$/, ''));
        if (got.length >= 60 && gate === undefined) gate = new Promise((r) => (open = r));
        return 'SUCCESS' as const;
      },
    });
    await eventually(() => got.length >= 60 && committed(master, 'g') >= 50, 10_000, 'the first messages consumed and committed on the master');
    // the master dies (to the name server: it never says goodbye) while the consumer waits with a small cache
    noUnregister.add(master.address);
    await master.stop();
    expect(await routeIds(s, 'T')).toEqual(['0', '1']);
    const pullsBefore = seen.filter((x) => x.to === slave.address && x.code === RequestCode.PULL_MESSAGE).length;
    const stoppedAt = Date.now();
    open();
    await eventually(() => new Set(got).size === sent.length, 8_000, 'every message consumed with the master gone');
    const tookMs = Date.now() - stoppedAt;
    expect(tookMs).toBeLessThan(8_000);
    expect(seen.filter((x) => x.to === slave.address && x.code === RequestCode.PULL_MESSAGE).length).toBeGreaterThan(pullsBefore + 10);
    // the offsets are committed on the slave
    await eventually(() => committed(slave, 'g') === sent.length, 5_000, 'the offsets committed on the slave');
    expect(seen.some((x) => x.to === slave.address && x.code === RequestCode.UPDATE_CONSUMER_OFFSET)).toBe(true);
    await c1.stop();
    const delivered = got.length;
    // the master returns on its store: it takes the slave's offsets, further ahead than its own
    const back = await startMaster();
    await back.whenServing();
    await eventually(() => committed(back, 'g') === sent.length, 5_000, 'the returned master took the offsets committed on the slave');
    // a member of the group started now reads only what is new: nothing committed is delivered again
    const got2: string[] = [];
    await s.spawnConsumer({
      ...consumerOpts,
      clientId: 'c2',
      listener: (msgs) => {
        for (const m of msgs) got2.push(Buffer.from(m.body).toString().replace(/\.+$/, ''));
        return 'SUCCESS';
      },
    });
    const producer = await s.spawnProducer({ group: 'pg', namesrv: ['ns'], ...FAST.client });
    await producer.sendBatch(Array.from({ length: 5 }, (_, i) => ({ topic: 'T', body: Buffer.from(`late${i}`) })));
    await eventually(() => got2.length >= 5, 8_000, 'the new messages consumed');
    await sleep(500);
    expect(got2.sort()).toEqual(['late0', 'late1', 'late2', 'late3', 'late4']);
    expect(committed(back, 'g')).toBeGreaterThanOrEqual(sent.length);
    process.stderr.write(`slave reads: ${sent.length} sent, ${delivered} delivered, the rest read from the slave in ${tookMs} ms\n`);
  }, 30_000);

  it('suggest-slave: a consumer reading far behind is sent to the in-sync slave, and back to the master once caught up', async () => {
    const { s, master, slave } = await cluster({ slaveReadLagBytes: 4096 });
    await eventually(() => master.context()!.ha?.master?.inSync().includes(1) === true, 10_000, 'the slave in sync');
    const sent = await fill(s, master, slave, 1, 300, 200);
    const got: string[] = [];
    const pullsAt = (addr: string): number => seen.filter((x) => x.to === addr && x.code === RequestCode.PULL_MESSAGE && x.topic === 'T').length;
    await s.spawnConsumer({
      group: 'lag',
      namesrv: ['ns'],
      subscribe: { T: '*' },
      ...FAST.client,
      ...FAST.consumer,
      pullBatch: 8,
      clientId: 'c-lag',
      listener: (msgs) => {
        for (const m of msgs) got.push(Buffer.from(m.body).toString().replace(/\.+$/, ''));
        return 'SUCCESS';
      },
    });
    await eventually(() => got.length === sent.length, 10_000, 'every message consumed');
    const fromSlave = pullsAt(slave.address);
    // 300 records of about 300 bytes: all but the last ~4 KiB (a dozen records) lie beyond the threshold
    expect(fromSlave).toBeGreaterThan(20);
    // caught up: the pulls go to the master again, and new messages are read there
    const atMaster = pullsAt(master.address);
    const producer = await s.spawnProducer({ group: 'pg', namesrv: ['ns'], ...FAST.client });
    await producer.sendBatch(Array.from({ length: 3 }, (_, i) => ({ topic: 'T', body: Buffer.from(`new${i}`) })));
    await eventually(() => got.length === sent.length + 3, 5_000, 'the new messages consumed');
    await sleep(1_200); // a few long polls
    expect(pullsAt(slave.address)).toBe(fromSlave);
    expect(pullsAt(master.address)).toBeGreaterThan(atMaster + 1);
    expect(new Set(got).size).toBe(sent.length + 3);
  }, 30_000);
});
