/**
 * Recovery's scan of the commit log: which bytes hold intact records, which are corrupt, and where the data
 * ends. Every record's CRC is checked. A record that does not read back (bad CRC, magic, size or layout) does
 * not end the log: the scan looks for the next intact record after it, byte by byte up to the end of its
 * segment (a record header, magic and plausible size, that names its own position and whose CRC holds, or an
 * end-of-segment marker that ends the segment), and the bytes between are a lost range.
 *
 * What a crash leaves is told apart from corruption: past the flushed position (`durableTo`, the checkpoint's)
 * zero bytes where a record should start, or a bad record that no intact one follows in its segment, are where
 * unflushed writes were lost or torn; nothing after them was acknowledged, so the log ends there (the torn
 * tail, later segments included). Below `durableTo` nothing is cut: bytes that do not read back are lost
 * ranges, the rest of a segment when nothing intact follows in it, and the data ends past them.
 */

import { numberedFileName, readU32, readU64 } from '../core/bytes.js';
import { RecordField, RecordFields, RecordLayout, recordSizeAt, Scan, scanRecord } from '../core/record-layout.js';
import type { CorruptRange } from './corrupt-ranges.js';
import { decodeRecord } from './record.js';
import type { SegmentedLog } from './segmented-log.js';

/** What the header of a lost range says of the one record it seems to hold (its CRC failed): a hint only. */
export interface LostRecordHint {
  /** Where the lost record starts. */
  at: number;
  topic: string;
  queueId: number;
  queueOffset: number;
}

export interface LogScan {
  /** Where the data ends: past every intact record and every lost range (the log's next write position). */
  end: number;
  /** Corrupt ranges before `end`, ascending, each within one segment. */
  lost: CorruptRange[];
  /** For lost ranges that read as one record whose CRC failed: its queue and queue offset, as its header says. */
  hints: LostRecordHint[];
}

export interface LogScanOptions {
  /** Data below this offset was flushed once (the checkpoint's): never cut as a torn tail. */
  durableTo?: number;
  /** Bytes read per step (default 1 MiB). */
  chunkBytes?: number;
}

/** Why a position holds no record when its first 8 bytes are zeros: never written, or written and lost in a crash. */
const BLANK = 'blank (zero) bytes';

const MAGIC = Uint8Array.of(0xda, 0xa3, 0x20, 0xa7);
const END_MAGIC = Uint8Array.of(0xcb, 0xd4, 0x31, 0x94);

/** Bytes of the log read ahead of the scan: `at` finds [pos, pos + len) in the window or reads it anew. */
class Window {
  buf: Uint8Array = new Uint8Array(0);
  start = 0;

  constructor(
    private readonly log: SegmentedLog,
    private readonly chunk: number,
  ) {}

  /** The index in `buf` of bytes [pos, pos + len), or -1 when the log holds fewer there. */
  at(pos: number, len: number): number {
    if (pos >= this.start && pos + len <= this.start + this.buf.length) return pos - this.start;
    this.buf = this.log.read(pos, Math.max(len, this.chunk));
    this.start = pos;
    return this.buf.length >= len ? 0 : -1;
  }
}

/** An intact record or end-of-segment marker at `pos`: its size; else why not. */
type Step = { size: number; marker: boolean } | string;

function stepAt(w: Window, pos: number, segEnd: number): Step {
  const i = w.at(pos, RecordLayout.EndOfSegmentMin);
  if (i < 0) return 'cut short';
  const size = recordSizeAt(w.buf, i);
  const magic = readU32(w.buf, i + RecordField.Magic);
  if (magic === RecordLayout.EndMagic) {
    return size >= RecordLayout.EndOfSegmentMin && pos + size === segEnd ? { size, marker: true } : `end-of-segment marker of ${size} bytes that does not end its segment`;
  }
  if (magic !== RecordLayout.Magic) return size === 0 && magic === 0 ? BLANK : `bad magic 0x${magic.toString(16)}`;
  if (size < RecordLayout.FixedSize || size > segEnd - pos) return `bad record size ${size}`;
  const j = w.at(pos, size);
  if (j < 0) return `record of ${size} bytes cut short`;
  const d = decodeRecord(w.buf, j);
  if (d.kind === 'record') return { size, marker: false };
  return d.kind === 'corrupt' ? d.reason : 'malformed record';
}

/** Whether an intact record that names its own position, or a marker that ends the segment, starts at `q`. */
function intactAt(w: Window, q: number, segEnd: number): boolean {
  const s = stepAt(w, q, segEnd);
  if (typeof s === 'string') return false;
  return s.marker || readU64(w.buf, w.at(q, s.size) + RecordField.CommitLogOffset) === q;
}

