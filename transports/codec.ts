/**
 * The binary frame codec shared by every transport. All integers are big-endian (network order).
 *
 * ```
 * offset size  field
 * 0      1     magic 0xAC
 * 1      1     version 1
 * 2      1     kind (FrameKind: 1..4)
 * 3      2     code            uint16
 * 5      4     requestId       uint32
 * 9      2     status          uint16
 * 11     2     header count    uint16
 * 13     ...   header entries: key length uint16, key utf8 bytes, type tag uint8, value:
 *                 1 STRING   uint32 length + utf8 bytes
 *                 2 FLOAT64  8 bytes IEEE 754
 *                 3 FALSE    (no value)
 *                 4 TRUE     (no value)
 *                 5 INT32    4 bytes two's complement (integers in int32 range, not -0)
 * ...    4     body length     uint32
 * ...    n     body bytes (raw, never JSON-encoded)
 * ```
 *
 * `decodeFrame` validates every length against the bytes that remain, rejects an unknown magic, version,
 * kind or type tag, invalid UTF-8, duplicate header keys and trailing bytes, and throws nothing but
 * `CodecError`. The body it returns is a view into the input bytes (no copy): callers that keep the body
 * while reusing the input buffer must copy it.
 *
 * Header entries whose value is `undefined` (possible at runtime through optional properties) are skipped.
 */
import { readUtf8 } from '../core/utf8-strings.js';
import { readU32, utf8Length, writeU32 } from '../core/bytes.js';
import { EMPTY_HEADER, FrameKind, type Frame, type Header, type HeaderValue } from './frame.js';

export class CodecError extends Error {
  readonly code = 'BAD_FRAME' as const;
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

export const FRAME_MAGIC = 0xac;
export const FRAME_VERSION = 1;
/** Bytes before the first header entry. */
const FIXED_HEAD = 13;
/** Bytes of the body length field. */
const BODY_LEN = 4;
/** Smallest valid encoding: no header entries, empty body. */
export const MIN_FRAME_BYTES = FIXED_HEAD + BODY_LEN;

const TAG_STRING = 1;
const TAG_FLOAT64 = 2;
const TAG_FALSE = 3;
const TAG_TRUE = 4;
const TAG_INT32 = 5;

const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;

const utf8Encoder = new TextEncoder();

// Scratch for float64 conversion; the wire order is big-endian whatever the platform's order.
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Output buffers: small frames are carved out of a shared 64 KiB slab, one `subarray` view each (creating a
 * typed array is most of the cost of a small frame; one view per frame is the least we can do). Every byte
 * is written by the encoder, so nothing stale leaks. A result shares its ArrayBuffer with other frames: use
 * `byteOffset`/`length`, never `.buffer` alone. `slice()` copies, as for any Uint8Array.
 */
const SLAB_SIZE = 64 * 1024;
const SLAB_MAX_FRAME = 4096;
let slab = new Uint8Array(SLAB_SIZE);
let slabPos = 0;
function allocate(n: number): Uint8Array {
  if (n > SLAB_MAX_FRAME) {
    // not zeroed first (a pull reply runs to a megabyte): the encoder writes every byte
    const b = Buffer.allocUnsafe(n);
    return new Uint8Array(b.buffer, b.byteOffset, n);
  }
  if (slabPos + n > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabPos = 0;
  }
  const out = slab.subarray(slabPos, slabPos + n);
  slabPos += (n + 7) & ~7;
  return out;
}

/** Encoded header sections of frozen header objects (they cannot change, so the bytes can be reused). */
const frozenHeaderCache = new WeakMap<object, Uint8Array>();

const isInt32 = (v: number): boolean => (v | 0) === v && !(v === 0 && 1 / v < 0);

/** Writes `s` as UTF-8 at `pos`; returns the new position. */
function writeUtf8(out: Uint8Array, pos: number, s: string, byteLen: number): number {
  const n = s.length;
  if (n > 64) {
    utf8Encoder.encodeInto(s, out.subarray(pos, pos + byteLen));
    return pos + byteLen;
  }
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[pos++] = c;
    } else if (c < 0x800) {
      out[pos++] = 0xc0 | (c >> 6);
      out[pos++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c < 0xe000) {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c < 0xdc00 && (d & 0xfc00) === 0xdc00) {
        i++;
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        out[pos++] = 0xf0 | (c >> 18);
        out[pos++] = 0x80 | ((c >> 12) & 0x3f);
        out[pos++] = 0x80 | ((c >> 6) & 0x3f);
        out[pos++] = 0x80 | (c & 0x3f);
      } else {
        out[pos++] = 0xef; // U+FFFD for a lone surrogate
        out[pos++] = 0xbf;
        out[pos++] = 0xbd;
      }
    } else {
      out[pos++] = 0xe0 | (c >> 12);
      out[pos++] = 0x80 | ((c >> 6) & 0x3f);
      out[pos++] = 0x80 | (c & 0x3f);
    }
  }
  return pos;
}

