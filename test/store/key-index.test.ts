import fc from 'fast-check';
import { SimClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { faultyStorage } from '../../store/backends/faulty.js';
import { INDEX_ENTRY_SIZE, INDEX_FILE_ENTRY_SIZE, INDEX_HEADER_SIZE, KeyIndex, type IndexEntry, decodeIndexEntry, encodeIndexEntry, keyHash, keyHashAscii, keyHashFrom, keyHashHex8, keyHashState, topicHashSeed } from '../../store/key-index.js';
import { numberedFileName as indexFileName } from '../../core/bytes.js';

const mem = () => memoryStorage({ clock: new SimClock(), random: new SeededRandom(3) });

describe('key index entry codec and hash', () => {
  it('round-trips entries (property)', () => {
    fc.assert(
      fc.property(fc.nat(0xffffffff), fc.nat(Number.MAX_SAFE_INTEGER), fc.nat(Number.MAX_SAFE_INTEGER), (h, o, t) => {
        const buf = new Uint8Array(INDEX_ENTRY_SIZE);
        encodeIndexEntry({ keyHash: h, commitLogOffset: o, storeTimestamp: t }, buf, 0);
        expect(decodeIndexEntry(buf, 0)).toEqual({ keyHash: h, commitLogOffset: o, storeTimestamp: t });
      }),
      { numRuns: 200 },
    );
  });

  it('hashes topic and key together, deterministically', () => {
    expect(keyHash('T', 'k1')).toBe(keyHash('T', 'k1'));
    expect(keyHash('T', 'k1')).not.toBe(keyHash('T', 'k2'));
    expect(keyHash('Ta', 'b')).not.toBe(keyHash('T', 'ab'));
    expect(keyHash('T', 'ключ')).not.toBe(keyHash('T', 'ключи'));
  });

  it('keeps the hash that index files on disk were written with (topic seeded once or not)', () => {
    const cases: [string, string, number][] = [
      ['T', 'k1', 1983775130],
      ['orders', 'A0B1C2D3E4F5061728394A5B00000001', 1391351398],
      ['主题', 'キー', 747025398],
      ['', '', 67918732],
    ];
    for (const [topic, key, h] of cases) {
      expect(keyHash(topic, key)).toBe(h);
      expect(keyHashFrom(topicHashSeed(topic), key)).toBe(h);
    }
    expect(keyHashHex8(keyHashState(topicHashSeed('orders'), 'A0B1C2D3E4F5061728394A5B'), 1)).toBe(1391351398);
  });

  it('hashes a key from its UTF-8 bytes as its string when they are ASCII, and declines otherwise (property)', () => {
    const enc = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.nat(4), (topic, key, pad) => {
        const bytes = new Uint8Array([...new Array<number>(pad).fill(0x41), ...enc.encode(key), 0x42]);
        const h = keyHashAscii(topicHashSeed(topic), bytes, pad, bytes.length - 1);
        expect(h).toBe(/^[\x00-\x7f]*$/.test(key) ? keyHash(topic, key) : -1);
      }),
      { numRuns: 500 },
    );
  });

  it('hashes a numbered key (prefix and a u32 as 8 hex digits) as its string (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 30 }), fc.nat(0xffffffff), (topic, prefix, v) => {
        const key = prefix + v.toString(16).toUpperCase().padStart(8, '0');
        expect(keyHashHex8(keyHashState(topicHashSeed(topic), prefix), v)).toBe(keyHash(topic, key));
      }),
      { numRuns: 300 },
    );
  });
});

