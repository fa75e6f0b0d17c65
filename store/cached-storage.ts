/**
 * A bounded cache of open files above a storage backend: the store opens every file through it, and at most
 * `maxOpenFiles` handles stay open (least recently used closed first), a handle idle `idleCloseMs` on the
 * injected clock is closed, and a file whose handle was closed is opened again on its next use, so the store's
 * writers and readers see the same StorageFile behaviour as before. It sits above the backend, not in the disk
 * backend, so that the memory backend (simulations, crash tests) runs the same eviction, reopening and flushing.
 *
 * What a close must not lose:
 * - Written, unflushed data: a handle with writes no flush has covered is not closed but retired: its flush is
 *   started and it is closed when the flush ends. A flush of the file (the store's) waits for the retirements
 *   under way and fails with theirs; after a failed one, the next flush reopens the file and flushes it again.
 *   While retirements are under way, their handles are open beyond the limit (see `stats().retiring`), at most
 *   `maxRetiring` of them: past that (a burst that writes more files than both in one turn, such as a dispatch
 *   run over thousands of queues) a handle with unflushed writes is closed at once and the file marked to be
 *   opened and fsynced by its next flush. Its written data stays in the page cache (an fsync covers the file's
 *   dirty pages whichever descriptor wrote them), and Linux reports a writeback error no descriptor has seen
 *   to one opened after it.
 * - Operations in flight: a flush or a prefetch holds a reference on its handle; a busy handle is never chosen,
 *   and one whose file is closed meanwhile is closed when the operation ends.
 * - Hot files: a handle the owner `hold`s (the commit log's active segment) stays open; it counts in the limit.
 *
 * A cache hit is a Map-free pointer move: the file object holds its handle and its place in the LRU order.
 * Directory flushes (each opens a directory) run at most `maxDirFlushes` at a time, file flushes at most
 * `maxFileFlushes` (the store's: a retirement's flush starts at once), so a flush of thousands of files (a
 * checkpoint over thousands of queues, or of a per-queue store's logs) holds a bounded number of handles.
 */

import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../core/clock.js';
import { StorageError, type StorageBackend, type StorageFile, type StorageLock, type StorageStat, type StorageUsage } from './backend.js';
import { HandleLru, type LruNode } from './handle-lru.js';

export const DEFAULT_MAX_OPEN_FILES = 1024;
export const DEFAULT_FILE_IDLE_CLOSE_MS = 60_000;
/** Directory flushes under way at once (each holds a directory open). */
export const DEFAULT_MAX_DIR_FLUSHES = 8;
/**
 * File flushes under way at once (each holds its handle open, over the limit if need be). Eight: the fsyncs run
 * on a thread pool of four, so more at once only hold more descriptors while they queue there.
 */
export const DEFAULT_MAX_FILE_FLUSHES = 8;

export interface HandleCacheOptions {
  /** Open file handles kept at most (default 1,024); at least 1. */
  maxOpenFiles?: number;
  /** A handle unused this long is closed (default 60 s; 0: never). */
  idleCloseMs?: number;
  maxDirFlushes?: number;
  maxFileFlushes?: number;
  /** Handles closing once their flush ends, at most (default: maxOpenFiles); past it, closed unflushed. */
  maxRetiring?: number;
  clock: Clock;
  /** Where failures no caller hears at once are told (a retirement's flush, a close). */
  logger?: Logger;
}

export interface HandleCacheStats {
  /** Handles open in the cache now. */
  open: number;
  /** Handles closing once their flush ends (over the limit while there are any). */
  retiring: number;
  /** Handles closed with unflushed writes because maxRetiring were retiring (each file's next flush fsyncs it). */
  closedUnflushed: number;
  /** Directories open for a flush now. */
  dirFlushes: number;
  /** Most handles open at once (open + retiring + dirFlushes). */
  peak: number;
  opened: number;
  reopened: number;
  evicted: number;
  retired: number;
  idleClosed: number;
}

export interface CachedStorage extends StorageBackend {
  readonly inner: StorageBackend;
  stats(): HandleCacheStats;
  /** Stops the idle timer and closes the handles still open; files used after it throw EBADF. */
  close(): void;
}

export class HandleCacheError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'HandleCacheError';
  }
}

