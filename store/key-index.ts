import type { StorageBackend, StorageFile } from './backend.js';
import { DirtyFiles } from './dirty-files.js';
import { SlotTable } from './slot-table.js';
import { HEX_CODES, getU64, isNumberedFileName, numberedFileName, readU32, setU64, writeU32 } from '../core/bytes.js';

/** Bytes of an index entry's body: key hash (u32), commit log offset (u64), store timestamp (u64). */
export const INDEX_ENTRY_SIZE = 20;
/** Bytes of an entry in an index file: the body, the previous entry of its slot chain (u32), a check (u32). */
export const INDEX_FILE_ENTRY_SIZE = 28;
/** Bytes of an index file's header. */
export const INDEX_HEADER_SIZE = 64;
export const DEFAULT_INDEX_ENTRIES_PER_FILE = 2_000_000;
const INDEX_MAGIC = 0x4b494458; // 'KIDX'
const INDEX_VERSION = 1;
/** Entries read per chunk when scanning a file. */
const SCAN_CHUNK = 4096;

export interface IndexEntry {
  keyHash: number;
  commitLogOffset: number;
  storeTimestamp: number;
}

/** Index entries gathered for one `KeyIndex.add`, in flat arrays (no object per entry); reusable after `clear`. */
export class IndexBatch {
  hashes = new Uint32Array(256);
  offsets = new Float64Array(256);
  timestamps = new Float64Array(256);
  length = 0;

  static of(entries: readonly IndexEntry[]): IndexBatch {
    const b = new IndexBatch();
    for (const e of entries) b.push(e.keyHash, e.commitLogOffset, e.storeTimestamp);
    return b;
  }

  push(keyHash: number, commitLogOffset: number, storeTimestamp: number): void {
    const i = this.length++;
    if (i === this.hashes.length) {
      const grow = <A extends Uint32Array | Float64Array>(a: A, make: (n: number) => A): A => {
        const bigger = make(a.length * 2);
        bigger.set(a);
        return bigger;
      };
      this.hashes = grow(this.hashes, (n) => new Uint32Array(n));
      this.offsets = grow(this.offsets, (n) => new Float64Array(n));
      this.timestamps = grow(this.timestamps, (n) => new Float64Array(n));
    }
    this.hashes[i] = keyHash;
    this.offsets[i] = commitLogOffset;
    this.timestamps[i] = storeTimestamp;
  }

  clear(): void {
    this.length = 0;
  }
}

/** 32-bit FNV-1a over topic, a separator and the key (UTF-16 code units). Hashes collide: verify on lookup. */
export function keyHash(topic: string, key: string): number {
  return keyHashFrom(topicHashSeed(topic), key);
}

function fnvMix(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), 0x01000193);
    h = Math.imul(h ^ (c >>> 8), 0x01000193);
  }
  return h;
}

/** keyHash's state after the topic and the separator: hash it once for the keys of one topic. */
export function topicHashSeed(topic: string): number {
  return Math.imul(fnvMix(0x811c9dc5, topic) ^ 0x01, 0x01000193);
}

/** keyHash(topic, key), from topicHashSeed(topic). */
export function keyHashFrom(seed: number, key: string): number {
  return fnvMix(seed, key) >>> 0;
}

/**
 * keyHashFrom(seed, key) for the key whose UTF-8 bytes are buf[start, end), without making its string, when they
 * are all ASCII (an ASCII byte is its UTF-16 code unit); -1 when one is not (hash the decoded string instead).
 */
export function keyHashAscii(seed: number, buf: Uint8Array, start: number, end: number): number {
  let h = seed;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b >= 0x80) return -1;
    h = Math.imul(Math.imul(h ^ b, 0x01000193), 0x01000193);
  }
  return h >>> 0;
}

/** The hash state after `seed` and `s` (not yet a u32): keyHashHex8 goes on from it. */
export function keyHashState(seed: number, s: string): number {
  return fnvMix(seed, s);
}

