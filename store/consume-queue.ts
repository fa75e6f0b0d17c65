import { readU32, setU64 } from '../core/bytes.js';
import type { StorageBackend } from './backend.js';
import { EntryFile } from './entry-file.js';
import { QueueMap } from '../core/queue-map.js';

/** Bytes of one consume queue entry: commit log offset (u64), size (u32), tag hash (u64, sign-extended i32). */
export const CQ_ENTRY_SIZE = 20;
/** RocketMQ's default: 300,000 entries (6,000,000 bytes) per file. */
export const DEFAULT_CQ_ENTRIES_PER_FILE = 300_000;
/**
 * Entries a store's consume queue holds back before it writes them (EntryFile's write-behind; they are written
 * at the latest by the next checkpoint's flush): 64 entries, 1,280 bytes, per queue written since that flush.
 */
export const DEFAULT_CQ_WRITE_BEHIND = 64;

export interface CqEntry {
  commitLogOffset: number;
  size: number;
  /** Java String.hashCode of the tag (a signed 32-bit integer); 0 without a tag. */
  tagHash: number;
}

const TWO32 = 4294967296;

export function encodeCqEntry(e: CqEntry, buf: Uint8Array, pos: number): void {
  const dv = new DataView(buf.buffer, buf.byteOffset + pos, CQ_ENTRY_SIZE);
  setU64(dv, 0, e.commitLogOffset);
  dv.setUint32(8, e.size);
  const h = e.tagHash | 0;
  dv.setInt32(12, h < 0 ? -1 : 0);
  dv.setInt32(16, h);
}

export function decodeCqEntry(buf: Uint8Array, pos: number): CqEntry {
  if (pos < 0 || pos + CQ_ENTRY_SIZE > buf.length) throw new RangeError(`no consume queue entry at ${pos} in ${buf.length} bytes`);
  return { commitLogOffset: cqOffsetAt(buf, pos), size: cqSizeAt(buf, pos), tagHash: cqTagHashAt(buf, pos) };
}

export function encodeCqEntries(entries: readonly CqEntry[]): Uint8Array {
  const buf = new Uint8Array(entries.length * CQ_ENTRY_SIZE);
  for (let i = 0; i < entries.length; i++) encodeCqEntry(entries[i]!, buf, i * CQ_ENTRY_SIZE);
  return buf;
}

/**
 * A blank entry (size 0) holds a number no message has: a hole in the numbering (all zeros), or a record
 * lost to corruption (its commit log offset field then says where, see markLost). Readers skip it.
 */
export function isBlank(e: CqEntry): boolean {
  return e.size === 0;
}

/** Commit log offset of the entry at byte `pos` of raw entry bytes (as `readBytes` returns them). */
export function cqOffsetAt(bytes: Uint8Array, pos: number): number {
  return readU32(bytes, pos) * TWO32 + readU32(bytes, pos + 4);
}

/** Record size of the entry at byte `pos`; 0 for a blank entry. */
export function cqSizeAt(bytes: Uint8Array, pos: number): number {
  return readU32(bytes, pos + 8);
}

