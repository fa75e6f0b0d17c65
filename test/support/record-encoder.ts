/**
 * The reference record encoder: one record at a time, from a whole MessageRecord, written field by field
 * after the layout (core/record-layout.ts). The store's BatchEncoder must write exactly these bytes; tests
 * use this to make records and to check the batch encoder against it.
 */
import { utf8Length, writeU16, writeU32, writeU64 } from '../../core/bytes.js';
import { KEY_SEPARATOR, PROP_KEYS, PROP_TAGS, RecordField, RecordLayout } from '../../core/record-layout.js';
import { MessageProperty } from '../../core/message.js';
import { apartUniqKey, type PlannedWrite, type PutMessage } from '../../store/commit-log-batch.js';
import { RecordError, checkPropString, recordCrc, type MessageRecord } from '../../store/record.js';

/** The fields that decide a record's size. */
export type RecordSizeInput = Pick<MessageRecord, 'topic' | 'bornHost' | 'storeHost' | 'properties' | 'body'>;

const MAX_U64 = Number.MAX_SAFE_INTEGER;
const textEncoder = new TextEncoder();

/** Writes `s` (whose UTF-8 length is `len`) at `pos`. */
function writeStr(buf: Uint8Array, pos: number, s: string, len: number): void {
  if (len === s.length) {
    for (let i = 0; i < len; i++) buf[pos + i] = s.charCodeAt(i);
  } else {
    textEncoder.encodeInto(s, buf.subarray(pos, pos + len));
  }
}

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RecordError('EINVALID', `${name} ${v} is not a u32`);
}

function checkU64(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > MAX_U64) throw new RecordError('EINVALID', `${name} ${v} is not a safe u64`);
}

/** Encoded byte length of a property map (RocketMQ's `name\x01value\x02...`). */
export function propertiesSize(props: Record<string, string>): number {
  let n = 0;
  for (const k in props) n += utf8Length(k) + utf8Length(props[k]!) + 2;
  return n;
}

/** Writes a property map at buf[pos...] (room for propertiesSize(props) bytes); returns the bytes written. */
export function writeProperties(buf: Uint8Array, pos: number, props: Record<string, string>): number {
  let p = pos;
  for (const k in props) {
    const v = props[k]!;
    checkPropString(k, 'name');
    checkPropString(v, 'value');
    if (k.length === 0) throw new RecordError('EINVALID', 'empty property name');
    const kl = utf8Length(k);
    writeStr(buf, p, k, kl);
    p += kl;
    buf[p++] = RecordLayout.NameValueSeparator;
    const vl = utf8Length(v);
    writeStr(buf, p, v, vl);
    p += vl;
    buf[p++] = RecordLayout.PropertySeparator;
  }
  return p - pos;
}

/** Exact encoded size of a record. Throws RecordError when a variable field is too long. */
export function recordSize(r: RecordSizeInput): number {
  const bh = utf8Length(r.bornHost);
  const sh = utf8Length(r.storeHost);
  const tp = utf8Length(r.topic);
  const pr = propertiesSize(r.properties);
  if (bh > RecordLayout.MaxShortString) throw new RecordError('EINVALID', `bornHost is ${bh} bytes (at most ${RecordLayout.MaxShortString})`);
  if (sh > RecordLayout.MaxShortString) throw new RecordError('EINVALID', `storeHost is ${sh} bytes (at most ${RecordLayout.MaxShortString})`);
  if (tp > RecordLayout.MaxShortString) throw new RecordError('EINVALID', `topic is ${tp} bytes (at most ${RecordLayout.MaxShortString})`);
  if (pr > RecordLayout.MaxProperties) throw new RecordError('ETOOLARGE', `properties are ${pr} bytes (at most ${RecordLayout.MaxProperties})`);
  const total = RecordLayout.FixedSize + bh + sh + tp + pr + r.body.length;
  if (total > RecordLayout.MaxSize) throw new RecordError('ETOOLARGE', `record is ${total} bytes (at most ${RecordLayout.MaxSize})`);
  return total;
}

/**
 * Encodes `r` at buf[pos...] and returns the bytes written (= recordSize(r)). For a batch, size every record
 * with recordSize, allocate one buffer and call this for each. Throws RecordError (buffer untouched beyond pos
 * only on success paths: validate before writing a batch you cannot roll back) or RangeError when buf is short.
 */
