import type { Observable } from 'rxjs';
import type { Logger } from 'pino';
import { createActor, type Actor } from 'xstate';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { RandomSource } from '../core/random.js';
import { Status } from '../core/status.js';
import type { StorageBackend, StorageLock } from './backend.js';
import { CommitLog, type PutResult } from './commit-log.js';
import { appendDirect, commitLogMachine } from './commit-log.machine.js';
import type { PutMessage } from './commit-log-batch.js';
import { CQ_ENTRY_SIZE, DEFAULT_CQ_ENTRIES_PER_FILE, cqOffsetAt, cqSizeAt, cqTagHashAt, isBlank, type ConsumeQueue, type ConsumeQueueSet } from './consume-queue.js';
import type { Dispatcher, NewData } from './dispatcher.js';
import { DEFAULT_INDEX_ENTRIES_PER_FILE, keyHash, type KeyIndex } from './key-index.js';
import { decodeMessageId, messageIdEncoder, messageIdPrefix } from './message-id.js';
import { MessageProperty } from '../core/message.js';
import { PROP_KEYS, PROP_TAGS } from '../core/record-layout.js';
import { decodeRecord, recordBodyAt, splitKeys, type MessageRecord } from './record.js';
import { recoverStore, writeStoreCheckpoint } from './recovery.js';
import { runRetention } from './retention.js';
import { DEFAULT_SEGMENT_SIZE, type SegmentedLog } from './segmented-log.js';

export type { PutMessage } from './commit-log-batch.js';
export type { PutResult, PutResultItem } from './commit-log.js';
export type { NewData } from './dispatcher.js';

export const DEFAULT_WARM_AHEAD_BYTES = 32 * 1024 * 1024;

export interface MessageStoreOptions {
  dir: string;
  storage: StorageBackend;
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  storeHost: string;
  flush: 'sync' | 'async';
  /** Async flush period (default 500 ms). */
  flushIntervalMs?: number;
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
}

/** A stored message as reads return it. */
export interface StoredMessage extends MessageRecord {
  msgId: string;
  /** Record size in the commit log. */
  size: number;
  tags?: string;
  keys: string[];
}

export type GetStatus =
  | 'FOUND'
  /** Entries were there but the filter matched none of them (nextOffset skips them). */
  | 'NO_MATCHED'
  /** The queue has never held a message. */
  | 'NO_MESSAGE_IN_QUEUE'
  | 'OFFSET_TOO_SMALL'
  /** offset == maxOffset: nothing new yet (a long poll waits here). */
  | 'OFFSET_OVERFLOW_ONE'
  | 'OFFSET_OVERFLOW_BADLY'
  /** The entries point at commit log data retention removed. */
  | 'OFFSET_FOUND_NULL'
  | 'STORE_CLOSED';

export interface GetQuery {
  topic: string;
  queueId: number;
  offset: number;
  maxCount: number;
  /** Stop before exceeding this many record bytes (default 4 MiB; at least one message is returned). */
  maxBytes?: number;
  /** Tag filter: called with the tag hash first (tags undefined), then with the record's tag for a final check. */
  tags?: (tagHash: number, tags?: string) => boolean;
}

export interface GetResult {
  status: GetStatus;
  messages: StoredMessage[];
  nextOffset: number;
  minOffset: number;
  maxOffset: number;
}

/**
 * What a read found, as the commit log's own bytes: record i starts at `positions[i]` of `bufs[i]` (spans read
 * for this call, shared by consecutive records; the reader may keep them). Each record passed `recordBodyAt`
 * (magic, size, offset, field lengths); CRCs are not checked on reads (recovery checks them).
 */
export interface RecordsResult {
  status: GetStatus;
  count: number;
  bufs: Uint8Array[];
  positions: number[];
  nextOffset: number;
  minOffset: number;
  maxOffset: number;
}

