/**
 * The store's reads: pulls (the records as commit log bytes, or as messages), look-ups by id, key and store
 * time, and a queue's offsets. Plain code over the parts of an open store; message-store.ts opens and closes
 * them and hands them here.
 */
import { MessageProperty } from '../core/message.js';
import { readU32, readU64 } from '../core/bytes.js';
import { PROP_KEYS, PROP_TAGS, RecordField, RecordLayout, recordSizeAt } from '../core/record-layout.js';
import type { CommitLog } from './commit-log.js';
import { CQ_ENTRY_SIZE, cqOffsetAt, cqSizeAt, cqTagHashAt, isBlank, type ConsumeQueue, type ConsumeQueueSet } from './consume-queue.js';
import { keyHash, type KeyIndex } from './key-index.js';
import { decodeMessageId } from './message-id.js';
import { decodeRecord, recordBodyAt, recordCrc, splitKeys, type MessageRecord } from './record.js';
import type { SegmentedLog } from './segmented-log.js';

/** A stored message as reads return it. */
export interface StoredMessage extends MessageRecord {
  msgId: string;
  /** Record size in the commit log. */
  size: number;
  tags?: string;
  keys: string[];
}

export type GetStatus =
  | 'FOUND'
  /** Entries were there but the filter matched none of them (nextOffset skips them). */
  | 'NO_MATCHED'
  /** The queue has never held a message. */
  | 'NO_MESSAGE_IN_QUEUE'
  | 'OFFSET_TOO_SMALL'
  /** offset == maxOffset: nothing new yet (a long poll waits here). */
  | 'OFFSET_OVERFLOW_ONE'
  | 'OFFSET_OVERFLOW_BADLY'
  /** The entries point at commit log data retention removed. */
  | 'OFFSET_FOUND_NULL'
  | 'STORE_CLOSED';

export interface GetQuery {
  topic: string;
  queueId: number;
  offset: number;
  maxCount: number;
  /** Stop before exceeding this many record bytes (default 4 MiB; at least one message is returned). */
  maxBytes?: number;
  /** Tag filter: called with the tag hash first (tags undefined), then with the record's tag for a final check. */
  tags?: (tagHash: number, tags?: string) => boolean;
}

export interface GetResult {
  status: GetStatus;
  messages: StoredMessage[];
  nextOffset: number;
  minOffset: number;
  maxOffset: number;
}

/**
 * What a read found, as the commit log's own bytes: record i starts at `positions[i]` of `bufs[i]` (spans read
 * for this call, shared by consecutive records; the reader may keep them). Each record passed `recordBodyAt`
 * (magic, size, offset, field lengths); CRCs are not checked on reads (recovery checks them).
 */
export interface RecordsResult {
  status: GetStatus;
  count: number;
  /** The summed body lengths of the records found (what a consumer receives of the messages' payloads). */
  bodyBytes: number;
  bufs: Uint8Array[];
  positions: number[];
  /** The commit log offset of the first record found (undefined when none). */
  firstCommitLogOffset?: number;
  nextOffset: number;
  minOffset: number;
  maxOffset: number;
}

/** The reads of a MessageStore. */
export interface StoreQueries {
  getMessages(q: GetQuery): GetResult;
  /** As getMessages, the records left as bytes (no message objects): for encoding them straight to the wire. */
  getRecords(q: GetQuery): RecordsResult;
  /** Decodes record i of a getRecords result (undefined if it does not decode). */
  storedAt(r: RecordsResult, i: number): StoredMessage | undefined;
  lookupById(msgId: string): StoredMessage | undefined;
  lookupByKey(topic: string, key: string, max: number): StoredMessage[];
  minOffset(topic: string, queueId: number): number;
  maxOffset(topic: string, queueId: number): number;
  /** The first queue offset whose message was stored at or after `timestampMs` (maxOffset when none). */
  offsetByTime(topic: string, queueId: number, timestampMs: number): number;
}

