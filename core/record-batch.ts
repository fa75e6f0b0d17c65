/**
 * The pull reply body as the commit log's own records, as RocketMQ's brokers answer a pull: the broker copies
 * the records a pull found (one copy per run of consecutive records) and the consumer decodes them. The
 * broker does no per-message work on the way out; the consumer builds the same MessageExt it would get from a
 * MessageExt batch (core/message-codec.ts): TAGS and KEYS properties become the tags and keys fields
 * (keys split at spaces, empty ones dropped), the other properties keep their record order, and malformed
 * properties end the property list.
 *
 * Layout (big-endian): magic u16 'RB', version u8, count u32, msgIdPrefix str16 (ASCII), then `count` records
 * back to back, each as core/record-layout.ts lays it out (its first u32 is its size). A message's id is the prefix
 * followed by the 16 upper-case hex digits of its commit log offset.
 */
import { HexLine } from './hex-line.js';
import type { MessageExt } from './message.js';
import { MessageCodecError, decodeMessageExtBatch } from './message-codec.js';
import { latin1Slice as nativeLatin1Slice, readU32 as u32, readU64, writeU32 as put32 } from './bytes.js';
import { RecordField, RecordFields, RecordLayout, recordSizeAt, Scan, scanRecord } from './record-layout.js';

export const RECORD_BATCH_MAGIC = 0x5242; // 'RB'
export const RECORD_BATCH_VERSION = 1;
const HEADER = 7;
const SPACE = 0x20;

/**
 * The reply body of `count` records: record i starts at `positions[i]` of `bufs[i]` (records that follow each
 * other in one buffer are copied as one run).
 */
export function encodeRecordBatch(bufs: readonly Uint8Array[], positions: readonly number[], count: number, msgIdPrefix: Uint8Array): Uint8Array {
  let total = HEADER + 2 + msgIdPrefix.length;
  for (let i = 0; i < count; i++) total += recordSizeAt(bufs[i]!, positions[i]!);
  const b = Buffer.allocUnsafe(total);
  const out = new Uint8Array(b.buffer, b.byteOffset, total);
  out[0] = RECORD_BATCH_MAGIC >>> 8;
  out[1] = RECORD_BATCH_MAGIC & 0xff;
  out[2] = RECORD_BATCH_VERSION;
  put32(out, 3, count);
  out[7] = msgIdPrefix.length >>> 8;
  out[8] = msgIdPrefix.length & 0xff;
  out.set(msgIdPrefix, 9);
  let o = 9 + msgIdPrefix.length;
  for (let i = 0; i < count; ) {
    const buf = bufs[i]!;
    const from = positions[i]!;
    let to = from + recordSizeAt(buf, from);
    for (i++; i < count && bufs[i] === buf && positions[i] === to; i++) to += recordSizeAt(buf, to);
    out.set(buf.subarray(from, to), o);
    o += to - from;
  }
  return out;
}

/** A pull reply body in either form: records (`encodeRecordBatch`) or a MessageExt batch. */
export function decodePullBody(bytes: Uint8Array): MessageExt[] {
  if (bytes.length >= 2 && ((bytes[0]! << 8) | bytes[1]!) === RECORD_BATCH_MAGIC) return decodeRecordBatch(bytes);
  return decodeMessageExtBatch(bytes);
}

function bad(message: string): MessageCodecError {
  return new MessageCodecError('BAD_FRAME', `record batch: ${message}`);
}

const cut = (i: number): MessageCodecError => bad(`record ${i}: a field runs past its end`);

/** Where the fields of the record being decoded are. */
const fields = new RecordFields();

/** Bound here, not called through the import: the decode loops call it often, and calls through a local constant compile tighter. */
const latin1Slice = nativeLatin1Slice;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** UTF-8 bytes[from, to) as a string. */
function text(bytes: Uint8Array, from: number, to: number, what: string): string {
  let i = from;
  while (i < to && bytes[i]! < 0x80) i++;
  if (i === to) return to === from ? '' : latin1Slice.call(bytes, from, to);
  try {
    return utf8.decode(bytes.subarray(from, to));
  } catch {
    throw bad(`${what} at byte ${from} is not valid UTF-8`);
  }
}

/** A string field that mostly repeats from message to message: decoded once while its bytes repeat. */
class Repeated {
  private at = -1;
  private len = 0;
  private str = '';
  constructor(private readonly what: string) {}
  get(bytes: Uint8Array, from: number, to: number): string {
    const n = to - from;
    if (n === this.len && this.at >= 0) {
      let i = 0;
      while (i < n && bytes[from + i] === bytes[this.at + i]) i++;
      if (i === n) return this.str;
    }
    this.str = text(bytes, from, to, this.what);
    this.at = from;
    this.len = n;
    return this.str;
  }
}

const isName = (b: Uint8Array, from: number, to: number, c0: number, c1: number, c2: number, c3: number): boolean =>
  to - from === 4 && b[from] === c0 && b[from + 1] === c1 && b[from + 2] === c2 && b[from + 3] === c3;

export interface RecordBatchOptions {
  /** Copy each body out of the reply instead of viewing it (default false). */
  copyBodies?: boolean;
}

