/**
 * The slot table of the key index's active file, in memory: the slots as the big-endian u32s the file holds (read
 * and written through a DataView, so a flush writes them with no conversion), and which pages of them changed since
 * the last write.
 *
 * A flush writes the changed pages as a few long runs rather than one write per changed slot: slots are
 * spread at random over the table, so a second's worth of messages changes a slot on most pages anyway, and
 * one system call per slot (a thousand a second at 1,000 msgs/s) stalled the broker for milliseconds at every
 * checkpoint. The pages the disk writes back are the same either way.
 */

/** Slots per tracked page (4 KiB of the table). */
const PAGE_SLOTS = 1024;
const PAGE_SHIFT = 10;
/** Clean pages between two changed ones that a run still covers: writing them costs less than another call. */
const MERGE_GAP_PAGES = 8;

export class SlotTable {
  /** The slots big-endian, as in the file. */
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly dirty: Uint8Array;
  private dirtyPages = 0;

  /** A table of `count` zero slots, or of the slots in `bytes` (big-endian, count * 4 of them; copied). */
  constructor(readonly count: number, bytes?: Uint8Array) {
    this.bytes = new Uint8Array(count * 4);
    this.view = new DataView(this.bytes.buffer);
    this.dirty = new Uint8Array(Math.ceil(count / PAGE_SLOTS));
    if (bytes !== undefined) this.bytes.set(bytes.subarray(0, count * 4));
  }

  get(slot: number): number {
    return this.view.getUint32(slot * 4);
  }

  /** Pages changed since the last `markClean`. */
  get changedPages(): number {
    return this.dirtyPages;
  }

  set(slot: number, value: number): void {
    this.view.setUint32(slot * 4, value);
    const page = slot >>> PAGE_SHIFT;
    if (this.dirty[page] === 0) {
      this.dirty[page] = 1;
      this.dirtyPages++;
    }
  }

  /** Marks every page changed (a table made or rebuilt in memory). */
  markAll(): void {
    this.dirty.fill(1);
    this.dirtyPages = this.dirty.length;
  }

  /**
   * The changed parts as runs of bytes (views of `bytes`) at their byte offsets in the table, clean gaps of up to
   * MERGE_GAP_PAGES pages included. They stay changed until `markClean`.
   */
  changedRuns(): { at: number; bytes: Uint8Array }[] {
    const runs: { at: number; bytes: Uint8Array }[] = [];
    if (this.dirtyPages === 0) return runs;
    const pages = this.dirty.length;
    let start = -1;
    let end = -1; // one past the last changed page of the run
    for (let p = 0; p < pages; p++) {
      if (this.dirty[p] === 0) continue;
      if (start >= 0 && p - end > MERGE_GAP_PAGES) {
        runs.push(this.run(start, end));
        start = -1;
      }
      if (start < 0) start = p;
      end = p + 1;
    }
    if (start >= 0) runs.push(this.run(start, end));
    return runs;
  }

  /** The changes are written. */
  markClean(): void {
    this.dirty.fill(0);
    this.dirtyPages = 0;
  }

  private run(fromPage: number, toPage: number): { at: number; bytes: Uint8Array } {
    const at = fromPage * PAGE_SLOTS * 4;
    return { at, bytes: this.bytes.subarray(at, Math.min(this.bytes.length, toPage * PAGE_SLOTS * 4)) };
  }
}
