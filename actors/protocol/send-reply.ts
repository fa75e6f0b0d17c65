import { MessageCodecError } from '../../core/message-codec.js';
import { HEX_CODES, latin1Slice as nativeLatin1Slice } from '../../core/bytes.js';
import { HexLine } from '../../core/hex-line.js';
import type { UniqKeyRun } from './uniq-keys.js';

export type { UniqKeyRun } from './uniq-keys.js';

/**
 * The SEND_MESSAGE / SEND_BATCH_MESSAGE reply body: one result per message, in order, in a compact binary
 * form (no per-message JSON). Store-side message ids are the store host's hex prefix followed by the commit
 * log offset as 16 hex digits (store/message-id.ts), so a batch carries the prefix once and each message only
 * its offsets; unique keys made by the broker (uniq-keys.ts: a 24-hex-digit prefix + an 8-hex-digit counter)
 * carry their prefix once and a u32 each, and keys the request carried are not sent back at all. Anything of
 * another shape travels as an explicit string.
 *
 * Layout (big-endian): magic u16 'SR', version u8, count u32, msgIdPrefix str16, uniqPrefix str16, then per
 * message: kind u8 (bit 0: msgId explicit; bits 1-2: uniqKey 0 none, 1 uniqPrefix + u32 as 8 hex digits,
 * 2 explicit), queueOffset u53, commitLogOffset u53, [msgId str16], [uniq u32 | uniqKey str16].
 * Strings are ASCII or UTF-8 (str16 = u16 byte length + bytes). Nothing follows the last record.
 */

export const SEND_REPLY_MAGIC = 0x5352; // 'SR'
export const SEND_REPLY_VERSION = 1;

export interface SendReplyItem {
  msgId: string;
  queueOffset: number;
  commitLogOffset: number;
  uniqKey?: string;
}

/**
 * What the encoder takes: a result whose msgId may be left out when the batch has a trusted msgId prefix
 * (the id is then that prefix + the hex of its commit log offset, derived by whoever decodes it).
 */
export type SendReplyInput = Omit<SendReplyItem, 'msgId'> & { msgId?: string };

const K_MSGID_EXPLICIT = 1;
const UNIQ_SHIFT = 1;
const UNIQ_NONE = 0;
const UNIQ_COUNTER = 1;
const UNIQ_EXPLICIT = 2;
const TWO_32 = 0x1_0000_0000;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** Bound here, not called through the import: the decode loops call it often, and calls through a local constant compile tighter. */
const latin1Slice = nativeLatin1Slice;

/** Whether the last 8 characters of `s` from `at` are the hex digits of u32 `v` (uppercase). */
function isHex8At(s: string, at: number, v: number): boolean {
  for (let j = 0; j < 8; j++) if (s.charCodeAt(at + j) !== HEX_CODES[(v >>> (28 - 4 * j)) & 15]) return false;
  return true;
}

/** Whether `id` is `prefix` (of length `plen`) + the 16 hex digits of `offset`. */
function isDerivedId(id: string, prefix: string, plen: number, offset: number): boolean {
  if (id.length !== plen + 16 || !id.startsWith(prefix)) return false;
  const hi = Math.floor(offset / TWO_32);
  return isHex8At(id, plen, hi) && isHex8At(id, plen + 8, offset >>> 0);
}

/** Whether `id` is `prefix` followed by the 16 uppercase hex digits of `commitLogOffset`. */
export function isDerivedMessageId(id: string, prefix: string, commitLogOffset: number): boolean {
  return Number.isSafeInteger(commitLogOffset) && commitLogOffset >= 0 && isDerivedId(id, prefix, prefix.length, commitLogOffset);
}

