import { SimClock } from '../../../core/clock.js';
import { SeededRandom } from '../../../core/random.js';
import { faultyStorage } from '../../../store/backends/faulty.js';
import { memoryStorage } from '../../../store/backends/memory.js';
import { SegmentedLog } from '../../../store/segmented-log.js';

const make = () => faultyStorage(memoryStorage({ clock: new SimClock(), random: new SeededRandom(3) }));
const inner = (fs: ReturnType<typeof make>) => fs.inner as ReturnType<typeof memoryStorage>;

describe('faulty storage', () => {
  it('fails writes after N successes, then heals', () => {
    const fs = make();
    const f = fs.open('a');
    fs.failWrites('EIO', { after: 2 });
    f.write(0, new Uint8Array(3));
    f.write(3, new Uint8Array(3));
    expect(() => f.write(6, new Uint8Array(3))).toThrow(expect.objectContaining({ code: 'EIO' }));
    expect(() => f.write(6, new Uint8Array(3))).toThrow(/EIO/);
    expect(f.size()).toBe(6);
    fs.heal();
    f.write(6, new Uint8Array(1));
    expect(fs.counters).toEqual({ writes: 3, bytesWritten: 7, flushes: 0, failedWrites: 2, failedFlushes: 0 });
  });

  it('fails flushes (files and directories) with the given code', async () => {
    const fs = make();
    const f = fs.open('a');
    f.write(0, new Uint8Array(3));
    fs.failFlushes('ENOSPC', { after: 1 });
    await f.flush();
    await expect(f.flush()).rejects.toMatchObject({ code: 'ENOSPC' });
    await expect(fs.flushDir('.')).rejects.toMatchObject({ code: 'ENOSPC' });
    fs.heal();
    await fs.flushDir('.');
    expect(fs.counters.flushes).toBe(2);
    expect(fs.counters.failedFlushes).toBe(2);
  });

  it('fakes usage and passes the rest through', () => {
    const fs = make();
    expect(fs.kind).toBe('memory');
    fs.setUsage({ usedBytes: 95, totalBytes: 100 });
    expect(fs.usage('x')).toEqual({ usedBytes: 95, totalBytes: 100 });
    fs.setUsage(undefined);
    expect(fs.usage('x').totalBytes).toBeGreaterThan(100);
    fs.mkdir('d/e');
    expect(fs.list('d')).toEqual(['e']);
    const l = fs.lock('d/lock');
    expect(() => fs.lock('d/lock')).toThrow(/ELOCKED/);
    l.release();
  });

  it('a segmented log surfaces a failed flush and recovers after heal', async () => {
    const fs = make();
    const log = SegmentedLog.open(fs, 'cl', { segmentSize: 128 });
    log.append(new Uint8Array(10));
    fs.failFlushes('EIO');
    await expect(log.flush()).rejects.toMatchObject({ code: 'EIO' });
    expect(log.flushedOffset).toBe(0);
    fs.heal();
    expect(inner(fs).durableSize('cl/00000000000000000000')).toBe(0);
    await log.flush();
    expect(log.flushedOffset).toBe(10);
    expect(inner(fs).durableSize('cl/00000000000000000000')).toBe(10);
  });
});
