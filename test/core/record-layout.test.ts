import fc from 'fast-check';
import { readU32, readU64 } from '../../core/bytes.js';
import { bodyFieldAt, RecordField, RecordFields, RecordLayout, recordSizeAt, Scan, scanRecord } from '../../core/record-layout.js';
import type { MessageRecord } from '../../store/record.js';
import { encodeRecord } from '../support/record-encoder.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.oneof(u32, fc.maxSafeNat());
const text = (max: number) => fc.string({ unit: 'grapheme', maxLength: max });
const propStr = fc.string({ unit: 'grapheme', maxLength: 12 }).filter((s) => !/[\x01\x02]/.test(s));

const recordArb: fc.Arbitrary<MessageRecord> = fc.record({
  topic: text(60),
  queueId: u32,
  queueOffset: u64,
  commitLogOffset: u64,
  flags: u32,
  sysFlag: u32,
  bornTimestamp: u64,
  bornHost: text(60),
  storeTimestamp: u64,
  storeHost: text(60),
  reconsumeTimes: u32,
  preparedTransactionOffset: u64,
  properties: fc.dictionary(propStr.filter((s) => s.length > 0), propStr, { maxKeys: 4 }),
  body: fc.uint8Array({ maxLength: 200 }),
});

const utf8 = (b: Uint8Array, from: number, len: number): string => new TextDecoder().decode(b.subarray(from, from + len));

describe('record layout', () => {
  it('places the fixed fields where the layout says, in order, without gaps', () => {
    expect([RecordField.Size, RecordField.Magic, RecordField.Crc, RecordField.QueueId, RecordField.Flags, RecordField.QueueOffset, RecordField.CommitLogOffset, RecordField.SysFlag, RecordField.BornTimestamp, RecordField.BornHost]).toEqual([
      0, 4, 8, 12, 16, 20, 28, 36, 40, 48,
    ]);
    expect(RecordLayout.CrcEnd).toBe(12);
    expect(RecordLayout.FixedSize).toBe(77);
  });

  it('scanRecord finds every field of any record, at any position', () => {
    const f = new RecordFields();
    fc.assert(
      fc.property(recordArb, fc.nat(16), (r, lead) => {
        const bytes = encodeRecord(r);
        const buf = new Uint8Array(lead + bytes.length + 5);
        buf.set(bytes, lead);
        const end = lead + recordSizeAt(buf, lead);
        expect(end - lead).toBe(bytes.length);
        expect(readU32(buf, lead + RecordField.Magic)).toBe(RecordLayout.Magic);
        expect(readU32(buf, lead + RecordField.QueueId)).toBe(r.queueId);
        expect(readU32(buf, lead + RecordField.Flags)).toBe(r.flags);
        expect(readU64(buf, lead + RecordField.QueueOffset)).toBe(r.queueOffset);
        expect(readU64(buf, lead + RecordField.CommitLogOffset)).toBe(r.commitLogOffset);
        expect(readU32(buf, lead + RecordField.SysFlag)).toBe(r.sysFlag);
        expect(readU64(buf, lead + RecordField.BornTimestamp)).toBe(r.bornTimestamp);
        expect(scanRecord(buf, lead, end, f)).toBe(Scan.Ok);
        expect(utf8(buf, f.bornHost, f.bornHostLength)).toBe(r.bornHost);
        expect(readU64(buf, f.storeTimestamp)).toBe(r.storeTimestamp);
        expect(utf8(buf, f.storeHost, f.storeHostLength)).toBe(r.storeHost);
        expect(readU32(buf, f.reconsumeTimes)).toBe(r.reconsumeTimes);
        expect(readU64(buf, f.preparedTransactionOffset)).toBe(r.preparedTransactionOffset);
        expect(readU32(buf, f.bodyField)).toBe(r.body.length);
        expect([...buf.subarray(f.body, f.body + f.bodyLength)]).toEqual([...r.body]);
        expect(utf8(buf, f.topic, f.topicLength)).toBe(r.topic);
        expect(f.properties + f.propertiesLength).toBe(end);
        expect(bodyFieldAt(buf, lead, end)).toBe(f.bodyField);
      }),
      { numRuns: 200 },
    );
  });

  it('scanRecord refuses lengths that do not add up to the record, and bodyFieldAt agrees with it', () => {
    const f = new RecordFields();
    fc.assert(
      fc.property(recordArb, fc.nat(), fc.boolean(), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 40 }), (r, at, aLength, byte, cut) => {
        const good = encodeRecord(r);
        expect(scanRecord(good, 0, good.length, f)).toBe(Scan.Ok);
        // a changed byte among the variable fields, or in one of their length fields; or a record cut short
        const lengths = [f.bornHost - 1, f.storeHost - 1, f.bodyField, f.bodyField + 1, f.bodyField + 2, f.bodyField + 3, f.topic - 1, f.properties - 2, f.properties - 1];
        const bad = good.slice();
        const i = aLength ? lengths[at % lengths.length]! : RecordField.BornHost + (at % (good.length - RecordField.BornHost));
        bad[i] = byte;
        // bytes past the record's end that a walk must not take as its own
        const withGuard = new Uint8Array(bad.length + 64).fill(0xff);
        withGuard.set(bad);
        const code = scanRecord(withGuard, 0, bad.length, f);
        expect(bodyFieldAt(withGuard, 0, bad.length)).toBe(code === Scan.Ok ? f.bodyField : -1);
        if (code === Scan.Ok) {
          expect(f.properties + f.propertiesLength).toBe(bad.length);
          expect(f.body + f.bodyLength).toBeLessThanOrEqual(bad.length);
        }
        const short = Math.max(RecordField.BornHost + 1, good.length - cut);
        if (short < good.length) {
          expect(scanRecord(good, 0, short, f)).not.toBe(Scan.Ok);
          expect(bodyFieldAt(good, 0, short)).toBe(-1);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('scanRecord names the field that does not fit', () => {
    const r: MessageRecord = {
      topic: 'T',
      queueId: 0,
      queueOffset: 0,
      commitLogOffset: 0,
      flags: 0,
      sysFlag: 0,
      bornTimestamp: 0,
      bornHost: 'b',
      storeTimestamp: 0,
      storeHost: 's',
      reconsumeTimes: 0,
      preparedTransactionOffset: 0,
      properties: { a: 'b' },
      body: new Uint8Array(4),
    };
    const f = new RecordFields();
    const bytes = encodeRecord(r);
    expect(scanRecord(bytes, 0, bytes.length, f)).toBe(Scan.Ok);
    const longBody = bytes.slice();
    longBody[f.bodyField + 3] = 200;
    expect(scanRecord(longBody, 0, longBody.length, f)).toBe(Scan.BadBodyLength);
    const longer = new Uint8Array(bytes.length + 3);
    longer.set(bytes);
    expect(scanRecord(longer, 0, longer.length, f)).toBe(Scan.BadPropertiesLength);
    expect(longer.length - f.properties - f.propertiesLength).toBe(3);
  });
});
