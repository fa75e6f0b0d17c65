import fc from 'fast-check';
import { SimClock, settle } from '../../core/clock.js';
import { rootLogger } from '../../actors/runtime/environment.js';
import { SeededRandom } from '../../core/random.js';
import { Status } from '../../core/status.js';
import { StorageError, type StorageBackend } from '../../store/backend.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { openMessageStore, type MessageStore, type MessageStoreOptions } from '../../store/message-store.js';
import { decodeReservations, encodeReservations, MAX_SPAN, MIN_SPAN, nextSpan, QueueReservations, RESERVATIONS_FILE } from '../../store/queue-reservations.js';
import { fileWith, withFiles } from '../support/storage-wrappers.js';

const logger = rootLogger('silent');
const JOURNAL = `/data/${RESERVATIONS_FILE}`;

describe('queue offset reservations: the journal codec', () => {
  const entry = fc.tuple(fc.string({ maxLength: 40 }), fc.nat({ max: Number.MAX_SAFE_INTEGER }));

  it('reads back the highest reservation of each key from any sequence of entries', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 30 }), (entries) => {
        const d = decodeReservations(encodeReservations(entries));
        const want = new Map<string, number>();
        for (const [k, v] of entries) want.set(k, Math.max(v, want.get(k) ?? -1));
        expect(d.reserved).toEqual(want);
        expect(d.entries).toBe(entries.length);
      }),
    );
  });

  it('a journal cut anywhere, or with one byte changed, reads as the entries before the damage', () => {
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 10 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (entries, at, flip) => {
        const parts = entries.map((e) => encodeReservations([e]));
        const whole = encodeReservations(entries);
        const ends: number[] = [];
        for (const p of parts) ends.push((ends.at(-1) ?? 0) + p.length);
        const cut = at % (whole.length + 1);
        const whole_ = ends.filter((e) => e <= cut).length;
        const torn = decodeReservations(whole.subarray(0, cut));
        expect(torn.entries).toBe(whole_);
        expect(torn.intact).toBe(ends[whole_ - 1] ?? 0);

        const bad = whole.slice();
        const pos = at % whole.length;
        bad[pos] = bad[pos]! ^ flip;
        const hit = ends.findIndex((e) => e > pos);
        const d = decodeReservations(bad);
        expect(d.entries).toBe(hit);
        expect(d.intact).toBe(ends[hit - 1] ?? 0);
      }),
    );
  });

  it('refuses a reservation that is not a safe non-negative integer', () => {
    expect(() => encodeReservations([['T#0', -1]])).toThrow(RangeError);
    expect(() => encodeReservations([['T#0', 2 ** 60]])).toThrow(RangeError);
  });
});

describe('queue offset reservations: how far a queue reserves', () => {
  it('starts small, doubles for a queue that asks again within a second, halves for one that asks rarely, within the budget', () => {
    expect(nextSpan(undefined, undefined, 1 << 21)).toBe(MIN_SPAN);
    expect(nextSpan(256, 10, 1 << 21)).toBe(512);
    expect(nextSpan(MAX_SPAN, 10, 1 << 21)).toBe(MAX_SPAN);
    expect(nextSpan(256, 5000, 1 << 21)).toBe(256);
    expect(nextSpan(256, 20_000, 1 << 21)).toBe(128);
    expect(nextSpan(MIN_SPAN, 20_000, 1 << 21)).toBe(MIN_SPAN);
    expect(nextSpan(4096, 10, 1000)).toBe(1000);
    expect(nextSpan(4096, 10, 0)).toBe(MIN_SPAN); // never below the least span, even past the budget
  });
});

