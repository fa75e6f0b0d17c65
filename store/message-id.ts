/**
 * Store-side message ids (RocketMQ style): the store host and the commit log offset, as uppercase hex, so a
 * message is found by id with one read on the right broker.
 *
 * - Host `a.b.c.d:port` (canonical IPv4 with first octet > 0, port 0..65535): 16 bytes, exactly RocketMQ's
 *   layout: 4 bytes IPv4, 4 bytes port, 8 bytes offset -> 32 hex characters.
 * - Any other host string (a broker's transport address is a name such as `broker.broker-a.0`): a 0x00 byte,
 *   a u8 length, the UTF-8 host (at most 255 bytes), 8 bytes offset -> 2 * (10 + length) hex characters. The
 *   leading zero byte (never a valid first IPv4 octet) tells the forms apart, so every host round-trips exactly.
 */

import { HEX_BYTES, hexDigit, readU32, writeU32 } from '../core/bytes.js';

export class MessageIdError extends Error {
  readonly code = 'EBADMSGID';
  constructor(message: string) {
    super(message);
    this.name = 'MessageIdError';
  }
}

const IPV4_PORT = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/;
const TWO_32 = 0x100000000;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function parseIpv4(host: string): number[] | undefined {
  const m = IPV4_PORT.exec(host);
  if (m === null) return undefined;
  const parts = m.slice(1).map(Number);
  const canonical = `${parts[0]}.${parts[1]}.${parts[2]}.${parts[3]}:${parts[4]}`;
  if (canonical !== host) return undefined;
  if (parts[0]! === 0 || parts.slice(0, 4).some((p) => p > 255) || parts[4]! > 65535) return undefined;
  return parts;
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16);
  return s.toUpperCase();
}

export function encodeMessageId(storeHost: string, commitLogOffset: number): string {
  if (!Number.isSafeInteger(commitLogOffset) || commitLogOffset < 0) {
    throw new MessageIdError(`commit log offset ${commitLogOffset} is not a safe non-negative integer`);
  }
  const ip = parseIpv4(storeHost);
  let bytes: Uint8Array;
  let at: number;
  if (ip !== undefined) {
    bytes = new Uint8Array(16);
    bytes.set(ip.slice(0, 4), 0);
    writeU32(bytes, 4, ip[4]!);
    at = 8;
  } else {
    const h = encoder.encode(storeHost);
    if (h.length > 255) throw new MessageIdError(`store host is ${h.length} bytes (at most 255)`);
    bytes = new Uint8Array(10 + h.length);
    bytes[1] = h.length;
    bytes.set(h, 2);
    at = 2 + h.length;
  }
  const hi = Math.floor(commitLogOffset / TWO_32);
  writeU32(bytes, at, hi);
  writeU32(bytes, at + 4, commitLogOffset - hi * TWO_32);
  return hex(bytes);
}

export function decodeMessageId(id: string): { storeHost: string; commitLogOffset: number } {
  const bad = (why: string) => new MessageIdError(`malformed message id ${JSON.stringify(id.slice(0, 80))}: ${why}`);
  if (typeof id !== 'string' || id.length === 0 || id.length % 2 !== 0) throw bad('expected an even number of hex digits');
  const bytes = new Uint8Array(id.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    const hi = hexDigit(id.charCodeAt(2 * i));
    const lo = hexDigit(id.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw bad('expected an even number of hex digits');
    bytes[i] = (hi << 4) | lo;
  }
  let storeHost: string;
  let at: number;
  if (bytes.length >= 1 && bytes[0] !== 0) {
    if (bytes.length !== 16) throw bad(`an IPv4 id has 16 bytes, not ${bytes.length}`);
    const port = readU32(bytes, 4);
    if (port > 65535) throw bad(`port ${port}`);
    storeHost = `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}:${port}`;
    at = 8;
  } else {
    if (bytes.length < 10) throw bad('too short');
    const len = bytes[1]!;
    if (bytes.length !== 10 + len) throw bad(`host length ${len} does not match the id length`);
    try {
      storeHost = decoder.decode(bytes.subarray(2, 2 + len));
    } catch {
      throw bad('host is not UTF-8');
    }
    at = 2 + len;
  }
  const hi = readU32(bytes, at);
  if (hi > 0x1fffff) throw bad('offset beyond 2^53');
  return { storeHost, commitLogOffset: hi * TWO_32 + readU32(bytes, at + 4) };
}

/** The part of every id of `storeHost` before the offset's 16 hex digits. */
export function messageIdPrefix(storeHost: string): string {
  return encodeMessageId(storeHost, 0).slice(0, -16);
}

let hexShort: string[] | undefined;

/** Upper-case hex of a u16, 4 digits (a 64 Ki-entry table, built on first use). */
function hexU16(v: number): string {
  hexShort ??= Array.from({ length: 65536 }, (_, x) => HEX_BYTES[x >>> 8]! + HEX_BYTES[x & 0xff]!);
  return hexShort[v]!;
}

/**
 * encodeMessageId for one store host, fast: the host part (and the offset's high half while it stays the
 * same) is encoded once; per message only the low 32 bits of the offset become 8 hex digits (an id ends with
 * the offset as a big-endian u64).
 */
export function messageIdEncoder(storeHost: string): (commitLogOffset: number) => string {
  const prefix = messageIdPrefix(storeHost);
  // Everything but the last 4 hex digits, kept while it stays the same (64 KiB of commit log).
  let top = -1;
  let topPrefix = '';
  return (offset: number): string => {
    if (!Number.isSafeInteger(offset) || offset < 0) return encodeMessageId(storeHost, offset); // throws the usual error
    const t = Math.floor(offset / 0x10000);
    if (t !== top) {
      top = t;
      const hi = Math.floor(offset / 0x100000000);
      topPrefix = prefix + hexU16(hi >>> 16) + hexU16(hi & 0xffff) + hexU16(t & 0xffff);
    }
    return topPrefix + hexU16(offset - t * 0x10000);
  };
}
