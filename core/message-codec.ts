import type { Message, MessageExt } from './message.js';
import { HEX_DIGITS, latin1Slice as nativeLatin1Slice, sameBytes, utf8Length } from './bytes.js';
import { HexLine } from './hex-line.js';

/**
 * Compact binary codec for the data path: a batch of `Message` (send batch body) and a batch of `MessageExt`
 * (query replies, and pull replies from a store without records; the store's own pull reply is
 * core/record-batch.ts). Bodies are copied as raw bytes; the encoder bounds the size first (string fields at 3
 * bytes per UTF-16 unit, so nothing is measured twice), allocates one output buffer per batch and returns the
 * written part of it. The decoder checks every length against the bytes it has and throws
 * `MessageCodecError` (code BAD_FRAME) for anything malformed, never another error.
 *
 * Layout (big-endian). Batch: magic u16, version u8, count u32, then `count` records, nothing after (a
 *   MessageExt batch has two more header fields after count: idPrefix str16, storeHost str16).
 *   str16 = u16 byte length + UTF-8; str32 = u32 byte length + UTF-8; u53 = u32 high + u32 low (exact
 *   non-negative safe integer); keys = u16 count + str16 each; props = u16 count + (str16 name, str32 value).
 * Message record: flags u8 (1 tags, 2 keys, 4 props, 8 delayLevel, 16 deliverAt, 32 shardingKey),
 *   topic str16, [tags str16], [keys], [props], [delayLevel u32], [deliverAt u53], [shardingKey str16],
 *   body u32 length + bytes.
 * MessageExt record: flags u8 (1 tags, 2 keys, 4 props, 8 own msgId, 16 own storeHost), topic str16,
 *   queueId u32, queueOffset u53, commitLogOffset u53, bornTimestamp u53, storeTimestamp u53,
 *   reconsumeTimes u32, [msgId str16], bornHost str16, [storeHost str16], [tags str16], [keys], [props],
 *   body u32 length + bytes. Without flag 8 the msgId is the batch's idPrefix followed by the 16 upper-case hex
 *   digits of commitLogOffset (how a store names what it stores); without flag 16 the storeHost is the
 *   batch's. A pull reply thus carries neither per message.
 */

export type MessageCodecErrorCode = 'BAD_FRAME' | 'BAD_VALUE';

export class MessageCodecError extends Error {
  constructor(
    readonly code: MessageCodecErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MessageCodecError';
  }
}

export const MESSAGE_BATCH_MAGIC = 0x4d42; // 'MB'
const MESSAGE_EXT_BATCH_MAGIC = 0x4d58; // 'MX'
/** Format versions: the send batch's, and the MessageExt batch's (2: msgId prefix and store host once per batch). */
export const MESSAGE_BATCH_VERSION = 1;
export const MESSAGE_EXT_BATCH_VERSION = 2;

const HEADER_SIZE = 7;
/** Bytes of a message batch's header: `encodeMessageBatch(msgs)` is at most this plus encodedMessageSize of each. */
export const MESSAGE_BATCH_HEADER_BYTES = HEADER_SIZE;
const F_TAGS = 1;
const F_KEYS = 2;
const F_PROPS = 4;
/** MessageExt record flags: the record carries its own msgId / storeHost (not the batch's). */
const EXT_FLAG_OWN_ID = 8;
const EXT_FLAG_OWN_STORE_HOST = 16;
const F_DELAY = 8;
const F_DELIVER_AT = 16;
const F_SHARDING = 32;
const MSG_FLAGS = F_TAGS | F_KEYS | F_PROPS | F_DELAY | F_DELIVER_AT | F_SHARDING;
const EXT_FLAGS = F_TAGS | F_KEYS | F_PROPS | EXT_FLAG_OWN_ID | EXT_FLAG_OWN_STORE_HOST;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
const TWO_32 = 0x1_0000_0000;