describe('queue offset reservations: the journal on storage', () => {
  it('compacts a long journal into one entry per queue, keeping every reservation', async () => {
    const clock = new SimClock();
    const mem = memoryStorage({ clock, random: new SeededRandom(3) });
    mem.mkdir('/data');
    let covered = 0;
    const r = QueueReservations.open({ storage: mem, dir: '/data', clock, logger, onCovered: () => covered++ }, QueueReservations.read(mem, '/data'));
    for (let i = 0; i < 5000; i++) {
      const key = `T#${i % 3}`;
      r.written(new Map([[key, r.reservedOf(key) + 1]]), i + 1);
      await settle();
      expect(r.coveredOffset).toBe(i + 1);
    }
    expect(covered).toBe(5000);
    const size = mem.stat(JOURNAL)!.size;
    expect(size).toBeLessThan(4 * 1024 * 20); // compacted at least once (5,000 entries of 15 bytes otherwise)
    const back = QueueReservations.read(mem, '/data');
    expect(back.reserved).toEqual(new Map([0, 1, 2].map((q) => [`T#${q}`, r.reservedOf(`T#${q}`)])));
    r.close();
  });

  it('cuts a torn tail when read, so the next append follows the last intact entry', () => {
    const clock = new SimClock();
    const mem = memoryStorage({ clock, random: new SeededRandom(4) });
    mem.mkdir('/data');
    const good = encodeReservations([['T#0', 100], ['T#1', 7]]);
    const f = mem.open(JOURNAL);
    f.write(0, good);
    f.write(good.length, encodeReservations([['T#0', 500]]).subarray(0, 9));
    f.close();
    const read = QueueReservations.read(mem, '/data');
    expect(read.reserved).toEqual(new Map([['T#0', 100], ['T#1', 7]]));
    expect(mem.stat(JOURNAL)!.size).toBe(good.length);
  });
});

