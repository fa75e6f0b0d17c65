import type { Logger } from 'pino';
import { StorageError, type StorageBackend, type StorageLock } from './backend.js';
import { parseQueueKey, queueKeyOf } from './commit-log-batch.js';
import { readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { CQ_ENTRY_SIZE, cqOffsetAt, cqSizeAt, ConsumeQueueSet, type ConsumeQueue } from './consume-queue.js';
import type { CorruptRange } from './corrupt-ranges.js';
import { createDirs } from './dirty-files.js';
import { Dispatcher, type DispatcherOptions } from './dispatcher.js';
import { KeyIndex } from './key-index.js';
import { RecordLayout } from '../core/record-layout.js';
import { scanLog, type LostRecordHint } from './log-scan.js';
import { encodeEndOfSegment } from './record.js';
import { SegmentedLog } from './segmented-log.js';
import { QueueReservations, RESERVATIONS_FILE } from './queue-reservations.js';

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

/** Where valid commit log data ends when scanned from `from` (see scanLog: corrupt records are skipped, not cut). */
export function scanCommitLog(log: SegmentedLog, from: number, chunkBytes = 1024 * 1024): number {
  return scanLog(log, from, { chunkBytes }).end;
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
  /** How the live dispatcher waits out storage failures, and who hears of its state (DispatcherOptions). */
  dispatch?: Pick<DispatcherOptions, 'retry' | 'onChange' | 'clock' | 'maxBytesPerRun'>;
  /**
   * Visibility 'written': the queue offset reservations journal is kept and returned. Either way, after a crash
   * every queue moves to at least its reservation (a run with visibility 'written' may have served up to it);
   * without it the journal is then removed.
   */
  reservations?: boolean;
  /** Whether to take the directory's lock (default true; a per-queue store's logs share their parent's). */
  lock?: boolean;
  /** SegmentedLog's tailCacheBytes and holdActive. */
  tailCacheBytes?: number;
  holdActive?: boolean;
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
  /** Corrupt ranges the scan found and skipped (their records are lost; the log's write position is past them). */
  corrupt: CorruptRange[];
  /** Records below this commit log offset were not CRC-checked by this recovery (reads check theirs). */
  checkedFrom: number;
  /** Records re-indexed. */
  redispatched: number;
  /** The reservations journal as read, when asked for (RecoveryOptions.reservations). */
  reservations?: ReturnType<typeof QueueReservations.read>;
  /** Queues recovery moved up to their reservation (numbers a run may have served, their messages lost). */
  reservedQueues: number;
}

/** The one of the ascending, disjoint `ranges` that holds `off`. */
function rangeOf(ranges: readonly CorruptRange[], off: number): CorruptRange | undefined {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (off < r.from) hi = mid - 1;
    else if (off >= r.to) lo = mid + 1;
    else return r;
  }
  return undefined;
}

/**
 * A queue's next offset that keeps the numbers of its lost records unused, and where they were lost: the
 * last byte of their range, never 0, which the blank entries that hold the numbers keep (see markLost).
 */
interface LostTail {
  next: number;
  at: number;
}

/**
 * The entries recovery is about to cut (those at or after `from`) that point into a lost range: the queue
 * offset after the last of them, or undefined. Blank entries that recorded an earlier loss count too.
 */
function lostTailOf(cq: ConsumeQueue, from: number, lost: readonly CorruptRange[]): LostTail | undefined {
  for (let end = cq.maxOffset; end > cq.minOffset; ) {
    const start = Math.max(cq.minOffset, end - 1024);
    const bytes = cq.readBytes(start, end - start);
    for (let i = end - start - 1; i >= 0; i--) {
      const off = cqOffsetAt(bytes, i * CQ_ENTRY_SIZE);
      const size = cqSizeAt(bytes, i * CQ_ENTRY_SIZE);
      if (size === 0 && off === 0) continue; // a blank that fills a hole
      if (size > 0 ? off + size <= from : off < from) return undefined;
      const r = rangeOf(lost, off);
      if (r !== undefined) return { next: start + i + 1, at: r.to - 1 };
    }
    end = start;
  }
  return undefined;
}

/**
 * Keeps the queue offsets of lost records unused: a queue whose last records were lost (no intact record of
 * it follows) would otherwise hand their numbers to new messages. What is known of them: the consume queue
 * entries recovery cut (`tails`), and the header of a lost record whose CRC failed (a hint, trusted only
 * within the number of records the lost bytes could hold).
 */
function keepLostQueueOffsets(queues: ConsumeQueueSet, tails: ReadonlyMap<ConsumeQueue, LostTail>, hints: readonly LostRecordHint[], lost: readonly CorruptRange[]): void {
  const need = new Map(tails);
  const lostBytes = lost.reduce((n, r) => n + (r.to - r.from), 0);
  const maxLostRecords = Math.ceil(lostBytes / RecordLayout.FixedSize);
  for (const h of hints) {
    const cq = queues.get(h.topic, h.queueId, false);
    if (cq === undefined || h.queueOffset < cq.maxOffset || h.queueOffset >= cq.maxOffset + maxLostRecords) continue;
    const had = need.get(cq);
    if (had === undefined || had.next <= h.queueOffset) need.set(cq, { next: h.queueOffset + 1, at: (rangeOf(lost, h.at)?.to ?? h.at + 1) - 1 });
  }
  for (const [cq, t] of need) cq.markLost(t.next, t.at);
}

/**
 * After a crash: each queue whose reservation is past its recovered end moves there, the numbers between blank (a
 * run that served written data may have shown them; their messages were lost with the unflushed tail). The blanks
 * remember `end` as lost records do (ConsumeQueue.markLost). Returns the number of queues moved.
 */
