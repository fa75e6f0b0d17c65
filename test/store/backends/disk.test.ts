import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageError } from '../../../store/backend.js';
import { diskStorage, toStorageError } from '../../../store/backends/disk.js';
import { SegmentedLog } from '../../../store/segmented-log.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'actormq-disk-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('disk storage', () => {
  it('positional I/O, flush, truncate, list, stat, rename, remove, usage', async () => {
    const fs = diskStorage(dir);
    const f = fs.open('a/b/seg');
    f.write(0, new Uint8Array([1, 2, 3]));
    f.write(5, new Uint8Array([9]));
    expect(f.size()).toBe(6);
    expect([...f.read(0, 100)]).toEqual([1, 2, 3, 0, 0, 9]);
    expect(f.read(50, 10).length).toBe(0);
    // into a buffer of the caller's: a view of it, as long as what was read; one too short is not used
    const into = new Uint8Array(8).fill(0xee);
    const got = f.read(1, 100, into);
    expect(got.buffer).toBe(into.buffer);
    expect([...got]).toEqual([2, 3, 0, 0, 9]);
    expect(f.read(0, 10, new Uint8Array(4)).length).toBe(6);
    await f.flush();
    f.truncate(2);
    expect([...f.read(0, 10)]).toEqual([1, 2]);
    f.close();
    expect(() => f.read(0, 1)).toThrow(/EBADF/);
    expect(fs.list('a')).toEqual(['b']);
    expect(fs.list('missing')).toEqual([]);
    expect(fs.stat('a/b/seg')).toMatchObject({ size: 2, isDirectory: false });
    expect(fs.stat('a')?.isDirectory).toBe(true);
    expect(fs.stat('nope')).toBeUndefined();
    fs.open('a/c').write(0, new Uint8Array([7]));
    fs.rename('a/c', 'a/b/seg');
    expect([...fs.open(join(dir, 'a/b/seg')).read(0, 9)]).toEqual([7]);
    await fs.flushDir('a/b');
    const u = fs.usage('a/not/yet');
    expect(u.totalBytes).toBeGreaterThan(0);
    expect(u.usedBytes).toBeLessThanOrEqual(u.totalBytes);
    fs.remove('a');
    fs.remove('a');
    expect(fs.exists('a')).toBe(false);
    expect(() => fs.open('x', { create: false })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('maps errno codes', () => {
    expect(toStorageError(Object.assign(new Error('x'), { code: 'ENOSPC' }), 'w').code).toBe('ENOSPC');
    expect(toStorageError(Object.assign(new Error('x'), { code: 'EIO' }), 'w').code).toBe('EIO');
    expect(toStorageError(Object.assign(new Error('x'), { code: 'EACCES' }), 'w').code).toBe('EOTHER');
    expect(toStorageError(new Error('x'), 'w')).toBeInstanceOf(StorageError);
  });

  it('runs a segmented log', async () => {
    const fs = diskStorage(dir);
    const log = SegmentedLog.open(fs, 'commitlog', { segmentSize: 1024 });
    for (let i = 0; i < 10; i++) log.append(new Uint8Array(300).fill(i));
    await log.flush();
    expect(log.flushedOffset).toBe(log.writeOffset);
    log.close();
    const again = SegmentedLog.open(fs, 'commitlog', { segmentSize: 1024, tailCacheBytes: 0 });
    expect(again.writeOffset).toBe(3 * 1024 + 300);
    expect([...again.read(1024 + 300, 300)]).toEqual(new Array(300).fill(4));
    again.close();
  });

  it('locks: exclusive in and across processes, takes over a dead owner, releases', () => {
    const fs = diskStorage(dir);
    const l = fs.lock('store/lock');
    expect(readFileSync(join(dir, 'store/lock'), 'utf8').trim()).toBe(String(process.pid));
    expect(() => fs.lock('store/lock')).toThrow(expect.objectContaining({ code: 'ELOCKED' }));
    l.release();
    expect(fs.exists('store/lock')).toBe(false);

    // A live other process holds it.
    writeFileSync(join(dir, 'store/lock'), `${process.ppid}\n`);
    expect(() => fs.lock('store/lock')).toThrow(new RegExp(`process ${process.ppid}`));

    // A dead process held it: take over.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(join(dir, 'store/lock'), `${dead}\n`);
    const l2 = fs.lock('store/lock');
    expect(readFileSync(join(dir, 'store/lock'), 'utf8').trim()).toBe(String(process.pid));
    l2.release();

    // Our own pid from an earlier life (not held now): stale.
    writeFileSync(join(dir, 'store/lock'), `${process.pid}\n`);
    fs.lock('store/lock').release();
  });
});
