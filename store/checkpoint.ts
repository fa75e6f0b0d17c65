/**
 * The store checkpoint: the positions known flushed, and whether the last shutdown was clean. One small file
 * with a CRC, replaced atomically (temp file + flush + rename + flushDir).
 *
 * Layout (big-endian, 49 bytes): magic u32, version u8, commitLogFlushed u64, consumeQueueFlushed u64,
 * indexFlushed u64, timestamp u64, clean u8, reserved 7 bytes (zero), crc u32 over everything before it.
 */

import { StorageError, type StorageBackend } from './backend.js';
import { crc32Table } from './record.js';

export interface Checkpoint {
  commitLogFlushed: number;
  consumeQueueFlushed: number;
  indexFlushed: number;
  timestamp: number;
  clean: boolean;
}

const MAGIC = 0x434b5054; // "CKPT"
const VERSION = 1;
export const CHECKPOINT_SIZE = 4 + 1 + 8 * 4 + 1 + 7 + 4;
const TWO_32 = 0x100000000;

/** How much longer the next checkpoint waits per consume queue the last one flushed, and the most it waits. */
const MS_PER_FLUSHED_QUEUE = 1;
const MAX_CHECKPOINT_DELAY_MS = 10_000;

/**
 * The time from indexing to the next checkpoint: `everyMs`, stretched by 1 ms per consume queue the last one
 * flushed (at most 10 s, never below `everyMs`). A checkpoint makes one write-out and one fsync per written queue:
 * over 8,000 queues that took about 650 ms of CPU (most of it in the kernel), every second; stretched, its cost per
 * second stays near a tenth of a core however many queues there are, and recovery indexes at most the last 10 s of
 * the commit log again.
 */
export function checkpointDelayMs(everyMs: number, queuesFlushed: number): number {
  return Math.max(everyMs, Math.min(MAX_CHECKPOINT_DELAY_MS, queuesFlushed * MS_PER_FLUSHED_QUEUE));
}

export function encodeCheckpoint(cp: Checkpoint): Uint8Array {
  const buf = new Uint8Array(CHECKPOINT_SIZE);
  const view = new DataView(buf.buffer);
  view.setUint32(0, MAGIC);
  view.setUint8(4, VERSION);
  const fields = [cp.commitLogFlushed, cp.consumeQueueFlushed, cp.indexFlushed, cp.timestamp];
  fields.forEach((v, i) => {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`checkpoint field ${i} is ${v}, not a safe u64`);
    view.setUint32(5 + i * 8, Math.floor(v / TWO_32));
    view.setUint32(9 + i * 8, v % TWO_32);
  });
  view.setUint8(37, cp.clean ? 1 : 0);
  view.setUint32(CHECKPOINT_SIZE - 4, crc32Table(buf, 0, CHECKPOINT_SIZE - 4));
  return buf;
}

/** Throws StorageError('ECORRUPT') when the bytes are not a valid checkpoint. */
export function decodeCheckpoint(buf: Uint8Array, path = 'checkpoint'): Checkpoint {
  const corrupt = (why: string) => new StorageError('ECORRUPT', `${path}: corrupt checkpoint (${why})`);
  if (buf.length !== CHECKPOINT_SIZE) throw corrupt(`${buf.length} bytes, expected ${CHECKPOINT_SIZE}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  if (view.getUint32(CHECKPOINT_SIZE - 4) !== crc32Table(buf, 0, CHECKPOINT_SIZE - 4)) throw corrupt('CRC mismatch');
  if (view.getUint32(0) !== MAGIC) throw corrupt('bad magic');
  if (view.getUint8(4) !== VERSION) throw corrupt(`unknown version ${view.getUint8(4)}`);
  const u64 = (at: number): number => {
    const hi = view.getUint32(at);
    if (hi > 0x1fffff) throw corrupt('offset beyond 2^53');
    return hi * TWO_32 + view.getUint32(at + 4);
  };
  const clean = view.getUint8(37);
  if (clean > 1) throw corrupt('bad clean flag');
  return {
    commitLogFlushed: u64(5),
    consumeQueueFlushed: u64(13),
    indexFlushed: u64(21),
    timestamp: u64(29),
    clean: clean === 1,
  };
}

function parentDir(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '.' : i === 0 ? '/' : path.slice(0, i);
}

const pending = new WeakMap<StorageBackend, Map<string, Promise<void>>>();

/**
 * Writes bytes to `path` atomically and durably: temp file, write, flush, rename, flushDir. Writes to one path
 * through one backend run one after another (they share the temp file).
 */
export function writeFileAtomic(backend: StorageBackend, path: string, data: Uint8Array): Promise<void> {
  let byPath = pending.get(backend);
  if (byPath === undefined) pending.set(backend, (byPath = new Map()));
  const prev = byPath.get(path) ?? Promise.resolve();
  const run = (): Promise<void> => writeNow(backend, path, data);
  const p = prev.then(run, run);
  const tail = p.then(
    () => undefined,
    () => undefined,
  );
  byPath.set(path, tail);
  void tail.then(() => {
    if (byPath.get(path) === tail) byPath.delete(path);
  });
  return p;
}

async function writeNow(backend: StorageBackend, path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  backend.remove(tmp);
  const f = backend.open(tmp);
  try {
    f.write(0, data);
    await f.flush();
  } finally {
    f.close();
  }
  backend.rename(tmp, path);
  await backend.flushDir(parentDir(path));
}

export async function writeCheckpoint(backend: StorageBackend, path: string, cp: Checkpoint): Promise<void> {
  await writeFileAtomic(backend, path, encodeCheckpoint(cp));
}

/** undefined when absent; StorageError('ECORRUPT') when present but invalid. */
export function readCheckpoint(backend: StorageBackend, path: string): Checkpoint | undefined {
  if (!backend.exists(path)) return undefined;
  const f = backend.open(path, { create: false });
  try {
    return decodeCheckpoint(f.read(0, CHECKPOINT_SIZE + 1), path);
  } finally {
    f.close();
  }
}
