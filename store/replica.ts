/**
 * Replication's view of the commit log, as pure functions over bytes: what a master ships (whole records from a
 * record boundary, never across a segment end) and what a slave checks before it appends them (each record's
 * size, magic, CRC and its own commit log offset field against where it lands). A slave appends the shipped
 * records through its own segmented log, which rolls to the next segment exactly where the master's did (both
 * use the same segment size and end-of-segment marker), so a record has the same commit log offset on every
 * replica and a message id's offset finds it on each.
 */
import { readU32, readU64, sameBytes } from '../core/bytes.js';
import { RecordField, RecordFields, RecordLayout, Scan, scanRecord } from '../core/record-layout.js';
import { queueKeyOf } from './commit-log-batch.js';
import { recordCrc } from './record.js';

/** The bytes of [0, length) of `buf` that are whole records, from a record boundary: stops at a segment's end marker. */
export function wholeRecordsLength(buf: Uint8Array, length = buf.length): number {
  let p = 0;
  while (length - p >= RecordLayout.FixedSize) {
    const size = readU32(buf, p + RecordField.Size);
    if (readU32(buf, p + RecordField.Magic) !== RecordLayout.Magic || size < RecordLayout.FixedSize || size > length - p) break;
    p += size;
  }
  return p;
}

export class ReplicaDataError extends Error {
  readonly code = 'EREPLICA';
  constructor(message: string) {
    super(message);
    this.name = 'ReplicaDataError';
  }
}

/** What a checked chunk holds: its records' count and each queue's next offset after it. */
export interface CheckedChunk {
  records: number;
  /** queueKeyOf(topic, queueId) -> the queue offset after its last record in the chunk. */
  queueOffsets: Map<string, number>;
}

const fields = new RecordFields();
const utf8 = new TextDecoder('utf-8');

/**
 * Checks a chunk a master shipped for `offset`: whole records back to back, each with the record magic, a CRC
 * that matches and its commit log offset field equal to where it lies. Throws ReplicaDataError naming the first
 * record that fails: nothing of a chunk that fails is appended.
 */
export function checkReplicaChunk(buf: Uint8Array, offset: number): CheckedChunk {
  const queueOffsets = new Map<string, number>();
  let p = 0;
  let records = 0;
  // the queue of the last record: its key is made again only when the queue id or the topic's bytes differ
  let key = '';
  let keyQueue = -1;
  let keyTopic = -1;
  let keyTopicLength = -1;
  while (p < buf.length) {
    const at = offset + p;
    if (buf.length - p < RecordLayout.FixedSize) throw new ReplicaDataError(`record at ${at}: ${buf.length - p} bytes left, less than a record header`);
    const size = readU32(buf, p + RecordField.Size);
    if (readU32(buf, p + RecordField.Magic) !== RecordLayout.Magic) throw new ReplicaDataError(`record at ${at}: bad magic`);
    if (size < RecordLayout.FixedSize || size > buf.length - p) throw new ReplicaDataError(`record at ${at}: size ${size} does not fit the ${buf.length - p} bytes left`);
    if (readU32(buf, p + RecordField.Crc) !== recordCrc(buf, p, size) >>> 0) throw new ReplicaDataError(`record at ${at}: CRC mismatch`);
    const own = readU64(buf, p + RecordField.CommitLogOffset);
    if (own !== at) throw new ReplicaDataError(`record at ${at}: it says it lies at ${own}`);
    if (scanRecord(buf, p, p + size, fields) !== Scan.Ok) throw new ReplicaDataError(`record at ${at}: its fields do not add up to its size`);
    const queueId = readU32(buf, p + RecordField.QueueId);
    if (queueId !== keyQueue || fields.topicLength !== keyTopicLength || !sameBytes(buf, fields.topic, buf, keyTopic, fields.topicLength)) {
      key = queueKeyOf(utf8.decode(buf.subarray(fields.topic, fields.topic + fields.topicLength)), queueId);
      keyQueue = queueId;
      keyTopic = fields.topic;
      keyTopicLength = fields.topicLength;
    }
    queueOffsets.set(key, readU64(buf, p + RecordField.QueueOffset) + 1);
    p += size;
    records++;
  }
  return { records, queueOffsets };
}