export interface MessageStore {
  /** One call per batch; never rejects for store errors: the status says what happened. */
  putMessages(batch: PutMessage[]): Promise<PutResult>;
  getMessages(q: GetQuery): GetResult;
  /** As getMessages, the records left as bytes (no message objects): for encoding them straight to the wire. */
  getRecords(q: GetQuery): RecordsResult;
  /** Decodes record i of a getRecords result (undefined if it does not decode). */
  storedAt(r: RecordsResult, i: number): StoredMessage | undefined;
  /** Every message id this store makes is this prefix followed by 16 hex digits of the commit log offset. */
  readonly msgIdPrefix: string;
  lookupById(msgId: string): StoredMessage | undefined;
  lookupByKey(topic: string, key: string, max: number): StoredMessage[];
  minOffset(topic: string, queueId: number): number;
  maxOffset(topic: string, queueId: number): number;
  /** The first queue offset whose message was stored at or after `timestampMs` (maxOffset when none). */
  offsetByTime(topic: string, queueId: number, timestampMs: number): number;
  readonly newData$: Observable<NewData>;
  /** The commit log machine's state ('serving.idle', 'failed', ...). */
  readonly state: string;
  readonly commitLogActor: Actor<typeof commitLogMachine>;
  /** Commit log write/flush/min offsets and the dispatcher's position. */
  positions(): { writeOffset: number; flushedOffset: number; minOffset: number; dispatched: number };
  /** Runs retention now (it also runs on its schedule). */
  runRetention(): { segmentsDeleted: number };
  /** Flushes, indexes what is committed, writes a clean checkpoint, releases the lock. */
  close(): Promise<void>;
}

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
}

function stateString(value: unknown): string {
  if (typeof value === 'string') return value;
  const [k, v] = Object.entries(value as Record<string, unknown>)[0]!;
  return `${k}.${stateString(v)}`;
}