/** Tag hash of the entry at byte `pos`. */
export function cqTagHashAt(bytes: Uint8Array, pos: number): number {
  const p = pos + 16;
  return (bytes[p]! << 24) | (bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!;
}

/** Path of a queue's directory under the store directory. */
export function consumeQueueDir(storeDir: string, topic: string, queueId: number): string {
  return `${storeDir}/consumequeue/${topic}/${queueId}`;
}

/**
 * One queue's index into the commit log: entry `i` (the message with queue offset `i`) holds where its
 * record lives and its tag hash, so that a pull finds and filters messages without scanning the commit log.
 * Entries point at ascending commit log offsets (they are written in commit log order by the dispatcher).
 */
export class ConsumeQueue {
  private constructor(
    readonly topic: string,
    readonly queueId: number,
    private readonly entries: EntryFile,
  ) {}

  /** `writeBehind`: entries held back before they are written (see EntryFile; 0, the default: none). */
  static open(storage: StorageBackend, storeDir: string, topic: string, queueId: number, entriesPerFile = DEFAULT_CQ_ENTRIES_PER_FILE, writeBehind = 0): ConsumeQueue {
    return new ConsumeQueue(topic, queueId, EntryFile.open(storage, consumeQueueDir(storeDir, topic, queueId), CQ_ENTRY_SIZE, entriesPerFile, writeBehind));
  }

  /** Smallest queue offset still readable. */
  get minOffset(): number {
    return this.entries.minIndex;
  }
  /** Queue offset the next entry gets (the number of messages ever put in the queue). */
  get maxOffset(): number {
    return this.entries.maxIndex;
  }
  get needsFlush(): boolean {
    return this.entries.needsFlush;
  }

  /**
   * Puts entries for consecutive queue offsets from `firstQueueOffset`, in one write per file. Entries below
   * maxOffset are already there (a re-dispatch after recovery) and are skipped; a hole before
   * `firstQueueOffset` is filled with blank entries. Returns the number of entries written (blanks excluded).
   */
  put(firstQueueOffset: number, list: readonly CqEntry[]): number {
    this.startIfEmpty(firstQueueOffset);
    const skip = Math.max(0, this.maxOffset - firstQueueOffset);
    if (skip >= list.length) return 0;
    const gap = Math.max(0, firstQueueOffset - this.maxOffset);
    const n = list.length - skip;
    const buf = new Uint8Array((gap + n) * CQ_ENTRY_SIZE);
    for (let i = 0; i < n; i++) encodeCqEntry(list[skip + i]!, buf, (gap + i) * CQ_ENTRY_SIZE);
    this.entries.append(buf);
    return n;
  }

  /**
   * As `put`, with the entries already encoded (`bytes` holds whole entries for consecutive queue offsets
   * from `firstQueueOffset`): the dispatcher's path, one write and no per-entry objects.
   */
  putEncoded(firstQueueOffset: number, bytes: Uint8Array): number {
    this.startIfEmpty(firstQueueOffset);
    const count = bytes.length / CQ_ENTRY_SIZE;
    const skip = Math.max(0, this.maxOffset - firstQueueOffset);
    if (skip >= count) return 0;
    const gap = Math.max(0, firstQueueOffset - this.maxOffset);
    if (gap === 0 && skip === 0) {
      this.entries.append(bytes);
      return count;
    }
    const buf = new Uint8Array((gap + count - skip) * CQ_ENTRY_SIZE);
    buf.set(bytes.subarray(skip * CQ_ENTRY_SIZE), gap * CQ_ENTRY_SIZE);
    this.entries.append(buf);
    return count - skip;
  }

  /**
   * A queue that holds nothing yet starts at its first entry's offset rather than filling blanks from 0: a store
   * that starts mid-stream (a replica started from its master's last commit log segment) meets its queues there.
   * (A store that started at 0 never does: its queues' offsets start at 0.)
   */
  private startIfEmpty(firstQueueOffset: number): void {
    if (this.maxOffset === 0 && firstQueueOffset > 0) this.entries.startAt(firstQueueOffset);
  }

  /** As `read`, the entries' raw bytes (CQ_ENTRY_SIZE each; see cqOffsetAt and co.): no object per entry. */
  readBytes(offset: number, count: number): Uint8Array {
    return this.entries.read(offset, count);
  }

  /** Entries for queue offsets [offset, offset + count) that exist (clamped to [minOffset, maxOffset)). */
  read(offset: number, count: number): CqEntry[] {
    const bytes = this.entries.read(offset, count);
    const out: CqEntry[] = new Array(bytes.length / CQ_ENTRY_SIZE);
    for (let i = 0; i < out.length; i++) out[i] = decodeCqEntry(bytes, i * CQ_ENTRY_SIZE);
    return out;
  }

  entryAt(offset: number): CqEntry | undefined {
    return this.read(offset, 1)[0];
  }

  /** The last non-blank entry, if any. */
  lastEntry(): CqEntry | undefined {
    for (let i = this.maxOffset - 1; i >= this.minOffset; i--) {
      const e = this.entryAt(i)!;
      if (!isBlank(e)) return e;
    }
    return undefined;
  }

  /**
   * Recovery: the records of queue offsets [maxOffset, next) were lost to corruption (recovery skipped them):
   * blank entries keep their numbers from new messages, each remembering `at` (a commit log offset in the lost
   * range, not 0), so that a later truncateFrom below it keeps them.
   */
  markLost(next: number, at: number): void {
    const n = next - this.maxOffset;
    if (n <= 0) return;
    const buf = new Uint8Array(n * CQ_ENTRY_SIZE);
    for (let i = 0; i < n; i++) encodeCqEntry({ commitLogOffset: at, size: 0, tagHash: 0 }, buf, i * CQ_ENTRY_SIZE);
    this.entries.append(buf);
  }

  /**
   * Recovery: removes the tail entries that point at or past `commitLogOffset` (the commit log ends there),
   * and trailing blanks (those of lost records only when they were lost at or past it). Returns the number of
   * entries removed.
   */
  truncateFrom(commitLogOffset: number): number {
    const before = this.maxOffset;
    let end = before;
    const chunk = 1024;
    scan: while (end > this.minOffset) {
      const from = Math.max(this.minOffset, end - chunk);
      const list = this.read(from, end - from);
      for (let i = list.length - 1; i >= 0; i--) {
        const e = list[i]!;
        if (isBlank(e) ? e.commitLogOffset > 0 && e.commitLogOffset < commitLogOffset : e.commitLogOffset + e.size <= commitLogOffset) break scan;
        end--;
      }
    }
    this.entries.truncate(end);
    return before - end;
  }

  /** Cuts the queue to `offset` entries (recovery, when the tail is found inconsistent with the commit log). */
  truncateTo(offset: number): void {
    this.entries.truncate(offset);
  }

  /**
   * Retention: removes files whose entries all point below `commitLogMinOffset` (never the last file), then
   * raises minOffset past remaining entries that point below it. Returns the number of files removed.
   */
  deleteBelow(commitLogMinOffset: number): number {
    const removed = this.entries.deleteLeadingFiles((last) => {
      const e = decodeCqEntry(last, 0);
      return isBlank(e) || e.commitLogOffset < commitLogMinOffset;
    });
    // Correct the minimum within the first file (binary search: offsets ascend; blanks count as expired).
    let lo = this.minOffset;
    let hi = this.maxOffset;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const e = this.entryAt(mid)!;
      if (isBlank(e) || e.commitLogOffset < commitLogMinOffset) lo = mid + 1;
      else hi = mid;
    }
    this.entries.setMinIndex(lo);
    return removed;
  }

  flush(): Promise<void> {
    return this.entries.flush();
  }

  /** Writes the entries held back (see EntryFile.writeOut). */
  writeOut(): void {
    this.entries.writeOut();
  }

  close(): void {
    this.entries.close();
  }
}

