import { BehaviorSubject, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../core/clock.js';
import { Status } from '../core/status.js';
import { StorageError, type StorageBackend, type StorageUsage } from './backend.js';
import { BatchEncoder, assignQueueOffsets, type EncodedBatch, type PutMessage } from './commit-log-batch.js';
import type { WriteSummary } from './dispatcher.js';
import { RecordError } from './record.js';
import type { SegmentedLog } from './segmented-log.js';
import { checkReplicaChunk, ReplicaDataError, type CheckedChunk } from './replica.js';
import type { QueueReservations } from './queue-reservations.js';

/**
 * How async flushes are spaced: 'adaptive' starts one as soon as the previous ended (group commit without making
 * senders wait: a quick disk at an ordinary load flushes each write at once, a heavy load makes each flush cover
 * more); 'interval' waits flushIntervalMs after the log became dirty (RocketMQ's timed flush).
 */
export type FlushPacing = 'adaptive' | 'interval';

export interface PutResultItem {
  commitLogOffset: number;
  queueOffset: number;
  msgId: string;
  size: number;
}

/** The answer to one batch: a Status code (OK or why nothing of the batch is stored), one item per message. */
export interface PutResult {
  status: number;
  message?: string;
  /** One item per message; an OK answer of the commit log builds them (and their msgIds) on first access. */
  results: PutResultItem[];
  /** Messages stored (OK answers of the commit log; `results.length` otherwise). */
  count?: number;
  /** Commit log offset of each message's record (OK answers of the commit log). */
  commitLogOffsets?: readonly number[];
  /** Queue offset of each message (OK answers of the commit log). */
  queueOffsets?: readonly number[];
  /** Record size of each message (OK answers of the commit log). */
  sizes?: readonly number[];
  /** Set when every msgId is this prefix followed by the 16 upper-case hex digits of its commit log offset. */
  msgIdPrefix?: string;
}

/**
 * An OK answer kept compact: parallel arrays of offsets and sizes, no object or msgId string per message
 * unless someone reads `results`.
 */
export class CompactPutResult implements PutResult {
  readonly status = Status.OK;
  private items: PutResultItem[] | undefined;

  constructor(
    readonly commitLogOffsets: readonly number[],
    readonly queueOffsets: readonly number[],
    readonly sizes: readonly number[],
    private readonly msgId: (commitLogOffset: number) => string,
    readonly msgIdPrefix: string | undefined,
  ) {}

  get count(): number {
    return this.commitLogOffsets.length;
  }

  get results(): PutResultItem[] {
    if (this.items === undefined) {
      const n = this.commitLogOffsets.length;
      const items: PutResultItem[] = new Array<PutResultItem>(n);
      for (let i = 0; i < n; i++) {
        const off = this.commitLogOffsets[i]!;
        items[i] = { commitLogOffset: off, queueOffset: this.queueOffsets[i]!, msgId: this.msgId(off), size: this.sizes[i]! };
      }
      this.items = items;
    }
    return this.items;
  }
}

/** The prefix `msgId` puts before 16 upper-case hex digits of the offset, if it has that form. */
export function derivedMsgIdPrefix(msgId: (commitLogOffset: number) => string): string | undefined {
  const probe = 0x123456789ab;
  const id = msgId(probe);
  if (id.length <= 16) return undefined;
  const prefix = id.slice(0, -16);
  return msgId(0) === prefix + '0'.repeat(16) && id === prefix + probe.toString(16).toUpperCase().padStart(16, '0') ? prefix : undefined;
}

/** How far the commit log is written, flushed, and may be served (global offsets). */
export interface CommitPosition {
  writeOffset: number;
  flushedOffset: number;
  /**
   * What may be indexed and served: the flushed offset, or with visibility 'written' as far as the queue offset
   * reservations cover written data (store/queue-reservations.ts), whichever is further.
   */
  visibleOffset: number;
}

export type FlushMode = 'sync' | 'async';

export interface CommitLogOptions {
  log: SegmentedLog;
  storage: StorageBackend;
  /** Path whose volume usage decides DISK_FULL. */
  usagePath: string;
  clock: Clock;
  logger: Logger;
  storeHost: string;
  flush: FlushMode;
  flushIntervalMs: number;
  flushPacing: FlushPacing;
  /**
   * Sync: a batch whose flush has not completed this long after its write is answered FLUSH_DISK_TIMEOUT (it
   * is stored, its durability unknown), as RocketMQ's syncFlushTimeout (default 5 s). The flush goes on.
   */
  flushTimeoutMs?: number;
  /** Sync: batches written and waiting for their flush. */
  maxPendingBatches: number;
  /** Bytes written but not flushed. */
  maxPendingBytes: number;
  maxDiskUsageRatio: number;
  msgId: (commitLogOffset: number) => string;
  /** (topic, queue) -> next queue offset, as recovery rebuilt it. */
  queueOffsets: Map<string, number>;
  /** Told of every write made (the dispatcher indexes it from this instead of parsing it). */
  onWritten?: (summary: WriteSummary) => void;
  /** Told once when the log fails (it refuses every write after: see `failed`). */
  onFailed?: () => void;
  /** Told of each flush that made data durable: how long it took (ms, on the clock's monotonicMs) and the bytes it covered. */
  onFlush?: (ms: number, bytes: number) => void;
  /** Visibility 'written': told of each batch written; what it covers may be served before its flush. */
  reservations?: QueueReservations;
}

/** Disk usage is asked again after this many bytes written or this long (RocketMQ checks every few seconds). */
const USAGE_CHECK_BYTES = 4 * 1024 * 1024;
const USAGE_CHECK_MS = 100;

export const DEFAULT_FLUSH_TIMEOUT_MS = 5000;

interface Waiting {
  end: number;
  /** When it was written (its store timestamp), on the injected clock. */
  at: number;
  result: PutResult;
  reply: (r: PutResult) => void;
}

/** The answer to a batch stored but not known flushed: FLUSH_DISK_TIMEOUT with the batch's offsets and ids. */
function flushTimedOut(r: PutResult, waitedMs: number): PutResult {
  const out: PutResult = { status: Status.FLUSH_DISK_TIMEOUT, message: `stored, but not flushed to disk within ${waitedMs} ms`, results: r.results };
  if (r.count !== undefined) out.count = r.count;
  if (r.commitLogOffsets !== undefined) out.commitLogOffsets = r.commitLogOffsets;
  if (r.queueOffsets !== undefined) out.queueOffsets = r.queueOffsets;
  if (r.sizes !== undefined) out.sizes = r.sizes;
  if (r.msgIdPrefix !== undefined) out.msgIdPrefix = r.msgIdPrefix;
  return out;
}

/** What `append` did: wrote it, refused it (busy, full, invalid; the store keeps serving), or failed (fatal). */
export type AppendOutcome = 'written' | 'refused' | 'failed';

/**
 * The commit log's data work, driven by the commit log machine: assigns queue offsets, encodes a batch into
 * one buffer, appends it (one write per segment), keeps the acknowledgements that wait for a flush (group
 * commit), and publishes the committed position. It never acknowledges what was not written (and, with sync
 * flush, flushed); a storage failure fails every waiting batch and the log refuses everything after.
 */
interface FlushWaiter {
  offset: number;
  resolve: () => void;
  reject: (err: StorageError) => void;
}

export class CommitLog {
  private readonly positions = new BehaviorSubject<CommitPosition>({ writeOffset: 0, flushedOffset: 0, visibleOffset: 0 });
  /** Sync: batches written, not yet answered, oldest first. */
  private readonly waiting: Waiting[] = [];
  /** Async: batches whose records are staged in the log's tail, answered once the turn's drain wrote them. */
  private unwritten: Array<{ result: PutResult; reply: (r: PutResult) => void }> = [];
  private drainQueued = false;
  private flushing: Promise<void> | undefined;
  private readonly flushTimeoutMs: number;
  /** The one timer that answers batches whose flush takes longer than flushTimeoutMs. */
  private timeoutTimer: TimerHandle | undefined;
  /** Batches answered FLUSH_DISK_TIMEOUT so far. */
  flushTimeouts = 0;
  private failure: { status: number; message: string } | undefined;
  private readonly encoder: BatchEncoder;
  private usage: StorageUsage | undefined;
  private usageAtOffset = 0;
  private usageAtMs = 0;
  private readonly msgIdPrefix: string | undefined;
  /** Callers of whenFlushed waiting for their offset, in no particular order. */
  private flushWaiters: FlushWaiter[] = [];
  private closed = false;
  /** Offsets assigned but whose write is not done are never visible: updates apply after the write. */
  readonly queueOffsets: Map<string, number>;

  constructor(private readonly o: CommitLogOptions) {
    this.queueOffsets = o.queueOffsets;
    this.encoder = new BatchEncoder(o.storeHost);
    this.msgIdPrefix = derivedMsgIdPrefix(o.msgId);
    this.flushTimeoutMs = o.flushTimeoutMs ?? DEFAULT_FLUSH_TIMEOUT_MS;
    this.publish();
  }

  get mode(): FlushMode {
    return this.o.flush;
  }
  get flushIntervalMs(): number {
    return this.o.flushIntervalMs;
  }

  /** With async flush, how long dirty data waits for its flush to start (FlushPacing). */
  nextFlushDelayMs(): number {
    return this.o.flushPacing === 'interval' ? this.o.flushIntervalMs : 0;
  }
  get writeOffset(): number {
    return this.o.log.writeOffset;
  }
  get flushedOffset(): number {
    return this.o.log.flushedOffset;
  }
  /**
   * Data up to here may be indexed and served: flushed data, or with visibility 'written' also written data
   * whose queue offsets are reserved. With async flush a batch is acknowledged before its flush (a power loss
   * may take back up to one flush interval of acknowledged messages); what a consumer or a scheduler has read
   * may be lost with it, but its queue offset is never handed out again (flushed, or below its queue's
   * reservation, which recovery skips to).
   */
  get committedOffset(): number {
    const flushed = this.o.log.flushedOffset;
    const r = this.o.reservations;
    return r === undefined ? flushed : Math.max(flushed, Math.min(r.coveredOffset, this.o.log.writeOffset));
  }

  /** The reservations covered more written data: publishes the new visible offset. */
  reservationsMoved(): void {
    this.publish();
  }
  get positions$(): Observable<CommitPosition> {
    return this.positions.asObservable();
  }
  get failed(): { status: number; message: string } | undefined {
    return this.failure;
  }
  /** Written data not yet flushed. */
  get dirty(): boolean {
    return this.o.log.writeOffset > this.o.log.flushedOffset;
  }
  get pendingAcks(): number {
    return this.waiting.length;
  }

  /** Writes a batch; `reply` gets the result once it is acknowledged (now, or after the covering flush). */
  append(batch: readonly PutMessage[], reply: (r: PutResult) => void): AppendOutcome {
    const refuse = (status: number, message: string): AppendOutcome => {
      reply({ status, message, results: [] });
      return 'refused';
    };
    if (this.failure || batch.length === 0) return this.refuseAtOnce(reply);
    const unflushed = this.o.log.writeOffset - this.o.log.flushedOffset;
    if ((this.o.flush === 'sync' && this.waiting.length >= this.o.maxPendingBatches) || unflushed >= this.o.maxPendingBytes) {
      return refuse(Status.SYSTEM_BUSY, `store busy: ${this.waiting.length} batches / ${unflushed} bytes wait for a flush`);
    }
    const usage = this.diskUsage();
    if (usage.totalBytes > 0 && usage.usedBytes / usage.totalBytes > this.o.maxDiskUsageRatio) {
      const pct = ((100 * usage.usedBytes) / usage.totalBytes).toFixed(1);
      return refuse(Status.DISK_FULL, `disk full: ${pct}% used, above the ${(this.o.maxDiskUsageRatio * 100).toFixed(0)}% limit`);
    }

    const { offsets, updates } = assignQueueOffsets(this.queueOffsets, batch);
    let encoded: EncodedBatch;
    const storeTimestamp = this.o.clock.now();
    try {
      encoded = this.encoder.encode(batch, offsets, storeTimestamp, this.o.log.writeOffset, this.o.log.segmentSize);
    } catch (err) {
      if (err instanceof RecordError || err instanceof RangeError) {
        const tooLarge = err instanceof RecordError ? err.code === 'ETOOLARGE' : true;
        return refuse(tooLarge ? Status.MESSAGE_TOO_LARGE : Status.MESSAGE_ILLEGAL, err.message);
      }
      throw err;
    }

    try {
      for (const w of encoded.writes) {
        const at = this.o.log.append(w.buf);
        if (at !== w.offset) throw new StorageError('EOTHER', `commit log placed a write at ${at}, planned ${w.offset}`);
        this.o.onWritten?.({ offset: w.offset, end: w.offset + w.buf.length, batch, from: w.from, to: w.to, queueOffsets: offsets, sizes: encoded.sizes, storeTimestamp });
      }
    } catch (err) {
      // Part of the batch may be on storage, unacknowledged; recovery decides its fate. Refuse everything after.
      this.fail(err, 'write');
      reply({ status: this.failure!.status, message: this.failure!.message, results: [] });
      return 'failed';
    }
    for (const [k, v] of updates) this.queueOffsets.set(k, v);
    this.o.reservations?.written(updates, this.o.log.writeOffset);

    this.acknowledge(new CompactPutResult(encoded.offsets, offsets, encoded.sizes, this.o.msgId, this.msgIdPrefix), reply, storeTimestamp);
    return 'written';
  }

  /** Answers a write that does nothing: the log failed earlier, or it is empty (OK). */
  private refuseAtOnce(reply: (r: PutResult) => void): AppendOutcome {
    reply(this.failure ? { status: this.failure.status, message: `store failed earlier: ${this.failure.message}`, results: [] } : { status: Status.OK, results: [] });
    return 'refused';
  }

  /** A write is done: with sync flush it waits for the covering flush, with async flush it is answered now. */
  private acknowledge(result: PutResult, reply: (r: PutResult) => void, at: number): void {
    if (this.o.flush === 'sync') {
      this.waiting.push({ end: this.o.log.writeOffset, at, result, reply });
      if (this.timeoutTimer === undefined) this.armFlushTimeout(this.flushTimeoutMs);
      this.publish();
    } else {
      // Published first: the dispatcher's run is queued before the caller hears of the ack.
      this.publish();
      if (!this.o.log.hasStaged) return reply(result);
      // staged in the log's tail: answered once written to its file (a process that dies first acknowledged nothing)
      this.unwritten.push({ result, reply });
      if (!this.drainQueued) {
        this.drainQueued = true;
        queueMicrotask(this.drainStaged);
      }
    }
  }

  /** Writes what this turn's appends staged in one write (SegmentedLog.stageWrites), then answers them. */
  private readonly drainStaged = (): void => {
    this.drainQueued = false;
    try {
      this.o.log.drain();
    } catch (err) {
      this.fail(err, 'write'); // answers the unwritten too
      return;
    }
    const list = this.unwritten;
    this.unwritten = [];
    for (const u of list) u.reply(u.result);
  };

  /**
   * Replication (a slave): appends records a master shipped for `offset`, checked first (checkReplicaChunk:
   * magic, CRC, each record's own offset), through the segmented log, which rolls where the master's did.
   * `reply` hears the outcome as append's does: with sync flush after the covering flush. Refused when the chunk
   * does not land at `offset` (the log is elsewhere: the caller asks again from its write offset).
   */
  appendReplica(offset: number, data: Uint8Array, reply: (r: PutResult) => void): AppendOutcome {
    const refuse = (status: number, message: string): AppendOutcome => {
      reply({ status, message, results: [] });
      return 'refused';
    };
    if (this.failure || data.length === 0) return this.refuseAtOnce(reply);
    let at: number;
    try {
      at = this.o.log.nextAppendOffset(data.length);
    } catch (err) {
      return refuse(Status.MESSAGE_ILLEGAL, `replica chunk of ${data.length} bytes: ${(err as Error).message}`);
    }
    if (at !== offset) return refuse(Status.INVALID_ARGUMENT, `replica chunk for ${offset} would land at ${at} (write offset ${this.o.log.writeOffset})`);
    let checked: CheckedChunk;
    try {
      checked = checkReplicaChunk(data, offset);
    } catch (err) {
      if (err instanceof ReplicaDataError) return refuse(Status.MESSAGE_ILLEGAL, err.message);
      throw err;
    }
    try {
      this.o.log.append(data);
    } catch (err) {
      this.fail(err, 'write');
      reply({ status: this.failure!.status, message: this.failure!.message, results: [] });
      return 'failed';
    }
    for (const [k, v] of checked.queueOffsets) if (v > (this.queueOffsets.get(k) ?? 0)) this.queueOffsets.set(k, v);
    this.acknowledge({ status: Status.OK, results: [], count: checked.records }, reply, this.o.clock.now());
    return 'written';
  }

  /**
   * Flushes everything written so far, then acknowledges the batches it covers. Writes made while it runs
   * wait for the next flush. Rejects (after failing every waiting batch) when storage fails.
   */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    const run = async (): Promise<void> => {
      const onFlush = this.o.onFlush;
      const start = onFlush === undefined ? 0 : this.o.clock.monotonicMs();
      const from = this.o.log.flushedOffset;
      try {
        await this.o.log.flush();
      } catch (err) {
        this.fail(err, 'flush');
        throw err;
      } finally {
        this.flushing = undefined;
      }
      if (this.failure) return;
      const flushed = this.o.log.flushedOffset;
      if (onFlush !== undefined && flushed > from) onFlush(this.o.clock.monotonicMs() - start, flushed - from);
      let n = 0;
      while (n < this.waiting.length && this.waiting[n]!.end <= flushed) n++;
      const done = this.waiting.splice(0, n);
      this.publish();
      for (const w of done) w.reply(w.result);
    };
    this.flushing = run();
    return this.flushing;
  }

  /**
   * One timer at a time, on the injected clock: when it fires, every batch written flushTimeoutMs ago or more
   * and still waiting for its flush is answered FLUSH_DISK_TIMEOUT; it is then set again for the oldest left.
   * While flushes keep up it fires at most once per flushTimeoutMs and finds nothing.
   */
  private armFlushTimeout(delayMs: number): void {
    this.timeoutTimer = this.o.clock.setTimeout(() => {
      this.timeoutTimer = undefined;
      if (this.failure) return;
      const now = this.o.clock.now();
      let n = 0;
      while (n < this.waiting.length && now - this.waiting[n]!.at >= this.flushTimeoutMs) n++;
      const late = this.waiting.splice(0, n);
      if (late.length > 0) {
        this.flushTimeouts += late.length;
        this.o.logger.warn({ batches: late.length, flushTimeoutMs: this.flushTimeoutMs, flushedOffset: this.o.log.flushedOffset }, 'commit log: flush is late; batches answered FLUSH_DISK_TIMEOUT');
        for (const w of late) w.reply(flushTimedOut(w.result, now - w.at));
      }
      const oldest = this.waiting[0];
      if (oldest !== undefined) this.armFlushTimeout(Math.max(1, oldest.at + this.flushTimeoutMs - now));
    }, delayMs);
  }

  /**
   * The log was cut at `offset` (replication truncating a divergent tail): batches waiting for a flush past it
   * are failed, queue offsets are the ones given (rebuilt from the cut consume queues), positions republished.
   */
  truncated(offset: number, queueOffsets: ReadonlyMap<string, number>): void {
    const gone = this.waiting.filter((w) => w.end > offset);
    this.waiting.splice(0, this.waiting.length, ...this.waiting.filter((w) => w.end <= offset));
    for (const w of gone) w.reply({ status: Status.STORE_FAILED, message: `the commit log was truncated at ${offset} before this was flushed`, results: [] });
    this.queueOffsets.clear();
    for (const [k, v] of queueOffsets) this.queueOffsets.set(k, v);
    this.publish();
  }

  /** Marks the log failed and fails every waiting batch (nothing unflushed is acknowledged). */
  fail(err: unknown, what: string): void {
    if (!this.failure) {
      const full = err instanceof StorageError && err.code === 'ENOSPC';
      const message = `commit log ${what} failed: ${err instanceof Error ? err.message : String(err)}`;
      this.failure = { status: full ? Status.DISK_FULL : Status.STORE_FAILED, message };
      this.o.logger.error({ err }, message);
      this.o.onFailed?.();
    }
    this.failWaiting(this.failure.status, this.failure.message);
    this.rejectFlushWaiters(this.failure.message);
  }

  /** Answers every waiting batch with `status` (failure, or a store shutting down without a flush). */
  failWaiting(status: number, message: string): void {
    const list = [...this.waiting.splice(0), ...this.unwritten.splice(0)];
    for (const w of list) w.reply({ status, message, results: [] });
  }

  /** Waits for a running flush, then flushes what is left (clean shutdown). */
  async drain(): Promise<void> {
    if (this.failure) return;
    if (this.flushing) await this.flushing.catch(() => undefined);
    if (this.failure) return;
    if (this.dirty || this.waiting.length > 0) await this.flush();
  }

  /**
   * The volume's usage, asked of storage (a statfs) at most every USAGE_CHECK_BYTES written or
   * USAGE_CHECK_MS, and on every batch while the last answer was over the limit, not once per batch.
   */
  private diskUsage(): StorageUsage {
    const now = this.o.clock.now();
    const u = this.usage;
    if (
      u === undefined ||
      (u.totalBytes > 0 && u.usedBytes / u.totalBytes > this.o.maxDiskUsageRatio) ||
      this.o.log.writeOffset - this.usageAtOffset >= USAGE_CHECK_BYTES ||
      now - this.usageAtMs >= USAGE_CHECK_MS ||
      now < this.usageAtMs
    ) {
      this.usage = this.o.storage.usage(this.o.usagePath);
      this.usageAtOffset = this.o.log.writeOffset;
      this.usageAtMs = now;
    }
    return this.usage!;
  }

  /**
   * Resolves once every byte below `offset` is flushed (at once if it is); rejects with StorageError when the
   * log fails or closes first. With async flush this is how a writer whose own progress is persisted (the delay
   * and timer schedulers) learns that what it wrote survives a power loss, before it records it as done.
   */
  whenFlushed(offset: number): Promise<void> {
    if (this.o.log.flushedOffset >= offset) return Promise.resolve();
    if (this.failure) return Promise.reject(new StorageError('EOTHER', `commit log not flushed to ${offset}: ${this.failure.message}`));
    if (this.closed) return Promise.reject(new StorageError('EOTHER', `commit log not flushed to ${offset}: it is closed`));
    return new Promise((resolve, reject) => this.flushWaiters.push({ offset, resolve, reject }));
  }

  private publish(): void {
    this.positions.next({ writeOffset: this.o.log.writeOffset, flushedOffset: this.o.log.flushedOffset, visibleOffset: this.committedOffset });
    if (this.flushWaiters.length === 0) return;
    const flushed = this.o.log.flushedOffset;
    const left: FlushWaiter[] = [];
    for (const w of this.flushWaiters) {
      if (w.offset <= flushed) w.resolve();
      else left.push(w);
    }
    this.flushWaiters = left;
  }

  private rejectFlushWaiters(why: string): void {
    const list = this.flushWaiters;
    this.flushWaiters = [];
    for (const w of list) w.reject(new StorageError('EOTHER', `commit log not flushed to ${w.offset}: ${why}`));
  }

  complete(): void {
    this.o.clock.clearTimeout(this.timeoutTimer);
    this.timeoutTimer = undefined;
    this.closed = true;
    this.rejectFlushWaiters('it is closed');
    this.positions.complete();
  }
}
