import fc from 'fast-check';
import { SimClock } from '../../actors/runtime/clock.js';
import { SeededRandom } from '../../actors/runtime/random.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { INDEX_ENTRY_SIZE, KeyIndex, decodeIndexEntry, encodeIndexEntry, keyHash } from '../../store/key-index.js';

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

  it('rebuilds its map on open and skips re-added entries', async () => {
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
    // A crash can leave zeros where an unflushed write was (entry 9 lives in the third file).
    s.open('/s/index/00000000000000000160').write(20, new Uint8Array(INDEX_ENTRY_SIZE));
    const again = KeyIndex.open(s, '/s', 4);
    expect(again.size).toBe(10);
    expect(again.truncateFrom(45)).toBe(5);
    expect(again.lookup(h, 100)).toEqual([40, 30, 20, 10, 0]);
    expect(again.lastCommitLogOffset).toBe(40);
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
