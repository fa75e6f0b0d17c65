import { readUtf8 } from '../core/utf8-strings.js';
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import { readU32, readU64, sameBytes, writeU32, writeU64 } from '../core/bytes.js';
import { MessageProperty } from '../core/message.js';
import {
  KEY_SEPARATOR,
  PROP_KEYS,
  PROP_TAGS,
  RecordField,
  RecordFields,
  RecordLayout,
  recordSizeAt,
  Scan,
  scanRecord,
} from '../core/record-layout.js';
import { tagHash } from '../core/tags.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { StorageError } from './backend.js';
import type { CommitPosition } from './commit-log.js';
import type { PutMessage } from './commit-log-batch.js';
import { CQ_ENTRY_SIZE, type ConsumeQueueSet } from './consume-queue.js';
import { IndexBatch, keyHashAscii, keyHashFrom, keyHashHex8, keyHashState, topicHashSeed, type KeyIndex } from './key-index.js';
import { decodeRecord, recordCrc, type MessageRecord } from './record.js';
import type { SegmentedLog } from './segmented-log.js';

export interface NewData {
  topic: string;
  queueId: number;
  /** The queue's new max offset (one past its last message). */
  maxOffset: number;
}

export interface DispatcherOptions {
  log: SegmentedLog;
  queues: ConsumeQueueSet;
  index: KeyIndex;
  logger: Logger;
  /** Where to start: the first commit log offset not yet indexed. */
  from: number;
  /** Corrupt ranges recovery found (ascending): stepped over, their records lost (queues get blanks for them). */
  skip?: readonly { from: number; to: number }[];
  /** Bytes read from the commit log per step. */
  chunkBytes?: number;
  /** Bytes indexed per run (default 4 MiB); what is left goes on in a later run (see `clock`). */
  maxBytesPerRun?: number;
  /**
   * Where a run that left data to index goes on: a 0 ms timer on this clock, so that I/O (requests, heartbeats,
   * lease renewals) has its turn between runs. A backlog let go at once (a confirm limit lifted, indexing resumed
   * after a storage failure) would otherwise be indexed in one chain of microtasks that holds the event loop for
   * as long as it takes (about half a second per million records). Without it, the next run is a microtask.
   */
  clock?: Clock;
  /**
   * A consume queue or index write that fails with ENOSPC or EIO pauses dispatching instead of ending it: the
   * run is tried again every `ms` on `clock` until it succeeds, from where it stopped, so no entry is skipped.
   * Without it, or for any other failure, the dispatcher stops as it does on corrupt data.
   */
  retry?: { clock: Clock; ms: number };
  /** Hears when dispatching pauses on a storage failure, resumes, or stops for good (see `fault` and `error`). */
  onChange?: () => void;
}

/** Storage failures that may pass (space freed, a device that recovers): dispatching waits them out. */
const PASSING_FAULTS: ReadonlySet<string> = new Set(['ENOSPC', 'EIO']);

export class DispatchError extends Error {
  readonly code = 'ECORRUPT';
  constructor(message: string) {
    super(message);
    this.name = 'DispatchError';
  }
}

/**
 * What the commit log knows about one write it made (records [from, to) of a batch, back to back from
 * `offset`): enough to index it without parsing it again.
 */
export interface WriteSummary {
  offset: number;
  end: number;
  batch: readonly PutMessage[];
  from: number;
  to: number;
  queueOffsets: readonly number[];
  sizes: readonly number[];
  storeTimestamp: number;
}

const MAX_SUMMARIES = 4096;

const SCAN_INCOMPLETE = -1;
const SCAN_END_OF_SEGMENT = -2;
const SCAN_CORRUPT = -3;
/** No key hash (key hashes are u32). */
const NO_KEY = -1;

/** Consume queue entries of one queue for consecutive queue offsets, encoded as they are found. */
interface QueueRun {
  topic: string;
  queueId: number;
  first: number;
  count: number;
  bytes: Uint8Array;
}

