import { toPutMessage, uniqKeyOf } from '../../../actors/broker/put-message.js';
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
