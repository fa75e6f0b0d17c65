import type { Logger } from 'pino';
import { StorageError, type StorageBackend, type StorageLock } from './backend.js';
import { queueKeyOf } from './commit-log-batch.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { ConsumeQueueSet } from './consume-queue.js';
import { Dispatcher } from './dispatcher.js';
import { KeyIndex } from './key-index.js';
import { RecordLayout } from '../core/record-layout.js';
import { decodeRecord, encodeEndOfSegment } from './record.js';
import { SegmentedLog } from './segmented-log.js';

/**
 * The store's view of the checkpoint: `dispatched` (commit log bytes below it are indexed, their consume
 * queue and index entries flushed) is kept in the checkpoint's consumeQueueFlushed and indexFlushed.
 */
export interface StoreCheckpoint {
  clean: boolean;
  commitLogFlushed: number;
  dispatched: number;
  timestamp: number;
}

export function checkpointPath(storeDir: string): string {
  return `${storeDir}/checkpoint`;
}

/** Reads the checkpoint; undefined when absent or corrupt (recovery then scans the whole commit log). */
export function readStoreCheckpoint(storage: StorageBackend, storeDir: string, logger?: Logger): StoreCheckpoint | undefined {
  try {
    const cp = readCheckpoint(storage, checkpointPath(storeDir));
    if (!cp) return undefined;
    return { clean: cp.clean, commitLogFlushed: cp.commitLogFlushed, dispatched: Math.min(cp.consumeQueueFlushed, cp.indexFlushed), timestamp: cp.timestamp };
  } catch (err) {
    if (!(err instanceof StorageError)) throw err;
    logger?.warn({ err }, 'unreadable checkpoint: recovering from the start of the commit log');
    return undefined;
  }
}

/** Writes the checkpoint durably and atomically. */
export function writeStoreCheckpoint(storage: StorageBackend, storeDir: string, cp: StoreCheckpoint): Promise<void> {
  return writeCheckpoint(storage, checkpointPath(storeDir), {
    clean: cp.clean,
    commitLogFlushed: cp.commitLogFlushed,
    consumeQueueFlushed: cp.dispatched,
    indexFlushed: cp.dispatched,
    timestamp: cp.timestamp,
  });
}

/**
 * Scans the commit log from `from` (a segment start) and returns where valid data ends: the first corrupt or
 * incomplete record, or the end of the data. End-of-segment markers (and fewer than 8 bytes left) move on to
 * the next segment.
 */
export function scanCommitLog(log: SegmentedLog, from: number, chunkBytes = 1024 * 1024): number {
  const seg = log.segmentSize;
  let pos = from;
  const end = log.writeOffset;
  while (pos < end) {
    const segEnd = log.segmentStart(pos) + seg;
    if (segEnd - pos < RecordLayout.EndOfSegmentMin) {
      pos = segEnd;
      continue;
    }
    let buf = log.read(pos, chunkBytes);
    if (buf.length === 0) return pos;
    let p = 0;
    for (;;) {
      if (segEnd - (pos + p) < RecordLayout.EndOfSegmentMin && pos + p < end) {
        pos = segEnd; // fewer than 8 bytes left: the segment ends here
        break;
      }
      const d = decodeRecord(buf, p);
      if (d.kind === 'record') {
        p += d.size;
        continue;
      }
      if (d.kind === 'end-of-segment') {
        if (pos + p + d.size !== segEnd) return pos + p; // a marker must fill its segment exactly
        pos = segEnd;
        break;
      }
      if (d.kind === 'incomplete' && p === 0 && buf.length >= 4) {
        const size = new DataView(buf.buffer, buf.byteOffset, 4).getUint32(0);
        if (size > buf.length && pos + size <= segEnd) {
          const more = log.read(pos, size);
          if (more.length === size) {
            buf = more;
            continue;
          }
        }
        return pos;
      }
      if (d.kind === 'incomplete' && p > 0 && buf.length === chunkBytes) {
        pos += p; // read on from here
        break;
      }
      return pos + p; // corrupt, or incomplete at the end of the data
    }
  }
  return Math.min(pos, end);
}

