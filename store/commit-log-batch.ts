import { setU64 } from '../core/bytes.js';
import { putHex8 } from '../core/hex-line.js';
import { MessageProperty } from '../core/message.js';
import { PROP_KEYS, PROP_TAGS, RecordField, RecordLayout } from '../core/record-layout.js';
import { RecordError, checkPropString, recordCrc } from './record.js';

const UNIQ_KEY = MessageProperty.UNIQ_KEY;

/**
 * One message handed to the store (the broker has validated it and picked its queue). The store reads it
 * until the batch is indexed: do not change a message after handing it over.
 */
export interface PutMessage {
  topic: string;
  queueId: number;
  body: Uint8Array;
  /** Stored as the TAGS property. */
  tags?: string;
  /** Stored as the KEYS property (space separated). */
  keys?: readonly string[];
  properties?: Record<string, string>;
  /**
   * Stored as the UNIQ_KEY property, after the others (TAGS and KEYS included), unless `properties` has one:
   * a broker hands the client-side key here instead of building a property object per message.
   */
  uniqKey?: string;
  /**
   * With `uniqSeq`, the unique key when `uniqKey` is absent: `uniqPrefix` followed by the 8 upper-case hex
   * digits of `uniqSeq` (a u32). How a broker numbers the keys it makes: one shared prefix string per batch
   * and a number per message, no string per message.
   */
  uniqPrefix?: string;
  uniqSeq?: number;
  bornTimestamp: number;
  bornHost: string;
  flags?: number;
  sysFlag?: number;
  reconsumeTimes?: number;
  preparedTransactionOffset?: number;
}

/** A stable map key for one queue: topic names never hold '#'. */
export function queueKeyOf(topic: string, queueId: number): string {
  return `${topic}#${queueId}`;
}

export function parseQueueKey(key: string): { topic: string; queueId: number } {
  const i = key.lastIndexOf('#');
  return { topic: key.slice(0, i), queueId: Number(key.slice(i + 1)) };
}

/**
 * Queue offsets for a batch: each message gets its queue's next offset, in batch order. Pure: returns the
 * offsets and the queues' new next offsets (apply them only once the batch is written).
 */
export function assignQueueOffsets(
  next: ReadonlyMap<string, number>,
  batch: ReadonlyArray<Pick<PutMessage, 'topic' | 'queueId'>>,
): { offsets: number[]; updates: Map<string, number> } {
  const updates = new Map<string, number>();
  const offsets = new Array<number>(batch.length);
  // Messages of one queue usually come in runs (a producer batch goes to one queue): one map look-up per run.
  let topic: string | undefined;
  let queueId = -1;
  let key = '';
  let o = 0;
  for (let i = 0; i < batch.length; i++) {
    const m = batch[i]!;
    if (m.queueId !== queueId || m.topic !== topic) {
      if (topic !== undefined) updates.set(key, o);
      topic = m.topic;
      queueId = m.queueId;
      key = queueKeyOf(topic, queueId);
      o = updates.get(key) ?? next.get(key) ?? 0;
    }
    offsets[i] = o++;
  }
  if (topic !== undefined) updates.set(key, o);
  return { offsets, updates };
}

