import { SimClock, settle } from '../../core/clock.js';
import { rootLogger } from '../../actors/runtime/environment.js';
import { SeededRandom } from '../../core/random.js';
import { Status } from '../../core/status.js';
import { faultyStorage } from '../../store/backends/faulty.js';
import type { MemoryStorage } from '../../store/backends/memory.js';
import { decodeMessageId } from '../../store/message-id.js';
import type { MessageStore, MessageStoreOptions } from '../../store/message-store.js';
import { openStore } from '../../store/open-store.js';
import { memorySetup, textMsg } from '../support/memory-store.js';
import { LOG_SPAN } from '../../store/per-queue-store.js';
import { storePort } from '../../actors/broker/store-adapter.js';
import { resolveBrokerOptions } from '../../actors/broker/broker-options.js';

const logger = rootLogger('silent');
const dec = new TextDecoder();

const setup = memorySetup;

function open(mem: MemoryStorage, clock: SimClock, extra: Partial<MessageStoreOptions> = {}): Promise<MessageStore> {
  return openStore({ storeMode: 'per-queue', dir: '/data', storage: mem, clock, random: new SeededRandom(9), logger, storeHost: 'broker-a', flush: 'sync', segmentSize: 4096, ...extra });
}

const msg = textMsg;

describe('per-queue store', () => {
  it('keeps each queue in a log of its own whose offsets, and the ids made of them, name the log', async () => {
    const { clock, mem } = setup();
    const store = await open(mem, clock);
    const a = await store.putMessages([msg('T', 0, 'a0'), msg('T', 0, 'a1')]);
    const b = await store.putMessages([msg('T', 1, 'b0')]);
    const c = await store.putMessages([msg('U', 0, 'c0')]);
    for (const r of [a, b, c]) expect(r.status).toBe(Status.OK);
    // log n starts at n * LOG_SPAN: the first queue written is log 0, the next log 1 ...
    expect(a.results.map((x) => Math.floor(x.commitLogOffset / LOG_SPAN))).toEqual([0, 0]);
    expect(Math.floor(b.results[0]!.commitLogOffset / LOG_SPAN)).toBe(1);
    expect(c.results[0]!.commitLogOffset).toBe(2 * LOG_SPAN);
    expect(decodeMessageId(c.results[0]!.msgId).commitLogOffset).toBe(2 * LOG_SPAN);
    expect(mem.list('/data/logs')).toEqual(['00000', '00001', '00002']);
    const named = mem.open('/data/logs/00002/queue', { create: false });
    expect(JSON.parse(dec.decode(named.read(0, named.size())))).toEqual({ topic: 'U', queueId: 0 });
    named.close();
    // every queue numbers its messages from 0, and reads find them by queue and by id
    expect([a.results[1]!.queueOffset, b.results[0]!.queueOffset, c.results[0]!.queueOffset]).toEqual([1, 0, 0]);
    for (const [r, body] of [[a, 'a1'], [b, 'b0'], [c, 'c0']] as const) {
      const x = r.results[r.results.length - 1]!;
      expect(dec.decode(store.lookupById(x.msgId)!.body)).toBe(body);
    }
    expect(store.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 10 }).messages.map((m) => dec.decode(m.body))).toEqual(['a0', 'a1']);
    expect(store.getMessages({ topic: 'T', queueId: 9, offset: 0, maxCount: 10 }).status).toBe('NO_MESSAGE_IN_QUEUE');
    expect(store.lookupById('00'.repeat(20))).toBeUndefined();
    expect(store.queueList()).toEqual([
      { topic: 'T', queueId: 0, maxOffset: 2 },
      { topic: 'T', queueId: 1, maxOffset: 1 },
      { topic: 'U', queueId: 0, maxOffset: 1 },
    ]);
    await store.close();
    // reopened: the same logs for the same queues, each numbering on
    const again = await open(mem, clock);
    const next = await again.putMessages([msg('T', 1, 'b1'), msg('U', 0, 'c1')]);
    expect(next.results.map((x) => [Math.floor(x.commitLogOffset / LOG_SPAN), x.queueOffset])).toEqual([
      [1, 1],
      [2, 1],
    ]);
    expect(dec.decode(again.lookupById(a.results[0]!.msgId)!.body)).toBe('a0');
    await again.close();
  });

  it('stores a batch over several queues in each one\'s log and answers in the batch\'s order', async () => {
    const { clock, mem } = setup();
    const store = await open(mem, clock);
    const r = await store.putMessages([msg('T', 0, 'x', { keys: ['k'] }), msg('T', 1, 'y', { keys: ['k'] }), msg('T', 0, 'z'), msg('V', 3, 'w', { keys: ['k'] })]);
    expect(r.status).toBe(Status.OK);
    expect(r.results.map((x) => x.queueOffset)).toEqual([0, 0, 1, 0]);
    expect(r.results.map((x) => dec.decode(store.lookupById(x.msgId)!.body))).toEqual(['x', 'y', 'z', 'w']);
    expect(r.msgIdPrefix).toBe(store.msgIdPrefix);
    await settle();
    // a key is looked up in every log of its topic
    expect(
      store
        .lookupByKey('T', 'k', 10)
        .map((m) => dec.decode(m.body))
        .sort(),
    ).toEqual(['x', 'y']);
    expect(store.lookupByKey('T', 'k', 1)).toHaveLength(1);
    // flush waits go to the logs that hold the records
    await store.whenRecordsFlushed(r.results.map((x) => x.commitLogOffset));
    await store.close();
  });

  it('serves written data at once with visibility written, from each queue\'s log', async () => {
    const { clock, mem } = setup();
    const store = await open(mem, clock, { flush: 'async', visibility: 'written', flushIntervalMs: 1000 });
    await store.putMessages([msg('T', 0, 'a'), msg('T', 1, 'b')]);
    await settle();
    expect(store.maxOffset('T', 0)).toBe(1);
    expect(store.maxOffset('T', 1)).toBe(1);
    expect(store.positions().flushedOffset).toBeLessThan(store.positions().writeOffset);
    await clock.advance(1000);
    await settle();
    expect(store.positions().flushedOffset).toBe(store.positions().writeOffset);
    await store.close();
  });

  it('drops a log a crash left unnamed, and refuses what only the mixed log does', async () => {
    const { clock, mem } = setup();
    const store = await open(mem, clock);
    await store.putMessages([msg('T', 0, 'a')]);
    expect(() => store.readReplica(0, 100)).toThrow(/does not replicate/);
    await expect(store.truncateTail(0)).rejects.toThrow(/does not replicate/);
    expect((await store.appendReplica(0, new Uint8Array(1))).status).toBe(Status.SERVICE_NOT_AVAILABLE);
    expect(storePort(store).replication).toBeUndefined();
    await store.close();
    mem.mkdir('/data/logs/00001/commitlog'); // made, then the power went before its queue file
    const again = await open(mem, clock);
    expect(mem.list('/data/logs')).toEqual(['00000']);
    const r = await again.putMessages([msg('T', 1, 'b')]);
    expect(Math.floor(r.results[0]!.commitLogOffset / LOG_SPAN)).toBe(2); // log numbers are not re-used
    await again.close();
  });

  it('reports a failed log as the store\'s health, naming its queue, and then takes no writes', async () => {
    const { clock, mem } = setup();
    const faulty = faultyStorage(mem);
    const store = await openStore({ storeMode: 'per-queue', dir: '/data', storage: faulty, clock, random: new SeededRandom(9), logger, storeHost: 'broker-a', flush: 'sync', segmentSize: 4096 });
    expect((await store.putMessages([msg('T', 0, 'a'), msg('T', 1, 'b')])).status).toBe(Status.OK);
    const seen: string[] = [];
    store.health$.subscribe((h) => seen.push(h.state));
    faulty.failWrites('EIO');
    expect((await store.putMessages([msg('T', 1, 'c')])).status).toBe(Status.STORE_FAILED);
    const h = store.health();
    expect(h.state).toBe('failed');
    expect(h.state !== 'ok' && h.reason).toMatch(/^T\/1: .*EIO/);
    expect(seen).toEqual(['ok', 'failed']);
    faulty.heal();
    expect((await store.putMessages([msg('T', 0, 'd')])).status).toBe(Status.STORE_FAILED);
    expect(store.state).toBe('failed');
    await store.close();
  });

  it('refuses a segment size that does not divide a log\'s span, and a second open of the directory', async () => {
    const { clock, mem } = setup();
    await expect(open(mem, clock, { segmentSize: 3000 })).rejects.toThrow(/segment size that divides/);
    const store = await open(mem, clock);
    await expect(open(mem, clock)).rejects.toThrow(/lock|in use/);
    await store.close();
  });

  it('is a broker option only where nothing is replicated', () => {
    const base = { name: 'b', namesrv: ['ns'], storeDir: '/d' };
    expect(resolveBrokerOptions(base).storeMode).toBe('mixed');
    expect(resolveBrokerOptions({ ...base, storeMode: 'per-queue' }).storeMode).toBe('per-queue');
    expect(() => resolveBrokerOptions({ ...base, storeMode: 'per-queue', id: 1 })).toThrow(/does not replicate/);
    expect(() => resolveBrokerOptions({ ...base, storeMode: 'per-queue', ha: { mode: 'sync' } })).toThrow(/does not replicate/);
    expect(() => resolveBrokerOptions({ ...base, storeMode: 'logs' as never })).toThrow(/storeMode must be 'mixed' or 'per-queue'/);
  });
});
