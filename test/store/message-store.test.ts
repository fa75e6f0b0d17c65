import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SimClock, settle } from '../../core/clock.js';
import { fileWith, slowFlushStorage, withFiles } from '../support/storage-wrappers.js';
import { memorySetup, textMsg } from '../support/memory-store.js';
import { rootLogger } from '../../actors/runtime/environment.js';
import { SeededRandom } from '../../core/random.js';
import { Status } from '../../core/status.js';
import { tagHash } from '../../core/tags.js';
import type { StorageBackend } from '../../store/backend.js';
import { faultyStorage } from '../../store/backends/faulty.js';
import { readCheckpoint } from '../../store/checkpoint.js';
import type { MessageStore, MessageStoreOptions, PutMessage } from '../../store/message-store.js';
import { openStore, type StoreMode } from '../../store/open-store.js';

const logger = rootLogger('silent');
const dec = new TextDecoder();

const setup = memorySetup;

let mode: StoreMode = 'mixed';

/** Where the commit log of the `n`th queue written to is (one log for all in a mixed store). */
const commitLogDir = (n = 0): string => (mode === 'mixed' ? '/data/commitlog' : `/data/logs/${String(n).padStart(5, '0')}/commitlog`);

function open(storage: StorageBackend, clock: SimClock, extra: Partial<MessageStoreOptions> = {}): Promise<MessageStore> {
  return openStore({
    storeMode: mode, dir: '/data', storage, clock, random: new SeededRandom(9), logger, storeHost: '10.0.0.1:10911', flush: 'sync', segmentSize: 4096, consumeQueueEntriesPerFile: 16, indexEntriesPerFile: 32, ...extra });
}

const msg = textMsg;