/**
 * keyHash(topic, prefix + the 8 upper-case hex digits of u32 `v`), from keyHashState(topicHashSeed(topic),
 * prefix): a numbered key is hashed without making its string.
 */
export function keyHashHex8(state: number, v: number): number {
  let h = state;
  for (let j = 28; j >= 0; j -= 4) {
    h = Math.imul(h ^ HEX_CODES[(v >>> j) & 15]!, 0x01000193);
    h = Math.imul(h, 0x01000193); // the high byte of an ASCII code unit is 0
  }
  return h >>> 0;
}

export function encodeIndexEntry(e: IndexEntry, buf: Uint8Array, pos: number): void {
  const dv = new DataView(buf.buffer, buf.byteOffset + pos, INDEX_ENTRY_SIZE);
  dv.setUint32(0, e.keyHash >>> 0);
  setU64(dv, 4, e.commitLogOffset);
  setU64(dv, 12, e.storeTimestamp);
}

export function decodeIndexEntry(buf: Uint8Array, pos: number): IndexEntry {
  const dv = new DataView(buf.buffer, buf.byteOffset + pos, INDEX_ENTRY_SIZE);
  return { keyHash: dv.getUint32(0), commitLogOffset: getU64(dv, 4), storeTimestamp: getU64(dv, 12) };
}

const TWO32 = 4294967296;

function checkStep(h: number, word: number): number {
  h = Math.imul(h ^ word, 0x01000193);
  return h ^ (h >>> 15);
}

/** Check over the first `words` big-endian u32 words at `pos`; never 0, so unwritten (zero) bytes never pass. */
function checkWords(dv: DataView, pos: number, words: number): number {
  let h = 0x9e3779b9;
  for (let i = 0; i < words; i++) h = checkStep(h, dv.getUint32(pos + i * 4));
  return h >>> 0 || 1;
}

/**
 * Writes a file entry (body, prev, check) at `pos` of `buf`: byte stores, and the check taken from the
 * words as numbers (the same value checkWords reads back), for this runs once per key of every message.
 */
function writeFileEntry(buf: Uint8Array, pos: number, keyHash: number, commitLogOffset: number, storeTimestamp: number, prev: number): void {
  const key = keyHash >>> 0;
  const offHi = Math.floor(commitLogOffset / TWO32);
  const offLo = commitLogOffset >>> 0;
  const tsHi = Math.floor(storeTimestamp / TWO32);
  const tsLo = storeTimestamp >>> 0;
  writeU32(buf, pos, key);
  writeU32(buf, pos + 4, offHi);
  writeU32(buf, pos + 8, offLo);
  writeU32(buf, pos + 12, tsHi);
  writeU32(buf, pos + 16, tsLo);
  writeU32(buf, pos + 20, prev);
  const h = checkStep(checkStep(checkStep(checkStep(checkStep(checkStep(0x9e3779b9, key), offHi), offLo), tsHi), tsLo), prev);
  writeU32(buf, pos + 24, h >>> 0 || 1);
}

function entryValid(dv: DataView, pos: number): boolean {
  return dv.getUint32(pos + 24) === checkWords(dv, pos, 6);
}

/** One index file: header, slot table, entries (numbered from 1; 0 means none). */
interface IndexPart {
  seq: number;
  file: StorageFile;
  slotCount: number;
  capacity: number;
  /** Valid entries. */
  count: number;
  beginOffset: number;
  endOffset: number;
  beginTimestamp: number;
  endTimestamp: number;
}

const dataStart = (p: { slotCount: number }): number => INDEX_HEADER_SIZE + p.slotCount * 4;

function encodeHeader(p: IndexPart): Uint8Array {
  const buf = new Uint8Array(INDEX_HEADER_SIZE);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, INDEX_MAGIC);
  dv.setUint32(4, INDEX_VERSION);
  dv.setUint32(8, p.slotCount);
  dv.setUint32(12, p.capacity);
  dv.setUint32(16, checkWords(dv, 0, 4));
  dv.setUint32(20, p.count);
  setU64(dv, 24, Math.max(0, p.beginOffset));
  setU64(dv, 32, Math.max(0, p.endOffset));
  setU64(dv, 40, p.beginTimestamp);
  setU64(dv, 48, p.endTimestamp);
  return buf;
}

