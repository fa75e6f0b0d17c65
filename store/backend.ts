/**
 * The storage backend: the store's only door to files. `disk` is the real file system; `memory` keeps files
 * in memory with crash semantics (a simulated crash loses what was not flushed and may tear the last
 * unflushed write). Paths are '/'-separated; directories are created on demand by `open` and `mkdir`.
 *
 * Reads and writes are synchronous (positional, into the page cache or memory: microseconds per batch);
 * flush is the durability barrier and is asynchronous, so a commit log can keep accepting batches while a
 * flush is under way (group commit).
 */
export interface StorageFile {
  readonly path: string;
  /** Logical size, including writes not yet flushed. */
  size(): number;
  /** Writes `data` at `position` (may extend the file). Throws StorageError. */
  write(position: number, data: Uint8Array): void;
  /**
   * Reads up to `length` bytes at `position`; shorter at end of file. With `into` (at least as long as what there
   * is to read), they land there and a view of it comes back: nothing is allocated, for a caller that reads into
   * the same buffer again. Throws StorageError.
   */
  read(position: number, length: number, into?: Uint8Array): Uint8Array;
  /** Makes every write so far durable. Rejects with StorageError. */
  flush(): Promise<void>;
  /** Cuts the file to `size` bytes. */
  truncate(size: number): void;
  /**
   * Optional, with `prefetch`: makes the file `size` bytes long when it is shorter, the new part a hole (no
   * blocks, reads as zeros). Throws StorageError.
   */
  extend?(size: number): void;
  /**
   * Optional: reads [position, position + length) into the page cache off the calling thread, then calls
   * `done` (never before returning) with undefined or the StorageError. A log calls it on the hole ahead of its
   * writes, so that the memory they will land in is found by another thread, not by the writer.
   */
  prefetch?(position: number, length: number, done: (err: StorageError | undefined) => void): void;
  /**
   * Optional: a hint that the file is hot (the commit log's active segment): a handle cache
   * (store/cached-storage.ts) keeps it open while held instead of closing it when idle or least recently used.
   */
  hold?(on: boolean): void;
  close(): void;
}

export interface StorageStat {
  size: number;
  /** Last modification, ms since epoch (the Environment's clock for the memory backend). */
  mtimeMs: number;
  isDirectory: boolean;
}

export interface StorageUsage {
  usedBytes: number;
  totalBytes: number;
}

export interface StorageBackend {
  readonly kind: 'disk' | 'memory';
  /**
   * The memory backend's count of simulated crashes: a handle opened before one is stale, so a file opened
   * before it is not opened again after it (undefined for the disk backend).
   */
  readonly crashes?: number;
  /** Opens (creating it and its directories when `create` is not false) a file for positional I/O. */
  open(path: string, opts?: { create?: boolean }): StorageFile;
  /** Names (not paths) of the entries in a directory, sorted; [] when it does not exist. */
  list(dir: string): string[];
  stat(path: string): StorageStat | undefined;
  exists(path: string): boolean;
  mkdir(dir: string): void;
  /** Removes a file or a directory tree; no error when absent. */
  remove(path: string): void;
  /** Atomic replace of `to` by `from`. */
  rename(from: string, to: string): void;
  /** Makes directory entries (creations, renames, removals) under `dir` durable. */
  flushDir(dir: string): Promise<void>;
  /** Disk usage of the volume holding `path`. */
  usage(path: string): StorageUsage;
  /**
   * Takes the exclusive lock `path` (one broker per store directory). Throws StorageError('ELOCKED') naming
   * the holder when another live owner has it. A crashed owner never leaves it stuck: the disk backend takes
   * over a lock file whose pid is dead; the memory backend drops every lock on `crash()`.
   */
  lock(path: string): StorageLock;
}

/** A held lock; `release` is idempotent. */
export interface StorageLock {
  readonly path: string;
  release(): void;
}

export type StorageErrorCode = 'EIO' | 'ENOSPC' | 'ENOENT' | 'EEXIST' | 'EBADF' | 'ELOCKED' | 'ECORRUPT' | 'EOTHER';

/** A typed storage failure; `code` follows errno names where one fits. */
export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
    this.name = 'StorageError';
  }
}
