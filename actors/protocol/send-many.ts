import { readU16, readU32, sameBytes, utf8Length, writeU16, writeU32 } from '../../core/bytes.js';
import { Status, StatusError } from '../../core/status.js';
import { readUtf8 } from '../../core/utf8-strings.js';
import { UNIQ_PREFIX_LENGTH } from './uniq-keys.js';

/**
 * SEND_MANY (ours): the batches a producer's turn made for several queues of one broker, in one request, as
 * Kafka's produce request carries batches for many partitions. A producer sending to a thousand topics makes
 * one request per broker and turn instead of one per topic. Pure codecs, big-endian.
 *
 * Request header: producerGroup, bornHost, bornTimestamp (as SEND_BATCH_MESSAGE). Request body: u16 part count
 * (1 to MAX_SEND_PARTS), then per part: u16 topic length, the topic (UTF-8), u32 queue id, the batch's unique
 * key run (its 24-digit hex prefix, ASCII, and u32 the first number; see uniq-keys.ts), u32 batch length, the
 * batch (encodeMessageBatch).
 *
 * Reply body: u16 part count, then per part in request order: u16 status, u32 length, and that many bytes: the
 * send reply (send-reply.ts) when the part was stored (status OK, or stored with a warning such as
 * FLUSH_DISK_TIMEOUT), else the error message (UTF-8). Each part succeeds or fails on its own.
 */

/** Parts of one SEND_MANY request at most. */
export const MAX_SEND_PARTS = 4096;

export interface SendPart {
  topic: string;
  queueId: number;
  uniqPrefix: string;
  uniqFirst: number;
  /** The batch, encodeMessageBatch (a view into the request body when decoded). */
  batch: Uint8Array;
}

export interface SendPartReply {
  status: number;
  /** The send reply (stored) or the error message's bytes. */
  body: Uint8Array;
}

const encoder = new TextEncoder();
const ASCII_PREFIX = /^[0-9A-F]{24}$/;

function bad(message: string): StatusError {
  return new StatusError(Status.BAD_FRAME, `SEND_MANY: ${message}`);
}

function checkCount(n: number): void {
  if (n < 1 || n > MAX_SEND_PARTS) throw bad(`holds 1 to ${MAX_SEND_PARTS} parts, got ${n}`);
}

/** Bytes a part for `topic` adds to a SEND_MANY body besides its batch. */
export function sendPartOverhead(topic: string): number {
  return 2 + utf8Length(topic) + 4 + UNIQ_PREFIX_LENGTH + 4 + 4;
}

export function encodeSendMany(parts: readonly SendPart[]): Uint8Array {
  checkCount(parts.length);
  let size = 2;
  for (const p of parts) {
    if (!ASCII_PREFIX.test(p.uniqPrefix)) throw new RangeError(`unique key prefix must be ${UNIQ_PREFIX_LENGTH} uppercase hex digits`);
    size += sendPartOverhead(p.topic) + p.batch.length;
  }
  const out = new Uint8Array(size);
  writeU16(out, 0, parts.length);
  let q = 2;
  for (const p of parts) {
    const topic = encoder.encode(p.topic);
    if (topic.length > 0xffff) throw new RangeError(`topic of ${topic.length} bytes`);
    writeU16(out, q, topic.length);
    out.set(topic, q + 2);
    q += 2 + topic.length;
    writeU32(out, q, p.queueId);
    q += 4;
    for (let i = 0; i < UNIQ_PREFIX_LENGTH; i++) out[q + i] = p.uniqPrefix.charCodeAt(i);
    q += UNIQ_PREFIX_LENGTH;
    writeU32(out, q, p.uniqFirst);
    writeU32(out, q + 4, p.batch.length);
    out.set(p.batch, q + 8);
    q += 8 + p.batch.length;
  }
  return out;
}

/** The parts of a SEND_MANY body; StatusError(BAD_FRAME) when any length or field is out of bounds. */
export function decodeSendMany(body: Uint8Array): SendPart[] {
  if (body.length < 2) throw bad('body is cut short');
  const n = readU16(body, 0);
  checkCount(n);
  const parts: SendPart[] = new Array<SendPart>(n);
  let q = 2;
  let lastPrefix = '';
  let lastPrefixAt = -1;
  for (let k = 0; k < n; k++) {
    if (q + 2 > body.length) throw bad(`part ${k} is cut short`);
    const topicLen = readU16(body, q);
    const fixed = q + 2 + topicLen + 4 + UNIQ_PREFIX_LENGTH + 8;
    if (fixed > body.length) throw bad(`part ${k} is cut short`);
    const topic = readUtf8(body, q + 2, q + 2 + topicLen);
    if (topic === undefined) throw bad(`part ${k}: topic is not UTF-8`);
    q += 2 + topicLen;
    const queueId = readU32(body, q);
    q += 4;
    // the parts of a request share their producer's prefix, as a rule: read and checked once while it repeats
    if (lastPrefixAt < 0 || !sameBytes(body, lastPrefixAt, body, q, UNIQ_PREFIX_LENGTH)) {
      lastPrefix = '';
      for (let i = 0; i < UNIQ_PREFIX_LENGTH; i++) lastPrefix += String.fromCharCode(body[q + i]!);
      if (!ASCII_PREFIX.test(lastPrefix)) throw bad(`part ${k}: unique key prefix must be ${UNIQ_PREFIX_LENGTH} uppercase hex digits`);
      lastPrefixAt = q;
    }
    const uniqPrefix = lastPrefix;
    q += UNIQ_PREFIX_LENGTH;
    const uniqFirst = readU32(body, q);
    const len = readU32(body, q + 4);
    q += 8;
    if (q + len > body.length) throw bad(`part ${k} says ${len} batch bytes, ${body.length - q} remain`);
    parts[k] = { topic, queueId, uniqPrefix, uniqFirst, batch: body.subarray(q, q + len) };
    q += len;
  }
  if (q !== body.length) throw bad(`${body.length - q} bytes after the last part`);
  return parts;
}

export function encodeSendManyReply(parts: readonly SendPartReply[]): Uint8Array {
  let size = 2;
  for (const p of parts) size += 6 + p.body.length;
  const out = new Uint8Array(size);
  writeU16(out, 0, parts.length);
  let q = 2;
  for (const p of parts) {
    writeU16(out, q, p.status);
    writeU32(out, q + 2, p.body.length);
    out.set(p.body, q + 6);
    q += 6 + p.body.length;
  }
  return out;
}

/** The parts of a SEND_MANY reply, `expected` of them; StatusError(BAD_FRAME) when malformed. */
export function decodeSendManyReply(body: Uint8Array, expected: number): SendPartReply[] {
  if (body.length < 2 || readU16(body, 0) !== expected) throw bad(`reply does not hold ${expected} parts`);
  const out: SendPartReply[] = new Array<SendPartReply>(expected);
  let q = 2;
  for (let k = 0; k < expected; k++) {
    if (q + 6 > body.length) throw bad(`reply part ${k} is cut short`);
    const status = readU16(body, q);
    const len = readU32(body, q + 2);
    q += 6;
    if (q + len > body.length) throw bad(`reply part ${k} is cut short`);
    out[k] = { status, body: body.subarray(q, q + len) };
    q += len;
  }
  if (q !== body.length) throw bad(`${body.length - q} bytes after the last reply part`);
  return out;
}