/** Geometry and the entry count the slot table was last written for; undefined when the header is not valid. */
function decodeHeader(buf: Uint8Array): { slotCount: number; capacity: number; count: number } | undefined {
  if (buf.length < INDEX_HEADER_SIZE) return undefined;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  if (dv.getUint32(0) !== INDEX_MAGIC || dv.getUint32(4) !== INDEX_VERSION || dv.getUint32(16) !== checkWords(dv, 0, 4)) return undefined;
  const slotCount = dv.getUint32(8);
  const capacity = dv.getUint32(12);
  if (slotCount === 0 || capacity === 0) return undefined;
  return { slotCount, capacity, count: dv.getUint32(20) };
}

/** What the key index holds in memory (bounded: none of it grows with the number of entries). */
export interface KeyIndexFootprint {
  /** Bytes of the active file's slot table in memory. */
  slotTableBytes: number;
  /** Pages (4 KiB) of the slot table changed since the last flush wrote it. */
  changedSlotPages: number;
  /** Index files open (a few numbers each; bounded by retention). */
  files: number;
}

/**
 * Key -> commit log offsets, as an on-disk hash index in the manner of RocketMQ's index files. Files live under
 * `<storeDir>/index/`, named by a 20-digit sequence number. Each holds a header (geometry, entry count, first and
 * last commit log offset and store timestamp), a table of `slotCount` slots (u32: number of the newest entry
 * whose hash falls in the slot, 0 when none) and up to `capacity` entries (key hash, commit log offset, store
 * timestamp, previous entry of the same slot, a check), appended in commit log order. A full file is sealed and
 * the next entry starts a new one.
 *
 * Memory holds only the active (last) file's slot table and a few numbers per file; older files' slots and all
 * chains are read from storage. Lookups give candidate offsets, newest first; the caller checks the key in the
 * record it reads, because hashes collide.
 *
 * Crash safety: every entry carries a check, so unwritten or torn entries are recognised. Opening trusts the
 * active file's slot table only when its header was written for exactly the valid entries found; otherwise the
 * chains are rebuilt from the entries. Recovery cuts entries at its checkpoint (`truncateFrom`), which rebuilds
 * the file holding the cut; entries re-added for re-dispatched records never show twice in a lookup.
 */
export class KeyIndex {
  private parts: IndexPart[] = [];
  private slots = new SlotTable(0);
  /** What the slot touching loop of add read (kept, so the loads are not dropped). */
  private touched = 0;
  /** Entries of one add, before their write (reused: a fresh typed array per batch costs microseconds). */
  private scratch = new Uint8Array(256 * INDEX_FILE_ENTRY_SIZE);
  private headerDirty = false;
  private readonly dirtyFiles: DirtyFiles;
  private lastOffset = -1;
  /** Offsets below this are gone from the commit log (retention): lookups skip them. */
  private floor = 0;
  private readonly dir: string;

  private constructor(
    private readonly storage: StorageBackend,
    storeDir: string,
    readonly entriesPerFile: number,
    readonly slotsPerFile: number,
  ) {
    this.dir = `${storeDir}/index`;
    this.dirtyFiles = new DirtyFiles(storage, this.dir);
  }

  /**
   * Opens (repairing what a crash left) the index of a store directory. New files get `entriesPerFile` entries
   * and `slotsPerFile` slots (a quarter of the entries by default); existing files keep their own geometry.
   */
  static open(storage: StorageBackend, storeDir: string, entriesPerFile = DEFAULT_INDEX_ENTRIES_PER_FILE, slotsPerFile?: number): KeyIndex {
    const slots = slotsPerFile ?? Math.max(1, Math.floor(entriesPerFile / 4));
    for (const [name, v] of [['entriesPerFile', entriesPerFile], ['slotsPerFile', slots]] as const) {
      if (!Number.isInteger(v) || v <= 0 || v > 0xffffffff) throw new RangeError(`${name} must be a positive 32-bit integer, got ${v}`);
    }
    const idx = new KeyIndex(storage, storeDir, entriesPerFile, slots);
    idx.load();
    return idx;
  }

