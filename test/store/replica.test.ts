import fc from 'fast-check';
import { SimClock, settle } from '../../core/clock.js';
import { rootLogger } from '../../actors/runtime/environment.js';
import { SeededRandom } from '../../core/random.js';
import { Status } from '../../core/status.js';
import { writeU32 } from '../../core/bytes.js';
import { RecordField } from '../../core/record-layout.js';
import { StorageError, type StorageBackend, type StorageFile } from '../../store/backend.js';
import { memoryStorage, type MemoryStorage } from '../../store/backends/memory.js';
import { openMessageStore, type MessageStore, type PutMessage } from '../../store/message-store.js';
import { checkReplicaChunk, ReplicaDataError } from '../../store/replica.js';

const logger = rootLogger('silent');

function open(storage: StorageBackend, clock: SimClock, dir: string, flush: 'sync' | 'async' = 'sync', host = dir): Promise<MessageStore> {
  return openMessageStore({
    dir,
    storage,
    clock,
    random: new SeededRandom(1),
    logger,
    storeHost: host,
    flush,
    flushIntervalMs: 10,
    segmentSize: 4096,
    consumeQueueEntriesPerFile: 16,
    indexEntriesPerFile: 32,
    checkpointIntervalMs: 20,
  });
}

function msg(i: number, topic = 'T', size = 40): PutMessage {
  return { topic, queueId: i % 3, body: new Uint8Array(size).fill(i & 0xff), keys: [`k${i}`], properties: { UNIQ_KEY: `u${i}` }, bornTimestamp: 1, bornHost: 'p' };
}

/** Settles a store's timers and microtasks on simulated time. */
async function run(clock: SimClock, ms = 100): Promise<void> {
  for (let t = 0; t < ms; t += 10) {
    clock.advance(10);
    await settle();
  }
}

/** Ships everything the master holds to the slave, chunk by chunk, as replication does. */
async function replicate(master: MessageStore, slave: MessageStore, maxBytes: number): Promise<number> {
  let chunks = 0;
  for (let guard = 0; guard < 10_000; guard++) {
    const from = slave.positions().writeOffset;
    const r = master.readReplica(from, maxBytes);
    if (r.kind === 'none') return chunks;
    if (r.kind !== 'data') throw new Error(`readReplica at ${from}: ${r.kind}`);
    const res = await slave.appendReplica(r.offset, r.data);
    if (res.status !== Status.OK) throw new Error(`appendReplica at ${r.offset}: ${res.message}`);
    chunks++;
  }
  throw new Error('replication did not end');
}

function logBytes(storage: MemoryStorage, store: MessageStore, dir: string): Buffer {
  const { writeOffset } = store.positions();
  const parts: Buffer[] = [];
  for (let seg = 0; seg < writeOffset; seg += 4096) {
    const name = String(seg).padStart(20, '0');
    const f = storage.open(`${dir}/commitlog/${name}`);
    parts.push(Buffer.from(f.read(0, Math.min(4096, writeOffset - seg))));
    f.close();
  }
  return Buffer.concat(parts);
}

function bodiesOf(store: MessageStore, topic: string, queueId: number): string[] {
  const out: string[] = [];
  let offset = store.minOffset(topic, queueId);
  while (offset < store.maxOffset(topic, queueId)) {
    const got = store.getMessages({ topic, queueId, offset, maxCount: 64 });
    for (const m of got.messages) out.push(`${m.queueOffset}:${m.properties.UNIQ_KEY}`);
    offset = got.nextOffset;
  }
  return out;
}

