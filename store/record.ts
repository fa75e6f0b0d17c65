/**
 * The commit log record codec (pure functions, no I/O): the CRC, decoding, and the end-of-segment marker.
 * The layout is core/record-layout.ts; the store encodes records in batches (commit-log-batch.ts).
 *
 * Unwritten (zero) space decodes as `{ kind: 'corrupt', blank: true }`, distinct from `end-of-segment`.
 */

import { readUtf8 } from '../core/utf8-strings.js';
import * as zlib from 'node:zlib';
import { readU32, readU64, writeU32 } from '../core/bytes.js';
import {
  bodyFieldAt,
  KEY_SEPARATOR,
  RecordField,
  RecordFields,
  RecordLayout,
  recordSizeAt,
  Scan,
  SCAN_FIELD_NAMES,
  scanRecord,
} from '../core/record-layout.js';

export interface MessageRecord {
  topic: string;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
  flags: number;
  sysFlag: number;
  bornTimestamp: number;
  bornHost: string;
  storeTimestamp: number;
  storeHost: string;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
  properties: Record<string, string>;
  /** On decode: a view into the decoded buffer (no copy). */
  body: Uint8Array;
}

export type DecodeResult =
  | { kind: 'record'; record: MessageRecord; size: number }
  | { kind: 'end-of-segment'; size: number }
  | { kind: 'incomplete' }
  /** `blank` is set when the bytes are zero (unwritten space), the normal end of a log's written data. */
  | { kind: 'corrupt'; reason: string; blank?: boolean };

export type RecordErrorCode = 'ETOOLARGE' | 'EINVALID';

/** A record that cannot be encoded (a field out of range, a property name with a separator byte...). */
export class RecordError extends Error {
  constructor(
    readonly code: RecordErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'RecordError';
  }
}

// ---------------------------------------------------------------------------------------------- CRC32

