import { SimClock, settle } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import type { StorageBackend } from '../../store/backend.js';
import { faultyStorage } from '../../store/backends/faulty.js';
import { memoryStorage, type MemoryStorage } from '../../store/backends/memory.js';
import { cachedStorage, HandleCacheError } from '../../store/cached-storage.js';
import { fileWith, withFiles } from '../support/storage-wrappers.js';

/** A backend that counts the handles open on it (what a process would hold as descriptors). */
function counting(inner: StorageBackend): StorageBackend & { openNow: () => number; maxOpen: () => number; opens: () => number } {
  let now = 0;
  let max = 0;
  let opens = 0;
  const files = withFiles(inner, (f) => {
    now++;
    opens++;
    max = Math.max(max, now);
    let closed = false;
    return fileWith(f, {
      close() {
        if (!closed) now--;
        closed = true;
        f.close();
      },
    });
  });
  return Object.assign(files, {
    openNow: () => now,
    maxOpen: () => max,
    opens: () => opens,
  });
}

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

function setup(opts: { limit: number; idleMs?: number }): { clock: SimClock; mem: MemoryStorage; inner: ReturnType<typeof counting>; cache: ReturnType<typeof cachedStorage> } {
  const clock = new SimClock();
  const mem = memoryStorage({ clock, random: new SeededRandom(1) });
  const inner = counting(mem);
  const cache = cachedStorage(inner, { clock, maxOpenFiles: opts.limit, idleCloseMs: opts.idleMs ?? 0 });
  return { clock, mem, inner, cache };
}

