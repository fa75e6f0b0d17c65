import fc from 'fast-check';
import { PROP_KEYS, PROP_TAGS } from '../../core/record-layout.js';
import { BatchEncoder, assignQueueOffsets, parseQueueKey, planWrites, queueKeyOf, type PutMessage } from '../../store/commit-log-batch.js';
import { decodeRecord, RecordError } from '../../store/record.js';
import { encodeWrite, prepareRecords, storedProperties } from '../support/record-encoder.js';

const msg = (topic: string, queueId: number, body = 'x'): PutMessage => ({
  topic,
  queueId,
  body: new TextEncoder().encode(body),
  bornTimestamp: 1,
  bornHost: 'p1',
});

describe('assignQueueOffsets', () => {
  it('numbers each queue from its next offset, in batch order, without touching the input map', () => {
    const next = new Map([[queueKeyOf('a', 0), 5]]);
    const { offsets, updates } = assignQueueOffsets(next, [msg('a', 0), msg('b', 1), msg('a', 0), msg('a', 1), msg('b', 1)]);
    expect(offsets).toEqual([5, 0, 6, 0, 1]);
    expect(Object.fromEntries(updates)).toEqual({ 'a#0': 7, 'b#1': 2, 'a#1': 1 });
    expect(next.get('a#0')).toBe(5);
  });

  it('gives consecutive, distinct offsets per queue (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('t1', 't2'), fc.integer({ min: 0, max: 3 })), { maxLength: 60 }), fc.nat(100), (pairs, start) => {
        const next = new Map([[queueKeyOf('t1', 0), start]]);
        const { offsets, updates } = assignQueueOffsets(next, pairs.map(([t, q]) => msg(t, q)));
        const seen = new Map<string, number[]>();
        pairs.forEach(([t, q], i) => {
          const k = queueKeyOf(t, q);
          seen.set(k, [...(seen.get(k) ?? []), offsets[i]!]);
        });
        for (const [k, list] of seen) {
          const first = next.get(k) ?? 0;
          expect(list).toEqual(list.map((_, i) => first + i));
          expect(updates.get(k)).toBe(first + list.length);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('round-trips queue keys', () => {
    expect(parseQueueKey(queueKeyOf('%RETRY%g-1', 12))).toEqual({ topic: '%RETRY%g-1', queueId: 12 });
  });
});

describe('storedProperties', () => {
  it('folds tags and keys into properties', () => {
    expect(storedProperties({ ...msg('a', 0), tags: 'paid', keys: ['k1', 'k2'], properties: { x: '1' } })).toEqual({
      x: '1',
      [PROP_TAGS]: 'paid',
      [PROP_KEYS]: 'k1 k2',
    });
    expect(storedProperties(msg('a', 0))).toEqual({});
  });

  it('adds uniqKey as the last property, unless the properties carry a UNIQ_KEY', () => {
    const got = storedProperties({ ...msg('a', 0), tags: 'paid', uniqKey: 'U' });
    expect(Object.entries(got)).toEqual([
      [PROP_TAGS, 'paid'],
      ['UNIQ_KEY', 'U'],
    ]);
    expect(storedProperties({ ...msg('a', 0), uniqKey: 'U', properties: { UNIQ_KEY: 'mine' } })).toEqual({ UNIQ_KEY: 'mine' });
  });

  it('spells a numbered unique key as its prefix and 8 hex digits; a uniqKey string comes first', () => {
    expect(storedProperties({ ...msg('a', 0), uniqPrefix: 'P-', uniqSeq: 0xab })).toEqual({ UNIQ_KEY: 'P-000000AB' });
    expect(storedProperties({ ...msg('a', 0), uniqPrefix: 'P-', uniqSeq: 0xffffffff, uniqKey: 'U' })).toEqual({ UNIQ_KEY: 'U' });
    expect(storedProperties({ ...msg('a', 0), uniqPrefix: 'P-', uniqSeq: 1, properties: { UNIQ_KEY: 'mine' } })).toEqual({ UNIQ_KEY: 'mine' });
  });
});

describe('planWrites', () => {
  it('keeps a batch in one write when it fits', () => {
    expect(planWrites([10, 20, 30], 100, 1000)).toEqual([{ offset: 100, from: 0, to: 3, bytes: 60 }]);
  });

  it('rolls to the next segment when a record does not fit, one write per segment', () => {
    expect(planWrites([40, 40, 40], 920, 1000)).toEqual([
      { offset: 920, from: 0, to: 2, bytes: 80 },
      { offset: 1000, from: 2, to: 3, bytes: 40 },
    ]);
    // exactly filling a segment stays in it
    expect(planWrites([80], 920, 1000)).toEqual([{ offset: 920, from: 0, to: 1, bytes: 80 }]);
  });

  it('refuses a record larger than a segment', () => {
    expect(() => planWrites([1001], 0, 1000)).toThrow(RangeError);
  });

  it('never lets a record cross a segment end and keeps records contiguous (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 40 }), fc.nat(5000), (sizes, start) => {
        const seg = 300;
        const plan = planWrites(sizes, start, seg);
        let i = 0;
        for (const w of plan) {
          expect(w.from).toBe(i);
          let pos = w.offset;
          for (let k = w.from; k < w.to; k++) {
            expect(Math.floor(pos / seg)).toBe(Math.floor((pos + sizes[k]! - 1) / seg));
            pos += sizes[k]!;
          }
          expect(pos - w.offset).toBe(w.bytes);
          i = w.to;
        }
        expect(i).toBe(sizes.length);
      }),
      { numRuns: 200 },
    );
  });
});

