/**
 * A log of bytes split into fixed-size segment files named by their first global offset (20 digits).
 *
 * Segment `k` covers offsets [k * segmentSize, (k + 1) * segmentSize). An append that does not fit in the rest
 * of the current segment writes `endMarker(spaceLeft)` there (when given and spaceLeft > 0) and goes to the
 * start of the next segment, so an append never straddles two segments and a read never crosses one.
 *
 * Files grow as they are written (no preallocation). On open, the write offset is the end of the last segment
 * file; recovery validates the tail and calls `truncate` / `setWriteOffset`.
 *
 * The hot tail of the active segment (at most `tailCacheBytes`) is kept in memory so that reads of just-written
 * data (the dispatcher, pulls at the head) do not go to the backend.
 *
 * With `warmAheadBytes` (and a backend whose files can `extend` and `prefetch`), the active segment's file is
 * made segment-long at once, a hole, and the hole just ahead of the write position is read into the page cache
 * in the background, as RocketMQ warms its next mapped file: finding fresh memory for the page cache can cost
 * more than the write itself (a write into fresh pages waits for the kernel to find and zero them, one into
 * warmed pages only copies), and that cost then falls on another thread. The file is cut back to the data on
 * `close`; after a crash it stays segment-long, and recovery (which scans the tail) cuts it.
 */

import { isNumberedFileName, numberedFileName } from '../core/bytes.js';
import { StorageError, type StorageBackend, type StorageFile } from './backend.js';

export const DEFAULT_SEGMENT_SIZE = 1024 ** 3;
export const DEFAULT_TAIL_CACHE_BYTES = 1024 * 1024;
const MAX_OPEN_READ_FILES = 16;

/** Where `readTransient` reads what is not in a tail: one buffer for every log, as long as the longest read. */
let transientBuffer = new Uint8Array(0);

export type LogErrorCode = 'ETOOLARGE' | 'EACTIVE' | 'ERANGE' | 'ECLOSED';

/** A misuse of the log (data larger than a segment, deleting the active segment, closed log...). */
export class LogError extends Error {
  constructor(
    readonly code: LogErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'LogError';
  }
}

export interface SegmentedLogOptions {
  segmentSize?: number;
  /** Bytes that fill the rest of a segment when an append rolls to the next one. */
  endMarker?: (spaceLeft: number) => Uint8Array;
  tailCacheBytes?: number;
  /** How far ahead of the write position the page cache is warmed (0: not at all, the default). */
  warmAheadBytes?: number;
  /**
   * Small appends are staged: kept in the hot tail and written to the file by `drain` (the owner's, once per turn
   * of the event loop), by a flush, a read of them from the file, or when the tail would drop them. One write
   * then carries many appends (a broker's sends of one turn: a write costs about 9 µs of system time here
   * whatever its size). Default false: every append is written at once.
   */
  stageWrites?: boolean;
  /**
   * Whether the active segment's file is held open in a handle cache (default true). A per-queue store's logs do
   * not hold theirs: a held file per queue would leave the cache no bound.
   */
  holdActive?: boolean;
}

/**
 * Bytes per prefetch call when warming: small, so that a writer faster than the warming is never chased (each
 * call starts again at or after the write position).
 */
const WARM_STEP = 2 * 1024 * 1024;
/**
 * Prefetch calls under way at once. One: warming only has to stay ahead of the writer, and a second call
 * competes with the writer for CPU (on a small machine it costs small-message produce more than it wins).
 */
const WARM_PARALLEL = 1;

export interface SegmentInfo {
  start: number;
  /** Exclusive end: start + file size. */
  end: number;
  path: string;
  mtimeMs: number;
}

