import { isNumberedFileName, numberedFileName } from '../core/bytes.js';
import { StorageError, type StorageBackend, type StorageFile } from './backend.js';
import { DirtyFiles } from './dirty-files.js';

interface Part {
  /** Index of the file's first entry. */
  first: number;
  file: StorageFile;
}

/**
 * A sequence of fixed-size entries split over files of `entriesPerFile` entries each, every file named by the
 * byte offset of its first entry (entry index * entrySize, 20 digits). Entry `i` lives at byte
 * `(i % entriesPerFile) * entrySize` of its file. The base of consume queues and the key index.
 *
 * Opening repairs what a crash may leave: a torn partial entry at the end is cut, and anything after a
 * short (not full) file or after a hole in the numbering is dropped, so the entries stay contiguous.
 *
 * Write-behind (`writeBehindEntries` > 0): small appends are held in memory, up to that many entries, and
 * written in one write when they would overflow it, at `writeOut`, or at `flush`; reads see them at once. A
 * store with thousands of queues that each get a message now and then so makes one write per queue per flush
 * instead of one per message. What is held back is lost by a crash or a `close` without a flush, as unflushed
 * writes are: the owner's checkpoint covers only flushed entries, and recovery indexes the rest again.
 */
export class EntryFile {
  private parts: Part[] = [];
  private min = 0;
  private max = 0;
  private readonly dirty: DirtyFiles;
  /** Entries held back (write-behind): the last `heldBytes / entrySize` before maxIndex, not yet in their files. */
  private held: Uint8Array | undefined;
  private heldBytes = 0;
  private readonly heldCapacity: number;

  private constructor(
    private readonly storage: StorageBackend,
    readonly dir: string,
    readonly entrySize: number,
    readonly entriesPerFile: number,
    writeBehindEntries: number,
  ) {
    this.dirty = new DirtyFiles(storage, dir);
    if (!Number.isInteger(entrySize) || entrySize <= 0) throw new RangeError(`entrySize must be a positive integer, got ${entrySize}`);
    if (!Number.isInteger(entriesPerFile) || entriesPerFile <= 0) throw new RangeError(`entriesPerFile must be a positive integer, got ${entriesPerFile}`);
    if (!Number.isInteger(writeBehindEntries) || writeBehindEntries < 0) throw new RangeError(`writeBehindEntries must be a non-negative integer, got ${writeBehindEntries}`);
    this.heldCapacity = writeBehindEntries * entrySize;
  }

  static open(storage: StorageBackend, dir: string, entrySize: number, entriesPerFile: number, writeBehindEntries = 0): EntryFile {
    const ef = new EntryFile(storage, dir, entrySize, entriesPerFile, writeBehindEntries);
    ef.load();
    return ef;
  }

  /** First entry index held (entries below it were deleted). */
  get minIndex(): number {
    return this.min;
  }
  /** Index the next appended entry gets (one past the last entry). */
  get maxIndex(): number {
    return this.max;
  }
  get fileBytes(): number {
    return this.entrySize * this.entriesPerFile;
  }
  /** First entry index of each file, ascending. */
  fileStarts(): number[] {
    return this.parts.map((p) => p.first);
  }

  private load(): void {
    const fileBytes = this.fileBytes;
    const names = this.storage.list(this.dir).filter(isNumberedFileName);
    const starts = names.map(Number).filter((o) => o % fileBytes === 0).sort((a, b) => a - b);
    let ended = false;
    for (const byteStart of starts) {
      const path = `${this.dir}/${numberedFileName(byteStart)}`;
      const first = byteStart / this.entrySize;
      const prev = this.parts[this.parts.length - 1];
      if (ended || (prev && prev.first + this.entriesPerFile !== first)) {
        // After a short file or a hole: not contiguous, drop it.
        this.storage.remove(path);
        this.dirty.markDir();
        ended = true;
        continue;
      }
      const file = this.storage.open(path);
      let size = file.size();
      if (size > fileBytes) {
        file.truncate(fileBytes);
        size = fileBytes;
      }
      const whole = size - (size % this.entrySize);
      if (whole !== size) {
        file.truncate(whole);
        this.dirty.add(file);
      }
      this.parts.push({ first, file });
      if (whole < fileBytes) ended = true;
    }
    if (this.parts.length > 0) {
      const last = this.parts[this.parts.length - 1]!;
      this.min = this.parts[0]!.first;
      this.max = last.first + last.file.size() / this.entrySize;
    }
  }