/** Decodes a record batch. Throws MessageCodecError (BAD_FRAME) when malformed. */
export function decodeRecordBatch(bytes: Uint8Array, opts: RecordBatchOptions = {}): MessageExt[] {
  if (!(bytes instanceof Uint8Array)) throw bad('input is not bytes');
  const len = bytes.length;
  if (len < HEADER + 2) throw bad('truncated header');
  if (((bytes[0]! << 8) | bytes[1]!) !== RECORD_BATCH_MAGIC) throw bad('bad magic');
  if (bytes[2] !== RECORD_BATCH_VERSION) throw bad(`unsupported version ${bytes[2]}`);
  const count = u32(bytes, 3);
  const plen = (bytes[7]! << 8) | bytes[8]!;
  if (9 + plen > len) throw bad('truncated msgId prefix');
  const prefix = text(bytes, 9, 9 + plen, 'msgId prefix');
  if (count > len) throw bad(`count ${count} exceeds the body`);
  const ids = new HexLine(prefix, 16, count);
  const topics = new Repeated('topic');
  const bornHosts = new Repeated('bornHost');
  const storeHosts = new Repeated('storeHost');
  const tagsCache = new Repeated('tags');
  const names = new Repeated('property name');
  const out: MessageExt[] = new Array<MessageExt>(count);
  let pos = 9 + plen;
  const f = fields;
  const u53 = (p: number, what: string): number => {
    const v = readU64(bytes, p);
    if (v < 0) throw bad(`${what} at byte ${p} exceeds 2^53`);
    return v;
  };
  for (let i = 0; i < count; i++) {
    if (pos + RecordField.BornHost + 1 > len) throw bad(`record ${i} is cut short`);
    const size = recordSizeAt(bytes, pos);
    const end = pos + size;
    if (size < RecordField.BornHost + 1 || end > len) throw bad(`record ${i} at byte ${pos}: size ${size} does not fit`);
    const queueId = u32(bytes, pos + RecordField.QueueId);
    const queueOffset = u53(pos + RecordField.QueueOffset, 'queueOffset');
    const commitLogOffset = u53(pos + RecordField.CommitLogOffset, 'commitLogOffset');
    const bornTimestamp = u53(pos + RecordField.BornTimestamp, 'bornTimestamp');
    const scanned = scanRecord(bytes, pos, end, f);
    if (scanned === Scan.BadPropertiesLength) throw bad(`record ${i}: ${end - f.properties - f.propertiesLength} bytes after its properties`);
    if (scanned !== Scan.Ok) throw cut(i);
    const bornHost = bornHosts.get(bytes, f.bornHost, f.bornHost + f.bornHostLength);
    const storeTimestamp = u53(f.storeTimestamp, 'storeTimestamp');
    const storeHost = storeHosts.get(bytes, f.storeHost, f.storeHost + f.storeHostLength);
    const reconsumeTimes = u32(bytes, f.reconsumeTimes);
    const bodyAt = f.body;
    const bl = f.bodyLength;
    const topic = topics.get(bytes, f.topic, f.topic + f.topicLength);
    const p = f.properties;
    const m: MessageExt = {
      msgId: '',
      topic,
      queueId,
      queueOffset,
      commitLogOffset,
      bornTimestamp,
      storeTimestamp,
      reconsumeTimes,
      bornHost,
      storeHost,
      body: opts.copyBodies ? bytes.slice(bodyAt, bodyAt + bl) : bytes.subarray(bodyAt, bodyAt + bl),
    };
    let keysFrom = -1;
    let keysTo = -1;
    let props: Record<string, string> | undefined;
    for (let q = p; q < end; ) {
      let sep = q;
      while (sep < end && bytes[sep] !== RecordLayout.NameValueSeparator) sep++;
      let stop = sep + 1;
      while (stop < end && bytes[stop] !== RecordLayout.PropertySeparator) stop++;
      if (sep >= end || stop >= end) break;
      if (isName(bytes, q, sep, 0x54, 0x41, 0x47, 0x53)) m.tags = tagsCache.get(bytes, sep + 1, stop);
      else if (isName(bytes, q, sep, 0x4b, 0x45, 0x59, 0x53)) {
        keysFrom = sep + 1;
        keysTo = stop;
      } else {
        const k = names.get(bytes, q, sep);
        const v = text(bytes, sep + 1, stop, 'property value');
        props ??= {};
        if (k === '__proto__') Object.defineProperty(props, k, { value: v, enumerable: true, writable: true, configurable: true });
        else props[k] = v;
      }
      q = stop + 1;
    }
    for (let k = keysFrom; k >= 0 && k < keysTo; ) {
      while (k < keysTo && bytes[k] === SPACE) k++;
      if (k >= keysTo) break;
      const from = k;
      while (k < keysTo && bytes[k] !== SPACE) k++;
      (m.keys ??= []).push(text(bytes, from, k, 'key'));
    }
    if (props !== undefined) m.properties = props;
    out[i] = m;
    ids.add(commitLogOffset);
    pos = end;
  }
  if (pos !== len) throw bad(`${len - pos} trailing bytes after the last record`);
  for (let i = 0; i < count; i++) out[i]!.msgId = ids.at(i);
  return out;
}