  private load(): void {
    const names = this.storage.list(this.dir).filter(isNumberedFileName).sort();
    let ended = false;
    let active = false;
    for (const name of names) {
      const path = `${this.dir}/${name}`;
      if (ended) {
        this.removePath(path);
        continue;
      }
      const file = this.storage.open(path);
      const header = decodeHeader(file.read(0, INDEX_HEADER_SIZE));
      if (header === undefined) {
        file.close();
        this.removePath(path);
        ended = true;
        continue;
      }
      const part: IndexPart = { seq: Number(name), file, slotCount: header.slotCount, capacity: header.capacity, count: 0, beginOffset: -1, endOffset: -1, beginTimestamp: 0, endTimestamp: 0 };
      part.count = Math.min(part.capacity, Math.max(0, Math.floor((file.size() - dataStart(part)) / INDEX_FILE_ENTRY_SIZE)));
      const prev = this.parts[this.parts.length - 1];
      this.parts.push(part);
      // A sealed (full) file is kept as it is when its first and last entries hold and follow the previous file.
      if (part.count === part.capacity && this.readEnds(part, prev?.endOffset ?? 0) && part.count === header.count) continue;
      ended = true;
      const trusted = part.count === header.count && this.readEnds(part, prev?.endOffset ?? 0) && this.loadSlots(part);
      if (!trusted) this.rebuild(part, part.count);
      active = true;
    }
    const last = this.parts[this.parts.length - 1];
    if (last !== undefined && !active && !this.loadSlots(last)) this.rebuild(last, last.count);
    this.lastOffset = this.lastEndOffset();
  }

  private removePath(path: string): void {
    this.storage.remove(path);
    this.dirtyFiles.markDir();
  }

  /** Reads a file's first and last entries into its begin/end fields; false when either is not valid or out of order. */
  private readEnds(p: IndexPart, minOffset: number): boolean {
    if (p.count === 0) return false;
    const first = this.readEntry(p, 1);
    const last = this.readEntry(p, p.count);
    if (first === undefined || last === undefined || first.commitLogOffset < minOffset || last.commitLogOffset < first.commitLogOffset) return false;
    p.beginOffset = first.commitLogOffset;
    p.beginTimestamp = first.storeTimestamp;
    p.endOffset = last.commitLogOffset;
    p.endTimestamp = last.storeTimestamp;
    return true;
  }

  /** Loads a file's slot table as the active one; false when a slot points past the file's entries. */
  private loadSlots(p: IndexPart): boolean {
    const bytes = p.file.read(INDEX_HEADER_SIZE, p.slotCount * 4);
    if (bytes.length !== p.slotCount * 4) return false;
    const slots = new SlotTable(p.slotCount, bytes);
    for (let i = 0; i < p.slotCount; i++) if (slots.get(i) > p.count) return false;
    this.slots = slots;
    return true;
  }

  private readEntry(p: IndexPart, n: number): (IndexEntry & { prev: number }) | undefined {
    if (n < 1 || n > p.count) return undefined;
    const bytes = p.file.read(dataStart(p) + (n - 1) * INDEX_FILE_ENTRY_SIZE, INDEX_FILE_ENTRY_SIZE);
    if (bytes.length !== INDEX_FILE_ENTRY_SIZE) return undefined;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    if (!entryValid(dv, 0)) return undefined;
    return { ...decodeIndexEntry(bytes, 0), prev: dv.getUint32(20) };
  }

