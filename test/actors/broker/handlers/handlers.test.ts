import { BehaviorSubject, Subject } from 'rxjs';
import fc from 'fast-check';
import { ClientRegistry } from '../../../../actors/broker/client-registry.js';
import { ConsumerOffsets } from '../../../../actors/broker/consumer-offsets.js';
import { dispatchFrame } from '../../../../actors/broker/handlers/dispatch.js';
import type { BrokerContext } from '../../../../actors/broker/handlers/context.js';
import { pullOutcome } from '../../../../actors/broker/handlers/pull.js';
import { planSendBack } from '../../../../actors/broker/handlers/send-back.js';
import { LongPolling } from '../../../../actors/broker/long-polling.js';
import { fromScheduled, toPutMessage, toScheduled, uniqKeyOf } from '../../../../actors/broker/put-message.js';
import { UniqKeyBatch } from '../../../../actors/protocol/uniq-keys.js';
import type { StoreGetRequest, StoreHealth, StoreNewData, StorePort, StorePutMessage, StorePutResult, StoreStatus } from '../../../../actors/broker/store-port.js';
import { TopicTable } from '../../../../actors/broker/topic-config.js';
import { matchesHash } from '../../../../actors/protocol/tag-expression.js';
import { DEFAULT_DELAY_LEVELS } from '../../../../actors/protocol/retry-delay.js';
import { RequestCode } from '../../../../actors/protocol/request-codes.js';
import { encodeMessageBatch } from '../../../../core/message-codec.js';
import type { MessageExt } from '../../../../core/message.js';
import { jsonBody, parseJsonBody, request } from '../../../../actors/protocol/replies.js';
import { Status } from '../../../../core/status.js';
import { decodeSendReply } from '../../../../actors/protocol/send-reply.js';
import { decodeSendManyReply, encodeSendMany } from '../../../../actors/protocol/send-many.js';
import { tagHash } from '../../../../core/tags.js';
import { SimClock } from '../../../../core/clock.js';
import { SeededRandom } from '../../../../core/random.js';
import { rootLogger } from '../../../../actors/runtime/environment.js';
import type { Frame, Header } from '../../../../transports/frame.js';
import { decodePullBody } from '../../../../core/record-batch.js';
import { encodedLength } from '../../../../transports/codec.js';
import { BrokerMetrics } from '../../../../actors/broker/broker-metrics.js';

/** An in-memory store: one array per queue. */
class FakeStore implements StorePort {
  queues = new Map<string, MessageExt[]>();
  all: MessageExt[] = [];
  nextStatus: number = Status.OK;
  /** Stores the batch but answers with this status (a flush that timed out). */
  storedStatus: number = Status.OK;
  readonly newData = new Subject<StoreNewData>();
  readonly newData$ = this.newData.asObservable();
  /** Writes are durable at once here. */
  async whenFlushed(_offset: number): Promise<void> {}
  async whenRecordsFlushed(_offsets: readonly number[]): Promise<void> {}
  constructor(private readonly clock: SimClock) {}
  private q(t: string, id: number): MessageExt[] {
    const k = `${t}#${id}`;
    let a = this.queues.get(k);
    if (!a) this.queues.set(k, (a = []));
    return a;
  }
  async putMessages(batch: StorePutMessage[]): Promise<StorePutResult> {
    if (this.nextStatus !== Status.OK) return { status: this.nextStatus, message: 'refused', results: [] };
    const results = batch.map((p) => {
      const q = this.q(p.topic, p.queueId);
      const m: MessageExt = {
        msgId: `ID${this.all.length}`,
        topic: p.topic,
        queueId: p.queueId,
        queueOffset: q.length,
        commitLogOffset: this.all.length,
        bornTimestamp: p.bornTimestamp,
        storeTimestamp: this.clock.now(),
        reconsumeTimes: p.reconsumeTimes ?? 0,
        bornHost: p.bornHost,
        storeHost: 'fake',
        body: p.body,
        ...(p.tags ? { tags: p.tags } : {}),
        ...(p.keys ? { keys: [...p.keys] } : {}),
        ...(p.properties ? { properties: p.properties } : {}),
      };
      q.push(m);
      this.all.push(m);
      return { msgId: m.msgId, commitLogOffset: m.commitLogOffset, queueOffset: m.queueOffset };
    });
    for (const p of batch) this.newData.next({ topic: p.topic, queueId: p.queueId, maxOffset: this.q(p.topic, p.queueId).length });
    if (this.storedStatus !== Status.OK) return { status: this.storedStatus, message: 'stored, but not flushed to disk within 5000 ms', results };
    return { status: Status.OK, results };
  }
  async getMessages(r: StoreGetRequest) {
    const q = this.q(r.topic, r.queueId);
    const slice = q.slice(r.offset, r.offset + r.maxCount);
    const messages = slice.filter((m) => !r.filter || matchesHash(r.filter, tagHash(m.tags)));
    return { messages, nextOffset: r.offset + slice.length, minOffset: 0, maxOffset: q.length };
  }
  async lookupById(id: string) {
    return this.all.find((m) => m.msgId === id);
  }
  async lookupByKey(topic: string, key: string, max: number) {
    return this.all.filter((m) => m.topic === topic && m.keys?.includes(key)).slice(0, max);
  }
  minOffset() {
    return 0;
  }
  maxOffset(t: string, id: number) {
    return this.q(t, id).length;
  }
  async offsetByTime(t: string, id: number, ts: number) {
    const q = this.q(t, id);
    const i = q.findIndex((m) => m.storeTimestamp >= ts);
    return i < 0 ? q.length : i;
  }
  health: StoreHealth = { state: 'ok' };
  readonly health$ = new BehaviorSubject<StoreHealth>(this.health);
  status(): StoreStatus {
    return { health: this.health, positions: { writeOffset: this.all.length, flushedOffset: this.all.length, minOffset: 0, dispatched: this.all.length }, corruptRanges: [] };
  }
  async close() {}
}

