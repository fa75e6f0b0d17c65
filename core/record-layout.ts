/**
 * The commit log record layout: where its fields are, and one scanner that steps over its variable fields.
 * The store writes and reads records with it, and so does the pull reply's record batch (core/record-batch.ts),
 * which carries the stored records as they are.
 *
 * Layout, big-endian, fixed fields first:
 *
 * ```
 *  0 totalSize u32            whole record, this field included
 *  4 magic u32                RecordLayout.Magic (RecordLayout.EndMagic marks the end-of-segment filler)
 *  8 crc u32                  CRC32 over the record except these 4 bytes ([0,8) then [12,totalSize))
 * 12 queueId u32
 * 16 flags u32
 * 20 queueOffset u64
 * 28 commitLogOffset u64      physical offset of this record in the commit log
 * 36 sysFlag u32
 * 40 bornTimestamp u64
 * 48 bornHost                 u8 length + UTF-8 (a host is a string: transport addresses are names, not IPs)
 *    storeTimestamp u64
 *    storeHost                u8 length + UTF-8
 *    reconsumeTimes u32
 *    preparedTransactionOffset u64
 *    body                     u32 length + bytes
 *    topic                    u8 length + UTF-8
 *    properties               u16 length + bytes: `name \x01 value \x02` repeated (RocketMQ's encoding)
 * ```
 *
 * u64 fields are JS numbers and must be safe integers (< 2^53).
 *
 * End of segment: the last `n` bytes of a segment hold `{n u32, EndMagic u32, zeros}`; fewer than
 * EndOfSegmentMin (8) bytes left in a segment are zeros, and a reader treats them as the end of that segment.
 */
import { readU16, readU32 } from './bytes.js';

// The layout's numbers are const enums: the compiler writes each number where it is used, so the loops that
// walk records load no variable for them (module constants cost a load and a check on every use).

/** Offsets of the fixed fields from a record's first byte. */
export const enum RecordField {
  Size = 0,
  Magic = 4,
  Crc = 8,
  QueueId = 12,
  Flags = 16,
  QueueOffset = 20,
  CommitLogOffset = 28,
  SysFlag = 36,
  BornTimestamp = 40,
  /** The first variable field: the born host's length byte. */
  BornHost = 48,
}

/** Bytes of the variable part's integer and length fields. */
const enum Width {
  U64 = 8,
  U32 = 4,
  /** The length of a host or the topic. */
  ShortLength = 1,
  BodyLength = 4,
  PropertiesLength = 2,
}

export const enum RecordLayout {
  /** The magic of a record. */
  Magic = 0xdaa320a7,
  /** The magic of the end-of-segment filler. */
  EndMagic = 0xcbd43194,
  /** Smallest end-of-segment marker; fewer bytes left in a segment mean "end of segment" by themselves. */
  EndOfSegmentMin = 8,
  /** The CRC covers the record's bytes [0, RecordField.Crc) and [CrcEnd, totalSize). */
  CrcEnd = RecordField.Crc + Width.U32,
  /** Fixed part: every field except the variable bytes of the hosts, body, topic and properties. */
  FixedSize = RecordField.BornHost + Width.ShortLength + Width.U64 + Width.ShortLength + Width.U32 + Width.U64 + Width.BodyLength + Width.ShortLength + Width.PropertiesLength,
  /** Largest record (totalSize is a u32; kept below 2^31 so sizes stay positive int32s). */
  MaxSize = 0x7fffffff,
  /** Longest host or topic (a u8 length). */
  MaxShortString = 0xff,
  /** Longest property bytes (a u16 length). */
  MaxProperties = 0xffff,
  /** Properties are `name NameValueSeparator value PropertySeparator`, repeated. */
  NameValueSeparator = 1,
  PropertySeparator = 2,
}

/** Size of the record (or end-of-segment marker) at buf[pos...] (its first field). */
export function recordSizeAt(buf: Uint8Array, pos: number): number {
  return readU32(buf, pos + RecordField.Size);
}

// ---------------------------------------------------------------------------------------------- properties

/** The property a message's tags are stored in. */
export const PROP_TAGS = 'TAGS';
/** The property a message's keys are stored in, separated by KEY_SEPARATOR (a space, as RocketMQ). */
export const PROP_KEYS = 'KEYS';
export const KEY_SEPARATOR = ' ';

// ---------------------------------------------------------------------------------------------- variable fields

