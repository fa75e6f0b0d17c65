import fc from 'fast-check';
import { clientMessageProblem, rewriteMargin, rewritePropertyMargin, storedPropertiesLength, storedRecordSize, toPutMessage, undeliverableProblem, uniqKeyOf } from '../../../actors/broker/put-message.js';
import { RecordLayout } from '../../../core/record-layout.js';
import { Status } from '../../../core/status.js';
import { UniqKeyBatch } from '../../../actors/protocol/uniq-keys.js';

describe('unique keys of stored messages', () => {
  it('toPutMessage gives message i key i of the run: apart for a message without properties, inside them otherwise', () => {
    const born = { queueId: 1, bornHost: 'h', bornTimestamp: 2 };
    const keys = new UniqKeyBatch('P-', 0xfe, 4);
    const plain = toPutMessage({ topic: 'T', body: new Uint8Array(1), tags: 'a' }, born, keys, 0);
    expect(plain).toMatchObject({ topic: 'T', queueId: 1, tags: 'a', uniqPrefix: 'P-', uniqSeq: 0xfe });
    expect(plain.properties).toBeUndefined();
    expect(uniqKeyOf(plain)).toBe('P-000000FE');
    const withProps = toPutMessage({ topic: 'T', body: new Uint8Array(1), properties: { x: 'y' } }, born, keys, 1);
    expect(withProps.properties).toEqual({ x: 'y', UNIQ_KEY: 'P-000000FF' });
    expect(uniqKeyOf(withProps)).toBe('P-000000FF');
    // a message's own key is kept, and its number in the run is not given to another message
    const own = toPutMessage({ topic: 'T', body: new Uint8Array(1), properties: { UNIQ_KEY: 'mine' } }, born, keys, 2);
    expect(uniqKeyOf(own)).toBe('mine');
    expect(uniqKeyOf(toPutMessage({ topic: 'T', body: new Uint8Array(1) }, born, keys, 3))).toBe('P-00000101'); // the last key
    expect(() => toPutMessage({ topic: 'T', body: new Uint8Array(1) }, born, keys, 4)).toThrow(RangeError);
  });
});

describe('what the broker accepts from a client', () => {
  const rules = { maxBodyBytes: 1024 };

  it('clientMessageProblem lets a client set the system properties a producer sets, and no other', () => {
    const body = new Uint8Array(1);
    expect(clientMessageProblem({ topic: 'T', body, properties: { TRAN_MSG: 'true', PGROUP: 'g', UNIQ_KEY: 'k', a: 'b' } }, rules)).toBeUndefined();
    expect(clientMessageProblem({ topic: 'T', body, properties: { TRAN_MSG: 1 as unknown as string } }, rules)).toEqual([Status.MESSAGE_ILLEGAL, 'property "TRAN_MSG" must have a string value']);
    expect(clientMessageProblem({ topic: 'T', body, properties: { REAL_TOPIC: 'x' } }, rules)?.[1]).toMatch(/reserved for the system/);
    // the system properties a client may set do not count against the properties' size
    const big = 'v'.repeat(20_000);
    expect(clientMessageProblem({ topic: 'T', body, properties: { UNIQ_KEY: big, TRANSACTION_ID: big } }, rules)).toBeUndefined();
    expect(clientMessageProblem({ topic: 'T', body, properties: { a: big, b: big } }, rules)?.[1]).toMatch(/message properties take 40002 bytes/);
  });

  it('undeliverableProblem refuses exactly the messages whose record, with the rewrites, a reply could not carry', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀'), maxLength: 300, size: 'large' });
    const message = fc.record(
      {
        topic: fc.string({ unit: fc.constantFrom('a', 'b', '_', 'é'), minLength: 1, maxLength: 200 }),
        bornHost: fc.string({ maxLength: 20 }),
        tags: text,
        keys: fc.array(fc.string({ unit: fc.constantFrom('k', 'ü', '€'), minLength: 1, maxLength: 200, size: 'large' }), { minLength: 1, maxLength: 4 }),
        properties: fc.dictionary(fc.string({ unit: fc.constantFrom('p', 'q', 'ß'), minLength: 1, maxLength: 12 }), fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀'), maxLength: 600, size: 'large' }), { maxKeys: 40 }),
        uniqKey: text,
        uniqPrefix: fc.string({ unit: fc.constantFrom('A', 'F', '0'), maxLength: 24 }),
        bodyLength: fc.integer({ min: 0, max: 70_000 }),
      },
      { requiredKeys: ['topic', 'bornHost', 'bodyLength'] },
    );
    const margin = rewritePropertyMargin(40);
    // sizes near the two limits, where a bound that undercounts would pass what does not fit
    fc.assert(
      fc.property(message, fc.boolean(), fc.integer({ min: -150, max: 150 }), fc.integer({ min: -150, max: 150 }), (m, nearPropertyLimit, d1, d2) => {
        const { bodyLength, ...rest } = m;
        const p = { ...rest, queueId: 0, bornTimestamp: 0, body: new Uint8Array(bodyLength) };
        if (nearPropertyLimit) {
          const fill = RecordLayout.MaxProperties - margin + d2 - storedPropertiesLength(p) - 'fill'.length - 2;
          if (fill >= 0) p.properties = { ...(p.properties ?? {}), fill: '€'.repeat(Math.floor(fill / 3)) + 'x'.repeat(fill % 3) };
        }
        const need = storedRecordSize(p, 21) + rewriteMargin(p.topic, margin);
        const maxRecordBytes = Math.max(1, need + d1);
        const bound = { storeHostBytes: 21, propertyMargin: margin, maxRecordBytes, maxPayload: maxRecordBytes + 4096 };
        const fits = storedPropertiesLength(p) + margin <= RecordLayout.MaxProperties && need <= maxRecordBytes;
        expect(undeliverableProblem(p, bound) === undefined).toBe(fits);
      }),
      { numRuns: 500 },
    );
  });
});