  /**
   * An empty sequence starts at `index` instead of 0 (a replica that starts mid-stream): the first append goes
   * there, in the file that holds it. Ignored once anything was written.
   */
  startAt(index: number): void {
    if (this.parts.length > 0 || this.max !== 0 || index <= 0) return;
    this.min = index;
    this.max = index;
  }

  /** Raises the logical minimum (entries below it are treated as deleted); never lowers it. */
  setMinIndex(index: number): void {
    this.min = Math.min(Math.max(this.min, index), this.max);
  }

  /**
   * Appends whole entries (`data.length` a multiple of entrySize) at maxIndex: held back when write-behind has
   * room for them, else written (after what is held back) in one write per file touched. Throws StorageError:
   * then nothing of `data` is appended unless a file took part of it (maxIndex says how much).
   */
  append(data: Uint8Array): void {
    if (data.length % this.entrySize !== 0) throw new RangeError(`append of ${data.length} bytes is not a whole number of ${this.entrySize}-byte entries`);
    if (this.heldCapacity > 0) {
      if (this.heldBytes + data.length > this.heldCapacity) this.writeOut();
      if (data.length <= this.heldCapacity) {
        this.held ??= new Uint8Array(this.heldCapacity);
        this.held.set(data, this.heldBytes);
        this.heldBytes += data.length;
        this.max += data.length / this.entrySize;
        return;
      }
    }
    let pos = 0;
    while (pos < data.length) {
      const n = this.writePart(this.max, pos === 0 ? data : data.subarray(pos));
      pos += n;
      this.max += n / this.entrySize;
    }
  }

  /** Entries held back by write-behind, not yet written to their files. */
  get heldEntries(): number {
    return this.heldBytes / this.entrySize;
  }

  /** Writes what write-behind holds back to its files. Throws StorageError: what was not written stays held. */
  writeOut(): void {
    if (this.heldBytes === 0) return;
    const held = this.held!;
    let index = this.max - this.heldEntries;
    let pos = 0;
    try {
      while (pos < this.heldBytes) {
        const n = this.writePart(index, held.subarray(pos, this.heldBytes));
        pos += n;
        index += n / this.entrySize;
      }
    } finally {
      held.copyWithin(0, pos, this.heldBytes);
      this.heldBytes -= pos;
    }
  }

  /** Writes `data` (whole entries from entry `index`) as far as the end of that entry's file; returns the bytes written. */
  private writePart(index: number, data: Uint8Array): number {
    const part = this.partFor(index, true)!;
    const inFile = index - part.first;
    const n = Math.min((this.entriesPerFile - inFile) * this.entrySize, data.length);
    part.file.write(inFile * this.entrySize, n === data.length ? data : data.subarray(0, n));
    this.dirty.add(part.file);
    return n;
  }

  /** Reads up to `count` entries from `index` (clamped to [minIndex, maxIndex)); bytes of whole entries. */
  read(index: number, count: number): Uint8Array {
    const from = Math.max(index, this.min);
    const end = Math.min(this.max, index + Math.max(0, count));
    if (end <= from) return new Uint8Array(0);
    const out = new Uint8Array((end - from) * this.entrySize);
    const heldFrom = this.max - this.heldEntries;
    if (end > heldFrom) {
      const first = Math.max(from, heldFrom);
      out.set(this.held!.subarray((first - heldFrom) * this.entrySize, (end - heldFrom) * this.entrySize), (first - from) * this.entrySize);
    }
    const to = Math.min(end, heldFrom);
    let i = from;
    while (i < to) {
      const part = this.partFor(i, false);
      if (!part) throw new StorageError('ENOENT', `${this.dir}: no file holds entry ${i}`);
      const inFile = i - part.first;
      const n = Math.min(this.entriesPerFile - inFile, to - i);
      const bytes = part.file.read(inFile * this.entrySize, n * this.entrySize);
      if (bytes.length !== n * this.entrySize) throw new StorageError('EIO', `${part.file.path}: short read at entry ${i}`);
      out.set(bytes, (i - from) * this.entrySize);
      i += n;
    }
    return out;
  }