/** What the reads use of an open store. */
export interface QueryParts {
  log: SegmentedLog;
  queues: ConsumeQueueSet;
  index: KeyIndex;
  commitLog: CommitLog;
  /** The message id of the record at a commit log offset (messageIdEncoder of the store host). */
  msgId: (commitLogOffset: number) => string;
  /** Whether the store is closed: reads then answer STORE_CLOSED. */
  closed: () => boolean;
  /**
   * Records below this commit log offset were not CRC-checked since the store opened (recovery checks what it
   * scans; this process's own writes need none): reads check theirs. Default 0: none.
   */
  checkedFrom?: number;
  /** Hears of a record a read found corrupt; the read skips it (a pull goes on past it, a look-up finds nothing). */
  onCorrupt?: (offset: number, size: number, reason: string) => void;
}

/**
 * Largest record a look-up by id reads (64 MiB, the most any transport carries in one frame): a record is never
 * larger than a frame, so a larger size in a header is corruption or a forged id, and never costs a larger read.
 */
export const MAX_LOOKUP_RECORD_BYTES = 64 * 1024 * 1024;

/**
 * A span read for a pull takes in a following record of the queue only across a gap (other queues' records) of at
 * most this many bytes: with thousands of queues a queue's records lie far apart in the mixed log, and a span from
 * one to the last copied up to 4 MiB for a pull of a few records (a tenth of a broker's CPU at 1,000 topics).
 */
const SPAN_GAP = 4096;

/** Whether the bytes at buf[0...] say they are the record at `offset` (magic and own offset): then a failure to decode is corruption, not a wrong id. */
function claimsOffset(buf: Uint8Array, offset: number): boolean {
  return buf.length >= RecordField.CommitLogOffset + 8 && readU32(buf, RecordField.Magic) === RecordLayout.Magic && readU64(buf, RecordField.CommitLogOffset) === offset;
}