export class SegmentedLog {
  readonly segmentSize: number;
  private readonly endMarker: ((spaceLeft: number) => Uint8Array) | undefined;
  private readonly tailCap: number;
  private readonly holdsActive: boolean;
  private readonly stages: boolean;
  /** Where the staged bytes start (they run to `write`, all in the tail); -1 when nothing is staged. */
  private stagedFrom = -1;
  /** Starts of existing segment files, ascending. */
  private starts: number[] = [];
  private readonly files = new Map<number, StorageFile>();
  private readonly dirty = new Set<number>();
  /** The segment whose file is held open (the one written last: the active segment), -1 for none. */
  private heldSeg = -1;
  private dirDirty = false;
  private write = 0;
  private flushed = 0;
  private flushChain: Promise<void> = Promise.resolve();
  private closed = false;
  // Hot tail: bytes [tailStart, write) when tailStart is in the active segment.
  private tail: Uint8Array;
  private tailStart = 0;
  private tailLen = 0;
  private warmAhead: number;
  /** The segment made segment-long for warming (-1: none), and how far prefetches were asked for in it. */
  private warmSeg = -1;
  private warmAskedTo = 0;
  private warmInFlight = 0;
  /** Files to close once the prefetch under way ends (close() came during it). */
  private closeAfterWarm: StorageFile[] = [];
  /** Hears that warming failed (it is then off; writes go on as without it). */
  onWarmFailed: ((err: Error) => void) | undefined;

  private constructor(
    private readonly backend: StorageBackend,
    readonly dir: string,
    opts: SegmentedLogOptions,
  ) {
    this.segmentSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    if (!Number.isSafeInteger(this.segmentSize) || this.segmentSize < 64) {
      throw new LogError('ERANGE', `segment size ${this.segmentSize} (at least 64 bytes)`);
    }
    this.endMarker = opts.endMarker;
    this.tailCap = Math.max(0, Math.min(opts.tailCacheBytes ?? DEFAULT_TAIL_CACHE_BYTES, this.segmentSize));
    this.tail = new Uint8Array(this.tailCap);
    this.warmAhead = Math.max(0, opts.warmAheadBytes ?? 0);
    this.holdsActive = opts.holdActive ?? true;
    this.stages = opts.stageWrites ?? false;
  }

  /** Whether appends wait in the tail for `drain`. */
  get hasStaged(): boolean {
    return this.stagedFrom >= 0;
  }

  /** Writes the staged appends to their file in one write. Throws StorageError (the log's owner then fails). */
  drain(): void {
    const from = this.stagedFrom;
    if (from < 0) return;
    this.stagedFrom = -1;
    this.writeAt(from, this.tail.subarray(from - this.tailStart, this.write - this.tailStart));
  }

  /** Opens (creating the directory) the log in `dir`; writeOffset = end of the last segment file. */
  static open(backend: StorageBackend, dir: string, opts: SegmentedLogOptions = {}): SegmentedLog {
    const log = new SegmentedLog(backend, dir, opts);
    backend.mkdir(dir);
    for (const name of backend.list(dir)) {
      if (!isNumberedFileName(name)) continue;
      const start = Number(name);
      if (!Number.isSafeInteger(start) || start % log.segmentSize !== 0) {
        throw new StorageError('ECORRUPT', `${dir}/${name}: segment name is not a multiple of the segment size ${log.segmentSize}`);
      }
      log.starts.push(start);
    }
    log.starts.sort((a, b) => a - b);
    const last = log.starts[log.starts.length - 1];
    if (last !== undefined) {
      const size = backend.stat(log.pathOf(last))?.size ?? 0;
      log.write = last + Math.min(size, log.segmentSize);
    }
    log.flushed = log.write;
    log.resetTail();
    return log;
  }

  /** Next append position (global offset). */
  get writeOffset(): number {
    return this.write;
  }

  /** Everything before this offset has been flushed. */
  get flushedOffset(): number {
    return this.flushed;
  }

  /** Offset of the first byte still held (the oldest segment's start), or writeOffset when empty. */
  get minOffset(): number {
    return this.starts[0] ?? this.write;
  }

  segmentStart(offset: number): number {
    return offset - (offset % this.segmentSize);
  }

  /** Where `append` of `length` bytes would put them (lets a caller encode physical offsets first). */
  nextAppendOffset(length: number): number {
    if (length > this.segmentSize) {
      throw new LogError('ETOOLARGE', `${length} bytes do not fit in a segment of ${this.segmentSize}`);
    }
    const inSeg = this.write % this.segmentSize;
    return inSeg + length > this.segmentSize ? this.write - inSeg + this.segmentSize : this.write;
  }

