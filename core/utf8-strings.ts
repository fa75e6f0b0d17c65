/**
 * UTF-8 bytes to strings for decoders on the hot path (frame headers, records, the dispatcher's keys).
 *
 * Short ASCII strings go through a direct-mapped cache keyed by a hash of their bytes: header keys, topics, groups,
 * hosts, property names and tags repeat from frame to frame and record to record, so a decode usually returns the
 * string it built before and allocates nothing. A miss builds the string in one call; building it a character at
 * a time, as the decoders once did, made a string per character (about 3.6 KB of garbage per send request's
 * header, the largest share of what a broker allocated per message).
 */

import { sameBytes } from './bytes.js';

const SLOTS = 1024;
/** Strings up to this many bytes are cached. */
export const CACHED_MAX = 48;
const cacheBytes = new Uint8Array(SLOTS * CACHED_MAX);
const cacheLen = new Int32Array(SLOTS).fill(-1);
const cacheStr: string[] = new Array<string>(SLOTS).fill('');

// ignoreBOM: a leading U+FEFF is part of the string, not a marker to drop (decoding returns what was encoded)
const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** UTF-8 `buf[start, end)` as a string; undefined when the bytes are not valid UTF-8. */
export function readUtf8(buf: Uint8Array, start: number, end: number): string | undefined {
  const len = end - start;
  if (len <= 0) return '';
  let h = len;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b >= 0x80) return decodeOther(buf, start, end);
    h = (Math.imul(h, 31) + b) | 0;
  }
  if (len > CACHED_MAX) return Buffer.from(buf.buffer, buf.byteOffset + start, len).toString('latin1');
  const slot = (h ^ (h >>> 13)) & (SLOTS - 1);
  const at = slot * CACHED_MAX;
  if (cacheLen[slot] === len && sameBytes(cacheBytes, at, buf, start, len)) return cacheStr[slot];
  const view = buf.subarray(start, end);
  const s = String.fromCharCode.apply(null, view as unknown as number[]);
  cacheBytes.set(view, at);
  cacheLen[slot] = len;
  cacheStr[slot] = s;
  return s;
}

function decodeOther(buf: Uint8Array, start: number, end: number): string | undefined {
  try {
    return fatalDecoder.decode(buf.subarray(start, end));
  } catch {
    return undefined;
  }
}