describe.each(['mixed', 'per-queue'] as const)('message store (%s)', (storeMode) => {
  beforeEach(() => {
    mode = storeMode;
  });
  afterEach(() => {
    mode = 'mixed';
  });

  it('stores a uniqKey as the UNIQ_KEY property, indexes it, and reads records without decoding them', async () => {
    const { clock, mem } = setup();
    const store = await open(mem, clock);
    const r = await store.putMessages([msg('T', 0, 'a', { tags: 'x', uniqKey: 'U-1' }), msg('T', 0, 'b', { uniqKey: 'U-2', properties: { UNIQ_KEY: 'own' } })]);
    expect(r.status).toBe(Status.OK);
    await settle();
    const got = store.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 10 });
    expect(got.messages.map((m) => m.properties)).toEqual([{ TAGS: 'x', UNIQ_KEY: 'U-1' }, { UNIQ_KEY: 'own' }]);
    expect(store.lookupByKey('T', 'U-1', 5).map((m) => dec.decode(m.body))).toEqual(['a']);
    expect(store.lookupByKey('T', 'own', 5).map((m) => dec.decode(m.body))).toEqual(['b']);
    const recs = store.getRecords({ topic: 'T', queueId: 0, offset: 1, maxCount: 10 });
    expect(recs).toMatchObject({ status: 'FOUND', count: 1, nextOffset: 2, firstCommitLogOffset: r.results[1]!.commitLogOffset });
    expect(store.getRecords({ topic: 'T', queueId: 0, offset: 2, maxCount: 10 }).firstCommitLogOffset).toBeUndefined();
    expect(dec.decode(store.storedAt(recs, 0)!.body)).toBe('b');
    expect(store.storedAt(recs, 0)!.msgId).toBe(store.msgIdPrefix + r.results[1]!.commitLogOffset.toString(16).toUpperCase().padStart(16, '0'));
    await store.close();
  });

  it('reports the body bytes a read found and each flush that made data durable (metrics)', async () => {
    const { clock, mem } = setup();
    const flushes: { ms: number; bytes: number }[] = [];
    const store = await open(mem, clock, { onFlush: (ms, bytes) => void flushes.push({ ms, bytes }) });
    const r = await store.putMessages([msg('T', 0, 'abc', { tags: 'x' }), msg('T', 0, 'de'), msg('T', 0, '')]);
    expect(r.status).toBe(Status.OK);
    await settle();
    expect(store.getRecords({ topic: 'T', queueId: 0, offset: 0, maxCount: 10 })).toMatchObject({ count: 3, bodyBytes: 5 });
    expect(store.getRecords({ topic: 'T', queueId: 0, offset: 1, maxCount: 10 })).toMatchObject({ count: 2, bodyBytes: 2 });
    expect(store.getRecords({ topic: 'T', queueId: 0, offset: 3, maxCount: 10 })).toMatchObject({ count: 0, bodyBytes: 0 });
    // a sync flush covers the batch: one flush of every byte written, timed on the (simulated) clock
    expect(flushes).toEqual([{ ms: 0, bytes: store.positions().writeOffset }]);
    await store.close();
  });

  it('stores a batch, acknowledges it with offsets and ids, and reads it back by queue, id and key', async () => {
    const { clock, mem } = setup();
    const store = await open(mem, clock);
    const r = await store.putMessages([
      msg('T', 0, 'a', { tags: 'x', keys: ['k1'] }),
      msg('T', 1, 'b'),
      msg('T', 0, 'c', { tags: 'y', properties: { UNIQ_KEY: 'u-3' } }),
    ]);
    expect(r.status).toBe(Status.OK);
    expect(r.results.map((x) => x.queueOffset)).toEqual([0, 0, 1]);
    await settle();
    const got = store.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 10 });
    expect(got.status).toBe('FOUND');
    expect(got.messages.map((m) => dec.decode(m.body))).toEqual(['a', 'c']);
    expect(got.nextOffset).toBe(2);
    expect(got.messages[0]!.msgId).toBe(r.results[0]!.msgId);
    expect(store.getMessages({ topic: 'T', queueId: 0, offset: 2, maxCount: 10 }).status).toBe('OFFSET_OVERFLOW_ONE');
    expect(store.getMessages({ topic: 'T', queueId: 0, offset: 9, maxCount: 10 }).status).toBe('OFFSET_OVERFLOW_BADLY');
    expect(store.getMessages({ topic: 'T', queueId: 5, offset: 0, maxCount: 10 }).status).toBe('NO_MESSAGE_IN_QUEUE');
    const filtered = store.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 10, tags: (h) => h === tagHash('y') });
    expect(filtered.messages.map((m) => m.tags)).toEqual(['y']);
    expect(store.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 10, tags: () => false })).toMatchObject({ status: 'NO_MATCHED', nextOffset: 2 });
    expect(dec.decode(store.lookupById(r.results[1]!.msgId)!.body)).toBe('b');
    expect(store.lookupByKey('T', 'k1', 5).map((m) => dec.decode(m.body))).toEqual(['a']);
    expect(store.lookupByKey('T', 'u-3', 5).map((m) => dec.decode(m.body))).toEqual(['c']);
    expect(store.lookupByKey('T', 'nope', 5)).toEqual([]);
    expect(store.offsetByTime('T', 0, 0)).toBe(0);
    expect(store.offsetByTime('T', 0, clock.now() + 1)).toBe(2);
    await store.close();
    expect(store.state).toBe('closed');
    expect((await store.putMessages([msg('T', 0, 'late')])).status).toBe(Status.SERVICE_NOT_AVAILABLE);
  });

  // the timing of one log's flushes (a per-queue store's first write to a queue also waits for the flush that names its log)
  if (storeMode === 'mixed') {
    it('sync flush: acknowledges only after the flush that covers the batch, and groups batches into one flush', async () => {
      // A store whose flushes are held after opening.
      const { clock: c2, mem: m2 } = setup(2);
      let hold = false;
      const waiting: Array<() => void> = [];
      const storage = withFiles(m2, (f) => fileWith(f, { flush: () => (hold ? new Promise<void>((r) => waiting.push(r)).then(() => f.flush()) : f.flush()) }));
      const s2 = await open(storage, c2);
      hold = true;
      const acks: number[] = [];
      const p1 = s2.putMessages([msg('T', 0, 'one')]).then((r) => acks.push(r.results[0]!.queueOffset));
      await settle();
      const p2 = s2.putMessages([msg('T', 0, 'two')]).then((r) => acks.push(r.results[0]!.queueOffset));
      const p3 = s2.putMessages([msg('T', 0, 'three')]).then((r) => acks.push(r.results[0]!.queueOffset));
      await settle();
      expect(acks).toEqual([]);
      expect(s2.state).toBe('serving.flushing');
      expect(s2.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 10 }).status).toBe('NO_MESSAGE_IN_QUEUE'); // nothing flushed, nothing served
      expect(waiting).toHaveLength(1); // one flush in progress for the first batch
      waiting.shift()!();
      await settle();
      expect(acks).toEqual([0]);
      expect(waiting).toHaveLength(1); // the next flush covers both later batches
      waiting.shift()!();
      await Promise.all([p1, p2, p3]);
      expect(acks).toEqual([0, 1, 2]);
      await settle();
      expect(s2.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 10 }).messages).toHaveLength(3);
      hold = false;
      await s2.close();
    });
  }

  it('async flush: acknowledges after the write, serves only what is flushed, and flushes as soon as the disk is quick', async () => {
    const { clock, mem } = setup();
    const store = await open(mem, clock, { flush: 'async', flushIntervalMs: 200 });
    const r = await store.putMessages([msg('T', 0, 'a'), msg('T', 0, 'b')]);
    expect(r.status).toBe(Status.OK);
    expect(store.positions().flushedOffset).toBeLessThan(store.positions().writeOffset);
    expect(store.state).toBe('serving.scheduled');
    // acknowledged, not served: a power loss may still take it back
    expect(store.maxOffset('T', 0)).toBe(0);
    expect(store.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 10 }).messages).toHaveLength(0);
    let flushed = false;
    void store.whenFlushed(r.results[1]!.commitLogOffset + 1).then(() => (flushed = true));
    // the last flush took no time: this one follows on the next turn of the clock, not after the interval
    await clock.advance(0);
    await settle();
    expect(store.positions().flushedOffset).toBe(store.positions().writeOffset);
    expect(store.state).toBe('serving.idle');
    expect(flushed).toBe(true);
    expect(store.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 10 }).messages).toHaveLength(2);
    await store.close();
  });

  it("async flush with 'interval' pacing waits flushIntervalMs however quick the disk", async () => {
    const { clock, mem } = setup();
    const store = await open(mem, clock, { flush: 'async', flushIntervalMs: 200, flushPacing: 'interval' });
    await store.putMessages([msg('T', 0, 'a')]);
    await clock.advance(199);
    expect(store.state).toBe('serving.scheduled');
    await clock.advance(1);
    await settle();
    expect(store.positions().flushedOffset).toBe(store.positions().writeOffset);
    await store.close();
  });

  // the timing of one log's flushes (a per-queue store's first write to a queue also waits for the flush that names its log)
  if (storeMode === 'mixed') {
    it('async flush: a flush starts as soon as the previous one ended, covering what was written meanwhile', async () => {
      const { clock, mem } = setup();
      // a disk whose flushes take 30 ms of the injected clock, once the store is open
      const gate = { slow: false };
      const storage = slowFlushStorage(mem, clock, 30, gate);
      const store = await open(storage, clock, { flush: 'async', flushIntervalMs: 200 });
      gate.slow = true;
      await store.putMessages([msg('T', 0, 'first')]);
      await clock.advance(0);
      expect(store.state).toBe('serving.flushing');
      // written while the first flush runs: it waits for that flush to end, not for the interval
      await clock.advance(10);
      await store.putMessages([msg('T', 0, 'second')]);
      const second = store.positions().writeOffset;
      await clock.advance(20); // the first flush ends at 30 ms; the next starts at once
      await settle();
      expect(store.positions().flushedOffset).toBeLessThan(second);
      expect(store.state).toBe('serving.flushing');
      await clock.advance(30);
      await settle();
      expect(store.positions().flushedOffset).toBe(second);
      expect(store.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 10 }).messages).toHaveLength(2);
      gate.slow = false; // closing flushes, with nobody moving the clock
      await store.close();
    });
  }

  it('async flush: the sends of one turn leave in one write, and each is answered only once it is written', async () => {
    const { clock, mem } = setup();
    const writes: string[] = [];
    const counted = withFiles(mem, (f) => fileWith(f, { write: (p, d) => (f.path.includes('commitlog') && writes.push(f.path), f.write(p, d)) }));
    const store = await open(counted, clock, { flush: 'async', flushIntervalMs: 1000 });
    const results = await Promise.all([1, 2, 3, 4].map((i) => store.putMessages([msg('T', 0, `m${i}`)])));
    expect(results.map((r) => r.status)).toEqual([0, 0, 0, 0].map(() => Status.OK));
    expect(writes).toHaveLength(1); // four batches, one write
    // answered: in the file (not yet flushed)
    const last = results[3]!.results[0]!;
    const seg = mem.list(commitLogDir()).at(-1)!;
    const f = mem.open(`${commitLogDir()}/${seg}`);
    expect(f.size() + Number(seg)).toBeGreaterThanOrEqual(last.commitLogOffset + last.size);
    f.close();
    await store.close();
  });

  it('async flush: a write of staged sends that fails answers them STORE_FAILED, none OK', async () => {
    const { clock, mem } = setup();
    const faulty = faultyStorage(mem);
    const store = await open(faulty, clock, { flush: 'async', flushIntervalMs: 1000 });
    expect((await store.putMessages([msg('T', 0, 'ok')])).status).toBe(Status.OK);
    faulty.failWrites('EIO');
    const results = await Promise.all([1, 2, 3].map((i) => store.putMessages([msg('T', 0, `m${i}`)])));
    expect(results.map((r) => r.status)).toEqual([Status.STORE_FAILED, Status.STORE_FAILED, Status.STORE_FAILED]);
    expect(results[0]!.message).toMatch(/EIO/);
    expect(store.state).toBe('failed');
    faulty.heal();
    await store.close();
  });

  it('answers SYSTEM_BUSY when too many batches wait for a flush', async () => {
    const { clock, mem } = setup();
    const store = await open(mem, clock, { maxPendingBatches: 2 });
    const all = [1, 2, 3, 4].map((i) => store.putMessages([msg('T', 0, `m${i}`)]));
    const results = await Promise.all(all);
    // Two batches wait for the flush (the first one's flush is under way); the others are refused.
    expect(results.map((r) => r.status)).toEqual([Status.OK, Status.OK, Status.SYSTEM_BUSY, Status.SYSTEM_BUSY]);
    expect((await store.putMessages([msg('T', 0, 'later')])).status).toBe(Status.OK);
    expect(results[3]!.message).toMatch(/busy/);
    await store.close();
  });

  it.each(['write', 'flush'] as const)('a %s failure fails every pending ack and refuses everything after', async (what) => {
    const { clock, mem } = setup();
    const faulty = faultyStorage(mem);
    const store = await open(faulty, clock);
    expect((await store.putMessages([msg('T', 0, 'ok')])).status).toBe(Status.OK);
    // the three small batches are staged and written in one write (SegmentedLog.stageWrites): that write fails
    if (what === 'write') faulty.failWrites('EIO');
    else faulty.failFlushes('EIO');
    const pending = [1, 2, 3].map((i) => store.putMessages([msg('T', 0, `m${i}`)]));
    const results = await Promise.all(pending);
    expect(results.every((r) => r.status === Status.STORE_FAILED)).toBe(true);
    expect(results[0]!.message).toMatch(/EIO/);
    expect(store.state).toBe('failed');
    faulty.heal();
    expect((await store.putMessages([msg('T', 0, 'after')])).status).toBe(Status.STORE_FAILED);
    await store.close();
    expect(store.state).toBe('closed');
  });

  it('refuses with DISK_FULL above the usage ratio, and ENOSPC on write fails the store with DISK_FULL', async () => {
    const { clock, mem } = setup();
    const faulty = faultyStorage(mem);
    const store = await open(faulty, clock);
    faulty.setUsage({ usedBytes: 95, totalBytes: 100 });
    const r = await store.putMessages([msg('T', 0, 'x')]);
    expect(r.status).toBe(Status.DISK_FULL);
    expect(r.message).toMatch(/disk full: 95\.0% used/);
    expect(store.state).toMatch(/^serving/);
    faulty.setUsage(undefined);
    expect((await store.putMessages([msg('T', 0, 'x')])).status).toBe(Status.OK);
    faulty.failWrites('ENOSPC');
    expect((await store.putMessages([msg('T', 0, 'y')])).status).toBe(Status.DISK_FULL);
    expect(store.state).toBe('failed');
    await store.close();
  });

  it('rolls segments and reads across them; refuses a message larger than a segment', async () => {
    const { clock, mem } = setup();
    const store = await open(mem, clock, { segmentSize: 1024 });
    for (let b = 0; b < 20; b++) {
      const r = await store.putMessages(Array.from({ length: 5 }, (_, i) => msg('T', b % 2, `b${b}-${i}-${'x'.repeat(60)}`)));
      expect(r.status).toBe(Status.OK);
    }
    await settle();
    expect(mem.list(commitLogDir()).length).toBeGreaterThan(5);
    for (const q of [0, 1]) {
      const got = store.getMessages({ topic: 'T', queueId: q, offset: 0, maxCount: 100 });
      expect(got.messages).toHaveLength(50);
      expect(got.messages.map((m) => m.queueOffset)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    }
    const big = await store.putMessages([msg('T', 0, 'z'.repeat(2000))]);
    expect(big.status).toBe(Status.MESSAGE_TOO_LARGE);
    await store.close();
    const again = await open(mem, clock, { segmentSize: 1024 });
    expect(again.getMessages({ topic: 'T', queueId: 1, offset: 0, maxCount: 100 }).messages).toHaveLength(50);
    expect((await again.putMessages([msg('T', 1, 'next')])).results[0]!.queueOffset).toBe(50);
    await again.close();
  });

  it('retention deletes old segments on its schedule while reads go on', async () => {
    const { clock, mem } = setup();
    const store = await open(mem, clock, { segmentSize: 1024, retentionMs: 10_000, retentionCheckIntervalMs: 1000 });
    for (let b = 0; b < 10; b++) await store.putMessages(Array.from({ length: 5 }, (_, i) => msg('T', 0, `old-${b}-${i}-${'x'.repeat(60)}`)));
    const before = mem.list(commitLogDir()).length;
    await clock.advance(5_000);
    expect(mem.list(commitLogDir()).length).toBe(before); // not old enough yet
    await clock.advance(15_000);
    for (let b = 0; b < 3; b++) await store.putMessages(Array.from({ length: 5 }, (_, i) => msg('T', 0, `new-${b}-${i}-${'x'.repeat(60)}`)));
    await clock.advance(1000);
    await settle();
    const after = mem.list(commitLogDir()).length;
    expect(after).toBeLessThan(before);
    const min = store.minOffset('T', 0);
    expect(min).toBeGreaterThan(0);
    expect(store.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 5 })).toMatchObject({ status: 'OFFSET_TOO_SMALL', nextOffset: min });
    const got = store.getMessages({ topic: 'T', queueId: 0, offset: min, maxCount: 100 });
    expect(got.status).toBe('FOUND');
    expect(got.messages[got.messages.length - 1]!.queueOffset).toBe(64);
    expect(got.messages.every((m) => m.queueOffset >= min)).toBe(true);
    await store.close();
  });

  it('takes the store lock: a second open of the same directory fails clearly', async () => {
    const { clock, mem } = setup();
    const store = await open(mem, clock);
    await expect(open(mem, clock)).rejects.toThrow(/ELOCKED/);
    await store.close();
    const again = await open(mem, clock);
    await again.close();
  });
});