/** A store's message id: its prefix and the 16 upper-case hex digits of the commit log offset. */
export function derivedId(prefix: string, commitLogOffset: number): string {
  let hex = '';
  for (let v = Math.floor(commitLogOffset / TWO_32), j = 28; j >= 0; j -= 4) hex += HEX_DIGITS[(v >>> j) & 15];
  for (let v = commitLogOffset >>> 0, j = 28; j >= 0; j -= 4) hex += HEX_DIGITS[(v >>> j) & 15];
  return prefix + hex;
}

const EMPTY = new Uint8Array(0);
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** Bound here, not called through the import: the decode loops call it often, and calls through a local constant compile tighter. */
const latin1Slice = nativeLatin1Slice;

export interface DecodeOptions {
  /** Copy each body out of the input (default false: bodies are views into the input bytes). */
  copyBodies?: boolean;
}

// ---------------------------------------------------------------- sizes

function str16Size(s: string, what: string): number {
  const n = utf8Length(s);
  if (n > U16_MAX) throw new MessageCodecError('BAD_VALUE', `${what} is ${n} bytes, at most ${U16_MAX} allowed`);
  return 2 + n;
}

function str32Size(s: string): number {
  return 4 + utf8Length(s);
}

function keysSize(keys: readonly string[]): number {
  if (keys.length > U16_MAX) throw new MessageCodecError('BAD_VALUE', `${keys.length} keys, at most ${U16_MAX} allowed`);
  let n = 2;
  for (const k of keys) n += str16Size(k, 'key');
  return n;
}

function propsSize(props: Record<string, string>): number {
  const names = Object.keys(props);
  if (names.length > U16_MAX) throw new MessageCodecError('BAD_VALUE', `${names.length} properties, at most ${U16_MAX} allowed`);
  let n = 2;
  for (const k of names) n += str16Size(k, 'property name') + str32Size(props[k]!);
  return n;
}

function checkU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) throw new MessageCodecError('BAD_VALUE', `${what} must be an integer in [0, 2^32), got ${v}`);
}

function checkU53(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new MessageCodecError('BAD_VALUE', `${what} must be a non-negative safe integer, got ${v}`);
}

function bodySize(body: Uint8Array): number {
  if (!(body instanceof Uint8Array)) throw new MessageCodecError('BAD_VALUE', 'body must be a Uint8Array');
  if (body.length > U32_MAX) throw new MessageCodecError('BAD_VALUE', 'body too large');
  return 4 + body.length;
}

/** Encoded size of one message record (validates the fields the codec relies on). */
export function encodedMessageSize(m: Message): number {
  let n = 1 + str16Size(m.topic, 'topic');
  if (m.tags !== undefined) n += str16Size(m.tags, 'tags');
  if (m.keys !== undefined) n += keysSize(m.keys);
  if (m.properties !== undefined) n += propsSize(m.properties);
  if (m.delayLevel !== undefined) {
    checkU32(m.delayLevel, 'delayLevel');
    n += 4;
  }
  if (m.deliverAt !== undefined) {
    checkU53(m.deliverAt, 'deliverAt');
    n += 8;
  }
  if (m.shardingKey !== undefined) n += str16Size(m.shardingKey, 'shardingKey');
  return n + bodySize(m.body);
}

// ---------------------------------------------------------------- upper bounds (one pass, no UTF-8 measuring)

const hasOwn = Object.prototype.hasOwnProperty;

/** At most the bytes a str16/str32 of `s` takes (UTF-8 needs at most 3 bytes per UTF-16 unit). */
function maxStr(s: string, what: string): number {
  if (typeof s !== 'string') throw new MessageCodecError('BAD_VALUE', `${what} must be a string`);
  return 4 + 3 * s.length;
}

function maxKeys(keys: readonly string[]): number {
  if (keys.length > U16_MAX) throw new MessageCodecError('BAD_VALUE', `${keys.length} keys, at most ${U16_MAX} allowed`);
  let n = 2;
  for (let i = 0; i < keys.length; i++) n += maxStr(keys[i]!, 'key');
  return n;
}