function makeCtx(opts: { autoCreate?: boolean; maxPayload?: { bytes: number } } = {}) {
  const payload = opts.maxPayload ?? { bytes: 1 << 20 };
  const clock = new SimClock();
  const store = new FakeStore(clock);
  const sent: { to: string; frame: Frame }[] = [];
  let topicChanges = 0;
  const ctx: BrokerContext = {
    brokerName: 'b',
    brokerId: 0,
    cluster: 'c',
    address: 'broker.b.0',
    store,
    topics: new TopicTable({ autoCreate: opts.autoCreate ?? true }),
    offsets: new ConsumerOffsets(),
    clients: new ClientRegistry(),
    polling: new LongPolling(clock, 2),
    metrics: new BrokerMetrics(),
    clock,
    random: new SeededRandom(7),
    logger: rootLogger('silent'),
    limits: { maxBodyBytes: 1024, maxBatchBytes: 2048, maxPullMsgs: 16, maxPullBytes: 1 << 20, maxSuspendMs: 10_000, delayLevels: DEFAULT_DELAY_LEVELS, maxQueryNum: 8 },
    maxPayload: () => payload.bytes,
    send: (to, frame) => void sent.push({ to, frame }),
    topicsChanged: async () => void topicChanges++,
  };
  store.newData$.subscribe((d) => ctx.polling.notify(d.topic, d.queueId, d.maxOffset));
  const call = async (code: number, header: Header, body?: Uint8Array): Promise<Frame | undefined> => {
    let out: Frame | undefined;
    await dispatchFrame(ctx, request(code, header, body), (f) => void (out = f));
    return out;
  };
  const pending = (code: number, header: Header) => {
    const box: { reply?: Frame } = {};
    void dispatchFrame(ctx, request(code, header), (f) => void (box.reply = f));
    return box;
  };
  return { ctx, clock, store, sent, call, pending, changes: () => topicChanges };
}

const enc = new TextEncoder();
const sendHeader = (topic: string, queueId = 0) => ({ producerGroup: 'pg', topic, queueId, bornHost: 'p', bornTimestamp: 1 });
const batch = (topic: string, n: number, extra: object = {}) => encodeMessageBatch(Array.from({ length: n }, (_, i) => ({ topic, body: enc.encode(`m${i}`), ...extra })));

