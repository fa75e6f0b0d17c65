import fc from 'fast-check';
import type { Message, MessageExt } from '../../core/message.js';
import {
  decodeMessageBatch,
  decodeMessageExtBatch,
  encodeMessageBatch,
  encodeMessageExtBatch,
  derivedId,
  encodedMessageSize,
  MESSAGE_BATCH_VERSION,
  MESSAGE_EXT_BATCH_VERSION,
  MessageCodecError,
} from '../../core/message-codec.js';

const str = (maxLength = 20) => fc.oneof(fc.string({ unit: 'binary', maxLength }), fc.string({ maxLength }));
const u53 = fc.maxSafeNat();
const props = fc.dictionary(str(10), str(30), { maxKeys: 4 });
const body = fc.uint8Array({ maxLength: 200 });

const messageArb: fc.Arbitrary<Message> = fc.record(
  {
    topic: str(),
    body,
    tags: str(),
    keys: fc.array(str(), { maxLength: 3 }),
    properties: props,
    delayLevel: fc.nat({ max: 0xffffffff }),
    deliverAt: u53,
    shardingKey: str(),
  },
  { requiredKeys: ['topic', 'body'] },
);

const extArb: fc.Arbitrary<MessageExt> = fc.record(
  {
    msgId: str(32),
    topic: str(),
    queueId: fc.nat({ max: 0xffffffff }),
    queueOffset: u53,
    commitLogOffset: u53,
    bornTimestamp: u53,
    storeTimestamp: u53,
    reconsumeTimes: fc.nat({ max: 0xffffffff }),
    bornHost: str(),
    storeHost: str(),
    tags: str(),
    keys: fc.array(str(), { maxLength: 3 }),
    properties: props,
    body,
  },
  { requiredKeys: ['msgId', 'topic', 'queueId', 'queueOffset', 'commitLogOffset', 'bornTimestamp', 'storeTimestamp', 'reconsumeTimes', 'bornHost', 'storeHost', 'body'] },
);

/** Compares with bodies as plain arrays (views and copies compare equal). */
const norm = <T extends { body: Uint8Array }>(xs: T[]) => xs.map((m) => ({ ...m, body: Array.from(m.body) }));

function expectCodecError(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MessageCodecError);
    expect((err as MessageCodecError).code).toBe('BAD_FRAME');
    return;
  }
  throw new Error('expected a MessageCodecError');
}