function maxProps(props: Record<string, string>): number {
  let n = 2;
  let count = 0;
  for (const k in props) {
    if (!hasOwn.call(props, k)) continue;
    count++;
    n += maxStr(k, 'property name') + maxStr(props[k]!, 'property value');
  }
  if (count > U16_MAX) throw new MessageCodecError('BAD_VALUE', `${count} properties, at most ${U16_MAX} allowed`);
  return n;
}

/** At most the bytes of one message record (validates the fields the codec relies on). */
function maxMessageSize(m: Message): number {
  let n = 1 + maxStr(m.topic, 'topic');
  if (m.tags !== undefined) n += maxStr(m.tags, 'tags');
  if (m.keys !== undefined) n += maxKeys(m.keys);
  if (m.properties !== undefined) n += maxProps(m.properties);
  if (m.delayLevel !== undefined) {
    checkU32(m.delayLevel, 'delayLevel');
    n += 4;
  }
  if (m.deliverAt !== undefined) {
    checkU53(m.deliverAt, 'deliverAt');
    n += 8;
  }
  if (m.shardingKey !== undefined) n += maxStr(m.shardingKey, 'shardingKey');
  return n + bodySize(m.body);
}

/** At most the bytes of one MessageExt record. */
function maxMessageExtSize(m: MessageExt): number {
  checkU32(m.queueId, 'queueId');
  checkU53(m.queueOffset, 'queueOffset');
  checkU53(m.commitLogOffset, 'commitLogOffset');
  checkU53(m.bornTimestamp, 'bornTimestamp');
  checkU53(m.storeTimestamp, 'storeTimestamp');
  checkU32(m.reconsumeTimes, 'reconsumeTimes');
  let n = 1 + maxStr(m.msgId, 'msgId') + maxStr(m.topic, 'topic') + 4 + 8 * 4 + 4;
  n += maxStr(m.bornHost, 'bornHost') + maxStr(m.storeHost, 'storeHost');
  if (m.tags !== undefined) n += maxStr(m.tags, 'tags');
  if (m.keys !== undefined) n += maxKeys(m.keys);
  if (m.properties !== undefined) n += maxProps(m.properties);
  return n + bodySize(m.body);
}

// ---------------------------------------------------------------- writer

/**
 * An output buffer for an encoder that writes every byte it returns: not zeroed first (zeroing a fresh buffer
 * costs as much as writing it). Small ones share Node's pool; the Writer keeps to its own byte range.
 */
function allocOut(size: number): Uint8Array {
  const b = Buffer.allocUnsafe(size);
  return new Uint8Array(b.buffer, b.byteOffset, size);
}

