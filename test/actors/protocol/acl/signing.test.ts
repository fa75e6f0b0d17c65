import fc from 'fast-check';
import { FrameKind, type Frame } from '../../../../transports/frame.js';
import { decodeFrame, encodeFrame } from '../../../../transports/codec.js';
import { canonicalHeader, computeSignature, signatureMatches, signFrame, SIGNATURE_FIELD } from '../../../../actors/protocol/acl/signing.js';
import { DEFAULT_REPLAY_WINDOW_MS, timestampProblem } from '../../../../actors/protocol/acl/replay.js';

const creds = { accessKey: 'producer-ak', secretKey: 'producer-sk' };
const headerValue = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true }));
const arbFrame = fc.record({
  code: fc.integer({ min: 0, max: 65535 }),
  header: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), headerValue, { maxKeys: 8 }),
  body: fc.uint8Array({ maxLength: 256 }),
});
const toFrame = (f: { code: number; header: Record<string, string | number | boolean>; body: Uint8Array }): Frame => ({ kind: FrameKind.Request, requestId: 1, status: 0, ...f });

describe('request signatures', () => {
  it('verify after a trip through the wire codec, for any header and body', () => {
    fc.assert(
      fc.property(arbFrame, fc.integer({ min: 0, max: 2 ** 42 }), (f, now) => {
        const signed = signFrame(toFrame(f), creds, now);
        const back = decodeFrame(encodeFrame(signed));
        expect(signatureMatches(creds.secretKey, back)).toBe(true);
        expect(signatureMatches('another-secret', back)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('break when any header field, the code or a body byte changes', () => {
    fc.assert(
      fc.property(arbFrame, fc.nat(), (f, pick) => {
        const signed = signFrame(toFrame({ ...f, body: new Uint8Array([...f.body, 1]) }), creds, 1_700_000_000_000);
        const body = signed.body.slice();
        body[pick % body.length]! ^= 1;
        expect(signatureMatches(creds.secretKey, { ...signed, body })).toBe(false);
        expect(signatureMatches(creds.secretKey, { ...signed, code: (signed.code + 1) % 65536 })).toBe(false);
        expect(signatureMatches(creds.secretKey, { ...signed, header: { ...signed.header, Timestamp: 1_700_000_000_001 } })).toBe(false);
        expect(signatureMatches(creds.secretKey, { ...signed, header: { ...signed.header, topic: 'other' + String(signed.header.topic ?? '') } })).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('keep types apart and ignore the order of header fields', () => {
    expect(canonicalHeader(10, { a: 1, b: 'x' })).toBe(canonicalHeader(10, { b: 'x', a: 1 }));
    // the text is JSON of [code, [[key, value], ...]] with the keys sorted: what signers elsewhere must make
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.double(), fc.integer(), fc.boolean())), (code, header) => {
        const entries = Object.keys(header)
          .filter((k) => k !== SIGNATURE_FIELD)
          .sort()
          .map((k) => [k, header[k]]);
        expect(canonicalHeader(code, header)).toBe(JSON.stringify([code, entries]));
      }),
      { numRuns: 300 },
    );
    expect(canonicalHeader(10, { a: 1 })).not.toBe(canonicalHeader(10, { a: '1' }));
    expect(canonicalHeader(10, { a: 1, [SIGNATURE_FIELD]: 'x' })).toBe(canonicalHeader(10, { a: 1 }));
  });

  it('sign a 1 MiB body without copying it', () => {
    const body = new Uint8Array(1 << 20).fill(7);
    const signed = signFrame(toFrame({ code: 320, header: { topic: 't' }, body }), creds, 5);
    expect(signed.body).toBe(body);
    expect(signed.header.Signature).toBe(computeSignature(creds.secretKey, 320, { topic: 't', AccessKey: creds.accessKey, Timestamp: 5 }, body));
  });
});

describe('the replay window', () => {
  const now = 1_700_000_000_000;
  it('accepts timestamps within the window either way and refuses the rest, saying how far off', () => {
    fc.assert(
      fc.property(fc.integer({ min: -200_000, max: 200_000 }), (skew) => {
        const problem = timestampProblem(now + skew, now, DEFAULT_REPLAY_WINDOW_MS);
        expect(problem === undefined).toBe(Math.abs(skew) <= DEFAULT_REPLAY_WINDOW_MS);
      }),
    );
    expect(timestampProblem(now - 61_000, now, 60_000)).toMatch(/61000 ms old, outside the 60000 ms window/);
    expect(timestampProblem(now + 61_000, now, 60_000)).toMatch(/ahead/);
    expect(timestampProblem('1', now, 60_000)).toMatch(/no Timestamp/);
    expect(timestampProblem(undefined, now, 60_000)).toMatch(/no Timestamp/);
  });
});