/** Queues a checkpoint writes out and flushes together (see ConsumeQueueSet.flush). */
const FLUSH_SLICE = 64;

/** Every consume queue of a store, opened on demand (and all of them at start, for recovery and retention). */
export class ConsumeQueueSet {
  private readonly queues = new QueueMap<ConsumeQueue>();

  constructor(
    private readonly storage: StorageBackend,
    private readonly storeDir: string,
    private readonly entriesPerFile = DEFAULT_CQ_ENTRIES_PER_FILE,
    private readonly writeBehind = DEFAULT_CQ_WRITE_BEHIND,
  ) {}

  /** Opens every queue found under `<storeDir>/consumequeue`. */
  loadAll(): void {
    const root = `${this.storeDir}/consumequeue`;
    for (const topic of this.storage.list(root)) {
      for (const q of this.storage.list(`${root}/${topic}`)) {
        if (/^\d+$/.test(q)) this.get(topic, Number(q));
      }
    }
  }

  /** The queue, opened (not created on storage until written) when `create` is true. */
  get(topic: string, queueId: number, create = true): ConsumeQueue | undefined {
    let cq = this.queues.get(topic, queueId);
    if (!cq && create) {
      cq = ConsumeQueue.open(this.storage, this.storeDir, topic, queueId, this.entriesPerFile, this.writeBehind);
      this.queues.set(topic, queueId, cq);
    }
    return cq;
  }

  all(): ConsumeQueue[] {
    return this.queues.values();
  }

  /** Writes every queue's held-back entries. Throws StorageError: what was not written stays held. */
  writeOut(): void {
    for (const q of this.all()) q.writeOut();
  }

  /**
   * Flushes the queues written since their last flush, FLUSH_SLICE at a time: each queue's held-back entries are
   * written (`writeOut`, which throws StorageError when a write fails), then the slice's files are flushed while
   * their handles are still open, and the event loop runs between slices. Over thousands of queues a checkpoint
   * so never blocks the broker for long: writing every queue's entries first and flushing them afterwards took
   * about 100 ms of one turn at 8,000 queues, and opened each file twice once there were more files than handles.
   * Resolves with the number of queues flushed.
   */
  async flush(writeOut: (q: ConsumeQueue) => void = (q) => q.writeOut()): Promise<number> {
    const due = this.all().filter((q) => q.needsFlush);
    for (let i = 0; i < due.length; i += FLUSH_SLICE) {
      const slice = due.length <= FLUSH_SLICE ? due : due.slice(i, i + FLUSH_SLICE);
      for (const q of slice) writeOut(q);
      await Promise.all(slice.map((q) => q.flush()));
    }
    return due.length;
  }

  close(): void {
    for (const q of this.all()) q.close();
    this.queues.clear();
  }
}