/** The first position in [from, dataEnd) where intact data starts again, or -1. */
function resync(w: Window, from: number, segEnd: number, dataEnd: number): number {
  let q = from;
  while (q + RecordLayout.EndOfSegmentMin <= dataEnd) {
    const i = w.at(q, RecordLayout.EndOfSegmentMin);
    if (i < 0) return -1;
    const buf = w.buf;
    const view = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    const a = view.indexOf(MAGIC, i + RecordField.Magic);
    const b = view.indexOf(END_MAGIC, i + RecordField.Magic);
    const hit = a < 0 ? b : b < 0 ? a : Math.min(a, b);
    if (hit < 0) {
      const seen = w.start + buf.length;
      if (seen >= dataEnd) return -1;
      // a magic cut by the end of the window is found in the next one
      q = Math.max(q + 1, seen - RecordField.Magic - MAGIC.length + 1);
      continue;
    }
    const cand = w.start + hit - RecordField.Magic;
    if (cand + RecordLayout.EndOfSegmentMin > dataEnd) return -1;
    if (intactAt(w, cand, segEnd)) return cand;
    q = cand + 1;
  }
  return -1;
}

const fields = new RecordFields();
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The queue place the header at `from` claims, when [from, to) reads as exactly one record whose CRC failed. */
function hintOf(w: Window, from: number, to: number): LostRecordHint | undefined {
  const len = to - from;
  if (len < RecordLayout.FixedSize) return undefined;
  const i = w.at(from, len);
  if (i < 0) return undefined;
  const buf = w.buf;
  if (readU32(buf, i + RecordField.Magic) !== RecordLayout.Magic || recordSizeAt(buf, i) !== len) return undefined;
  if (readU64(buf, i + RecordField.CommitLogOffset) !== from) return undefined;
  if (scanRecord(buf, i, i + len, fields) !== Scan.Ok || fields.topicLength === 0) return undefined;
  let topic: string;
  try {
    topic = utf8.decode(buf.subarray(fields.topic, fields.topic + fields.topicLength));
  } catch {
    return undefined;
  }
  const queueOffset = readU64(buf, i + RecordField.QueueOffset);
  if (!Number.isSafeInteger(queueOffset)) return undefined;
  return { at: from, topic, queueId: readU32(buf, i + RecordField.QueueId), queueOffset };
}

/** Scans the commit log from `from` (a record boundary, usually a segment start) to its write offset. */
export function scanLog(log: SegmentedLog, from: number, opts: LogScanOptions = {}): LogScan {
  const seg = log.segmentSize;
  const written = log.writeOffset;
  const w = new Window(log, opts.chunkBytes ?? 1024 * 1024);
  const lost: CorruptRange[] = [];
  const hints: LostRecordHint[] = [];
  const lose = (a: number, b: number, reason: string): void => {
    for (let s = log.segmentStart(a); s < b; s += seg) {
      const x = Math.max(a, s);
      const y = Math.min(b, s + seg);
      if (y > x) lost.push({ from: x, to: y, segment: numberedFileName(s), reason, foundBy: 'recovery' });
    }
  };
  const durable = Math.min(opts.durableTo ?? 0, written);
  let pos = from;
  let tailReason = '';
  while (pos < written) {
    const segEnd = log.segmentStart(pos) + seg;
    if (segEnd - pos < RecordLayout.EndOfSegmentMin) {
      pos = segEnd; // fewer than 8 bytes left: the segment ends here
      continue;
    }
    const s = stepAt(w, pos, segEnd);
    if (typeof s !== 'string') {
      pos = s.marker ? segEnd : pos + s.size;
      continue;
    }
    // Past the flushed position a crash leaves unwritten (zero) bytes where writes were lost, and a torn last
    // write: what follows either was never acknowledged, so the log ends there.
    if (pos >= durable && s === BLANK) {
      tailReason = s;
      break;
    }
    const dataEnd = Math.min(segEnd, written);
    const q = resync(w, pos + 1, segEnd, dataEnd);
    if (q >= 0) {
      lose(pos, q, s);
      const hint = hintOf(w, pos, q);
      if (hint !== undefined) hints.push(hint);
      pos = q;
      continue;
    }
    if (dataEnd < written && pos < durable) {
      // flushed data that does not read back, and later segments hold data: only the rest of this one is lost
      // (past the flushed position this is a torn write, and later segments' data was never acknowledged)
      lose(pos, segEnd, s);
      pos = segEnd;
      continue;
    }
    tailReason = s;
    break; // nothing intact follows: the tail
  }
  let end = Math.min(pos, written);
  if (end < durable) {
    lose(end, durable, `${tailReason} (below the flushed position ${durable})`);
    end = durable;
  }
  return { end, lost, hints };
}