  /**
   * Makes `p` the active file holding its first `limit` entries, cut further at the first entry that is not
   * valid or out of order: recomputes the slot table and every chain link (rewriting entries whose link was
   * wrong) and cuts the file after the last kept entry.
   */
  private rebuild(p: IndexPart, limit: number): void {
    const prevPart = this.parts[this.parts.indexOf(p) - 1];
    let minOffset = prevPart?.endOffset ?? 0;
    const slots = new SlotTable(p.slotCount);
    const base = dataStart(p);
    let count = 0;
    p.beginOffset = p.endOffset = -1;
    p.beginTimestamp = p.endTimestamp = 0;
    scan: for (let from = 1; from <= limit; from += SCAN_CHUNK) {
      const n = Math.min(SCAN_CHUNK, limit - from + 1);
      const bytes = p.file.read(base + (from - 1) * INDEX_FILE_ENTRY_SIZE, n * INDEX_FILE_ENTRY_SIZE);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      let changed = false;
      let k = 0;
      for (; k < n; k++) {
        const pos = k * INDEX_FILE_ENTRY_SIZE;
        if (pos + INDEX_FILE_ENTRY_SIZE > bytes.length || !entryValid(dv, pos)) break;
        const e = decodeIndexEntry(bytes, pos);
        if (e.commitLogOffset < minOffset) break;
        minOffset = e.commitLogOffset;
        const s = e.keyHash % p.slotCount;
        const num = from + k;
        const prev = slots.get(s);
        if (dv.getUint32(pos + 20) !== prev) {
          writeFileEntry(bytes, pos, e.keyHash, e.commitLogOffset, e.storeTimestamp, prev);
          changed = true;
        }
        slots.set(s, num);
        if (count === 0) {
          p.beginOffset = e.commitLogOffset;
          p.beginTimestamp = e.storeTimestamp;
        }
        p.endOffset = e.commitLogOffset;
        p.endTimestamp = e.storeTimestamp;
        count = num;
      }
      if (changed) p.file.write(base + (from - 1) * INDEX_FILE_ENTRY_SIZE, bytes.subarray(0, k * INDEX_FILE_ENTRY_SIZE));
      if (k < n) break scan;
    }
    p.count = count;
    const size = base + count * INDEX_FILE_ENTRY_SIZE;
    if (p.file.size() > size) p.file.truncate(size);
    slots.markAll();
    this.slots = slots;
    this.headerDirty = true;
    this.dirtyFiles.add(p.file);
  }

  private lastEndOffset(): number {
    for (let i = this.parts.length - 1; i >= 0; i--) if (this.parts[i]!.count > 0) return this.parts[i]!.endOffset;
    return -1;
  }

  /** Number of entries held. */
  get size(): number {
    let n = 0;
    for (const p of this.parts) n += p.count;
    return n;
  }
  /** Commit log offset of the last indexed record, -1 when empty. */
  get lastCommitLogOffset(): number {
    return this.lastOffset;
  }
  get needsFlush(): boolean {
    return this.dirtyFiles.any || this.activeChanged;
  }
  /** The active file's header or slot table changed since writeSlotsAndHeader last wrote them. */
  private get activeChanged(): boolean {
    return this.headerDirty || this.slots.changedPages > 0;
  }
  /** What is held in memory (for limits and tests). */
  get footprint(): KeyIndexFootprint {
    const t = this.slots;
    return { slotTableBytes: t.bytes.byteLength, changedSlotPages: t.changedPages, files: this.parts.length };
  }

