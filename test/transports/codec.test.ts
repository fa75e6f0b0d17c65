import fc from 'fast-check';
import { CodecError, decodeFrame, encodeFrame, encodeFrameHead, encodedLength, MIN_FRAME_BYTES } from '../../transports/codec.js';
import { FrameKind, frame, type Frame, type HeaderValue } from '../../transports/frame.js';

const headerValue: fc.Arbitrary<HeaderValue> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.string({ unit: 'binary-ascii', maxLength: 200 }),
  fc.string({ maxLength: 100 }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.double(),
  fc.constantFrom(-0, 2 ** 31, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER, Infinity, -Infinity, NaN),
  fc.boolean(),
);

const frameArb: fc.Arbitrary<Frame> = fc.record({
  kind: fc.constantFrom(FrameKind.Request, FrameKind.Reply, FrameKind.OneWay, FrameKind.Event),
  code: fc.integer({ min: 0, max: 0xffff }),
  requestId: fc.integer({ min: 0, max: 0xffffffff }),
  status: fc.integer({ min: 0, max: 0xffff }),
  header: fc.dictionary(fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 10 })), headerValue, {
    maxKeys: 8,
  }),
  body: fc.uint8Array({ maxLength: 4096 }),
});

/** Decoding must return a frame or throw CodecError, nothing else. */
function decodeOrCodecError(bytes: Uint8Array): void {
  try {
    const f = decodeFrame(bytes);
    expect(typeof f.kind).toBe('number');
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    expect(e.code).toBe('BAD_FRAME');
  }
}

