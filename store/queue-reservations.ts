/**
 * Serving written data before its flush (`visibility: 'written'`) without ever handing out a queue offset twice.
 *
 * With async flush a power loss takes back what was written after the last flush. When consumers saw only flushed
 * data that cost nothing beyond the acknowledged messages themselves. When they see written data, a consumer may
 * have read (and committed) queue offsets that recovery would otherwise give to new messages. So each queue has a
 * durable reservation: a queue offset below which offsets may have been served. A write whose messages stay below
 * their queues' reservations may be served at once; one that goes past waits until a bigger reservation is on
 * storage (one append and fsync for every queue that asked meanwhile) or until its own flush, whichever comes
 * first. Recovery after a crash moves each queue to at least its reservation, the numbers between left blank, so
 * a number someone may have seen is never given to another message.
 *
 * The journal (`<storeDir>/reservations`) is a sequence of entries, big-endian: crc u32 (CRC-32 of the rest of
 * the entry), key length u16, the key (UTF-8 `topic#queueId`), reserved u64. The last entry of a key wins. A torn
 * or corrupt entry ends the journal (what follows it is ignored: its fsync never completed, or it is cut
 * before the next append). When the journal holds four times as many entries as keys, it is rewritten whole
 * (a temp file and a rename).
 *
 * How far ahead a queue reserves adapts to its rate: 64 offsets at first, doubled when it asks again within a
 * second, halved when it asks after ten, within a budget for all queues together, so that the blank entries a
 * crash leaves stay small (20 bytes each). A queue asks for its next span once it has used half of the current
 * one, while its writes are still served at once: at a steady rate no write waits for the journal's fsync (one
 * that did made every write behind it wait too, a few milliseconds of every second at 1,000 msgs/s).
 */
import type { Logger } from 'pino';
import { readU16, readU64, utf8Length, writeU16, writeU64 } from '../core/bytes.js';
import type { Clock } from '../core/clock.js';
import { readUtf8 } from '../core/utf8-strings.js';
import type { StorageBackend, StorageFile } from './backend.js';
import { writeFileAtomic } from './checkpoint.js';
import { crc32Table } from './record.js';

export const RESERVATIONS_FILE = 'reservations';
export const MIN_SPAN = 64;
export const MAX_SPAN = 65_536;
/** The sum of every queue's span stays below this (blank entries a crash can leave, 20 bytes each). */
export const SPAN_BUDGET = 1 << 21;
const HEAD = 4 + 2;
const MAX_KEY_BYTES = 0xffff;

const encoder = new TextEncoder();

/** Journal entries for `entries`, back to back. */
export function encodeReservations(entries: Iterable<readonly [string, number]>): Uint8Array {
  const list = [...entries];
  let size = 0;
  for (const [k] of list) size += HEAD + utf8Length(k) + 8;
  const buf = new Uint8Array(size);
  let p = 0;
  for (const [k, v] of list) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`reservation of ${k} is ${v}, not a safe u64`);
    const start = p;
    p += 4;
    const key = encoder.encode(k);
    if (key.length > MAX_KEY_BYTES) throw new RangeError(`queue key of ${key.length} bytes`);
    writeU16(buf, p, key.length);
    buf.set(key, p + 2);
    p += 2 + key.length;
    writeU64(buf, p, v);
    p += 8;
    new DataView(buf.buffer, buf.byteOffset).setUint32(start, crc32Table(buf, start + 4, p));
  }
  return buf;
}

/**
 * The reservations a journal holds (the highest of each key) and the length of its intact prefix: reading stops at
 * the first entry that is cut short or whose CRC fails.
 */