class Writer {
  pos = 0;
  readonly view: DataView;
  constructor(readonly out: Uint8Array) {
    this.view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  }
  u8(v: number): void {
    this.out[this.pos++] = v;
  }
  u16(v: number): void {
    this.view.setUint16(this.pos, v);
    this.pos += 2;
  }
  u32(v: number): void {
    this.view.setUint32(this.pos, v);
    this.pos += 4;
  }
  u53(v: number): void {
    this.view.setUint32(this.pos, Math.floor(v / TWO_32));
    this.view.setUint32(this.pos + 4, v >>> 0);
    this.pos += 8;
  }
  /**
   * Writes the UTF-8 of `s` at pos and returns its byte length. The sizing pass already measured (and bounded)
   * every string, so this pass does not measure again: ASCII is copied unit by unit, anything else goes
   * through TextEncoder.encodeInto.
   */
  private text(s: string): number {
    const out = this.out;
    const start = this.pos;
    const len = s.length;
    let p = start;
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      out[p++] = c;
    }
    if (i < len) p += textEncoder.encodeInto(s.slice(i), out.subarray(p)).written;
    this.pos = p;
    return p - start;
  }
  /** Where the last string of each `repeated` slot was written (its length prefix) and the string. */
  private readonly slotAt = [-1, -1, -1, -1, -1, -1, -1, -1];
  private readonly slotStr = ['', '', '', '', '', '', '', ''];
  /**
   * A str16 that tends to repeat from one record to the next (topic, hosts, tags, property names): the same
   * string as last time in `slot` is copied from where it was written then.
   */
  repeated(slot: number, s: string): void {
    const prev = this.slotAt[slot]!;
    if (prev >= 0 && this.slotStr[slot] === s) {
      const out = this.out;
      const n = 2 + ((out[prev]! << 8) | out[prev + 1]!);
      let p = this.pos;
      for (let i = 0; i < n; i++) out[p++] = out[prev + i]!;
      this.pos = p;
      return;
    }
    this.slotAt[slot] = this.pos;
    this.slotStr[slot] = s;
    this.str16(s);
  }
  str16(s: string): void {
    const at = this.pos;
    this.pos += 2;
    const n = this.text(s);
    if (n > U16_MAX) throw new MessageCodecError('BAD_VALUE', `a string field is ${n} bytes, at most ${U16_MAX} allowed`);
    this.view.setUint16(at, n);
  }
  str32(s: string): void {
    const at = this.pos;
    this.pos += 4;
    this.view.setUint32(at, this.text(s));
  }
  keys(keys: readonly string[]): void {
    this.u16(keys.length);
    for (const k of keys) this.str16(k);
  }
  props(props: Record<string, string>, omit?: ReadonlySet<string>): void {
    const at = this.pos;
    this.pos += 2;
    let count = 0;
    for (const k in props) {
      if (!hasOwn.call(props, k) || (omit !== undefined && omit.has(k))) continue;
      if (count < 4) this.repeated(SLOT_PROP_NAME + count, k);
      else this.str16(k);
      count++;
      this.str32(props[k]!);
    }
    this.view.setUint16(at, count);
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.out.set(b, this.pos);
    this.pos += b.length;
  }
}

function header(w: Writer, magic: number, version: number, count: number): void {
  w.u16(magic);
  w.u8(version);
  w.u32(count);
}

/** Encodes a batch of messages into one buffer (the send batch body). */
export function encodeMessageBatch(msgs: readonly Message[]): Uint8Array {
  let size = HEADER_SIZE;
  for (let i = 0; i < msgs.length; i++) size += maxMessageSize(msgs[i]!);
  const w = new Writer(allocOut(size));
  header(w, MESSAGE_BATCH_MAGIC, MESSAGE_BATCH_VERSION, msgs.length);
  for (const m of msgs) {
    let flags = 0;
    if (m.tags !== undefined) flags |= F_TAGS;
    if (m.keys !== undefined) flags |= F_KEYS;
    if (m.properties !== undefined) flags |= F_PROPS;
    if (m.delayLevel !== undefined) flags |= F_DELAY;
    if (m.deliverAt !== undefined) flags |= F_DELIVER_AT;
    if (m.shardingKey !== undefined) flags |= F_SHARDING;
    w.u8(flags);
    w.repeated(SLOT_TOPIC, m.topic);
    if (m.tags !== undefined) w.repeated(SLOT_TAGS, m.tags);
    if (m.keys !== undefined) w.keys(m.keys);
    if (m.properties !== undefined) w.props(m.properties);
    if (m.delayLevel !== undefined) w.u32(m.delayLevel);
    if (m.deliverAt !== undefined) w.u53(m.deliverAt);
    if (m.shardingKey !== undefined) w.str16(m.shardingKey);
    w.bytes(m.body);
  }
  return w.pos === w.out.length ? w.out : w.out.subarray(0, w.pos);
}

export interface ExtEncodeOptions {
  /**
   * Property names left out of every record (a store keeps tags and keys among its properties; the wire has
   * fields for them). A record left without properties has none on the wire.
   */
  omitProperties?: ReadonlySet<string>;
  /** Leave out an empty `keys` array (a store reads "no keys" as []). */
  omitEmptyKeys?: boolean;
}