describe('pull reads', () => {
  it("read a queue's records apart when other queues' records lie between them, and together when they are adjacent", async () => {
    const { clock, mem } = setup();
    const store = await open(mem, clock, { segmentSize: 1024 * 1024 });
    for (let k = 0; k < 3; k++) {
      await store.putMessages([msg('T', 0, `t0-${k}`)]);
      await store.putMessages(Array.from({ length: 20 }, (_, i) => msg('U', i % 4, 'x'.repeat(1000)))); // 20 KB between
    }
    await store.putMessages([msg('T', 1, 'a'), msg('T', 1, 'b'), msg('T', 1, 'c')]);
    await settle();
    const apart = store.getRecords({ topic: 'T', queueId: 0, offset: 0, maxCount: 10 });
    expect(apart.count).toBe(3);
    // each record read on its own: no read spans the other queues' 20 KB
    for (const b of apart.bufs) expect(b.length).toBeLessThan(1024);
    expect(new Set(apart.bufs).size).toBe(3);
    expect([0, 1, 2].map((i) => dec.decode(store.storedAt(apart, i)!.body))).toEqual(['t0-0', 't0-1', 't0-2']);
    const together = store.getRecords({ topic: 'T', queueId: 1, offset: 0, maxCount: 10 });
    expect(together.count).toBe(3);
    expect(new Set(together.bufs).size).toBe(1); // one read for the three
    await store.close();
  });
});

