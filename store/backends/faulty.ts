/**
 * A fault-injecting wrapper around any backend: fail writes or flushes (EIO, ENOSPC) from a chosen point on,
 * hang flushes (a disk that stops answering fsync), fake the disk usage, count operations. Files opened through it obey the faults in force at each call.
 */

import {
  StorageError,
  type StorageBackend,
  type StorageFile,
  type StorageUsage,
} from '../backend.js';

/** What injected failures throw: a full disk, an I/O error, or any other storage failure. */
export type InjectedFault = 'EIO' | 'ENOSPC' | 'EOTHER';

export interface FaultyCounters {
  writes: number;
  bytesWritten: number;
  flushes: number;
  failedWrites: number;
  failedFlushes: number;
}

export interface FaultyStorage extends StorageBackend {
  readonly inner: StorageBackend;
  /**
   * From now on, after `after` (default 0) more successful writes, every write throws StorageError(code);
   * with `where`, only writes to the files whose path it accepts (the others neither fail nor count).
   */
  failWrites(code: InjectedFault, opts?: { after?: number; where?: (path: string) => boolean }): void;
  /** From now on, after `after` (default 0) more successful flushes (files and dirs), every flush rejects. */
  failFlushes(code: InjectedFault, opts?: { after?: number }): void;
  /** From now on every flush (files and dirs) waits, not started, until heal(). */
  hangFlushes(): void;
  /** Ends every injected failure (usage override included); hung flushes go ahead. */
  heal(): void;
  /** Fakes usage() (undefined: the inner backend's). */
  setUsage(usage: StorageUsage | undefined): void;
  readonly counters: Readonly<FaultyCounters>;
}

interface Rule {
  code: InjectedFault;
  left: number;
  where?: (path: string) => boolean;
}

export function faultyStorage(inner: StorageBackend): FaultyStorage {
  let writeRule: Rule | undefined;
  let flushRule: Rule | undefined;
  let fakeUsage: StorageUsage | undefined;
  /** Set while flushes hang: resolved by heal(). */
  let hang: { gate: Promise<void>; release: () => void } | undefined;
  const afterHang = (run: () => Promise<void>): Promise<void> => (hang === undefined ? run() : hang.gate.then(run));
  const counters: FaultyCounters = { writes: 0, bytesWritten: 0, flushes: 0, failedWrites: 0, failedFlushes: 0 };

  /** undefined when the operation may go ahead (consuming one allowance). */
  const trip = (rule: Rule | undefined): InjectedFault | undefined => {
    if (rule === undefined) return undefined;
    if (rule.left > 0) {
      rule.left--;
      return undefined;
    }
    return rule.code;
  };

  const flushGate = (what: string): StorageError | undefined => {
    const code = trip(flushRule);
    if (code === undefined) return undefined;
    counters.failedFlushes++;
    return new StorageError(code, `${what}: injected flush failure`);
  };

  const wrapFile = (f: StorageFile): StorageFile => ({
    path: f.path,
    size: () => f.size(),
    read: (position, length, into) => f.read(position, length, into),
    truncate: (size) => f.truncate(size),
    close: () => f.close(),
    ...(f.extend && f.prefetch ? { extend: f.extend.bind(f), prefetch: f.prefetch.bind(f) } : {}),
    write(position, data) {
      const code = writeRule?.where === undefined || writeRule.where(f.path) ? trip(writeRule) : undefined;
      if (code !== undefined) {
        counters.failedWrites++;
        throw new StorageError(code, `write ${f.path}: injected write failure`);
      }
      f.write(position, data);
      counters.writes++;
      counters.bytesWritten += data.length;
    },
    flush() {
      return afterHang(() => {
        const err = flushGate(`fsync ${f.path}`);
        if (err !== undefined) return Promise.reject(err);
        counters.flushes++;
        return f.flush();
      });
    },
  });

  return {
    get kind() {
      return inner.kind;
    },
    get crashes() {
      return inner.crashes;
    },
    inner,
    counters,
    open: (path, opts) => wrapFile(inner.open(path, opts)),
    list: (dir) => inner.list(dir),
    stat: (path) => inner.stat(path),
    exists: (path) => inner.exists(path),
    mkdir: (dir) => inner.mkdir(dir),
    remove: (path) => inner.remove(path),
    rename: (from, to) => inner.rename(from, to),
    flushDir(dir) {
      return afterHang(() => {
        const err = flushGate(`fsync dir ${dir}`);
        if (err !== undefined) return Promise.reject(err);
        counters.flushes++;
        return inner.flushDir(dir);
      });
    },
    usage: (path) => fakeUsage ?? inner.usage(path),
    lock: (path) => inner.lock(path),
    failWrites(code, opts) {
      writeRule = { code, left: opts?.after ?? 0, ...(opts?.where ? { where: opts.where } : {}) };
    },
    failFlushes(code, opts) {
      flushRule = { code, left: opts?.after ?? 0 };
    },
    hangFlushes() {
      if (hang !== undefined) return;
      let release = (): void => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      hang = { gate, release };
    },
    heal() {
      hang?.release();
      hang = undefined;
      writeRule = undefined;
      flushRule = undefined;
      fakeUsage = undefined;
    },
    setUsage(usage) {
      fakeUsage = usage;
    },
  };
}