describe('replication through the store', () => {
  it('a slave that appends what readReplica ships holds the same log byte for byte, indexes it, and continues its queue offsets', async () => {
    const clock = new SimClock();
    const storage = memoryStorage({ clock, random: new SeededRandom(2) });
    const master = await open(storage, clock, '/m');
    const slave = await open(storage, clock, '/s');
    // enough to roll several 4 KiB segments; sizes vary so segment ends fall between records
    for (let b = 0; b < 30; b++) {
      const r = await master.putMessages([msg(b * 3, 'T', 20 + b * 7), msg(b * 3 + 1, 'U', 100), msg(b * 3 + 2, 'T', 5)]);
      expect(r.status).toBe(Status.OK);
      await run(clock, 20);
    }
    expect(master.positions().writeOffset).toBeGreaterThan(3 * 4096);
    const chunks = await replicate(master, slave, 700);
    expect(chunks).toBeGreaterThan(5);
    await run(clock);
    expect(slave.positions().writeOffset).toBe(master.positions().writeOffset);
    expect(logBytes(storage, slave, '/s').equals(logBytes(storage, master, '/m'))).toBe(true);
    for (const topic of ['T', 'U']) for (let q = 0; q < 3; q++) expect(bodiesOf(slave, topic, q)).toEqual(bodiesOf(master, topic, q));
    // a promoted slave goes on with the master's queue offsets
    const next = await slave.putMessages([msg(0)]);
    expect(next.queueOffsets?.[0]).toBe(master.maxOffset('T', 0));
    await master.close();
    await slave.close();
  });

  it('readReplica says when a replica is ahead (diverged) or caught up, and a chunk for the wrong offset is refused without a write', async () => {
    const clock = new SimClock();
    const storage = memoryStorage({ clock, random: new SeededRandom(3) });
    const master = await open(storage, clock, '/m');
    const slave = await open(storage, clock, '/s');
    await master.putMessages([msg(1), msg(2)]);
    const end = master.positions().writeOffset;
    expect(master.readReplica(end, 1000)).toEqual({ kind: 'none' });
    expect(master.readReplica(end + 10, 1000)).toEqual({ kind: 'ahead', writeOffset: end });
    const r = master.readReplica(0, 1000);
    if (r.kind !== 'data') throw new Error(r.kind);
    const wrong = await slave.appendReplica(5, r.data);
    expect(wrong.status).toBe(Status.INVALID_ARGUMENT);
    expect(slave.positions().writeOffset).toBe(0);
    // one record larger than maxBytes still ships, whole
    const one = master.readReplica(0, 10);
    expect(one.kind === 'data' && one.data.length).toBe(r.kind === 'data' ? r.data.length / 2 : -1);
    await master.close();
    await slave.close();
  });

  it('checkReplicaChunk refuses a flipped byte, a record that says it lies elsewhere, and a cut record', async () => {
    const clock = new SimClock();
    const storage = memoryStorage({ clock, random: new SeededRandom(4) });
    const master = await open(storage, clock, '/m');
    await master.putMessages([msg(1), msg(2), msg(3)]);
    const r = master.readReplica(0, 10_000);
    if (r.kind !== 'data') throw new Error(r.kind);
    expect(checkReplicaChunk(r.data, 0).records).toBe(3);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: r.data.length - 1 }), fc.integer({ min: 1, max: 255 }), (pos, x) => {
        const bad = Uint8Array.from(r.data);
        bad[pos] ^= x;
        expect(() => checkReplicaChunk(bad, 0)).toThrow(ReplicaDataError);
      }),
      { numRuns: 200 },
    );
    expect(() => checkReplicaChunk(r.data, 8)).toThrow(/says it lies at 0/);
    expect(() => checkReplicaChunk(r.data.subarray(0, r.data.length - 3), 0)).toThrow(ReplicaDataError);
    const forged = Uint8Array.from(r.data);
    writeU32(forged, RecordField.Size, 0x7fffffff);
    expect(() => checkReplicaChunk(forged, 0)).toThrow(/does not fit/);
    await master.close();
  });

  it('an empty replica can start at its master\'s last segment: its log and queues start there, reads work, a restart keeps them', async () => {
    const clock = new SimClock();
    const storage = memoryStorage({ clock, random: new SeededRandom(8) });
    const master = await open(storage, clock, '/m');
    for (let b = 0; b < 40; b++) await master.putMessages([msg(b * 3, 'T', 80), msg(b * 3 + 1, 'T', 90), msg(b * 3 + 2, 'T', 100)]);
    await run(clock);
    const end = master.positions().writeOffset;
    const start = end - (end % 4096);
    expect(start).toBeGreaterThan(0);
    let slave = await open(storage, clock, '/s');
    await slave.startAtSegmentOf(end);
    expect(slave.positions()).toMatchObject({ writeOffset: start, minOffset: start });
    await replicate(master, slave, 1000);
    await run(clock);
    expect(slave.positions().writeOffset).toBe(end);
    for (let q = 0; q < 3; q++) {
      const mine = bodiesOf(slave, 'T', q);
      const theirs = bodiesOf(master, 'T', q);
      expect(mine.length).toBeGreaterThan(0);
      expect(theirs.slice(theirs.length - mine.length)).toEqual(mine); // the master's newest messages, same offsets
      expect(slave.minOffset('T', q)).toBeGreaterThan(0);
    }
    // it goes on as a replica, and keeps its start across a restart
    await master.putMessages([msg(999, 'T', 50)]);
    await replicate(master, slave, 1000);
    await run(clock);
    const before = [0, 1, 2].map((q) => bodiesOf(slave, 'T', q));
    await slave.close();
    slave = await open(storage, clock, '/s');
    expect(slave.positions().minOffset).toBe(start);
    expect([0, 1, 2].map((q) => bodiesOf(slave, 'T', q))).toEqual(before);
    await expect(slave.startAtSegmentOf(end)).rejects.toThrow(/holds data/);
    await master.close();
    await slave.close();
  });

  it('property: any sequence of batches and chunk sizes replicates to an identical log', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.integer({ min: 0, max: 900 }), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 25 }), fc.integer({ min: 1, max: 5000 }), async (batches, maxBytes) => {
        const clock = new SimClock();
        const storage = memoryStorage({ clock, random: new SeededRandom(5) });
        const master = await open(storage, clock, '/m', 'async');
        const slave = await open(storage, clock, '/s', 'async');
        let i = 0;
        for (const sizes of batches) {
          const r = await master.putMessages(sizes.map((size) => msg(i++, 'T', size)));
          expect(r.status).toBe(Status.OK);
          if (i % 3 === 0) await replicate(master, slave, maxBytes);
        }
        await replicate(master, slave, maxBytes);
        await run(clock, 30);
        expect(logBytes(storage, slave, '/s').equals(logBytes(storage, master, '/m'))).toBe(true);
        for (let q = 0; q < 3; q++) expect(bodiesOf(slave, 'T', q)).toEqual(bodiesOf(master, 'T', q));
        await master.close();
        await slave.close();
      }),
      { numRuns: 25 },
    );
  });
});