describe('indexing a write from its summary', () => {
  it('gives the consume queue entries and key lookups that parsing the commit log gives (recovery re-dispatch)', async () => {
    const { clock, mem } = setup(3);
    const apartKeys: string[] = [];
    const run = async (): Promise<void> => {
      const rnd = new SeededRandom(11);
      for (let b = 0; b < 30; b++) {
        const batch: PutMessage[] = [];
        const n = 1 + rnd.int(20);
        const shared = rnd.int(2) === 0 ? { UNIQ_KEY: `u${b}`, [`p${b % 3}`]: 'v' } : undefined;
        for (let i = 0; i < n; i++) {
          const extra: Partial<PutMessage> = {};
          const kind = rnd.int(8);
          if (kind === 1) extra.tags = `tag${rnd.int(3)}`;
          if (kind === 2) extra.keys = [`k${rnd.int(5)}`, 'a b'];
          if (kind === 3) extra.properties = { TAGS: 'fromProps', KEYS: `pk${rnd.int(4)}`, UNIQ_KEY: `uniq-${b}-${i}` };
          if (kind === 4) extra.properties = shared;
          if (kind === 5) Object.assign(extra, { tags: '', keys: [], properties: { UNIQ_KEY: '' } });
          if (kind === 6) Object.assign(extra, { uniqPrefix: b % 2 ? 'PFX-' : 'ü-', uniqSeq: b * 100 + i });
          if (kind === 7) extra.uniqKey = `apart-${b}-${i}`;
          if (kind >= 6) apartKeys.push(kind === 6 ? `${extra.uniqPrefix}${(b * 100 + i).toString(16).toUpperCase().padStart(8, '0')}` : extra.uniqKey!);
          batch.push(msg(`T${rnd.int(2)}`, rnd.int(3), `m${b}.${i}`, extra));
        }
        const r = await store.putMessages(batch);
        expect(r.status).toBe(Status.OK);
      }
    };
    let store = await open(mem, clock, { flush: 'async', segmentSize: 2048 });
    await run();
    await clock.advance(500); // indexed once flushed
    await settle();
    const queueBytes = (): Map<string, string> => {
      const out = new Map<string, string>();
      for (const t of mem.list('/data/consumequeue')) {
        for (const q of mem.list(`/data/consumequeue/${t}`)) {
          for (const f of mem.list(`/data/consumequeue/${t}/${q}`)) {
            const file = mem.open(`/data/consumequeue/${t}/${q}/${f}`);
            out.set(`${t}/${q}/${f}`, Buffer.from(file.read(0, file.size())).toString('hex'));
            file.close();
          }
        }
      }
      return out;
    };
    const lookups = (s: MessageStore): string[] =>
      ['T0', 'T1'].flatMap((t) =>
        ['k0', 'k1', 'k2', 'k3', 'k4', 'a', 'b', 'a b', 'pk0', 'pk1', 'pk2', 'pk3', 'u0', 'u1', 'u2', 'uniq-3-0', 'uniq-7-2', ...apartKeys].map(
          (k) => `${t}/${k}: ${s.lookupByKey(t, k, 1000).map((m) => m.commitLogOffset).sort((x, y) => x - y).join(',')}`,
        ),
      );
    const tagsSeen = (s: MessageStore): string[] => {
      const out: string[] = [];
      for (const t of ['T0', 'T1']) {
        for (let q = 0; q < 3; q++) {
          s.getMessages({ topic: t, queueId: q, offset: 0, maxCount: 10_000, tags: (h, tag) => (out.push(`${t}/${q} ${h} ${tag ?? ''}`), true) });
        }
      }
      return out;
    };
    const live = { keys: lookups(store), tags: tagsSeen(store) };
    expect(live.keys.some((l) => /: \d/.test(l))).toBe(true);
    // every key carried apart (a string, or a prefix and a number) is found where it was stored
    expect(apartKeys.length).toBeGreaterThan(10);
    for (const k of apartKeys) expect(['T0', 'T1'].some((t) => store.lookupByKey(t, k, 10).length > 0)).toBe(true);
    await store.close();
    const liveQueues = queueBytes(); // (consume queues hold entries back until a flush: the close's)
    // Drop every index and the checkpoint: recovery parses the whole commit log again.
    mem.remove('/data/consumequeue');
    mem.remove('/data/index');
    mem.remove('/data/checkpoint');
    store = await open(mem, clock, { flush: 'async', segmentSize: 2048 });
    expect(queueBytes()).toEqual(liveQueues);
    expect(lookups(store)).toEqual(live.keys);
    expect(tagsSeen(store)).toEqual(live.tags);
    await store.close();
  });
});