export function encodeRecordInto(r: MessageRecord, buf: Uint8Array, pos: number): number {
  const size = recordSize(r);
  if (pos < 0 || pos + size > buf.length) throw new RangeError(`record of ${size} bytes does not fit at ${pos} in ${buf.length}`);
  checkU32('queueId', r.queueId);
  checkU32('flags', r.flags);
  checkU32('sysFlag', r.sysFlag);
  checkU32('reconsumeTimes', r.reconsumeTimes);
  checkU64('queueOffset', r.queueOffset);
  checkU64('commitLogOffset', r.commitLogOffset);
  checkU64('bornTimestamp', r.bornTimestamp);
  checkU64('storeTimestamp', r.storeTimestamp);
  checkU64('preparedTransactionOffset', r.preparedTransactionOffset);

  writeU32(buf, pos + RecordField.Size, size);
  writeU32(buf, pos + RecordField.Magic, RecordLayout.Magic);
  writeU32(buf, pos + RecordField.QueueId, r.queueId);
  writeU32(buf, pos + RecordField.Flags, r.flags);
  writeU64(buf, pos + RecordField.QueueOffset, r.queueOffset);
  writeU64(buf, pos + RecordField.CommitLogOffset, r.commitLogOffset);
  writeU32(buf, pos + RecordField.SysFlag, r.sysFlag);
  writeU64(buf, pos + RecordField.BornTimestamp, r.bornTimestamp);
  let p = pos + RecordField.BornHost;
  const bh = utf8Length(r.bornHost);
  buf[p++] = bh;
  writeStr(buf, p, r.bornHost, bh);
  p += bh;
  writeU64(buf, p, r.storeTimestamp);
  p += 8;
  const sh = utf8Length(r.storeHost);
  buf[p++] = sh;
  writeStr(buf, p, r.storeHost, sh);
  p += sh;
  writeU32(buf, p, r.reconsumeTimes);
  p += 4;
  writeU64(buf, p, r.preparedTransactionOffset);
  p += 8;
  writeU32(buf, p, r.body.length);
  p += 4;
  buf.set(r.body, p);
  p += r.body.length;
  const tp = utf8Length(r.topic);
  buf[p++] = tp;
  writeStr(buf, p, r.topic, tp);
  p += tp;
  const prLenPos = p;
  p += 2;
  const pr = writeProperties(buf, p, r.properties);
  writeU16(buf, prLenPos, pr);
  p += pr;
  if (p - pos !== size) throw new RecordError('EINVALID', `internal: wrote ${p - pos} bytes, expected ${size}`);
  writeU32(buf, pos + RecordField.Crc, recordCrc(buf, pos, size));
  return size;
}

/** Encodes one record into a new buffer. */
export function encodeRecord(r: MessageRecord): Uint8Array {
  const buf = new Uint8Array(recordSize(r));
  encodeRecordInto(r, buf, 0);
  return buf;
}

// ---------------------------------------------------------------------------------------------- batches

/** The properties a message is stored with (TAGS, KEYS and a unique key carried apart folded in). */
export function storedProperties(m: PutMessage): Record<string, string> {
  const apart = m.properties?.[MessageProperty.UNIQ_KEY] === undefined ? apartUniqKey(m) : undefined;
  if (m.tags === undefined && (m.keys === undefined || m.keys.length === 0) && apart === undefined) return m.properties ?? {};
  const props: Record<string, string> = { ...(m.properties ?? {}) };
  if (m.tags !== undefined && m.tags !== '') props[PROP_TAGS] = m.tags;
  if (m.keys !== undefined && m.keys.length > 0) props[PROP_KEYS] = m.keys.join(KEY_SEPARATOR);
  if (apart !== undefined) props[MessageProperty.UNIQ_KEY] = apart;
  return props;
}

/** The records of a batch, before positions are known (queue offsets assigned, sizes computed). */
export interface PreparedRecord {
  record: MessageRecord;
  size: number;
}

/** Builds the records of a batch with their sizes; throws RecordError for a message that cannot be stored. */
export function prepareRecords(
  batch: readonly PutMessage[],
  queueOffsets: readonly number[],
  storeTimestamp: number,
  storeHost: string,
): PreparedRecord[] {
  return batch.map((m, i) => {
    const record: MessageRecord = {
      topic: m.topic,
      queueId: m.queueId,
      queueOffset: queueOffsets[i]!,
      commitLogOffset: 0,
      flags: m.flags ?? 0,
      sysFlag: m.sysFlag ?? 0,
      bornTimestamp: m.bornTimestamp,
      bornHost: m.bornHost,
      storeTimestamp,
      storeHost,
      reconsumeTimes: m.reconsumeTimes ?? 0,
      preparedTransactionOffset: m.preparedTransactionOffset ?? 0,
      properties: storedProperties(m),
      body: m.body,
    };
    return { record, size: recordSize(record) };
  });
}

/** Encodes records [w.from, w.to) into one buffer, stamping each with its commit log offset. */
export function encodeWrite(records: readonly PreparedRecord[], w: PlannedWrite): { buf: Uint8Array; offsets: number[] } {
  const buf = new Uint8Array(w.bytes);
  const offsets: number[] = [];
  let p = 0;
  for (let i = w.from; i < w.to; i++) {
    const r = records[i]!;
    r.record.commitLogOffset = w.offset + p;
    offsets.push(r.record.commitLogOffset);
    p += encodeRecordInto(r.record, buf, p);
  }
  return { buf, offsets };
}