export async function openMessageStore(opts: MessageStoreOptions): Promise<MessageStore> {
  const logger = opts.logger.child({ component: 'store', dir: opts.dir });
  const segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  const retentionMs = opts.retentionMs ?? 72 * 3600 * 1000;
  const retentionEvery = opts.retentionCheckIntervalMs ?? 60_000;
  const checkpointEvery = opts.checkpointIntervalMs ?? 1000;
  const clock = opts.clock;
  let parts: Parts | undefined;
  let recoverError: unknown;
  let cpTimer: TimerHandle | undefined;
  let retentionTimer: TimerHandle | undefined;
  let checkpointing: Promise<void> | undefined;
  let closed = false;

  const msgId = messageIdEncoder(opts.storeHost);

  const checkpoint = async (clean: boolean): Promise<void> => {
    const p = parts!;
    const dispatched = p.dispatcher.position;
    const flushed = p.log.flushedOffset;
    await p.queues.flush();
    await p.index.flush();
    await writeStoreCheckpoint(opts.storage, opts.dir, { clean, commitLogFlushed: flushed, dispatched, timestamp: clock.now() });
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
    }, checkpointEvery);
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
        storage: opts.storage,
        dir: opts.dir,
        logger,
        segmentSize,
        warmAheadBytes: opts.warmAheadBytes ?? DEFAULT_WARM_AHEAD_BYTES,
        consumeQueueEntriesPerFile: opts.consumeQueueEntriesPerFile ?? DEFAULT_CQ_ENTRIES_PER_FILE,
        indexEntriesPerFile: opts.indexEntriesPerFile ?? DEFAULT_INDEX_ENTRIES_PER_FILE,
        now: () => clock.now(),
      });
      const commitLog = new CommitLog({
        log: r.log,
        storage: opts.storage,
        usagePath: opts.dir,
        clock,
        logger,
        storeHost: opts.storeHost,
        flush: opts.flush,
        flushIntervalMs: opts.flushIntervalMs ?? 500,
        maxPendingBatches: opts.maxPendingBatches ?? 10_000,
        maxPendingBytes: opts.maxPendingBytes ?? 256 * 1024 * 1024,
        maxDiskUsageRatio: opts.maxDiskUsageRatio ?? 0.9,
        msgId,
        queueOffsets: r.queueOffsets,
        onWritten: (summary) => r.dispatcher.written(summary),
      });
      parts = { lock: r.lock, log: r.log, queues: r.queues, index: r.index, dispatcher: r.dispatcher, commitLog };
      r.dispatcher.newData$.subscribe(() => {
        scheduleCheckpoint();
        scheduleRetention();
      });
      r.dispatcher.follow(commitLog.positions$, opts.flush);
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
        p.dispatcher.dispatchUpTo(p.commitLog.committedOffset);
        await checkpoint(p.log.flushedOffset === p.log.writeOffset && p.dispatcher.position === p.log.writeOffset);
      }
    } finally {
      p.dispatcher.complete();
      p.commitLog.complete();
      p.log.close();
      p.queues.close();
      p.index.close();
      p.lock.release();
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

  const toStored = (r: MessageRecord, size: number): StoredMessage => ({
    topic: r.topic,
    queueId: r.queueId,
    queueOffset: r.queueOffset,
    commitLogOffset: r.commitLogOffset,
    flags: r.flags,
    sysFlag: r.sysFlag,
    bornTimestamp: r.bornTimestamp,
    bornHost: r.bornHost,
    storeTimestamp: r.storeTimestamp,
    storeHost: r.storeHost,
    reconsumeTimes: r.reconsumeTimes,
    preparedTransactionOffset: r.preparedTransactionOffset,
    properties: r.properties,
    body: r.body,
    msgId: msgId(r.commitLogOffset),
    size,
    tags: r.properties[PROP_TAGS],
    keys: splitKeys(r.properties[PROP_KEYS]),
  });

  /** The record at `offset` (`size` when known), or undefined when gone or not a record. */
  const readAt = (offset: number, size?: number): { record: MessageRecord; size: number } | undefined => {
    if (offset < p.log.minOffset || offset >= p.commitLog.committedOffset) return undefined;
    let len = size;
    if (len === undefined) {
      const head = p.log.read(offset, 4);
      if (head.length < 4) return undefined;
      len = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
    }
    const buf = p.log.read(offset, len);
    const d = decodeRecord(buf, 0, false);
    if (d.kind !== 'record' || d.record.commitLogOffset !== offset) return undefined;
    return { record: d.record, size: d.size };
  };

  const queue = (topic: string, queueId: number): ConsumeQueue | undefined => p.queues.get(topic, queueId, false);

  const getRecords = (q: GetQuery): RecordsResult => {
    const cq = queue(q.topic, q.queueId);
    const min = cq?.minOffset ?? 0;
    const max = cq?.maxOffset ?? 0;
    const bufs: Uint8Array[] = [];
    const positions: number[] = [];
    const res = (status: GetStatus, nextOffset: number): RecordsResult => ({ status, count: bufs.length, bufs, positions, nextOffset, minOffset: min, maxOffset: max });
    if (closed) return res('STORE_CLOSED', q.offset);
    if (!cq || max === 0) return res('NO_MESSAGE_IN_QUEUE', 0);
    if (q.offset < min) return res('OFFSET_TOO_SMALL', min);
    if (q.offset === max) return res('OFFSET_OVERFLOW_ONE', q.offset);
    if (q.offset > max) return res('OFFSET_OVERFLOW_BADLY', min === 0 ? min : max);
    const maxCount = Math.max(1, q.maxCount);
    const maxBytes = q.maxBytes ?? 4 * 1024 * 1024;
    const maxScan = Math.max(maxCount, 2000);
    const tags = q.tags;
    let bytes = 0;
    let next = q.offset;
    let filtered = 0;
    let missing = 0;
    // one consume queue read covers a whole pull when nothing is filtered out
    const chunk = Math.min(maxScan, Math.max(256, maxCount));
    // Records are read in spans: one commit log read covers the records of consecutive entries.
    const spanCap = Math.max(64 * 1024, Math.min(maxBytes, 4 * 1024 * 1024));
    let span: Uint8Array = new Uint8Array(0);
    let spanStart = 0;
    const committed = p.commitLog.committedOffset;
    const minCl = p.log.minOffset;
    scan: while (next < max && next - q.offset < maxScan && bufs.length < maxCount) {
      const entries = cq.readBytes(next, Math.min(chunk, maxScan - (next - q.offset)));
      const n = entries.length / CQ_ENTRY_SIZE;
      if (n === 0) break;
      for (let i = 0; i < n; i++) {
        if (bufs.length >= maxCount) break scan;
        const e = i * CQ_ENTRY_SIZE;
        const size = cqSizeAt(entries, e);
        if (size === 0) {
          next++; // a blank entry
          continue;
        }
        if (tags && !tags(cqTagHashAt(entries, e))) {
          filtered++;
          next++;
          continue;
        }
        if (bufs.length > 0 && bytes + size > maxBytes) break scan;
        next++;
        const off = cqOffsetAt(entries, e);
        if (off < minCl || off >= committed) {
          missing++;
          continue;
        }
        if (off < spanStart || off + size > spanStart + span.length) {
          // A new span from this record to the end of the last following entry that fits in spanCap.
          let spanEnd = off + size;
          const left = maxCount - bufs.length;
          for (let j = i + 1, taken = 1; j < n && taken < left; j++) {
            const fSize = cqSizeAt(entries, j * CQ_ENTRY_SIZE);
            if (fSize === 0) continue;
            const fOff = cqOffsetAt(entries, j * CQ_ENTRY_SIZE);
            const fEnd = fOff + fSize;
            if (fOff < off || fEnd - off > spanCap || fEnd > committed) break;
            if (fEnd > spanEnd) spanEnd = fEnd;
            taken++;
          }
          span = p.log.read(off, spanEnd - off);
          spanStart = off;
        }
        const at = off - spanStart;
        if (off + size > spanStart + span.length || recordBodyAt(span, at, off, size) < 0) {
          missing++;
          continue;
        }
        if (tags) {
          const d = decodeRecord(span, at, false);
          if (d.kind !== 'record') {
            missing++;
            continue;
          }
          if (!tags(cqTagHashAt(entries, e), d.record.properties[PROP_TAGS])) {
            filtered++;
            continue;
          }
        }
        bufs.push(span);
        positions.push(at);
        bytes += size;
      }
    }
    if (bufs.length > 0) return res('FOUND', next);
    if (missing > 0 && filtered === 0) return res('OFFSET_FOUND_NULL', next);
    return res('NO_MATCHED', next);
  };

  const storedAt = (r: RecordsResult, i: number): StoredMessage | undefined => {
    const buf = r.bufs[i];
    if (buf === undefined) return undefined;
    const d = decodeRecord(buf, r.positions[i]!, false);
    return d.kind === 'record' ? toStored(d.record, d.size) : undefined;
  };

  const getMessages = (q: GetQuery): GetResult => {
    const r = getRecords(q);
    const messages: StoredMessage[] = [];
    for (let i = 0; i < r.count; i++) {
      const m = storedAt(r, i);
      if (m !== undefined) messages.push(m);
    }
    return { status: r.status, messages, nextOffset: r.nextOffset, minOffset: r.minOffset, maxOffset: r.maxOffset };
  };

  const lookupById = (id: string): StoredMessage | undefined => {
    let offset: number;
    try {
      offset = decodeMessageId(id).commitLogOffset;
    } catch {
      return undefined; // not one of our ids: not found
    }
    const r = readAt(offset);
    return r ? toStored(r.record, r.size) : undefined;
  };

  const lookupByKey = (topic: string, key: string, max: number): StoredMessage[] => {
    const out: StoredMessage[] = [];
    for (const off of p.index.lookup(keyHash(topic, key), Math.max(1, max) * 4)) {
      if (out.length >= max) break;
      const r = readAt(off);
      if (!r || r.record.topic !== topic) continue;
      if (r.record.properties[MessageProperty.UNIQ_KEY] !== key && !splitKeys(r.record.properties[PROP_KEYS]).includes(key)) continue;
      out.push(toStored(r.record, r.size));
    }
    return out;
  };

  const offsetByTime = (topic: string, queueId: number, ts: number): number => {
    const cq = queue(topic, queueId);
    if (!cq) return 0;
    let lo = cq.minOffset;
    let hi = cq.maxOffset;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const e = cq.entryAt(mid);
      const r = e && !isBlank(e) ? readAt(e.commitLogOffset, e.size) : undefined;
      if (!r || r.record.storeTimestamp < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  let closing: Promise<void> | undefined;
  const store: MessageStore = {
    putMessages(batch) {
      if (closed || actor.getSnapshot().status !== 'active') {
        return Promise.resolve({ status: Status.SERVICE_NOT_AVAILABLE, message: 'store is closed', results: [] });
      }
      return new Promise((resolve) => {
        if (!appendDirect(actor, batch, resolve)) actor.send({ type: 'APPEND', batch, reply: resolve });
      });
    },
    getMessages,
    getRecords,
    storedAt,
    msgIdPrefix: messageIdPrefix(opts.storeHost),
    lookupById,
    lookupByKey,
    minOffset: (t, q) => queue(t, q)?.minOffset ?? 0,
    maxOffset: (t, q) => queue(t, q)?.maxOffset ?? 0,
    offsetByTime,
    newData$: p.dispatcher.newData$,
    get state() {
      return stateString(actor.getSnapshot().value);
    },
    commitLogActor: actor,
    positions: () => ({ writeOffset: p.log.writeOffset, flushedOffset: p.log.flushedOffset, minOffset: p.log.minOffset, dispatched: p.dispatcher.position }),
    runRetention: retention,
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