/** `prefix` followed by the 8 upper-case hex digits of u32 `seq`. */
export function seqKey(prefix: string, seq: number): string {
  return prefix + (seq >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

/** The unique key a message carries apart from its properties (`uniqKey`, or `uniqPrefix` + `uniqSeq`). */
export function apartUniqKey(m: PutMessage): string | undefined {
  return m.uniqKey ?? (m.uniqPrefix !== undefined ? seqKey(m.uniqPrefix, m.uniqSeq ?? 0) : undefined);
}

/** One write: records [from, to) of the batch, starting at commit log offset `offset`. */
export interface PlannedWrite {
  offset: number;
  from: number;
  to: number;
  bytes: number;
}

/**
 * Places a batch in the commit log: records go one after another from `writeOffset`; when the next record
 * does not fit in the rest of the current segment, the segment is closed (end-of-segment marker) and the
 * record starts the next one. One write per segment touched. Throws RangeError for a record larger than a
 * segment.
 */
export function planWrites(sizes: readonly number[], writeOffset: number, segmentSize: number): PlannedWrite[] {
  const out: PlannedWrite[] = [];
  let pos = writeOffset;
  let cur: PlannedWrite | undefined;
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!;
    if (size > segmentSize) throw new RangeError(`record of ${size} bytes is larger than a segment (${segmentSize} bytes)`);
    const segEnd = (Math.floor(pos / segmentSize) + 1) * segmentSize;
    if (pos + size > segEnd) {
      pos = segEnd;
      cur = undefined;
    } else if (cur && pos % segmentSize === 0) {
      cur = undefined; // the previous record filled its segment exactly
    }
    if (!cur) {
      cur = { offset: pos, from: i, to: i, bytes: 0 };
      out.push(cur);
    }
    cur.to = i + 1;
    cur.bytes += size;
    pos += size;
  }
  return out;
}

/**
 * A batch encoded for the commit log: one buffer per segment touched, and where each record went. The
 * buffers are views into the encoder's own memory, valid until its next `encode`: append them at once.
 */
export interface EncodedBatch {
  /** Records [from, to) of the batch go in `buf`, at `offset`. */
  writes: Array<{ offset: number; buf: Uint8Array; from: number; to: number }>;
  /** Commit log offset of each message's record. */
  offsets: number[];
  /** Size of each message's record. */
  sizes: number[];
}

function isU32(v: number): boolean {
  return (v >>> 0) === v;
}

function isU64(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

const textEncoder = new TextEncoder();
/** `UNIQ_KEY` and the name/value separator. */
const UNIQ_KEY_NAME = new Uint8Array([...Buffer.from(UNIQ_KEY, 'latin1'), 1]);

function utf8(s: string): Uint8Array {
  return Buffer.from(s, 'utf8');
}

/** Markers (negative starts) of unique keys written straight into the record in pass 2. */
const STRING_KEY = -1;
const SEQ_KEY = -2;

/** ASCII with none of the property separators (1, 2): written as it is. */
function isPlainAscii(s: string): boolean {
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c >= 0x80 || c <= 2) return false;
  }
  return true;
}

function sameKeys(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return a === b;
}

/**
 * Encodes whole batches for the commit log (the same bytes as the tests' reference encoder, which writes one
 * record at a time from a whole record object), with the work per message kept small: the store host, topic
 * and born host are encoded once (while they repeat), the properties once per run of messages sharing them,
 * each record's size computed once, every field written straight into one buffer per segment touched, and the
 * CRC taken in one native call per record.
 * Validates the whole batch before encoding any of it (RecordError for a message that cannot be stored,
 * RangeError from planWrites). Not reentrant: one encoder per commit log.
 */
export class BatchEncoder {
  private readonly storeHost: Uint8Array;
  private topic = '';
  private topicBytes: Uint8Array = new Uint8Array(0);
  private bornHost = '';
  private bornHostBytes: Uint8Array = new Uint8Array(0);
  /** Encoded properties of the batch, back to back. */
  private arena = new Uint8Array(64 * 1024);
  /** The records, reused from batch to batch (a storage write copies or writes through at once). */
  private out = new Uint8Array(256 * 1024);
  /** Scratch of encode (a fresh typed array per batch costs microseconds). */
  private ints = new Int32Array(4 * 1024);
  /** The last unique key prefix seen, its bytes, and whether it is plain ASCII. */
  private uniqPrefix: string | undefined;
  private uniqPrefixBytes = new Uint8Array(0);
  private uniqPrefixPlain = false;

  constructor(storeHost: string) {
    this.storeHost = utf8(storeHost);
    if (this.storeHost.length > RecordLayout.MaxShortString) throw new RecordError('EINVALID', `storeHost is ${this.storeHost.length} bytes (at most ${RecordLayout.MaxShortString})`);
  }

  /** Whether a unique key prefix is plain ASCII (remembered while it repeats, with its bytes). */
  private plainPrefix(prefix: string): boolean {
    if (prefix !== this.uniqPrefix) {
      this.uniqPrefix = prefix;
      this.uniqPrefixPlain = isPlainAscii(prefix);
      this.uniqPrefixBytes = Buffer.from(prefix, 'latin1');
    }
    return this.uniqPrefixPlain;
  }

  /** The bytes of a plain prefix (pass 2: the batch's prefixes were all seen by plainPrefix in pass 1). */
  private prefixBytesOf(prefix: string): Uint8Array {
    if (prefix !== this.uniqPrefix) this.plainPrefix(prefix);
    return this.uniqPrefixBytes;
  }

