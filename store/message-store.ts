import { BehaviorSubject, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import { createActor, type Actor } from 'xstate';
import { numberedFileName } from '../core/bytes.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { RandomSource } from '../core/random.js';
import { Status } from '../core/status.js';
import type { StorageBackend, StorageLock } from './backend.js';
import { cachedStorage, type CachedStorage, type HandleCacheStats } from './cached-storage.js';
import { CommitLog, DEFAULT_FLUSH_TIMEOUT_MS, type CommitPosition, type FlushPacing, type PutResult } from './commit-log.js';
import { appendDirect, appendReplicaDirect, commitLogMachine } from './commit-log.machine.js';
import { queueKeyOf } from './commit-log-batch.js';
import { RecordField, RecordLayout } from '../core/record-layout.js';
import { readU32 } from '../core/bytes.js';
import { wholeRecordsLength } from './replica.js';
import type { PutMessage } from './commit-log-batch.js';
import { DEFAULT_CQ_ENTRIES_PER_FILE, type ConsumeQueueSet } from './consume-queue.js';
import { CorruptRanges, type CorruptRange } from './corrupt-ranges.js';
import type { Dispatcher, NewData } from './dispatcher.js';
import { DEFAULT_INDEX_ENTRIES_PER_FILE, type KeyIndex } from './key-index.js';
import { messageIdEncoder, messageIdPrefix } from './message-id.js';
import { QueueReservations } from './queue-reservations.js';
import { recoverStore, writeStoreCheckpoint } from './recovery.js';
import { checkpointDelayMs } from './checkpoint.js';
import { runRetention } from './retention.js';
import { DEFAULT_SEGMENT_SIZE, type SegmentedLog } from './segmented-log.js';
import { storeQueries, type StoreQueries } from './store-queries.js';
import { HEALTHY, sameHealth, storeHealth, type StoreHealth } from './store-health.js';

export type { PutMessage } from './commit-log-batch.js';
export type { CommitPosition, FlushPacing, PutResult, PutResultItem } from './commit-log.js';
export type { NewData } from './dispatcher.js';
export type { CorruptRange } from './corrupt-ranges.js';
export type { StoreHealth } from './store-health.js';
export type { HandleCacheStats } from './cached-storage.js';
export { DEFAULT_FILE_IDLE_CLOSE_MS, DEFAULT_MAX_OPEN_FILES } from './cached-storage.js';
export type { GetQuery, GetResult, GetStatus, RecordsResult, StoredMessage } from './store-queries.js';

export type Visibility = 'flushed' | 'written';
/** One commit log for every queue ('mixed', this file), or a log per queue ('per-queue': per-queue-store.ts). */
export type StoreMode = 'mixed' | 'per-queue';

export const DEFAULT_WARM_AHEAD_BYTES = 32 * 1024 * 1024;

/**
 * How long async flush lets written data wait for its fsync (ms): at most what a consumer waits for a message,
 * since only flushed data is served. Shorter costs sync sends their p99 (an fsync can hold up a write of the same
 * file); ARCHITECTURE.md section 3 has the figures.
 */
export const DEFAULT_FLUSH_INTERVAL_MS = 100;

export interface MessageStoreOptions {
  dir: string;
  storage: StorageBackend;
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  storeHost: string;
  flush: 'sync' | 'async';
  /** Async flush with 'interval' pacing: how long written data waits before its flush starts (default 100 ms). */
  flushIntervalMs?: number;
  /**
   * Async flush: 'adaptive' flushes as soon as the previous flush ended, 'interval' flushIntervalMs after the log
   * became dirty (FlushPacing). Default: 'adaptive' with visibility 'flushed' (consumers wait for flushes),
   * 'interval' with 'written'.
   */
  flushPacing?: FlushPacing;
  /**
   * What consumers see: 'flushed' (default) only flushed data; 'written' written data as soon as its queue
   * offsets are reserved on storage (store/queue-reservations.ts), so a power loss may take back a message a
   * consumer saw, as it may take back an acknowledged one, but never hands its queue offset to another message.
   */
  visibility?: Visibility;
  /** Sync flush: a batch not flushed this long after its write is answered FLUSH_DISK_TIMEOUT, stored (default 5 s). */
  flushTimeoutMs?: number;
  /** Commit log segment size (default 1 GiB). */
  segmentSize?: number;
  /**
   * How far ahead of its writes the commit log warms the page cache, in the background, where the storage can
   * (default 32 MiB; 0 turns it off). See SegmentedLog.
   */
  warmAheadBytes?: number;
  consumeQueueEntriesPerFile?: number;
  indexEntriesPerFile?: number;
  /** Commit log segments older than this are deleted (default 72 h). */
  retentionMs?: number;
  /** How often retention looks (default 60 s; only while there is more than one segment). */
  retentionCheckIntervalMs?: number;
  /** Refuse writes (DISK_FULL) above this used/total ratio (default 0.9). */
  maxDiskUsageRatio?: number;
  /** Sync flush: batches waiting for their flush before SYSTEM_BUSY (default 10,000). */
  maxPendingBatches?: number;
  /** Written but unflushed bytes before SYSTEM_BUSY (default 256 MiB). */
  maxPendingBytes?: number;
  /** How long after indexing the consume queues are flushed and the checkpoint written (default 1000 ms). */
  checkpointIntervalMs?: number;
  /** How often indexing paused by a storage failure (ENOSPC, EIO) is tried again (default 1000 ms). */
  dispatchRetryMs?: number;
  /** Commit log bytes indexed in one turn of the event loop at most (default 4 MiB; see DispatcherOptions.clock). */
  dispatchBytesPerRun?: number;
  /** Told of each commit log flush that made data durable: its duration (ms) and the bytes it covered (metrics). */
  onFlush?: (ms: number, bytes: number) => void;
  /**
   * Open file handles the store keeps at most (default 1,024): commit log segments, consume queue and index files
   * are closed least recently used first and opened again on demand (store/cached-storage.ts).
   */
  maxOpenFiles?: number;
  /** A file unused this long is closed (default 60 s; 0: never). */
  fileIdleCloseMs?: number;
}

/**
 * A store opened as one queue's log inside a per-queue store (store/per-queue-store.ts): it shares that store's
 * handle cache and lock, and its commit log starts at `baseOffset` (a segment boundary) while it holds nothing,
 * so its offsets, and the message ids made of them, name the log they are in.
 */
export interface LogOfStore {
  storage: CachedStorage;
  baseOffset: number;
  /** Commit log bytes just written that reads find in memory (a store of its own keeps 1 MiB; see SegmentedLog). */
  tailCacheBytes: number;
}

/** An open store: writes, the reads of StoreQueries (store-queries.ts), and its lifecycle. */
export interface MessageStore extends StoreQueries {
  /** One call per batch; never rejects for store errors: the status says what happened. */
  putMessages(batch: PutMessage[]): Promise<PutResult>;
  /** Every message id this store makes is this prefix followed by 16 hex digits of the commit log offset. */
  readonly msgIdPrefix: string;
  readonly newData$: Observable<NewData>;
  /** The commit log machine's state ('serving.idle', 'failed', ...). */
  readonly state: string;
  readonly commitLogActor: Actor<typeof commitLogMachine>;
  /**
   * Resolves once the commit log is flushed below `offset` (a put's commitLogOffset + 1 covers its record);
   * rejects with StorageError if the store fails or closes first. See CommitLog.whenFlushed.
   */
  whenFlushed(offset: number): Promise<void>;
  /**
   * Resolves once the records at these commit log offsets are flushed (whichever logs hold them); rejects as
   * whenFlushed does.
   */
  whenRecordsFlushed(commitLogOffsets: readonly number[]): Promise<void>;
  /** How the store lays out its data; only a 'mixed' store replicates. */
  readonly storeMode: StoreMode;
  /** The flush mode the store was opened with. */
  readonly flushMode: 'sync' | 'async';
  /** Each change of the commit log's write or flushed offset (the current one first). */
  readonly positions$: Observable<CommitPosition>;
  /**
   * Replication, master side: whole records from `from` (a record boundary: a replica's write offset), at most
   * about `maxBytes` (one record more when the first is larger), never across a segment's end, up to the write
   * offset (written data, flushed or not). See ReplicaRead.
   */
  /** `into`: where the records are read when it is long enough (see SegmentedLog.read). */
  readReplica(from: number, maxBytes: number, into?: Uint8Array): ReplicaRead;
  /**
   * Replication, slave side: appends the records a master shipped for `offset` (checked record by record first;
   * see CommitLog.appendReplica). Resolves with a status, never rejects; with sync flush after the covering flush.
   */
  appendReplica(offset: number, data: Uint8Array): Promise<PutResult>;
  /**
   * Cuts the commit log, consume queues and index at `offset` (a record boundary), live: a divergent tail a
   * replica must drop before it follows a new master. Crash-safe: a checkpoint that re-indexes from the cut is
   * written first, so a crash at any step leaves a log that recovery makes consistent (a prefix of the old one).
   */
  truncateTail(offset: number): Promise<void>;
  /**
   * Limits what is indexed and served to below `offset` as well as to flushed data (replication's confirm offset:
   * see Dispatcher.limitTo); Infinity lifts it.
   */
  limitDispatch(offset: number): void;
  /**
   * A store that holds nothing yet starts at the start of the commit log segment that holds `offset` (a replica
   * starting from its master's last segment, as RocketMQ's slaves may): its log, and each queue at its first
   * message there. Refused (StoreOpenError) once the store holds data.
   */
  startAtSegmentOf(offset: number): Promise<void>;
  /** Every consume queue the store holds, with one past its last message. */
  queueList(): { topic: string; queueId: number; maxOffset: number }[];
  /** Commit log write/flush/min offsets and the dispatcher's position. */
  positions(): { writeOffset: number; flushedOffset: number; minOffset: number; dispatched: number };
  /**
   * Commit log bytes found corrupt since the store opened (by recovery's scan, or by a read), ascending: their
   * records are lost, every other record is kept, and their offsets are never used again.
   */
  corruptRanges(): CorruptRange[];
  /** Whether the store takes writes now, and if not why (see StoreHealth). */
  health(): StoreHealth;
  /** Each change of health (the current one first). */
  readonly health$: Observable<StoreHealth>;
  /** Runs retention now (it also runs on its schedule). */
  runRetention(): { segmentsDeleted: number };
  /** The handle cache: files open now, closing after their flush, the peak, and what was closed and reopened. */
  fileHandles(): HandleCacheStats;
  /** Flushes, indexes what is committed, writes a clean checkpoint, releases the lock. */
  close(): Promise<void>;
}

/**
 * What readReplica found at `from`: records (`offset` is where they start: past `from` when `from` was a
 * segment's end filler), nothing new yet, a `from` past the write offset (the replica holds a tail this log
 * does not: it diverged), or a `from` below the oldest byte kept (retention deleted it).
 */
export type ReplicaRead =
  | { kind: 'data'; offset: number; data: Uint8Array }
  | { kind: 'none' }
  | { kind: 'ahead'; writeOffset: number }
  | { kind: 'gone'; minOffset: number };

export class StoreOpenError extends Error {
  readonly code = 'EOPEN';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreOpenError';
  }
}

