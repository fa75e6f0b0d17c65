import type { Message, MessageExt } from './message.js';

/**
 * Compact binary codec for the data path: a batch of `Message` (send batch body) and a batch of `MessageExt`
 * (pull reply body). Bodies are copied as raw bytes; the encoder computes the exact size first and allocates
 * one output buffer per batch. The decoder checks every length against the bytes it has and throws
 * `MessageCodecError` (code BAD_FRAME) for anything malformed, never another error.
 *
 * Layout (big-endian). Batch: magic u16, version u8, count u32, then `count` records, nothing after.
 *   str16 = u16 byte length + UTF-8; str32 = u32 byte length + UTF-8; u53 = u32 high + u32 low (exact
 *   non-negative safe integer); keys = u16 count + str16 each; props = u16 count + (str16 name, str32 value).
 * Message record: flags u8 (1 tags, 2 keys, 4 props, 8 delayLevel, 16 deliverAt, 32 shardingKey),
 *   topic str16, [tags str16], [keys], [props], [delayLevel u32], [deliverAt u53], [shardingKey str16],
 *   body u32 length + bytes.
 * MessageExt record: flags u8 (1 tags, 2 keys, 4 props), msgId str16, topic str16, queueId u32,
 *   queueOffset u53, commitLogOffset u53, bornTimestamp u53, storeTimestamp u53, reconsumeTimes u32,
 *   bornHost str16, storeHost str16, [tags str16], [keys], [props], body u32 length + bytes.
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
export const MESSAGE_EXT_BATCH_MAGIC = 0x4d58; // 'MX'
export const MESSAGE_CODEC_VERSION = 1;

const HEADER_SIZE = 7;
const F_TAGS = 1;
const F_KEYS = 2;
const F_PROPS = 4;
const F_DELAY = 8;
const F_DELIVER_AT = 16;
const F_SHARDING = 32;
const MSG_FLAGS = F_TAGS | F_KEYS | F_PROPS | F_DELAY | F_DELIVER_AT | F_SHARDING;
const EXT_FLAGS = F_TAGS | F_KEYS | F_PROPS;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
const TWO_32 = 0x1_0000_0000;

const EMPTY = new Uint8Array(0);
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export interface DecodeOptions {
  /** Copy each body out of the input (default false: bodies are views into the input bytes). */
  copyBodies?: boolean;
}

// ---------------------------------------------------------------- sizes

/** Bytes `s` takes in UTF-8 (lone surrogates count as U+FFFD, as TextEncoder writes them). */
export function utf8Length(s: string): number {
  let n = 0;
  const len = s.length;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

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

/** Encoded size of one MessageExt record. */
export function encodedMessageExtSize(m: MessageExt): number {
  checkU32(m.queueId, 'queueId');
  checkU53(m.queueOffset, 'queueOffset');
  checkU53(m.commitLogOffset, 'commitLogOffset');
  checkU53(m.bornTimestamp, 'bornTimestamp');
  checkU53(m.storeTimestamp, 'storeTimestamp');
  checkU32(m.reconsumeTimes, 'reconsumeTimes');
  let n = 1 + str16Size(m.msgId, 'msgId') + str16Size(m.topic, 'topic') + 4 + 8 * 4 + 4;
  n += str16Size(m.bornHost, 'bornHost') + str16Size(m.storeHost, 'storeHost');
  if (m.tags !== undefined) n += str16Size(m.tags, 'tags');
  if (m.keys !== undefined) n += keysSize(m.keys);
  if (m.properties !== undefined) n += propsSize(m.properties);
  return n + bodySize(m.body);
}

// ---------------------------------------------------------------- writer

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
  /** Writes UTF-8 of `s` (its length already known) at pos. */
  private text(s: string, n: number): void {
    const out = this.out;
    if (n === s.length) {
      // ASCII: byte length equals code unit count
      let p = this.pos;
      for (let i = 0; i < n; i++) out[p++] = s.charCodeAt(i);
    } else {
      textEncoder.encodeInto(s, out.subarray(this.pos, this.pos + n));
    }
    this.pos += n;
  }
  str16(s: string): void {
    const n = utf8Length(s);
    this.u16(n);
    this.text(s, n);
  }
  str32(s: string): void {
    const n = utf8Length(s);
    this.u32(n);
    this.text(s, n);
  }
  keys(keys: readonly string[]): void {
    this.u16(keys.length);
    for (const k of keys) this.str16(k);
  }
  props(props: Record<string, string>): void {
    const names = Object.keys(props);
    this.u16(names.length);
    for (const k of names) {
      this.str16(k);
      this.str32(props[k]!);
    }
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.out.set(b, this.pos);
    this.pos += b.length;
  }
}

function header(w: Writer, magic: number, count: number): void {
  w.u16(magic);
  w.u8(MESSAGE_CODEC_VERSION);
  w.u32(count);
}

