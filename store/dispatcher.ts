import { Subject, type Observable, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import { tagHash } from '../actors/protocol/tags.js';
import type { CommitPosition, FlushMode } from './commit-log.js';
import type { ConsumeQueueSet, CqEntry } from './consume-queue.js';
import { keyHash, type IndexEntry, type KeyIndex } from './key-index.js';
import { END_OF_SEGMENT_MIN, PROP_KEYS, PROP_TAGS, PROP_UNIQ_KEY, decodeRecord, splitKeys, type MessageRecord } from './record.js';
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
  /** Bytes read from the commit log per step. */
  chunkBytes?: number;
  /** Bytes indexed per run before yielding (the rest follows in a later microtask). */
  maxBytesPerRun?: number;
}

export class DispatchError extends Error {
  readonly code = 'ECORRUPT';
  constructor(message: string) {
    super(message);
    this.name = 'DispatchError';
  }
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
  private readonly newData = new Subject<NewData>();
  private readonly records = new Subject<DispatchedRecord[]>();
  private readonly chunk: number;
  private readonly perRun: number;

  constructor(private readonly o: DispatcherOptions) {
    this.pos = o.from;
    this.target = o.from;
    this.chunk = o.chunkBytes ?? 256 * 1024;
    this.perRun = o.maxBytesPerRun ?? 16 * 1024 * 1024;
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

  /** Follows committed positions: flushed data with sync flush, written data with async. */
  follow(positions$: Observable<CommitPosition>, mode: FlushMode): void {
    this.sub?.unsubscribe();
    this.sub = positions$.subscribe((p) => this.commitTo(mode === 'sync' ? p.flushedOffset : p.writeOffset));
  }

  /** Data up to `offset` is committed: index it soon (in a microtask). */
  commitTo(offset: number): void {
    if (offset <= this.target) return;
    this.target = offset;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.stalled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      try {
        this.dispatchUpTo(this.target, this.perRun);
      } catch (err) {
        this.o.logger.error({ err }, 'dispatcher stopped');
        if (!this.stalled) this.stalled = new DispatchError(`dispatcher stopped at ${this.pos}: ${(err as Error).message}`);
        return;
      }
      if (this.pos < this.target) this.schedule();
    });
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
    while (this.pos < end && this.pos < stopAt) {
      const segEnd = log.segmentStart(this.pos) + seg;
      if (segEnd - this.pos < END_OF_SEGMENT_MIN) {
        this.pos = segEnd;
        continue;
      }
      let buf = log.read(this.pos, Math.min(this.chunk, end - this.pos));
      const found: DispatchedRecord[] = [];
      let p = 0;
      let next = this.pos;
      for (;;) {
        if (next >= end) break;
        const d = decodeRecord(buf, p);
        if (d.kind === 'record') {
          found.push({ record: d.record, size: d.size });
          p += d.size;
          next += d.size;
          continue;
        }
        if (d.kind === 'end-of-segment') {
          next = segEnd;
          break;
        }
        if (d.kind === 'incomplete') {
          if (p > 0) break; // read again from `next`
          const size = buf.length >= 4 ? new DataView(buf.buffer, buf.byteOffset, 4).getUint32(0) : 0;
          if (size > buf.length && this.pos + size <= end) {
            buf = log.read(this.pos, size);
            if (buf.length === size) continue;
          }
          if (segEnd - this.pos < END_OF_SEGMENT_MIN || buf.length < END_OF_SEGMENT_MIN) {
            throw new DispatchError(`record at ${this.pos} is cut short (committed up to ${end})`);
          }
          throw new DispatchError(`record at ${this.pos} runs past the committed end ${end}`);
        }
        throw new DispatchError(`corrupt record at ${next}: ${d.reason}`);
      }
      if (found.length > 0) {
        this.index(found);
        count += found.length;
      }
      if (next === this.pos) throw new DispatchError(`no progress at ${this.pos}`);
      this.pos = next;
    }
    return count;
  }

  private index(found: DispatchedRecord[]): void {
    const perQueue = new Map<string, { topic: string; queueId: number; first: number; list: CqEntry[] }>();
    const keys: IndexEntry[] = [];
    for (const { record: r, size } of found) {
      const k = `${r.topic}#${r.queueId}`;
      let g = perQueue.get(k);
      const entry: CqEntry = { commitLogOffset: r.commitLogOffset, size, tagHash: tagHash(r.properties[PROP_TAGS]) };
      if (g && g.first + g.list.length === r.queueOffset) {
        g.list.push(entry);
      } else {
        if (g) this.putQueue(g);
        g = { topic: r.topic, queueId: r.queueId, first: r.queueOffset, list: [entry] };
        perQueue.set(k, g);
      }
      const ks = splitKeys(r.properties[PROP_KEYS]);
      const uniq = r.properties[PROP_UNIQ_KEY];
      if (uniq !== undefined && uniq !== '') ks.push(uniq);
      for (const key of ks) keys.push({ keyHash: keyHash(r.topic, key), commitLogOffset: r.commitLogOffset, storeTimestamp: r.storeTimestamp });
    }
    for (const g of perQueue.values()) this.putQueue(g);
    if (keys.length > 0) this.o.index.add(keys);
    if (this.records.observed) this.records.next(found);
    for (const g of perQueue.values()) {
      const cq = this.o.queues.get(g.topic, g.queueId)!;
      this.newData.next({ topic: g.topic, queueId: g.queueId, maxOffset: cq.maxOffset });
    }
  }

  private putQueue(g: { topic: string; queueId: number; first: number; list: CqEntry[] }): void {
    this.o.queues.get(g.topic, g.queueId)!.put(g.first, g.list);
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.stalled ??= new DispatchError('dispatcher stopped');
  }

  complete(): void {
    this.stop();
    this.newData.complete();
    this.records.complete();
  }
}