function asStorageError(e: unknown, what: string): StorageError {
  return e instanceof StorageError ? e : new StorageError('EOTHER', `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** At most `max` operations under way at once; the others wait, in the order they asked, for a slot handed over. */
class Slots {
  used = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number) {}
  /** A slot now (true), or none: then `wait` for one. */
  take(): boolean {
    if (this.used >= this.max) return false;
    this.used++;
    return true;
  }
  wait(): Promise<void> {
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  /** An operation ended: its slot passes to the next waiting one. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.used--;
  }
}

interface Retirement {
  /** The flush's outcome: undefined, or the error (never rejects). */
  done: Promise<StorageError | undefined>;
  /** A flush of the file waits for it (and reports its failure). */
  watched: boolean;
}

/** One file as the store sees it; its handle comes and goes. */
class CachedFile implements StorageFile, LruNode {
  prev: LruNode | undefined = undefined;
  next: LruNode | undefined = undefined;
  linked = false;
  lastUse = 0;
  held = false;
  refs = 0;

  real: StorageFile | undefined;
  closed = false;
  /** Writes through the current handle, and how many of them a completed flush of it covered. */
  realWrites = 0;
  realFlushed = 0;
  /** The handle is to be closed when its in-flight operations end (the file was closed or evicted meanwhile). */
  closeWhenFree: StorageFile | undefined;
  /** Flushes of earlier handles under way (made when first needed: most files never have one). */
  retirements: Set<Retirement> | undefined;
  /** A retirement's flush failed and no flush of the file has reported it yet. */
  unreported: StorageError | undefined;
  /** A retirement's flush failed: the next flush opens the file and flushes it again. */
  resync = false;

  extend?: (size: number) => void;
  prefetch?: (position: number, length: number, done: (err: StorageError | undefined) => void) => void;

  constructor(
    private readonly cache: HandleCache,
    readonly path: string,
    real: StorageFile,
    readonly generation: number | undefined,
  ) {
    this.real = real;
    if (real.extend !== undefined) this.extend = (size) => this.extendFile(size);
    if (real.prefetch !== undefined) this.prefetch = (position, length, done) => this.prefetchFile(position, length, done);
  }

  get dirty(): boolean {
    return this.realWrites > this.realFlushed;
  }

  handle(op: string): StorageFile {
    if (this.closed) throw new StorageError('EBADF', `${op} ${this.path}: file handle is closed`);
    const r = this.real;
    if (r !== undefined) {
      this.cache.touch(this);
      return r;
    }
    return this.cache.reopen(this);
  }

  size(): number {
    return this.handle('size').size();
  }
  read(position: number, length: number, into?: Uint8Array): Uint8Array {
    return this.handle('read').read(position, length, into);
  }
  write(position: number, data: Uint8Array): void {
    const r = this.handle('write');
    this.realWrites++;
    r.write(position, data);
  }
  truncate(size: number): void {
    const r = this.handle('truncate');
    this.realWrites++;
    r.truncate(size);
  }
  private extendFile(size: number): void {
    const r = this.handle('extend');
    this.realWrites++;
    r.extend!(size);
  }
  private prefetchFile(position: number, length: number, done: (err: StorageError | undefined) => void): void {
    let r: StorageFile;
    try {
      r = this.handle('prefetch');
    } catch (e) {
      const err = asStorageError(e, `prefetch ${this.path}`);
      queueMicrotask(() => done(err));
      return;
    }
    this.refs++;
    r.prefetch!(position, length, (err) => {
      this.cache.release(this, r);
      done(err);
    });
  }

  hold(on: boolean): void {
    if (this.held === on) return;
    this.held = on;
    if (!on) this.cache.released(this);
  }

  async flush(): Promise<void> {
    if (this.closed) throw new StorageError('EBADF', `flush ${this.path}: file handle is closed`);
    const slots = this.cache.fileFlushes;
    if (!slots.take()) await slots.wait();
    const waits: Array<Promise<StorageError | undefined>> = [];
    let unreported: StorageError | undefined;
    let own: StorageError | undefined;
    try {
      if (this.closed) throw new StorageError('EBADF', `flush ${this.path}: file handle is closed`);
      for (const r of this.retirements ?? []) {
        r.watched = true;
        waits.push(r.done);
      }
      unreported = this.unreported;
      this.unreported = undefined;
      if (this.real !== undefined || this.resync) {
        const r = this.handle('flush');
        const target = this.realWrites;
        const resync = this.resync;
        this.refs++;
        try {
          await r.flush();
          if (this.real === r) this.realFlushed = Math.max(this.realFlushed, target);
          if (resync) this.resync = false;
        } catch (e) {
          own = asStorageError(e, `fsync ${this.path}`);
        } finally {
          this.cache.release(this, r);
        }
      }
    } finally {
      slots.release();
    }
    const outcomes = await Promise.all(waits);
    const err = unreported ?? outcomes.find((e) => e !== undefined) ?? own;
    if (err !== undefined) throw err;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cache.closeFile(this);
  }
}

class HandleCache implements CachedStorage {
  readonly kind: 'disk' | 'memory';
  private readonly lru = new HandleLru<CachedFile>();
  private readonly limit: number;
  private readonly idleMs: number;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private idleTimer: TimerHandle | undefined;
  private idleDue = Infinity;
  private closed = false;
  private retiring = 0;
  private readonly dirFlushes: Slots;
  /** File flushes under way (CachedFile.flush takes and releases them). */
  readonly fileFlushes: Slots;
  private readonly maxRetiring: number;
  private readonly counters = { peak: 0, opened: 0, reopened: 0, evicted: 0, retired: 0, closedUnflushed: 0, idleClosed: 0 };

  constructor(
    readonly inner: StorageBackend,
    opts: HandleCacheOptions,
  ) {
    this.kind = inner.kind;
    this.limit = opts.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES;
    if (!Number.isSafeInteger(this.limit) || this.limit < 1) throw new HandleCacheError(`maxOpenFiles must be a whole number of at least 1, got ${String(opts.maxOpenFiles)}`);
    this.idleMs = opts.idleCloseMs ?? DEFAULT_FILE_IDLE_CLOSE_MS;
    if (!Number.isFinite(this.idleMs) || this.idleMs < 0) throw new HandleCacheError(`fileIdleCloseMs must be at least 0, got ${String(opts.idleCloseMs)}`);
    this.dirFlushes = new Slots(opts.maxDirFlushes ?? DEFAULT_MAX_DIR_FLUSHES);
    this.fileFlushes = new Slots(opts.maxFileFlushes ?? DEFAULT_MAX_FILE_FLUSHES);
    this.maxRetiring = opts.maxRetiring ?? this.limit;
    this.clock = opts.clock;
    this.logger = opts.logger;
  }

  // ------------------------------------------------------------------------------------ the backend

  get crashes(): number | undefined {
    return this.inner.crashes;
  }

  open(path: string, opts?: { create?: boolean }): StorageFile {
    this.checkOpen(`open ${path}`);
    this.makeRoom();
    const real = this.inner.open(path, opts);
    const f = new CachedFile(this, path, real, this.inner.crashes);
    this.counters.opened++;
    this.admit(f);
    return f;
  }
  list(dir: string): string[] {
    return this.inner.list(dir);
  }
  stat(path: string): StorageStat | undefined {
    return this.inner.stat(path);
  }
  exists(path: string): boolean {
    return this.inner.exists(path);
  }
  mkdir(dir: string): void {
    this.inner.mkdir(dir);
  }
  remove(path: string): void {
    this.inner.remove(path);
  }
  rename(from: string, to: string): void {
    this.inner.rename(from, to);
  }
  async flushDir(dir: string): Promise<void> {
    if (!this.dirFlushes.take()) await this.dirFlushes.wait();
    this.notePeak();
    try {
      await this.inner.flushDir(dir);
    } finally {
      this.dirFlushes.release();
    }
  }

  usage(path: string): StorageUsage {
    return this.inner.usage(path);
  }
  lock(path: string): StorageLock {
    return this.inner.lock(path);
  }

  stats(): HandleCacheStats {
    return { open: this.lru.size, retiring: this.retiring, dirFlushes: this.dirFlushes.used, ...this.counters };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    for (const f of this.lru.toArray()) {
      if (f.refs > 0) continue; // closed when its operation ends
      this.evict(f);
    }
  }

  // ---------------------------------------------------------------------------- for the file objects

  touch(f: CachedFile): void {
    this.lru.use(f, this.clock.now());
  }

  /** Opens the file again for its next operation (its handle was closed to stay under the limit or idle). */
  reopen(f: CachedFile): StorageFile {
    this.checkOpen(`reopen ${f.path}`);
    if (f.generation !== this.inner.crashes) throw new StorageError('EBADF', `${f.path}: file handle predates a crash`);
    this.makeRoom();
    const real = this.inner.open(f.path, { create: false });
    f.real = real;
    f.realWrites = f.realFlushed = 0;
    this.counters.reopened++;
    this.admit(f);
    return real;
  }

  /** An operation on `real` ended (flush, prefetch): closes it if it was left to close, else the file is free again. */
  release(f: CachedFile, real: StorageFile): void {
    f.refs--;
    if (f.refs > 0) return;
    if (f.closeWhenFree === real) {
      f.closeWhenFree = undefined;
      this.closeHandle(f, real);
      return;
    }
    this.released(f);
  }

  /** `f` may be closable again (released or no longer held): back under the limit, and the idle timer. */
  released(f: CachedFile): void {
    if (this.closed) {
      if (f.real !== undefined && f.refs === 0) this.evict(f);
      return;
    }
    if (this.lru.size > this.limit) this.trim(undefined);
    this.scheduleIdle();
  }

  closeFile(f: CachedFile): void {
    const real = f.real;
    if (real === undefined) return;
    this.lru.remove(f);
    f.real = undefined;
    f.held = false;
    if (f.refs > 0) f.closeWhenFree = real;
    else this.closeHandle(f, real);
  }

  // ---------------------------------------------------------------------------------------- internals

  private checkOpen(what: string): void {
    if (this.closed) throw new StorageError('EBADF', `${what}: the store's files are closed`);
  }

  /** Before opening one more: closes what would put the cache over its limit with it. */
  private makeRoom(): void {
    if (this.lru.size >= this.limit) this.trim(undefined, this.limit - 1);
  }

  private admit(f: CachedFile): void {
    this.lru.use(f, this.clock.now());
    if (this.lru.size > this.limit) this.trim(f);
    this.notePeak();
    this.scheduleIdle();
  }

  private trim(except: CachedFile | undefined, limit = this.limit): void {
    for (const v of this.lru.victims(limit, except)) {
      this.counters.evicted++;
      this.evict(v);
    }
  }

  /** Closes `f`'s handle now, or once its flush ends when it holds unflushed writes. */
  private evict(f: CachedFile): void {
    const real = f.real;
    if (real === undefined) return;
    this.lru.remove(f);
    f.real = undefined;
    if (!f.dirty) this.closeHandle(f, real);
    else if (this.retiring < this.maxRetiring) this.retire(f, real);
    else {
      this.counters.closedUnflushed++;
      f.resync = true;
      this.closeHandle(f, real);
    }
  }

  private retire(f: CachedFile, real: StorageFile): void {
    this.retiring++;
    this.counters.retired++;
    this.notePeak();
    const r: Retirement = { watched: false, done: Promise.resolve(undefined) };
    r.done = real.flush().then(
      () => undefined,
      (e: unknown) => asStorageError(e, `fsync ${f.path}`),
    ).then((err) => {
      this.retiring--;
      f.retirements?.delete(r);
      this.closeHandle(f, real);
      if (err !== undefined) {
        f.resync = true;
        if (!r.watched) f.unreported = err;
        this.logger?.error({ err, path: f.path }, 'flush of a file closed by the handle cache failed; its next flush fails and tries again');
      }
      return err;
    });
    (f.retirements ??= new Set()).add(r);
  }

  private closeHandle(f: CachedFile, real: StorageFile): void {
    try {
      real.close();
    } catch (err) {
      // a handle with writes is closed once they were flushed, or marked for a resync: nothing is lost, but it is worth knowing
      this.logger?.error({ err, path: f.path }, 'closing a file failed');
    }
  }

  private notePeak(): void {
    const n = this.lru.size + this.retiring + this.dirFlushes.used;
    if (n > this.counters.peak) this.counters.peak = n;
  }

  private scheduleIdle(): void {
    if (this.idleMs <= 0 || this.closed) return;
    const oldest = this.lru.oldestClosableUse();
    if (oldest === undefined) return;
    const due = oldest + this.idleMs;
    if (this.idleTimer !== undefined && this.idleDue <= due) return;
    this.clock.clearTimeout(this.idleTimer);
    this.idleDue = due;
    this.idleTimer = this.clock.setTimeout(() => this.sweep(), Math.max(0, due - this.clock.now()));
  }

  private sweep(): void {
    this.idleTimer = undefined;
    this.idleDue = Infinity;
    if (this.closed) return;
    for (const f of this.lru.idleSince(this.clock.now() - this.idleMs)) {
      this.counters.idleClosed++;
      this.evict(f);
    }
    this.scheduleIdle();
  }
}

/** Wraps `inner` in a handle cache (see the file's comment). */
export function cachedStorage(inner: StorageBackend, opts: HandleCacheOptions): CachedStorage {
  return new HandleCache(inner, opts);
}