function valueLength(key: string, v: HeaderValue): number {
  switch (typeof v) {
    case 'string': {
      const len = utf8Length(v);
      if (len > MAX_U32) throw new CodecError(`header '${key}': string value too long`);
      return 1 + 4 + len;
    }
    case 'number':
      return isInt32(v) ? 1 + 4 : 1 + 8;
    case 'boolean':
      return 1;
    default:
      throw new CodecError(`header '${key}': unsupported value type ${typeof v}`);
  }
}

/** Bytes of the header section (count + entries). */
function headerLength(header: Header): number {
  let len = 2;
  let count = 0;
  for (const key in header) {
    const v = header[key];
    if (v === undefined || !Object.prototype.hasOwnProperty.call(header, key)) continue;
    const klen = utf8Length(key);
    if (klen > MAX_U16) throw new CodecError(`header key too long (${klen} bytes, limit ${MAX_U16})`);
    len += 2 + klen + valueLength(key, v);
    count++;
  }
  if (count > MAX_U16) throw new CodecError(`too many header entries (${count}, limit ${MAX_U16})`);
  return len;
}

function writeHeader(out: Uint8Array, pos: number, header: Header): number {
  const countPos = pos;
  pos += 2;
  let count = 0;
  for (const key in header) {
    const v = header[key];
    if (v === undefined || !Object.prototype.hasOwnProperty.call(header, key)) continue;
    count++;
    const kstart = pos + 2;
    const kend = writeUtf8(out, kstart, key, key.length > 64 ? utf8Length(key) : 0);
    const klen = kend - kstart;
    out[pos] = klen >>> 8;
    out[pos + 1] = klen & 0xff;
    pos = kend;
    if (typeof v === 'string') {
      out[pos++] = TAG_STRING;
      const sstart = pos + 4;
      const send = writeUtf8(out, sstart, v, v.length > 64 ? utf8Length(v) : 0);
      const slen = send - sstart;
      writeU32(out, pos, slen);
      pos = send;
    } else if (typeof v === 'number') {
      if (isInt32(v)) {
        out[pos++] = TAG_INT32;
        writeU32(out, pos, v);
        pos += 4;
      } else {
        out[pos++] = TAG_FLOAT64;
        f64[0] = v;
        if (LITTLE_ENDIAN) {
          for (let i = 7; i >= 0; i--) out[pos++] = f64Bytes[i]!;
        } else {
          for (let i = 0; i < 8; i++) out[pos++] = f64Bytes[i]!;
        }
      }
    } else {
      out[pos++] = v ? TAG_TRUE : TAG_FALSE;
    }
  }
  out[countPos] = count >>> 8;
  out[countPos + 1] = count & 0xff;
  return pos;
}

function checkFixed(f: Frame): void {
  const k = f.kind;
  if (k !== FrameKind.Request && k !== FrameKind.Reply && k !== FrameKind.OneWay && k !== FrameKind.Event) {
    throw new CodecError(`unknown frame kind ${String(k)}`);
  }
  if ((f.code & MAX_U16) !== f.code) throw new CodecError(`code ${f.code} is not a uint16`);
  if (f.requestId >>> 0 !== f.requestId) throw new CodecError(`requestId ${f.requestId} is not a uint32`);
  if ((f.status & MAX_U16) !== f.status) throw new CodecError(`status ${f.status} is not a uint16`);
  if (f.body.length > MAX_U32) throw new CodecError(`body too long (${f.body.length} bytes)`);
}

function cachedHeader(header: Header): Uint8Array | undefined {
  if (!Object.isFrozen(header)) return undefined;
  let bytes = frozenHeaderCache.get(header);
  if (!bytes) {
    bytes = new Uint8Array(headerLength(header));
    writeHeader(bytes, 0, header);
    frozenHeaderCache.set(header, bytes);
  }
  return bytes;
}

/** The exact number of bytes `encodeFrame(f)` produces. Throws CodecError for a frame that cannot be encoded. */
export function encodedLength(f: Frame): number {
  checkFixed(f);
  const cached = cachedHeader(f.header);
  return FIXED_HEAD - 2 + (cached ? cached.length : headerLength(f.header)) + BODY_LEN + f.body.length;
}

/**
 * Encodes a frame into one new Uint8Array (the body is copied in). Small results are views into a pooled
 * ArrayBuffer shared with other small buffers: use `byteOffset`/`length`, never `.buffer` alone. Throws CodecError when a field is out of
 * range (kind, uint16/uint32 fields, header value types, key or string lengths).
 */
export function encodeFrame(f: Frame): Uint8Array {
  const blen = f.body.length;
  const out = encodeHead(f, blen);
  if (blen > 0) out.set(f.body, out.length - blen);
  return out;
}

/**
 * The encoded frame up to its body: `encodeFrameHead(f)` followed by `f.body` is `encodeFrame(f)`. For writers
 * that send the two side by side (a socket's writev) instead of copying the body. Same errors as encodeFrame.
 */
export function encodeFrameHead(f: Frame): Uint8Array {
  return encodeHead(f, 0);
}