describe('memory', () => {
  // The GC, reachable from a test: a batch the store still refers to survives a full collection.
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  it('keeps no batch once it is written and indexed (a summary holds its whole batch, request bodies included)', async () => {
    const { clock, mem } = setup(5);
    const store = await open(mem, clock, { flush: 'async' });
    const refs: WeakRef<PutMessage[]>[] = [];
    const put = async (b: number): Promise<void> => {
      const batch = Array.from({ length: 16 }, (_, i) => msg('T', b % 3, `m${b}.${i}`));
      refs.push(new WeakRef(batch));
      expect((await store.putMessages(batch)).status).toBe(Status.OK);
    };
    for (let b = 0; b < 20; b++) await put(b);
    await clock.advance(500); // indexed once flushed
    await settle();
    expect(store.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 1000 }).messages.length).toBe(7 * 16);
    gc();
    await settle();
    gc();
    expect(refs.filter((r) => r.deref() !== undefined).length).toBe(0);
    await store.close();
  });
});

describe('checkpoints over many consume queues', () => {
  it('come less often after one that flushed many queues: 1 ms later per queue, at most 10 s', async () => {
    const { clock, mem } = setup();
    const store = await open(mem, clock, { flush: 'async', checkpointIntervalMs: 100 });
    const written = (): number | undefined => readCheckpoint(mem, '/data/checkpoint')?.timestamp;
    const putAll = async (): Promise<void> => {
      const r = await store.putMessages(Array.from({ length: 1500 }, (_, i) => msg(`T${i >> 3}`, i & 7, 'x')));
      expect(r.status).toBe(Status.OK);
      await settle();
    };
    await putAll();
    await clock.advance(100); // the first checkpoint flushes 1,500 queues
    await settle();
    const first = written();
    expect(first).toBe(clock.now());
    await putAll();
    await clock.advance(1400);
    await settle();
    expect(written()).toBe(first); // not yet: 1,500 ms after the indexing
    await clock.advance(200);
    await settle();
    expect(written()).toBeGreaterThan(first!);
    // after a checkpoint of one queue, the interval again
    await store.putMessages([msg('T0', 0, 'y')]);
    await settle();
    await clock.advance(1600);
    await settle();
    const third = written()!;
    await store.putMessages([msg('T0', 0, 'z')]);
    await settle();
    await clock.advance(100);
    await settle();
    expect(written()).toBe(clock.now()); // 100 ms after the indexing
    expect(written()).toBeGreaterThan(third);
    await store.close();
  });
});
