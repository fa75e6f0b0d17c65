import fc from 'fast-check';
import { storePort, toMessageExt } from '../../../actors/broker/store-adapter.js';
import { encodeMessageExtBatch } from '../../../core/message-codec.js';
import { SimClock, settle } from '../../../core/clock.js';
import { rootLogger } from '../../../actors/runtime/environment.js';
import { SeededRandom } from '../../../core/random.js';
import { memoryStorage } from '../../../store/backends/memory.js';
import { openMessageStore, type StoredMessage } from '../../../store/message-store.js';
import { decodePullBody } from '../../../core/record-batch.js';

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
  it('encodes the stored records straight from their bytes as the MessageExt it would build, and builds those only when asked', async () => {
    const word = fc.stringMatching(/^[A-Za-z0-9_]{1,8}$/);
    const value = fc.string({ maxLength: 6 }).filter((v) => !v.includes('\x01') && !v.includes('\x02'));
    const clock = new SimClock();
    const store = await openMessageStore({
      dir: '/data',
      storage: memoryStorage({ clock, random: new SeededRandom(1) }),
      clock,
      random: new SeededRandom(2),
      logger: rootLogger('silent'),
      storeHost: 'broker-a@0',
      flush: 'sync',
      segmentSize: 64 * 1024,
    });
    const port = storePort(store);
    let queueId = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              props: fc.dictionary(fc.oneof(word, fc.constantFrom('TAGS', 'KEYS', 'UNIQ_KEY', 'é')), value, { maxKeys: 4 }),
              tags: fc.option(fc.oneof(word, fc.constant('')), { nil: undefined }),
              keys: fc.array(fc.oneof(word, fc.constant('')), { maxLength: 3 }),
              body: fc.uint8Array({ maxLength: 80 }),
            }),
            { minLength: 1, maxLength: 5 },
          ),
          async (specs) => {
            const q = queueId++;
            const put = await store.putMessages(
              specs.map((s) => ({
                topic: 'T',
                queueId: q,
                body: s.body,
                properties: s.props,
                bornTimestamp: 7,
                bornHost: 'p',
                ...(s.tags !== undefined ? { tags: s.tags } : {}),
                ...(s.keys.length > 0 ? { keys: s.keys } : {}),
              })),
            );
            expect(put.results).toHaveLength(specs.length);
            await settle();
            const r = await port.getMessages({ topic: 'T', queueId: q, offset: 0, maxCount: 10 });
            expect(r.count).toBe(specs.length);
            const direct = r.encode!();
            const expected = store.getMessages({ topic: 'T', queueId: q, offset: 0, maxCount: 10 }).messages.map(toMessageExt);
            expect(expected.map((m) => m.msgId)).toEqual(put.results.map((x) => x.msgId));
            expect(decodePullBody(direct)).toEqual(expected);
            expect(r.messages).toEqual(expected);
            expect(decodePullBody(encodeMessageExtBatch(r.messages))).toEqual(expected);
          },
        ),
        { numRuns: 100 },
      );
    } finally {
      await store.close();
    }
  });
});
