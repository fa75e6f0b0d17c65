import fc from 'fast-check';
import { readU32 } from '../../core/bytes.js';
import { RecordLayout } from '../../core/record-layout.js';
import {
  decodeRecord,
  encodeEndOfSegment,
  RecordError,
  splitKeys,
  type MessageRecord,
  crc32Range,
  crc32Table,
  recordBodyAt,
} from '../../store/record.js';
import { encodeRecord, encodeRecordInto, recordSize } from '../support/record-encoder.js';

const END_OF_SEGMENT_MIN = RecordLayout.EndOfSegmentMin;
const RECORD_FIXED_SIZE = RecordLayout.FixedSize;

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.maxSafeNat());
const str = (maxLength: number) => fc.string({ unit: 'grapheme', maxLength: Math.floor(maxLength / 4) });
const propStr = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((s) => !/[\x01\x02]/.test(s));

const recordArb: fc.Arbitrary<MessageRecord> = fc.record({
  topic: str(255),
  queueId: u32,
  queueOffset: u64,
  commitLogOffset: u64,
  flags: u32,
  sysFlag: u32,
  bornTimestamp: u64,
  bornHost: str(255),
  storeTimestamp: u64,
  storeHost: str(255),
  reconsumeTimes: u32,
  preparedTransactionOffset: u64,
  properties: fc.dictionary(propStr.filter((s) => s.length > 0), propStr, { maxKeys: 6 }),
  body: fc.uint8Array({ maxLength: 300 }),
});

const sample = (): MessageRecord => ({
  topic: 'orders',
  queueId: 3,
  queueOffset: 42,
  commitLogOffset: 2 ** 40 + 7,
  flags: 0,
  sysFlag: 0,
  bornTimestamp: 1_700_000_000_123,
  bornHost: 'producer-1',
  storeTimestamp: 1_700_000_000_456,
  storeHost: 'broker-a/0',
  reconsumeTimes: 1,
  preparedTransactionOffset: 0,
  properties: { TAGS: 'paid', KEYS: 'o-42 o-43', 'ünï': 'cødé' },
  body: new TextEncoder().encode('hello world'),
});

