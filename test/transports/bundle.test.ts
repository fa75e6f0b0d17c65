import fc from 'fast-check';
import { BUNDLE_MAGIC, BUNDLE_VERSION, bundleSize, encodeBundle, isBundle, readBundle } from '../../transports/bundle.js';
import { CodecError, FRAME_MAGIC, encodeFrame } from '../../transports/codec.js';
import { frame } from '../../transports/frame.js';
import { NatsOutbox } from '../../transports/nats-outbox.js';

const frames = fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 2, maxLength: 20 });
const total = (fs: readonly Uint8Array[]): number => fs.reduce((n, f) => n + f.length, 0);

describe('bundles (frames of one turn to one subject, in one NATS message)', () => {
  it('reads back the frames they were made of, in order (property)', () => {
    fc.assert(
      fc.property(frames, (fs) => {
        const b = encodeBundle(fs, total(fs));
        expect(b.length).toBe(bundleSize(fs.length, total(fs)));
        expect(isBundle(b)).toBe(true);
        expect(readBundle(b).map((f) => Array.from(f))).toEqual(fs.map((f) => Array.from(f)));
      }),
    );
  });

  it('a frame is never taken for a bundle', () => {
    expect(isBundle(encodeFrame(frame({ code: 1 })))).toBe(false);
    expect(FRAME_MAGIC).not.toBe(BUNDLE_MAGIC);
  });

  it('hostile bytes are refused with CodecError, or read as a bundle that encodes back to exactly them (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (junk, lengths) => {
        const bytes = Uint8Array.of(BUNDLE_MAGIC, BUNDLE_VERSION, ...junk);
        // small lengths now and then, so that some junk parses
        if (lengths && bytes.length >= 6) bytes.set([0, 0, 0, bytes.length % 7], 2);
        let got: Uint8Array[];
        try {
          got = readBundle(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(CodecError);
          return;
        }
        expect(Array.from(encodeBundle(got, total(got)))).toEqual(Array.from(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('a length that runs past the end, a cut length, a lone frame or another version deliver nothing', () => {
    const good = encodeBundle([Uint8Array.of(1, 2), Uint8Array.of(3)], 3);
    expect(() => readBundle(good.subarray(0, good.length - 1))).toThrow(/1 bytes, 0 left/);
    expect(() => readBundle(Uint8Array.of(...good, 0, 0))).toThrow(/length is cut short/);
    const lying = Uint8Array.from(good);
    lying[2 + 3] = 200; // the first entry claims 200 bytes
    expect(() => readBundle(lying)).toThrow(CodecError);
    expect(() => readBundle(Uint8Array.of(BUNDLE_MAGIC, BUNDLE_VERSION, 0, 0, 0, 1, 7))).toThrow(/at least two/);
    expect(() => readBundle(Uint8Array.of(BUNDLE_MAGIC, 2, ...good.subarray(2)))).toThrow(/version 2/);
  });
});

describe('the NATS outbox', () => {
  const until = (): Promise<void> => new Promise((r) => queueMicrotask(r));

  it('publishes each subject\'s frames of a turn as one message at its end, a lone frame as itself', async () => {
    const sent: [string, Uint8Array][] = [];
    const box = new NatsOutbox((s, d) => sent.push([s, d]), () => 1 << 20, () => undefined);
    box.add('a', Uint8Array.of(1));
    box.add('b', Uint8Array.of(2));
    box.add('a', Uint8Array.of(3));
    expect(sent).toEqual([]);
    await until();
    expect(sent.map(([s]) => s)).toEqual(['a', 'b']);
    expect(readBundle(sent[0]![1]).map((f) => Array.from(f))).toEqual([[1], [3]]);
    expect(Array.from(sent[1]![1])).toEqual([2]);
    box.add('a', Uint8Array.of(4));
    box.flush(); // anything else the connection publishes sends what waits first
    expect(sent.length).toBe(3);
    await until();
    expect(sent.length).toBe(3);
  });

  it('never publishes more than maxPayload, and keeps every subject\'s order (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('x', 'y'), fc.integer({ min: 1, max: 200 })), { maxLength: 60 }), fc.integer({ min: 206, max: 1000 }), (adds, max) => {
        const sent: [string, Uint8Array][] = [];
        const box = new NatsOutbox((s, d) => sent.push([s, d]), () => max, () => undefined);
        adds.forEach(([s, n], i) => box.add(s, new Uint8Array(n).fill(i & 0xff)));
        box.flush();
        for (const [, d] of sent) expect(d.length).toBeLessThanOrEqual(max);
        for (const s of ['x', 'y']) {
          const got = sent.filter(([t]) => t === s).flatMap(([, d]) => (isBundle(d) ? readBundle(d) : [d]));
          const want = adds.map(([t, n], i) => [t, new Uint8Array(n).fill(i & 0xff)] as const).filter(([t]) => t === s).map(([, f]) => f);
          expect(got.map((f) => Array.from(f))).toEqual(want.map((f) => Array.from(f)));
        }
      }),
    );
  });

  it('tells how many frames a failed publish lost', async () => {
    const lost: [string, number][] = [];
    const box = new NatsOutbox(() => {
      throw new Error('closed');
    }, () => 1 << 20, (_e, s, n) => lost.push([s, n]));
    box.add('a', Uint8Array.of(1));
    box.add('a', Uint8Array.of(2));
    await until();
    expect(lost).toEqual([['a', 2]]);
  });
});
