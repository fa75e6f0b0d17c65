import fc from 'fast-check';
import { SimClock } from '../../../core/clock.js';
import { SeededRandom } from '../../../core/random.js';
import { StorageError } from '../../../store/backend.js';
import { memoryStorage } from '../../../store/backends/memory.js';

const make = (seed = 1) => {
  const clock = new SimClock();
  return { clock, fs: memoryStorage({ clock, random: new SeededRandom(seed) }) };
};
const bytes = (...xs: number[]) => new Uint8Array(xs);

describe('memory storage', () => {
  it('reads, writes, sizes, truncates, lists and stats', () => {
    const { fs, clock } = make();
    const f = fs.open('a/b/c.log');
    f.write(0, bytes(1, 2, 3));
    f.write(5, bytes(9));
    expect(f.size()).toBe(6);
    expect([...f.read(0, 100)]).toEqual([1, 2, 3, 0, 0, 9]);
    expect(f.read(10, 5).length).toBe(0);
    // into a buffer of the caller's: a view of it, as long as what was read; one too short is not used
    const into = new Uint8Array(8).fill(0xee);
    const got = f.read(1, 100, into);
    expect(got.buffer).toBe(into.buffer);
    expect([...got]).toEqual([2, 3, 0, 0, 9]);
    expect(f.read(0, 10, new Uint8Array(4)).length).toBe(6);
    clock.advance(1000);
    f.truncate(2);
    expect([...f.read(0, 10)]).toEqual([1, 2]);
    f.write(4, bytes(7));
    expect([...f.read(0, 10)]).toEqual([1, 2, 0, 0, 7]);
    expect(fs.list('a')).toEqual(['b']);
    expect(fs.list('/a/b/')).toEqual(['c.log']);
    expect(fs.list('nope')).toEqual([]);
    expect(fs.stat('a/b/c.log')).toEqual({ size: 5, mtimeMs: clock.now(), isDirectory: false });
    expect(fs.stat('a')?.isDirectory).toBe(true);
    expect(fs.exists('a/b')).toBe(true);
    expect(() => fs.open('x', { create: false })).toThrow(StorageError);
    expect(fs.usage('.').usedBytes).toBe(5);
    fs.remove('a');
    expect(fs.exists('a/b/c.log')).toBe(false);
    expect(fs.usage('.').usedBytes).toBe(0);
  });

  it('rename is atomic and replaces the target; directories move with their files', async () => {
    const { fs } = make();
    const a = fs.open('cfg/t.json.tmp');
    a.write(0, bytes(1));
    await a.flush();
    fs.open('cfg/t.json').write(0, bytes(2, 2));
    fs.rename('cfg/t.json.tmp', 'cfg/t.json');
    expect(fs.list('cfg')).toEqual(['t.json']);
    expect([...fs.open('cfg/t.json').read(0, 9)]).toEqual([1]);
    fs.rename('cfg', 'cfg2');
    expect(fs.list('cfg2')).toEqual(['t.json']);
    expect(fs.exists('cfg')).toBe(false);
    fs.crash();
    expect([...fs.open('cfg2/t.json').read(0, 9)]).toEqual([1]);
  });

  it('crash keeps flushed bytes, drops unflushed ones and invalidates handles and locks', async () => {
    const { fs } = make();
    const f = fs.open('log');
    f.write(0, bytes(1, 2, 3));
    await f.flush();
    f.write(3, bytes(4, 5));
    f.write(0, bytes(9));
    expect(fs.durableSize('log')).toBe(3);
    fs.lock('store/lock');
    expect(() => fs.lock('store/lock')).toThrow(/ELOCKED/);
    fs.crash();
    expect(() => f.read(0, 1)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    await expect(f.flush()).rejects.toMatchObject({ code: 'EBADF' });
    const g = fs.open('log');
    expect([...g.read(0, 10)]).toEqual([1, 2, 3]);
    expect(fs.usage('').usedBytes).toBe(3);
    fs.lock('store/lock').release();
    expect(fs.crashes).toBe(1);
  });

  it('flushed truncation survives, unflushed truncation is undone', async () => {
    const { fs } = make();
    const f = fs.open('log');
    f.write(0, bytes(1, 2, 3, 4));
    await f.flush();
    f.truncate(1);
    fs.crash();
    const g = fs.open('log');
    expect(g.size()).toBe(4);
    g.truncate(2);
    await g.flush();
    g.write(2, bytes(8));
    fs.crash();
    expect([...fs.open('log').read(0, 9)]).toEqual([1, 2]);
  });

  it('a torn crash keeps the durable bytes plus a prefix of the last unflushed write (fast-check seeds)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 8 }),
        fc.nat(8),
        async (seed, writes, flushAfter) => {
          const { fs } = make(seed);
          const f = fs.open('seg');
          let pos = 0;
          let durable: number[] = [];
          const all: number[] = [];
          let lastPos = 0;
          writes.forEach((w, i) => {
            f.write(pos, w);
            all.push(...w);
            lastPos = pos;
            pos += w.length;
            if (i === flushAfter) {
              void f.flush();
              durable = [...all];
            }
          });
          const unflushedLast = flushAfter !== writes.length - 1;
          fs.crash({ tear: true });
          const got = [...fs.open('seg').read(0, 1 << 20)];
          expect(got.slice(0, durable.length)).toEqual(durable);
          if (!unflushedLast) {
            expect(got).toEqual(durable);
          } else {
            const last = writes[writes.length - 1]!;
            if (got.length > durable.length) {
              // zeros up to the last write, then a prefix of it
              expect(got.slice(durable.length, lastPos).every((b) => b === 0)).toBe(true);
              const kept = got.slice(lastPos);
              expect(kept).toEqual([...last].slice(0, kept.length));
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('tears differently for different seeds but deterministically for one seed', () => {
    const run = (seed: number) => {
      const { fs } = make(seed);
      const f = fs.open('x');
      f.write(0, new Uint8Array(1000).fill(7));
      fs.crash({ tear: true });
      return fs.open('x').size();
    };
    expect(run(5)).toBe(run(5));
    const sizes = new Set([1, 2, 3, 4, 5, 6].map(run));
    expect(sizes.size).toBeGreaterThan(1);
  });

  it('enforces the capacity with ENOSPC and reports usage', () => {
    const { fs } = make();
    fs.setCapacity(10);
    const f = fs.open('a');
    f.write(0, new Uint8Array(8));
    expect(() => f.write(8, new Uint8Array(3))).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    expect(fs.usage('a')).toEqual({ usedBytes: 8, totalBytes: 10 });
    f.write(0, new Uint8Array(10));
    expect(fs.usage('a').usedBytes).toBe(10);
  });

  it('closed handles throw EBADF; errors on bad paths', () => {
    const { fs } = make();
    const f = fs.open('a/f');
    f.close();
    expect(() => f.size()).toThrow(/EBADF/);
    expect(() => fs.open('a')).toThrow(StorageError);
    expect(() => fs.mkdir('a/f/g')).toThrow(/EEXIST/);
    expect(() => fs.rename('nope', 'x')).toThrow(/ENOENT/);
    const l = fs.lock('L');
    l.release();
    l.release();
    fs.lock('L');
  });
});
