import type { BrokerHandle, MqSystem } from '../../index.js';
import { startTransactionProducer, type TxState } from '../../actors/producer/transaction-producer.js';
import { RequestCode } from '../../actors/protocol/request-codes.js';
import { request } from '../../actors/protocol/replies.js';
import { Status } from '../../core/status.js';
import type { StoreMode } from '../../store/open-store.js';
import { FAST, Received, createTopic, eventually, memorySystem, spawnRecordingConsumer } from './support.js';

/**
 * Transactional messages end to end on the memory transport: half messages are invisible, commits arrive
 * exactly once, rollbacks never; unknown outcomes are settled by the broker's checks (with another producer
 * of the group when the first is gone, by txCheckExhausted after txMaxChecks), and across a broker restart.
 */

const TX = { txCheckTimeoutMs: 300, txCheckIntervalMs: 300, txMaxChecks: 50 };
const NS = ['ns-1'];

/** The store mode of the describe under way (each test runs on both). */
let storeMode: StoreMode = 'mixed';

async function cluster(system: MqSystem, tx: Record<string, unknown> = TX): Promise<BrokerHandle> {
  await system.spawnNameServer({ id: 'ns-1', scanIntervalMs: 500, brokerExpiryMs: 3000 });
  const broker = await system.spawnBroker({ name: 'broker-a', namesrv: NS, storeDir: '/data/a', storeMode, ...FAST.broker, ...tx });
  await broker.whenServing();
  await createTopic(system, [broker.address], 'tx', 2);
  return broker;
}