/** Encodes a batch of messages into one buffer (the send batch body). */
export function encodeMessageBatch(msgs: readonly Message[]): Uint8Array {
  let size = HEADER_SIZE;
  for (const m of msgs) size += encodedMessageSize(m);
  const w = new Writer(new Uint8Array(size));
  header(w, MESSAGE_BATCH_MAGIC, msgs.length);
  for (const m of msgs) {
    let flags = 0;
    if (m.tags !== undefined) flags |= F_TAGS;
    if (m.keys !== undefined) flags |= F_KEYS;
    if (m.properties !== undefined) flags |= F_PROPS;
    if (m.delayLevel !== undefined) flags |= F_DELAY;
    if (m.deliverAt !== undefined) flags |= F_DELIVER_AT;
    if (m.shardingKey !== undefined) flags |= F_SHARDING;
    w.u8(flags);
    w.str16(m.topic);
    if (m.tags !== undefined) w.str16(m.tags);
    if (m.keys !== undefined) w.keys(m.keys);
    if (m.properties !== undefined) w.props(m.properties);
    if (m.delayLevel !== undefined) w.u32(m.delayLevel);
    if (m.deliverAt !== undefined) w.u53(m.deliverAt);
    if (m.shardingKey !== undefined) w.str16(m.shardingKey);
    w.bytes(m.body);
  }
  return w.out;
}

/** Encodes a batch of consumed messages into one buffer (the pull reply body). */
export function encodeMessageExtBatch(msgs: readonly MessageExt[]): Uint8Array {
  let size = HEADER_SIZE;
  for (const m of msgs) size += encodedMessageExtSize(m);
  const w = new Writer(new Uint8Array(size));
  header(w, MESSAGE_EXT_BATCH_MAGIC, msgs.length);
  for (const m of msgs) {
    let flags = 0;
    if (m.tags !== undefined) flags |= F_TAGS;
    if (m.keys !== undefined) flags |= F_KEYS;
    if (m.properties !== undefined) flags |= F_PROPS;
    w.u8(flags);
    w.str16(m.msgId);
    w.str16(m.topic);
    w.u32(m.queueId);
    w.u53(m.queueOffset);
    w.u53(m.commitLogOffset);
    w.u53(m.bornTimestamp);
    w.u53(m.storeTimestamp);
    w.u32(m.reconsumeTimes);
    w.str16(m.bornHost);
    w.str16(m.storeHost);
    if (m.tags !== undefined) w.str16(m.tags);
    if (m.keys !== undefined) w.keys(m.keys);
    if (m.properties !== undefined) w.props(m.properties);
    w.bytes(m.body);
  }
  return w.out;
}

// ---------------------------------------------------------------- reader

function bad(message: string): MessageCodecError {
  return new MessageCodecError('BAD_FRAME', message);
}

class Reader {
  pos = 0;
  readonly view: DataView;
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
    this.pos += n;
    if (n <= 64) {
      let s = '';
      let ascii = true;
      for (let i = start; i < start + n; i++) {
        const c = buf[i]!;
        if (c >= 0x80) {
          ascii = false;
          break;
        }
        s += String.fromCharCode(c);
      }
      if (ascii) return s;
    }
    try {
      return textDecoder.decode(buf.subarray(start, start + n));
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
      const k = this.str16('property name');
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

function readHeader(r: Reader, magic: number, what: string): number {
  if (!(r.buf instanceof Uint8Array)) throw bad(`${what}: input is not bytes`);
  const m = r.u16('magic');
  if (m !== magic) throw bad(`${what}: bad magic 0x${m.toString(16)}, expected 0x${magic.toString(16)}`);
  const v = r.u8('version');
  if (v !== MESSAGE_CODEC_VERSION) throw bad(`${what}: unsupported version ${v}`);
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
    const count = readHeader(r, MESSAGE_BATCH_MAGIC, 'message batch');
    const out: Message[] = [];
    for (let i = 0; i < count; i++) {
      const flags = r.u8('flags');
      if ((flags & ~MSG_FLAGS) !== 0) throw bad(`message ${i}: unknown flags 0x${flags.toString(16)}`);
      const m: Message = { topic: r.str16('topic'), body: EMPTY };
      if (flags & F_TAGS) m.tags = r.str16('tags');
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
    const count = readHeader(r, MESSAGE_EXT_BATCH_MAGIC, 'message ext batch');
    const out: MessageExt[] = [];
    for (let i = 0; i < count; i++) {
      const flags = r.u8('flags');
      if ((flags & ~EXT_FLAGS) !== 0) throw bad(`message ${i}: unknown flags 0x${flags.toString(16)}`);
      const m: MessageExt = {
        msgId: r.str16('msgId'),
        topic: r.str16('topic'),
        queueId: r.u32('queueId'),
        queueOffset: r.u53('queueOffset'),
        commitLogOffset: r.u53('commitLogOffset'),
        bornTimestamp: r.u53('bornTimestamp'),
        storeTimestamp: r.u53('storeTimestamp'),
        reconsumeTimes: r.u32('reconsumeTimes'),
        bornHost: r.str16('bornHost'),
        storeHost: r.str16('storeHost'),
        body: EMPTY,
      };
      if (flags & F_TAGS) m.tags = r.str16('tags');
      if (flags & F_KEYS) m.keys = r.keys();
      if (flags & F_PROPS) m.properties = r.props();
      m.body = r.bytes('body');
      out.push(m);
    }
    finish(r, 'message ext batch');
    return out;
  });
}
