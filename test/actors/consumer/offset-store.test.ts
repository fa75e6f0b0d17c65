import pino from 'pino';
import type { ClientInstance } from '../../../actors/client/client-instance.js';
import { OffsetStore, type OffsetStoreSettings } from '../../../actors/consumer/offset-store.js';
import { ProcessQueue } from '../../../actors/consumer/process-queue.js';
import { RequestCode } from '../../../actors/protocol/request-codes.js';
import { okReply } from '../../../actors/protocol/replies.js';
import type { Frame } from '../../../transports/frame.js';
import { queueKey, type MessageExt, type MessageQueue } from '../../../core/message.js';
import { Status, StatusError } from '../../../core/status.js';

const mq = (brokerName: string, queueId: number, topic = 'T'): MessageQueue => ({ topic, brokerName, queueId });

/** A client whose broker requests are recorded and answered by `answer`. */
function fakeClient(answer: (broker: string, frame: Frame) => Frame = (_b, f) => okReply(f)) {
  const sent: { broker: string; frame: Frame }[] = [];
  const client = {
    io: { logger: pino({ level: 'silent' }) },
    requestBroker: async (broker: string, frame: Frame) => {
      sent.push({ broker, frame });
      return answer(broker, frame);
    },
  } as unknown as ClientInstance;
  const commits = () =>
    sent
      .filter((s) => s.frame.code === RequestCode.UPDATE_CONSUMER_OFFSET)
      .map((s) => ({ broker: s.broker, offsets: JSON.parse(new TextDecoder().decode(s.frame.body)).offsets }));
  return { client, sent, commits };
}

const settings: OffsetStoreSettings = { group: 'g', model: 'CLUSTERING', consumeFrom: 'first' };
const msg = (queueOffset: number): MessageExt => ({ queueOffset, body: new Uint8Array(1) }) as MessageExt;

describe('offset store', () => {
  it('commits the offsets that changed, one request per broker, and notes the held queues first', async () => {
    const { client, commits } = fakeClient();
    const held = new Map<string, { pq: ProcessQueue }>();
    const store = new OffsetStore(client, settings, held);
    const pq = new ProcessQueue(mq('a', 0), 0);
    held.set(queueKey(pq.mq), { pq });
    pq.add([msg(0), msg(1), msg(2)]);
    pq.nextOffset = 3;
    pq.remove([msg(0), msg(1)]);
    store.set(mq('a', 1), 7);
    store.set(mq('b', 0), 4);
    await store.commit();
    expect(commits()).toEqual([
      { broker: 'a', offsets: [{ topic: 'T', queueId: 1, offset: 7 }, { topic: 'T', queueId: 0, offset: 2 }] },
      { broker: 'b', offsets: [{ topic: 'T', queueId: 0, offset: 4 }] },
    ]);
    // nothing changed: nothing is sent; the queues not held were forgotten once committed
    await store.commit();
    expect(commits()).toHaveLength(2);
    expect(store.offsetOf(mq('a', 1))).toBeUndefined();
    expect(store.offsetOf(mq('a', 0))).toBe(2);
  });

  it('keeps an offset whose commit failed and sends it again at the next commit', async () => {
    let fail = true;
    const { client, commits } = fakeClient((_b, f) => {
      if (fail) throw new StatusError(Status.SYSTEM_BUSY, 'busy');
      return okReply(f);
    });
    const store = new OffsetStore(client, settings, new Map());
    store.set(mq('a', 0), 5);
    await store.commit();
    expect(store.offsetOf(mq('a', 0))).toBe(5);
    fail = false;
    await store.commit();
    expect(commits().map((c) => c.offsets)).toEqual([[{ topic: 'T', queueId: 0, offset: 5 }], [{ topic: 'T', queueId: 0, offset: 5 }]]);
    expect(store.offsetOf(mq('a', 0))).toBeUndefined();
  });

  it('never commits when broadcasting, and starts a queue at its local offset', async () => {
    const { client, sent } = fakeClient();
    const store = new OffsetStore(client, { ...settings, model: 'BROADCASTING' }, new Map());
    store.set(mq('a', 0), 9);
    await store.commit();
    expect(await store.startOffset(mq('a', 0))).toBe(9);
    expect(sent).toHaveLength(0);
  });

  it('notes nothing for a dropped queue', () => {
    const store = new OffsetStore(fakeClient().client, settings, new Map());
    const pq = new ProcessQueue(mq('a', 0), 3);
    pq.drop();
    store.note(pq);
    expect(store.offsetOf(pq.mq)).toBeUndefined();
  });

  it('starts at the committed offset, else where consumeFrom says (the first for a retry topic)', async () => {
    const { client, sent } = fakeClient((_b, f) => {
      if (f.code === RequestCode.QUERY_CONSUMER_OFFSET) return f.header.queueId === 0 ? okReply(f, { offset: 12 }) : { ...okReply(f), status: Status.QUERY_NOT_FOUND };
      if (f.code === RequestCode.GET_MIN_OFFSET) return okReply(f, { offset: 1 });
      if (f.code === RequestCode.GET_MAX_OFFSET) return okReply(f, { offset: 100 });
      if (f.code === RequestCode.SEARCH_OFFSET_BY_TIMESTAMP) return okReply(f, { offset: f.header.timestamp === 50 ? 40 : -1 });
      throw new Error(`unexpected code ${f.code}`);
    });
    const from = (consumeFrom: OffsetStoreSettings['consumeFrom']) => new OffsetStore(client, { ...settings, consumeFrom }, new Map());
    expect(await from('last').startOffset(mq('a', 0))).toBe(12);
    expect(await from('last').startOffset(mq('a', 1))).toBe(100);
    expect(await from('first').startOffset(mq('a', 1))).toBe(1);
    expect(await from('last').startOffset(mq('a', 1, '%RETRY%g'))).toBe(1);
    expect(await from({ timestamp: 50 }).startOffset(mq('a', 1))).toBe(40);
    await expect(from({ timestamp: 60 }).startOffset(mq('a', 1))).rejects.toThrow(/broker answered offset -1 for T@a@1/);
    expect(sent.filter((s) => s.frame.code === RequestCode.QUERY_CONSUMER_OFFSET)[0]!.frame.header).toEqual({ consumerGroup: 'g', topic: 'T', queueId: 0 });
  });
});