describe("a store with visibility 'written'", () => {
  /** Memory storage whose journal flushes wait for `release` while `hold` is set, or fail while `fail` is. */
  function setup(seed = 1) {
    const clock = new SimClock();
    const mem = memoryStorage({ clock, random: new SeededRandom(seed) });
    const gate = { hold: false, fail: false, waiting: [] as Array<() => void> };
    const storage = withFiles(mem, (f) =>
      f.path.endsWith(`/${RESERVATIONS_FILE}`)
        ? fileWith(f, {
            flush: () => {
              if (gate.fail) return Promise.reject(new StorageError('EIO', `${f.path}: injected`));
              return gate.hold ? new Promise<void>((r) => gate.waiting.push(r)).then(() => f.flush()) : f.flush();
            },
          })
        : f,
    );
    const release = async () => {
      while (gate.waiting.length > 0) gate.waiting.shift()!();
      await settle();
    };
    return { clock, mem, storage, gate, release };
  }

  const open = (storage: StorageBackend, clock: SimClock, extra: Partial<MessageStoreOptions> = {}): Promise<MessageStore> =>
    openMessageStore({ dir: '/data', storage, clock, random: new SeededRandom(9), logger, storeHost: '10.0.0.1:10911', flush: 'async', flushIntervalMs: 200, visibility: 'written', segmentSize: 4096, consumeQueueEntriesPerFile: 16, indexEntriesPerFile: 32, ...extra });
  const put = (store: MessageStore, queueId: number, n = 1) =>
    store.putMessages(Array.from({ length: n }, () => ({ topic: 'T', queueId, body: new Uint8Array([queueId]), bornTimestamp: 1, bornHost: 'p' })));
  const served = (store: MessageStore, queueId: number) => store.getMessages({ topic: 'T', queueId, offset: 0, maxCount: 1000 }).messages.length;

  it('serves written data once its queue offsets are reserved, long before its flush, with one journal write for many batches', async () => {
    const { clock, storage, gate, release } = setup();
    const store = await open(storage, clock);
    gate.hold = true;
    expect((await put(store, 0, 2)).status).toBe(Status.OK);
    await settle();
    expect(served(store, 0)).toBe(0); // its reservation is not on storage yet
    expect(gate.waiting).toHaveLength(1);
    await release();
    expect(served(store, 0)).toBe(2);
    expect(store.positions().flushedOffset).toBeLessThan(store.positions().writeOffset); // not flushed: served from the write

    // within the reservation: served at once, no journal write
    await put(store, 0, 5);
    await settle();
    expect(served(store, 0)).toBe(7);
    expect(gate.waiting).toHaveLength(0);

    // a new queue asks; batches behind it wait with it, in order
    await put(store, 1);
    await put(store, 0);
    await settle();
    expect([served(store, 1), served(store, 0)]).toEqual([0, 7]);
    await release();
    expect([served(store, 1), served(store, 0)]).toEqual([1, 8]);
    gate.hold = false;
    await store.close();
  });

  it('a queue asks for its next span when half of the current one is used, so that at a steady rate no write waits for the journal', async () => {
    const { clock, storage, gate, release } = setup(3);
    const store = await open(storage, clock);
    await put(store, 0); // the first ask: offsets below 1 + 64 reserved
    await settle();
    expect(served(store, 0)).toBe(1);
    gate.hold = true;
    await put(store, 0, 40); // past half the span: the next ask goes out, and these are served meanwhile
    await settle();
    expect(served(store, 0)).toBe(41);
    expect(gate.waiting).toHaveLength(1);
    await release(); // now below 41 + 128 (asked again within a second: a doubled span)
    await put(store, 0, 100);
    await settle();
    expect(served(store, 0)).toBe(141); // no wait: the reservation was there before the writes needed it
    expect(gate.waiting).toHaveLength(1); // and the next one is on its way
    await release();
    gate.hold = false;
    await store.close();
  });

  it('a crash moves each queue past every offset it may have served, and new messages follow', async () => {
    const { clock, mem, storage } = setup(2);
    const store = await open(storage, clock);
    await put(store, 0, 3);
    await settle();
    expect(served(store, 0)).toBe(3);
    expect(store.positions().flushedOffset).toBe(0);
    mem.crash();
    const again = await open(storage, new SimClock());
    expect(again.maxOffset('T', 0)).toBe(3 + MIN_SPAN); // the lost numbers are blank
    expect(again.getMessages({ topic: 'T', queueId: 0, offset: 0, maxCount: 100 })).toMatchObject({ status: 'NO_MATCHED', nextOffset: 3 + MIN_SPAN });
    expect((await put(again, 0)).results[0]!.queueOffset).toBe(3 + MIN_SPAN);
    await again.close();

    // a clean restart leaves no blanks
    const third = await open(storage, new SimClock());
    expect(third.maxOffset('T', 0)).toBe(4 + MIN_SPAN);
    await third.close();
  });

  it("opened with 'flushed' after a crash, still skips what the last run reserved, then drops the journal", async () => {
    const { clock, mem, storage } = setup(3);
    const store = await open(storage, clock);
    await put(store, 2, 1);
    await settle();
    mem.crash();
    const again = await open(storage, new SimClock(), { visibility: 'flushed' });
    expect(again.maxOffset('T', 2)).toBe(1 + MIN_SPAN);
    expect(mem.exists(JOURNAL)).toBe(false);
    await again.close();
  });

  it('a journal that cannot be written: consumers see data once flushed, nothing is lost, the store goes on', async () => {
    const { clock, storage, gate } = setup(4);
    const store = await open(storage, clock);
    gate.fail = true;
    expect((await put(store, 0, 2)).status).toBe(Status.OK);
    await settle();
    expect(served(store, 0)).toBe(0);
    await clock.advance(200); // the commit log's flush
    expect(served(store, 0)).toBe(2);
    expect((await put(store, 0)).status).toBe(Status.OK);
    await settle();
    expect(served(store, 0)).toBe(2);
    await clock.advance(200);
    expect(served(store, 0)).toBe(3);
    await store.close();
  });

  it('refuses what only a replica or a rejoining master does', async () => {
    const { clock, storage } = setup(5);
    const store = await open(storage, clock);
    await expect(store.truncateTail(0)).rejects.toThrow(/visibility 'written'/);
    await expect(store.startAtSegmentOf(0)).rejects.toThrow(/visibility 'written'/);
    await store.close();
  });
});