const body = (m: { body: Uint8Array }): string => Buffer.from(m.body).toString('utf8');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(['mixed', 'per-queue'] as const)('transactional messages (%s store)', (mode) => {
  let system: MqSystem;
  beforeEach(() => {
    storeMode = mode;
  });
  afterEach(async () => {
    await system?.stop();
  });

  it('commits, rolls back, and settles unknown outcomes by checks; consumers see each committed message once and nothing else', async () => {
    system = await memorySystem();
    const broker = await cluster(system);
    const received = new Received();
    const consumer = await spawnRecordingConsumer(system, received, 'c1', { group: 'cg', namesrv: NS, subscribe: { tx: '*' } });
    await eventually(() => consumer.assignment().filter((q) => q.topic === 'tx').length === 2, 5_000, 'queues assigned');
    const checked: string[] = [];
    const producer = await startTransactionProducer(system, {
      group: 'tpg',
      namesrv: NS,
      ...FAST.client,
      checkListener: (m) => {
        checked.push(body(m));
        expect(m.topic).toBe('tx');
        return body(m).startsWith('ur-') ? 'ROLLBACK' : 'COMMIT';
      },
    });
    const local = (kind: string): TxState => {
      if (kind === 'c') return 'COMMIT';
      if (kind === 'r') return 'ROLLBACK';
      if (kind === 'x') throw new Error('local transaction failed');
      return 'UNKNOWN';
    };
    const kinds = ['c', 'r', 'uc', 'ur', 'x'];
    const results = [];
    for (let i = 0; i < 8; i++) {
      for (const k of kinds) {
        results.push(await producer.sendInTransaction({ topic: 'tx', tags: 'T', body: Buffer.from(`${k}-${i}`) }, (msg, sent) => {
          expect(sent.transactionId).toBeDefined();
          return local(k);
        }));
      }
    }
    expect(results.filter((r) => r.state === 'COMMIT').length).toBe(8);
    expect(results.filter((r) => r.state === 'UNKNOWN').length).toBe(24);
    const tx = broker.context()!.timerTx!.transactions;
    await eventually(() => tx.snapshot().pending === 0, 10_000, 'every transaction settled');
    const want = new Set<string>();
    for (let i = 0; i < 8; i++) for (const k of ['c', 'uc', 'x']) want.add(`${k}-${i}`);
    await eventually(() => received.all().length >= want.size, 10_000, 'committed messages');
    await sleep(500);
    const got = received.bodies();
    expect(got.length).toBe(want.size);
    expect(new Set(got)).toEqual(want);
    // only unknown outcomes were checked
    expect(checked.every((b) => /^(uc|ur|x)-/.test(b))).toBe(true);
    expect(received.all().every((m) => m.properties?.TRAN_MSG === undefined && m.properties?.REAL_TOPIC === undefined)).toBe(true);
    expect(tx.snapshot()).toMatchObject({ committed: 24, rolledBack: 16, exhausted: 0 });
    await producer.stop();
  });

  it('writes a commit once however many END_TRANSACTIONs arrive, and refuses a forged one', async () => {
    system = await memorySystem();
    const broker = await cluster(system, { ...TX, txCheckTimeoutMs: 60_000 });
    const received = new Received();
    await spawnRecordingConsumer(system, received, 'c1', { group: 'cg', namesrv: NS, subscribe: { tx: '*' } });
    const producer = await startTransactionProducer(system, { group: 'tpg', namesrv: NS, ...FAST.client, checkListener: () => 'UNKNOWN' });
    const { sendResult } = await producer.sendInTransaction({ topic: 'tx', body: Buffer.from('once') }, () => 'UNKNOWN');
    const end = (state: string, over: Record<string, string | number | boolean> = {}) =>
      system.env.transport.request(
        broker.address,
        request(RequestCode.END_TRANSACTION, { producerGroup: 'tpg', msgId: sendResult.msgId, halfOffset: sendResult.queueOffset, transactionState: state, fromTransactionCheck: false, ...over }),
      );
    const replies = await Promise.all([end('COMMIT'), end('COMMIT'), end('ROLLBACK')]);
    expect(replies.map((r) => r.status)).toEqual([0, 0, 0]);
    expect(replies.map((r) => r.header.outcome)).toEqual(['COMMITTED', 'ALREADY_RESOLVED', 'ALREADY_RESOLVED']);
    expect((await end('ROLLBACK', { producerGroup: 'other' })).header.outcome).toBe('ALREADY_RESOLVED');
    const forged = await end('COMMIT', { halfOffset: 99 });
    expect(forged.status).toBe(Status.INVALID_ARGUMENT);
    // an id naming an offset past the log's end is answered at once (it once waited for the log to grow there)
    const past = sendResult.msgId.slice(0, -16) + 'FFFFFFFFFFFF'.padStart(16, '0');
    const far = await Promise.race([end('COMMIT', { halfOffset: 7, msgId: past }), sleep(2_000).then(() => 'no answer')]);
    expect(far).toMatchObject({ status: Status.INVALID_ARGUMENT, header: { error: expect.stringMatching(/no half message/) } });
    await eventually(() => received.all().length === 1, 10_000, 'the commit');
    // many outcomes in one frame: each is settled once, a forged one fails alone
    const second = (await producer.sendInTransaction({ topic: 'tx', body: Buffer.from('batched') }, () => 'UNKNOWN')).sendResult;
    const lines = [`COMMIT\t${second.queueOffset}\t${second.msgId}`, `COMMIT\t${second.queueOffset}\t${second.msgId}`, `COMMIT\t99\t${second.msgId}`];
    const batch = await system.env.transport.request(broker.address, request(RequestCode.END_TRANSACTION, { producerGroup: 'tpg', batch: 3 }, Buffer.from(lines.join('\n'))));
    expect(batch.status).toBe(0);
    expect(batch.header.outcomes).toBe('COMMITTED,ALREADY_RESOLVED,ERROR');
    await eventually(() => received.all().length === 2, 10_000, 'the batched commit');
    await sleep(300);
    expect(received.bodies()).toEqual(['once', 'batched']);
    await producer.stop();
  });

  it('asks another producer of the group when the sender stopped after its half message', async () => {
    system = await memorySystem();
    const broker = await cluster(system, { ...TX, txCheckTimeoutMs: 1000 });
    const received = new Received();
    await spawnRecordingConsumer(system, received, 'c1', { group: 'cg', namesrv: NS, subscribe: { tx: '*' } });
    const first = await startTransactionProducer(system, { group: 'tpg', namesrv: NS, ...FAST.client, clientId: 'p-first', checkListener: () => 'ROLLBACK' });
    const { sendResult } = await first.sendInTransaction({ topic: 'tx', body: Buffer.from('orphan') }, () => 'UNKNOWN');
    await first.stop();
    const asked: string[] = [];
    const second = await startTransactionProducer(system, {
      group: 'tpg',
      namesrv: NS,
      ...FAST.client,
      clientId: 'p-second',
      topics: ['tx'],
      checkListener: (m) => {
        asked.push(m.msgId);
        return 'COMMIT';
      },
    });
    await eventually(() => received.all().length === 1, 10_000, 'the orphan committed by the second producer');
    expect(asked).toEqual([sendResult.msgId]);
    expect(received.bodies()).toEqual(['orphan']);
    expect(broker.context()!.timerTx!.transactions.snapshot().pending).toBe(0);
    await second.stop();
  });

  it('rolls back after txMaxChecks unanswered checks', async () => {
    system = await memorySystem();
    const broker = await cluster(system, { txCheckTimeoutMs: 100, txCheckIntervalMs: 100, txMaxChecks: 3 });
    const received = new Received();
    await spawnRecordingConsumer(system, received, 'c1', { group: 'cg', namesrv: NS, subscribe: { tx: '*' } });
    let checks = 0;
    const producer = await startTransactionProducer(system, { group: 'tpg', namesrv: NS, ...FAST.client, checkListener: () => (checks++, 'UNKNOWN') });
    await producer.sendInTransaction({ topic: 'tx', body: Buffer.from('undecided') }, () => 'UNKNOWN');
    const tx = broker.context()!.timerTx!.transactions;
    await eventually(() => tx.snapshot().exhausted === 1 && tx.snapshot().pending === 0, 10_000, 'checks exhausted');
    await sleep(300);
    expect(tx.snapshot()).toMatchObject({ rolledBack: 1, committed: 0, checks: 3 });
    expect(checks).toBeGreaterThanOrEqual(2);
    expect(received.all()).toEqual([]);
    await producer.stop();
  });

  it('keeps half messages pending across a broker restart and settles them after', async () => {
    system = await memorySystem();
    const broker = await cluster(system, { ...TX, txCheckTimeoutMs: 200, txCheckIntervalMs: 200 });
    const received = new Received();
    await spawnRecordingConsumer(system, received, 'c1', { group: 'cg', namesrv: NS, subscribe: { tx: '*' } });
    let decided = false;
    const producer = await startTransactionProducer(system, {
      group: 'tpg',
      namesrv: NS,
      ...FAST.client,
      checkListener: (m) => (decided ? (body(m).endsWith('-r') ? 'ROLLBACK' : 'COMMIT') : 'UNKNOWN'),
    });
    for (let i = 0; i < 6; i++) await producer.sendInTransaction({ topic: 'tx', body: Buffer.from(`early-${i}`) }, () => 'COMMIT');
    for (let i = 0; i < 6; i++) await producer.sendInTransaction({ topic: 'tx', body: Buffer.from(`late-${i}${i % 3 === 0 ? '-r' : ''}`) }, () => 'UNKNOWN');
    await eventually(() => received.all().length >= 6, 10_000, 'early commits');
    // the service sees a half message once it is flushed (async flush answers before)
    await eventually(() => broker.context()!.timerTx!.transactions.snapshot().pending === 6, 10_000, 'six pending halves');
    await broker.stop();
    const again = await system.spawnBroker({ name: 'broker-a', namesrv: NS, storeDir: '/data/a', storeMode, ...FAST.broker, ...TX, txCheckTimeoutMs: 200, txCheckIntervalMs: 200 });
    await again.whenServing();
    const tx = again.context()!.timerTx!.transactions;
    expect(tx.pendingHalves().length).toBe(6);
    decided = true;
    await eventually(() => tx.snapshot().pending === 0, 10_000, 'pending settled after the restart');
    await eventually(() => received.all().length >= 10, 10_000, 'late commits');
    await sleep(500);
    const got = received.bodies().sort();
    expect(got).toEqual([...[0, 1, 2, 3, 4, 5].map((i) => `early-${i}`), 'late-1', 'late-2', 'late-4', 'late-5'].sort());
    await producer.stop();
  });
});