  /** Appends `data` in one segment (rolling when it does not fit) and returns its global start offset. */
  append(data: Uint8Array): number {
    this.checkOpen();
    const at = this.nextAppendOffset(data.length);
    if (at !== this.write) {
      this.drain(); // a new segment: the staged bytes end the old one
      const spaceLeft = at - this.write;
      if (this.endMarker !== undefined && spaceLeft > 0) {
        const marker = this.endMarker(spaceLeft);
        if (marker.length !== spaceLeft) throw new LogError('ERANGE', `end marker of ${marker.length} bytes for ${spaceLeft}`);
        this.writeAt(this.write, marker);
      }
      this.write = at;
      this.resetTail();
    }
    if (data.length === 0) return at;
    // staged only while it fits a quarter of the tail; what the tail would drop to make room is written first
    const stage = this.stages && data.length <= this.tailCap >> 2;
    if (this.stagedFrom >= 0 && (!stage || this.tailLen + data.length > this.tailCap)) this.drain();
    if (!stage) this.writeAt(at, data);
    else if (this.stagedFrom < 0) this.stagedFrom = at;
    this.write = at + data.length;
    this.appendTail(data);
    if (this.warmAhead > 0) this.warm();
    return at;
  }

  /**
   * Reads up to `length` bytes at `offset`, stopping at the end of its segment or of the data: into `into` when it
   * is given and long enough (a view of it comes back), else into bytes of their own.
   */
  read(offset: number, length: number, into?: Uint8Array): Uint8Array {
    this.checkOpen();
    const start = this.segmentStart(offset);
    // a warmed segment's file runs past the data: never read into that hole
    const end = Math.min(offset + length, start + this.segmentSize, this.write);
    if (end <= offset) return new Uint8Array(0);
    if (this.tailLen > 0 && offset >= this.tailStart && offset < this.tailStart + this.tailLen && start === this.segmentStart(this.tailStart)) {
      const from = offset - this.tailStart;
      const to = Math.min(this.tailLen, end - this.tailStart);
      if (into === undefined || into.length < to - from) return this.tail.slice(from, to);
      into.set(this.tail.subarray(from, to));
      return into.subarray(0, to - from);
    }
    if (!this.hasSegment(start)) return new Uint8Array(0);
    if (this.stagedFrom >= 0 && end > this.stagedFrom) this.drain();
    return this.file(start).read(offset - start, end - offset, into);
  }

  /**
   * As `read`, but without allocating: bytes still in the hot tail come back as a view into it, others are read
   * into a buffer every log shares. Valid only until the next append or the next `readTransient` of any log (for
   * a caller that decodes them at once, like the dispatcher). A slave's dispatcher follows its flushes, so the
   * chunks it indexes have mostly left the tail: read into buffers of their own, they were half of the slave's
   * new external memory (with what its socket receives), and each 64 MiB of that costs V8 a full collection.
   */
  readTransient(offset: number, length: number): Uint8Array {
    const start = this.segmentStart(offset);
    const end = Math.min(offset + length, start + this.segmentSize);
    if (end > offset && this.tailLen > 0 && offset >= this.tailStart && offset < this.tailStart + this.tailLen && start === this.segmentStart(this.tailStart)) {
      this.checkOpen();
      const from = offset - this.tailStart;
      return this.tail.subarray(from, Math.min(this.tailLen, end - this.tailStart));
    }
    if (transientBuffer.length < length) transientBuffer = new Uint8Array(length);
    return this.read(offset, length, transientBuffer);
  }