export interface RecoveryOptions {
  storage: StorageBackend;
  dir: string;
  logger: Logger;
  segmentSize: number;
  /** Commit log page cache warming (SegmentedLog's warmAheadBytes). */
  warmAheadBytes?: number;
  consumeQueueEntriesPerFile: number;
  indexEntriesPerFile: number;
  now: () => number;
}

export interface Recovered {
  lock: StorageLock;
  log: SegmentedLog;
  queues: ConsumeQueueSet;
  index: KeyIndex;
  dispatcher: Dispatcher;
  queueOffsets: Map<string, number>;
  /** True when the last shutdown was clean and the quick path was taken. */
  clean: boolean;
  /** Bytes cut from the commit log's torn tail. */
  truncatedBytes: number;
  /** Records re-indexed. */
  redispatched: number;
}

/**
 * Opens a store directory after a clean shutdown or a crash: takes the lock, reads the checkpoint, finds
 * where valid commit log data ends (scanning from the checkpoint's flushed segment; every record's CRC is
 * checked), cuts the torn tail, cuts consume queue and index entries at the checkpoint's indexed position
 * and re-indexes everything after it, then rebuilds each queue's next offset from its consume queue.
 */
export async function recoverStore(o: RecoveryOptions): Promise<Recovered> {
  o.storage.mkdir(o.dir);
  const lock = o.storage.lock(`${o.dir}/lock`);
  try {
    const cp = readStoreCheckpoint(o.storage, o.dir, o.logger);
    const log = SegmentedLog.open(o.storage, `${o.dir}/commitlog`, { segmentSize: o.segmentSize, endMarker: encodeEndOfSegment, warmAheadBytes: o.warmAheadBytes ?? 0 });
    log.onWarmFailed = (err) => o.logger.warn({ err }, 'commit log: warming the page cache failed; writes go on without it');
    const written = log.writeOffset;
    const clean = cp !== undefined && cp.clean && cp.commitLogFlushed === written && cp.dispatched === written;
    let end = written;
    if (!clean) {
      const from = Math.max(log.minOffset, log.segmentStart(Math.min(cp?.commitLogFlushed ?? 0, written)));
      end = scanCommitLog(log, from);
    }
    if (end !== written || !clean) log.setWriteOffset(end);
    const truncatedBytes = written - end;
    if (truncatedBytes > 0) o.logger.warn({ end, truncatedBytes }, 'commit log: cut a torn tail');

    const queues = new ConsumeQueueSet(o.storage, o.dir, o.consumeQueueEntriesPerFile);
    queues.loadAll();
    const index = KeyIndex.open(o.storage, o.dir, o.indexEntriesPerFile);
    const dispatchFrom = Math.max(log.minOffset, Math.min(cp?.dispatched ?? 0, end));
    if (!clean) {
      for (const cq of queues.all()) cq.truncateFrom(dispatchFrom);
      index.truncateFrom(dispatchFrom);
    }
    const dispatcher = new Dispatcher({ log, queues, index, logger: o.logger, from: dispatchFrom });
    const redispatched = dispatcher.dispatchUpTo(end);

    const queueOffsets = new Map<string, number>();
    for (const cq of queues.all()) queueOffsets.set(queueKeyOf(cq.topic, cq.queueId), cq.maxOffset);

    // What recovery found is now the durable base; mark the store open (not clean) until the next close.
    await log.flush();
    await queues.flush();
    await index.flush();
    await writeStoreCheckpoint(o.storage, o.dir, { clean: false, commitLogFlushed: end, dispatched: end, timestamp: o.now() });
    if (!clean) o.logger.info({ end, dispatchFrom, redispatched, truncatedBytes }, 'store recovered after an unclean shutdown');
    return { lock, log, queues, index, dispatcher, queueOffsets, clean, truncatedBytes, redispatched };
  } catch (err) {
    lock.release();
    if (err instanceof StorageError) throw err;
    throw err;
  }
}
