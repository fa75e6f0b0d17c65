/**
 * In-memory storage with crash semantics, for simulations and tests.
 *
 * Every file keeps its durable bytes (as of its last flush) and its current bytes. `crash()` reverts every
 * file to its durable bytes; with `tear`, the last unflushed write of each file may survive partially (a
 * random prefix, drawn from the injected RandomSource; bytes between the durable end and that prefix read as
 * zeros). After a crash every previously opened handle throws StorageError('EBADF') and every lock is gone.
 *
 * Simplification (documented): directory entry changes (creations, removals, renames) are durable at once,
 * so `flushDir` only resolves. A file created but never flushed survives a crash empty. Renames are atomic.
 *
 * `usage()` reports the bytes held by current file contents against a capacity (`setCapacity`, default
 * 1 TiB); a write that would go past the capacity throws StorageError('ENOSPC').
 */

import type { Clock } from '../../core/clock.js';
import type { RandomSource } from '../../core/random.js';
import {
  StorageError,
  type StorageBackend,
  type StorageFile,
  type StorageLock,
  type StorageStat,
  type StorageUsage,
} from '../backend.js';

export interface MemoryStorage extends StorageBackend {
  readonly kind: 'memory';
  /** Simulated power loss: unflushed data is lost; with `tear` the last unflushed write may survive in part. */
  crash(opts?: { tear?: boolean }): void;
  /** Volume capacity reported by usage() and enforced on writes (ENOSPC). */
  setCapacity(totalBytes: number): void;
  /** Bytes of `path` that would survive a crash now (undefined when absent). */
  durableSize(path: string): number | undefined;
  /** Number of crashes so far. */
  readonly crashes: number;
}

const DEFAULT_CAPACITY = 1024 ** 4;

interface MemFile {
  cur: Uint8Array; // capacity >= len; bytes at and past len are zero
  len: number;
  durable: Uint8Array; // capacity >= durableLen
  durableLen: number;
  dirtyLo: number; // range of cur changed since the last flush (lo >= hi: clean)
  dirtyHi: number;
  lastWrite: { position: number; length: number } | undefined; // last unflushed write
  mtimeMs: number;
}