describe('cached storage (the handle cache)', () => {
  it('never holds more than the limit open, and reopens a closed file on its next use', async () => {
    const { inner, cache } = setup({ limit: 3 });
    const files = Array.from({ length: 10 }, (_, i) => cache.open(`d/f${i}`));
    for (const [i, f] of files.entries()) {
      f.write(0, bytes(i, i + 1));
      await f.flush();
      expect(inner.openNow()).toBeLessThanOrEqual(3);
    }
    for (let round = 0; round < 2; round++) {
      for (const [i, f] of files.entries()) {
        expect([...f.read(0, 9)]).toEqual([i, i + 1]);
        expect(f.size()).toBe(2);
        expect(inner.openNow()).toBeLessThanOrEqual(3);
      }
    }
    expect(inner.maxOpen()).toBe(3);
    expect(cache.stats()).toMatchObject({ open: 3, retiring: 0 });
    expect(cache.stats().reopened).toBeGreaterThan(0);
    for (const f of files) f.close();
    expect(inner.openNow()).toBe(0);
  });

  it('closes the least recently used first', () => {
    const { inner, cache } = setup({ limit: 2 });
    const a = cache.open('a');
    const b = cache.open('b');
    a.read(0, 1); // a is now the most recent: opening c closes b
    cache.open('c');
    const opens = inner.opens();
    a.size();
    expect(inner.opens()).toBe(opens);
    b.size();
    expect(inner.opens()).toBe(opens + 1);
  });

  it('keeps a held file open past the limit and past idleness', async () => {
    const { clock, inner, cache } = setup({ limit: 1, idleMs: 1000 });
    const hot = cache.open('hot');
    hot.hold!(true);
    const cold = Array.from({ length: 5 }, (_, i) => cache.open(`c${i}`));
    const opens = inner.opens();
    hot.size();
    expect(inner.opens()).toBe(opens); // never closed
    await clock.advance(5000);
    hot.size();
    expect(inner.opens()).toBe(opens);
    expect(cache.stats().open).toBe(1);
    hot.hold!(false);
    await clock.advance(5000);
    expect(cache.stats().open).toBe(0);
    expect(inner.openNow()).toBe(0);
    expect(cold[0]!.size()).toBe(0);
  });

  it('closes handles idle for idleCloseMs on the injected clock', async () => {
    const { clock, inner, cache } = setup({ limit: 100, idleMs: 60_000 });
    const a = cache.open('a');
    const b = cache.open('b');
    await clock.advance(30_000);
    b.size(); // used: idle from now
    await clock.advance(30_000);
    expect(inner.openNow()).toBe(1); // a went idle at 60 s
    expect(cache.stats().idleClosed).toBe(1);
    await clock.advance(30_000);
    expect(inner.openNow()).toBe(0);
    a.write(0, bytes(7));
    expect([...a.read(0, 1)]).toEqual([7]);
    expect(inner.openNow()).toBe(1);
  });

  it('flushes a file with unflushed writes before closing it; the file\'s flush waits for that and covers its writes', async () => {
    const { mem, inner, cache } = setup({ limit: 1 });
    const a = cache.open('a');
    a.write(0, bytes(1, 2, 3));
    const b = cache.open('b'); // a is dirty: retired (flushed, then closed)
    expect(cache.stats().retiring).toBe(1);
    expect(inner.openNow()).toBe(2); // until its flush ends
    const flushed = a.flush();
    await flushed;
    expect(cache.stats().retiring).toBe(0);
    expect(inner.openNow()).toBe(1);
    expect(mem.durableSize('a')).toBe(3);
    b.write(0, bytes(9));
    mem.crash();
    const again = cachedStorage(inner, { clock: new SimClock(), maxOpenFiles: 4 });
    expect([...again.open('a').read(0, 9)]).toEqual([1, 2, 3]);
    expect(again.open('b').size()).toBe(0); // b was never flushed: lost, as without the cache
  });

  it('a failed flush of a retired handle fails the file\'s next flush, and the one after flushes again', async () => {
    const clock = new SimClock();
    const mem = memoryStorage({ clock, random: new SeededRandom(2) });
    const faulty = faultyStorage(mem);
    const cache = cachedStorage(faulty, { clock, maxOpenFiles: 1, idleCloseMs: 0 });
    const a = cache.open('a');
    a.write(0, bytes(1));
    faulty.failFlushes('EIO');
    cache.open('b'); // retires a: its flush fails
    await settle();
    expect(cache.stats().retiring).toBe(0);
    await expect(a.flush()).rejects.toMatchObject({ code: 'EIO' });
    faulty.heal();
    const before = faulty.counters.flushes;
    await a.flush(); // opens a again and flushes it
    expect(faulty.counters.flushes).toBe(before + 1);
    expect(mem.durableSize('a')).toBe(1);
    await a.flush(); // nothing owed any more: the open handle is flushed as before
  });

  it('never closes a handle under a flush; a file closed during its flush is closed when the flush ends', async () => {
    const clock = new SimClock();
    const mem = memoryStorage({ clock, random: new SeededRandom(3) });
    const faulty = faultyStorage(mem);
    const inner = counting(faulty);
    const cache = cachedStorage(inner, { clock, maxOpenFiles: 1, idleCloseMs: 10 });
    const a = cache.open('a');
    a.write(0, bytes(5));
    faulty.hangFlushes();
    const p = a.flush();
    cache.open('b'); // a is busy: not chosen
    expect(cache.stats().open).toBe(2);
    await clock.advance(100); // nor closed when idle (b is)
    expect(cache.stats()).toMatchObject({ open: 1, idleClosed: 1 });
    a.close();
    expect(inner.openNow()).toBe(1);
    faulty.heal();
    await p;
    expect(inner.openNow()).toBe(0);
    expect(() => a.read(0, 1)).toThrow(/EBADF/);
    await expect(a.flush()).rejects.toMatchObject({ code: 'EBADF' });
  });

  it('does not reopen, after a simulated crash, a file opened before it', () => {
    const { mem, cache } = setup({ limit: 1 });
    const a = cache.open('a');
    cache.open('b');
    mem.crash();
    expect(() => a.read(0, 1)).toThrow(/predates a crash/);
  });

  it('close() closes every handle; later uses throw EBADF', () => {
    const { inner, cache } = setup({ limit: 4 });
    const a = cache.open('a');
    cache.open('b');
    cache.close();
    expect(inner.openNow()).toBe(0);
    expect(() => a.size()).toThrow(/EBADF/);
    expect(() => cache.open('c')).toThrow(/EBADF/);
  });

  it('runs a bounded number of directory flushes at once', async () => {
    const clock = new SimClock();
    const faulty = faultyStorage(memoryStorage({ clock, random: new SeededRandom(4) }));
    const cache = cachedStorage(faulty, { clock, maxDirFlushes: 2 });
    faulty.hangFlushes();
    const all = Promise.all(Array.from({ length: 6 }, (_, i) => cache.flushDir(`d${i}`)));
    await settle();
    expect(cache.stats().dirFlushes).toBe(2);
    faulty.heal();
    await all;
    expect(cache.stats().dirFlushes).toBe(0);
  });

  it('runs a bounded number of file flushes at once, in the order asked, and each covers its writes', async () => {
    const clock = new SimClock();
    const mem = memoryStorage({ clock, random: new SeededRandom(6) });
    let under = 0;
    let most = 0;
    const release: Array<() => void> = [];
    const slow = withFiles(mem, (f) =>
      fileWith(f, {
        flush: async () => {
          under++;
          most = Math.max(most, under);
          await new Promise<void>((r) => release.push(r));
          await f.flush();
          under--;
        },
      }),
    );
    // room for every file: no handle is retired (a retirement's flush starts at once, outside the bound)
    const cache = cachedStorage(slow, { clock, maxOpenFiles: 16, maxFileFlushes: 3 });
    const files = Array.from({ length: 12 }, (_, i) => cache.open(`/f${i}`));
    files.forEach((f, i) => f.write(0, new Uint8Array([i])));
    const done: number[] = [];
    const all = Promise.all(files.map((f, i) => f.flush().then(() => done.push(i))));
    for (let round = 0; round < 20 && release.length > 0; round++) {
      await settle();
      expect(under).toBeLessThanOrEqual(3);
      for (const r of release.splice(0)) r();
      await settle();
    }
    await all;
    expect(most).toBe(3);
    expect(done).toEqual(Array.from({ length: 12 }, (_, i) => i));
    files.forEach((_, i) => expect(mem.durableSize(`/f${i}`)).toBe(1));
  });

  it('closes a handle unflushed past maxRetiring retirements; the file\'s next flush opens and fsyncs it', async () => {
    const clock = new SimClock();
    const mem = memoryStorage({ clock, random: new SeededRandom(7) });
    const faulty = faultyStorage(mem);
    const cache = cachedStorage(faulty, { clock, maxOpenFiles: 2, maxRetiring: 2 });
    faulty.hangFlushes();
    const files = Array.from({ length: 8 }, (_, i) => {
      const f = cache.open(`/g${i}`);
      f.write(0, new Uint8Array([i + 1]));
      return f;
    });
    const s = cache.stats();
    // 8 dirty files, 2 open: 2 retiring (their flushes hang), the other 4 closed unflushed
    expect([s.open, s.retiring, s.closedUnflushed]).toEqual([2, 2, 4]);
    expect(s.peak).toBeLessThanOrEqual(4);
    faulty.heal();
    await Promise.all(files.map((f) => f.flush()));
    files.forEach((_, i) => expect(mem.durableSize(`/g${i}`)).toBe(1));
    mem.crash();
    for (let i = 0; i < 8; i++) {
      const f = mem.open(`/g${i}`);
      expect([...f.read(0, 1)]).toEqual([i + 1]);
      f.close();
    }
  });

  it('checks its options', () => {
    const clock = new SimClock();
    const mem = memoryStorage({ clock, random: new SeededRandom(5) });
    expect(() => cachedStorage(mem, { clock, maxOpenFiles: 0 })).toThrow(HandleCacheError);
    expect(() => cachedStorage(mem, { clock, idleCloseMs: -1 })).toThrow(HandleCacheError);
  });
});