function skipToReservations(queues: ConsumeQueueSet, reserved: ReadonlyMap<string, number>, end: number): number {
  let moved = 0;
  for (const [key, next] of reserved) {
    const { topic, queueId } = parseQueueKey(key);
    if (!Number.isSafeInteger(queueId) || queueId < 0) continue;
    const cq = queues.get(topic, queueId)!;
    if (cq.maxOffset >= next) continue;
    cq.markLost(next, Math.max(1, end));
    moved++;
  }
  return moved;
}

/**
 * Opens a store directory after a clean shutdown or a crash: takes the lock, reads the checkpoint, scans the
 * commit log from the checkpoint's flushed (or indexed, if earlier) segment checking every record's CRC (see
 * scanLog: a corrupt record is skipped up to the next intact one and reported, the torn tail cut), cuts
 * consume queue and index entries at the checkpoint's indexed position (or the first corrupt range, if
 * earlier) and re-indexes everything after it, skipping the corrupt ranges, then rebuilds each queue's next
 * offset from its consume queue (past the numbers of lost records).
 */
export async function recoverStore(o: RecoveryOptions): Promise<Recovered> {
  // directories created here become durable with the first flushes below (deepest first)
  const newParents = createDirs(o.storage, o.dir);
  const lock = o.lock === false ? { path: `${o.dir}/lock`, release: () => undefined } : o.storage.lock(`${o.dir}/lock`);
  try {
    const cp = readStoreCheckpoint(o.storage, o.dir, o.logger);
    newParents.unshift(...createDirs(o.storage, `${o.dir}/commitlog`));
    const log = SegmentedLog.open(o.storage, `${o.dir}/commitlog`, { segmentSize: o.segmentSize, endMarker: encodeEndOfSegment, warmAheadBytes: o.warmAheadBytes ?? 0, stageWrites: true, ...(o.tailCacheBytes !== undefined ? { tailCacheBytes: o.tailCacheBytes } : {}), ...(o.holdActive !== undefined ? { holdActive: o.holdActive } : {}) });
    log.onWarmFailed = (err) => o.logger.warn({ err }, 'commit log: warming the page cache failed; writes go on without it');
    const written = log.writeOffset;
    const clean = cp !== undefined && cp.clean && cp.commitLogFlushed === written && cp.dispatched === written;
    let end = written;
    let corrupt: CorruptRange[] = [];
    let hints: LostRecordHint[] = [];
    let checkedFrom = written;
    if (!clean) {
      // the dispatcher re-reads from the indexed position: the scan covers that too
      checkedFrom = Math.max(log.minOffset, log.segmentStart(Math.min(cp?.commitLogFlushed ?? 0, cp?.dispatched ?? 0, written)));
      const scan = scanLog(log, checkedFrom, { durableTo: cp?.commitLogFlushed ?? 0 });
      end = scan.end;
      corrupt = scan.lost;
      hints = scan.hints;
    }
    if (end !== written || !clean) log.setWriteOffset(end);
    const truncatedBytes = written - end;
    for (const r of corrupt) {
      o.logger.error({ segment: r.segment, from: r.from, to: r.to, bytes: r.to - r.from, reason: r.reason }, 'commit log: corrupt data skipped; the records in this range are lost, those after it kept');
    }
    if (truncatedBytes > 0) o.logger.warn({ end, truncatedBytes }, 'commit log: cut a torn tail');

    const queues = new ConsumeQueueSet(o.storage, o.dir, o.consumeQueueEntriesPerFile);
    queues.loadAll();
    const index = KeyIndex.open(o.storage, o.dir, o.indexEntriesPerFile);
    const dispatchFrom = Math.max(log.minOffset, Math.min(cp?.dispatched ?? 0, end, corrupt[0]?.from ?? end));
    const tails = new Map<ConsumeQueue, LostTail>();
    if (!clean) {
      for (const cq of queues.all()) {
        const t = corrupt.length > 0 ? lostTailOf(cq, dispatchFrom, corrupt) : undefined;
        if (t !== undefined) tails.set(cq, t);
        cq.truncateFrom(dispatchFrom);
      }
      index.truncateFrom(dispatchFrom);
    }
    const dispatcher = new Dispatcher({ log, queues, index, logger: o.logger, from: dispatchFrom, skip: corrupt, ...o.dispatch });
    const redispatched = dispatcher.dispatchUpTo(end);
    if (corrupt.length > 0) keepLostQueueOffsets(queues, tails, hints, corrupt);
    const journal = QueueReservations.read(o.storage, o.dir);
    const reservedQueues = clean ? 0 : skipToReservations(queues, journal.reserved, end);

    const queueOffsets = new Map<string, number>();
    for (const cq of queues.all()) queueOffsets.set(queueKeyOf(cq.topic, cq.queueId), cq.maxOffset);

    // What recovery found is now the durable base; mark the store open (not clean) until the next close.
    await log.flush();
    await queues.flush();
    await index.flush();
    for (const d of newParents) await o.storage.flushDir(d);
    await writeStoreCheckpoint(o.storage, o.dir, { clean: false, commitLogFlushed: end, dispatched: end, timestamp: o.now() });
    if (!o.reservations && journal.size > 0) {
      o.storage.remove(`${o.dir}/${RESERVATIONS_FILE}`);
      await o.storage.flushDir(o.dir);
    }
    if (!clean) o.logger.info({ end, dispatchFrom, redispatched, truncatedBytes, corruptRanges: corrupt.length, reservedQueues }, 'store recovered after an unclean shutdown');
    return { lock, log, queues, index, dispatcher, queueOffsets, clean, truncatedBytes, corrupt, checkedFrom, redispatched, reservedQueues, ...(o.reservations ? { reservations: journal } : {}) };
  } catch (err) {
    lock.release();
    if (err instanceof StorageError) throw err;
    throw err;
  }
}