/** Whether `props` has an own property not in `omit`. */
function hasPropsBeyond(props: Record<string, string>, omit: ReadonlySet<string>): boolean {
  for (const k in props) if (hasOwn.call(props, k) && !omit.has(k)) return true;
  return false;
}

/**
 * Encodes a batch of consumed messages into one buffer (the pull reply body). `opts` lets a store's own
 * records be encoded as they are, without building a MessageExt per message first.
 */
export function encodeMessageExtBatch(msgs: readonly MessageExt[], opts: ExtEncodeOptions = {}): Uint8Array {
  const omit = opts.omitProperties;
  const omitEmptyKeys = opts.omitEmptyKeys ?? false;
  // the batch's id prefix and store host are the first message's; the others name theirs only when different
  const first = msgs[0];
  const storeHost = first?.storeHost ?? '';
  const idPrefix = first !== undefined && first.msgId.length > 16 && first.msgId === derivedId(first.msgId.slice(0, -16), first.commitLogOffset) ? first.msgId.slice(0, -16) : '';
  let size = HEADER_SIZE + maxStr(idPrefix, 'msgId') + maxStr(storeHost, 'storeHost');
  for (let i = 0; i < msgs.length; i++) size += maxMessageExtSize(msgs[i]!);
  const w = new Writer(allocOut(size));
  header(w, MESSAGE_EXT_BATCH_MAGIC, MESSAGE_EXT_BATCH_VERSION, msgs.length);
  w.str16(idPrefix);
  w.str16(storeHost);
  for (const m of msgs) {
    let flags = 0;
    if (m.tags !== undefined) flags |= F_TAGS;
    if (m.keys !== undefined && !(omitEmptyKeys && m.keys.length === 0)) flags |= F_KEYS;
    if (m.properties !== undefined && (omit === undefined || hasPropsBeyond(m.properties, omit))) flags |= F_PROPS;
    if (idPrefix === '' || m.msgId !== derivedId(idPrefix, m.commitLogOffset)) flags |= EXT_FLAG_OWN_ID;
    if (m.storeHost !== storeHost) flags |= EXT_FLAG_OWN_STORE_HOST;
    w.u8(flags);
    w.repeated(SLOT_TOPIC, m.topic);
    w.u32(m.queueId);
    w.u53(m.queueOffset);
    w.u53(m.commitLogOffset);
    w.u53(m.bornTimestamp);
    w.u53(m.storeTimestamp);
    w.u32(m.reconsumeTimes);
    if (flags & EXT_FLAG_OWN_ID) w.str16(m.msgId);
    w.repeated(SLOT_BORN_HOST, m.bornHost);
    if (flags & EXT_FLAG_OWN_STORE_HOST) w.repeated(SLOT_STORE_HOST, m.storeHost);
    if (m.tags !== undefined) w.repeated(SLOT_TAGS, m.tags);
    if (flags & F_KEYS) w.keys(m.keys!);
    if (flags & F_PROPS) w.props(m.properties!, omit);
    w.bytes(m.body);
  }
  return w.pos === w.out.length ? w.out : w.out.subarray(0, w.pos);
}

// ---------------------------------------------------------------- reader

const SLOT_TOPIC = 0;
const SLOT_TAGS = 1;
const SLOT_BORN_HOST = 2;
const SLOT_STORE_HOST = 3;
/** Slots 4..7: the names of a record's first four properties. */
const SLOT_PROP_NAME = 4;

function bad(message: string): MessageCodecError {
  return new MessageCodecError('BAD_FRAME', message);
}