  /** Room for `n` more bytes at arena[p...]. */
  private room(p: number, n: number): Uint8Array {
    if (p + n > this.arena.length) {
      const bigger = new Uint8Array(Math.max(this.arena.length * 2, p + n));
      bigger.set(this.arena.subarray(0, p));
      this.arena = bigger;
    }
    return this.arena;
  }

  /** Writes the UTF-8 of a property name or value at arena[p...] (no separator bytes allowed); returns the end. */
  private putPropString(p: number, s: string, what: string): number {
    const n = s.length;
    let a = this.room(p, n);
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      if (c === 1 || c === 2) checkPropString(s, what); // throws
      a[p++] = c;
    }
    if (i < n) {
      const rest = s.slice(i);
      checkPropString(rest, what);
      a = this.room(p, 3 * rest.length);
      p += textEncoder.encodeInto(rest, a.subarray(p)).written;
    }
    return p;
  }

  /**
   * Writes the properties a message is stored with (TAGS, KEYS and the other properties, as the reference
   * encoder of the tests folds them into one property object) at arena[start...] in one pass, without building
   * that object; returns their length.
   */
  private writeStoredProperties(m: PutMessage, start: number): number {
    const tags = m.tags !== undefined && m.tags !== '' ? m.tags : undefined;
    const keys = m.keys !== undefined && m.keys.length > 0 ? m.keys : undefined;
    const props = m.properties;
    let p = start;
    let tagsDone = false;
    let keysDone = false;
    if (props !== undefined) {
      for (const k in props) {
        if (k.length === 0) throw new RecordError('EINVALID', 'empty property name');
        p = this.putPropString(p, k, 'name');
        this.room(p, 1)[p++] = 1;
        if (k === PROP_TAGS && tags !== undefined) {
          tagsDone = true;
          p = this.putPropString(p, tags, 'value');
        } else if (k === PROP_KEYS && keys !== undefined) {
          keysDone = true;
          p = this.putKeys(p, keys);
        } else p = this.putPropString(p, props[k]!, 'value');
        this.room(p, 1)[p++] = 2;
      }
    }
    if (tags !== undefined && !tagsDone) {
      p = this.putPropString(p, PROP_TAGS, 'name');
      this.room(p, 1)[p++] = 1;
      p = this.putPropString(p, tags, 'value');
      this.room(p, 1)[p++] = 2;
    }
    if (keys !== undefined && !keysDone) {
      p = this.putPropString(p, PROP_KEYS, 'name');
      this.room(p, 1)[p++] = 1;
      p = this.putKeys(p, keys);
      this.room(p, 1)[p++] = 2;
    }
    return p - start;
  }

  private putKeys(p: number, keys: readonly string[]): number {
    for (let i = 0; i < keys.length; i++) {
      if (i > 0) this.room(p, 1)[p++] = 0x20; // KEY_SEPARATOR
      p = this.putPropString(p, keys[i]!, 'value');
    }
    return p;
  }

  encode(batch: readonly PutMessage[], queueOffsets: readonly number[], storeTimestamp: number, writeOffset: number, segmentSize: number): EncodedBatch {
    const n = batch.length;
    if (!isU64(storeTimestamp)) throw new RecordError('EINVALID', `storeTimestamp ${storeTimestamp} is not a safe u64`);
    const sizes = new Array<number>(n);
    // per record, in one reused scratch: where its properties start and their length in the arena, and the
    // same for the UNIQ_KEY property of a message that carries it as `uniqKey` (written after the shared part)
    if (this.ints.length < 4 * n) this.ints = new Int32Array(Math.max(4 * n, this.ints.length * 2));
    const ints = this.ints;
    const PROP_START = 0;
    const PROP_LEN = n;
    const UNIQ_START = 2 * n;
    const UNIQ_LEN = 3 * n;
    const shLen = this.storeHost.length;
    // Pass 1: validate, encode the properties, size every record.
    let arenaUsed = 0;
    let lastProps: Record<string, string> | undefined | null = null;
    let lastTags: string | undefined;
    let lastKeys: readonly string[] | undefined;
    let lastStart = 0;
    let lastLen = 0;
    let lastHasUniq = false;
    for (let i = 0; i < n; i++) {
      const m = batch[i]!;
      if (!isU32(m.queueId)) throw new RecordError('EINVALID', `queueId ${m.queueId} is not a u32`);
      if (m.flags !== undefined && !isU32(m.flags)) throw new RecordError('EINVALID', `flags ${m.flags} is not a u32`);
      if (m.sysFlag !== undefined && !isU32(m.sysFlag)) throw new RecordError('EINVALID', `sysFlag ${m.sysFlag} is not a u32`);
      if (m.reconsumeTimes !== undefined && !isU32(m.reconsumeTimes)) throw new RecordError('EINVALID', `reconsumeTimes ${m.reconsumeTimes} is not a u32`);
      if (!isU64(m.bornTimestamp)) throw new RecordError('EINVALID', `bornTimestamp ${m.bornTimestamp} is not a safe u64`);
      if (m.preparedTransactionOffset !== undefined && !isU64(m.preparedTransactionOffset)) {
        throw new RecordError('EINVALID', `preparedTransactionOffset ${m.preparedTransactionOffset} is not a safe u64`);
      }
      if (!isU64(queueOffsets[i]!)) throw new RecordError('EINVALID', `queueOffset ${queueOffsets[i]} is not a safe u64`);
      if (m.topic !== this.topic) {
        const b = utf8(m.topic);
        if (b.length > RecordLayout.MaxShortString) throw new RecordError('EINVALID', `topic is ${b.length} bytes (at most ${RecordLayout.MaxShortString})`);
        this.topic = m.topic;
        this.topicBytes = b;
      }
      if (m.bornHost !== this.bornHost) {
        const b = utf8(m.bornHost);
        if (b.length > RecordLayout.MaxShortString) throw new RecordError('EINVALID', `bornHost is ${b.length} bytes (at most ${RecordLayout.MaxShortString})`);
        this.bornHost = m.bornHost;
        this.bornHostBytes = b;
      }
      if (lastProps === null || m.properties !== lastProps || m.tags !== lastTags || !sameKeys(m.keys, lastKeys)) {
        const len = this.writeStoredProperties(m, arenaUsed);
        if (len > RecordLayout.MaxProperties) throw new RecordError('ETOOLARGE', `properties are ${len} bytes (at most ${RecordLayout.MaxProperties})`);
        lastProps = m.properties;
        lastTags = m.tags;
        lastKeys = m.keys;
        lastStart = arenaUsed;
        lastLen = len;
        lastHasUniq = m.properties !== undefined && m.properties[UNIQ_KEY] !== undefined;
        arenaUsed += len;
      }
      ints[PROP_START + i] = lastStart;
      ints[PROP_LEN + i] = lastLen;
      let ul = 0;
      if (!lastHasUniq && (m.uniqKey !== undefined || m.uniqPrefix !== undefined)) {
        // The usual keys are written straight into the record in pass 2: a numbered key (start SEQ_KEY) whose
        // prefix is plain ASCII, or an ASCII string (start STRING_KEY). Anything else goes the checked way,
        // into the arena.
        const u = m.uniqKey;
        if (u === undefined && this.plainPrefix(m.uniqPrefix!)) {
          ul = UNIQ_KEY_NAME.length + this.uniqPrefixBytes.length + 8 + 1;
          ints[UNIQ_START + i] = SEQ_KEY;
        } else if (u !== undefined && isPlainAscii(u)) {
          ul = UNIQ_KEY_NAME.length + u.length + 1;
          ints[UNIQ_START + i] = STRING_KEY;
        } else {
          const a = this.room(arenaUsed, UNIQ_KEY_NAME.length);
          for (let j = 0; j < UNIQ_KEY_NAME.length; j++) a[arenaUsed + j] = UNIQ_KEY_NAME[j]!;
          let p = this.putPropString(arenaUsed + UNIQ_KEY_NAME.length, u ?? apartUniqKey(m)!, 'value');
          this.room(p, 1)[p++] = 2;
          ul = p - arenaUsed;
          ints[UNIQ_START + i] = arenaUsed;
          arenaUsed = p;
        }
        if (lastLen + ul > RecordLayout.MaxProperties) throw new RecordError('ETOOLARGE', `properties are ${lastLen + ul} bytes (at most ${RecordLayout.MaxProperties})`);
      }
      ints[UNIQ_LEN + i] = ul;
      const size = RecordLayout.FixedSize + this.bornHostBytes.length + shLen + this.topicBytes.length + lastLen + ul + m.body.length;
      if (size > RecordLayout.MaxSize) throw new RecordError('ETOOLARGE', `record is ${size} bytes (at most ${RecordLayout.MaxSize})`);
      sizes[i] = size;
    }
    const plan = planWrites(sizes, writeOffset, segmentSize);

    // Pass 2: write the records, one buffer per planned write.
    const offsets = new Array<number>(n);
    const writes: EncodedBatch['writes'] = [];
    const arena = this.arena;
    const sh = this.storeHost;
    let total = 0;
    for (const w of plan) total += w.bytes;
    if (total > this.out.length) this.out = new Uint8Array(Math.max(total, this.out.length * 2));
    let outAt = 0;
    for (const w of plan) {
      const buf = this.out.subarray(outAt, outAt + w.bytes);
      const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
      outAt += w.bytes;
      let pos = 0;
      for (let i = w.from; i < w.to; i++) {
        const m = batch[i]!;
        const size = sizes[i]!;
        const clOffset = w.offset + pos;
        offsets[i] = clOffset;
        if (m.topic !== this.topic) {
          this.topic = m.topic;
          this.topicBytes = utf8(m.topic);
        }
        if (m.bornHost !== this.bornHost) {
          this.bornHost = m.bornHost;
          this.bornHostBytes = utf8(m.bornHost);
        }
        dv.setUint32(pos + RecordField.Size, size);
        dv.setUint32(pos + RecordField.Magic, RecordLayout.Magic);
        dv.setUint32(pos + RecordField.QueueId, m.queueId);
        dv.setUint32(pos + RecordField.Flags, m.flags ?? 0);
        setU64(dv, pos + RecordField.QueueOffset, queueOffsets[i]!);
        setU64(dv, pos + RecordField.CommitLogOffset, clOffset);
        dv.setUint32(pos + RecordField.SysFlag, m.sysFlag ?? 0);
        setU64(dv, pos + RecordField.BornTimestamp, m.bornTimestamp);
        let p = pos + RecordField.BornHost;
        // Short fields are copied byte by byte: cheaper than a TypedArray.set call and its view.
        const bh = this.bornHostBytes;
        buf[p++] = bh.length;
        for (let k = 0; k < bh.length; k++) buf[p++] = bh[k]!;
        setU64(dv, p, storeTimestamp);
        p += 8;
        buf[p++] = shLen;
        for (let k = 0; k < shLen; k++) buf[p++] = sh[k]!;
        dv.setUint32(p, m.reconsumeTimes ?? 0);
        p += 4;
        setU64(dv, p, m.preparedTransactionOffset ?? 0);
        p += 8;
        const body = m.body;
        const bl = body.length;
        dv.setUint32(p, bl);
        p += 4;
        if (bl > 64) {
          buf.set(body, p);
          p += bl;
        } else {
          for (let k = 0; k < bl; k++) buf[p++] = body[k]!;
        }
        const tp = this.topicBytes;
        buf[p++] = tp.length;
        for (let k = 0; k < tp.length; k++) buf[p++] = tp[k]!;
        const pl = ints[PROP_LEN + i]!;
        const ul = ints[UNIQ_LEN + i]!;
        buf[p++] = (pl + ul) >>> 8;
        buf[p++] = (pl + ul) & 0xff;
        if (pl > 64) {
          const ps = ints[PROP_START + i]!;
          buf.set(arena.subarray(ps, ps + pl), p);
          p += pl;
        } else {
          for (let k = ints[PROP_START + i]!, e = k + pl; k < e; k++) buf[p++] = arena[k]!;
        }
        if (ul > 0) {
          const us = ints[UNIQ_START + i]!;
          if (us >= 0) for (let k = us, e = k + ul; k < e; k++) buf[p++] = arena[k]!;
          else {
            for (let k = 0; k < UNIQ_KEY_NAME.length; k++) buf[p++] = UNIQ_KEY_NAME[k]!;
            if (us === SEQ_KEY) {
              // the prefix of this message is the one plainPrefix checked in pass 1 (one per batch)
              const pb = this.prefixBytesOf(m.uniqPrefix!);
              for (let k = 0; k < pb.length; k++) buf[p++] = pb[k]!;
              putHex8(buf, p, m.uniqSeq ?? 0);
              p += 8;
            } else {
              const u = m.uniqKey!;
              for (let k = 0; k < u.length; k++) buf[p++] = u.charCodeAt(k);
            }
            buf[p++] = 2;
          }
        }
        if (p - pos !== size) throw new RecordError('EINVALID', `internal: wrote ${p - pos} bytes, expected ${size}`);
        dv.setUint32(pos + RecordField.Crc, recordCrc(buf, pos, size));
        pos = p;
      }
      writes.push({ offset: w.offset, buf, from: w.from, to: w.to });
    }
    return { writes, offsets, sizes };
  }
}
