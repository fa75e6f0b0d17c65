import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageError, type StorageBackend } from '../../store/backend.js';
import { diskStorage } from '../../store/backends/disk.js';
import { faultyStorage } from '../../store/backends/faulty.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { SimClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { encodeEndOfSegment, type MessageRecord } from '../../store/record.js';
import { scanCommitLog } from '../../store/recovery.js';
import { SegmentedLog } from '../../store/segmented-log.js';
import { numberedFileName as segmentName } from '../../core/bytes.js';
import { encodeRecord } from '../support/record-encoder.js';

const SEGMENT = 256 * 1024;
const settle = (ms = 50): Promise<void> => new Promise((r) => setTimeout(r, ms));

function record(i: number, commitLogOffset: number): Uint8Array {
  const r: MessageRecord = {
    topic: 'T',
    queueId: 0,
    queueOffset: i,
    commitLogOffset,
    flags: 0,
    sysFlag: 0,
    bornTimestamp: 1,
    bornHost: 'h:1',
    storeTimestamp: 2,
    storeHost: 's:1',
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    properties: {},
    body: new Uint8Array(1000).fill(i & 0xff),
  };
  return encodeRecord(r);
}

/** Appends `n` records; returns the write offset after them. */
function appendRecords(log: SegmentedLog, n: number): number {
  for (let i = 0; i < n; i++) {
    const size = record(i, 0).length;
    log.append(record(i, log.nextAppendOffset(size)));
  }
  return log.writeOffset;
}

describe('SegmentedLog page cache warming (disk)', () => {
  let root: string;
  let storage: StorageBackend;
  const sizeOf = (start: number): number => statSync(join(root, 'log', segmentName(start))).size;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'actormq-warm-'));
    storage = diskStorage(root);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('keeps the active segment segment-long while open, cuts it back on close, and reopens at the same offset', async () => {
    const log = SegmentedLog.open(storage, 'log', { segmentSize: SEGMENT, endMarker: encodeEndOfSegment, warmAheadBytes: 64 * 1024 });
    const end = appendRecords(log, 300); // about 1.2 segments: one roll
    expect(log.segmentStart(end)).toBe(SEGMENT);
    await settle();
    appendRecords(log, 1); // the roll's segment is warmed once the prefetch under way at the roll is done
    const written = log.writeOffset;
    expect(sizeOf(0)).toBe(SEGMENT);
    expect(sizeOf(SEGMENT)).toBe(SEGMENT); // a hole after the data
    // reads stop at the data, not at the file's end
    expect(log.read(written, 100).length).toBe(0);
    expect([...log.read(written - 10, 100)]).toEqual([...log.read(written - 10, 10)]);
    log.close();
    expect(sizeOf(SEGMENT)).toBe(written - SEGMENT);
    const again = SegmentedLog.open(storage, 'log', { segmentSize: SEGMENT, endMarker: encodeEndOfSegment, warmAheadBytes: 64 * 1024 });
    expect(again.writeOffset).toBe(written);
    expect(scanCommitLog(again, 0)).toBe(written);
    again.close();
  });

  it('after a crash the segment-long file opens at its end, and the recovery scan finds where the data ends', async () => {
    const log = SegmentedLog.open(storage, 'log', { segmentSize: SEGMENT, endMarker: encodeEndOfSegment, warmAheadBytes: 64 * 1024 });
    const written = appendRecords(log, 100);
    await log.flush();
    await settle();
    // no close: the process died here
    const reopened = SegmentedLog.open(storage, 'log', { segmentSize: SEGMENT, endMarker: encodeEndOfSegment });
    expect(reopened.writeOffset).toBe(SEGMENT);
    const end = scanCommitLog(reopened, 0);
    expect(end).toBe(written);
    reopened.setWriteOffset(end);
    expect(sizeOf(0)).toBe(written);
    const next = reopened.append(record(100, written));
    expect(next).toBe(written);
    reopened.close();
    log.close();
  });

  it('a failing prefetch turns warming off and is reported; writes go on', async () => {
    const faulty = faultyStorage(storage);
    const failing: StorageBackend = {
      ...faulty,
      open: (path, opts) => {
        const f = faulty.open(path, opts);
        return { ...f, prefetch: (_p: number, _l: number, done: (e: StorageError | undefined) => void) => queueMicrotask(() => done(new StorageError('EIO', 'injected prefetch failure'))) };
      },
    };
    const log = SegmentedLog.open(failing, 'log', { segmentSize: SEGMENT, endMarker: encodeEndOfSegment, warmAheadBytes: 64 * 1024 });
    const failures: Error[] = [];
    log.onWarmFailed = (e) => failures.push(e);
    appendRecords(log, 10);
    await settle();
    expect(failures.map((e) => e.message)).toEqual(['EIO: injected prefetch failure']);
    const written = appendRecords(log, 10);
    expect(log.read(written - 1000, 1000).length).toBe(1000);
    log.close();
    expect(sizeOf(0)).toBe(written);
  });

  it('warms through the fault-injecting wrapper; a backend that cannot (memory) just writes', () => {
    const log = SegmentedLog.open(faultyStorage(storage), 'log', { segmentSize: SEGMENT, warmAheadBytes: 64 * 1024 });
    appendRecords(log, 3);
    expect(sizeOf(0)).toBe(SEGMENT);
    log.close();
    const mem = memoryStorage({ clock: new SimClock(), random: new SeededRandom(1) });
    const inMemory = SegmentedLog.open(mem, 'log', { segmentSize: SEGMENT, warmAheadBytes: 64 * 1024 });
    const written = appendRecords(inMemory, 3);
    expect(mem.stat(`log/${segmentName(0)}`)?.size).toBe(written);
    inMemory.close();
  });
});
