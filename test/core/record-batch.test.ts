import fc from 'fast-check';
import { MessageCodecError, decodeMessageExtBatch, encodeMessageExtBatch } from '../../core/message-codec.js';
import type { MessageExt } from '../../core/message.js';
import { decodePullBody, decodeRecordBatch, encodeRecordBatch } from '../../core/record-batch.js';
import { PROP_KEYS, PROP_TAGS } from '../../core/record-layout.js';
import type { MessageRecord } from '../../store/record.js';
import { encodeRecordInto, recordSize } from '../support/record-encoder.js';

const noSeparators = (s: string): boolean => !/[\x01\x02]/.test(s);
const propName = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }).filter((s) => noSeparators(s) && s !== PROP_TAGS && s !== PROP_KEYS && s !== '__proto__');
const propValue = fc.string({ unit: 'grapheme', maxLength: 40 }).filter(noSeparators);
const host = fc.constantFrom('10.0.0.1:10911', '10.0.0.2:10911', 'broker-b:10911');

const recordArb = fc.record({
  topic: fc.constantFrom('T', 'orders', 'TopicTest'),
  queueId: fc.integer({ min: 0, max: 0xffffffff }),
  queueOffset: fc.maxSafeNat(),
  bornTimestamp: fc.maxSafeNat(),
  storeTimestamp: fc.maxSafeNat(),
  reconsumeTimes: fc.integer({ min: 0, max: 0xffffffff }),
  bornHost: host,
  storeHost: host,
  tags: fc.option(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter(noSeparators), { nil: undefined }),
  keys: fc.option(fc.string({ maxLength: 30 }).filter(noSeparators), { nil: undefined }),
  others: fc.dictionary(propName, propValue, { maxKeys: 6 }),
  body: fc.uint8Array({ maxLength: 300 }),
});

type Spec = typeof recordArb extends fc.Arbitrary<infer T> ? T : never;

const PREFIX = 'C0A8000100002A9F';
const hex16 = (n: number): string => n.toString(16).toUpperCase().padStart(16, '0');

function toRecord(s: Spec, commitLogOffset: number): MessageRecord {
  const properties: Record<string, string> = {};
  if (s.tags !== undefined) properties[PROP_TAGS] = s.tags;
  // the others between TAGS and KEYS, so that the encoder must pick them out of the middle
  Object.assign(properties, s.others);
  if (s.keys !== undefined) properties[PROP_KEYS] = s.keys;
  return { ...s, commitLogOffset, flags: 0, sysFlag: 0, preparedTransactionOffset: 0, properties };
}

/** What a consumer must see for a record: TAGS and KEYS as fields (empty keys dropped), the rest as properties. */
function expected(s: Spec, commitLogOffset: number): MessageExt {
  const m: MessageExt = {
    msgId: PREFIX + hex16(commitLogOffset),
    topic: s.topic,
    queueId: s.queueId,
    queueOffset: s.queueOffset,
    commitLogOffset,
    bornTimestamp: s.bornTimestamp,
    storeTimestamp: s.storeTimestamp,
    reconsumeTimes: s.reconsumeTimes,
    bornHost: s.bornHost,
    storeHost: s.storeHost,
    body: s.body,
  };
  if (s.tags !== undefined) m.tags = s.tags;
  const keys = (s.keys ?? '').split(' ').filter((k) => k.length > 0);
  if (keys.length > 0) m.keys = keys;
  if (Object.keys(s.others).length > 0) m.properties = { ...s.others };
  return m;
}

/** Records in up to two buffers, some with a gap before them (a pull reads its records in spans). */
function layout(specs: Spec[], split: number, base: number, gaps: boolean[]): { bufs: Uint8Array[]; positions: number[]; want: MessageExt[] } {
  const records = specs.map((s) => toRecord(s, 0));
  const cut = Math.min(split, records.length);
  const bufs: Uint8Array[] = [];
  const positions: number[] = [];
  const want: MessageExt[] = [];
  let offset = base;
  for (const [from, to] of [
    [0, cut],
    [cut, records.length],
  ] as const) {
    const sizes = records.slice(from, to).map(recordSize);
    const buf = new Uint8Array(7 + sizes.reduce((a, b) => a + b, 0) + 3 * (to - from));
    let p = 7; // records need not start at the buffer's start
    for (let i = from; i < to; i++) {
      if (gaps[i % gaps.length]) p += 3;
      records[i]!.commitLogOffset = offset;
      encodeRecordInto(records[i]!, buf, p);
      bufs.push(buf);
      positions.push(p);
      want.push(expected(specs[i]!, offset));
      p += sizes[i - from]!;
      offset += sizes[i - from]!;
    }
  }
  return { bufs, positions, want };
}

const prefixBytes = new TextEncoder().encode(PREFIX);

describe('record batch (the pull reply)', () => {
  it('decodes to the messages a consumer must see: TAGS and KEYS as fields, the rest as properties (property)', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 12 }), fc.nat({ max: 3 }), fc.nat({ max: 1 << 20 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }), (specs, split, base, gaps) => {
        const { bufs, positions, want } = layout(specs, split, base, gaps);
        const body = encodeRecordBatch(bufs, positions, specs.length, prefixBytes);
        expect(decodeRecordBatch(body, { copyBodies: true })).toEqual(want);
        expect(decodePullBody(body)).toEqual(want);
        // the same messages as the MessageExt batch a broker without records answers with
        expect(decodePullBody(encodeMessageExtBatch(want))).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a string that starts with U+FEFF (a byte order mark is text here, not a marker to drop)', () => {
    const s: Spec = { topic: 'T', queueId: 1, queueOffset: 2, bornTimestamp: 3, storeTimestamp: 4, reconsumeTimes: 0, bornHost: 'broker-b:10911', storeHost: 'broker-b:10911', tags: '\uFEFFtag', keys: '\uFEFFk', others: { '\uFEFFname': '\uFEFF', p: '\uFEFFvalue' }, body: new Uint8Array([1]) };
    const { bufs, positions, want } = layout([s], 1, 0, [false]);
    expect(decodeRecordBatch(encodeRecordBatch(bufs, positions, 1, prefixBytes), { copyBodies: true })).toEqual(want);
    const ext = { ...want[0]!, msgId: '\uFEFF', bornHost: '\uFEFFhost', storeHost: '\uFEFFstore' };
    expect(decodeMessageExtBatch(encodeMessageExtBatch([ext, { ...ext, msgId: '' }]))).toEqual([ext, { ...ext, msgId: '' }]);
  });

  it('refuses a cut or corrupted body with BAD_FRAME, never another error', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 4 }), fc.nat(), fc.nat({ max: 255 }), (specs, at, v) => {
        const { bufs, positions } = layout(specs, 1, 0, [false]);
        const body = encodeRecordBatch(bufs, positions, specs.length, prefixBytes);
        for (const bad of [body.subarray(0, at % body.length), Uint8Array.from(body, (b, i) => (i === at % body.length ? v : b))]) {
          try {
            decodeRecordBatch(bad);
          } catch (err) {
            expect(err).toBeInstanceOf(MessageCodecError);
          }
        }
        expect(() => decodeRecordBatch(body.subarray(0, body.length - 1))).toThrow(MessageCodecError);
        expect(() => decodeRecordBatch(Uint8Array.from([...body, 0]))).toThrow(/trailing/);
      }),
      { numRuns: 300 },
    );
  });
});