  /** Flushes the segments written since the last flush; flushedOffset becomes writeOffset as of the call. */
  flush(): Promise<void> {
    if (this.closed) return Promise.reject(new LogError('ECLOSED', `log ${this.dir} is closed`));
    try {
      this.drain();
    } catch (e) {
      return Promise.reject(e as Error);
    }
    // What this flush covers is fixed now; flushes run one after another so flushedOffset only grows.
    const target = this.write;
    const segs = [...this.dirty];
    this.dirty.clear();
    const dirDirty = this.dirDirty;
    this.dirDirty = false;
    const run = async (): Promise<void> => {
      try {
        await Promise.all(segs.filter((s) => this.hasSegment(s)).map((s) => this.file(s).flush()));
        if (dirDirty) await this.backend.flushDir(this.dir);
      } catch (e) {
        for (const s of segs) if (this.hasSegment(s)) this.dirty.add(s);
        if (dirDirty) this.dirDirty = true;
        throw e;
      }
      this.flushed = Math.max(this.flushed, Math.min(target, this.write));
    };
    const p = this.flushChain.then(run, run);
    this.flushChain = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  /** Drops every byte at and after `offset` (later segments are removed). */
  truncate(offset: number): void {
    this.checkOpen();
    this.drain();
    const keep = this.segmentStart(offset);
    for (const s of [...this.starts]) {
      if (s > keep) this.dropSegment(s);
    }
    if (this.hasSegment(keep)) {
      this.file(keep).truncate(offset - keep);
      this.dirty.add(keep);
    }
    this.write = offset;
    this.flushed = Math.min(this.flushed, offset);
    this.warmSeg = -1; // the file is data-long again: the next append extends it anew
    this.resetTail();
  }

  /**
   * Recovery: sets the write position. Data at and after `offset` is dropped (as truncate); an offset past the
   * end starts writing there (the bytes between read as zeros). flushedOffset becomes `offset`: what recovery
   * found on storage is durable.
   */
  setWriteOffset(offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new LogError('ERANGE', `write offset ${offset}`);
    this.truncate(offset);
    this.flushed = offset;
  }

  segments(): SegmentInfo[] {
    return this.starts.map((start) => {
      const path = this.pathOf(start);
      const st = this.backend.stat(path);
      return { start, end: start + (st?.size ?? 0), path, mtimeMs: st?.mtimeMs ?? 0 };
    });
  }

  /** Removes a whole segment (retention); refuses the active one (the one holding writeOffset). */
  deleteSegment(start: number): void {
    this.checkOpen();
    if (start === this.segmentStart(this.write) || start === this.starts[this.starts.length - 1]) {
      throw new LogError('EACTIVE', `segment ${numberedFileName(start)} is the active segment`);
    }
    if (!this.hasSegment(start)) return;
    this.dropSegment(start);
  }

  /**
   * Closes the files; the warmed segment's file is cut back to the data first. What is staged is written first;
   * if that fails, the files are closed all the same and the error thrown.
   */
  close(): void {
    if (this.closed) return;
    let staging: unknown;
    try {
      this.drain();
    } catch (e) {
      staging = e;
    }
    this.closed = true;
    const warmed = this.warmSeg >= 0 ? this.files.get(this.warmSeg) : undefined;
    if (warmed !== undefined && this.segmentStart(this.write) === this.warmSeg) {
      try {
        warmed.truncate(this.write - this.warmSeg);
      } catch (err) {
        this.onWarmFailed?.(err as Error); // left segment-long: the next open scans the tail and cuts it
      }
    }
    for (const f of this.files.values()) {
      if (this.warmInFlight > 0 && f === warmed) this.closeAfterWarm.push(f);
      else f.close();
    }
    this.files.clear();
    if (staging !== undefined) throw staging;
  }

  // ------------------------------------------------------------------------------------------ internals

  private pathOf(start: number): string {
    return `${this.dir}/${numberedFileName(start)}`;
  }

  private checkOpen(): void {
    if (this.closed) throw new LogError('ECLOSED', `log ${this.dir} is closed`);
  }

  private hasSegment(start: number): boolean {
    return this.files.has(start) || this.starts.includes(start);
  }

  private file(start: number): StorageFile {
    let f = this.files.get(start);
    if (f !== undefined) {
      // Refresh LRU position.
      this.files.delete(start);
      this.files.set(start, f);
      return f;
    }
    f = this.backend.open(this.pathOf(start));
    if (!this.starts.includes(start)) {
      this.starts.push(start);
      this.starts.sort((a, b) => a - b);
      this.dirDirty = true;
    }
    this.files.set(start, f);
    if (this.files.size > MAX_OPEN_READ_FILES) {
      const active = this.segmentStart(this.write);
      for (const [s, g] of this.files) {
        if (this.files.size <= MAX_OPEN_READ_FILES) break;
        if (s === active || s === start || this.dirty.has(s) || (this.warmInFlight > 0 && s === this.warmSeg)) continue;
        if (s === this.heldSeg) this.heldSeg = -1;
        g.close();
        this.files.delete(s);
      }
    }
    return f;
  }

  private writeAt(offset: number, data: Uint8Array): void {
    const start = this.segmentStart(offset);
    const f = this.file(start);
    if (start !== this.heldSeg && this.holdsActive) this.holdActive(start, f);
    f.write(offset - start, data);
    this.dirty.add(start);
  }

  /** Asks a handle cache (store/cached-storage.ts) to keep the active segment's file open, and no other. */
  private holdActive(start: number, f: StorageFile): void {
    if (this.heldSeg >= 0) this.files.get(this.heldSeg)?.hold?.(false);
    this.heldSeg = start;
    f.hold?.(true);
  }

  /**
   * Keeps the page cache warm up to warmAheadBytes past the write position, WARM_PARALLEL prefetches at most
   * under way: makes the active segment's file segment-long when the log first writes there, then prefetches
   * the hole ahead in WARM_STEP pieces.
   */
  private warm(): void {
    while (this.warmInFlight < WARM_PARALLEL && this.warmAhead > 0 && !this.closed) {
      const seg = this.segmentStart(this.write);
      if (seg !== this.warmSeg) {
        if (this.warmInFlight > 0) return; // the last segment's prefetches end first
        const f = this.file(seg);
        if (f.extend === undefined || f.prefetch === undefined) {
          this.warmAhead = 0; // this backend cannot
          return;
        }
        try {
          f.extend(this.segmentSize);
        } catch (err) {
          this.stopWarming(err as Error);
          return;
        }
        this.warmSeg = seg;
        this.warmAskedTo = this.write;
      }
      const from = Math.max(this.warmAskedTo, this.write);
      if (from >= this.write + this.warmAhead) return; // far enough ahead: the next appends call again
      const to = Math.min(seg + this.segmentSize, from + WARM_STEP);
      if (to <= from) return;
      this.warmAskedTo = to;
      this.warmInFlight++;
      this.file(seg).prefetch!(from - seg, to - from, (err) => {
        this.warmInFlight--;
        if (this.warmInFlight === 0 && this.closeAfterWarm.length > 0) for (const g of this.closeAfterWarm.splice(0)) g.close();
        if (this.closed) return;
        if (err) return this.stopWarming(err);
        this.warm();
      });
    }
  }

  private stopWarming(err: Error): void {
    if (this.warmAhead === 0) return; // told once
    this.warmAhead = 0;
    this.onWarmFailed?.(err);
  }

  private dropSegment(start: number): void {
    if (start === this.heldSeg) this.heldSeg = -1;
    this.files.get(start)?.close();
    this.files.delete(start);
    this.dirty.delete(start);
    this.starts = this.starts.filter((s) => s !== start);
    this.backend.remove(this.pathOf(start));
    this.dirDirty = true;
  }

  private resetTail(): void {
    this.tailStart = this.write;
    this.tailLen = 0;
  }

  private appendTail(data: Uint8Array): void {
    const cap = this.tailCap;
    if (cap === 0) return;
    const end = this.write; // already advanced past data
    if (this.segmentStart(this.tailStart) !== this.segmentStart(end - data.length) || this.tailStart + this.tailLen !== end - data.length) {
      this.tailStart = end - data.length;
      this.tailLen = 0;
    }
    if (data.length >= cap) {
      this.tail.set(data.subarray(data.length - cap));
      this.tailStart = end - cap;
      this.tailLen = cap;
      return;
    }
    if (this.tailLen + data.length > cap) {
      // Keep the newest half (or what leaves room for data) and slide it to the front.
      const keep = Math.min(this.tailLen, Math.max(0, Math.min(cap >> 1, cap - data.length)));
      this.tail.copyWithin(0, this.tailLen - keep, this.tailLen);
      this.tailStart += this.tailLen - keep;
      this.tailLen = keep;
    }
    this.tail.set(data, this.tailLen);
    this.tailLen += data.length;
  }
}
