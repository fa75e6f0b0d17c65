import type { ConsumeQueueSet } from './consume-queue.js';
import type { KeyIndex } from './key-index.js';
import type { SegmentedLog } from './segmented-log.js';

export interface RetentionInput {
  log: SegmentedLog;
  queues: ConsumeQueueSet;
  index: KeyIndex;
  /** First commit log offset the dispatcher has not indexed: nothing at or past it is deleted. */
  dispatched: number;
  now: number;
  retentionMs: number;
}

export interface RetentionResult {
  segmentsDeleted: number;
  queueFilesDeleted: number;
  indexFilesDeleted: number;
  minOffset: number;
}

/**
 * Which commit log segments retention deletes: from the oldest, those last modified more than `retentionMs`
 * ago, never the active (last) one and never one holding data the dispatcher has not indexed. Stops at the
 * first segment it keeps, so the log stays contiguous. Pure.
 */
export function expiredSegments(
  segments: ReadonlyArray<{ start: number; end: number; mtimeMs: number }>,
  o: { dispatched: number; now: number; retentionMs: number; segmentSize: number },
): number[] {
  const out: number[] = [];
  for (let i = 0; i < segments.length - 1; i++) {
    const s = segments[i]!;
    if (s.mtimeMs + o.retentionMs > o.now) break;
    if (s.start + o.segmentSize > o.dispatched) break;
    out.push(s.start);
  }
  return out;
}

/** Deletes expired commit log segments, then consume queue and index files that point only below the new minimum. */
export function runRetention(o: RetentionInput): RetentionResult {
  const starts = expiredSegments(o.log.segments(), { dispatched: o.dispatched, now: o.now, retentionMs: o.retentionMs, segmentSize: o.log.segmentSize });
  for (const s of starts) o.log.deleteSegment(s);
  const minOffset = o.log.minOffset;
  let queueFilesDeleted = 0;
  let indexFilesDeleted = 0;
  if (starts.length > 0) {
    for (const cq of o.queues.all()) queueFilesDeleted += cq.deleteBelow(minOffset);
    indexFilesDeleted = o.index.deleteBelow(minOffset);
  }
  return { segmentsDeleted: starts.length, queueFilesDeleted, indexFilesDeleted, minOffset };
}