class Reader {
  pos = 0;
  readonly view: DataView;
  /** Where and how long the last string of each `repeated` slot was, and the string. */
  private readonly slotStart = [-1, -1, -1, -1, -1, -1, -1, -1];
  private readonly slotLen = [0, 0, 0, 0, 0, 0, 0, 0];
  private readonly slotStr = ['', '', '', '', '', '', '', ''];
  constructor(
    readonly buf: Uint8Array,
    readonly copyBodies: boolean,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) throw bad(`truncated ${what} at byte ${this.pos}: need ${n}, have ${this.buf.length - this.pos}`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  u53(what: string): number {
    this.need(8, what);
    const hi = this.view.getUint32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    if (hi > 0x1fffff) throw bad(`${what} at byte ${this.pos} exceeds 2^53`);
    this.pos += 8;
    return hi * TWO_32 + lo;
  }
  private text(n: number, what: string): string {
    this.need(n, what);
    const buf = this.buf;
    const start = this.pos;
    const end = start + n;
    this.pos = end;
    let i = start;
    while (i < end && buf[i]! < 0x80) i++;
    if (i === end) return n === 0 ? '' : latin1Slice.call(buf, start, end); // ASCII: one native copy
    try {
      return textDecoder.decode(buf.subarray(start, end));
    } catch {
      throw bad(`${what} at byte ${start} is not valid UTF-8`);
    }
  }
  str16(what: string): string {
    return this.text(this.u16(what), what);
  }
  str32(what: string): string {
    return this.text(this.u32(what), what);
  }
  /**
   * A str16 that tends to repeat from one record to the next (topic, hosts, tags): when its bytes equal the
   * last ones read in `slot`, the string read then is returned again (no new string per message).
   */
  repeated(slot: number, what: string): string {
    const n = this.u16(what);
    this.need(n, what);
    const buf = this.buf;
    const start = this.pos;
    const prev = this.slotStart[slot]!;
    if (prev >= 0 && this.slotLen[slot] === n && sameBytes(buf, start, buf, prev, n)) {
      this.pos = start + n;
      return this.slotStr[slot]!;
    }
    const s = this.text(n, what);
    this.slotStart[slot] = start;
    this.slotLen[slot] = n;
    this.slotStr[slot] = s;
    return s;
  }
  keys(): string[] {
    const n = this.u16('key count');
    const keys: string[] = [];
    for (let i = 0; i < n; i++) keys.push(this.str16('key'));
    return keys;
  }
  props(): Record<string, string> {
    const n = this.u16('property count');
    const props: Record<string, string> = {};
    for (let i = 0; i < n; i++) {
      const k = i < 4 ? this.repeated(SLOT_PROP_NAME + i, 'property name') : this.str16('property name');
      const v = this.str32('property value');
      if (k === '__proto__') Object.defineProperty(props, k, { value: v, enumerable: true, writable: true, configurable: true });
      else props[k] = v;
    }
    return props;
  }
  bytes(what: string): Uint8Array {
    const n = this.u32(`${what} length`);
    this.need(n, what);
    const start = this.pos;
    this.pos += n;
    return this.copyBodies ? this.buf.slice(start, start + n) : this.buf.subarray(start, start + n);
  }
}

function readHeader(r: Reader, magic: number, version: number, what: string): number {
  if (!(r.buf instanceof Uint8Array)) throw bad(`${what}: input is not bytes`);
  const m = r.u16('magic');
  if (m !== magic) throw bad(`${what}: bad magic 0x${m.toString(16)}, expected 0x${magic.toString(16)}`);
  const v = r.u8('version');
  if (v !== version) throw bad(`${what}: unsupported version ${v}, expected ${version}`);
  return r.u32('count');
}

function guard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof MessageCodecError) throw err;
    throw bad(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function finish(r: Reader, what: string): void {
  if (r.pos !== r.buf.length) throw bad(`${what}: ${r.buf.length - r.pos} trailing bytes after the last record`);
}

/** Decodes a send batch body. Throws MessageCodecError (BAD_FRAME) when malformed. */
export function decodeMessageBatch(bytes: Uint8Array, opts: DecodeOptions = {}): Message[] {
  return guard('message batch', () => {
    const r = new Reader(bytes, opts.copyBodies ?? false);
    const count = readHeader(r, MESSAGE_BATCH_MAGIC, MESSAGE_BATCH_VERSION, 'message batch');
    const out: Message[] = [];
    for (let i = 0; i < count; i++) {
      const flags = r.u8('flags');
      if ((flags & ~MSG_FLAGS) !== 0) throw bad(`message ${i}: unknown flags 0x${flags.toString(16)}`);
      const m: Message = { topic: r.repeated(SLOT_TOPIC, 'topic'), body: EMPTY };
      if (flags & F_TAGS) m.tags = r.repeated(SLOT_TAGS, 'tags');
      if (flags & F_KEYS) m.keys = r.keys();
      if (flags & F_PROPS) m.properties = r.props();
      if (flags & F_DELAY) m.delayLevel = r.u32('delayLevel');
      if (flags & F_DELIVER_AT) m.deliverAt = r.u53('deliverAt');
      if (flags & F_SHARDING) m.shardingKey = r.str16('shardingKey');
      m.body = r.bytes('body');
      out.push(m);
    }
    finish(r, 'message batch');
    return out;
  });
}

/** Decodes a pull reply body. Throws MessageCodecError (BAD_FRAME) when malformed. */
export function decodeMessageExtBatch(bytes: Uint8Array, opts: DecodeOptions = {}): MessageExt[] {
  return guard('message ext batch', () => {
    const r = new Reader(bytes, opts.copyBodies ?? false);
    const count = readHeader(r, MESSAGE_EXT_BATCH_MAGIC, MESSAGE_EXT_BATCH_VERSION, 'message ext batch');
    const idPrefix = r.str16('msgId prefix');
    const batchStoreHost = r.str16('storeHost');
    if (count > bytes.length) throw bad(`message ext batch: count ${count} exceeds the body`);
    // derived ids are read out of one line (see HexLine) once every message is parsed
    const ids = new HexLine(idPrefix, 16, count);
    /** The messages whose msgId is derived, in order (the strings of `ids`). */
    const derived: number[] = [];
    const out: MessageExt[] = [];
    for (let i = 0; i < count; i++) {
      const flags = r.u8('flags');
      if ((flags & ~EXT_FLAGS) !== 0) throw bad(`message ${i}: unknown flags 0x${flags.toString(16)}`);
      const topic = r.repeated(SLOT_TOPIC, 'topic');
      const queueId = r.u32('queueId');
      const queueOffset = r.u53('queueOffset');
      const commitLogOffset = r.u53('commitLogOffset');
      const bornTimestamp = r.u53('bornTimestamp');
      const storeTimestamp = r.u53('storeTimestamp');
      const reconsumeTimes = r.u32('reconsumeTimes');
      let msgId = '';
      if (flags & EXT_FLAG_OWN_ID) msgId = r.str16('msgId');
      else {
        ids.add(commitLogOffset);
        derived.push(i);
      }
      const m: MessageExt = {
        msgId,
        topic,
        queueId,
        queueOffset,
        commitLogOffset,
        bornTimestamp,
        storeTimestamp,
        reconsumeTimes,
        bornHost: r.repeated(SLOT_BORN_HOST, 'bornHost'),
        storeHost: flags & EXT_FLAG_OWN_STORE_HOST ? r.repeated(SLOT_STORE_HOST, 'storeHost') : batchStoreHost,
        body: EMPTY,
      };
      if (flags & F_TAGS) m.tags = r.repeated(SLOT_TAGS, 'tags');
      if (flags & F_KEYS) m.keys = r.keys();
      if (flags & F_PROPS) m.properties = r.props();
      m.body = r.bytes('body');
      out.push(m);
    }
    finish(r, 'message ext batch');
    for (let k = 0; k < derived.length; k++) out[derived[k]!]!.msgId = ids.at(k);
    return out;
  });
}