/** What one chunk of the commit log adds to the consume queues and the key index. */
interface Run {
  records: number;
  /** In the order they started (a queue may have several when its offsets jump). */
  groups: QueueRun[];
  /** The latest group of each queue. */
  byQueue: Map<string, QueueRun>;
  last: QueueRun | undefined;
  /** The dispatcher's one key batch, cleared when a run begins. */
  keys: IndexBatch;
  /** Fully decoded records, only while someone follows records$. */
  full: DispatchedRecord[] | undefined;
}

const UNIQ_KEY_BYTES = [0x55, 0x4e, 0x49, 0x51, 0x5f, 0x4b, 0x45, 0x59]; // 'UNIQ_KEY'

function isUniqKey(buf: Uint8Array, k: number): boolean {
  for (let i = 0; i < 8; i++) if (buf[k + i] !== UNIQ_KEY_BYTES[i]) return false;
  return true;
}

/** A decoded record with where it lives. */
export interface DispatchedRecord {
  record: MessageRecord;
  size: number;
}

/**
 * Follows the commit log in order from its own position: decodes committed records in chunks, appends their
 * consume queue entries (one write per queue per chunk) and key index entries (one write per chunk), then
 * announces the queues that grew on `newData$` so that long-polling pulls wake.
 *
 * A plain class, not a machine: it has no lifecycle beyond following a stream (idle or running, which a
 * flag expresses), and a machine event per commit would add cost without adding states worth observing.
 * Runs are coalesced into microtasks, so a burst of commits costs one run.
 */
export class Dispatcher {
  private pos: number;
  private target: number;
  private scheduled = false;
  private sub: Subscription | undefined;
  private stalled: DispatchError | undefined;
  /** The storage failure dispatching waits out (see DispatcherOptions.retry), and the timer of its next try. */
  private paused: StorageError | undefined;
  private retryTimer: TimerHandle | undefined;
  /** The timer of the run that goes on with a backlog (see DispatcherOptions.clock). */
  private nextRunTimer: TimerHandle | undefined;
  private readonly newData = new Subject<NewData>();
  private readonly records = new Subject<DispatchedRecord[]>();
  private readonly chunk: number;
  private readonly perRun: number;
  private topicCache: Uint8Array = new Uint8Array(0);
  private readonly keyBatch = new IndexBatch();
  /** Where the fields of the record being scanned are. */
  private readonly fields = new RecordFields();
  /** keyHash's seed for the topic of the last keys indexed. */
  private seedTopic = '';
  private seed = topicHashSeed('');
  /** The hash state after the last unique key prefix (with its topic's seed). */
  private keyPrefix: string | undefined;
  private prefixSeed = 0;
  private prefixState = 0;
  private topicName = '';
  private tagCache: Uint8Array = new Uint8Array(0);
  private tagHashValue = 0;
  /**
   * Recovery re-dispatches what a crash left and checks every CRC; once following the live commit log (data
   * this process has just encoded and CRC'd) the check is skipped, as RocketMQ's dispatcher skips it.
   */
  private verifyCrc = true;
  private readonly scratch = new Map<string, Uint8Array>();
  /** Summaries not yet used, from summaryHead on (used slots are cleared: a summary holds its whole batch). */
  private readonly summaries: (WriteSummary | undefined)[] = [];
  private summaryHead = 0;
  /** The next of the ranges to step over (o.skip). */
  private skipAt = 0;
  /** The visible offset last followed, and the confirm limit (limitTo). */
  private visibleSeen = 0;
  private confirmLimit = Infinity;

  constructor(private readonly o: DispatcherOptions) {
    this.pos = o.from;
    this.target = o.from;
    this.chunk = o.chunkBytes ?? 256 * 1024;
    this.perRun = o.maxBytesPerRun ?? 4 * 1024 * 1024;
  }

  /** First commit log offset not yet indexed. */
  get position(): number {
    return this.pos;
  }
  get newData$(): Observable<NewData> {
    return this.newData.asObservable();
  }
  /** Every record as it is indexed, in commit log order, in batches (for delay and transaction services). */
  get records$(): Observable<DispatchedRecord[]> {
    return this.records.asObservable();
  }
  get error(): DispatchError | undefined {
    return this.stalled;
  }
  /** The storage failure dispatching is paused on, retried on its timer (undefined while it runs). */
  get fault(): StorageError | undefined {
    return this.paused;
  }