  /**
   * Appends a batch: one write per file touched, slot updates in memory (written on flush). Entries for records
   * before the last indexed one are already there (a re-dispatch after recovery, or a batch added again after a
   * failed write) and are skipped; entries of the last one itself may be written twice, which lookups, taking
   * each commit log offset once, do not show.
   */
  add(entries: readonly IndexEntry[] | IndexBatch): number {
    const b = entries instanceof IndexBatch ? entries : IndexBatch.of(entries);
    const { hashes, offsets, timestamps } = b;
    const len = b.length;
    let i = 0;
    let added = 0;
    for (;;) {
      while (i < len && offsets[i]! < this.lastOffset) i++;
      if (i === len) break;
      const part = this.appendable();
      const room = part.capacity - part.count;
      const base = dataStart(part) + part.count * INDEX_FILE_ENTRY_SIZE;
      const need = Math.min(room, len - i) * INDEX_FILE_ENTRY_SIZE;
      if (this.scratch.length < need) this.scratch = new Uint8Array(Math.max(need, this.scratch.length * 2));
      const buf = this.scratch;
      // Touch the slots of the entries first, in a loop of loads only: the slot table is too big for the
      // cache and each slot is a miss, and independent misses overlap (a load and its use in one loop did not).
      const slots = this.slots;
      let touched = 0;
      for (let k = i, end = Math.min(len, i + room); k < end; k++) touched ^= slots.get(hashes[k]! % part.slotCount);
      this.touched = touched;
      let n = 0;
      const { beginOffset, beginTimestamp, endOffset, endTimestamp } = part;
      const lastOffset = this.lastOffset;
      for (; i < len && n < room; i++) {
        const offset = offsets[i]!;
        if (offset < this.lastOffset) continue;
        const stamp = timestamps[i]!;
        const keyHash = hashes[i]!;
        const s = keyHash % part.slotCount;
        const num = part.count + n + 1;
        writeFileEntry(buf, n * INDEX_FILE_ENTRY_SIZE, keyHash, offset, stamp, slots.get(s));
        slots.set(s, num);
        if (part.count + n === 0) {
          part.beginOffset = offset;
          part.beginTimestamp = stamp;
        }
        part.endOffset = offset;
        part.endTimestamp = stamp;
        this.lastOffset = offset;
        n++;
      }
      try {
        part.file.write(base, buf.subarray(0, n * INDEX_FILE_ENTRY_SIZE));
      } catch (err) {
        // nothing of this write counts: the slots and ends go back, so that the same batch added again once
        // storage works (the dispatcher retries) writes every entry of it
        this.undoSlots(buf, n, part.slotCount);
        this.lastOffset = lastOffset;
        Object.assign(part, { beginOffset, beginTimestamp, endOffset, endTimestamp });
        throw err;
      }
      part.count += n;
      added += n;
      this.headerDirty = true;
      this.dirtyFiles.add(part.file);
      if (part.count === part.capacity) this.writeSlotsAndHeader(part);
    }
    return added;
  }

  /** Puts back the slots the first `n` entries of `buf` had set, newest first (each entry holds its slot's previous value). */
  private undoSlots(buf: Uint8Array, n: number, slotCount: number): void {
    for (let k = n - 1; k >= 0; k--) {
      const pos = k * INDEX_FILE_ENTRY_SIZE;
      const s = readU32(buf, pos) % slotCount;
      this.slots.set(s, readU32(buf, pos + 20));
    }
  }

  /** The active file when it has room, else a new one (its slot table zero, written with the header). */
  private appendable(): IndexPart {
    const last = this.parts[this.parts.length - 1];
    if (last !== undefined && last.count < last.capacity) return last;
    if (last !== undefined && this.activeChanged) this.writeSlotsAndHeader(last);
    const seq = last === undefined ? 0 : last.seq + 1;
    const file = this.storage.open(`${this.dir}/${numberedFileName(seq)}`);
    if (file.size() !== 0) file.truncate(0);
    const part: IndexPart = { seq, file, slotCount: this.slotsPerFile, capacity: this.entriesPerFile, count: 0, beginOffset: -1, endOffset: -1, beginTimestamp: 0, endTimestamp: 0 };
    const head = new Uint8Array(dataStart(part));
    head.set(encodeHeader(part), 0);
    file.write(0, head);
    this.parts.push(part);
    this.dirtyFiles.markDir();
    this.dirtyFiles.add(file);
    this.slots = new SlotTable(part.slotCount); // (zero, as written with the header)
    this.headerDirty = false;
    return part;
  }

  /** Writes the active file's changed slots, then its header (last, so a torn header never vouches for slots). */
  private writeSlotsAndHeader(p: IndexPart): void {
    for (const r of this.slots.changedRuns()) p.file.write(INDEX_HEADER_SIZE + r.at, r.bytes);
    this.slots.markClean();
    p.file.write(0, encodeHeader(p));
    this.headerDirty = false;
    this.dirtyFiles.add(p.file);
  }