  /** Cuts the sequence to `index` entries (files wholly past it are removed). */
  truncate(index: number): void {
    if (index >= this.max) return;
    const keep = Math.max(index, 0);
    const heldFrom = this.max - this.heldEntries;
    if (keep >= heldFrom) {
      // within what is held back: no file changes
      this.heldBytes = (keep - heldFrom) * this.entrySize;
      this.max = keep;
      this.min = Math.min(this.min, this.max);
      return;
    }
    this.heldBytes = 0;
    while (this.parts.length > 0) {
      const last = this.parts[this.parts.length - 1]!;
      if (last.first >= keep) {
        last.file.close();
        this.dirty.delete(last.file);
        this.storage.remove(last.file.path);
        this.dirty.markDir();
        this.parts.pop();
        continue;
      }
      last.file.truncate((keep - last.first) * this.entrySize);
      this.dirty.add(last.file);
      break;
    }
    this.max = keep;
    if (this.parts.length === 0) this.min = keep;
    this.min = Math.min(this.min, this.max);
  }

  /**
   * Removes files from the front while `expired(lastEntryOfFile)` holds, never the last file. Returns how
   * many were removed; minIndex moves to the first kept file.
   */
  deleteLeadingFiles(expired: (lastEntry: Uint8Array) => boolean): number {
    // (a file before the last holds no entry held back: what is held back starts in the last file or after it)
    let removed = 0;
    while (this.parts.length > 1) {
      const part = this.parts[0]!;
      const lastEntry = part.file.read((this.entriesPerFile - 1) * this.entrySize, this.entrySize);
      if (lastEntry.length === this.entrySize && !expired(lastEntry)) break;
      part.file.close();
      this.dirty.delete(part.file);
      this.storage.remove(part.file.path);
      this.dirty.markDir();
      this.parts.shift();
      removed++;
      this.min = Math.max(this.min, this.parts[0]!.first);
    }
    return removed;
  }

  /** Makes every append (held back ones written first), truncation, creation and removal so far durable. */
  flush(): Promise<void> {
    try {
      this.writeOut();
    } catch (err) {
      return Promise.reject(err);
    }
    this.held = undefined; // an idle sequence holds no buffer; a busy one gets a new one at its next append
    return this.dirty.flush();
  }

  get needsFlush(): boolean {
    return this.dirty.any || this.heldBytes > 0;
  }

  /** Closes the files; entries held back and not flushed are dropped (as a crash drops unflushed writes). */
  close(): void {
    for (const p of this.parts) p.file.close();
    this.parts = [];
    this.dirty.clear();
    this.held = undefined;
    this.heldBytes = 0;
  }

  /** Removes every file and the directory. */
  destroy(): void {
    this.close();
    this.storage.remove(this.dir);
    this.min = this.max = 0;
  }

  private partFor(index: number, create: boolean): Part | undefined {
    const first = index - (index % this.entriesPerFile);
    // Usually the last file: check it first.
    for (let i = this.parts.length - 1; i >= 0; i--) {
      const p = this.parts[i]!;
      if (p.first === first) return p;
      if (p.first < first) break;
    }
    if (!create) {
      const i = this.binarySearch(first);
      return i >= 0 ? this.parts[i] : undefined;
    }
    const file = this.storage.open(`${this.dir}/${numberedFileName(first * this.entrySize)}`);
    if (file.size() !== 0) file.truncate(0);
    const part = { first, file };
    this.parts.push(part);
    this.dirty.markDir();
    if (this.parts.length === 1) this.min = Math.max(this.min, first);
    return part;
  }

  private binarySearch(first: number): number {
    let lo = 0;
    let hi = this.parts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const f = this.parts[mid]!.first;
      if (f === first) return mid;
      if (f < first) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}