export function storeQueries(parts: QueryParts): StoreQueries {
  const { log, queues, index, commitLog, msgId, closed } = parts;
  const checkedFrom = parts.checkedFrom ?? 0;
  const onCorrupt = parts.onCorrupt ?? ((): void => undefined);

  const toStored = (r: MessageRecord, size: number): StoredMessage => ({
    topic: r.topic,
    queueId: r.queueId,
    queueOffset: r.queueOffset,
    commitLogOffset: r.commitLogOffset,
    flags: r.flags,
    sysFlag: r.sysFlag,
    bornTimestamp: r.bornTimestamp,
    bornHost: r.bornHost,
    storeTimestamp: r.storeTimestamp,
    storeHost: r.storeHost,
    reconsumeTimes: r.reconsumeTimes,
    preparedTransactionOffset: r.preparedTransactionOffset,
    properties: r.properties,
    body: r.body,
    msgId: msgId(r.commitLogOffset),
    size,
    tags: r.properties[PROP_TAGS],
    keys: splitKeys(r.properties[PROP_KEYS]),
  });

  /**
   * The record at `offset` (`size` when known), or undefined when gone or not a record. `fromId`: the offset
   * came from a client's message id, not from the store's own indexes, so bytes that fail there are not
   * reported as corrupt (the id may point anywhere).
   */
  const readAt = (offset: number, size?: number, fromId = false): { record: MessageRecord; size: number } | undefined => {
    if (offset < log.minOffset || offset >= commitLog.committedOffset) return undefined;
    let len = size;
    if (len === undefined) {
      // an id names any offset it likes: the bytes there must claim to be the record at this offset, with a
      // plausible size, before that size is read
      const head = log.read(offset, RecordField.CommitLogOffset + 8);
      if (!claimsOffset(head, offset)) return undefined;
      len = recordSizeAt(head, 0);
      if (len < RecordLayout.FixedSize || len > MAX_LOOKUP_RECORD_BYTES || offset + len > commitLog.committedOffset) return undefined;
    }
    const buf = log.read(offset, len);
    // a read without a known size is CRC-checked too: its header alone does not prove the bytes a record
    const d = decodeRecord(buf, 0, size === undefined || offset < checkedFrom);
    if (d.kind === 'corrupt' && !fromId && claimsOffset(buf, offset)) onCorrupt(offset, len, d.reason);
    if (d.kind !== 'record' || d.record.commitLogOffset !== offset) return undefined;
    return { record: d.record, size: d.size };
  };

  const queue = (topic: string, queueId: number): ConsumeQueue | undefined => queues.get(topic, queueId, false);

  const getRecords = (q: GetQuery): RecordsResult => {
    const cq = queue(q.topic, q.queueId);
    const min = cq?.minOffset ?? 0;
    const max = cq?.maxOffset ?? 0;
    const bufs: Uint8Array[] = [];
    const positions: number[] = [];
    let firstCl: number | undefined;
    let bodyBytes = 0;
    // one object of one shape for every outcome (no spread of an optional field)
    const res = (status: GetStatus, nextOffset: number): RecordsResult => ({ status, count: bufs.length, bodyBytes, bufs, positions, firstCommitLogOffset: firstCl, nextOffset, minOffset: min, maxOffset: max });
    if (closed()) return res('STORE_CLOSED', q.offset);
    if (!cq || max === 0) return res('NO_MESSAGE_IN_QUEUE', 0);
    if (q.offset < min) return res('OFFSET_TOO_SMALL', min);
    if (q.offset === max) return res('OFFSET_OVERFLOW_ONE', q.offset);
    if (q.offset > max) return res('OFFSET_OVERFLOW_BADLY', min === 0 ? min : max);
    const maxCount = Math.max(1, q.maxCount);
    const maxBytes = q.maxBytes ?? 4 * 1024 * 1024;
    const maxScan = Math.max(maxCount, 2000);
    const tags = q.tags;
    let bytes = 0;
    let next = q.offset;
    let filtered = 0;
    let missing = 0;
    // one consume queue read covers a whole pull when nothing is filtered out
    const chunk = Math.min(maxScan, Math.max(256, maxCount));
    // Records are read in spans: one commit log read covers the records of consecutive entries.
    const spanCap = Math.max(64 * 1024, Math.min(maxBytes, 4 * 1024 * 1024));
    let span: Uint8Array = new Uint8Array(0);
    let spanStart = 0;
    const committed = commitLog.committedOffset;
    const minCl = log.minOffset;
    scan: while (next < max && next - q.offset < maxScan && bufs.length < maxCount) {
      const entries = cq.readBytes(next, Math.min(chunk, maxScan - (next - q.offset)));
      const n = entries.length / CQ_ENTRY_SIZE;
      if (n === 0) break;
      for (let i = 0; i < n; i++) {
        if (bufs.length >= maxCount) break scan;
        const e = i * CQ_ENTRY_SIZE;
        const size = cqSizeAt(entries, e);
        if (size === 0) {
          next++; // a blank entry
          continue;
        }
        if (tags && !tags(cqTagHashAt(entries, e))) {
          filtered++;
          next++;
          continue;
        }
        if (bufs.length > 0 && bytes + size > maxBytes) break scan;
        next++;
        const off = cqOffsetAt(entries, e);
        if (off < minCl || off >= committed) {
          missing++;
          continue;
        }
        if (off < spanStart || off + size > spanStart + span.length) {
          // A new span from this record to the end of the last following entry that fits in spanCap.
          let spanEnd = off + size;
          const left = maxCount - bufs.length;
          for (let j = i + 1, taken = 1; j < n && taken < left; j++) {
            const fSize = cqSizeAt(entries, j * CQ_ENTRY_SIZE);
            if (fSize === 0) continue;
            const fOff = cqOffsetAt(entries, j * CQ_ENTRY_SIZE);
            const fEnd = fOff + fSize;
            if (fOff < off || fEnd - off > spanCap || fEnd > committed || fOff - spanEnd > SPAN_GAP) break;
            if (fEnd > spanEnd) spanEnd = fEnd;
            taken++;
          }
          span = log.read(off, spanEnd - off);
          spanStart = off;
        }
        const at = off - spanStart;
        const bodyField = off + size > spanStart + span.length ? -1 : recordBodyAt(span, at, off, size);
        if (bodyField < 0) {
          onCorrupt(off, size, 'the record its consume queue entry points at does not read back');
          missing++;
          continue;
        }
        if (off < checkedFrom && recordCrc(span, at, size) !== readU32(span, at + RecordField.Crc)) {
          onCorrupt(off, size, 'CRC mismatch');
          missing++;
          continue;
        }
        if (tags) {
          const d = decodeRecord(span, at, false);
          if (d.kind !== 'record') {
            missing++;
            continue;
          }
          if (!tags(cqTagHashAt(entries, e), d.record.properties[PROP_TAGS])) {
            filtered++;
            continue;
          }
        }
        if (bufs.length === 0) firstCl = off;
        bufs.push(span);
        positions.push(at);
        bytes += size;
        bodyBytes += readU32(span, bodyField);
      }
    }
    if (bufs.length > 0) return res('FOUND', next);
    if (missing > 0 && filtered === 0) return res('OFFSET_FOUND_NULL', next);
    return res('NO_MATCHED', next);
  };

  const storedAt = (r: RecordsResult, i: number): StoredMessage | undefined => {
    const buf = r.bufs[i];
    if (buf === undefined) return undefined;
    const d = decodeRecord(buf, r.positions[i]!, false);
    return d.kind === 'record' ? toStored(d.record, d.size) : undefined;
  };

  const getMessages = (q: GetQuery): GetResult => {
    const r = getRecords(q);
    const messages: StoredMessage[] = [];
    for (let i = 0; i < r.count; i++) {
      const m = storedAt(r, i);
      if (m !== undefined) messages.push(m);
    }
    return { status: r.status, messages, nextOffset: r.nextOffset, minOffset: r.minOffset, maxOffset: r.maxOffset };
  };

  const lookupById = (id: string): StoredMessage | undefined => {
    let offset: number;
    try {
      offset = decodeMessageId(id).commitLogOffset;
    } catch {
      return undefined; // not one of our ids: not found
    }
    const r = readAt(offset, undefined, true);
    return r ? toStored(r.record, r.size) : undefined;
  };

  const lookupByKey = (topic: string, key: string, max: number): StoredMessage[] => {
    const out: StoredMessage[] = [];
    for (const off of index.lookup(keyHash(topic, key), Math.max(1, max) * 4)) {
      if (out.length >= max) break;
      const r = readAt(off);
      if (!r || r.record.topic !== topic) continue;
      if (r.record.properties[MessageProperty.UNIQ_KEY] !== key && !splitKeys(r.record.properties[PROP_KEYS]).includes(key)) continue;
      out.push(toStored(r.record, r.size));
    }
    return out;
  };

  const offsetByTime = (topic: string, queueId: number, ts: number): number => {
    const cq = queue(topic, queueId);
    if (!cq) return 0;
    let lo = cq.minOffset;
    let hi = cq.maxOffset;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const e = cq.entryAt(mid);
      const r = e && !isBlank(e) ? readAt(e.commitLogOffset, e.size) : undefined;
      if (!r || r.record.storeTimestamp < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  return {
    getMessages,
    getRecords,
    storedAt,
    lookupById,
    lookupByKey,
    minOffset: (t, q) => queue(t, q)?.minOffset ?? 0,
    maxOffset: (t, q) => queue(t, q)?.maxOffset ?? 0,
    offsetByTime,
  };
}
