import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryTransport, startSystem, type MqSystem } from '../../../../index.js';
import { rootLogger } from '../../../../actors/runtime/environment.js';
import { diskStorage } from '../../../../store/backends/disk.js';
import { SendStatus } from '../../../../core/message.js';
import type { BrokerHandle } from '../../../../actors/broker/broker.js';
import type { Producer } from '../../../../actors/producer/producer.js';
import { createTopic } from '../../../e2e/support.js';
import { haStatus, until } from '../../../support/ha.js';

const LEASE = { leaseMs: 600, aliveMs: 600, maxClockSkewMs: 100 };

describe.each([
  ['a controller actor', ['c'] as readonly string[]],
  ['the transport\'s key-value bucket', 'kv' as const],
])('automatic failover under %s', (_name, controller) => {
  let root: string;
  let system: MqSystem | undefined;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'actormq-failover-'));
  });
  afterEach(async () => {
    await system?.stop();
    system = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  async function start(): Promise<{ s: MqSystem; spawn: (id: number) => Promise<BrokerHandle> }> {
    const s = await startSystem({ transport: memoryTransport(), storage: () => diskStorage(root), logger: rootLogger(process.env.DBG ? 'info' : 'silent') });
    system = s;
    await s.spawnNameServer({ id: 'ns' });
    await s.spawnController({ id: 'c', settings: LEASE });
    const spawn = (id: number): Promise<BrokerHandle> =>
      s.spawnBroker({
        name: 'b',
        id,
        namesrv: ['ns'],
        storeDir: `b${id}`,
        flush: 'sync',
        segmentSize: 64 * 1024,
        warmAheadBytes: 0,
        ha: { mode: 'sync', minInSyncReplicas: 1, allAckInSyncSet: true, controller, kv: LEASE, heartbeatMs: 100, maxTimeSlaveNotCatchupMs: 2000, syncTimeoutMs: 1000, configSyncMs: 200 },
      });
    return { s, spawn };
  }

  async function sendAll(p: Producer, prefix: string, n: number): Promise<{ acked: string[]; ambiguous: string[] }> {
    const acked: string[] = [];
    const ambiguous: string[] = [];
    for (let i = 0; i < n; i++) {
      const body = `${prefix}-${i}`;
      try {
        const r = await p.send({ topic: 'T', body: Buffer.from(body) });
        (r.status === SendStatus.SEND_OK ? acked : ambiguous).push(body);
        if (process.env.DBG && r.status !== SendStatus.SEND_OK) console.error(body, r.status);
      } catch (err) {
        // failed: not stored, or stored without an answer (ambiguous too)
        if (process.env.DBG) console.error(body, (err as Error).message);
        ambiguous.push(body);
      }
    }
    return { acked, ambiguous };
  }

  it('elects the first broker, admits the slave to the in-sync set, fails over when the master stops, and the old master returns as a slave; nothing acknowledged is lost', async () => {
    const { s, spawn } = await start();
    const b1 = await spawn(1);
    await until('b1 master', async () => (await haStatus(s, b1.address))?.role === 'master');
    const b2 = await spawn(2);
    const b2Roles: string[] = [];
    b2.role$.subscribe((r) => b2Roles.push(`${r.role} ${r.epoch}${r.master !== undefined ? ` ${r.master}` : ''}`));
    await until('b2 in sync', async () => (await haStatus(s, b1.address))?.inSync?.join() === '1,2');
    const st1 = (await haStatus(s, b1.address))!;
    expect(st1).toMatchObject({ role: 'master', epoch: 1 });
    expect((await haStatus(s, b2.address))!).toMatchObject({ role: 'slave', epoch: 1, master: b1.address });

    await createTopic(s, [b1.address], 'T', 2);
    const producer = await s.spawnProducer({ group: 'pg', namesrv: ['ns'], retries: 4 });
    const first = await sendAll(producer, 'a', 50);
    expect(first.acked.length).toBe(50);
    // each SEND_OK names the master epoch it was answered in
    expect((await producer.send({ topic: 'T', body: Buffer.from('in-epoch-1') })).epoch).toBe(1);

    const stoppedAt = Date.now();
    await b1.stop();
    await until('b2 master', async () => (await haStatus(s, b2.address))?.role === 'master', 5000);
    const failoverMs = Date.now() - stoppedAt;
    expect(failoverMs).toBeLessThan(LEASE.leaseMs + LEASE.maxClockSkewMs + 2000);
    expect((await haStatus(s, b2.address))!.epoch).toBe(2);
    // role$ told each change: none before the controller answered, slave of b1, master of epoch 2
    expect(b2Roles.filter((r) => r !== 'none 0')).toEqual([`slave 1 ${b1.address}`, 'master 2']);

    // the new master has every topic of the old (apache/rocketmq#9804) and takes sends once its lease holds
    expect(b2.context()!.topics.get('T')?.writeQueueNums).toBe(2);
    await until('sends to the new master', async () => (await producer.send({ topic: 'T', body: Buffer.from('probe') }).catch(() => undefined))?.status === SendStatus.SEND_OK, 8000);
    expect((await producer.send({ topic: 'T', body: Buffer.from('in-epoch-2') })).epoch).toBe(2);
    const second = await sendAll(producer, 'b', 30);

    // the old master comes back on its disk and follows the new one
    const b1again = await spawn(1);
    await until('b1 slave of b2', async () => {
      const st = await haStatus(s, b1again.address);
      return st?.role === 'slave' && st.master === b2.address;
    });
    await until('b1 back in sync', async () => (await haStatus(s, b2.address))?.inSync?.join() === '1,2', 8000);
    const third = await sendAll(producer, 'c', 20);
    expect(third.acked.length).toBe(20);

    // every acknowledged message is read, from whichever broker
    const consumer = await s.spawnConsumer({ group: 'cg', namesrv: ['ns'], subscribe: { T: '*' }, consumeFrom: 'first' });
    const seen = new Set<string>();
    const sub = consumer.messages$.subscribe((m) => seen.add(Buffer.from(m.body).toString()));
    const acked = [...first.acked, ...second.acked, ...third.acked];
    await until('every acknowledged message consumed', () => acked.every((b) => seen.has(b)), 15_000);
    sub.unsubscribe();
    // b1 and b2 hold the same log up to the confirmed data
    await until('logs agree', () => b1again.context()!.store.status().positions.writeOffset === b2.context()!.store.status().positions.writeOffset);
  });
});