const CRC_TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Table-driven CRC32 (IEEE) of buf[start, end), continuing from `crc` (0 to start). */
export function crc32Table(buf: Uint8Array, start: number, end: number, crc = 0): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Slicing-by-16 tables: table k maps a byte to its CRC k bytes further on. */
const CRC_TABLES = ((): Int32Array => {
  const t = new Int32Array(16 * 256);
  for (let n = 0; n < 256; n++) t[n] = CRC_TABLE[n]! | 0;
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 16; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/** Slicing-by-16 CRC32 (IEEE) of buf[start, end), continuing from `crc`: no native call, no view object. */
function crc32Sliced(buf: Uint8Array, start: number, end: number, crc: number): number {
  const t = CRC_TABLES;
  let c = ~crc;
  let i = start;
  for (; i + 16 <= end; i += 16) {
    const a = (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) ^ c;
    c =
      t[3840 + (a & 0xff)]! ^
      t[3584 + ((a >>> 8) & 0xff)]! ^
      t[3328 + ((a >>> 16) & 0xff)]! ^
      t[3072 + (a >>> 24)]! ^
      t[2816 + buf[i + 4]!]! ^
      t[2560 + buf[i + 5]!]! ^
      t[2304 + buf[i + 6]!]! ^
      t[2048 + buf[i + 7]!]! ^
      t[1792 + buf[i + 8]!]! ^
      t[1536 + buf[i + 9]!]! ^
      t[1280 + buf[i + 10]!]! ^
      t[1024 + buf[i + 11]!]! ^
      t[768 + buf[i + 12]!]! ^
      t[512 + buf[i + 13]!]! ^
      t[256 + buf[i + 14]!]! ^
      t[buf[i + 15]!]!;
  }
  for (; i < end; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

type NativeCrc = (data: Uint8Array, value?: number) => number;
const nativeCrc32: NativeCrc | undefined =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? ((zlib as { crc32: NativeCrc }).crc32) : undefined;

/** Below this many bytes a native call (argument checks, a view object) costs more than slicing-by-8. */
const NATIVE_CRC_MIN = 512;

/** CRC32 (IEEE) of buf[start, end), continuing from `crc`; native zlib for long ranges when the runtime has it. */
export function crc32Range(buf: Uint8Array, start: number, end: number, crc = 0): number {
  if (nativeCrc32 !== undefined && end - start >= NATIVE_CRC_MIN) {
    return nativeCrc32(new Uint8Array(buf.buffer, buf.byteOffset + start, end - start), crc) >>> 0;
  }
  return crc32Sliced(buf, start, end, crc);
}

/** The CRC a record at buf[pos, pos + size) must carry: bytes [0, RecordField.Crc) then [RecordLayout.CrcEnd, size) of the record. */
export function recordCrc(buf: Uint8Array, pos: number, size: number): number {
  return crc32Range(buf, pos + RecordLayout.CrcEnd, pos + size, crc32Sliced(buf, pos, pos + RecordField.Crc, 0));
}

// ---------------------------------------------------------------------------------------------- properties

export function checkPropString(s: string, what: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === RecordLayout.NameValueSeparator || c === RecordLayout.PropertySeparator) {
      throw new RecordError('EINVALID', `property ${what} ${JSON.stringify(s)} contains a separator byte (\\x01 or \\x02)`);
    }
  }
}

/** Parses buf[start, end); undefined when malformed. */
function readProperties(buf: Uint8Array, start: number, end: number): Record<string, string> | undefined {
  const props: Record<string, string> = {};
  let p = start;
  while (p < end) {
    let sep = p;
    while (sep < end && buf[sep] !== RecordLayout.NameValueSeparator) {
      if (buf[sep] === RecordLayout.PropertySeparator) return undefined;
      sep++;
    }
    if (sep >= end || sep === p) return undefined;
    let stop = sep + 1;
    while (stop < end && buf[stop] !== RecordLayout.PropertySeparator) {
      if (buf[stop] === RecordLayout.NameValueSeparator) return undefined;
      stop++;
    }
    if (stop >= end) return undefined;
    const k = readUtf8(buf, p, sep);
    const v = readUtf8(buf, sep + 1, stop);
    if (k === undefined || v === undefined || Object.prototype.hasOwnProperty.call(props, k)) return undefined;
    if (k === '__proto__') Object.defineProperty(props, k, { value: v, enumerable: true, writable: true, configurable: true });
    else props[k] = v;
    p = stop + 1;
  }
  return props;
}

// ---------------------------------------------------------------------------------------------- records

/** Where the fields of the record being read are (one scan at a time). */
const fields = new RecordFields();

/**
 * Decodes the record (or end-of-segment marker) at buf[pos...]. `incomplete` means the bytes available end
 * before the record does (read more); `corrupt` means no valid record starts here. `verifyCrc` false skips the
 * CRC (normal reads of committed data, as RocketMQ: recovery checks every CRC); the layout is still checked.
 */
export function decodeRecord(buf: Uint8Array, pos: number, verifyCrc = true): DecodeResult {
  const avail = buf.length - pos;
  if (avail < 8) return { kind: 'incomplete' };
  const size = recordSizeAt(buf, pos);
  const magic = readU32(buf, pos + RecordField.Magic);
  if (magic === RecordLayout.EndMagic) {
    if (size < RecordLayout.EndOfSegmentMin) return { kind: 'corrupt', reason: `end-of-segment marker with size ${size}` };
    return { kind: 'end-of-segment', size };
  }
  if (magic !== RecordLayout.Magic) {
    if (size === 0 && magic === 0) return { kind: 'corrupt', reason: 'blank (zero) bytes', blank: true };
    return { kind: 'corrupt', reason: `bad magic 0x${magic.toString(16)}` };
  }
  if (size < RecordLayout.FixedSize || size > RecordLayout.MaxSize) return { kind: 'corrupt', reason: `bad record size ${size}` };
  if (avail < size) return { kind: 'incomplete' };
  if (verifyCrc && recordCrc(buf, pos, size) !== readU32(buf, pos + RecordField.Crc)) return { kind: 'corrupt', reason: 'CRC mismatch' };

  // The CRC holds (or was not asked for): what follows only guards against a writer bug, so errors are still reported, not thrown.
  const end = pos + size;
  const bad = (what: string): DecodeResult => ({ kind: 'corrupt', reason: `malformed ${what}` });
  const f = fields;
  const scanned = scanRecord(buf, pos, end, f);
  if (scanned !== Scan.Ok) return bad(SCAN_FIELD_NAMES[scanned]!);
  const queueId = readU32(buf, pos + RecordField.QueueId);
  const flags = readU32(buf, pos + RecordField.Flags);
  const queueOffset = readU64(buf, pos + RecordField.QueueOffset);
  const commitLogOffset = readU64(buf, pos + RecordField.CommitLogOffset);
  const sysFlag = readU32(buf, pos + RecordField.SysFlag);
  const bornTimestamp = readU64(buf, pos + RecordField.BornTimestamp);
  const bornHost = readUtf8(buf, f.bornHost, f.bornHost + f.bornHostLength);
  const storeTimestamp = readU64(buf, f.storeTimestamp);
  const storeHost = readUtf8(buf, f.storeHost, f.storeHost + f.storeHostLength);
  const reconsumeTimes = readU32(buf, f.reconsumeTimes);
  const preparedTransactionOffset = readU64(buf, f.preparedTransactionOffset);
  const body = buf.subarray(f.body, f.body + f.bodyLength);
  const topic = readUtf8(buf, f.topic, f.topic + f.topicLength);
  const properties = readProperties(buf, f.properties, end);
  if (bornHost === undefined || storeHost === undefined || topic === undefined) return bad('string');
  if (properties === undefined) return bad('properties');
  if (queueOffset < 0 || commitLogOffset < 0 || bornTimestamp < 0 || storeTimestamp < 0 || preparedTransactionOffset < 0) {
    return bad('u64 field');
  }
  return {
    kind: 'record',
    size,
    record: {
      topic,
      queueId,
      queueOffset,
      commitLogOffset,
      flags,
      sysFlag,
      bornTimestamp,
      bornHost,
      storeTimestamp,
      storeHost,
      reconsumeTimes,
      preparedTransactionOffset,
      properties,
      body,
    },
  };
}

/**
 * Where the body of the record at buf[pos...] is, without decoding it or checking its CRC (reads of committed
 * data): the position of the body field (its u32 length), or -1 when no well-formed record of `expectSize`
 * bytes (any size when undefined) for commit log offset `expectOffset` starts at `pos` (bad magic, size,
 * offset, or field lengths that do not add up to the record size).
 */
export function recordBodyAt(buf: Uint8Array, pos: number, expectOffset: number, expectSize?: number): number {
  if (buf.length - pos < RecordLayout.FixedSize) return -1;
  const size = recordSizeAt(buf, pos);
  if (readU32(buf, pos + RecordField.Magic) !== RecordLayout.Magic || size < RecordLayout.FixedSize || size > buf.length - pos) return -1;
  if (expectSize !== undefined && size !== expectSize) return -1;
  if (readU64(buf, pos + RecordField.CommitLogOffset) !== expectOffset) return -1;
  return bodyFieldAt(buf, pos, pos + size);
}

/** The marker that fills the last `spaceLeft` bytes of a segment (see core/record-layout.ts). */
export function encodeEndOfSegment(spaceLeft: number): Uint8Array {
  if (!Number.isInteger(spaceLeft) || spaceLeft < 0 || spaceLeft > 0xffffffff) {
    throw new RecordError('EINVALID', `end-of-segment space ${spaceLeft}`);
  }
  const buf = new Uint8Array(spaceLeft);
  if (spaceLeft >= RecordLayout.EndOfSegmentMin) {
    writeU32(buf, RecordField.Size, spaceLeft);
    writeU32(buf, RecordField.Magic, RecordLayout.EndMagic);
  }
  return buf;
}

/** Splits the KEYS property into keys. */
export function splitKeys(keys: string | undefined): string[] {
  if (keys === undefined || keys === '') return [];
  return keys.split(KEY_SEPARATOR).filter((k) => k.length > 0);
}