  /** Candidate commit log offsets for a key hash, newest first, each at most once, at most `max`. */
  lookup(hash: number, max = 64): number[] {
    const h = hash >>> 0;
    const out: number[] = [];
    const seen = new Set<number>();
    for (let i = this.parts.length - 1; i >= 0 && out.length < max; i--) {
      const p = this.parts[i]!;
      if (p.count === 0) continue;
      if (p.endOffset < this.floor) break;
      const s = h % p.slotCount;
      let n: number;
      if (i === this.parts.length - 1) n = this.slots.get(s);
      else {
        const b = p.file.read(INDEX_HEADER_SIZE + s * 4, 4);
        n = b.length === 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0) : 0;
      }
      while (n > 0 && out.length < max) {
        const e = this.readEntry(p, n);
        if (e === undefined || e.prev >= n) break;
        if (e.commitLogOffset < this.floor) break;
        if (e.keyHash === h && !seen.has(e.commitLogOffset)) {
          seen.add(e.commitLogOffset);
          out.push(e.commitLogOffset);
        }
        n = e.prev;
      }
    }
    return out;
  }

  /**
   * Recovery: drops entries pointing at or past `commitLogOffset` (and entries a crash left unwritten or torn).
   * Later files go whole; the file holding the cut becomes the active one, its chains rebuilt.
   */
  truncateFrom(commitLogOffset: number): number {
    let removed = 0;
    while (this.parts.length > 0) {
      const last = this.parts[this.parts.length - 1]!;
      if (last.count > 0 && last.beginOffset < commitLogOffset) break;
      removed += last.count;
      last.file.close();
      this.dirtyFiles.delete(last.file);
      this.removePath(last.file.path);
      this.parts.pop();
    }
    const last = this.parts[this.parts.length - 1];
    if (last !== undefined) {
      // Entries are in commit log order: find how many lead below the cut, scanning back from the end.
      let keep = last.count;
      const base = dataStart(last);
      while (keep > 0) {
        const from = Math.max(0, keep - SCAN_CHUNK);
        const bytes = last.file.read(base + from * INDEX_FILE_ENTRY_SIZE, (keep - from) * INDEX_FILE_ENTRY_SIZE);
        const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
        let k = keep - from;
        while (k > 0) {
          const pos = (k - 1) * INDEX_FILE_ENTRY_SIZE;
          if (pos + INDEX_FILE_ENTRY_SIZE <= bytes.length && entryValid(dv, pos) && decodeIndexEntry(bytes, pos).commitLogOffset < commitLogOffset) break;
          k--;
        }
        keep = from + k;
        if (k > 0) break;
      }
      const before = last.count;
      if (keep < before || removed > 0) this.rebuild(last, keep);
      removed += before - last.count;
    } else {
      this.slots = new SlotTable(0);
      this.headerDirty = false;
    }
    this.lastOffset = this.lastEndOffset();
    return removed;
  }

  /** Retention: removes files whose entries all point below `commitLogMinOffset` (never the last file). */
  deleteBelow(commitLogMinOffset: number): number {
    this.floor = Math.max(this.floor, commitLogMinOffset);
    let removed = 0;
    while (this.parts.length > 1 && this.parts[0]!.endOffset < commitLogMinOffset) {
      const p = this.parts.shift()!;
      p.file.close();
      this.dirtyFiles.delete(p.file);
      this.removePath(p.file.path);
      removed++;
    }
    return removed;
  }

  /** Writes the active file's slot table changes and header, then makes every write and removal durable. */
  async flush(): Promise<void> {
    const last = this.parts[this.parts.length - 1];
    if (last !== undefined && this.activeChanged) this.writeSlotsAndHeader(last);
    await this.dirtyFiles.flush();
  }

  close(): void {
    for (const p of this.parts) p.file.close();
    this.parts = [];
    this.dirtyFiles.clear();
  }
}