/** Every field but the body's bytes, with `room` bytes left free at the end. */
function encodeHead(f: Frame, room: number): Uint8Array {
  checkFixed(f);
  const cached = cachedHeader(f.header);
  const hlen = cached ? cached.length : headerLength(f.header);
  const blen = f.body.length;
  const out = allocate(FIXED_HEAD - 2 + hlen + BODY_LEN + room);
  out[0] = FRAME_MAGIC;
  out[1] = FRAME_VERSION;
  out[2] = f.kind;
  out[3] = f.code >>> 8;
  out[4] = f.code & 0xff;
  writeU32(out, 5, f.requestId);
  out[9] = f.status >>> 8;
  out[10] = f.status & 0xff;
  let pos: number;
  if (cached) {
    out.set(cached, 11);
    pos = 11 + cached.length;
  } else {
    pos = writeHeader(out, 11, f.header);
  }
  writeU32(out, pos, blen);
  return out;
}

function readString(bytes: Uint8Array, pos: number, len: number): string {
  const s = readUtf8(bytes, pos, pos + len);
  if (s === undefined) throw new CodecError(`invalid UTF-8 at offset ${pos}`);
  return s;
}

/**
 * Decodes one frame that fills `bytes` exactly. Throws CodecError, and nothing else, on malformed input.
 * The returned body is a view into `bytes` (not a copy).
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (!(bytes instanceof Uint8Array)) throw new CodecError('input is not a Uint8Array');
  const end = bytes.length;
  if (end < MIN_FRAME_BYTES) throw new CodecError(`frame too short (${end} bytes, minimum ${MIN_FRAME_BYTES})`);
  if (bytes[0] !== FRAME_MAGIC) throw new CodecError(`bad magic 0x${bytes[0]!.toString(16)}`);
  if (bytes[1] !== FRAME_VERSION) throw new CodecError(`unsupported frame version ${bytes[1]}`);
  const kind = bytes[2]!;
  if (kind < FrameKind.Request || kind > FrameKind.Event) throw new CodecError(`unknown frame kind ${kind}`);
  const code = (bytes[3]! << 8) | bytes[4]!;
  const requestId = readU32(bytes, 5);
  const status = (bytes[9]! << 8) | bytes[10]!;
  const count = (bytes[11]! << 8) | bytes[12]!;
  let pos = FIXED_HEAD;
  // No entries (most data-path frames): share the frozen empty header instead of allocating one.
  const header = (count === 0 ? EMPTY_HEADER : {}) as Record<string, HeaderValue>;
  for (let n = 0; n < count; n++) {
    if (pos + 2 > end) throw new CodecError(`truncated header entry ${n}`);
    const klen = (bytes[pos]! << 8) | bytes[pos + 1]!;
    pos += 2;
    if (pos + klen + 1 > end) throw new CodecError(`header key ${n} overruns the frame`);
    const key = readString(bytes, pos, klen);
    pos += klen;
    if (Object.prototype.hasOwnProperty.call(header, key)) throw new CodecError(`duplicate header key '${key}'`);
    const tag = bytes[pos++]!;
    let value: HeaderValue;
    switch (tag) {
      case TAG_STRING: {
        if (pos + 4 > end) throw new CodecError(`truncated length of header '${key}'`);
        const slen = readU32(bytes, pos);
        pos += 4;
        if (slen > end - pos) throw new CodecError(`header '${key}' value overruns the frame`);
        value = readString(bytes, pos, slen);
        pos += slen;
        break;
      }
      case TAG_FLOAT64:
        if (pos + 8 > end) throw new CodecError(`truncated float of header '${key}'`);
        if (LITTLE_ENDIAN) {
          for (let i = 7; i >= 0; i--) f64Bytes[i] = bytes[pos++]!;
        } else {
          for (let i = 0; i < 8; i++) f64Bytes[i] = bytes[pos++]!;
        }
        value = f64[0]!;
        break;
      case TAG_INT32:
        if (pos + 4 > end) throw new CodecError(`truncated int of header '${key}'`);
        value = readU32(bytes, pos) | 0;
        pos += 4;
        break;
      case TAG_FALSE:
        value = false;
        break;
      case TAG_TRUE:
        value = true;
        break;
      default:
        throw new CodecError(`unknown type tag ${tag} of header '${key}'`);
    }
    if (key === '__proto__') {
      Object.defineProperty(header, key, { value, enumerable: true, writable: true, configurable: true });
    } else {
      header[key] = value;
    }
  }
  if (pos + BODY_LEN > end) throw new CodecError('truncated body length');
  const blen = readU32(bytes, pos);
  pos += BODY_LEN;
  if (blen > end - pos) throw new CodecError(`body length ${blen} overruns the frame (${end - pos} bytes left)`);
  if (pos + blen !== end) throw new CodecError(`${end - pos - blen} trailing bytes after the body`);
  const body = new Uint8Array(bytes.buffer, bytes.byteOffset + pos, blen);
  return { kind: kind as FrameKind, code, requestId, status, header, body };
}