describe('broker handlers (fake store)', () => {
  it('send: auto-creates, stores the batch in one call, maps store refusals', async () => {
    const t = makeCtx();
    const r = await t.call(RequestCode.SEND_BATCH_MESSAGE, sendHeader('orders'), batch('orders', 3, { tags: 'A' }));
    expect(r?.status).toBe(Status.OK);
    expect(decodeSendReply(r!.body).map((x) => x.queueOffset)).toEqual([0, 1, 2]);
    expect(t.changes()).toBe(1);
    for (const status of [Status.SYSTEM_BUSY, Status.DISK_FULL, Status.STORE_FAILED]) {
      t.store.nextStatus = status;
      expect((await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), batch('orders', 1)))?.status).toBe(status);
    }
  });

  it('SEND_MANY: each part is checked alone, the good ones go to the store in one put, each part gets its own reply', async () => {
    const t = makeCtx({ autoCreate: false });
    t.ctx.topics.upsert({ topicName: 'orders', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicSysFlag: 0 }, 0);
    t.ctx.topics.upsert({ topicName: 'audit', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicSysFlag: 0 }, 0);
    const puts: StorePutMessage[][] = [];
    const put = t.store.putMessages.bind(t.store);
    t.store.putMessages = (b) => (puts.push(b), put(b));
    const prefix = '0123456789ABCDEF01234567';
    const part = (topic: string, queueId: number, n: number, uniqFirst: number, body = batch(topic, n)) => ({ topic, queueId, uniqPrefix: prefix, uniqFirst, batch: body });
    const parts = [
      part('orders', 1, 2, 10),
      part('missing', 0, 1, 20), // no such topic (and no auto-create)
      part('audit', 0, 3, 30),
      part('orders', 5, 1, 40), // no such queue
      part('orders', 0, 1, 50, batch('audit', 1)), // a message of another topic
    ];
    const header = { producerGroup: 'pg', bornHost: 'p', bornTimestamp: 1 };
    const r = await t.call(RequestCode.SEND_MANY, header, encodeSendMany(parts));
    expect(r?.status).toBe(Status.OK);
    const replies = decodeSendManyReply(r!.body, parts.length);
    expect(replies.map((x) => x.status)).toEqual([Status.OK, Status.TOPIC_NOT_EXIST, Status.OK, Status.INVALID_ARGUMENT, Status.MESSAGE_ILLEGAL]);
    expect(new TextDecoder().decode(replies[3]!.body)).toMatch(/queue 5 of topic "orders" does not exist/);
    expect(decodeSendReply(replies[0]!.body).map((x) => x.queueOffset)).toEqual([0, 1]);
    expect(decodeSendReply(replies[2]!.body).map((x) => [x.queueOffset, x.commitLogOffset])).toEqual([[0, 2], [1, 3], [2, 4]]);
    // one put for both good parts, with each part's own unique keys
    expect(puts).toHaveLength(1);
    expect(puts[0]!.map((p) => `${p.topic}/${p.queueId} ${uniqKeyOf(p)!.slice(24)}`)).toEqual([
      'orders/1 0000000A',
      'orders/1 0000000B',
      'audit/0 0000001E',
      'audit/0 0000001F',
      'audit/0 00000020',
    ]);
    // a store refusal fails every part that reached it; a malformed body is BAD_FRAME for the whole request
    t.store.nextStatus = Status.DISK_FULL;
    const refused = await t.call(RequestCode.SEND_MANY, header, encodeSendMany([part('orders', 0, 1, 60), part('audit', 0, 1, 70)]));
    expect(decodeSendManyReply(refused!.body, 2).map((x) => x.status)).toEqual([Status.DISK_FULL, Status.DISK_FULL]);
    expect((await t.call(RequestCode.SEND_MANY, header, new Uint8Array([0, 1, 0])))?.status).toBe(Status.BAD_FRAME);
    expect((await t.call(RequestCode.SEND_MANY, { bornHost: 'p' }, encodeSendMany([part('orders', 0, 1, 80)])))?.status).toBe(Status.BAD_FRAME);
    expect(t.store.all).toHaveLength(5);
  });

  it('send: a batch stored but not flushed in time is answered FLUSH_DISK_TIMEOUT with its offsets (ambiguous, not refused)', async () => {
    const t = makeCtx();
    t.store.storedStatus = Status.FLUSH_DISK_TIMEOUT;
    const r = await t.call(RequestCode.SEND_BATCH_MESSAGE, sendHeader('orders'), batch('orders', 2));
    expect(r?.status).toBe(Status.FLUSH_DISK_TIMEOUT);
    expect(r?.header.error).toMatch(/not flushed/);
    expect(decodeSendReply(r!.body).map((x) => x.queueOffset)).toEqual([0, 1]);
    expect(t.store.all).toHaveLength(2);
  });

  it('send: validates topic, queue, sizes and the batch', async () => {
    const t = makeCtx({ autoCreate: false });
    expect((await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), batch('orders', 1)))?.status).toBe(Status.TOPIC_NOT_EXIST);
    t.ctx.topics.upsert({ topicName: 'orders', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicSysFlag: 0 }, 0);
    expect((await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders', 1), batch('orders', 1)))?.status).toBe(Status.INVALID_ARGUMENT);
    expect((await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), batch('other', 1)))?.status).toBe(Status.MESSAGE_ILLEGAL);
    const big = encodeMessageBatch([{ topic: 'orders', body: new Uint8Array(2000) }]);
    expect((await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), big))?.status).toBe(Status.MESSAGE_TOO_LARGE);
    expect((await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), batch('orders', 3, { body: new Uint8Array(1000) })))?.status).toBe(Status.MESSAGE_TOO_LARGE);
    expect((await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), new Uint8Array(5)))?.status).toBe(Status.BAD_FRAME);
    expect((await t.call(RequestCode.SEND_MESSAGE, { topic: 'orders' }, batch('orders', 1)))?.status).toBe(Status.BAD_FRAME);
    expect(t.store.all).toEqual([]);
  });

  it("send: takes the request's unique keys (message i: uniqFirst + i) and answers without keys; without them makes its own", async () => {
    const t = makeCtx();
    const puts: StorePutMessage[][] = [];
    const put = t.store.putMessages.bind(t.store);
    t.store.putMessages = (b) => (puts.push(b), put(b));
    const prefix = '0123456789ABCDEF01234567';
    const msgs = encodeMessageBatch([
      { topic: 'orders', body: enc.encode('a') },
      { topic: 'orders', body: enc.encode('b'), properties: { x: 'y' } },
      { topic: 'orders', body: enc.encode('c') },
    ]);
    const r = await t.call(RequestCode.SEND_BATCH_MESSAGE, { ...sendHeader('orders'), uniqPrefix: prefix, uniqFirst: 0xfffe }, msgs);
    expect(r?.status).toBe(Status.OK);
    expect(puts[0]!.map((p) => uniqKeyOf(p))).toEqual([`${prefix}0000FFFE`, `${prefix}0000FFFF`, `${prefix}00010000`]);
    expect(puts[0]![1]!.properties).toEqual({ x: 'y', UNIQ_KEY: `${prefix}0000FFFF` });
    expect(decodeSendReply(r!.body).map((x) => x.uniqKey)).toEqual([undefined, undefined, undefined]);
    // an older client's request: the broker's own keys, sent back
    const own = await t.call(RequestCode.SEND_BATCH_MESSAGE, sendHeader('orders'), batch('orders', 2));
    const keys = decodeSendReply(own!.body).map((x) => x.uniqKey);
    expect(keys).toEqual(puts[1]!.map((p) => uniqKeyOf(p)));
    expect(keys[0]).toMatch(/^[0-9A-F]{32}$/);
    expect(keys[0]!.slice(0, 24)).not.toBe(prefix);
  });

  it('send: a forged unique key header is BAD_FRAME; nothing is stored, no topic created', async () => {
    const t = makeCtx();
    const ok = '0123456789ABCDEF01234567';
    const forged: Header[] = [
      { uniqPrefix: ok.toLowerCase(), uniqFirst: 0 },
      { uniqPrefix: ok.slice(1), uniqFirst: 0 },
      { uniqPrefix: `${ok}89`, uniqFirst: 0 },
      { uniqPrefix: `${ok.slice(0, 23)}G`, uniqFirst: 0 },
      { uniqPrefix: ok, uniqFirst: -1 },
      { uniqPrefix: ok, uniqFirst: 1.5 },
      { uniqPrefix: ok, uniqFirst: 2 ** 32 - 2 }, // three keys: the last would wrap
      { uniqPrefix: ok, uniqFirst: '0' },
      { uniqPrefix: 5, uniqFirst: 0 },
      { uniqPrefix: ok },
      { uniqFirst: 0 },
    ];
    for (const h of forged) {
      const r = await t.call(RequestCode.SEND_BATCH_MESSAGE, { ...sendHeader('orders'), ...h }, batch('orders', 3));
      expect([JSON.stringify(h), r?.status]).toEqual([JSON.stringify(h), Status.BAD_FRAME]);
      expect(r?.header.error).toMatch(/uniq/);
    }
    expect(t.store.all).toEqual([]);
    expect(t.changes()).toBe(0);
    // the largest run that fits is taken
    expect((await t.call(RequestCode.SEND_BATCH_MESSAGE, { ...sendHeader('orders'), uniqPrefix: ok, uniqFirst: 2 ** 32 - 3 }, batch('orders', 3)))?.status).toBe(Status.OK);
  });

  it('send: a delayed message goes to the schedule topic', async () => {
    const t = makeCtx();
    await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), batch('orders', 1, { delayLevel: 2 }));
    expect(t.store.all[0]!.topic).toBe('SCHEDULE_TOPIC_XXXX');
    expect(t.store.all[0]!.queueId).toBe(1);
    expect(t.store.all[0]!.properties?.REAL_TOPIC).toBe('orders');
  });

  it('pull: found with tag filter, held then woken, timed out, bounded', async () => {
    const t = makeCtx();
    await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), encodeMessageBatch([{ topic: 'orders', body: enc.encode('a'), tags: 'A' }, { topic: 'orders', body: enc.encode('b'), tags: 'B' }]));
    const ph = (queueOffset: number, suspendTimeoutMs: number, subExpression = '*') => ({ consumerGroup: 'cg', topic: 'orders', queueId: 0, queueOffset, maxMsgNums: 8, subExpression, suspendTimeoutMs });
    const f = await t.call(RequestCode.PULL_MESSAGE, ph(0, 0, 'B'));
    expect(f?.header).toMatchObject({ pullStatus: 'FOUND', nextBeginOffset: 2 });
    expect(decodePullBody(f!.body).map((m) => m.tags)).toEqual(['B']);
    expect((await t.call(RequestCode.PULL_MESSAGE, ph(5, 0)))?.header).toMatchObject({ pullStatus: 'OFFSET_ILLEGAL', nextBeginOffset: 2 });
    expect((await t.call(RequestCode.PULL_MESSAGE, ph(0, 0, 'A ||')))?.status).toBe(Status.SUBSCRIPTION_ILLEGAL);

    const held = t.pending(RequestCode.PULL_MESSAGE, ph(2, 1000));
    const held2 = t.pending(RequestCode.PULL_MESSAGE, ph(2, 500));
    await t.clock.advance(0);
    expect(held.reply).toBeUndefined();
    expect(t.ctx.polling.size).toBe(2);
    // bound of 2 reached: answered at once
    expect((await t.call(RequestCode.PULL_MESSAGE, ph(2, 1000)))?.header).toMatchObject({ pullStatus: 'NO_NEW_MSG' });
    await t.clock.advance(500);
    expect(held2.reply?.header).toMatchObject({ pullStatus: 'NO_NEW_MSG', nextBeginOffset: 2 });
    await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), batch('orders', 1));
    await t.clock.advance(0);
    expect(held.reply?.header).toMatchObject({ pullStatus: 'FOUND', nextBeginOffset: 3 });
    expect(t.clock.pending).toBe(0);
  });

  it('metrics: messages and body bytes in and out per topic, requests by code and status, latency of sends and pulls', async () => {
    const t = makeCtx();
    await t.call(RequestCode.SEND_BATCH_MESSAGE, sendHeader('orders'), batch('orders', 3)); // bodies m0 m1 m2: 6 bytes
    await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), encodeMessageBatch([{ topic: 'orders', body: enc.encode('four') }]));
    await t.call(RequestCode.SEND_MESSAGE, sendHeader('bad topic!'), batch('bad topic!', 1));
    const ph = (queueOffset: number, suspendTimeoutMs: number) => ({ consumerGroup: 'cg', topic: 'orders', queueId: 0, queueOffset, maxMsgNums: 2, suspendTimeoutMs });
    await t.call(RequestCode.PULL_MESSAGE, ph(0, 0));
    await t.call(RequestCode.PULL_MESSAGE, ph(2, 0));
    const held = t.pending(RequestCode.PULL_MESSAGE, ph(4, 1000));
    await t.clock.advance(0);
    await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), encodeMessageBatch([{ topic: 'orders', body: enc.encode('fifth') }]));
    await t.clock.advance(0);
    expect(held.reply?.header).toMatchObject({ pullStatus: 'FOUND' });
    await t.call(9999, {});
    const c = t.ctx.metrics.counters();
    expect(c.topics).toEqual([{ topic: 'orders', in: { messages: 5, bytes: 15 }, out: { messages: 5, bytes: 15 } }]);
    expect(c.requests).toEqual([
      { code: 'PULL_MESSAGE', status: 'OK', count: 3 },
      { code: 'SEND_BATCH_MESSAGE', status: 'OK', count: 1 },
      { code: 'SEND_MESSAGE', status: 'MESSAGE_ILLEGAL', count: 1 },
      { code: 'SEND_MESSAGE', status: 'OK', count: 2 },
      { code: 'UNKNOWN', status: 'REQUEST_CODE_NOT_SUPPORTED', count: 1 },
    ]);
    expect(c.sendLatencyMs.count).toBe(4);
    // the held pull counts too (its latency from its wake-up)
    expect(c.pullLatencyMs.count).toBe(3);
  });

  it('offsets, progress, view and query', async () => {
    const t = makeCtx();
    await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), batch('orders', 4, { keys: ['k'] }));
    expect((await t.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'g', topic: 'orders', queueId: 0 }))?.status).toBe(Status.QUERY_NOT_FOUND);
    expect((await t.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'g' }, jsonBody({ offsets: [{ topic: 'orders', queueId: 0, offset: 1 }] })))?.status).toBe(Status.OK);
    expect((await t.call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'g' }, jsonBody({ nope: 1 })))?.status).toBe(Status.BAD_FRAME);
    expect((await t.call(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'g', topic: 'orders', queueId: 0 }))?.header.offset).toBe(1);
    expect((await t.call(RequestCode.GET_MAX_OFFSET, { topic: 'orders', queueId: 0 }))?.header.offset).toBe(4);
    expect((await t.call(RequestCode.GET_MIN_OFFSET, { topic: 'orders', queueId: 0 }))?.header.offset).toBe(0);
    expect((await t.call(RequestCode.GET_MAX_OFFSET, { topic: 'nope', queueId: 0 }))?.status).toBe(Status.TOPIC_NOT_EXIST);
    expect((await t.call(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { topic: 'orders', queueId: 0, timestamp: 0 }))?.header.offset).toBe(0);
    const p = parseJsonBody<{ queues: { queueId: number; lag: number }[] }>((await t.call(RequestCode.GET_CONSUMER_STATS_FROM_SERVER, { consumerGroup: 'g' }))!);
    expect(p.queues.map((q) => q.lag)).toEqual([3, 0, 0, 0]);
    const v = await t.call(RequestCode.VIEW_MESSAGE_BY_ID, { msgId: 'ID2' });
    expect(decodePullBody(v!.body)[0]!.queueOffset).toBe(2);
    expect((await t.call(RequestCode.VIEW_MESSAGE_BY_ID, { msgId: 'nope' }))?.status).toBe(Status.QUERY_NOT_FOUND);
    expect(decodePullBody((await t.call(RequestCode.QUERY_MESSAGE, { topic: 'orders', key: 'k', maxNum: 3 }))!.body)).toHaveLength(3);
  });

  it('heartbeats notify the members of a changed group, create its retry topic; expiry via scan', async () => {
    const t = makeCtx();
    const hb = (id: string) => t.call(RequestCode.HEART_BEAT, { clientId: id }, jsonBody({ producerGroups: [], consumers: [{ group: 'g', messageModel: 'CLUSTERING', subscriptions: { orders: '*' } }] }));
    expect((await hb('c1'))?.status).toBe(Status.OK);
    expect(t.ctx.topics.get('%RETRY%g')).toBeDefined();
    await hb('c2');
    expect(t.sent.map((s) => s.to)).toEqual(['client.c1', 'client.c1', 'client.c2']);
    expect(t.sent[0]!.frame.code).toBe(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED);
    const list = await t.call(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: 'g' });
    expect(parseJsonBody<{ clientIds: string[] }>(list!).clientIds).toEqual(['c1', 'c2']);
    t.sent.length = 0;
    await t.call(RequestCode.UNREGISTER_CLIENT, { clientId: 'c1', consumerGroup: 'g' });
    expect(t.sent.map((s) => s.to)).toEqual(['client.c2']);
    expect((await t.call(RequestCode.HEART_BEAT, { clientId: 'x' }, jsonBody({ consumers: [{ group: 'bad group' }] })))?.status).toBe(Status.INVALID_ARGUMENT);
  });

  it('send-back: retry with delay, then dead letter; topic admin', async () => {
    const t = makeCtx();
    await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), batch('orders', 1, { tags: 'T' }));
    const r = await t.call(RequestCode.CONSUMER_SEND_MSG_BACK, { consumerGroup: 'g', msgId: 'ID0', delayLevel: 0, maxReconsumeTimes: 2 });
    expect(r?.header).toMatchObject({ deadLetter: false, topic: '%RETRY%g' });
    const sched = t.store.all[1]!;
    expect([sched.topic, sched.queueId, sched.reconsumeTimes, sched.properties?.REAL_TOPIC, sched.properties?.RETRY_TOPIC]).toEqual(['SCHEDULE_TOPIC_XXXX', 2, 1, '%RETRY%g', 'orders']);
    expect((await t.call(RequestCode.CONSUMER_SEND_MSG_BACK, { consumerGroup: 'g', msgId: 'ID0', delayLevel: -1, maxReconsumeTimes: 2 }))?.header.topic).toBe('%DLQ%g');
    expect((await t.call(RequestCode.CONSUMER_SEND_MSG_BACK, { consumerGroup: 'g', msgId: 'nope', delayLevel: 0, maxReconsumeTimes: 2 }))?.status).toBe(Status.QUERY_NOT_FOUND);

    expect((await t.call(RequestCode.UPDATE_AND_CREATE_TOPIC, {}, jsonBody({ topicName: 'x', readQueueNums: 0, writeQueueNums: 1, perm: 6 })))?.status).toBe(Status.INVALID_ARGUMENT);
    expect((await t.call(RequestCode.UPDATE_AND_CREATE_TOPIC, {}, jsonBody({ topicName: 'x', readQueueNums: 2, writeQueueNums: 2, perm: 6 })))?.status).toBe(Status.OK);
    expect((await t.call(RequestCode.DELETE_TOPIC_IN_BROKER, { topic: 'x' }))?.status).toBe(Status.OK);
    expect((await t.call(RequestCode.DELETE_TOPIC_IN_BROKER, { topic: 'x' }))?.status).toBe(Status.TOPIC_NOT_EXIST);
    // the schedule topic stays (delays and retries need it); a retry topic may go
    const refused = await t.call(RequestCode.DELETE_TOPIC_IN_BROKER, { topic: 'SCHEDULE_TOPIC_XXXX' });
    expect(refused?.status).toBe(Status.INVALID_ARGUMENT);
    expect(refused?.header.error).toMatch(/topic "SCHEDULE_TOPIC_XXXX" is one the brokers use themselves: it cannot be deleted/);
    expect(t.ctx.topics.get('SCHEDULE_TOPIC_XXXX')).toBeDefined();
    expect((await t.call(RequestCode.DELETE_TOPIC_IN_BROKER, { topic: '%RETRY%g' }))?.status).toBe(Status.OK);
  });
});