describe('message batch codec', () => {
  it('round-trips any batch of messages', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 8 }), fc.boolean(), (msgs, copyBodies) => {
        const bytes = encodeMessageBatch(msgs);
        expect(bytes.length).toBe(7 + msgs.reduce((n, m) => n + encodedMessageSize(m), 0));
        expect(norm(decodeMessageBatch(bytes, { copyBodies }))).toEqual(norm(msgs));
      }),
      { numRuns: 300 },
    );
  });

  it('copies bodies as raw bytes, not JSON or base64', () => {
    const bodyBytes = new Uint8Array([0, 255, 1, 254, 2, 253]);
    const bytes = encodeMessageBatch([{ topic: 'T', body: bodyBytes }]);
    expect(bytes.length).toBe(7 + 1 + 2 + 1 + 4 + bodyBytes.length);
    expect(Array.from(bytes.subarray(bytes.length - 6))).toEqual(Array.from(bodyBytes));
  });

  it('gives views by default and copies on request', () => {
    const bytes = encodeMessageBatch([{ topic: 'T', body: new Uint8Array([1, 2, 3]) }]);
    const [view] = decodeMessageBatch(bytes);
    const [copy] = decodeMessageBatch(bytes, { copyBodies: true });
    expect(view!.body.buffer).toBe(bytes.buffer);
    expect(copy!.body.buffer).not.toBe(bytes.buffer);
  });

  it('keeps a "__proto__" property as data', () => {
    const props = Object.fromEntries([['__proto__', 'x'], ['a', 'b']]) as Record<string, string>;
    const [m] = decodeMessageBatch(encodeMessageBatch([{ topic: 'T', body: new Uint8Array(0), properties: props }]));
    expect(Object.getPrototypeOf(m!.properties)).toBe(Object.prototype);
    expect(Object.keys(m!.properties!)).toEqual(['__proto__', 'a']);
  });

  it('rejects values it cannot encode with BAD_VALUE', () => {
    const bad = [
      { topic: 'T', body: new Uint8Array(0), delayLevel: -1 },
      { topic: 'T', body: new Uint8Array(0), deliverAt: 1.5 },
      { topic: 'x'.repeat(70000), body: new Uint8Array(0) },
    ];
    for (const m of bad) expect(() => encodeMessageBatch([m])).toThrow(expect.objectContaining({ code: 'BAD_VALUE' }));
  });

  it('rejects every truncation of a valid batch with BAD_FRAME', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 1, maxLength: 3 }), fc.nat(), (msgs, cut) => {
        const bytes = encodeMessageBatch(msgs);
        expectCodecError(() => decodeMessageBatch(bytes.subarray(0, cut % bytes.length)));
      }),
      { numRuns: 200 },
    );
  });

  it('rejects trailing bytes, bad magic, bad version and unknown flags', () => {
    const bytes = encodeMessageBatch([{ topic: 'T', body: new Uint8Array([1]) }]);
    const plus = new Uint8Array(bytes.length + 1);
    plus.set(bytes);
    expectCodecError(() => decodeMessageBatch(plus));
    const magic = bytes.slice();
    magic[0] = 0;
    expectCodecError(() => decodeMessageBatch(magic));
    const version = bytes.slice();
    version[2] = 9;
    expectCodecError(() => decodeMessageBatch(version));
    const flags = bytes.slice();
    flags[7] = 0x80;
    expectCodecError(() => decodeMessageBatch(flags));
    expectCodecError(() => decodeMessageExtBatch(bytes));
  });

  it('rejects invalid UTF-8 in a string', () => {
    const bytes = encodeMessageBatch([{ topic: 'é', body: new Uint8Array(0) }]);
    const broken = bytes.slice();
    broken[10] = 0xff; // second byte of the topic
    expectCodecError(() => decodeMessageBatch(broken));
  });

  it('never throws anything but MessageCodecError on garbage', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (garbage, withHeader) => {
        const bytes = withHeader ? new Uint8Array([0x4d, 0x42, MESSAGE_BATCH_VERSION, 0, 0, 0, garbage[0] ?? 1, ...garbage]) : garbage;
        try {
          decodeMessageBatch(bytes);
        } catch (err) {
          if (!(err instanceof MessageCodecError) || err.code !== 'BAD_FRAME') throw err;
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('survives single-byte corruption of a valid batch', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 1, maxLength: 3 }), fc.nat(), fc.integer({ min: 0, max: 255 }), (msgs, at, v) => {
        const bytes = encodeMessageBatch(msgs);
        bytes[at % bytes.length] = v;
        try {
          decodeMessageBatch(bytes);
        } catch (err) {
          if (!(err instanceof MessageCodecError)) throw err;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('does not pre-allocate for a huge claimed count', () => {
    expectCodecError(() => decodeMessageBatch(new Uint8Array([0x4d, 0x42, MESSAGE_BATCH_VERSION, 0xff, 0xff, 0xff, 0xff])));
  });
});

describe('message ext batch codec', () => {
  it('round-trips any batch of consumed messages', () => {
    fc.assert(
      fc.property(fc.array(extArb, { maxLength: 8 }), (msgs) => {
        expect(norm(decodeMessageExtBatch(encodeMessageExtBatch(msgs)))).toEqual(norm(msgs));
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips batches of one store (ids derived from one prefix, one store host) mixed with others', () => {
    const prefix = fc.oneof(fc.constant('7F000001000029A9'), str(12));
    fc.assert(
      fc.property(prefix, fc.array(fc.tuple(extArb, fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 8 }), (pre, rows) => {
        const msgs = rows.map(([m, ownId, ownHost]) => ({
          ...m,
          msgId: ownId ? m.msgId : derivedId(pre, m.commitLogOffset),
          storeHost: ownHost ? m.storeHost : 'broker-a:10911',
        }));
        expect(norm(decodeMessageExtBatch(encodeMessageExtBatch(msgs)))).toEqual(norm(msgs));
      }),
      { numRuns: 300 },
    );
  });

  it('names a derived id and the store host once per batch, not per message', () => {
    const m = (i: number): MessageExt => ({
      msgId: derivedId('7F000001000029A9', 1000 + i * 200), topic: 'T', queueId: 0, queueOffset: i, commitLogOffset: 1000 + i * 200,
      bornTimestamp: 1, storeTimestamp: 2, reconsumeTimes: 0, bornHost: 'p', storeHost: '127.0.0.1:10911', body: new Uint8Array([i]),
    });
    const one = encodeMessageExtBatch([m(0)]).length;
    const ten = encodeMessageExtBatch(Array.from({ length: 10 }, (_, i) => m(i))).length;
    // flags, topic, fixed fields, born host, body: no msgId, no store host
    expect((ten - one) / 9).toBe(1 + 3 + 4 + 8 * 4 + 4 + 3 + 4 + 1);
    expect(decodeMessageExtBatch(encodeMessageExtBatch([m(3)]))[0]!.msgId).toBe('7F000001000029A9' + (1600).toString(16).toUpperCase().padStart(16, '0'));
  });

  it('keeps 53-bit offsets exact', () => {
    const m: MessageExt = {
      msgId: 'id', topic: 'T', queueId: 3, queueOffset: Number.MAX_SAFE_INTEGER, commitLogOffset: 2 ** 40 + 7,
      bornTimestamp: 1_700_000_000_123, storeTimestamp: 1_700_000_000_456, reconsumeTimes: 2, bornHost: 'p-1',
      storeHost: 'broker-a/0', body: new Uint8Array([9]),
    };
    const [d] = decodeMessageExtBatch(encodeMessageExtBatch([m]));
    expect(d!.queueOffset).toBe(Number.MAX_SAFE_INTEGER);
    expect(d!.commitLogOffset).toBe(2 ** 40 + 7);
  });

  it('rejects every truncation and never throws anything else on garbage', () => {
    fc.assert(
      fc.property(fc.array(extArb, { minLength: 1, maxLength: 2 }), fc.nat(), fc.uint8Array({ maxLength: 100 }), (msgs, cut, garbage) => {
        const bytes = encodeMessageExtBatch(msgs);
        expectCodecError(() => decodeMessageExtBatch(bytes.subarray(0, cut % bytes.length)));
        const g = new Uint8Array([0x4d, 0x58, MESSAGE_EXT_BATCH_VERSION, 0, 0, 0, 1, ...garbage]);
        try {
          decodeMessageExtBatch(g);
        } catch (err) {
          if (!(err instanceof MessageCodecError)) throw err;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('rejects an offset above 2^53', () => {
    const m: MessageExt = {
      msgId: '', topic: 'T', queueId: 0, queueOffset: 0, commitLogOffset: 0, bornTimestamp: 0, storeTimestamp: 0,
      reconsumeTimes: 0, bornHost: '', storeHost: '', body: new Uint8Array(0),
    };
    const bytes = encodeMessageExtBatch([m]);
    // queueOffset high word starts after header(7) + id prefix(2) + store host(2) + flags(1) + topic(3) + queueId(4)
    bytes[19] = 0xff;
    expectCodecError(() => decodeMessageExtBatch(bytes));
  });
});