export function decodeReservations(buf: Uint8Array): { reserved: Map<string, number>; entries: number; intact: number } {
  const reserved = new Map<string, number>();
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  let p = 0;
  let entries = 0;
  while (p + HEAD <= buf.length) {
    const len = readU16(buf, p + 4);
    const end = p + HEAD + len + 8;
    if (end > buf.length || view.getUint32(p) !== crc32Table(buf, p + 4, end)) break;
    const key = readUtf8(buf, p + HEAD, p + HEAD + len);
    if (key === undefined) break;
    const v = readU64(buf, p + HEAD + len);
    if (!Number.isSafeInteger(v)) break;
    if (v > (reserved.get(key) ?? -1)) reserved.set(key, v);
    entries++;
    p = end;
  }
  return { reserved, entries, intact: p };
}

/**
 * The next span of a queue that asks again `sinceMs` after its last ask (undefined: its first), within what the
 * budget has left (`free`, the budget minus every other queue's span).
 */
export function nextSpan(span: number | undefined, sinceMs: number | undefined, free: number): number {
  let s = span ?? MIN_SPAN;
  if (span !== undefined && sinceMs !== undefined) {
    if (sinceMs < 1000) s = Math.min(MAX_SPAN, s * 2);
    else if (sinceMs > 10_000) s = Math.max(MIN_SPAN, s / 2);
  }
  return Math.max(MIN_SPAN, Math.min(s, free));
}

export interface QueueReservationsOptions {
  storage: StorageBackend;
  dir: string;
  clock: Clock;
  logger: Logger;
  /** Told each time the covered offset moves. */
  onCovered: () => void;
}

interface Pending {
  end: number;
  updates: ReadonlyMap<string, number>;
}

/**
 * The reservations of an open store: the commit log reports each write (`written`), and `covered` is the commit
 * log offset up to which every written message is below its queue's durable reservation.
 */
export class QueueReservations {
  private covered = 0;
  /** Writes not yet covered, oldest first, from pendingHead on (a queue: thousands can wait on one round). */
  private pending: Pending[] = [];
  private pendingHead = 0;
  /** Reservations asked for and not yet on storage. */
  private readonly wanted = new Map<string, number>();
  private readonly spans = new Map<string, { span: number; at: number }>();
  private spanTotal = 0;
  private file: StorageFile | undefined;
  private size: number;
  private entries: number;
  private writing = false;
  private failed = false;
  private closed = false;

  private constructor(
    private readonly o: QueueReservationsOptions,
    /** Durable reservations, by queue key. */
    private readonly reserved: Map<string, number>,
    size: number,
    entries: number,
  ) {
    this.size = size;
    this.entries = entries;
  }

  /** The reservations on storage under `dir` (none when there is no journal); a torn tail is cut. */
  static read(storage: StorageBackend, dir: string): { reserved: Map<string, number>; size: number; entries: number } {
    const path = `${dir}/${RESERVATIONS_FILE}`;
    if (!storage.exists(path)) return { reserved: new Map(), size: 0, entries: 0 };
    const f = storage.open(path, { create: false });
    try {
      const d = decodeReservations(f.read(0, f.size()));
      if (d.intact < f.size()) f.truncate(d.intact);
      return { reserved: d.reserved, size: d.intact, entries: d.entries };
    } finally {
      f.close();
    }
  }

  /** Follows reservations as read (and applied by recovery) from the journal under `o.dir`. */
  static open(o: QueueReservationsOptions, read: { reserved: Map<string, number>; size: number; entries: number }): QueueReservations {
    return new QueueReservations(o, read.reserved, read.size, read.entries);
  }

  /** Every written message up to this commit log offset may be served. */
  get coveredOffset(): number {
    return this.covered;
  }

  /** The durable reservation of a queue key (0 when none). */
  reservedOf(key: string): number {
    return this.reserved.get(key) ?? 0;
  }