describe('broker pure rules', () => {
  it('pullOutcome: statuses and next offsets', () => {
    const res = (n: number, min: number, max: number, next: number) => ({ messages: new Array(n).fill({}) as MessageExt[], minOffset: min, maxOffset: max, nextOffset: next });
    expect(pullOutcome(0, res(0, 0, 0, 0)).pullStatus).toBe('NO_NEW_MSG');
    expect(pullOutcome(3, res(0, 0, 0, 0))).toMatchObject({ pullStatus: 'OFFSET_ILLEGAL', nextBeginOffset: 0 });
    expect(pullOutcome(1, res(0, 5, 9, 1))).toMatchObject({ pullStatus: 'OFFSET_ILLEGAL', nextBeginOffset: 5 });
    expect(pullOutcome(5, res(2, 5, 9, 7))).toMatchObject({ pullStatus: 'FOUND', nextBeginOffset: 7 });
    expect(pullOutcome(5, res(0, 5, 9, 9))).toMatchObject({ pullStatus: 'NO_MATCHED_MSG', nextBeginOffset: 9 });
    fc.assert(
      fc.property(fc.nat(100), fc.nat(100), fc.nat(100), fc.nat(5), (a, b, off, n) => {
        const [min, max] = a <= b ? [a, b] : [b, a];
        const o = pullOutcome(off, res(off >= min && off < max ? n : 0, min, max, Math.min(max, off + 3)));
        return o.nextBeginOffset >= min && o.nextBeginOffset <= max && (o.pullStatus === 'OFFSET_ILLEGAL') === (off < min || off > max);
      }),
    );
  });

  it('planSendBack follows RocketMQ', () => {
    expect(planSendBack('g', 0, 0, 16, 18)).toEqual({ topic: '%RETRY%g', delayLevel: 3, reconsumeTimes: 1, deadLetter: false });
    expect(planSendBack('g', 20, 0, 16, 18)).toMatchObject({ topic: '%DLQ%g', deadLetter: true, reconsumeTimes: 21 });
    expect(planSendBack('g', 15, 0, 16, 18).delayLevel).toBe(18);
    expect(planSendBack('g', 0, 5, 16, 18).delayLevel).toBe(5);
    expect(planSendBack('g', 0, -1, 16, 18).deadLetter).toBe(true);
  });

  it('toScheduled and fromScheduled round-trip', () => {
    const p = toPutMessage({ topic: 'orders', body: enc.encode('x'), tags: 'T', keys: ['k'], delayLevel: 3, properties: { a: 'b' } }, { queueId: 2, bornHost: 'h', bornTimestamp: 5 }, new UniqKeyBatch('U-', 7, 1), 0);
    const s = toScheduled(p, 3, 18);
    expect([s.topic, s.queueId]).toEqual(['SCHEDULE_TOPIC_XXXX', 2]);
    const ext: MessageExt = { msgId: 'm', topic: s.topic, queueId: s.queueId, queueOffset: 0, commitLogOffset: 0, bornTimestamp: 5, storeTimestamp: 6, reconsumeTimes: 0, bornHost: 'h', storeHost: 's', body: s.body, tags: 'T', keys: ['k'], properties: s.properties! };
    const back = fromScheduled(ext);
    expect([back.topic, back.queueId, back.tags, back.keys]).toEqual(['orders', 2, 'T', ['k']]);
    expect(back.properties).toEqual({ a: 'b', UNIQ_KEY: 'U-00000007' });
  });
});

