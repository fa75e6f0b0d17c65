import fc from 'fast-check';
import { SimClock } from '../../core/clock.js';
import { SeededRandom } from '../../core/random.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { decodeRecord, encodeEndOfSegment } from '../../store/record.js';
import { numberedFileName as segmentName } from '../../core/bytes.js';
import { LogError, SegmentedLog } from '../../store/segmented-log.js';
import { fileWith, withFiles } from '../support/storage-wrappers.js';

const mem = (seed = 1) => memoryStorage({ clock: new SimClock(), random: new SeededRandom(seed) });
const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

describe('SegmentedLog', () => {
  it('appends, rolls with an end marker and reads back across segments', () => {
    const fs = mem();
    const log = SegmentedLog.open(fs, 'store/commitlog', { segmentSize: 100, endMarker: encodeEndOfSegment });
    expect(log.append(fill(60, 1))).toBe(0);
    expect(log.nextAppendOffset(30)).toBe(60);
    expect(log.nextAppendOffset(50)).toBe(100);
    expect(log.append(fill(50, 2))).toBe(100);
    expect(log.writeOffset).toBe(150);
    expect(fs.list('store/commitlog')).toEqual([segmentName(0), segmentName(100)]);
    expect(segmentName(100)).toBe('00000000000000000100');
    const marker = log.read(60, 100);
    expect(marker.length).toBe(40);
    expect(decodeRecord(marker, 0)).toEqual({ kind: 'end-of-segment', size: 40 });
    expect([...log.read(100, 1000)]).toEqual([...fill(50, 2)]);
    expect(log.read(150, 10).length).toBe(0);
    expect(log.segmentStart(199)).toBe(100);
    expect(() => log.append(fill(101, 0))).toThrow(LogError);
    expect(log.append(fill(100, 3))).toBe(200); // exactly one segment
    expect(log.writeOffset).toBe(300);
    expect(log.append(fill(1, 4))).toBe(300);
    expect(log.segments().map((s) => [s.start, s.end])).toEqual([[0, 100], [100, 200], [200, 300], [300, 301]]);
  });

  it('reads match a model under random appends, reads and truncates (tail cache included)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('append' as const), n: fc.integer({ min: 0, max: 90 }), v: fc.integer({ min: 1, max: 255 }) }),
            fc.record({ op: fc.constant('read' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 200 }) }),
            fc.record({ op: fc.constant('readTransient' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 200 }) }),
            fc.record({ op: fc.constant('readInto' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 200 }) }),
            fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
            fc.record({ op: fc.constant('drain' as const) }),
          ),
          { maxLength: 60 },
        ),
        fc.integer({ min: 0, max: 300 }),
        fc.boolean(),
        (ops, tailCacheBytes, stageWrites) => {
          const fs = mem();
          const seg = 128;
          const log = SegmentedLog.open(fs, 'l', { segmentSize: seg, endMarker: encodeEndOfSegment, tailCacheBytes, stageWrites });
          const model: number[] = [];
          const into = new Uint8Array(150); // long enough for some reads, not for others
          for (const o of ops) {
            if (o.op === 'append') {
              const at = log.nextAppendOffset(o.n);
              while (model.length < at) model.push(...encodeEndOfSegment(at - model.length));
              expect(log.append(fill(o.n, o.v))).toBe(at);
              model.push(...fill(o.n, o.v));
            } else if (o.op === 'read' || o.op === 'readTransient' || o.op === 'readInto') {
              const at = model.length === 0 ? 0 : o.at % model.length;
              const end = Math.min(at + o.len, at - (at % seg) + seg, model.length);
              const got = o.op === 'read' ? log.read(at, o.len) : o.op === 'readTransient' ? log.readTransient(at, o.len) : log.read(at, o.len, into);
              expect([...got]).toEqual(model.slice(at, end));
            } else if (o.op === 'truncate') {
              const at = model.length === 0 ? 0 : o.at % (model.length + 1);
              log.truncate(at);
              model.length = at;
            } else {
              log.drain();
            }
            expect(log.writeOffset).toBe(model.length);
          }
          log.close(); // writes what is staged
          const reopened = SegmentedLog.open(fs, 'l', { segmentSize: seg });
          expect(reopened.writeOffset).toBe(model.length);
          for (let at = 0; at < model.length; at += seg) expect([...reopened.read(at, seg)]).toEqual(model.slice(at, Math.min(at + seg, model.length)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('readTransient reads what left the tail into one buffer, reused by the next such read, and allocates nothing', () => {
    const log = SegmentedLog.open(mem(), 'l', { segmentSize: 1000, tailCacheBytes: 100 });
    for (let v = 1; v <= 5; v++) log.append(fill(100, v)); // the tail holds the last 100 bytes
    const a = log.readTransient(0, 100);
    expect([...a]).toEqual([...fill(100, 1)]);
    const b = log.readTransient(200, 50);
    expect([...b]).toEqual([...fill(50, 3)]);
    expect(b.buffer).toBe(a.buffer); // the first view now shows the second read: valid until the next one
    expect([...a.subarray(0, 50)]).toEqual([...fill(50, 3)]);
    expect([...log.readTransient(450, 50)]).toEqual([...fill(50, 5)]); // from the tail
    expect(log.read(0, 100).buffer).not.toBe(a.buffer); // read() hands out bytes of their own
  });

  it('stages small appends in the tail and writes them to the file in one write when drained, flushed or read there', async () => {
    const fs = mem();
    const writes: number[] = [];
    const counted = withFiles(fs, (f) => fileWith(f, { write: (p, d) => (writes.push(d.length), f.write(p, d)) }));
    const log = SegmentedLog.open(counted, 'st', { segmentSize: 4096, endMarker: encodeEndOfSegment, tailCacheBytes: 1024, stageWrites: true });
    const file = () => fs.open('st/' + segmentName(0)).size();
    for (let i = 0; i < 10; i++) log.append(fill(20, i + 1));
    expect(log.hasStaged).toBe(true);
    expect(writes).toEqual([]);
    expect(file()).toBe(0);
    expect([...log.read(20, 20)]).toEqual([...fill(20, 2)]); // from the tail: nothing written yet
    log.drain();
    expect(writes).toEqual([200]); // ten appends, one write
    expect(log.hasStaged).toBe(false);
    // a flush writes what is staged first
    log.append(fill(30, 11));
    await log.flush();
    expect(writes).toEqual([200, 30]);
    expect(fs.durableSize('st/' + segmentName(0))).toBe(230);
    // an append larger than a quarter of the tail goes straight to the file, after what is staged
    log.append(fill(10, 12));
    log.append(fill(300, 13));
    expect(writes).toEqual([200, 30, 10, 300]);
    // what the tail would drop to make room is written first
    for (let i = 0; i < 5; i++) log.append(fill(200, 20 + i));
    expect(writes.slice(4).reduce((a, b) => a + b, 0)).toBeLessThan(1000);
    log.drain();
    expect(file()).toBe(log.writeOffset);
    // a read from the file that reaches into what is staged writes it first
    log.append(fill(5, 98));
    expect(log.hasStaged).toBe(true);
    const all = log.read(0, 4096);
    expect(all.length).toBe(log.writeOffset);
    expect([...all.subarray(all.length - 5)]).toEqual([...fill(5, 98)]);
    expect(log.hasStaged).toBe(false);
    // a crash loses what is staged: a log's owner answers the appends only once drained
    log.append(fill(5, 99));
    fs.crash();
    expect(SegmentedLog.open(fs, 'st', { segmentSize: 4096 }).writeOffset).toBeLessThan(log.writeOffset);
  });

  it('flush makes data durable up to the offset captured at the call; a crash loses the rest', async () => {
    const fs = mem();
    const log = SegmentedLog.open(fs, 'cl', { segmentSize: 64, endMarker: encodeEndOfSegment });
    log.append(fill(40, 1));
    log.append(fill(40, 2)); // rolls to 64
    const p = log.flush();
    log.append(fill(10, 3));
    await p;
    expect(log.flushedOffset).toBe(104);
    expect(log.writeOffset).toBe(114);
    // The backend flush ran after the third append, so it may be durable too; a fourth one is not.
    const durable = fs.durableSize('cl/' + segmentName(64))! + 64;
    expect(durable).toBeGreaterThanOrEqual(104);
    log.append(fill(5, 4));
    fs.crash();
    const again = SegmentedLog.open(fs, 'cl', { segmentSize: 64 });
    expect(again.writeOffset).toBe(durable);
    expect(again.flushedOffset).toBe(durable);
    expect([...again.read(64, 40)]).toEqual([...fill(40, 2)]);
    expect(decodeRecord(again.read(40, 24), 0)).toEqual({ kind: 'end-of-segment', size: 24 });
  });

  it('concurrent flushes resolve in order and never report more than is durable', async () => {
    const fs = mem();
    const log = SegmentedLog.open(fs, 'cl', { segmentSize: 64 });
    log.append(fill(10, 1));
    const a = log.flush();
    log.append(fill(10, 2));
    const b = log.flush();
    const seen: string[] = [];
    void a.then(() => seen.push(`a${log.flushedOffset >= 10}`));
    void b.then(() => seen.push(`b${log.flushedOffset}`));
    await b;
    expect(seen).toEqual(['atrue', 'b20']);
  });

  it('truncate drops later segments; setWriteOffset recovers; deleteSegment refuses the active one', async () => {
    const fs = mem();
    const log = SegmentedLog.open(fs, 'cl', { segmentSize: 64 });
    for (let i = 0; i < 5; i++) log.append(fill(50, i + 1)); // segments 0..256
    expect(log.segments().length).toBe(5);
    await log.flush();
    log.truncate(100);
    expect(log.writeOffset).toBe(100);
    expect(log.flushedOffset).toBe(100);
    expect(log.segments().map((s) => [s.start, s.end])).toEqual([[0, 50], [64, 100]]);
    expect(() => log.deleteSegment(64)).toThrow(/EACTIVE/);
    log.deleteSegment(0);
    expect(log.minOffset).toBe(64);
    expect(log.read(10, 10).length).toBe(0);
    log.setWriteOffset(300);
    expect(log.writeOffset).toBe(300);
    expect(log.append(fill(4, 9))).toBe(300);
    expect([...log.read(256, 48)]).toEqual([...new Array(44).fill(0), 9, 9, 9, 9]);
    log.close();
    expect(() => log.append(fill(1, 1))).toThrow(/ECLOSED/);
  });
});