describe('encodeWrite', () => {
  it('encodes records back to back, stamped with their commit log offsets', () => {
    const batch = [msg('a', 0, 'one'), msg('a', 0, 'two'), msg('b', 3, 'three')];
    const recs = prepareRecords(batch, [0, 1, 0], 777, 'broker-a');
    const [w] = planWrites(
      recs.map((r) => r.size),
      5000,
      1 << 20,
    );
    const { buf, offsets } = encodeWrite(recs, w!);
    let p = 0;
    batch.forEach((m, i) => {
      const d = decodeRecord(buf, p);
      if (d.kind !== 'record') throw new Error(`expected a record, got ${d.kind}`);
      expect(d.record.commitLogOffset).toBe(5000 + p);
      expect(offsets[i]).toBe(5000 + p);
      expect(d.record.topic).toBe(m.topic);
      expect(new TextDecoder().decode(d.record.body)).toBe(new TextDecoder().decode(m.body));
      expect(d.record.storeTimestamp).toBe(777);
      expect(d.record.storeHost).toBe('broker-a');
      p += d.size;
    });
    expect(p).toBe(buf.length);
  });
});

describe('BatchEncoder', () => {
  const arbMessage = fc.record({
    topic: fc.constantFrom('a', 'orders', 'Tópico'),
    queueId: fc.integer({ min: 0, max: 3 }),
    body: fc.uint8Array({ maxLength: 120 }),
    tags: fc.option(fc.constantFrom('', 'paid', 'x||y', 'ünï'), { nil: undefined }),
    keys: fc.option(fc.array(fc.constantFrom('k1', 'k 2', 'ключ'), { maxLength: 3 }), { nil: undefined }),
    properties: fc.option(fc.dictionary(fc.constantFrom('p', 'UNIQ_KEY', '7', 'TAGS', 'KEYS', 'ñame'), fc.string({ maxLength: 6 }).filter((v) => !/[\x01\x02]/.test(v))), { nil: undefined }),
    uniqKey: fc.option(fc.constantFrom('U1', '0123456789ABCDEF0123456789ABCDEF', 'ü'), { nil: undefined }),
    uniqPrefix: fc.option(fc.constantFrom('0123456789ABCDEF01234567', 'P-', 'ü-'), { nil: undefined }),
    uniqSeq: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
    bornTimestamp: fc.nat(),
    bornHost: fc.constantFrom('p1', '10.0.0.1:5000'),
    flags: fc.option(fc.nat(), { nil: undefined }),
    sysFlag: fc.option(fc.nat(15), { nil: undefined }),
    reconsumeTimes: fc.option(fc.nat(16), { nil: undefined }),
    preparedTransactionOffset: fc.option(fc.nat(), { nil: undefined }),
  });

  it('writes exactly the bytes of prepareRecords + planWrites + encodeWrite (property)', () => {
    const enc = new BatchEncoder('broker-a');
    fc.assert(
      fc.property(
        fc.array(arbMessage, { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 4000 }),
        (raw, share, start) => {
          // Messages sharing one properties object take the encoder's cached path.
          const shared = raw[0]!.properties;
          const batch: PutMessage[] = raw.map((m) => (share ? { ...m, properties: shared, tags: raw[0]!.tags, keys: raw[0]!.keys } : m));
          const offsets = batch.map((_, i) => i * 3);
          const segmentSize = 1024;
          const recs = prepareRecords(batch, offsets, 777, 'broker-a');
          const plan = planWrites(recs.map((r) => r.size), start, segmentSize);
          const got = enc.encode(batch, offsets, 777, start, segmentSize);
          expect(got.writes.map((w) => w.offset)).toEqual(plan.map((w) => w.offset));
          plan.forEach((w, k) => {
            const want = encodeWrite(recs, w);
            expect(Buffer.from(got.writes[k]!.buf)).toEqual(Buffer.from(want.buf));
            expect(got.offsets.slice(w.from, w.to)).toEqual(want.offsets);
          });
          expect(got.sizes).toEqual(recs.map((r) => r.size));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuses a batch with an invalid message before encoding any of it', () => {
    const enc = new BatchEncoder('broker-a');
    expect(() => enc.encode([msg('a', 0), { ...msg('a', 0), queueId: -1 }], [0, 1], 1, 0, 1 << 20)).toThrow(RecordError);
    expect(() => enc.encode([{ ...msg('a', 0), properties: { 'a\x01': 'v' } }], [0], 1, 0, 1 << 20)).toThrow(/separator/);
    expect(() => enc.encode([{ ...msg('a', 0), properties: { p: 'x'.repeat(70_000) } }], [0], 1, 0, 1 << 20)).toThrow(/ETOOLARGE/);
    expect(() => enc.encode([msg('a'.repeat(300), 0)], [0], 1, 0, 1 << 20)).toThrow(/topic/);
    expect(() => enc.encode([msg('a', 0, 'y'.repeat(2000))], [0], 1, 0, 1024)).toThrow(RangeError);
  });
});
