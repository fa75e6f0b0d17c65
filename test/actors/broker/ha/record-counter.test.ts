import fc from 'fast-check';
import { RecordCounter } from '../../../../actors/broker/ha/record-counter.js';
import type { ReplicaRead } from '../../../../actors/broker/store-port.js';

const SEGMENT = 1000;

/** A commit log of records by size, laid out as segments (a record that does not fit starts the next one). */
class FakeLog {
  readonly starts: number[] = [];
  private readonly sizes: number[] = [];
  writeOffset = 0;
  bytesRead = 0;

  append(size: number): void {
    const room = SEGMENT - (this.writeOffset % SEGMENT);
    if (size > room) this.writeOffset += room; // the end-of-segment filler
    this.starts.push(this.writeOffset);
    this.sizes.push(size);
    this.writeOffset += size;
  }

  /** readReplica's contract: whole records from a record boundary, at least one, past a segment's filler. */
  read = (from: number, maxBytes: number): ReplicaRead => {
    if (from >= this.writeOffset) return from === this.writeOffset ? { kind: 'none' } : { kind: 'ahead', writeOffset: this.writeOffset };
    let i = this.starts.indexOf(from);
    if (i < 0) {
      i = this.starts.findIndex((s) => s > from);
      if (i < 0 || this.starts[i]! % SEGMENT !== 0) throw new Error(`read at ${from}: not a record boundary`);
    }
    const offset = this.starts[i]!;
    const data: number[] = [];
    let bytes = 0;
    for (let k = i; k < this.starts.length && this.starts[k] === offset + bytes; k++) {
      if (bytes > 0 && bytes + this.sizes[k]! > maxBytes) break;
      data.push(this.sizes[k]!);
      bytes += this.sizes[k]!;
    }
    this.bytesRead += bytes;
    const buf = Buffer.alloc(bytes);
    let p = 0;
    for (const size of data) {
      buf.writeUInt32BE(size, p);
      p += size;
    }
    return { kind: 'data', offset, data: buf };
  };

  /** The offset of record i, or the write offset for i = the record count. */
  at(i: number): number {
    return i < this.starts.length ? this.starts[i]! : this.writeOffset;
  }
}

describe('counting records between commit log offsets (a slave\'s lag in messages)', () => {
  it('counts exactly the records in [from, to) within the limit, and nothing past it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.array(fc.integer({ min: 20, max: 200 }), { maxLength: 30 }), fc.nat(), fc.nat()), { minLength: 1, maxLength: 40 }),
        (steps) => {
          const log = new FakeLog();
          const counter = new RecordCounter(log.read, 4000, 300);
          for (const [grow, a, b] of steps) {
            for (const size of grow) log.append(size);
            const n = log.starts.length;
            const i = n === 0 ? 0 : a % (n + 1);
            const j = i + (n === 0 ? 0 : b % (n + 1 - i));
            const from = log.at(i);
            const to = log.at(j);
            expect(counter.between(from, to)).toBe(to - from > 4000 ? undefined : j - i);
          }
        },
      ),
    );
  });

  it('reads each byte of a growing log about once while a slave follows it, not the whole lag on every count', () => {
    const log = new FakeLog();
    const counter = new RecordCounter(log.read, 64_000, 1000);
    let acked = 0;
    for (let step = 0; step < 2000; step++) {
      for (let k = 0; k < 20; k++) log.append(50 + ((step * 7 + k * 13) % 150));
      acked = Math.max(acked, log.starts.length - 300 + (step % 50)); // a slave some hundreds of records behind
      expect(counter.between(log.at(acked), log.writeOffset)).toBe(log.starts.length - acked);
    }
    // each count reads the new bytes once plus at most a mark's spacing (and a record) to reach `from`
    expect(log.bytesRead).toBeLessThan(log.writeOffset + 2000 * (1000 + 200));
    // counting from scratch each time would have read the whole lag (about 300 records) every time
    expect(log.bytesRead).toBeLessThan(2000 * 300 * 50);
  });

  it('gives no count for offsets the log does not read or in the wrong order, and starts over after a cut', () => {
    const log = new FakeLog();
    for (let k = 0; k < 50; k++) log.append(100);
    const counter = new RecordCounter(log.read, 4000, 300);
    expect(counter.between(log.at(10), log.at(5))).toBeUndefined();
    expect(counter.between(log.at(10), log.writeOffset + 100)).toBeUndefined();
    expect(counter.between(log.at(10), log.at(40))).toBe(30);
    expect(counter.between(log.at(12), log.at(20))).toBe(8); // `to` below the last mark: the log may have been cut
    expect(counter.between(log.at(12), log.at(40))).toBe(28);
  });
});
