import fc from 'fast-check';
import { storePort, toMessageExt } from '../../../actors/broker/store-adapter.js';
import { decodeMessageExtBatch, encodeMessageExtBatch } from '../../../actors/protocol/message-codec.js';
import type { MessageStore, StoredMessage } from '../../../store/message-store.js';

function stored(properties: Record<string, string>, extra: Partial<StoredMessage> = {}): StoredMessage {
  return {
    msgId: 'ID',
    size: 100,
    topic: 't',
    queueId: 1,
    queueOffset: 2,
    commitLogOffset: 3,
    bornTimestamp: 4,
    storeTimestamp: 5,
    reconsumeTimes: 0,
    bornHost: 'b',
    storeHost: 's',
    body: new Uint8Array([1]),
    properties,
    keys: [],
    ...extra,
  } as StoredMessage;
}

describe('toMessageExt', () => {
  it('keeps user properties and drops TAGS and KEYS (they have their own fields)', () => {
    const m = toMessageExt(stored({ TAGS: 'a', KEYS: 'k1 k2', UNIQ_KEY: 'U', color: 'red' }, { tags: 'a', keys: ['k1', 'k2'] }));
    expect(m.properties).toEqual({ UNIQ_KEY: 'U', color: 'red' });
    expect(m.tags).toBe('a');
    expect(m.keys).toEqual(['k1', 'k2']);
  });

  it('has no properties field when only TAGS and KEYS were stored', () => {
    const m = toMessageExt(stored({ TAGS: 'a' }, { tags: 'a' }));
    expect(m.properties).toBeUndefined();
    expect(m.keys).toBeUndefined();
  });

  it('does not let a "__proto__" property change the prototype', () => {
    const props = JSON.parse('{"__proto__":"x","a":"1"}') as Record<string, string>;
    const m = toMessageExt(stored(props));
    expect(Object.getPrototypeOf(m.properties)).toBe(Object.prototype);
    expect(Object.keys(m.properties!).sort()).toEqual(['__proto__', 'a']);
  });
});

describe('storePort getMessages', () => {
  const fakeStore = (messages: StoredMessage[]): MessageStore =>
    ({ getMessages: () => ({ status: 'FOUND', messages, nextOffset: 9, minOffset: 0, maxOffset: 9 }) }) as unknown as MessageStore;

  it('encodes the stored records exactly as the MessageExt it would build, and builds those only when asked', async () => {
    const word = fc.stringMatching(/^[A-Za-z0-9_]{1,8}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            props: fc.dictionary(fc.oneof(word, fc.constantFrom('TAGS', 'KEYS', 'UNIQ_KEY')), fc.string({ maxLength: 6 }), { maxKeys: 4 }),
            tags: fc.option(word, { nil: undefined }),
            keys: fc.array(word, { maxLength: 2 }),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        async (specs) => {
          const msgs = specs.map((s) => stored(s.props, { keys: s.keys, ...(s.tags !== undefined ? { tags: s.tags } : {}) }));
          const r = await storePort(fakeStore(msgs)).getMessages({ topic: 't', queueId: 1, offset: 0, maxCount: 10 });
          expect(r.count).toBe(msgs.length);
          const direct = r.encode!();
          expect(Buffer.from(direct).equals(Buffer.from(encodeMessageExtBatch(r.messages)))).toBe(true);
          expect(decodeMessageExtBatch(direct)).toEqual(msgs.map(toMessageExt));
        },
      ),
      { numRuns: 100 },
    );
  });
});