/**
 * Storage over `mem` that, once armed with `n`, loses power (the memory backend's crash) just before its `n`th
 * change: a write, truncate, flush, remove or rename.
 */
function crashingStorage(mem: MemoryStorage): { storage: StorageBackend; arm: (n: number) => void; tripped: () => boolean } {
  let left = -1;
  let tripped = false;
  // after the power loss nothing more reaches the disk: the process that wrote is gone
  const gate = (): void => {
    if (tripped) throw new StorageError('EIO', 'power lost');
    if (left < 0) return;
    if (left-- === 0) {
      tripped = true;
      mem.crash();
      throw new StorageError('EIO', 'power lost');
    }
  };
  const wrap = (f: StorageFile): StorageFile => {
    const out: StorageFile = {
      path: f.path,
      size: () => f.size(),
      read: (p, l) => f.read(p, l),
      write: (p, d) => {
        gate();
        f.write(p, d);
      },
      truncate: (sz) => {
        gate();
        f.truncate(sz);
      },
      flush: () => {
        gate();
        return f.flush();
      },
      close: () => f.close(),
    };
    if (f.extend && f.prefetch) Object.assign(out, { extend: f.extend.bind(f), prefetch: f.prefetch.bind(f) });
    return out;
  };
  const storage: StorageBackend = {
    kind: 'memory',
    open: (p, o) => {
      if (tripped) throw new StorageError('EIO', 'power lost');
      return wrap(mem.open(p, o));
    },
    list: (d) => mem.list(d),
    stat: (p) => mem.stat(p),
    exists: (p) => mem.exists(p),
    mkdir: (d) => mem.mkdir(d),
    remove: (p) => {
      gate();
      mem.remove(p);
    },
    rename: (a, b) => {
      gate();
      mem.rename(a, b);
    },
    flushDir: (d) => {
      gate();
      return mem.flushDir(d);
    },
    usage: (p) => mem.usage(p),
    lock: (p) => mem.lock(p),
  };
  return { storage, arm: (n) => (left = n), tripped: () => tripped };
}