  /**
   * Follows committed positions: what the commit log says may be served (CommitPosition.visibleOffset: flushed
   * data, or written data whose queue offsets are reserved; see CommitLog.committedOffset).
   */
  follow(positions$: Observable<CommitPosition>): void {
    this.sub?.unsubscribe();
    this.verifyCrc = false;
    this.sub = positions$.subscribe((p) => {
      this.visibleSeen = p.visibleOffset;
      this.commitTo(Math.min(p.visibleOffset, this.confirmLimit));
    });
  }

  /**
   * Replication under a controller: indexing (what consumers see) stops at `offset` as well as at the flushed
   * offset: at the group's confirm offset, what enough in-sync replicas hold, so that no consumer reads a
   * message a failover can take back (apache/rocketmq#6662). Infinity lifts the limit.
   */
  /** An empty store that starts mid-stream (MessageStore.startAtSegmentOf): indexing starts at `offset`. */
  startAt(offset: number): void {
    if (this.pos !== 0 || this.target !== 0) return;
    this.pos = offset;
    this.target = offset;
    this.visibleSeen = offset;
  }

  get limit(): number {
    return this.confirmLimit;
  }

  limitTo(offset: number): void {
    this.confirmLimit = offset;
    this.commitTo(Math.min(this.visibleSeen, offset));
  }

  /**
   * Truncation of the commit log at `offset` (the caller cuts the consume queues and the index there):
   * indexing resumes from `offset` at most, and summaries of writes that are gone are dropped.
   */
  rewind(offset: number): void {
    this.pos = Math.min(this.pos, offset);
    this.target = Math.min(this.target, offset);
    this.summaries.length = 0;
    this.summaryHead = 0;
    this.skipAt = 0;
  }

  /** Data up to `offset` is committed: index it soon (in a microtask). */
  commitTo(offset: number): void {
    if (offset <= this.target) return;
    this.target = offset;
    this.schedule();
  }

  /** A run soon: in a microtask (new data is indexed as soon as the code that wrote it is done). */
  private schedule(): void {
    if (this.scheduled || this.stalled || this.retryTimer !== undefined) return;
    this.scheduled = true;
    queueMicrotask(this.run);
  }

  /** A run after I/O has had its turn (see DispatcherOptions.clock). */
  private scheduleAfterIo(): void {
    const clock = this.o.clock;
    if (clock === undefined) return this.schedule();
    if (this.scheduled || this.stalled || this.retryTimer !== undefined) return;
    this.scheduled = true;
    this.nextRunTimer = clock.setTimeout(this.run, 0);
  }

  /** Indexes up to maxBytesPerRun of what is committed; a backlog goes on in another run. */
  private readonly run = (): void => {
    this.scheduled = false;
    this.nextRunTimer = undefined;
    if (this.stalled) return; // stopped since this run was queued: its files may be closed
    try {
      if (this.paused) this.o.queues.writeOut(); // a failed write-out (see flushQueues) is tried again too
      this.dispatchUpTo(this.target, this.perRun);
    } catch (err) {
      return this.failed(err);
    }
    if (this.paused) {
      this.o.logger.warn({ position: this.pos }, 'dispatching resumed: consume queue and index writes succeed again');
      this.paused = undefined;
      this.o.onChange?.();
    }
    if (this.pos < this.target) this.scheduleAfterIo();
  };

  /**
   * Writes the consume queue entries held back and flushes the queues (ConsumeQueueSet.flush; the store's
   * checkpoint). A failed write-out pauses or stops dispatching as a failed write while indexing does, and is
   * thrown. Resolves with the number of queues flushed.
   */
  flushQueues(): Promise<number> {
    return this.o.queues.flush((q) => {
      try {
        q.writeOut();
      } catch (err) {
        if (!this.stalled) this.failed(err);
        throw err;
      }
    });
  }

  /** A write while indexing failed: a storage failure that passes pauses dispatching, any other stops it. */
  private failed(err: unknown): void {
    if (err instanceof StorageError && PASSING_FAULTS.has(err.code) && this.o.retry) return this.pause(err, this.o.retry);
    this.o.logger.error({ err }, 'dispatcher stopped');
    if (!this.stalled) this.stalled = new DispatchError(`dispatcher stopped at ${this.pos}: ${(err as Error).message}`);
    this.o.onChange?.();
  }

