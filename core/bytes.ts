/**
 * Byte helpers shared by the binary formats (store files, commit log records, wire codecs): big-endian
 * integers, UTF-8 lengths, Node's native latin1 slice, hex digit tables and the numbered file names.
 * Small functions, so that V8 inlines them into the hot loops that call them.
 */

// ---------------------------------------------------------------------------------------------- integers

/** Reads a big-endian u16 at buf[pos]. */
export function readU16(buf: Uint8Array, pos: number): number {
  return (buf[pos]! << 8) | buf[pos + 1]!;
}

/** Writes the low 16 bits of `v` big-endian at buf[pos]. */
export function writeU16(buf: Uint8Array, pos: number, v: number): void {
  buf[pos] = v >>> 8;
  buf[pos + 1] = v;
}

/** Reads a big-endian u32 at buf[pos]. */
export function readU32(buf: Uint8Array, pos: number): number {
  return ((buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!) >>> 0;
}

/** Writes the low 32 bits of `v` big-endian at buf[pos] (a negative int32 is written as its two's complement). */
export function writeU32(buf: Uint8Array, pos: number, v: number): void {
  buf[pos] = v >>> 24;
  buf[pos + 1] = v >>> 16;
  buf[pos + 2] = v >>> 8;
  buf[pos + 3] = v;
}

/** Reads a big-endian u64 at buf[pos] as a JS number; -1 when it is not a safe integer (at least 2^53). */
export function readU64(buf: Uint8Array, pos: number): number {
  const hi = readU32(buf, pos);
  if (hi > 0x1fffff) return -1;
  return hi * 0x1_0000_0000 + readU32(buf, pos + 4);
}

/** Writes `v` (a non-negative safe integer) big-endian as a u64 at buf[pos]. */
export function writeU64(buf: Uint8Array, pos: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  writeU32(buf, pos, hi);
  writeU32(buf, pos + 4, v - hi * 0x1_0000_0000);
}

/** Reads a big-endian u64 through a DataView (no safety check: the high word is taken as it is). */
export function getU64(dv: DataView, pos: number): number {
  return dv.getUint32(pos) * 0x1_0000_0000 + dv.getUint32(pos + 4);
}

/** Writes `v` (a non-negative safe integer) big-endian as a u64 through a DataView. */
export function setU64(dv: DataView, pos: number, v: number): void {
  const hi = Math.floor(v / 0x1_0000_0000);
  dv.setUint32(pos, hi);
  dv.setUint32(pos + 4, v - hi * 0x1_0000_0000);
}

// ---------------------------------------------------------------------------------------------- strings

/**
 * Bytes `s` takes in UTF-8, as TextEncoder and Buffer write it: a surrogate pair takes 4 bytes, a lone
 * surrogate 3 (it is written as U+FFFD). ASCII costs one comparison per character.
 */
export function utf8Length(s: string): number {
  const n = s.length;
  let len = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      len += 1;
    } else if (c >= 0xd800 && c < 0xdc00 && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      len += 2; // surrogate pair: 2 UTF-16 units, 4 bytes
      i++;
    } else {
      len += 2;
    }
  }
  return len;
}

/**
 * Node's native latin1 slice, unbound: `latin1Slice.call(bytes, start, end)` makes one string of bytes[start,
 * end) in one native copy (works on any Uint8Array, not only a Buffer). For ASCII bytes it is their text.
 */
export const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }).latin1Slice;

/** Whether a[aAt, aAt + length) and b[bAt, bAt + length) hold the same bytes. */
export function sameBytes(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[aAt + i] !== b[bAt + i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------- hex

/** The upper-case hex digits: `HEX_DIGITS[d]` is the digit of d (0..15). */
export const HEX_DIGITS = '0123456789ABCDEF';
/** Character codes of the upper-case hex digits. */
export const HEX_CODES = Uint8Array.from(HEX_DIGITS, (c) => c.charCodeAt(0));
/** The two upper-case hex digits of each byte value. */
export const HEX_BYTES: readonly string[] = Array.from({ length: 256 }, (_, b) => HEX_DIGITS[b >>> 4]! + HEX_DIGITS[b & 15]!);

/** The value of a hex digit's character code (either case), or -1. */
export function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

// ---------------------------------------------------------------------------------------------- file names

/** A numbered file's name: `n` in 20 decimal digits, zero-padded (as RocketMQ names its mapped files). */
export function numberedFileName(n: number): string {
  return String(n).padStart(20, '0');
}

/** Whether `name` is a numbered file's name (20 decimal digits). */
export function isNumberedFileName(name: string): boolean {
  return NUMBERED_NAME.test(name);
}

const NUMBERED_NAME = /^\d{20}$/;