describe('truncating a divergent tail', () => {
  async function filled(storage: StorageBackend, clock: SimClock): Promise<{ store: MessageStore; cut: number; keep: Map<string, string[]>; all: Map<string, string[]> }> {
    const store = await open(storage, clock, '/s');
    let cut = -1;
    for (let b = 0; b < 40; b++) {
      const r = await store.putMessages([msg(b * 2, 'T', 30 + b * 5), msg(b * 2 + 1, 'U', 60)]);
      if (b === 22) cut = r.commitLogOffsets![0]!;
    }
    await run(clock, 100);
    const keep = new Map<string, string[]>();
    const all = new Map<string, string[]>();
    for (const topic of ['T', 'U']) {
      for (let q = 0; q < 3; q++) {
        const list = bodiesOf(store, topic, q);
        all.set(`${topic}${q}`, list);
        keep.set(
          `${topic}${q}`,
          list.filter((e) => Number(e.split(':')[1]!.slice(1)) < 44),
        );
      }
    }
    return { store, cut, keep, all };
  }

  it('cuts the log, consume queues and index live; new writes reuse the cut queue offsets', async () => {
    const clock = new SimClock();
    const storage = memoryStorage({ clock, random: new SeededRandom(6) });
    const { store, cut, keep } = await filled(storage, clock);
    await store.truncateTail(cut);
    expect(store.positions().writeOffset).toBe(cut);
    for (const topic of ['T', 'U']) for (let q = 0; q < 3; q++) expect(bodiesOf(store, topic, q)).toEqual(keep.get(`${topic}${q}`));
    expect(await store.lookupByKey('T', 'k60', 8)).toEqual([]);
    expect((await store.lookupByKey('T', 'k2', 8)).length).toBe(1);
    const r = await store.putMessages([msg(44)]);
    expect(r.queueOffsets?.[0]).toBe(keep.get('T2')!.length);
    await run(clock);
    expect(bodiesOf(store, 'T', 2).at(-1)).toBe(`${keep.get('T2')!.length}:u44`);
    await store.close();
    // and after a restart
    const again = await open(storage, clock, '/s');
    expect(bodiesOf(again, 'T', 2).at(-1)).toBe(`${keep.get('T2')!.length}:u44`);
    await again.close();
  });

  it('a power loss at any step of the truncation leaves a store that recovers to a prefix of the old log, at least the cut one', async () => {
    let steps = -1;
    for (let n = 0; n < 200 && steps < 0; n++) {
      const clock = new SimClock();
      const mem = memoryStorage({ clock, random: new SeededRandom(7) });
      const { storage, arm, tripped } = crashingStorage(mem);
      const { store, cut, keep, all } = await filled(storage, clock);
      arm(n);
      await store.truncateTail(cut).catch(() => undefined);
      if (!tripped()) {
        steps = n;
        await store.close();
        break;
      }
      await store.close().catch(() => undefined);
      const after = await open(mem, clock, '/s');
      const end = after.positions().writeOffset;
      expect(end).toBeGreaterThanOrEqual(cut);
      // a prefix of the old log, at least up to the cut: every queue reads gap-free, nothing below the cut lost
      for (const topic of ['T', 'U']) {
        for (let q = 0; q < 3; q++) {
          const got = bodiesOf(after, topic, q);
          expect(got).toEqual(all.get(`${topic}${q}`)!.slice(0, got.length));
          expect(got.slice(0, keep.get(`${topic}${q}`)!.length)).toEqual(keep.get(`${topic}${q}`));
        }
      }
      // the truncation, run again after the crash, finishes
      await after.truncateTail(cut);
      for (const topic of ['T', 'U']) for (let q = 0; q < 3; q++) expect(bodiesOf(after, topic, q)).toEqual(keep.get(`${topic}${q}`));
      await after.close();
    }
    // it took several storage changes, and a crash before each was tried
    expect(steps).toBeGreaterThan(3);
  });
});
