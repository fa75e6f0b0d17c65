/**
 * The strings of one batch that share a prefix and end in hex digits (derived message ids, counted unique
 * keys), written one after another into one scratch line and read out as one string; each is then a slice of
 * that string. One native call per batch instead of one per string, and V8 keeps a slice of 13 or more
 * characters as a view of the line, not a copy.
 */
import { HEX_CODES, latin1Slice } from './bytes.js';

const TWO_32 = 0x1_0000_0000;

/** `v` (a u32) as 8 uppercase hex digits into `out` at `at`. */
export function putHex8(out: Uint8Array, at: number, v: number): void {
  for (let j = 7; j >= 0; j--) {
    out[at + j] = HEX_CODES[v & 15]!;
    v >>>= 4;
  }
}

/**
 * Scratch lines, given back once read out and reused: a fresh typed array of a few kilobytes costs microseconds
 * (its memory lives outside the JS heap), as much as the strings it makes.
 */
const pool: Uint8Array[] = [];
const POOL_MAX = 8;

function takeScratch(n: number): Uint8Array {
  for (let k = pool.length - 1; k >= 0; k--) {
    const b = pool[k]!;
    if (b.length >= n) {
      pool[k] = pool[pool.length - 1]!;
      pool.pop();
      return b;
    }
  }
  return new Uint8Array(Math.max(n, 4096));
}

/**
 * Strings are added, then read (`at`); the first read makes the line's string and gives its scratch back, so
 * a line takes no more strings after it.
 */
export class HexLine {
  /** Prefix then digits, one slot per string; undefined when the prefix is not ASCII or once read out. */
  private bytes: Uint8Array | undefined;
  private readonly width: number;
  private readonly each: string[] | undefined;
  private count = 0;
  private line: string | undefined;

  /** Room for `capacity` strings of `prefix` followed by `digits` (8 or 16) hex digits. */
  constructor(
    private readonly prefix: string,
    private readonly digits: 8 | 16,
    private readonly capacity: number,
  ) {
    this.width = prefix.length + digits;
    let ascii = true;
    for (let i = 0; i < prefix.length; i++) if (prefix.charCodeAt(i) >= 0x80) ascii = false;
    if (!ascii) {
      this.each = [];
      return;
    }
    const bytes = takeScratch(this.width * capacity);
    if (capacity > 0) {
      for (let i = 0; i < prefix.length; i++) bytes[i] = prefix.charCodeAt(i);
      // the prefix into every slot: the filled part copied onto the next, doubling (digits are written by add)
      for (let filled = 1; filled < capacity; filled *= 2) bytes.copyWithin(filled * this.width, 0, Math.min(filled, capacity - filled) * this.width);
    }
    this.bytes = bytes;
  }

  /** Adds the string for `v` (a u32 for 8 digits, a safe non-negative integer for 16); returns its index. */
  add(v: number): number {
    if (this.count === this.capacity) throw new RangeError(`hex line holds ${this.capacity} strings`);
    if (this.line !== undefined) throw new Error('hex line: no string can be added once it was read');
    const i = this.count++;
    const out = this.bytes ?? new Uint8Array(this.digits);
    const at = this.bytes === undefined ? 0 : i * this.width + this.prefix.length;
    if (this.digits === 16) {
      putHex8(out, at, Math.floor(v / TWO_32));
      putHex8(out, at + 8, v >>> 0);
    } else putHex8(out, at, v);
    if (this.each !== undefined) this.each.push(this.prefix + latin1Slice.call(out, 0, this.digits));
    return i;
  }

  /** The string of index `i` (from `add`). */
  at(i: number): string {
    if (this.each !== undefined) return this.each[i]!;
    if (i < 0 || i >= this.count) throw new RangeError(`hex line has no string ${i}`);
    let line = this.line;
    if (line === undefined) {
      line = this.line = latin1Slice.call(this.bytes!, 0, this.count * this.width);
      if (pool.length < POOL_MAX) pool.push(this.bytes!);
      this.bytes = undefined;
    }
    return line.substring(i * this.width, (i + 1) * this.width);
  }
}
