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
 */
export class EntryFile {
  private parts: Part[] = [];
  private min = 0;
  private max = 0;
  private readonly dirty: DirtyFiles;

  private constructor(
    private readonly storage: StorageBackend,
    readonly dir: string,
    readonly entrySize: number,
    readonly entriesPerFile: number,
  ) {
    this.dirty = new DirtyFiles(storage, dir);
    if (!Number.isInteger(entrySize) || entrySize <= 0) throw new RangeError(`entrySize must be a positive integer, got ${entrySize}`);
    if (!Number.isInteger(entriesPerFile) || entriesPerFile <= 0) throw new RangeError(`entriesPerFile must be a positive integer, got ${entriesPerFile}`);
  }

  static open(storage: StorageBackend, dir: string, entrySize: number, entriesPerFile: number): EntryFile {
    const ef = new EntryFile(storage, dir, entrySize, entriesPerFile);
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
   * Appends whole entries (`data.length` a multiple of entrySize) at maxIndex: one write per file touched.
   * Throws StorageError.
   */
  append(data: Uint8Array): void {
    if (data.length % this.entrySize !== 0) throw new RangeError(`append of ${data.length} bytes is not a whole number of ${this.entrySize}-byte entries`);
    let pos = 0;
    while (pos < data.length) {
      const index = this.max;
      const part = this.partFor(index, true)!;
      const inFile = index - part.first;
      const room = (this.entriesPerFile - inFile) * this.entrySize;
      const n = Math.min(room, data.length - pos);
      part.file.write(inFile * this.entrySize, pos === 0 && n === data.length ? data : data.subarray(pos, pos + n));
      this.dirty.add(part.file);
      pos += n;
      this.max += n / this.entrySize;
    }
  }

  /** Reads up to `count` entries from `index` (clamped to [minIndex, maxIndex)); bytes of whole entries. */
  read(index: number, count: number): Uint8Array {
    const from = Math.max(index, this.min);
    const to = Math.min(this.max, index + Math.max(0, count));
    if (to <= from) return new Uint8Array(0);
    const out = new Uint8Array((to - from) * this.entrySize);
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

  /** Makes every append, truncation, creation and removal so far durable. */
  flush(): Promise<void> {
    return this.dirty.flush();
  }

  get needsFlush(): boolean {
    return this.dirty.any;
  }

  close(): void {
    for (const p of this.parts) p.file.close();
    this.parts = [];
    this.dirty.clear();
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
