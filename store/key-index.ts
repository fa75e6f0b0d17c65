import type { StorageBackend } from './backend.js';
import { readU64, writeU64 } from './consume-queue.js';
import { EntryFile } from './entry-file.js';

/** Bytes of one index entry: key hash (u32), commit log offset (u64), store timestamp (u64). */
export const INDEX_ENTRY_SIZE = 20;
export const DEFAULT_INDEX_ENTRIES_PER_FILE = 200_000;

export interface IndexEntry {
  keyHash: number;
  commitLogOffset: number;
  storeTimestamp: number;
}

/** 32-bit FNV-1a over topic, a separator and the key (UTF-16 code units). Hashes collide: verify on lookup. */
export function keyHash(topic: string, key: string): number {
  let h = 0x811c9dc5;
  const mix = (s: string): void => {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      h = Math.imul(h ^ (c & 0xff), 0x01000193);
      h = Math.imul(h ^ (c >>> 8), 0x01000193);
    }
  };
  mix(topic);
  h = Math.imul(h ^ 0x01, 0x01000193);
  mix(key);
  return h >>> 0;
}

export function encodeIndexEntry(e: IndexEntry, buf: Uint8Array, pos: number): void {
  const dv = new DataView(buf.buffer, buf.byteOffset + pos, INDEX_ENTRY_SIZE);
  dv.setUint32(0, e.keyHash >>> 0);
  writeU64(dv, 4, e.commitLogOffset);
  writeU64(dv, 12, e.storeTimestamp);
}

export function decodeIndexEntry(buf: Uint8Array, pos: number): IndexEntry {
  const dv = new DataView(buf.buffer, buf.byteOffset + pos, INDEX_ENTRY_SIZE);
  return { keyHash: dv.getUint32(0), commitLogOffset: readU64(dv, 4), storeTimestamp: readU64(dv, 12) };
}

/**
 * Key -> commit log offsets. On disk an append-only sequence of (key hash, commit log offset, store
 * timestamp) entries in commit log order, split in files (`<storeDir>/index/<first byte offset>`); in memory
 * a map from hash to offsets, rebuilt on open. Bounded by retention: files whose entries all point below the
 * commit log's minimum offset are removed. Lookups give candidate offsets; the caller checks the key in the
 * record it reads, because hashes collide.
 */
export class KeyIndex {
  private readonly map = new Map<number, number[]>();
  private lastOffset = -1;

  private constructor(private readonly entries: EntryFile) {}

  static open(storage: StorageBackend, storeDir: string, entriesPerFile = DEFAULT_INDEX_ENTRIES_PER_FILE): KeyIndex {
    const idx = new KeyIndex(EntryFile.open(storage, `${storeDir}/index`, INDEX_ENTRY_SIZE, entriesPerFile));
    idx.rebuild();
    return idx;
  }

  private rebuild(): void {
    this.map.clear();
    this.lastOffset = -1;
    const chunk = 4096;
    for (let i = this.entries.minIndex; i < this.entries.maxIndex; i += chunk) {
      const bytes = this.entries.read(i, chunk);
      for (let p = 0; p < bytes.length; p += INDEX_ENTRY_SIZE) this.remember(decodeIndexEntry(bytes, p));
    }
  }

  private remember(e: IndexEntry): void {
    const list = this.map.get(e.keyHash);
    if (list === undefined) this.map.set(e.keyHash, [e.commitLogOffset]);
    else if (list[list.length - 1] !== e.commitLogOffset) list.push(e.commitLogOffset);
    if (e.commitLogOffset > this.lastOffset) this.lastOffset = e.commitLogOffset;
  }

  /** Number of entries held. */
  get size(): number {
    return this.entries.maxIndex - this.entries.minIndex;
  }
  /** Commit log offset of the last indexed record, -1 when empty. */
  get lastCommitLogOffset(): number {
    return this.lastOffset;
  }
  get needsFlush(): boolean {
    return this.entries.needsFlush;
  }

  /**
   * Appends a batch in one write. Entries for records before the last indexed one are already there (a
   * re-dispatch after recovery) and are skipped.
   */
  add(list: readonly IndexEntry[]): number {
    const fresh = list.filter((e) => e.commitLogOffset >= this.lastOffset);
    if (fresh.length === 0) return 0;
    const buf = new Uint8Array(fresh.length * INDEX_ENTRY_SIZE);
    for (let i = 0; i < fresh.length; i++) encodeIndexEntry(fresh[i]!, buf, i * INDEX_ENTRY_SIZE);
    this.entries.append(buf);
    for (const e of fresh) this.remember(e);
    return fresh.length;
  }

  /** Candidate commit log offsets for a key hash, newest first, at most `max`. */
  lookup(hash: number, max = 64): number[] {
    const list = this.map.get(hash >>> 0);
    if (!list) return [];
    const out: number[] = [];
    for (let i = list.length - 1; i >= 0 && out.length < max; i--) out.push(list[i]!);
    return out;
  }

  /** Recovery: drops entries pointing at or past `commitLogOffset`. */
  truncateFrom(commitLogOffset: number): number {
    let end = this.entries.maxIndex;
    const chunk = 1024;
    scan: while (end > this.entries.minIndex) {
      const from = Math.max(this.entries.minIndex, end - chunk);
      const bytes = this.entries.read(from, end - from);
      for (let p = bytes.length - INDEX_ENTRY_SIZE; p >= 0; p -= INDEX_ENTRY_SIZE) {
        const e = decodeIndexEntry(bytes, p);
        // All-zero entries are space a crash left unwritten: drop them too.
        const blank = e.keyHash === 0 && e.commitLogOffset === 0 && e.storeTimestamp === 0;
        if (!blank && e.commitLogOffset < commitLogOffset) break scan;
        end--;
      }
    }
    const removed = this.entries.maxIndex - end;
    if (removed > 0) {
      this.entries.truncate(end);
      this.rebuild();
    }
    return removed;
  }

  /** Retention: removes files whose entries all point below `commitLogMinOffset` (never the last file). */
  deleteBelow(commitLogMinOffset: number): number {
    const removed = this.entries.deleteLeadingFiles((last) => decodeIndexEntry(last, 0).commitLogOffset < commitLogMinOffset);
    if (removed > 0) {
      for (const [h, list] of this.map) {
        let k = 0;
        while (k < list.length && list[k]! < commitLogMinOffset) k++;
        if (k === list.length) this.map.delete(h);
        else if (k > 0) list.splice(0, k);
      }
    }
    return removed;
  }

  flush(): Promise<void> {
    return this.entries.flush();
  }

  close(): void {
    this.entries.close();
  }
}
