import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryTransport, startSystem, type MqSystem } from '../../../../index.js';
import { rootLogger } from '../../../../actors/runtime/environment.js';
import { diskStorage } from '../../../../store/backends/disk.js';
import { RequestCode } from '../../../../actors/protocol/request-codes.js';
import { request } from '../../../../actors/protocol/replies.js';
import { Status } from '../../../../core/status.js';
import { SendStatus } from '../../../../core/message.js';
import type { BrokerHandle } from '../../../../actors/broker/broker.js';
import type { BrokerOptions } from '../../../../actors/broker/broker-options.js';
import { createTopic } from '../../../e2e/support.js';
import { haStatus, until } from '../../../support/ha.js';

describe('master/slave replication', () => {
  let root: string;
  let system: MqSystem | undefined;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'actormq-ha-'));
  });
  afterEach(async () => {
    await system?.stop();
    system = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  async function cluster(ha: BrokerOptions['ha'], slaveHa: BrokerOptions['ha'] = { mode: 'async', configSyncMs: 100 }): Promise<{ system: MqSystem; master: BrokerHandle; startSlave: () => Promise<BrokerHandle> }> {
    const s = await startSystem({ transport: memoryTransport(), storage: () => diskStorage(root), logger: rootLogger('silent') });
    system = s;
    await s.spawnNameServer({ id: 'ns' });
    const base = { name: 'b', namesrv: ['ns'], segmentSize: 64 * 1024, warmAheadBytes: 0 };
    const master = await s.spawnBroker({ ...base, storeDir: 'master', ...(ha ? { ha } : {}) });
    const startSlave = (): Promise<BrokerHandle> => s.spawnBroker({ ...base, id: 1, storeDir: 'slave', flush: 'sync', ha: slaveHa });
    return { system: s, master, startSlave };
  }

  it('a sync master acknowledges once its slave holds a batch: the slave has every message, indexed, and the topics', async () => {
    const { system: s, master, startSlave } = await cluster({ mode: 'sync' });
    const slave = await startSlave();
    await until('the slave in sync', async () => (await haStatus(s, master.address))?.inSync?.includes(1) === true);
    await createTopic(s, [master.address], 'T', 2);
    const producer = await s.spawnProducer({ group: 'pg', namesrv: ['ns'] });
    const sent: string[] = [];
    for (let i = 0; i < 60; i++) {
      const r = await producer.sendBatch(Array.from({ length: 20 }, (_, j) => ({ topic: 'T', body: Buffer.from(`m${i}-${j}`.padEnd(200 + ((i * 37) % 900), '.')) })));
      expect(r.map((x) => x.status)).toEqual(Array(20).fill(SendStatus.SEND_OK));
      for (let j = 0; j < 20; j++) sent.push(`m${i}-${j}`);
    }
    // acknowledged means held by the slave: its positions caught up before each answer
    const mctx = master.context()!;
    const sctx = slave.context()!;
    const mpos = mctx.store.status().positions;
    expect(sctx.store.status().positions.writeOffset).toBe(mpos.writeOffset);
    expect(mpos.writeOffset).toBeGreaterThan(2 * 64 * 1024); // several segments
    const st = (await haStatus(s, master.address))!;
    expect(st).toMatchObject({ role: 'master', mode: 'sync', inSync: [0, 1] });
    expect(st.slaves![0]).toMatchObject({ brokerId: 1, address: slave.address, lagBytes: 0, lagMessages: 0, inSync: true });
    // the slave indexed everything (once flushed) and learned the topic
    await until('the slave indexed', () => sctx.store.maxOffset('T', 0) + sctx.store.maxOffset('T', 1) === sent.length);
    await until('the slave copied the topics', () => sctx.topics.get('T')?.readQueueNums === 2);
    const got: string[] = [];
    for (const q of [0, 1]) {
      const r = await sctx.store.getMessages({ topic: 'T', queueId: q, offset: 0, maxCount: 2000 });
      for (const m of r.messages) got.push(Buffer.from(m.body).toString().replace(/\.+$/, ''));
    }
    expect(got.sort()).toEqual([...sent].sort());
    const slaveStatus = await haStatus(s, slave.address);
    expect(slaveStatus).toMatchObject({ role: 'slave', master: master.address, writeOffset: mpos.writeOffset });
  });

  it('a new slave with startFrom last-file copies from the master\'s last segment, then follows', async () => {
    const { system: s, master } = await cluster({ mode: 'async' });
    await createTopic(s, [master.address], 'T', 2);
    const producer = await s.spawnProducer({ group: 'pg', namesrv: ['ns'] });
    for (let i = 0; i < 40; i++) await producer.sendBatch(Array.from({ length: 20 }, () => ({ topic: 'T', body: Buffer.alloc(300, 97) })));
    const mpos = master.context()!.store.status().positions;
    expect(mpos.writeOffset).toBeGreaterThan(3 * 64 * 1024);
    const slave = await s.spawnBroker({ name: 'b', id: 1, namesrv: ['ns'], storeDir: 'slave', segmentSize: 64 * 1024, warmAheadBytes: 0, ha: { mode: 'async', startFrom: 'last-file', configSyncMs: 100 } });
    await until('the slave in sync', async () => (await haStatus(s, master.address))?.inSync?.includes(1) === true);
    const spos = slave.context()!.store.status().positions;
    expect(spos.minOffset).toBe(mpos.writeOffset - (mpos.writeOffset % (64 * 1024)));
    await producer.send({ topic: 'T', body: Buffer.from('after') });
    await until('the slave has it', () => slave.context()!.store.status().positions.writeOffset === master.context()!.store.status().positions.writeOffset);
  });

  it('a slave takes no writes, from a client or from its own writers', async () => {
    const { system: s, master, startSlave } = await cluster({ mode: 'async' });
    const slave = await startSlave();
    await createTopic(s, [master.address], 'T', 1);
    const r = await s.env.transport.request(slave.address, request(RequestCode.SEND_MESSAGE, { producerGroup: 'pg', topic: 'T', queueId: 0, bornHost: 'x', bornTimestamp: 1 }, new Uint8Array(0)));
    expect(r.status).not.toBe(Status.OK);
    const producer = await s.spawnProducer({ group: 'pg', namesrv: ['ns'] });
    await producer.send({ topic: 'T', body: Buffer.from('x') });
    const put = await slave.context()!.store.putMessages([{ topic: 'T', queueId: 0, body: new Uint8Array(1), bornTimestamp: 1, bornHost: 'x' }]);
    expect(put.status).toBe(Status.SERVICE_NOT_AVAILABLE);
    expect(put.message).toMatch(/slave/);
  });

  it('sync: without its slave a send is stored but answered FLUSH_SLAVE_TIMEOUT, then refused once the slave leaves the in-sync set; it returns and catches up', async () => {
    const { system: s, master, startSlave } = await cluster({ mode: 'sync', syncTimeoutMs: 200, maxTimeSlaveNotCatchupMs: 600 });
    let slave = await startSlave();
    await createTopic(s, [master.address], 'T', 1);
    await until('the slave in sync', async () => (await haStatus(s, master.address))?.inSync?.includes(1) === true);
    const producer = await s.spawnProducer({ group: 'pg', namesrv: ['ns'], retries: 0 });
    expect((await producer.send({ topic: 'T', body: Buffer.from('a') })).status).toBe(SendStatus.SEND_OK);
    await slave.stop();
    const late = await producer.send({ topic: 'T', body: Buffer.from('b') });
    expect(late.status).toBe(SendStatus.FLUSH_SLAVE_TIMEOUT);
    expect(late.msgId).toBeTruthy(); // stored, with its id
    await until('the slave out of the in-sync set', async () => (await haStatus(s, master.address))?.inSync?.length === 1);
    await expect(producer.send({ topic: 'T', body: Buffer.from('c') })).rejects.toThrow(/IN_SYNC_REPLICAS_NOT_ENOUGH/);
    const stored = master.context()!.store.maxOffset('T', 0);
    expect(stored).toBe(2); // c was not stored
    slave = await startSlave();
    await until('the slave back in sync', async () => (await haStatus(s, master.address))?.inSync?.includes(1) === true);
    expect((await producer.send({ topic: 'T', body: Buffer.from('d') })).status).toBe(SendStatus.SEND_OK);
    expect(slave.context()!.store.status().positions.writeOffset).toBe(master.context()!.store.status().positions.writeOffset);
  });
});