describe('KeyIndex', () => {
  it('finds offsets by key hash, newest first, bounded by max', () => {
    const idx = KeyIndex.open(mem(), '/s', 4);
    const h = keyHash('T', 'order-1');
    idx.add([
      { keyHash: h, commitLogOffset: 0, storeTimestamp: 1 },
      { keyHash: keyHash('T', 'x'), commitLogOffset: 0, storeTimestamp: 1 },
      { keyHash: h, commitLogOffset: 100, storeTimestamp: 2 },
    ]);
    idx.add([{ keyHash: h, commitLogOffset: 300, storeTimestamp: 3 }]);
    expect(idx.lookup(h)).toEqual([300, 100, 0]);
    expect(idx.lookup(h, 2)).toEqual([300, 100]);
    expect(idx.lookup(keyHash('T', 'none'))).toEqual([]);
  });

  it('finds everything again after reopening and skips re-added entries', async () => {
    const s = mem();
    const idx = KeyIndex.open(s, '/s', 4);
    const h = keyHash('T', 'k');
    const list = Array.from({ length: 10 }, (_, i) => ({ keyHash: h, commitLogOffset: i * 10, storeTimestamp: i }));
    idx.add(list);
    await idx.flush();
    idx.close();
    const again = KeyIndex.open(s, '/s', 4);
    expect(again.lookup(h, 100)).toEqual(list.map((e) => e.commitLogOffset).reverse());
    expect(again.add(list.slice(5))).toBe(1); // only the entry for the last record (same offset) is kept...
    expect(again.lookup(h, 100)).toHaveLength(10); // ...and lookups never repeat an offset
  });

  it('truncates entries past a commit log offset, zero (unwritten) entries included', () => {
    const s = mem();
    const idx = KeyIndex.open(s, '/s', 4);
    const h = keyHash('T', 'k');
    idx.add(Array.from({ length: 9 }, (_, i) => ({ keyHash: h, commitLogOffset: i * 10, storeTimestamp: i })));
    idx.close();
    // A crash can leave zeros where an unflushed write was (entry 10 would be the third file's second entry).
    const third = s.open(`/s/index/${indexFileName(2)}`);
    third.write(INDEX_HEADER_SIZE + 4 + INDEX_FILE_ENTRY_SIZE, new Uint8Array(INDEX_FILE_ENTRY_SIZE));
    const again = KeyIndex.open(s, '/s', 4);
    expect(again.size).toBe(9); // the zero entry fails its check and is cut on open
    expect(again.truncateFrom(45)).toBe(4);
    expect(again.lookup(h, 100)).toEqual([40, 30, 20, 10, 0]);
    expect(again.lastCommitLogOffset).toBe(40);
  });

  it('after a truncation that removes whole files, the file before becomes active with its own slots', () => {
    const idx = KeyIndex.open(mem(), '/s', 2, 1);
    idx.add([0, 10, 20, 30, 40].map((o) => ({ keyHash: 100 + o, commitLogOffset: o, storeTimestamp: o })));
    expect(idx.truncateFrom(40)).toBe(1);
    expect(idx.lookup(130)).toEqual([30]);
    expect(idx.lookup(120)).toEqual([20]);
    idx.add([{ keyHash: 150, commitLogOffset: 50, storeTimestamp: 50 }]);
    expect(idx.lookup(130)).toEqual([30]);
    expect(idx.lookup(150)).toEqual([50]);
    expect(idx.lookup(140)).toEqual([]);
  });

  it('ignores garbage past the last entry (its check fails)', () => {
    const s = mem();
    const idx = KeyIndex.open(s, '/s', 8, 2);
    const h = keyHash('T', 'k');
    idx.add(Array.from({ length: 3 }, (_, i) => ({ keyHash: h, commitLogOffset: i * 10, storeTimestamp: i })));
    idx.close();
    const garbage = new Uint8Array(INDEX_FILE_ENTRY_SIZE).fill(0x7f);
    s.open(`/s/index/${indexFileName(0)}`).write(INDEX_HEADER_SIZE + 2 * 4 + 3 * INDEX_FILE_ENTRY_SIZE, garbage);
    const again = KeyIndex.open(s, '/s', 8, 2);
    expect(again.size).toBe(3);
    expect(again.lastCommitLogOffset).toBe(20);
    expect(again.lookup(h, 10)).toEqual([20, 10, 0]);
  });

  it('drops files that point only below the commit log minimum (retention)', () => {
    const s = mem();
    const idx = KeyIndex.open(s, '/s', 4);
    const h = keyHash('T', 'k');
    idx.add(Array.from({ length: 10 }, (_, i) => ({ keyHash: h, commitLogOffset: i * 10, storeTimestamp: i })));
    expect(idx.deleteBelow(55)).toBe(1);
    expect(idx.lookup(h, 100)).toEqual([90, 80, 70, 60]);
    expect(s.list('/s/index')).toHaveLength(2);
  });
});

