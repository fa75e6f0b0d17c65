import { HEX_BYTES } from '../../core/bytes.js';
import { HexLine } from '../../core/hex-line.js';
import type { RandomSource } from '../../core/random.js';
import { Status, StatusError } from '../../core/status.js';

/**
 * Unique keys (RocketMQ's UNIQ_KEY, the msgId of its send result) as producers and brokers make them: 32 hex
 * digits, 96 random bits (24 hex digits) drawn once per 2^24 keys, then a 32-bit counter (8 hex digits). A
 * batch takes its keys in a row under one prefix, so it travels as a run: the prefix and the first number;
 * message i of the batch has the number first + i.
 *
 * The producer draws a batch's run once and sends it with the batch as the request headers `uniqPrefix` and
 * `uniqFirst` (every attempt of the batch sends the same run, so a retried message keeps its key); the broker
 * takes the request's run, or draws one itself for a request without it.
 */

/** Hex digits of a unique key's random prefix. */
export const UNIQ_PREFIX_LENGTH = 24;
/** Keys drawn from one random prefix before a new prefix is drawn. */
export const UNIQ_PREFIX_KEYS = 1 << 24;
/** Request header: the batch's unique key prefix (24 uppercase hex digits). */
export const UNIQ_PREFIX_HEADER = 'uniqPrefix';
/** Request header: the number of the batch's first message's key (message i: uniqFirst + i). */
export const UNIQ_FIRST_HEADER = 'uniqFirst';

const TWO_32 = 0x1_0000_0000;

/**
 * Unique keys of a whole batch drawn in a row from one counter: message i's key is `prefix` (24 hex digits)
 * followed by the 8 hex digits of `first + i`.
 */
export interface UniqKeyRun {
  prefix: string;
  first: number;
}

/** `prefix` followed by the 8 uppercase hex digits of u32 `seq`. */
export function runKey(prefix: string, seq: number): string {
  return prefix + (seq >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX_BYTES[bytes[i]!];
  return s;
}

/** Unique keys: a random prefix per `prefixKeys` keys and a counter; batches take keys in a row. */
export class UniqKeys {
  private prefix = '';
  private next = 0;
  private left = 0;

  /** `prefixKeys`: keys drawn under one prefix (2^24; fewer in tests). */
  constructor(
    private readonly random: RandomSource,
    private readonly prefixKeys = UNIQ_PREFIX_KEYS,
  ) {}

  /** `count` keys in a row under one prefix. */
  take(count: number): UniqKeyBatch {
    if (!Number.isInteger(count) || count < 0 || count > this.prefixKeys) throw new RangeError(`cannot take ${count} unique keys at once`);
    if (count > this.left) {
      this.prefix = Buffer.from(hex(this.random.bytes(UNIQ_PREFIX_LENGTH / 2)), 'latin1').toString('latin1'); // one flat string
      this.next = 0;
      this.left = this.prefixKeys;
    }
    const batch = new UniqKeyBatch(this.prefix, this.next, count);
    this.next += count;
    this.left -= count;
    return batch;
  }
}

/** The keys one batch took: message i's is `prefix` followed by the 8 hex digits of first + i (i < count). */
export class UniqKeyBatch implements UniqKeyRun {
  constructor(
    readonly prefix: string,
    readonly first: number,
    readonly count: number,
  ) {}

  /** The number of message i's key (a RangeError past `count`). */
  seqAt(i: number): number {
    if (!(i >= 0 && i < this.count)) throw new RangeError(`this batch has ${this.count} unique keys, not a key ${i}`);
    return this.first + i;
  }

  /** Message i's key as a string. */
  keyAt(i: number): string {
    return runKey(this.prefix, this.seqAt(i));
  }

  /**
   * Every key of the batch, as one read-once line (HexLine): `line.at(i)` is message i's key. One string
   * for the whole batch, each key a slice of it.
   */
  line(): HexLine {
    const line = new HexLine(this.prefix, 8, this.count);
    for (let i = 0; i < this.count; i++) line.add(this.first + i);
    return line;
  }

  /** The request headers that carry this run. */
  header(): { uniqPrefix: string; uniqFirst: number } {
    return { uniqPrefix: this.prefix, uniqFirst: this.first };
  }
}

const shared = new WeakMap<RandomSource, UniqKeys>();

/** One UniqKeys per random source, shared by every batch (deterministic for a seeded source). */
export function sharedUniqKeys(random: RandomSource): UniqKeys {
  let s = shared.get(random);
  if (s === undefined) shared.set(random, (s = new UniqKeys(random)));
  return s;
}

/** Whether `s` is 24 uppercase hex digits. */
function isUniqPrefix(s: string): boolean {
  if (s.length !== UNIQ_PREFIX_LENGTH) return false;
  for (let i = 0; i < UNIQ_PREFIX_LENGTH; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70))) return false;
  }
  return true;
}

/**
 * What is wrong with a request's run headers for a batch of `count` messages, or undefined: both or neither
 * given, the prefix 24 uppercase hex digits, the first number an integer with first + count - 1 a u32 (no key
 * of the batch wraps around onto another).
 */
export function uniqRunProblem(prefix: unknown, first: unknown, count: number): string | undefined {
  if (prefix === undefined && first === undefined) return undefined;
  if (prefix === undefined || first === undefined) return `headers "${UNIQ_PREFIX_HEADER}" and "${UNIQ_FIRST_HEADER}" go together`;
  if (typeof prefix !== 'string' || !isUniqPrefix(prefix)) return `header "${UNIQ_PREFIX_HEADER}" must be ${UNIQ_PREFIX_LENGTH} uppercase hex digits`;
  if (typeof first !== 'number' || !Number.isInteger(first) || first < 0 || first + count > TWO_32)
    return `header "${UNIQ_FIRST_HEADER}" must be an integer from 0 to ${TWO_32 - count} for a batch of ${count}, got ${String(first)}`;
  return undefined;
}

/**
 * The unique keys a SEND_MESSAGE / SEND_BATCH_MESSAGE request carries for its `count` messages, or undefined
 * when it carries none; StatusError(BAD_FRAME) when its headers are malformed (uniqRunProblem).
 */
export function requestUniqRun(header: Readonly<Record<string, unknown>>, count: number): UniqKeyBatch | undefined {
  const prefix = header[UNIQ_PREFIX_HEADER];
  const first = header[UNIQ_FIRST_HEADER];
  if (prefix === undefined && first === undefined) return undefined;
  const problem = uniqRunProblem(prefix, first, count);
  if (problem !== undefined) throw new StatusError(Status.BAD_FRAME, problem);
  return new UniqKeyBatch(prefix as string, first as number, count);
}