describe('broker handlers and the transport frame limit', () => {
  const big = (topic: string, bytes: number, fill = 1) => encodeMessageBatch([{ topic, body: new Uint8Array(bytes).fill(fill) }]);
  const pullHeader = (queueOffset: number, maxMsgNums = 16, suspendTimeoutMs = 0) => ({ consumerGroup: 'cg', topic: 'orders', queueId: 0, queueOffset, maxMsgNums, subExpression: '*', suspendTimeoutMs });
  const wide = (t: ReturnType<typeof makeCtx>) => {
    t.ctx.limits.maxBodyBytes = 4 << 20;
    t.ctx.limits.maxBatchBytes = 4 << 20;
  };

  it('send refuses what no pull reply could carry and says how large a body may be; the largest allowed is delivered', async () => {
    const limit = { bytes: 16 * 1024 };
    const t = makeCtx({ maxPayload: limit });
    wide(t);
    const refused = await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), big('orders', limit.bytes - 300));
    expect(refused?.status).toBe(Status.MESSAGE_TOO_LARGE);
    const m = /its body may take at most (\d+) bytes/.exec(String(refused?.header.error));
    expect(m).not.toBeNull();
    const maxBody = Number(m![1]);
    expect(maxBody).toBeGreaterThan(limit.bytes - 2048);
    expect(maxBody).toBeLessThan(limit.bytes - 300);
    expect(t.store.all).toEqual([]);
    expect((await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), big('orders', maxBody + 1)))?.status).toBe(Status.MESSAGE_TOO_LARGE);
    expect((await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), big('orders', maxBody)))?.status).toBe(Status.OK);
    const f = await t.call(RequestCode.PULL_MESSAGE, pullHeader(0));
    expect(f?.header).toMatchObject({ pullStatus: 'FOUND', nextBeginOffset: 1 });
    expect(encodedLength(f!)).toBeLessThanOrEqual(limit.bytes);
    expect(decodePullBody(f!.body)[0]!.body.length).toBe(maxBody);
  });

  it('pull replies are cut to the frame limit, never below one message, and every message is read in order', async () => {
    const limit = { bytes: 1 << 20 };
    const t = makeCtx({ maxPayload: limit });
    wide(t);
    for (let i = 0; i < 10; i++) expect((await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), big('orders', 5000, i)))?.status).toBe(Status.OK);
    limit.bytes = 16 * 1024; // a smaller limit than the one they were stored under
    const seen: number[] = [];
    let offset = 0;
    for (let round = 0; round < 20 && offset < 10; round++) {
      const f = await t.call(RequestCode.PULL_MESSAGE, pullHeader(offset));
      expect(f?.header.pullStatus).toBe('FOUND');
      expect(encodedLength(f!)).toBeLessThanOrEqual(limit.bytes);
      const msgs = decodePullBody(f!.body);
      expect(msgs.length).toBeGreaterThanOrEqual(1);
      for (const m of msgs) seen.push(m.body[0]!);
      offset = Number(f!.header.nextBeginOffset);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a stored message no reply can carry answers MESSAGE_TOO_LARGE, held or not, and the broker goes on serving', async () => {
    const limit = { bytes: 1 << 20 };
    const t = makeCtx({ maxPayload: limit });
    wide(t);
    expect((await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders'), big('orders', 40_000)))?.status).toBe(Status.OK);
    const held = t.pending(RequestCode.PULL_MESSAGE, pullHeader(1, 16, 1000));
    await t.clock.advance(0);
    expect(held.reply).toBeUndefined();
    limit.bytes = 16 * 1024;
    const now = await t.call(RequestCode.PULL_MESSAGE, pullHeader(0));
    expect(now?.status).toBe(Status.MESSAGE_TOO_LARGE);
    expect(now?.header.error).toMatch(/cannot be delivered on this transport/);
    // a held pull woken by a message it cannot carry is answered with the same status
    // (stored straight into the store, as under a larger limit)
    await t.store.putMessages([{ topic: 'orders', queueId: 0, body: new Uint8Array(40_000), bornHost: 'p', bornTimestamp: 1 }]);
    await t.clock.advance(0);
    for (let i = 0; i < 5 && held.reply === undefined; i++) await new Promise((r) => setImmediate(r));
    expect(held.reply?.status).toBe(Status.MESSAGE_TOO_LARGE);
    // small messages still go in and out
    expect((await t.call(RequestCode.SEND_MESSAGE, sendHeader('orders', 0), big('orders', 100)))?.status).toBe(Status.OK);
    const after = await t.call(RequestCode.PULL_MESSAGE, pullHeader(2));
    expect(after?.header).toMatchObject({ pullStatus: 'FOUND', nextBeginOffset: 3 });
  });

  it('a reply the transport refuses is logged, never thrown, and a reply over the limit becomes an error reply', async () => {
    const t = makeCtx();
    const throwing = () => {
      throw new Error('connection closed');
    };
    await expect(dispatchFrame(t.ctx, request(RequestCode.GET_ALL_TOPIC_CONFIG, {}), throwing)).resolves.toBeUndefined();
    await expect(dispatchFrame(t.ctx, request(12345, {}), throwing)).resolves.toBeUndefined();
    const limit = { bytes: 1 << 20 };
    const u = makeCtx({ maxPayload: limit });
    for (let i = 0; i < 50; i++) u.ctx.topics.upsert({ topicName: `topic-with-a-long-name-${i}-${'x'.repeat(60)}`, readQueueNums: 1, writeQueueNums: 1, perm: 6, topicSysFlag: 0 }, 0);
    limit.bytes = 512;
    const r = await u.call(RequestCode.GET_ALL_TOPIC_CONFIG, {});
    expect(r?.status).toBe(Status.PAYLOAD_TOO_LARGE);
  });
});
