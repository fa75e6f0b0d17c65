/**
 * The real file system: synchronous positional I/O (into the page cache), asynchronous fsync for flush, and
 * `extend` / `prefetch` for a log that warms the page cache ahead of its writes.
 * Paths are '/'-separated, relative to `root` (default: the process's working directory) or absolute.
 * Errors are StorageErrors whose code follows the errno (EIO, ENOSPC, ENOENT, EEXIST, EBADF; others EOTHER).
 */

import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { promisify } from 'node:util';
import {
  StorageError,
  type StorageBackend,
  type StorageErrorCode,
  type StorageFile,
  type StorageLock,
  type StorageStat,
  type StorageUsage,
} from '../backend.js';

const fsyncAsync = promisify(fs.fsync);

const KNOWN: ReadonlySet<string> = new Set(['EIO', 'ENOSPC', 'ENOENT', 'EEXIST', 'EBADF']);

/** Maps a Node error to a StorageError (errno name when one fits, EOTHER otherwise). */
export function toStorageError(e: unknown, what: string): StorageError {
  if (e instanceof StorageError) return e;
  const errno = (e as NodeJS.ErrnoException | undefined)?.code;
  let code: StorageErrorCode = 'EOTHER';
  if (errno !== undefined && KNOWN.has(errno)) code = errno as StorageErrorCode;
  else if (errno === 'EDQUOT') code = 'ENOSPC';
  const msg = e instanceof Error ? e.message : String(e);
  return new StorageError(code, `${what}: ${msg}`, { cause: e });
}

/** Prefetches read through one scratch buffer, a chunk at a time: their bytes are never looked at. */
const PREFETCH_CHUNK = 1024 * 1024;
let prefetchScratch: Buffer | undefined;

