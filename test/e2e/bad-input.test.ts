import type { MqSystem, MessageExt } from '../../index.js';
import { Status } from '../../core/status.js';
import { RequestCode } from '../../actors/protocol/request-codes.js';
import { request } from '../../actors/protocol/replies.js';
import { encodeMessageBatch } from '../../core/message-codec.js';
import type { PullReplyHeader } from '../../actors/protocol/commands.js';
import { FAST, createTopic, eventually, memorySystem } from './support.js';

/** Bad input at every edge gets a clear status and the broker keeps serving; long polling answers at once. */
describe('bad input and long polling end to end', () => {
  let system: MqSystem;
  afterEach(async () => {
    await system?.stop();
  });

  async function cluster(autoCreateTopics: boolean) {
    system = await memorySystem();
    await system.spawnNameServer({ id: 'ns-1', scanIntervalMs: 500, brokerExpiryMs: 3000 });
    const broker = await system.spawnBroker({ name: 'broker-a', namesrv: ['ns-1'], storeDir: '/data/a', ...FAST.broker, autoCreateTopics, maxBodyBytes: 1024 });
    await broker.whenServing();
    return broker;
  }

  it('answers unknown topics, bad names, oversized bodies, garbage frames and illegal offsets clearly', async () => {
    const broker = await cluster(false);
    await createTopic(system, [broker.address], 'known', 2);
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client, retries: 0, sendTimeoutMs: 1000 });
    // unknown topic with auto-create off: no route, named clearly
    const refused = await producer.send({ topic: 'unknown', body: Buffer.from('x') }).then(
      () => undefined,
      (err: unknown) => err as { status: number; message: string },
    );
    expect([Status.NO_ROUTE, Status.TOPIC_NOT_EXIST]).toContain(refused?.status);
    expect(refused?.message).toMatch(/unknown/);
    // straight to the broker: TOPIC_NOT_EXIST
    const t = system.env.transport;
    const sendHeader = (topic: string) => ({ producerGroup: 'pg', topic, queueId: 0, bornHost: 'test', bornTimestamp: 1 });
    const raw = (topic: string, body: Uint8Array) => encodeMessageBatch([{ topic, body }]);
    const unknown = await t.request(broker.address, request(RequestCode.SEND_MESSAGE, sendHeader('unknown'), raw('unknown', Buffer.from('x'))));
    expect(unknown.status).toBe(Status.TOPIC_NOT_EXIST);
    expect(String(unknown.header.error)).toMatch(/unknown/);
    // a topic name that would escape the store directory
    await expect(producer.send({ topic: '../known', body: Buffer.from('x') })).rejects.toMatchObject({ status: Status.MESSAGE_ILLEGAL });
    const escape = await t.request(broker.address, request(RequestCode.SEND_MESSAGE, sendHeader('../known'), raw('../known', Buffer.from('x'))));
    expect(escape.status).toBe(Status.MESSAGE_ILLEGAL);
    expect(String(escape.header.error)).toMatch(/topic/);
    // oversized body: the producer refuses it before sending; the broker refuses it when sent anyway
    const big = await t.request(broker.address, request(RequestCode.SEND_MESSAGE, sendHeader('known'), raw('known', Buffer.alloc(4096))));
    expect(big.status).toBe(Status.MESSAGE_TOO_LARGE);
    expect(String(big.header.error)).toMatch(/1024|large|bytes/);
    // a SEND_MESSAGE whose body is garbage
    const garbage = await t.request(broker.address, request(RequestCode.SEND_MESSAGE, sendHeader('known'), Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 255, 0, 9])));
    expect(garbage.status).toBe(Status.BAD_FRAME);
    expect(String(garbage.header.error).length).toBeGreaterThan(0);
    // a header missing its fields
    const noHeader = await t.request(broker.address, request(RequestCode.SEND_MESSAGE, {}, raw('known', Buffer.from('x'))));
    expect(noHeader.status).not.toBe(Status.OK);
    expect(String(noHeader.header.error)).toMatch(/topic/);
    // pull past the end of a queue: OFFSET_ILLEGAL and the corrected next offset
    for (let i = 0; i < 3; i++) await producer.send({ topic: 'known', body: Buffer.from(`m${i}`) });
    const pull = (queueId: number, queueOffset: number) =>
      t.request(broker.address, request(RequestCode.PULL_MESSAGE, { consumerGroup: 'g', topic: 'known', queueId, queueOffset, maxMsgNums: 8, subExpression: '*', suspendTimeoutMs: 0 }));
    // acknowledged is not yet visible with async flush: wait until the flush makes all three readable
    const sizesNow = () => Promise.all([0, 1].map(async (q) => (await pull(q, 0)).header as unknown as PullReplyHeader));
    let sizes = await sizesNow();
    for (let i = 0; i < 100 && sizes[0]!.maxOffset + sizes[1]!.maxOffset < 3; i++) {
      await new Promise((r) => setTimeout(r, 10));
      sizes = await sizesNow();
    }
    const q = sizes[0]!.maxOffset > 0 ? 0 : 1;
    const max = sizes[q]!.maxOffset;
    const past = await pull(q, max + 1000);
    expect(past.status).toBe(Status.OK);
    expect(past.header).toMatchObject({ pullStatus: 'OFFSET_ILLEGAL', nextBeginOffset: max });
    const negative = await pull(q, -5);
    expect(negative.status).toBe(Status.INVALID_ARGUMENT);
    const badQueue = await pull(99, 0);
    expect(badQueue.status).toBe(Status.INVALID_ARGUMENT);
    expect(String(badQueue.header.error)).toMatch(/queue 99/);
    // the broker keeps serving
    const ok = await producer.send({ topic: 'known', body: Buffer.from('still serving') });
    expect(ok.status).toBe('SEND_OK');
    expect(broker.state()).toBe('serving');
  });

  it('a long-polling pull returns within milliseconds of a send, not at its timeout', async () => {
    await cluster(true);
    const producer = await system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client });
    await producer.send({ topic: 'lp', body: Buffer.from('warm-up') }); // creates the topic
    const got: { msg: MessageExt; at: number }[] = [];
    await system.spawnConsumer({
      ...FAST.client,
      ...FAST.consumer,
      pullTimeoutMs: 10_000,
      group: 'lp-g',
      namesrv: ['ns-1'],
      subscribe: { lp: '*' },
      listener: (msgs) => {
        for (const msg of msgs) got.push({ msg, at: Date.now() });
        return 'SUCCESS';
      },
    });
    await eventually(() => got.length >= 1, 5_000, 'warm-up message');
    // every queue's pull is now parked at the broker (10 s timeout)
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 150));
      const before = got.length;
      const r = await producer.send({ topic: 'lp', body: Buffer.from(`m${i}`) });
      const acked = Date.now();
      await eventually(() => got.length > before, 2_000, `message ${i}`);
      expect(got[got.length - 1]!.msg.msgId).toBe(r.msgId);
      latencies.push(got[got.length - 1]!.at - acked);
    }
    expect(Math.max(...latencies)).toBeLessThan(200);
  });
});