/** The u32 of 8 uppercase hex digits at `at`, or -1. */
function hex8(s: string, at: number): number {
  let v = 0;
  for (let j = 0; j < 8; j++) {
    const c = s.charCodeAt(at + j);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

function checkOffset(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new MessageCodecError('BAD_VALUE', `${what} must be a non-negative safe integer, got ${v}`);
}


/** The UTF-8 of the last few prefixes encoded (a broker's msgId prefix and a producer's unique key prefix repeat). */
const prefixCache = new Map<string, Uint8Array>();

function prefixBytes(prefix: string): Uint8Array {
  let b = prefixCache.get(prefix);
  if (b === undefined) {
    if (prefixCache.size >= 16) prefixCache.clear();
    prefixCache.set(prefix, (b = encoder.encode(prefix)));
  }
  return b;
}

/** encodeSendReply's scratch, per result: its kind and its unique key's counter (reused: see HexLine's pool). */
let scratchKinds = new Uint8Array(1024);
let scratchUniqs = new Float64Array(1024);

/**
 * Encodes one result per message (in order) into a send reply body. With `trustedIdPrefix` (the store vouches
 * that every msgId is that prefix + the hex of its commit log offset) the ids are not checked one by one; with
 * `uniqRun` every message's unique key is taken from the run (the items' uniqKey are not read).
 */
export function encodeSendReply(items: readonly SendReplyInput[], trustedIdPrefix?: string, uniqRun?: UniqKeyRun): Uint8Array {
  const count = items.length;
  const first = items[0];
  // the prefixes come from the first message; messages of another shape are written out in full
  let idPrefix = '';
  const firstId = first?.msgId;
  if (first && firstId === undefined && trustedIdPrefix !== undefined) idPrefix = trustedIdPrefix;
  else if (first && firstId !== undefined && firstId.length > 16 && isDerivedId(firstId, firstId.slice(0, -16), firstId.length - 16, first.commitLogOffset))
    idPrefix = firstId.slice(0, -16);
  const trusted = trustedIdPrefix !== undefined && trustedIdPrefix.length > 0 && trustedIdPrefix === idPrefix;
  let uniqPrefix = uniqRun?.prefix ?? '';
  if (uniqRun === undefined) for (const it of items) {
    const u = it.uniqKey;
    if (u !== undefined && u.length === 32 && hex8(u, 24) >= 0) {
      uniqPrefix = u.slice(0, 24);
      break;
    }
  }
  const plen = idPrefix.length;
  if (scratchKinds.length < count) {
    scratchKinds = new Uint8Array(count * 2);
    scratchUniqs = new Float64Array(count * 2);
  }
  const kinds = scratchKinds;
  const uniqVals = scratchUniqs;
  const idBytes: (Uint8Array | undefined)[] = [];
  const uniqBytes: (Uint8Array | undefined)[] = [];
  const idPrefixBytes = prefixBytes(idPrefix);
  const uniqPrefixBytes = prefixBytes(uniqPrefix);
  let size = 7 + 2 + idPrefixBytes.length + 2 + uniqPrefixBytes.length;
  for (let i = 0; i < count; i++) {
    const it = items[i]!;
    checkOffset(it.queueOffset, 'queueOffset');
    checkOffset(it.commitLogOffset, 'commitLogOffset');
    let kind = 0;
    size += 17;
    if (!trusted && (plen === 0 || it.msgId === undefined || !isDerivedId(it.msgId, idPrefix, plen, it.commitLogOffset))) {
      kind |= K_MSGID_EXPLICIT;
      if (it.msgId === undefined) throw new MessageCodecError('BAD_VALUE', `result ${i}: no msgId and no trusted msgId prefix`);
      const b = encoder.encode(it.msgId);
      if (b.length > 0xffff) throw new MessageCodecError('BAD_VALUE', `msgId is ${b.length} bytes, at most 65535 allowed`);
      idBytes[i] = b;
      size += 2 + b.length;
    }
    const u = it.uniqKey;
    if (uniqRun !== undefined) {
      kind |= UNIQ_COUNTER << UNIQ_SHIFT;
      uniqVals[i] = (uniqRun.first + i) >>> 0;
      size += 4;
    } else if (u !== undefined) {
      const v = uniqPrefix.length > 0 && u.length === 32 && u.startsWith(uniqPrefix) ? hex8(u, 24) : -1;
      if (v >= 0) {
        kind |= UNIQ_COUNTER << UNIQ_SHIFT;
        uniqVals[i] = v;
        size += 4;
      } else {
        kind |= UNIQ_EXPLICIT << UNIQ_SHIFT;
        const b = encoder.encode(u);
        if (b.length > 0xffff) throw new MessageCodecError('BAD_VALUE', `uniqKey is ${b.length} bytes, at most 65535 allowed`);
        uniqBytes[i] = b;
        size += 2 + b.length;
      }
    }
    kinds[i] = kind;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint16(0, SEND_REPLY_MAGIC);
  out[2] = SEND_REPLY_VERSION;
  view.setUint32(3, count);
  let p = 7;
  const bytes = (b: Uint8Array): void => {
    view.setUint16(p, b.length);
    out.set(b, p + 2);
    p += 2 + b.length;
  };
  bytes(idPrefixBytes);
  bytes(uniqPrefixBytes);
  for (let i = 0; i < count; i++) {
    const it = items[i]!;
    const kind = kinds[i]!;
    out[p] = kind;
    view.setUint32(p + 1, Math.floor(it.queueOffset / TWO_32));
    view.setUint32(p + 5, it.queueOffset >>> 0);
    view.setUint32(p + 9, Math.floor(it.commitLogOffset / TWO_32));
    view.setUint32(p + 13, it.commitLogOffset >>> 0);
    p += 17;
    if (kind & K_MSGID_EXPLICIT) bytes(idBytes[i]!);
    const uk = (kind >> UNIQ_SHIFT) & 3;
    if (uk === UNIQ_COUNTER) {
      view.setUint32(p, uniqVals[i]!);
      p += 4;
    } else if (uk === UNIQ_EXPLICIT) bytes(uniqBytes[i]!);
  }
  return out;
}

function bad(message: string): MessageCodecError {
  return new MessageCodecError('BAD_FRAME', `send reply: ${message}`);
}

/** A SendReplyItem as decoded (the default result object of decodeSendReply). */
const asItem = (msgId: string, queueOffset: number, commitLogOffset: number, uniqKey: string | undefined): SendReplyItem =>
  uniqKey === undefined ? { msgId, queueOffset, commitLogOffset } : { msgId, queueOffset, commitLogOffset, uniqKey };

/**
 * Decodes a send reply body into one result per message, each built by `make` (SendReplyItem objects by
 * default; a caller's own result type saves an object per message). MessageCodecError (BAD_FRAME) when malformed.
 */
export function decodeSendReply(buf: Uint8Array): SendReplyItem[];
export function decodeSendReply<T>(buf: Uint8Array, make: (msgId: string, queueOffset: number, commitLogOffset: number, uniqKey: string | undefined) => T): T[];
export function decodeSendReply<T>(
  buf: Uint8Array,
  make: (msgId: string, queueOffset: number, commitLogOffset: number, uniqKey: string | undefined) => T = asItem as never,
): T[] {
  if (!(buf instanceof Uint8Array)) throw bad('input is not bytes');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const len = buf.length;
  let p = 0;
  const need = (n: number, what: string): void => {
    if (p + n > len) throw bad(`truncated ${what} at byte ${p}`);
  };
  const u53 = (what: string): number => {
    const hi = view.getUint32(p);
    if (hi > 0x1fffff) throw bad(`${what} at byte ${p} exceeds 2^53`);
    const v = hi * TWO_32 + view.getUint32(p + 4);
    p += 8;
    return v;
  };
  const str = (what: string): string => {
    need(2, what);
    const n = view.getUint16(p);
    p += 2;
    need(n, what);
    const start = p;
    p += n;
    let i = start;
    while (i < p && buf[i]! < 0x80) i++;
    if (i === p) return n === 0 ? '' : latin1Slice.call(buf, start, p);
    try {
      return decoder.decode(buf.subarray(start, p));
    } catch {
      throw bad(`${what} at byte ${start} is not valid UTF-8`);
    }
  };
  need(7, 'header');
  const magic = view.getUint16(0);
  if (magic !== SEND_REPLY_MAGIC) throw bad(`bad magic 0x${magic.toString(16)}`);
  if (buf[2] !== SEND_REPLY_VERSION) throw bad(`unsupported version ${buf[2]}`);
  const count = view.getUint32(3);
  p = 7;
  const idPrefix = str('msgId prefix');
  const uniqPrefix = str('uniqKey prefix');
  if (count * 17 > len - p) throw bad(`count ${count} exceeds the body (17 bytes or more each)`);
  // Two passes: the first checks every result and writes the derived strings into one line each (see
  // HexLine); the second reads the results again and makes them, the strings now slices of those lines.
  const ids = new HexLine(idPrefix, 16, count);
  // no line (and no scratch taken from the pool) for a reply without counted keys: a request's run is not sent back
  const uniqs = uniqPrefix.length > 0 ? new HexLine(uniqPrefix, 8, count) : undefined;
  const start = p;
  for (let i = 0; i < count; i++) {
    need(17, `result ${i}`);
    const kind = buf[p++]!;
    if (kind & ~7) throw bad(`result ${i}: unknown kind 0x${kind.toString(16)}`);
    u53('queueOffset');
    const commitLogOffset = u53('commitLogOffset');
    if (kind & K_MSGID_EXPLICIT) str('msgId');
    else if (idPrefix.length === 0) throw bad(`result ${i}: derived msgId without a prefix`);
    else ids.add(commitLogOffset);
    const uk = (kind >> UNIQ_SHIFT) & 3;
    if (uk === UNIQ_COUNTER) {
      need(4, 'uniqKey counter');
      if (uniqPrefix.length === 0) throw bad(`result ${i}: counted uniqKey without a prefix`);
      uniqs!.add(view.getUint32(p));
      p += 4;
    } else if (uk === UNIQ_EXPLICIT) str('uniqKey');
    else if (uk !== UNIQ_NONE) throw bad(`result ${i}: unknown uniqKey kind ${uk}`);
  }
  if (p !== len) throw bad(`${len - p} trailing bytes after the last result`);
  p = start;
  let nextId = 0;
  let nextUniq = 0;
  const out: T[] = new Array<T>(count);
  for (let i = 0; i < count; i++) {
    const kind = buf[p++]!;
    const queueOffset = u53('queueOffset');
    const commitLogOffset = u53('commitLogOffset');
    const msgId = kind & K_MSGID_EXPLICIT ? str('msgId') : ids.at(nextId++);
    const uk = (kind >> UNIQ_SHIFT) & 3;
    let uniqKey: string | undefined;
    if (uk === UNIQ_COUNTER) {
      uniqKey = uniqs!.at(nextUniq++);
      p += 4;
    } else if (uk === UNIQ_EXPLICIT) uniqKey = str('uniqKey');
    out[i] = make(msgId, queueOffset, commitLogOffset, uniqKey);
  }
  return out;
}