/** Locks held by this process (absolute paths), so a second lock in one process is refused too. */
const heldLocks = new Set<string>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export function diskStorage(root?: string): StorageBackend {
  const base = root ?? process.cwd();
  const abs = (p: string): string => nodePath.resolve(base, p);

  const wrap = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw toStorageError(e, what);
    }
  };

  const openFile = (path: string, create: boolean): StorageFile => {
    const full = abs(path);
    const fd = wrap(`open ${path}`, () => {
      if (create) fs.mkdirSync(nodePath.dirname(full), { recursive: true });
      try {
        return fs.openSync(full, 'r+');
      } catch (e) {
        if (create && (e as NodeJS.ErrnoException).code === 'ENOENT') return fs.openSync(full, 'w+');
        throw e;
      }
    });
    let closed = false;
    /**
     * The file's size as this handle last knew it (its own writes and truncates, or an fstat): a read within it
     * needs no fstat; one past it (another handle may have written) looks again.
     */
    let knownSize = -1;
    const check = (op: string): void => {
      if (closed) throw new StorageError('EBADF', `${op} ${path}: file handle is closed`);
    };
    return {
      path,
      size(): number {
        check('size');
        return wrap(`stat ${path}`, () => (knownSize = fs.fstatSync(fd).size));
      },
      write(position: number, data: Uint8Array): void {
        check('write');
        wrap(`write ${path}`, () => {
          let done = 0;
          while (done < data.length) {
            done += fs.writeSync(fd, data, done, data.length - done, position + done);
          }
          if (knownSize >= 0 && position + data.length > knownSize) knownSize = position + data.length;
        });
      },
      read(position: number, length: number, into?: Uint8Array): Uint8Array {
        check('read');
        return wrap(`read ${path}`, () => {
          if (position + length > knownSize) knownSize = fs.fstatSync(fd).size;
          length = Math.max(0, Math.min(length, knownSize - position));
          const buf = into !== undefined && into.length >= length ? into : Buffer.allocUnsafe(length);
          let got = 0;
          while (got < length) {
            const n = fs.readSync(fd, buf, got, length - got, position + got);
            if (n === 0) break;
            got += n;
          }
          return new Uint8Array(buf.buffer, buf.byteOffset, got);
        });
      },
      extend(size: number): void {
        check('extend');
        wrap(`extend ${path}`, () => {
          if (fs.fstatSync(fd).size < size) fs.ftruncateSync(fd, size);
          knownSize = -1;
        });
      },
      prefetch(position: number, length: number, done: (err: StorageError | undefined) => void): void {
        if (closed) {
          queueMicrotask(() => done(new StorageError('EBADF', `prefetch ${path}: file handle is closed`)));
          return;
        }
        prefetchScratch ??= Buffer.allocUnsafe(PREFETCH_CHUNK);
        const scratch = prefetchScratch;
        const end = position + length;
        // one chunk at a time into a shared scratch buffer: only the page cache keeps what is read
        const step = (at: number): void => {
          if (at >= end || closed) return done(undefined);
          fs.read(fd, scratch, 0, Math.min(PREFETCH_CHUNK, end - at), at, (err, n) => {
            if (err) return done(toStorageError(err, `prefetch ${path}`));
            if (n === 0) return done(undefined);
            step(at + n);
          });
        };
        step(position);
      },
      async flush(): Promise<void> {
        check('flush');
        try {
          await fsyncAsync(fd);
        } catch (e) {
          throw toStorageError(e, `fsync ${path}`);
        }
      },
      truncate(size: number): void {
        check('truncate');
        wrap(`truncate ${path}`, () => fs.ftruncateSync(fd, size));
        knownSize = -1;
      },
      close(): void {
        if (closed) return;
        closed = true;
        wrap(`close ${path}`, () => fs.closeSync(fd));
      },
    };
  };

  return {
    kind: 'disk',
    open(path, opts) {
      return openFile(path, opts?.create !== false);
    },
    list(dir) {
      try {
        return fs.readdirSync(abs(dir)).sort();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw toStorageError(e, `list ${dir}`);
      }
    },
    stat(path): StorageStat | undefined {
      try {
        const st = fs.statSync(abs(path));
        return { size: st.size, mtimeMs: st.mtimeMs, isDirectory: st.isDirectory() };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw toStorageError(e, `stat ${path}`);
      }
    },
    exists(path) {
      return fs.existsSync(abs(path));
    },
    mkdir(dir) {
      wrap(`mkdir ${dir}`, () => fs.mkdirSync(abs(dir), { recursive: true }));
    },
    remove(path) {
      wrap(`remove ${path}`, () => fs.rmSync(abs(path), { recursive: true, force: true }));
    },
    rename(from, to) {
      wrap(`rename ${from} -> ${to}`, () => {
        fs.mkdirSync(nodePath.dirname(abs(to)), { recursive: true });
        fs.renameSync(abs(from), abs(to));
      });
    },
    async flushDir(dir) {
      let fd: number | undefined;
      try {
        fd = fs.openSync(abs(dir), 'r');
        await fsyncAsync(fd);
      } catch (e) {
        // Some platforms cannot fsync a directory (EISDIR/EINVAL/EPERM); that is not a data loss.
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM') throw toStorageError(e, `fsync dir ${dir}`);
      } finally {
        if (fd !== undefined) fs.closeSync(fd);
      }
    },
    usage(path): StorageUsage {
      let p = abs(path);
      while (!fs.existsSync(p) && nodePath.dirname(p) !== p) p = nodePath.dirname(p);
      return wrap(`statfs ${path}`, () => {
        const st = fs.statfsSync(p);
        return { usedBytes: (st.blocks - st.bfree) * st.bsize, totalBytes: st.blocks * st.bsize };
      });
    },
    lock(path): StorageLock {
      const full = abs(path);
      if (heldLocks.has(full)) {
        throw new StorageError('ELOCKED', `${nodePath.dirname(full)} is locked by this process (pid ${process.pid}, lock ${full})`);
      }
      wrap(`lock ${path}`, () => fs.mkdirSync(nodePath.dirname(full), { recursive: true }));
      for (let attempt = 0; ; attempt++) {
        try {
          const fd = fs.openSync(full, 'wx');
          try {
            fs.writeSync(fd, `${process.pid}\n`);
            fs.fsyncSync(fd);
          } finally {
            fs.closeSync(fd);
          }
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw toStorageError(e, `lock ${path}`);
          if (attempt >= 3) throw new StorageError('ELOCKED', `${nodePath.dirname(full)}: cannot take lock ${full}`);
        }
        let text = '';
        try {
          text = fs.readFileSync(full, 'utf8');
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw toStorageError(e, `lock ${path}`);
        }
        const pid = Number.parseInt(text.trim(), 10);
        const stale = !Number.isInteger(pid) || pid <= 0 || pid === process.pid || !pidAlive(pid);
        if (!stale) {
          throw new StorageError('ELOCKED', `${nodePath.dirname(full)} is in use by process ${pid} (lock file ${full})`);
        }
        // Take over the stale lock: remove it and race for a fresh exclusive create.
        try {
          fs.unlinkSync(full);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw toStorageError(e, `lock ${path}`);
        }
      }
      heldLocks.add(full);
      let held = true;
      return {
        path: full,
        release(): void {
          if (!held) return;
          held = false;
          heldLocks.delete(full);
          try {
            if (fs.readFileSync(full, 'utf8').trim() === String(process.pid)) fs.unlinkSync(full);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw toStorageError(e, `unlock ${path}`);
          }
        },
      };
    },
  };
}
