import {
  KEY_SEPARATOR,
  PROP_KEYS,
  PROP_TAGS,
  encodeRecordInto,
  recordSize,
  type MessageRecord,
} from './record.js';

/** One message handed to the store (the broker has validated it and picked its queue). */
export interface PutMessage {
  topic: string;
  queueId: number;
  body: Uint8Array;
  /** Stored as the TAGS property. */
  tags?: string;
  /** Stored as the KEYS property (space separated). */
  keys?: readonly string[];
  properties?: Record<string, string>;
  bornTimestamp: number;
  bornHost: string;
  flags?: number;
  sysFlag?: number;
  reconsumeTimes?: number;
  preparedTransactionOffset?: number;
}

/** A stable map key for one queue: topic names never hold '#'. */
export function queueKeyOf(topic: string, queueId: number): string {
  return `${topic}#${queueId}`;
}

export function parseQueueKey(key: string): { topic: string; queueId: number } {
  const i = key.lastIndexOf('#');
  return { topic: key.slice(0, i), queueId: Number(key.slice(i + 1)) };
}

/**
 * Queue offsets for a batch: each message gets its queue's next offset, in batch order. Pure: returns the
 * offsets and the queues' new next offsets (apply them only once the batch is written).
 */
export function assignQueueOffsets(
  next: ReadonlyMap<string, number>,
  batch: ReadonlyArray<Pick<PutMessage, 'topic' | 'queueId'>>,
): { offsets: number[]; updates: Map<string, number> } {
  const updates = new Map<string, number>();
  const offsets = new Array<number>(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const m = batch[i]!;
    const k = queueKeyOf(m.topic, m.queueId);
    const o = updates.get(k) ?? next.get(k) ?? 0;
    offsets[i] = o;
    updates.set(k, o + 1);
  }
  return { offsets, updates };
}

/** The properties a message is stored with (TAGS and KEYS folded in). */
export function storedProperties(m: PutMessage): Record<string, string> {
  if (m.tags === undefined && (m.keys === undefined || m.keys.length === 0)) return m.properties ?? {};
  const props: Record<string, string> = { ...(m.properties ?? {}) };
  if (m.tags !== undefined && m.tags !== '') props[PROP_TAGS] = m.tags;
  if (m.keys !== undefined && m.keys.length > 0) props[PROP_KEYS] = m.keys.join(KEY_SEPARATOR);
  return props;
}

/** The records of a batch, before positions are known (queue offsets assigned, sizes computed). */
export interface PreparedRecord {
  record: MessageRecord;
  size: number;
}

/** Builds the records of a batch with their sizes; throws RecordError for a message that cannot be stored. */
export function prepareRecords(
  batch: readonly PutMessage[],
  queueOffsets: readonly number[],
  storeTimestamp: number,
  storeHost: string,
): PreparedRecord[] {
  return batch.map((m, i) => {
    const record: MessageRecord = {
      topic: m.topic,
      queueId: m.queueId,
      queueOffset: queueOffsets[i]!,
      commitLogOffset: 0,
      flags: m.flags ?? 0,
      sysFlag: m.sysFlag ?? 0,
      bornTimestamp: m.bornTimestamp,
      bornHost: m.bornHost,
      storeTimestamp,
      storeHost,
      reconsumeTimes: m.reconsumeTimes ?? 0,
      preparedTransactionOffset: m.preparedTransactionOffset ?? 0,
      properties: storedProperties(m),
      body: m.body,
    };
    return { record, size: recordSize(record) };
  });
}

/** One write: records [from, to) of the batch, starting at commit log offset `offset`. */
export interface PlannedWrite {
  offset: number;
  from: number;
  to: number;
  bytes: number;
}

/**
 * Places a batch in the commit log: records go one after another from `writeOffset`; when the next record
 * does not fit in the rest of the current segment, the segment is closed (end-of-segment marker) and the
 * record starts the next one. One write per segment touched. Throws RangeError for a record larger than a
 * segment.
 */
export function planWrites(sizes: readonly number[], writeOffset: number, segmentSize: number): PlannedWrite[] {
  const out: PlannedWrite[] = [];
  let pos = writeOffset;
  let cur: PlannedWrite | undefined;
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!;
    if (size > segmentSize) throw new RangeError(`record of ${size} bytes is larger than a segment (${segmentSize} bytes)`);
    const segEnd = (Math.floor(pos / segmentSize) + 1) * segmentSize;
    if (pos + size > segEnd) {
      pos = segEnd;
      cur = undefined;
    } else if (cur && pos % segmentSize === 0) {
      cur = undefined; // the previous record filled its segment exactly
    }
    if (!cur) {
      cur = { offset: pos, from: i, to: i, bytes: 0 };
      out.push(cur);
    }
    cur.to = i + 1;
    cur.bytes += size;
    pos += size;
  }
  return out;
}

/** Encodes records [w.from, w.to) into one buffer, stamping each with its commit log offset. */
export function encodeWrite(records: readonly PreparedRecord[], w: PlannedWrite): { buf: Uint8Array; offsets: number[] } {
  const buf = new Uint8Array(w.bytes);
  const offsets: number[] = [];
  let p = 0;
  for (let i = w.from; i < w.to; i++) {
    const r = records[i]!;
    r.record.commitLogOffset = w.offset + p;
    offsets.push(r.record.commitLogOffset);
    p += encodeRecordInto(r.record, buf, p);
  }
  return { buf, offsets };
}