/**
 * Where the variable fields of one record are (positions in its buffer), as `scanRecord` finds them. One
 * instance is reused from record to record: a scan allocates nothing.
 */
export class RecordFields {
  /** The born host's bytes and their length. */
  bornHost = 0;
  bornHostLength = 0;
  storeTimestamp = 0;
  storeHost = 0;
  storeHostLength = 0;
  reconsumeTimes = 0;
  preparedTransactionOffset = 0;
  /** The body field (its u32 length); its bytes start at `body`. */
  bodyField = 0;
  body = 0;
  bodyLength = 0;
  topic = 0;
  topicLength = 0;
  /** The property bytes, up to the record's end. */
  properties = 0;
  propertiesLength = 0;
}

/** scanRecord's answers: the fields add up, or the first field whose length does not fit the record. */
export const enum Scan {
  Ok = 0,
  BadBornHost = 1,
  BadStoreHost = 2,
  BadBodyLength = 3,
  BadTopic = 4,
  /** The properties do not end where the record ends (`properties` and `propertiesLength` are set). */
  BadPropertiesLength = 5,
}

/** What each of scanRecord's answers names, for messages. */
export const SCAN_FIELD_NAMES: readonly string[] = ['', 'bornHost', 'storeHost', 'body length', 'topic', 'properties length'];

/**
 * Steps over the variable fields of the record at buf[pos, end) (its size and magic checked by the caller;
 * `end` within `buf`), noting where each is in `f`. Reads only length fields, never past `end`. Returns
 * Scan.Ok when the lengths add up to the record's end exactly, else the first field that does not fit.
 */
export function scanRecord(buf: Uint8Array, pos: number, end: number, f: RecordFields): Scan {
  let p = pos + RecordField.BornHost;
  if (p + Width.ShortLength > end) return Scan.BadBornHost;
  const bh = buf[p]!;
  p += Width.ShortLength;
  if (p + bh + Width.U64 + Width.ShortLength > end) return Scan.BadBornHost;
  f.bornHost = p;
  f.bornHostLength = bh;
  p += bh;
  f.storeTimestamp = p;
  p += Width.U64;
  const sh = buf[p]!;
  p += Width.ShortLength;
  if (p + sh + Width.U32 + Width.U64 + Width.BodyLength > end) return Scan.BadStoreHost;
  f.storeHost = p;
  f.storeHostLength = sh;
  p += sh;
  f.reconsumeTimes = p;
  p += Width.U32;
  f.preparedTransactionOffset = p;
  p += Width.U64;
  f.bodyField = p;
  const bl = readU32(buf, p);
  p += Width.BodyLength;
  if (bl > end - p - Width.ShortLength - Width.PropertiesLength) return Scan.BadBodyLength;
  f.body = p;
  f.bodyLength = bl;
  p += bl;
  const tp = buf[p]!;
  p += Width.ShortLength;
  if (p + tp + Width.PropertiesLength > end) return Scan.BadTopic;
  f.topic = p;
  f.topicLength = tp;
  p += tp;
  const pl = readU16(buf, p);
  p += Width.PropertiesLength;
  f.properties = p;
  f.propertiesLength = pl;
  return p + pl === end ? Scan.Ok : Scan.BadPropertiesLength;
}

/**
 * The position of the body field (its u32 length) of the record at buf[pos, end), or -1: the same walk and
 * checks as scanRecord (-1 exactly when it would not answer Scan.Ok), noting nothing. For reads that want
 * only the body.
 */
export function bodyFieldAt(buf: Uint8Array, pos: number, end: number): number {
  let p = pos + RecordField.BornHost;
  if (p + Width.ShortLength > end) return -1;
  p += Width.ShortLength + buf[p]!;
  if (p + Width.U64 + Width.ShortLength > end) return -1;
  p += Width.U64;
  p += Width.ShortLength + buf[p]!;
  if (p + Width.U32 + Width.U64 + Width.BodyLength > end) return -1;
  p += Width.U32 + Width.U64;
  const bodyField = p;
  const bl = readU32(buf, p);
  p += Width.BodyLength;
  if (bl > end - p - Width.ShortLength - Width.PropertiesLength) return -1;
  p += bl;
  p += Width.ShortLength + buf[p]!;
  if (p + Width.PropertiesLength > end) return -1;
  return p + Width.PropertiesLength + readU16(buf, p) === end ? bodyField : -1;
}