  /**
   * A batch was written: its queues' next offsets are now `updates`, and the log's write offset `end`. Covered
   * at once when every queue stays within its reservation and nothing before it waits.
   */
  written(updates: ReadonlyMap<string, number>, end: number): void {
    if (this.failed || this.closed) return;
    // a queue past half of what it holds asks for more now, so that its writes rarely wait for a journal fsync
    let asked = false;
    for (const [k, next] of updates) {
      if (next + this.halfSpanOf(k) > (this.wanted.get(k) ?? this.reserved.get(k) ?? 0)) {
        this.want(k, next);
        asked = true;
      }
    }
    if (this.pendingHead === this.pending.length && this.within(updates)) this.covered = end;
    else this.pending.push({ end, updates });
    if (asked) this.write();
  }

  private halfSpanOf(key: string): number {
    return (this.spans.get(key)?.span ?? MIN_SPAN) / 2;
  }

  /** Stops appending (a store closing); a write under way ends on its own. */
  close(): void {
    this.closed = true;
    this.dropPending();
    this.file?.close();
    this.file = undefined;
  }

  private dropPending(): void {
    this.pending = [];
    this.pendingHead = 0;
  }

  private within(updates: ReadonlyMap<string, number>): boolean {
    for (const [k, next] of updates) if (next > (this.reserved.get(k) ?? 0)) return false;
    return true;
  }

  private want(key: string, next: number): void {
    const now = this.o.clock.monotonicMs();
    const s = this.spans.get(key);
    const free = SPAN_BUDGET - (this.spanTotal - (s?.span ?? 0));
    const span = nextSpan(s?.span, s === undefined ? undefined : now - s.at, free);
    this.spanTotal += span - (s?.span ?? 0);
    this.spans.set(key, { span, at: now });
    this.wanted.set(key, next + span);
  }

  /** One round at a time: appends what is wanted, flushes it, then covers what it allows. */
  private write(): void {
    if (this.writing || this.wanted.size === 0) return;
    this.writing = true;
    const round = new Map(this.wanted);
    this.append(round)
      .then(() => {
        for (const [k, v] of round) {
          if (v > (this.reserved.get(k) ?? 0)) this.reserved.set(k, v);
          if (this.wanted.get(k) === v) this.wanted.delete(k);
        }
        this.writing = false;
        if (this.closed) return;
        let moved = false;
        while (this.pendingHead < this.pending.length && this.within(this.pending[this.pendingHead]!.updates)) {
          this.covered = this.pending[this.pendingHead++]!.end;
          moved = true;
        }
        if (this.pendingHead === this.pending.length) this.dropPending();
        else if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
          this.pending = this.pending.slice(this.pendingHead);
          this.pendingHead = 0;
        }
        if (moved) this.o.onCovered();
        this.write();
      })
      .catch((err: unknown) => {
        this.writing = false;
        if (this.closed) return;
        // nothing is lost: served data falls back to waiting for its flush
        this.failed = true;
        this.dropPending();
        this.o.logger.error({ err }, 'queue offset reservations cannot be written; consumers now see messages only once flushed');
      });
  }

  private async append(round: ReadonlyMap<string, number>): Promise<void> {
    const path = `${this.o.dir}/${RESERVATIONS_FILE}`;
    if (this.entries + round.size > 4 * Math.max(1024, this.reserved.size + round.size)) {
      // compaction: every key once, in a new file put in place atomically
      const all = new Map(this.reserved);
      for (const [k, v] of round) if (v > (all.get(k) ?? 0)) all.set(k, v);
      const bytes = encodeReservations(all);
      this.file?.close();
      this.file = undefined;
      await writeFileAtomic(this.o.storage, path, bytes);
      this.size = bytes.length;
      this.entries = all.size;
      return;
    }
    const isNew = this.file === undefined && !this.o.storage.exists(path);
    this.file ??= this.o.storage.open(path);
    const bytes = encodeReservations(round);
    this.file.write(this.size, bytes);
    this.size += bytes.length;
    this.entries += round.size;
    await this.file.flush();
    if (isNew) await this.o.storage.flushDir(this.o.dir);
  }
}