interface Parts {
  lock: StorageLock;
  log: SegmentedLog;
  queues: ConsumeQueueSet;
  index: KeyIndex;
  dispatcher: Dispatcher;
  commitLog: CommitLog;
  corrupt: CorruptRanges;
  checkedFrom: number;
  reservations: QueueReservations | undefined;
}

function stateString(value: unknown): string {
  if (typeof value === 'string') return value;
  const [k, v] = Object.entries(value as Record<string, unknown>)[0]!;
  return `${k}.${stateString(v)}`;
}

export async function openMessageStore(opts: MessageStoreOptions, within?: LogOfStore): Promise<MessageStore> {
  const logger = opts.logger.child({ component: 'store', dir: opts.dir });
  const segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  const retentionMs = opts.retentionMs ?? 72 * 3600 * 1000;
  const retentionEvery = opts.retentionCheckIntervalMs ?? 60_000;
  const checkpointEvery = opts.checkpointIntervalMs ?? 1000;
  const clock = opts.clock;
  const written = opts.visibility === 'written';
  // every file of the store is opened through the handle cache: a bounded number stay open
  const storage = within?.storage ?? cachedStorage(opts.storage, {
    clock,
    logger,
    ...(opts.maxOpenFiles !== undefined ? { maxOpenFiles: opts.maxOpenFiles } : {}),
    ...(opts.fileIdleCloseMs !== undefined ? { idleCloseMs: opts.fileIdleCloseMs } : {}),
  });
  let parts: Parts | undefined;
  let recoverError: unknown;
  let cpTimer: TimerHandle | undefined;
  let retentionTimer: TimerHandle | undefined;
  let checkpointing: Promise<void> | undefined;
  /** Consume queues the last checkpoint flushed: the next one waits longer after many (checkpointDelayMs). */
  let queuesFlushed = 0;
  let closed = false;

  const msgId = messageIdEncoder(opts.storeHost);
  const health = new BehaviorSubject<StoreHealth>(HEALTHY);
  const healthChanged = (): void => {
    const p = parts;
    if (!p) return;
    const h = storeHealth(p.commitLog.failed, p.dispatcher.error, p.dispatcher.fault);
    if (!sameHealth(h, health.value)) health.next(h);
  };

  const checkpoint = async (clean: boolean): Promise<void> => {
    const p = parts!;
    const dispatched = p.dispatcher.position;
    const flushed = p.log.flushedOffset;
    queuesFlushed = await p.dispatcher.flushQueues();
    await p.index.flush();
    await writeStoreCheckpoint(storage, opts.dir, { clean, commitLogFlushed: flushed, dispatched, timestamp: clock.now() });
  };

  const scheduleCheckpoint = (): void => {
    if (cpTimer !== undefined || closed) return;
    cpTimer = clock.setTimeout(() => {
      cpTimer = undefined;
      if (checkpointing || closed) return;
      checkpointing = checkpoint(false)
        .catch((err: unknown) => logger.error({ err }, 'checkpoint failed'))
        .finally(() => {
          checkpointing = undefined;
        });
    }, checkpointDelayMs(checkpointEvery, queuesFlushed));
  };

  const retention = (): { segmentsDeleted: number } => {
    const p = parts!;
    const r = runRetention({ log: p.log, queues: p.queues, index: p.index, dispatched: p.dispatcher.position, now: clock.now(), retentionMs });
    if (r.segmentsDeleted > 0) logger.info(r, 'retention deleted old data');
    return r;
  };

  const scheduleRetention = (): void => {
    const p = parts;
    if (!p || retentionTimer !== undefined || closed) return;
    if (p.log.minOffset >= p.log.segmentStart(p.log.writeOffset)) return; // one segment: nothing to delete
    retentionTimer = clock.setTimeout(() => {
      retentionTimer = undefined;
      if (closed) return;
      try {
        retention();
      } catch (err) {
        logger.error({ err }, 'retention failed');
      }
      scheduleRetention();
    }, retentionEvery);
  };

  const recover = async (): Promise<CommitLog> => {
    try {
      const r = await recoverStore({
        storage,
        dir: opts.dir,
        logger,
        segmentSize,
        warmAheadBytes: opts.warmAheadBytes ?? DEFAULT_WARM_AHEAD_BYTES,
        consumeQueueEntriesPerFile: opts.consumeQueueEntriesPerFile ?? DEFAULT_CQ_ENTRIES_PER_FILE,
        indexEntriesPerFile: opts.indexEntriesPerFile ?? DEFAULT_INDEX_ENTRIES_PER_FILE,
        now: () => clock.now(),
        dispatch: { retry: { clock, ms: opts.dispatchRetryMs ?? 1000 }, onChange: healthChanged, clock, ...(opts.dispatchBytesPerRun !== undefined ? { maxBytesPerRun: opts.dispatchBytesPerRun } : {}) },
        reservations: written,
        ...(within !== undefined ? { lock: false, holdActive: false, tailCacheBytes: within.tailCacheBytes } : {}),
      });
      const reservations = r.reservations && QueueReservations.open({ storage, dir: opts.dir, clock, logger, onCovered: () => commitLog.reservationsMoved() }, r.reservations);
      const commitLog = new CommitLog({
        log: r.log,
        storage,
        usagePath: opts.dir,
        clock,
        logger,
        storeHost: opts.storeHost,
        flush: opts.flush,
        flushIntervalMs: opts.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS,
        flushPacing: opts.flushPacing ?? (written ? 'interval' : 'adaptive'),
        flushTimeoutMs: opts.flushTimeoutMs ?? DEFAULT_FLUSH_TIMEOUT_MS,
        maxPendingBatches: opts.maxPendingBatches ?? 10_000,
        maxPendingBytes: opts.maxPendingBytes ?? 256 * 1024 * 1024,
        maxDiskUsageRatio: opts.maxDiskUsageRatio ?? 0.9,
        msgId,
        queueOffsets: r.queueOffsets,
        onWritten: (summary) => r.dispatcher.written(summary),
        onFailed: () => {
          healthChanged();
          // a failure found outside the machine's own work (a drain of staged writes): it looks again
          actor.send({ type: 'WRITTEN' });
        },
        ...(opts.onFlush !== undefined ? { onFlush: opts.onFlush } : {}),
        ...(reservations !== undefined ? { reservations } : {}),
      });
      parts = { lock: r.lock, log: r.log, queues: r.queues, index: r.index, dispatcher: r.dispatcher, commitLog, corrupt: new CorruptRanges(r.corrupt), checkedFrom: r.checkedFrom, reservations };
      r.dispatcher.newData$.subscribe(() => {
        scheduleCheckpoint();
        scheduleRetention();
      });
      r.dispatcher.follow(commitLog.positions$);
      scheduleRetention();
      return commitLog;
    } catch (err) {
      recoverError = err;
      throw err;
    }
  };

  const shutdown = async (clean: boolean): Promise<void> => {
    closed = true;
    clock.clearTimeout(cpTimer);
    clock.clearTimeout(retentionTimer);
    const p = parts;
    if (!p) return;
    try {
      if (checkpointing) await checkpointing;
      if (clean) {
        p.dispatcher.dispatchUpTo(Math.min(p.commitLog.committedOffset, p.dispatcher.limit));
        await checkpoint(p.log.flushedOffset === p.log.writeOffset && p.dispatcher.position === p.log.writeOffset);
      }
    } finally {
      health.complete();
      p.reservations?.close();
      p.dispatcher.complete();
      p.commitLog.complete();
      p.log.close();
      p.queues.close();
      p.index.close();
      p.lock.release();
      if (!within) storage.close();
    }
  };

  const actor = createActor(commitLogMachine, { input: { log: null, recover, shutdown }, clock });
  actor.start();
  await new Promise<void>((resolve, reject) => {
    const check = (): boolean => {
      const s = actor.getSnapshot();
      if (s.matches('serving')) {
        resolve();
        return true;
      }
      if (s.matches('failed') || s.status !== 'active') {
        actor.stop();
        if (!within) storage.close();
        reject(new StoreOpenError(`cannot open the store in ${opts.dir}: ${(recoverError as Error)?.message ?? s.context.error}`, { cause: recoverError }));
        return true;
      }
      return false;
    };
    if (check()) return;
    const sub = actor.subscribe(() => {
      if (check()) sub.unsubscribe();
    });
  });
  const p = parts!;

  const onCorrupt = (offset: number, size: number, reason: string): void => {
    const segment = numberedFileName(p.log.segmentStart(offset));
    if (!p.corrupt.add({ from: offset, to: offset + size, segment, reason, foundBy: 'read' })) return;
    logger.error({ segment, from: offset, to: offset + size, bytes: size, reason }, 'commit log: a read found a corrupt record; it is skipped (lost)');
  };
  const queries = storeQueries({ log: p.log, queues: p.queues, index: p.index, commitLog: p.commitLog, msgId, closed: () => closed, checkedFrom: p.checkedFrom, onCorrupt });

  const readReplica = (from: number, maxBytes: number, into?: Uint8Array): ReplicaRead => {
    const log = p.log;
    for (;;) {
      const w = log.writeOffset;
      if (from > w) return { kind: 'ahead', writeOffset: w };
      if (from === w) return { kind: 'none' };
      if (from < log.minOffset) return { kind: 'gone', minOffset: log.minOffset };
      const segEnd = log.segmentStart(from) + log.segmentSize;
      let buf = log.read(from, Math.min(Math.max(maxBytes, RecordLayout.FixedSize), w - from), into);
      if (buf.length >= RecordLayout.FixedSize && readU32(buf, RecordField.Magic) === RecordLayout.Magic) {
        const size = readU32(buf, RecordField.Size);
        if (size > buf.length && size <= w - from) buf = log.read(from, size); // one record larger than maxBytes
        const n = wholeRecordsLength(buf);
        if (n > 0) return { kind: 'data', offset: from, data: n === buf.length ? buf : buf.subarray(0, n) };
      }
      // the end-of-segment filler (or zeros): the next record starts the next segment
      if (segEnd >= w || segEnd <= from) return { kind: 'none' };
      from = segEnd;
    }
  };

  const truncateTail = async (offset: number): Promise<void> => {
    if (closed) throw new StoreOpenError(`cannot truncate the store in ${opts.dir}: it is closed`);
    if (written) throw new StoreOpenError(`cannot truncate the store in ${opts.dir}: it serves written data (visibility 'written'), which only a store that replicates nothing does`);
    if (offset >= p.log.writeOffset) return;
    if (offset < p.log.minOffset) throw new StoreOpenError(`cannot truncate the store in ${opts.dir} at ${offset}: below its oldest data (${p.log.minOffset})`);
    if (checkpointing) await checkpointing;
    const dispatched = Math.min(p.dispatcher.position, offset);
    // first on storage: recovery re-indexes from the cut whatever step a crash interrupts
    await writeStoreCheckpoint(storage, opts.dir, { clean: false, commitLogFlushed: Math.min(p.log.flushedOffset, offset), dispatched, timestamp: clock.now() });
    p.dispatcher.rewind(offset);
    const next = new Map<string, number>();
    for (const cq of p.queues.all()) {
      cq.truncateFrom(offset);
      next.set(queueKeyOf(cq.topic, cq.queueId), cq.maxOffset);
    }
    p.index.truncateFrom(offset);
    await p.queues.flush();
    await p.index.flush();
    p.log.truncate(offset);
    await p.log.flush();
    p.commitLog.truncated(offset, next);
    logger.warn({ offset }, 'commit log truncated: a divergent tail was dropped');
  };

  /** An empty store's log (and the dispatcher's position) starts at `start`, durably (a segment boundary). */
  const startAt = async (start: number): Promise<void> => {
    p.log.setWriteOffset(start);
    p.dispatcher.startAt(start);
    await writeStoreCheckpoint(storage, opts.dir, { clean: false, commitLogFlushed: start, dispatched: start, timestamp: clock.now() });
    p.commitLog.truncated(start, new Map());
  };
  const isEmpty = (): boolean => p.log.writeOffset === 0 && p.log.minOffset === 0 && p.queues.all().length === 0;
  if (within !== undefined && within.baseOffset > 0 && isEmpty()) await startAt(within.baseOffset);

  let closing: Promise<void> | undefined;
  const store: MessageStore = {
    putMessages(batch) {
      if (closed || actor.getSnapshot().status !== 'active') {
        return Promise.resolve({ status: Status.SERVICE_NOT_AVAILABLE, message: 'store is closed', results: [] });
      }
      // what indexing cannot take is refused (health follows the dispatcher's changes as they happen)
      const h = health.value;
      if (h.state !== 'ok') return Promise.resolve({ status: h.status, message: `store takes no writes now: ${h.reason}`, results: [] });
      return new Promise((resolve) => {
        if (!appendDirect(actor, batch, resolve)) actor.send({ type: 'APPEND', batch, reply: resolve });
      });
    },
    ...queries,
    msgIdPrefix: messageIdPrefix(opts.storeHost),
    newData$: p.dispatcher.newData$,
    get state() {
      return stateString(actor.getSnapshot().value);
    },
    commitLogActor: actor,
    whenFlushed: (offset) => p.commitLog.whenFlushed(offset),
    whenRecordsFlushed(offsets) {
      let last = -1;
      for (const o of offsets) if (o > last) last = o;
      return p.commitLog.whenFlushed(last + 1);
    },
    storeMode: 'mixed',
    flushMode: opts.flush,
    positions$: p.commitLog.positions$,
    readReplica,
    appendReplica(offset, data) {
      if (closed || actor.getSnapshot().status !== 'active') {
        return Promise.resolve({ status: Status.SERVICE_NOT_AVAILABLE, message: 'store is closed', results: [] });
      }
      return new Promise((resolve) => {
        if (!appendReplicaDirect(actor, offset, data, resolve)) resolve({ status: Status.SERVICE_NOT_AVAILABLE, message: `store does not serve (${stateString(actor.getSnapshot().value)})`, results: [] });
      });
    },
    truncateTail,
    limitDispatch: (offset) => p.dispatcher.limitTo(offset),
    startAtSegmentOf: async (offset) => {
      if (written) throw new StoreOpenError(`the store in ${opts.dir} serves written data (visibility 'written'): a replica cannot`);
      if (!isEmpty()) throw new StoreOpenError(`the store in ${opts.dir} holds data: it cannot start anywhere else`);
      const start = p.log.segmentStart(offset);
      if (start === 0) return;
      await startAt(start);
      logger.warn({ offset: start }, 'the store starts at this commit log offset (a replica started from its master\'s last segment)');
    },
    queueList: () => [...p.queues.all()].map((cq) => ({ topic: cq.topic, queueId: cq.queueId, maxOffset: cq.maxOffset })),
    positions: () => ({ writeOffset: p.log.writeOffset, flushedOffset: p.log.flushedOffset, minOffset: p.log.minOffset, dispatched: p.dispatcher.position }),
    corruptRanges: () => p.corrupt.list(p.log.minOffset),
    health: () => health.value,
    health$: health.asObservable(),
    runRetention: retention,
    fileHandles: () => storage.stats(),
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (actor.getSnapshot().status !== 'active') return resolve();
        actor.send({ type: 'CLOSE', done: resolve });
      }).then(() => {
        actor.stop();
      });
      return closing;
    },
  };
  return store;
}