describe('frame codec', () => {
  it('round-trips arbitrary frames and predicts their length', () => {
    fc.assert(
      fc.property(frameArb, (f) => {
        const bytes = encodeFrame(f);
        expect(bytes.length).toBe(encodedLength(f));
        const back = decodeFrame(bytes);
        expect(back).toEqual(f);
        expect(Object.is(back.header['x'], f.header['x'])).toBe(true);
        for (const k of Object.keys(f.header)) expect(Object.is(back.header[k], f.header[k])).toBe(true);
        expect(back.body).toBeInstanceOf(Uint8Array);
      }),
      { numRuns: 300 },
    );
  });

  it('a frame head followed by the body is the whole encoded frame', () => {
    fc.assert(
      fc.property(frameArb, (f) => {
        const head = encodeFrameHead(f);
        expect(Array.from([...head, ...f.body])).toEqual(Array.from(encodeFrame(f)));
      }),
      { numRuns: 200 },
    );
  });

  it('keeps -0, NaN, large integers and unicode keys exactly', () => {
    const f = frame({
      code: 7,
      header: { neg: -0, nan: NaN, big: 2 ** 53 - 1, small: -(2 ** 31), '键🔑': 'värde ✓ 😀', t: true, f: false, bom: '\ufeffx' },
      body: new Uint8Array([1, 2, 3]),
    });
    const back = decodeFrame(encodeFrame(f));
    expect(Object.is(back.header['neg'], -0)).toBe(true);
    expect(back.header['nan']).toBeNaN();
    expect(back.header).toEqual(f.header);
  });

  it('encodes lone surrogates as U+FFFD with the predicted length', () => {
    const f = frame({ code: 1, header: { s: 'a\ud800b', long: '\udc00'.repeat(100) } });
    const bytes = encodeFrame(f);
    expect(bytes.length).toBe(encodedLength(f));
    expect(decodeFrame(bytes).header).toEqual({ s: 'a\ufffdb', long: '\ufffd'.repeat(100) });
  });

  it('reuses the encoding of a frozen header and stays correct', () => {
    const header = Object.freeze({ topic: 'orders', queueId: 3 });
    for (let i = 0; i < 3; i++) {
      const f = frame({ code: i, header, body: new Uint8Array([i]) });
      expect(decodeFrame(encodeFrame(f))).toEqual(f);
      expect(encodeFrame(f).length).toBe(encodedLength(f));
    }
  });

  it('decodes a header key named __proto__ as an own property', () => {
    const header: Record<string, HeaderValue> = {};
    Object.defineProperty(header, '__proto__', { value: 'x', enumerable: true });
    const back = decodeFrame(encodeFrame(frame({ code: 1, header })));
    expect(Object.getOwnPropertyDescriptor(back.header, '__proto__')?.value).toBe('x');
    expect(Object.getPrototypeOf(back.header)).toBe(Object.prototype);
  });

  it('returns a body view that does not alias the encoded frame source body', () => {
    const body = new Uint8Array([9, 8, 7]);
    const bytes = encodeFrame(frame({ code: 1, body }));
    body[0] = 0;
    expect(Array.from(decodeFrame(bytes).body)).toEqual([9, 8, 7]);
  });

  it('rejects frames it cannot encode with CodecError', () => {
    const bad: Array<Partial<Frame>> = [
      { kind: 9 as FrameKind },
      { code: 0x10000 },
      { code: -1 },
      { code: 1.5 },
      { requestId: 2 ** 32 },
      { status: 70000 },
      { header: { o: {} as unknown as string } },
      { header: { ['k'.repeat(70000)]: 1 } },
    ];
    for (const b of bad) {
      const f = { ...frame({ code: 1 }), ...b };
      expect(() => encodeFrame(f)).toThrow(CodecError);
      expect(() => encodedLength(f)).toThrow(CodecError);
    }
  });

  it('skips undefined header values', () => {
    const f = frame({ code: 1, header: { a: 1, b: undefined as unknown as string } });
    expect(decodeFrame(encodeFrame(f)).header).toEqual({ a: 1 });
    expect(encodedLength(f)).toBe(encodeFrame(f).length);
  });

  it('rejects malformed input explicitly', () => {
    const good = encodeFrame(frame({ code: 1, header: { a: 'b' }, body: new Uint8Array([1]) }));
    const mutate = (i: number, v: number): Uint8Array => {
      const c = good.slice();
      c[i] = v;
      return c;
    };
    expect(() => decodeFrame(new Uint8Array(0))).toThrow(CodecError);
    expect(() => decodeFrame(mutate(0, 0))).toThrow(/magic/);
    expect(() => decodeFrame(mutate(1, 2))).toThrow(/version/);
    expect(() => decodeFrame(mutate(2, 0))).toThrow(/kind/);
    expect(() => decodeFrame(mutate(2, 5))).toThrow(/kind/);
    expect(() => decodeFrame(mutate(16, 99))).toThrow(/type tag/); // tag after key 'a'
    const trailing = new Uint8Array(good.length + 1);
    trailing.set(good);
    expect(() => decodeFrame(trailing)).toThrow(/trailing/);
    expect(() => decodeFrame(good.subarray(0, good.length - 1))).toThrow(CodecError);
    const dup = encodeFrame(frame({ code: 1, header: { a: 1, b: 2 } }));
    dup[MIN_FRAME_BYTES - 4 + 2 + 1 + 5 + 2] = 'a'.charCodeAt(0); // rename key b -> a
    expect(() => decodeFrame(dup)).toThrow(/duplicate/);
    const badUtf8 = encodeFrame(frame({ code: 1, header: { a: 'é' } }));
    badUtf8[badUtf8.length - 5] = 0xff; // last byte of the string value
    expect(() => decodeFrame(badUtf8)).toThrow(/UTF-8/);
  });

  it('decodes a frame at an offset inside a larger buffer', () => {
    const f = frame({ code: 3, header: { k: 'v' }, body: new Uint8Array([5, 6]) });
    const bytes = encodeFrame(f);
    const big = new Uint8Array(bytes.length + 10);
    big.set(bytes, 7);
    expect(decodeFrame(big.subarray(7, 7 + bytes.length))).toEqual(f);
  });

  it('decoding arbitrary bytes returns a frame or throws CodecError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), decodeOrCodecError), { numRuns: 500 });
    // Arbitrary bytes behind a valid prefix get further into the decoder.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(1, 2, 3, 4), (tail, kind) => {
        const b = new Uint8Array(11 + tail.length);
        b.set([0xac, 1, kind, 0, 1, 0, 0, 0, 1, 0, 0]);
        b.set(tail, 11);
        decodeOrCodecError(b);
      }),
      { numRuns: 500 },
    );
  });

  it('decoding truncated encodings throws CodecError', () => {
    fc.assert(
      fc.property(frameArb, fc.nat(), (f, cut) => {
        const bytes = encodeFrame(f);
        const n = cut % bytes.length; // strictly shorter
        expect(() => decodeFrame(bytes.subarray(0, n))).toThrow(CodecError);
      }),
      { numRuns: 200 },
    );
  });

  it('decoding bit-flipped encodings returns a frame or throws CodecError', () => {
    fc.assert(
      fc.property(frameArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }), (f, flips) => {
        const bytes = encodeFrame(f);
        for (const [at, bit] of flips) bytes[at % bytes.length]! ^= 1 << bit;
        decodeOrCodecError(bytes);
      }),
      { numRuns: 300 },
    );
  });
});
