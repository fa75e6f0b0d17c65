import fc from 'fast-check';
import { decodeSendMany, decodeSendManyReply, encodeSendMany, encodeSendManyReply, MAX_SEND_PARTS, type SendPart } from '../../../actors/protocol/send-many.js';
import { Status, StatusError } from '../../../core/status.js';

const hex = fc.constantFrom(...'0123456789ABCDEF');
const part: fc.Arbitrary<SendPart> = fc.record({
  topic: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
  queueId: fc.nat(0xffffffff),
  uniqPrefix: fc.array(hex, { minLength: 24, maxLength: 24 }).map((a) => a.join('')),
  uniqFirst: fc.nat(0xffffffff),
  batch: fc.uint8Array({ maxLength: 64 }),
});

function badFrame(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).status).toBe(Status.BAD_FRAME);
    return;
  }
  throw new Error('expected BAD_FRAME');
}

describe('SEND_MANY codec', () => {
  it('round-trips parts and reply parts (property)', () => {
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 8 }), (parts) => {
        const decoded = decodeSendMany(encodeSendMany(parts));
        expect(decoded.map((p) => ({ ...p, batch: [...p.batch] }))).toEqual(parts.map((p) => ({ ...p, batch: [...p.batch] })));
        const replies = parts.map((p, i) => ({ status: i % 3 === 0 ? Status.OK : Status.TOPIC_NOT_EXIST, body: p.batch }));
        expect(decodeSendManyReply(encodeSendManyReply(replies), replies.length)).toEqual(replies);
      }),
      { numRuns: 200 },
    );
  });

  it('hostile bodies are refused as BAD_FRAME, or decode to parts that encode back to exactly the same bytes (property)', () => {
    const mutated = fc.tuple(fc.array(part, { minLength: 1, maxLength: 4 }), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(8)).map(([parts, at, byte, cut]) => {
      const b = encodeSendMany(parts);
      b[at % b.length] = byte;
      return b.subarray(0, b.length - cut);
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated), (bytes) => {
        let parts: SendPart[];
        try {
          parts = decodeSendMany(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(StatusError);
          expect((err as StatusError).status).toBe(Status.BAD_FRAME);
          return;
        }
        expect([...encodeSendMany(parts)]).toEqual([...bytes]);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses counts that lie, lengths past the end, bytes after the last part, and a wrong reply count', () => {
    const one: SendPart = { topic: 'T', queueId: 1, uniqPrefix: '0123456789ABCDEF01234567', uniqFirst: 5, batch: new Uint8Array([1, 2, 3]) };
    const b = encodeSendMany([one]);
    badFrame(() => decodeSendMany(new Uint8Array(0)));
    badFrame(() => decodeSendMany(new Uint8Array([0, 0])));
    const two = b.slice();
    two[1] = 2;
    badFrame(() => decodeSendMany(two));
    badFrame(() => decodeSendMany(new Uint8Array([...b, 0])));
    const long = b.slice();
    long[long.length - 4] = 0xff; // batch length's last byte: far past the end
    badFrame(() => decodeSendMany(long));
    const lower = b.slice();
    lower[2 + 2 + 1 + 4] = 'a'.charCodeAt(0); // a lowercase digit in the unique key prefix
    badFrame(() => decodeSendMany(lower));
    expect(() => encodeSendMany(Array.from({ length: MAX_SEND_PARTS + 1 }, () => one))).toThrow(StatusError);
    badFrame(() => decodeSendManyReply(encodeSendManyReply([{ status: 0, body: new Uint8Array(0) }]), 2));
  });
});