/** A plain model of the index: files of entries in commit log order, as the real one splits them. */
class ModelIndex {
  files: IndexEntry[][] = [];
  floor = 0;
  constructor(readonly capacity: number) {}
  get last(): number {
    const f = this.files[this.files.length - 1];
    return f === undefined ? -1 : f[f.length - 1]!.commitLogOffset;
  }
  get size(): number {
    return this.files.reduce((n, f) => n + f.length, 0);
  }
  add(list: IndexEntry[]): number {
    let n = 0;
    for (const e of list) {
      if (e.commitLogOffset < this.last) continue;
      const f = this.files[this.files.length - 1];
      if (f === undefined || f.length === this.capacity) this.files.push([e]);
      else f.push(e);
      n++;
    }
    return n;
  }
  truncateFrom(c: number): number {
    let removed = 0;
    while (this.files.length > 0) {
      const f = this.files[this.files.length - 1]!;
      while (f.length > 0 && f[f.length - 1]!.commitLogOffset >= c) {
        f.pop();
        removed++;
      }
      if (f.length > 0) break;
      this.files.pop();
    }
    return removed;
  }
  deleteBelow(m: number): number {
    this.floor = Math.max(this.floor, m);
    let removed = 0;
    while (this.files.length > 1 && this.files[0]![this.files[0]!.length - 1]!.commitLogOffset < m) {
      this.files.shift();
      removed++;
    }
    return removed;
  }
  lookup(h: number, max: number): number[] {
    const out: number[] = [];
    const all = this.files.flat();
    for (let i = all.length - 1; i >= 0 && out.length < max; i--) {
      const e = all[i]!;
      if (e.keyHash === h && e.commitLogOffset >= this.floor && !out.includes(e.commitLogOffset)) out.push(e.commitLogOffset);
    }
    return out;
  }
}

const HASHES = [0, 1, 2, 5, 12345, 0xffffffff];