describe('record codec', () => {
  it('round-trips arbitrary records, batched into one buffer at an offset', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 4 }), fc.nat(16), (records, lead) => {
        const total = records.reduce((n, r) => n + recordSize(r), lead);
        const buf = new Uint8Array(total);
        let pos = lead;
        for (const r of records) pos += encodeRecordInto(r, buf, pos);
        expect(pos).toBe(total);
        pos = lead;
        for (const r of records) {
          const d = decodeRecord(buf, pos);
          if (d.kind !== 'record') throw new Error(`expected record, got ${JSON.stringify(d)}`);
          expect(d.size).toBe(recordSize(r));
          expect({ ...d.record, body: [...d.record.body] }).toEqual({ ...r, body: [...r.body] });
          pos += d.size;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('detects any single byte change (never decodes a wrong record)', () => {
    fc.assert(
      fc.property(recordArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (r, at, xor) => {
        const buf = encodeRecord(r);
        const i = at % buf.length;
        buf[i] ^= xor;
        const d = decodeRecord(buf, 0);
        expect(['corrupt', 'incomplete']).toContain(d.kind);
      }),
      { numRuns: 2000 },
    );
  });

  it('truncated buffers decode as incomplete', () => {
    fc.assert(
      fc.property(recordArb, fc.nat(), (r, cut) => {
        const buf = encodeRecord(r);
        const d = decodeRecord(buf.subarray(0, cut % buf.length), 0);
        expect(d.kind).toBe('incomplete');
      }),
      { numRuns: 300 },
    );
  });

  it('zero bytes are blank corruption or incomplete, never end-of-segment', () => {
    expect(decodeRecord(new Uint8Array(4), 0).kind).toBe('incomplete');
    const d = decodeRecord(new Uint8Array(100), 0);
    expect(d).toEqual({ kind: 'corrupt', reason: expect.any(String), blank: true });
  });

  it('end-of-segment marker decodes with its size; short ones are zeros', () => {
    for (const n of [8, 9, 100, 4096]) {
      const m = encodeEndOfSegment(n);
      expect(m.length).toBe(n);
      expect(decodeRecord(m, 0)).toEqual({ kind: 'end-of-segment', size: n });
    }
    expect([...encodeEndOfSegment(END_OF_SEGMENT_MIN - 1)]).toEqual(new Array(7).fill(0));
    expect(encodeEndOfSegment(0).length).toBe(0);
  });

  it('a record in the middle of a larger buffer decodes and keeps the body as a view', () => {
    const r = sample();
    const buf = new Uint8Array(recordSize(r) + 20);
    encodeRecordInto(r, buf, 10);
    const d = decodeRecord(buf, 10);
    expect(d.kind).toBe('record');
    if (d.kind === 'record') {
      expect(d.record.body.buffer).toBe(buf.buffer);
      expect(d.record.properties).toEqual(r.properties);
      expect(d.record.commitLogOffset).toBe(2 ** 40 + 7);
    }
  });

  it('rejects unencodable records with RecordError', () => {
    expect(() => recordSize({ ...sample(), topic: 'x'.repeat(256) })).toThrow(RecordError);
    expect(() => encodeRecord({ ...sample(), queueOffset: 2 ** 53 })).toThrow(/queueOffset/);
    expect(() => encodeRecord({ ...sample(), queueId: -1 })).toThrow(RecordError);
    expect(() => encodeRecord({ ...sample(), properties: { a: 'x\x01y' } })).toThrow(/separator/);
    expect(() => recordSize({ ...sample(), properties: { a: 'x'.repeat(70000) } })).toThrow(/ETOOLARGE/);
    expect(() => encodeRecordInto(sample(), new Uint8Array(10), 0)).toThrow(RangeError);
  });

  it('sizes and keys helpers', () => {
    const empty = { ...sample(), topic: '', bornHost: '', storeHost: '', properties: {}, body: new Uint8Array(0) };
    expect(recordSize(empty)).toBe(RECORD_FIXED_SIZE);
    expect(splitKeys('a  b c')).toEqual(['a', 'b', 'c']);
    expect(splitKeys(undefined)).toEqual([]);
  });

  it('encodes a batch quickly', () => {
    const r = { ...sample(), body: new Uint8Array(1024) };
    const n = 5000;
    const t0 = performance.now();
    const size = recordSize(r);
    const buf = new Uint8Array(size * n);
    for (let i = 0; i < n; i++) encodeRecordInto({ ...r, queueOffset: i }, buf, i * size);
    const encMs = performance.now() - t0;
    const t1 = performance.now();
    let ok = 0;
    for (let i = 0; i < n; i++) if (decodeRecord(buf, i * size).kind === 'record') ok++;
    expect(ok).toBe(n);
    const decMs = performance.now() - t1;
    expect(encMs).toBeLessThan(2000);
    expect(decMs).toBeLessThan(4000);
  });
});

describe('crc32Range', () => {
  it('matches the table-driven CRC on any range and starting value, short and long (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 0xffffffff }), (bytes, a, b, crc) => {
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
        const end = start + (bytes.length - start === 0 ? 0 : b % (bytes.length - start + 1));
        expect(crc32Range(bytes, start, end, crc)).toBe(crc32Table(bytes, start, end, crc));
      }),
      { numRuns: 300 },
    );
  });
});

describe('reads without the CRC', () => {
  it('recordBodyAt finds the body field of every well-formed record and refuses a wrong offset or size', () => {
    fc.assert(
      fc.property(recordArb, fc.nat(16), (r, lead) => {
        const bytes = encodeRecord(r);
        const buf = new Uint8Array(lead + bytes.length);
        buf.set(bytes, lead);
        const at = recordBodyAt(buf, lead, r.commitLogOffset, bytes.length);
        expect(at).toBe(lead + 48 + 1 + Buffer.byteLength(r.bornHost) + 8 + 1 + Buffer.byteLength(r.storeHost) + 12);
        expect(readU32(buf, at)).toBe(r.body.length);
        expect(recordBodyAt(buf, lead, r.commitLogOffset + 1)).toBe(-1);
        expect(recordBodyAt(buf, lead, r.commitLogOffset, bytes.length + 1)).toBe(-1);
        expect(recordBodyAt(buf.subarray(0, buf.length - 1), lead, r.commitLogOffset)).toBe(-1);
      }),
      { numRuns: 100 },
    );
  });

  it('decodeRecord skips the CRC only when asked', () => {
    const bytes = encodeRecord(sample());
    bytes[8] ^= 0xff; // the CRC field itself
    expect(decodeRecord(bytes, 0).kind).toBe('corrupt');
    const d = decodeRecord(bytes, 0, false);
    expect(d.kind).toBe('record');
    const bad = encodeRecord(sample());
    bad[4] ^= 0xff; // magic
    expect(decodeRecord(bad, 0, false).kind).toBe('corrupt');
    expect(recordBodyAt(bad, 0, sample().commitLogOffset)).toBe(-1);
  });
});