  /** A storage failure: dispatching waits and tries the same run again later (logged once per failure). */
  private pause(err: StorageError, retry: { clock: Clock; ms: number }): void {
    if (!this.paused) {
      this.paused = err;
      this.o.logger.error({ err, position: this.pos, retryMs: retry.ms }, 'dispatching paused: a consume queue or index write failed; retrying until it succeeds');
      this.o.onChange?.();
    }
    if (this.retryTimer !== undefined) return;
    this.retryTimer = retry.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule();
    }, retry.ms);
  }

  /**
   * Indexes records in [position, end), at most about `maxBytes` of them; synchronous (recovery calls it
   * directly). Returns the number of records indexed. Throws DispatchError when committed data does not decode.
   */
  dispatchUpTo(end: number, maxBytes = Number.MAX_SAFE_INTEGER): number {
    const log = this.o.log;
    const seg = log.segmentSize;
    const stopAt = Math.min(end, this.pos + maxBytes);
    let count = 0;
    const skip = this.o.skip ?? [];
    while (this.pos < end && this.pos < stopAt) {
      while (this.skipAt < skip.length && skip[this.skipAt]!.to <= this.pos) this.skipAt++;
      const hole = skip[this.skipAt];
      if (hole !== undefined && hole.from <= this.pos) {
        this.pos = hole.to; // corrupt bytes: the records after them are indexed as usual
        continue;
      }
      // a chunk stops where corrupt bytes begin
      const limit = hole !== undefined && hole.from < end ? hole.from : end;
      const segEnd = log.segmentStart(this.pos) + seg;
      if (segEnd - this.pos < RecordLayout.EndOfSegmentMin) {
        this.pos = segEnd;
        continue;
      }
      const run = this.beginRun();
      if (!run.full) {
        // Writes the commit log summarized: indexed without parsing them.
        let s = this.summaryAt(this.pos, limit);
        if (s !== undefined) {
          let at = this.pos;
          while (s !== undefined) {
            this.indexSummary(s, run);
            at = s.end;
            if (at >= stopAt) break;
            s = this.summaryAt(at, limit);
          }
          // the position moves only once the run is written: a failed write is tried again from here
          this.finishRun(run);
          this.pos = at;
          count += run.records;
          continue;
        }
      }
      // Decoded at once and not kept (unless records$ is followed): a view into the log's tail will do.
      let buf = run.full ? log.read(this.pos, Math.min(this.chunk, limit - this.pos)) : log.readTransient(this.pos, Math.min(this.chunk, limit - this.pos));
      let p = 0;
      let next = this.pos;
      for (;;) {
        if (next >= limit) break;
        const size = this.scan(buf, p, run);
        if (size > 0) {
          p += size;
          next += size;
          continue;
        }
        if (size === SCAN_END_OF_SEGMENT) {
          next = segEnd;
          break;
        }
        if (size === SCAN_INCOMPLETE) {
          if (p > 0) break; // read again from `next`
          const want = buf.length >= 4 ? recordSizeAt(buf, 0) : 0;
          if (want > buf.length && this.pos + want <= limit) {
            buf = log.read(this.pos, want);
            if (buf.length === want) continue;
          }
          if (segEnd - this.pos < RecordLayout.EndOfSegmentMin || buf.length < RecordLayout.EndOfSegmentMin) {
            throw new DispatchError(`record at ${this.pos} is cut short (committed up to ${end})`);
          }
          throw new DispatchError(`record at ${this.pos} runs past the committed end ${end}`);
        }
        const d = decodeRecord(buf, p);
        throw new DispatchError(`corrupt record at ${next}: ${d.kind === 'corrupt' ? d.reason : 'malformed record'}`);
      }
      if (run.records > 0) {
        this.finishRun(run);
        count += run.records;
      }
      if (next === this.pos) throw new DispatchError(`no progress at ${this.pos}`);
      this.pos = next;
    }
    return count;
  }

  // -------------------------------------------------------------------------------- indexing a chunk

  private beginRun(): Run {
    this.keyBatch.clear();
    return { records: 0, groups: [], byQueue: new Map(), last: undefined, keys: this.keyBatch, full: this.records.observed ? [] : undefined };
  }

  /**
   * Reads what indexing needs from the record at buf[p...] in place (topic, queue id and offset, tag hash,
   * keys; never the body) and adds its consume queue entry to the run. Returns the record size, or one of the
   * SCAN_ codes (nothing added).
   */
  private scan(buf: Uint8Array, p: number, run: Run): number {
    const avail = buf.length - p;
    if (avail < 8) return SCAN_INCOMPLETE;
    const size = recordSizeAt(buf, p);
    const magic = readU32(buf, p + RecordField.Magic);
    if (magic === RecordLayout.EndMagic) return size >= RecordLayout.EndOfSegmentMin ? SCAN_END_OF_SEGMENT : SCAN_CORRUPT;
    if (magic !== RecordLayout.Magic || size < RecordLayout.FixedSize || size > RecordLayout.MaxSize) return SCAN_CORRUPT;
    if (avail < size) return SCAN_INCOMPLETE;
    if (this.verifyCrc && recordCrc(buf, p, size) !== readU32(buf, p + RecordField.Crc)) return SCAN_CORRUPT;
    const end = p + size;
    const f = this.fields;
    if (scanRecord(buf, p, end, f) !== Scan.Ok) return SCAN_CORRUPT;
    const queueId = readU32(buf, p + RecordField.QueueId);
    const queueOffset = readU64(buf, p + RecordField.QueueOffset);
    const commitLogOffset = readU64(buf, p + RecordField.CommitLogOffset);
    const storeTimestamp = readU64(buf, f.storeTimestamp);
    const topic = this.topicAt(buf, f.topic, f.topicLength);
    if (topic === undefined || queueOffset < 0 || commitLogOffset < 0 || storeTimestamp < 0) return SCAN_CORRUPT;

    // Properties: only TAGS, KEYS and UNIQ_KEY matter here.
    let tagHashValue = 0;
    let keys: string[] | undefined;
    let uniqHash = NO_KEY;
    let k = f.properties;
    while (k < end) {
      let sep = k;
      while (sep < end && buf[sep] !== RecordLayout.NameValueSeparator) sep++;
      let stop = sep + 1;
      while (stop < end && buf[stop] !== RecordLayout.PropertySeparator) stop++;
      if (sep >= end || stop >= end) return SCAN_CORRUPT;
      const nameLen = sep - k;
      if (nameLen === 4 && buf[k] === 0x54 && buf[k + 1] === 0x41 && buf[k + 2] === 0x47 && buf[k + 3] === 0x53) {
        tagHashValue = this.tagHashAt(buf, sep + 1, stop);
      } else if (nameLen === 4 && buf[k] === 0x4b && buf[k + 1] === 0x45 && buf[k + 2] === 0x59 && buf[k + 3] === 0x53) {
        const v = readUtf8(buf, sep + 1, stop);
        if (v === undefined) return SCAN_CORRUPT;
        for (const key of v.split(KEY_SEPARATOR)) if (key.length > 0) (keys ??= []).push(key);
      } else if (nameLen === 8 && isUniqKey(buf, k) && stop > sep + 1) {
        // hashed from its bytes: a unique key is new with every record, its string would be garbage at once
        uniqHash = keyHashAscii(this.seedOf(topic), buf, sep + 1, stop);
        if (uniqHash === NO_KEY) {
          const v = readUtf8(buf, sep + 1, stop);
          if (v === undefined) return SCAN_CORRUPT;
          (keys ??= []).push(v);
        }
      }
      k = stop + 1;
    }
    if (run.full) {
      const d = decodeRecord(buf, p);
      if (d.kind !== 'record') return SCAN_CORRUPT;
      run.full.push({ record: d.record, size });
    }

    this.addEntry(run, topic, queueId, queueOffset, commitLogOffset, size, tagHashValue, keys, uniqHash, storeTimestamp);
    return size;
  }

  /**
   * A queue's buffer for the entries of a run, reused from run to run (consume queue writes copy at once).
   * Bounded: past 4096 queues the buffers are dropped and made anew.
   */
  private scratchFor(queueKey: string): Uint8Array {
    let b = this.scratch.get(queueKey);
    if (b === undefined) {
      if (this.scratch.size >= 4096) this.scratch.clear();
      b = new Uint8Array(256 * CQ_ENTRY_SIZE);
      this.scratch.set(queueKey, b);
    }
    return b;
  }

  /** Adds one record's consume queue entry to its queue's run (a new run when the queue offsets jump). */
  private addEntry(
    run: Run,
    topic: string,
    queueId: number,
    queueOffset: number,
    commitLogOffset: number,
    size: number,
    tagHashValue: number,
    keys: readonly string[] | undefined,
    /** The unique key's hash (apart, so that the usual record needs no key array), or NO_KEY. */
    uniqHash: number,
    storeTimestamp: number,
  ): void {
    let g = run.last;
    if (g === undefined || g.queueId !== queueId || g.topic !== topic || g.first + g.count !== queueOffset) {
      const qk = `${topic}#${queueId}`;
      g = run.byQueue.get(qk);
      if (g === undefined || g.first + g.count !== queueOffset) {
        if (g !== undefined) this.putQueue(g);
        g = { topic, queueId, first: queueOffset, count: 0, bytes: this.scratchFor(qk) };
        run.byQueue.set(qk, g);
        run.groups.push(g);
      }
      run.last = g;
    }
    const at = g.count * CQ_ENTRY_SIZE;
    if (at + CQ_ENTRY_SIZE > g.bytes.length) {
      const bigger = new Uint8Array(g.bytes.length * 2);
      bigger.set(g.bytes);
      g.bytes = bigger;
      this.scratch.set(`${topic}#${queueId}`, bigger);
    }
    const cq = g.bytes;
    writeU64(cq, at, commitLogOffset);
    writeU32(cq, at + 8, size);
    writeU32(cq, at + 12, tagHashValue < 0 ? -1 : 0);
    writeU32(cq, at + 16, tagHashValue);
    g.count++;
    run.records++;
    if (keys !== undefined) {
      const seed = this.seedOf(topic);
      for (const key of keys) run.keys.push(keyHashFrom(seed, key), commitLogOffset, storeTimestamp);
    }
    if (uniqHash !== NO_KEY) run.keys.push(uniqHash, commitLogOffset, storeTimestamp);
  }

  /** topicHashSeed(topic), remembered while the topic repeats. */
  private seedOf(topic: string): number {
    if (topic !== this.seedTopic) {
      this.seedTopic = topic;
      this.seed = topicHashSeed(topic);
    }
    return this.seed;
  }

  /** The hash of a record's unique key carried apart (a string, or a prefix and a number), or NO_KEY. */
  private apartKeyHash(m: PutMessage): number {
    if (m.uniqKey !== undefined) return m.uniqKey === '' ? NO_KEY : keyHashFrom(this.seedOf(m.topic), m.uniqKey);
    if (m.uniqPrefix === undefined) return NO_KEY;
    const seed = this.seedOf(m.topic);
    if (m.uniqPrefix !== this.keyPrefix || seed !== this.prefixSeed) {
      this.keyPrefix = m.uniqPrefix;
      this.prefixSeed = seed;
      this.prefixState = keyHashState(seed, m.uniqPrefix);
    }
    return keyHashHex8(this.prefixState, m.uniqSeq ?? 0);
  }

  /**
   * The commit log tells what it has just written (see WriteSummary); the dispatcher indexes such a write
   * from the summary instead of parsing its records again, when it reaches it. Bounded: the oldest summaries
   * are dropped past MAX_SUMMARIES (those writes are parsed as usual).
   */
  written(summary: WriteSummary): void {
    if (this.stalled) return;
    this.summaries.push(summary);
    if (this.summaries.length - this.summaryHead > MAX_SUMMARIES) this.summaries[this.summaryHead++] = undefined;
    if (this.summaryHead > 1024) {
      this.summaries.splice(0, this.summaryHead);
      this.summaryHead = 0;
    }
  }

  /** The summary of the write starting at `pos` that ends by `end`, if there is one (older ones are dropped). */
  private summaryAt(pos: number, end: number): WriteSummary | undefined {
    const q = this.summaries;
    while (this.summaryHead < q.length && q[this.summaryHead]!.offset < pos) q[this.summaryHead++] = undefined;
    if (this.summaryHead >= q.length) {
      q.length = 0;
      this.summaryHead = 0;
      return undefined;
    }
    const s = q[this.summaryHead]!;
    if (s.offset !== pos || s.end > end) return undefined;
    q[this.summaryHead++] = undefined;
    return s;
  }

  /** Indexes a write from its summary: the same entries a parse would give (tags and keys folded into properties as the encoder stores them). */
  private indexSummary(s: WriteSummary, run: Run): void {
    let off = s.offset;
    let lastTag: string | undefined;
    let lastHash = 0;
    for (let i = s.from; i < s.to; i++) {
      const m = s.batch[i]!;
      const size = s.sizes[i]!;
      const props = m.properties;
      const tag = m.tags !== undefined && m.tags !== '' ? m.tags : props?.[PROP_TAGS];
      if (tag !== lastTag) {
        lastTag = tag;
        lastHash = tagHash(tag);
      }
      let keys: string[] | undefined;
      const keysProp = m.keys !== undefined && m.keys.length > 0 ? m.keys.join(KEY_SEPARATOR) : props?.[PROP_KEYS];
      if (keysProp !== undefined) for (const k of keysProp.split(KEY_SEPARATOR)) if (k.length > 0) (keys ??= []).push(k);
      const own = props?.[MessageProperty.UNIQ_KEY];
      const uniqHash = own !== undefined ? (own === '' ? NO_KEY : keyHashFrom(this.seedOf(m.topic), own)) : this.apartKeyHash(m);
      this.addEntry(run, m.topic, m.queueId, s.queueOffsets[i]!, off, size, lastHash, keys, uniqHash, s.storeTimestamp);
      off += size;
    }
  }

  /** The topic at buf[q, q + len), decoded once while it repeats. */
  private topicAt(buf: Uint8Array, q: number, len: number): string | undefined {
    const c = this.topicCache;
    if (c.length === len && sameBytes(c, 0, buf, q, len)) return this.topicName;
    const s = readUtf8(buf, q, q + len);
    if (s === undefined) return undefined;
    this.topicCache = buf.slice(q, q + len);
    this.topicName = s;
    return s;
  }

  /** Java String.hashCode of the tag at buf[from, to), computed once while it repeats. */
  private tagHashAt(buf: Uint8Array, from: number, to: number): number {
    const c = this.tagCache;
    const len = to - from;
    if (c.length === len && sameBytes(c, 0, buf, from, len)) return this.tagHashValue;
    const s = readUtf8(buf, from, to);
    this.tagCache = buf.slice(from, to);
    this.tagHashValue = tagHash(s);
    return this.tagHashValue;
  }

  private finishRun(run: Run): void {
    for (const g of run.groups) this.putQueue(g);
    if (run.keys.length > 0) this.o.index.add(run.keys);
    if (run.full && this.records.observed) this.records.next(run.full);
    const announced = new Set<QueueRun>();
    for (const g of run.groups) {
      const latest = run.byQueue.get(`${g.topic}#${g.queueId}`)!;
      if (announced.has(latest)) continue;
      announced.add(latest);
      const cq = this.o.queues.get(g.topic, g.queueId)!;
      this.newData.next({ topic: g.topic, queueId: g.queueId, maxOffset: cq.maxOffset });
    }
  }

  private putQueue(g: QueueRun): void {
    if (g.count === 0) return;
    this.o.queues.get(g.topic, g.queueId)!.putEncoded(g.first, g.bytes.subarray(0, g.count * CQ_ENTRY_SIZE));
    g.count = 0;
    g.first = -1;
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.o.retry?.clock.clearTimeout(this.retryTimer);
    this.o.clock?.clearTimeout(this.nextRunTimer);
    this.stalled ??= new DispatchError('dispatcher stopped');
  }

  complete(): void {
    this.stop();
    this.newData.complete();
    this.records.complete();
  }
}