type Op =
  | { kind: 'add'; items: { h: number; step: number; back: number }[] }
  | { kind: 'truncate'; frac: number }
  | { kind: 'deleteBelow'; frac: number }
  | { kind: 'reopen'; flush: boolean }
  | { kind: 'flush' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('add' as const), items: fc.array(fc.record({ h: fc.constantFrom(...HASHES), step: fc.constantFrom(0, 0, 1, 10, 37), back: fc.constantFrom(0, 0, 0, 0, 5, 40) }), { maxLength: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), frac: fc.double({ min: 0, max: 1.05, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteBelow' as const), frac: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const), flush: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const) }) },
);

/** Turns generated items into entries after `cursor` (steps forward, sometimes a step back: a stale re-add). */
function entriesFor(items: { h: number; step: number; back: number }[], cursor: { at: number }): IndexEntry[] {
  return items.map(({ h, step, back }) => {
    cursor.at += step;
    const off = Math.max(0, cursor.at - back);
    return { keyHash: h, commitLogOffset: off, storeTimestamp: 1000 + off };
  });
}

describe('KeyIndex on-disk hash index', () => {
  it('behaves like a plain model through adds, truncations, retention and reopens (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.array(opArb, { maxLength: 40 }), async (capacity, slots, ops) => {
        const s = mem();
        let idx = KeyIndex.open(s, '/s', capacity, slots);
        const model = new ModelIndex(capacity);
        const cursor = { at: 0 };
        for (const op of ops) {
          if (op.kind === 'add') {
            const list = entriesFor(op.items, cursor);
            expect(idx.add(list)).toBe(model.add(list));
          } else if (op.kind === 'truncate') {
            // Cut at a held entry's offset (often a file's first: whole files go, nothing is cut before), or past all.
            const all = model.files.flat();
            const c = op.frac >= 1 || all.length === 0 ? cursor.at + 1 : all[Math.floor(op.frac * all.length)]!.commitLogOffset;
            expect(idx.truncateFrom(c)).toBe(model.truncateFrom(c));
            cursor.at = Math.max(0, c - 1);
          } else if (op.kind === 'deleteBelow') {
            const m = Math.floor(cursor.at * op.frac);
            expect(idx.deleteBelow(m)).toBe(model.deleteBelow(m));
          } else if (op.kind === 'flush') {
            await idx.flush();
            expect(idx.needsFlush).toBe(false);
          } else {
            if (op.flush) await idx.flush();
            idx.close();
            idx = KeyIndex.open(s, '/s', capacity, slots);
            model.floor = 0;
          }
          expect(idx.size).toBe(model.size);
          expect(idx.lastCommitLogOffset).toBe(model.last);
          expect(idx.footprint.files).toBe(model.files.length);
          for (const h of HASHES) expect(idx.lookup(h, 7)).toEqual(model.lookup(h, 7));
        }
        idx.close();
      }),
      { numRuns: 150 },
    );
  });

  it('keeps memory bounded: 200k entries, nothing in memory grows with the entry count', async () => {
    const s = mem();
    const idx = KeyIndex.open(s, '/s', 2000, 500);
    const seen = new Set<string>();
    let off = 0;
    for (let b = 0; b < 400; b++) {
      const list = Array.from({ length: 500 }, (_, i) => ({ keyHash: ((b * 500 + i) * 2654435761) >>> 0, commitLogOffset: (off += 100), storeTimestamp: b }));
      idx.add(list);
      if (b % 10 === 9) {
        await idx.flush();
        idx.deleteBelow(off - 5 * 2000 * 100); // retention keeps about five files
      }
      const f = idx.footprint;
      expect(f.slotTableBytes).toBe(500 * 4);
      expect(f.changedSlotPages).toBeLessThanOrEqual(1); // (500 slots: one page)
      expect(f.files).toBeLessThanOrEqual(11);
      seen.add(JSON.stringify(f.slotTableBytes));
    }
    expect(idx.size).toBeLessThanOrEqual(11 * 2000);
    expect(seen.size).toBe(1);
    // The newest entry is found; one retention removed is not.
    expect(idx.lookup(((399 * 500 + 499) * 2654435761) >>> 0, 4)).toEqual([off]);
    expect(idx.lookup(7 * 2654435761 >>> 0, 4)).toEqual([]);
    expect(s.list('/s/index').length).toBe(idx.footprint.files);
    idx.close();
  });

  it('opens after a torn crash: lookups never throw, give only added offsets and keep everything flushed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 5 }), fc.array(fc.tuple(fc.array(fc.record({ h: fc.constantFrom(...HASHES), step: fc.constantFrom(0, 1, 10), back: fc.constant(0) }), { maxLength: 10 }), fc.boolean()), { maxLength: 25 }), async (seed, capacity, batches) => {
        const s = memoryStorage({ clock: new SimClock(), random: new SeededRandom(seed) });
        const idx = KeyIndex.open(s, '/s', capacity, 2);
        const cursor = { at: 0 };
        const added = new Map<number, Set<number>>(HASHES.map((h) => [h, new Set<number>()]));
        let flushed = new Map<number, Set<number>>(HASHES.map((h) => [h, new Set<number>()]));
        for (const [items, flush] of batches) {
          const list = entriesFor(items, cursor);
          idx.add(list);
          for (const e of list) added.get(e.keyHash)!.add(e.commitLogOffset);
          if (flush) {
            await idx.flush();
            flushed = new Map([...added].map(([h, set]) => [h, new Set(set)]));
          }
        }
        s.crash({ tear: true });
        const again = KeyIndex.open(s, '/s', capacity, 2);
        for (const h of HASHES) {
          const got = again.lookup(h, 10_000);
          for (const o of got) expect(added.get(h)!.has(o)).toBe(true);
          expect(new Set(got).size).toBe(got.length);
          for (const o of flushed.get(h)!) expect(got).toContain(o);
        }
        // Recovery cuts at a flushed position and re-adds: still consistent.
        again.truncateFrom(Math.floor(cursor.at / 2));
        again.add([{ keyHash: 1, commitLogOffset: cursor.at + 1, storeTimestamp: 0 }]);
        expect(again.lookup(1, 1)).toEqual([cursor.at + 1]);
        again.close();
      }),
      { numRuns: 200 },
    );
  });
});

describe('key index flushes', () => {
  it('write the slots a second of messages changed in a few writes, not one per slot', async () => {
    const f = faultyStorage(mem());
    const idx = KeyIndex.open(f, '/s', 2_000_000, 500_000);
    idx.add(Array.from({ length: 1000 }, (_, i) => ({ keyHash: (i * 2654435761) >>> 0, commitLogOffset: i * 100, storeTimestamp: i })));
    const before = f.counters.writes;
    await idx.flush();
    expect(f.counters.writes - before).toBeLessThanOrEqual(5); // the changed runs of the slot table and the header
    // what was written is what a reopened index finds
    idx.close();
    const again = KeyIndex.open(f, '/s', 2_000_000, 500_000);
    for (const i of [0, 1, 499, 999]) expect(again.lookup((i * 2654435761) >>> 0, 4)).toContain(i * 100);
    again.close();
  });
});