/** '/'-separated path to a canonical key ('' is the root); '.' and '..' resolved, leading '/' ignored. */
export function normalizePath(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

function parentOf(key: string): string {
  const i = key.lastIndexOf('/');
  return i < 0 ? '' : key.slice(0, i);
}

function grow(buf: Uint8Array, need: number): Uint8Array {
  if (need <= buf.length) return buf;
  let cap = Math.max(64, buf.length);
  while (cap < need) cap *= 2;
  const next = new Uint8Array(cap);
  next.set(buf);
  return next;
}

export function memoryStorage(deps: { clock: Clock; random: RandomSource }): MemoryStorage {
  const files = new Map<string, MemFile>();
  const dirs = new Set<string>(['']);
  const locks = new Set<string>();
  let epoch = 0;
  let capacity = DEFAULT_CAPACITY;
  let used = 0;
  let crashes = 0;

  const ensureDir = (key: string): void => {
    if (files.has(key)) throw new StorageError('EEXIST', `${key} is a file, not a directory`);
    let d = key;
    const missing: string[] = [];
    while (!dirs.has(d)) {
      if (files.has(d)) throw new StorageError('EEXIST', `${d} is a file, not a directory`);
      missing.push(d);
      d = parentOf(d);
    }
    for (const m of missing) dirs.add(m);
  };

  const setLen = (f: MemFile, len: number): void => {
    if (len > f.len) {
      if (used + (len - f.len) > capacity) {
        throw new StorageError('ENOSPC', `no space left (${used} of ${capacity} bytes used)`);
      }
      f.cur = grow(f.cur, len);
    } else if (len < f.len) {
      f.cur.fill(0, len, f.len);
    }
    used += len - f.len;
    f.len = len;
  };

  const makeHandle = (key: string, f: MemFile): StorageFile => {
    const myEpoch = epoch;
    let closed = false;
    const check = (): void => {
      if (closed) throw new StorageError('EBADF', `${key}: file handle is closed`);
      if (myEpoch !== epoch) throw new StorageError('EBADF', `${key}: file handle predates a crash`);
    };
    return {
      path: key,
      size(): number {
        check();
        return f.len;
      },
      write(position: number, data: Uint8Array): void {
        check();
        if (!Number.isInteger(position) || position < 0) throw new StorageError('EOTHER', `${key}: bad position ${position}`);
        const end = position + data.length;
        if (end > f.len) setLen(f, end);
        f.cur.set(data, position);
        f.dirtyLo = Math.min(f.dirtyLo, position);
        f.dirtyHi = Math.max(f.dirtyHi, end);
        f.lastWrite = { position, length: data.length };
        f.mtimeMs = deps.clock.now();
      },
      read(position: number, length: number, into?: Uint8Array): Uint8Array {
        check();
        if (!Number.isInteger(position) || position < 0 || length < 0) {
          throw new StorageError('EOTHER', `${key}: bad read ${position}+${length}`);
        }
        const end = Math.min(f.len, position + length);
        if (end <= position) return new Uint8Array(0);
        if (into === undefined || into.length < end - position) return f.cur.slice(position, end);
        into.set(f.cur.subarray(position, end));
        return into.subarray(0, end - position);
      },
      flush(): Promise<void> {
        try {
          check();
        } catch (e) {
          return Promise.reject(e);
        }
        f.durable = grow(f.durable, f.len);
        if (f.dirtyLo < f.dirtyHi) {
          const hi = Math.min(f.dirtyHi, f.len);
          if (f.dirtyLo < hi) f.durable.set(f.cur.subarray(f.dirtyLo, hi), f.dirtyLo);
        }
        if (f.len < f.durableLen) f.durable.fill(0, f.len, f.durableLen);
        f.durableLen = f.len;
        f.dirtyLo = Number.MAX_SAFE_INTEGER;
        f.dirtyHi = 0;
        f.lastWrite = undefined;
        return Promise.resolve();
      },
      truncate(size: number): void {
        check();
        if (!Number.isInteger(size) || size < 0) throw new StorageError('EOTHER', `${key}: bad truncate size ${size}`);
        setLen(f, size);
        f.dirtyLo = Math.min(f.dirtyLo, size);
        f.dirtyHi = Math.max(f.dirtyHi, size);
        f.lastWrite = undefined;
        f.mtimeMs = deps.clock.now();
      },
      close(): void {
        closed = true;
      },
    };
  };

  const newFile = (): MemFile => ({
    cur: new Uint8Array(0),
    len: 0,
    durable: new Uint8Array(0),
    durableLen: 0,
    dirtyLo: Number.MAX_SAFE_INTEGER,
    dirtyHi: 0,
    lastWrite: undefined,
    mtimeMs: deps.clock.now(),
  });

  const backend: MemoryStorage = {
    kind: 'memory',
    get crashes() {
      return crashes;
    },

    open(path, opts) {
      const key = normalizePath(path);
      if (key === '' || dirs.has(key)) throw new StorageError('EOTHER', `${path} is a directory`);
      let f = files.get(key);
      if (f === undefined) {
        if (opts?.create === false) throw new StorageError('ENOENT', `${path}: no such file`);
        ensureDir(parentOf(key));
        f = newFile();
        files.set(key, f);
      }
      return makeHandle(key, f);
    },

    list(dir) {
      const key = normalizePath(dir);
      if (!dirs.has(key)) return [];
      const prefix = key === '' ? '' : key + '/';
      const names = new Set<string>();
      const collect = (k: string): void => {
        if (k.startsWith(prefix) && k.length > prefix.length) {
          const rest = k.slice(prefix.length);
          if (!rest.includes('/')) names.add(rest);
        }
      };
      for (const k of files.keys()) collect(k);
      for (const k of dirs) collect(k);
      return [...names].sort();
    },

    stat(path): StorageStat | undefined {
      const key = normalizePath(path);
      const f = files.get(key);
      if (f !== undefined) return { size: f.len, mtimeMs: f.mtimeMs, isDirectory: false };
      if (dirs.has(key)) return { size: 0, mtimeMs: 0, isDirectory: true };
      return undefined;
    },

    exists(path) {
      const key = normalizePath(path);
      return files.has(key) || dirs.has(key);
    },

    mkdir(dir) {
      ensureDir(normalizePath(dir));
    },

    remove(path) {
      const key = normalizePath(path);
      const f = files.get(key);
      if (f !== undefined) {
        used -= f.len;
        files.delete(key);
        return;
      }
      if (!dirs.has(key)) return;
      const prefix = key === '' ? '' : key + '/';
      for (const [k, g] of [...files]) {
        if (k.startsWith(prefix)) {
          used -= g.len;
          files.delete(k);
        }
      }
      for (const d of [...dirs]) if (d.startsWith(prefix)) dirs.delete(d);
      if (key !== '') dirs.delete(key);
      dirs.add('');
    },

    rename(from, to) {
      const a = normalizePath(from);
      const b = normalizePath(to);
      if (a === b) return;
      const f = files.get(a);
      if (f !== undefined) {
        if (dirs.has(b)) throw new StorageError('EEXIST', `rename ${from} -> ${to}: target is a directory`);
        ensureDir(parentOf(b));
        const old = files.get(b);
        if (old !== undefined) used -= old.len;
        files.delete(a);
        files.set(b, f);
        return;
      }
      if (!dirs.has(a)) throw new StorageError('ENOENT', `rename ${from}: no such file or directory`);
      if (files.has(b) || (dirs.has(b) && backend.list(to).length > 0)) {
        throw new StorageError('EEXIST', `rename ${from} -> ${to}: target exists`);
      }
      if (b.startsWith(a + '/')) throw new StorageError('EOTHER', `rename ${from} -> ${to}: into itself`);
      ensureDir(parentOf(b));
      const pa = a + '/';
      for (const [k, g] of [...files]) {
        if (k.startsWith(pa)) {
          files.delete(k);
          files.set(b + '/' + k.slice(pa.length), g);
        }
      }
      for (const d of [...dirs]) {
        if (d === a || d.startsWith(pa)) {
          dirs.delete(d);
          dirs.add(b + d.slice(a.length));
        }
      }
    },

    flushDir() {
      return Promise.resolve();
    },

    usage(): StorageUsage {
      return { usedBytes: used, totalBytes: capacity };
    },

    lock(path): StorageLock {
      const key = normalizePath(path);
      if (locks.has(key)) throw new StorageError('ELOCKED', `${path} is locked by another owner in this process`);
      locks.add(key);
      const myEpoch = epoch;
      let held = true;
      return {
        path: key,
        release(): void {
          if (!held) return;
          held = false;
          if (myEpoch === epoch) locks.delete(key);
        },
      };
    },

    crash(opts) {
      crashes++;
      epoch++;
      locks.clear();
      for (const f of files.values()) {
        let tornPos = 0;
        let torn: Uint8Array | undefined;
        if (opts?.tear === true && f.lastWrite !== undefined && f.lastWrite.length > 0) {
          const keep = deps.random.int(f.lastWrite.length + 1);
          if (keep > 0) {
            tornPos = f.lastWrite.position;
            torn = f.cur.slice(tornPos, tornPos + keep);
          }
        }
        const len = Math.max(f.durableLen, torn === undefined ? 0 : tornPos + torn.length);
        const cur = new Uint8Array(Math.max(64, len));
        cur.set(f.durable.subarray(0, f.durableLen));
        if (torn !== undefined) cur.set(torn, tornPos);
        used += len - f.len;
        f.cur = cur;
        f.len = len;
        // What survived is what is on the platter now.
        f.durable = cur.slice(0, len);
        f.durableLen = len;
        f.dirtyLo = Number.MAX_SAFE_INTEGER;
        f.dirtyHi = 0;
        f.lastWrite = undefined;
      }
    },

    setCapacity(totalBytes) {
      capacity = totalBytes;
    },

    durableSize(path) {
      return files.get(normalizePath(path))?.durableLen;
    },
  };
  return backend;
}
