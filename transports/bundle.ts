/**
 * A bundle: frames sent one way to one NATS subject in one turn of the event loop, carried as one NATS message
 * (the NATS client's cost is per message: a publish encodes its protocol line, a receipt parses one, whatever
 * the payload's size).
 *
 * ```
 * offset size  field
 * 0      1     magic 0xAB (a frame starts with 0xAC)
 * 1      1     version 1
 * 2      ...   entries: frame length uint32 (big-endian) + the frame's bytes (transports/codec.ts), at least two
 * ```
 *
 * `readBundle` checks every length before it returns anything, so a bundle that lies delivers no frame.
 */
import { readU32, writeU32 } from '../core/bytes.js';
import { CodecError } from './codec.js';

export const BUNDLE_MAGIC = 0xab;
export const BUNDLE_VERSION = 1;
/** Bytes before the first entry. */
export const BUNDLE_HEAD = 2;
/** Bytes of an entry's length field. */
export const BUNDLE_ENTRY = 4;

/** The size of a bundle of `count` frames of `bytes` bytes in all. */
export function bundleSize(count: number, bytes: number): number {
  return BUNDLE_HEAD + count * BUNDLE_ENTRY + bytes;
}

/** Whether a NATS message's payload is a bundle (else it is a frame, or garbage for decodeFrame to refuse). */
export function isBundle(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] === BUNDLE_MAGIC;
}

/** The bundle of `frames` (their lengths add up to `bytes`). */
export function encodeBundle(frames: readonly Uint8Array[], bytes: number): Uint8Array {
  const out = new Uint8Array(bundleSize(frames.length, bytes));
  out[0] = BUNDLE_MAGIC;
  out[1] = BUNDLE_VERSION;
  let at = BUNDLE_HEAD;
  for (const f of frames) {
    writeU32(out, at, f.length);
    out.set(f, at + BUNDLE_ENTRY);
    at += BUNDLE_ENTRY + f.length;
  }
  return out;
}

/** The frames of a bundle, as views into it. Throws CodecError, and nothing else, when it is malformed. */
export function readBundle(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length < BUNDLE_HEAD || bytes[0] !== BUNDLE_MAGIC) throw new CodecError('not a bundle');
  if (bytes[1] !== BUNDLE_VERSION) throw new CodecError(`unsupported bundle version ${bytes[1]}`);
  const out: Uint8Array[] = [];
  let at = BUNDLE_HEAD;
  while (at < bytes.length) {
    if (bytes.length - at < BUNDLE_ENTRY) throw new CodecError(`bundle entry ${out.length}: its length is cut short`);
    const len = readU32(bytes, at);
    at += BUNDLE_ENTRY;
    if (len > bytes.length - at) throw new CodecError(`bundle entry ${out.length}: ${len} bytes, ${bytes.length - at} left`);
    out.push(bytes.subarray(at, at + len));
    at += len;
  }
  if (out.length < 2) throw new CodecError(`a bundle of ${out.length} frame(s): a bundle carries at least two`);
  return out;
}
