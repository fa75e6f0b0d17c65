/**
 * Encodes commit log records straight into the pull reply body (the MessageExt batch format of
 * actors/protocol/message-codec.ts), byte to byte: no StoredMessage, no properties object, no string per
 * message. TAGS and KEYS properties become the tags and keys fields (keys split at spaces, empty ones
 * dropped); the other properties keep their record order. The records must have passed `recordBodyAt` (the
 * store's read checks them): lengths are trusted here, malformed properties end the property list.
 *
 * The result decodes (decodeMessageExtBatch) to the same messages as encoding the decoded records with
 * `encodeMessageExtBatch(stored, { omitProperties: {TAGS, KEYS}, omitEmptyKeys: true })`.
 */
import {
  BATCH_HEADER_SIZE,
  EXT_FLAG_KEYS,
  EXT_FLAG_OWN_STORE_HOST,
  EXT_FLAG_PROPS,
  EXT_FLAG_TAGS,
  MESSAGE_EXT_BATCH_VERSION,
  MESSAGE_EXT_BATCH_MAGIC,
} from '../actors/protocol/message-codec.js';

const NAME_VALUE_SEPARATOR = 1;
const PROPERTY_SEPARATOR = 2;
const SPACE = 0x20;

function u32(buf: Uint8Array, pos: number): number {
  return ((buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!) >>> 0;
}

function put32(out: Uint8Array, o: number, v: number): void {
  out[o] = v >>> 24;
  out[o + 1] = v >>> 16;
  out[o + 2] = v >>> 8;
  out[o + 3] = v;
}

/** A byte loop for short runs; past about 48 bytes a view object and one native copy cost less. */
function copy(out: Uint8Array, o: number, src: Uint8Array, from: number, n: number): void {
  if (n > 48) out.set(src.subarray(from, from + n), o);
  else for (let i = 0; i < n; i++) out[o + i] = src[from + i]!;
}

/** Whether buf[from, to) is exactly the 4 ASCII bytes of `a b c d`. */
function is4(buf: Uint8Array, from: number, to: number, a: number, b: number, c: number, d: number): boolean {
  return to - from === 4 && buf[from] === a && buf[from + 1] === b && buf[from + 2] === c && buf[from + 3] === d;
}

/** Where a reply is encoded before it is copied out (kept between calls; it only grows). */
let scratch = new Uint8Array(64 * 1024);

/** Where the other properties of the record being encoded are: name start, separator, value end (3 per property). */
let otherAt = new Int32Array(48);

const isTags = (buf: Uint8Array, from: number, to: number): boolean => is4(buf, from, to, 0x54, 0x41, 0x47, 0x53); // TAGS
const isKeys = (buf: Uint8Array, from: number, to: number): boolean => is4(buf, from, to, 0x4b, 0x45, 0x59, 0x53); // KEYS

/**
 * The pull reply body of `count` records: record i starts at `positions[i]` of `bufs[i]`. Message ids are
 * `msgIdPrefix` (ASCII) followed by the 16 upper-case hex digits of the record's commit log offset: the batch
 * names the prefix once (and the first record's store host), the reader derives each id.
 */
export function encodeRecordsAsExtBatch(bufs: readonly Uint8Array[], positions: readonly number[], count: number, msgIdPrefix: Uint8Array): Uint8Array {
  let bound = BATCH_HEADER_SIZE + 4 + msgIdPrefix.length + 255;
  for (let i = 0; i < count; i++) {
    const buf = bufs[i]!;
    const pos = positions[i]!;
    const size = u32(buf, pos);
    // properties are the last field: their u16 length sits right before them
    const end = pos + size;
    let p = pos + 48;
    p += 1 + buf[p]! + 8;
    p += 1 + buf[p]! + 12;
    p += 4 + u32(buf, p);
    p += 1 + buf[p]!;
    const pl = end - p - 2;
    bound += size + 64 + 2 * pl;
  }
  // Encoded into a reused scratch, then copied out at its exact length: the bound is about twice the result,
  // and a reply's buffer lives outside the JS heap, where every megabyte allocated brings the next collection
  // nearer (under a steady pull load most collections were for such memory). Every byte up to the returned
  // length is written: no need to zero the scratch first.
  if (scratch.length < bound) scratch = new Uint8Array(Math.max(bound, scratch.length * 2));
  const out = scratch;
  out[0] = MESSAGE_EXT_BATCH_MAGIC >>> 8;
  out[1] = MESSAGE_EXT_BATCH_MAGIC & 0xff;
  out[2] = MESSAGE_EXT_BATCH_VERSION;
  put32(out, 3, count);
  let o = BATCH_HEADER_SIZE;
  out[o++] = msgIdPrefix.length >>> 8;
  out[o++] = msgIdPrefix.length & 0xff;
  copy(out, o, msgIdPrefix, 0, msgIdPrefix.length);
  o += msgIdPrefix.length;
  // the batch's store host: the first record's
  let hostAt = 0;
  let hostLen = 0;
  let hostBuf: Uint8Array = out;
  if (count > 0) {
    hostBuf = bufs[0]!;
    const p0 = positions[0]!;
    const bh0 = hostBuf[p0 + 48]!;
    hostAt = p0 + 48 + 1 + bh0 + 8 + 1;
    hostLen = hostBuf[hostAt - 1]!;
  }
  out[o++] = 0;
  out[o++] = hostLen;
  copy(out, o, hostBuf, hostAt, hostLen);
  o += hostLen;
  for (let i = 0; i < count; i++) {
    const buf = bufs[i]!;
    const pos = positions[i]!;
    const end = pos + u32(buf, pos);
    const bhAt = pos + 48;
    const bh = buf[bhAt]!;
    const stAt = bhAt + 1 + bh;
    const shAt = stAt + 8;
    const sh = buf[shAt]!;
    const rtAt = shAt + 1 + sh;
    const blAt = rtAt + 12;
    const bl = u32(buf, blAt);
    const tpAt = blAt + 4 + bl;
    const tp = buf[tpAt]!;
    const propsAt = tpAt + 3 + tp;

    // Properties first (flags lead the record): where TAGS and KEYS are, how many others.
    let tagsFrom = -1;
    let tagsTo = -1;
    let keysFrom = -1;
    let keysTo = -1;
    let others = 0;
    for (let q = propsAt; q < end; ) {
      let sep = q;
      while (sep < end && buf[sep] !== NAME_VALUE_SEPARATOR) sep++;
      let stop = sep + 1;
      while (stop < end && buf[stop] !== PROPERTY_SEPARATOR) stop++;
      if (sep >= end || stop >= end) break;
      if (isTags(buf, q, sep)) {
        tagsFrom = sep + 1;
        tagsTo = stop;
      } else if (isKeys(buf, q, sep)) {
        keysFrom = sep + 1;
        keysTo = stop;
      } else {
        if (others * 3 + 3 > otherAt.length) {
          const bigger = new Int32Array(otherAt.length * 2);
          bigger.set(otherAt);
          otherAt = bigger;
        }
        otherAt[others * 3] = q;
        otherAt[others * 3 + 1] = sep;
        otherAt[others * 3 + 2] = stop;
        others++;
      }
      q = stop + 1;
    }
    let keyCount = 0;
    if (keysFrom >= 0) {
      for (let k = keysFrom; k < keysTo; ) {
        while (k < keysTo && buf[k] === SPACE) k++;
        if (k >= keysTo) break;
        keyCount++;
        while (k < keysTo && buf[k] !== SPACE) k++;
      }
    }
    let ownHost = sh !== hostLen;
    for (let k = 0; k < sh && !ownHost; k++) ownHost = buf[shAt + 1 + k] !== hostBuf[hostAt + k];
    let flags = 0;
    if (tagsFrom >= 0) flags |= EXT_FLAG_TAGS;
    if (keyCount > 0) flags |= EXT_FLAG_KEYS;
    if (others > 0) flags |= EXT_FLAG_PROPS;
    if (ownHost) flags |= EXT_FLAG_OWN_STORE_HOST;
    out[o++] = flags;
    // topic
    out[o++] = 0;
    out[o++] = tp;
    for (let k = 0; k < tp; k++) out[o++] = buf[tpAt + 1 + k]!;
    // queueId u32, queueOffset, commitLogOffset, bornTimestamp (u64 big-endian = u53 hi/lo), storeTimestamp
    for (let k = 12; k < 16; k++) out[o++] = buf[pos + k]!;
    for (let k = 20; k < 36; k++) out[o++] = buf[pos + k]!;
    for (let k = 40; k < 48; k++) out[o++] = buf[pos + k]!;
    for (let k = 0; k < 8; k++) out[o++] = buf[stAt + k]!;
    // reconsumeTimes
    for (let k = 0; k < 4; k++) out[o++] = buf[rtAt + k]!;
    // bornHost, storeHost when not the batch's (the msgId is derived from the commit log offset)
    out[o++] = 0;
    out[o++] = bh;
    for (let k = 0; k < bh; k++) out[o++] = buf[bhAt + 1 + k]!;
    if (ownHost) {
      out[o++] = 0;
      out[o++] = sh;
      for (let k = 0; k < sh; k++) out[o++] = buf[shAt + 1 + k]!;
    }
    if (tagsFrom >= 0) {
      const n = tagsTo - tagsFrom;
      out[o++] = n >>> 8;
      out[o++] = n & 0xff;
      copy(out, o, buf, tagsFrom, n);
      o += n;
    }
    if (keyCount > 0) {
      out[o++] = keyCount >>> 8;
      out[o++] = keyCount & 0xff;
      for (let k = keysFrom; k < keysTo; ) {
        while (k < keysTo && buf[k] === SPACE) k++;
        if (k >= keysTo) break;
        const from = k;
        while (k < keysTo && buf[k] !== SPACE) k++;
        const n = k - from;
        out[o++] = n >>> 8;
        out[o++] = n & 0xff;
        copy(out, o, buf, from, n);
        o += n;
      }
    }
    if (others > 0) {
      out[o++] = others >>> 8;
      out[o++] = others & 0xff;
      for (let j = 0; j < others * 3; j += 3) {
        const q = otherAt[j]!;
        const sep = otherAt[j + 1]!;
        const kn = sep - q;
        out[o++] = kn >>> 8;
        out[o++] = kn & 0xff;
        copy(out, o, buf, q, kn);
        o += kn;
        const vn = otherAt[j + 2]! - sep - 1;
        put32(out, o, vn);
        o += 4;
        copy(out, o, buf, sep + 1, vn);
        o += vn;
      }
    }
    put32(out, o, bl);
    o += 4;
    copy(out, o, buf, blAt + 4, bl);
    o += bl;
  }
  const exact = Buffer.allocUnsafe(o);
  exact.set(out.subarray(0, o));
  return new Uint8Array(exact.buffer, exact.byteOffset, o);
}
