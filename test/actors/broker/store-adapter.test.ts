import { toMessageExt } from '../../../actors/broker/store-adapter.js';
import type { StoredMessage } from '../../../store/message-store.js';

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
