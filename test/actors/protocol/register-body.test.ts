import fc from 'fast-check';
import {
  COMPRESS_ABOVE_BYTES,
  decodeRegisterBody,
  encodeRegisterBody,
  RegisterBodyTooLargeError,
  type EncodedPart,
} from '../../../actors/protocol/register-body.js';
import type { RegisterBrokerBody } from '../../../actors/protocol/commands.js';
import { PERM_READ_WRITE } from '../../../actors/protocol/route.js';
import { Status, StatusError } from '../../../core/status.js';
import { randomTopicNames, topicConfigs } from '../../support/topic-names.js';

const ONE_MIB = 1024 * 1024;
const version = { timestamp: 1_700_000_000_000, counter: 42 };

function decodeAll(parts: EncodedPart[]): RegisterBrokerBody {
  const bodies = parts.map((p) => decodeRegisterBody(p.body, p.deflated));
  for (const b of bodies) expect(b.dataVersion).toEqual(bodies[0]!.dataVersion);
  return { dataVersion: bodies[0]!.dataVersion, topics: bodies.flatMap((b) => b.topics) };
}

describe('register body codec', () => {
  it('keeps a small body plain JSON, readable by a name server that knows no deflate', () => {
    const body: RegisterBrokerBody = { dataVersion: version, topics: topicConfigs(['orders', 'payments']) };
    const parts = encodeRegisterBody(body, ONE_MIB);
    expect(parts).toHaveLength(1);
    expect(parts[0]!.deflated).toBe(false);
    expect(JSON.parse(new TextDecoder().decode(parts[0]!.body))).toEqual(body);
  });

  it('deflates a large body into one frame when it fits', () => {
    const names = Array.from({ length: 6_000 }, (_, i) => `auto-created-topic-of-a-long-name-${'x'.repeat(70)}-${i}`);
    const body: RegisterBrokerBody = { dataVersion: version, topics: topicConfigs(names) };
    expect(JSON.stringify(body).length).toBeGreaterThan(ONE_MIB); // the case that failed with PAYLOAD_TOO_LARGE
    const parts = encodeRegisterBody(body, ONE_MIB - 4096);
    expect(parts).toHaveLength(1);
    expect(parts[0]!.deflated).toBe(true);
    expect(decodeAll(parts)).toEqual(body);
  });

  it.each([
    [10_000, 1],
    [20_000, 2],
  ])('encodes %i random 127-character names in frames under 1 MiB each, in order', (count, minParts) => {
    const body: RegisterBrokerBody = { dataVersion: version, topics: topicConfigs(randomTopicNames(count, 127)) };
    const budget = ONE_MIB - 4096;
    const parts = encodeRegisterBody(body, budget);
    // 10,000 such names deflate to just under 1 MiB (about 6 bits a character); twice as many need parts
    expect(parts.length).toBeGreaterThanOrEqual(minParts);
    for (const p of parts) expect(p.body.length).toBeLessThanOrEqual(budget);
    expect(decodeAll(parts)).toEqual(body);
  });

  it('refuses a topic that alone does not fit the budget', () => {
    const body: RegisterBrokerBody = { dataVersion: version, topics: topicConfigs(randomTopicNames(100, 127)) };
    expect(() => encodeRegisterBody(body, 200)).toThrow(RegisterBodyTooLargeError);
  });

  it('answers BAD_FRAME for bodies that do not inflate or parse', () => {
    const bad = (f: () => unknown): number => {
      try {
        f();
      } catch (err) {
        return err instanceof StatusError ? err.status : -1;
      }
      return 0;
    };
    expect(bad(() => decodeRegisterBody(new Uint8Array([1, 2, 3, 4, 5]), true))).toBe(Status.BAD_FRAME);
    expect(bad(() => decodeRegisterBody(new TextEncoder().encode('{"a":'), false))).toBe(Status.BAD_FRAME);
    expect(bad(() => decodeRegisterBody(new Uint8Array(0), false))).toBe(Status.BAD_FRAME);
  });

  it('round-trips any topic set and keeps every part within the budget (property)', () => {
    const nameArb = fc.stringMatching(/^[A-Za-z0-9_%|-]{1,127}$/);
    const topicArb = fc.record({
      topicName: nameArb,
      readQueueNums: fc.integer({ min: 0, max: 1024 }),
      writeQueueNums: fc.integer({ min: 0, max: 1024 }),
      perm: fc.constantFrom(2, 4, PERM_READ_WRITE, 7),
      topicSysFlag: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(
        fc.array(topicArb, { maxLength: 300 }),
        fc.integer({ min: 400, max: 2 * COMPRESS_ABOVE_BYTES }),
        fc.record({ timestamp: fc.nat(), counter: fc.nat() }),
        (topics, budget, dataVersion) => {
          const body: RegisterBrokerBody = { dataVersion, topics };
          const parts = encodeRegisterBody(body, budget);
          for (const p of parts) expect(p.body.length).toBeLessThanOrEqual(budget);
          expect(decodeAll(parts)).toEqual(body);
        },
      ),
      { numRuns: 60 },
    );
  });
});
