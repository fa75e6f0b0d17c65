import fc from 'fast-check';
import {
  assignQueueOffsets,
  encodeWrite,
  parseQueueKey,
  planWrites,
  prepareRecords,
  queueKeyOf,
  storedProperties,
  type PutMessage,
} from '../../store/commit-log-batch.js';
import { decodeRecord, PROP_KEYS, PROP_TAGS } from '../../store/record.js';

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
