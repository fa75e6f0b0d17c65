import { assign, setup } from 'xstate';
import { ActorSystem } from '../../../actors/runtime/system.js';
import { realEnvironment } from '../../../actors/runtime/environment.js';
import type { FrameEvent } from '../../../actors/runtime/actor-host.js';
import { startBroker, type BrokerHandle, type BrokerOptions } from '../../../actors/broker/broker.js';
import { brokerAddress, namesrvAddress, type ConsumerProgressBody, type PullReplyHeader, type RegisterBrokerBody } from '../../../actors/protocol/commands.js';
import { decodeSendReply } from '../../../actors/protocol/send-reply.js';
import { RequestCode } from '../../../actors/protocol/request-codes.js';
import { encodeMessageBatch } from '../../../core/message-codec.js';
import type { Message } from '../../../core/message.js';
import { jsonBody, okReply, parseJsonBody, request } from '../../../actors/protocol/replies.js';
import { Status } from '../../../core/status.js';
import { memoryStorage, type MemoryStorage } from '../../../store/backends/memory.js';
import type { Frame, Header } from '../../../transports/frame.js';
import { memoryTransport } from '../../../transports/memory.js';
import { decodePullBody } from '../../../core/record-batch.js';

/** A name server that only answers registrations, and remembers them. */
const fakeNameServer = setup({
  types: {} as { context: { registrations: RegisterBrokerBody[]; unregistered: number }; events: FrameEvent },
}).createMachine({
  context: { registrations: [], unregistered: 0 },
  initial: 'serving',
  states: {
    serving: {
      on: {
        frame: {
          actions: assign(({ context, event }) => {
            event.reply?.(okReply(event.frame));
            if (event.frame.code === RequestCode.REGISTER_BROKER)
              return { registrations: [...context.registrations, parseJsonBody<RegisterBrokerBody>(event.frame)] };
            if (event.frame.code === RequestCode.UNREGISTER_BROKER) return { unregistered: context.unregistered + 1 };
            return {};
          }),
        },
      },
    },
  },
});

const text = new TextEncoder();
const dec = new TextDecoder();

async function setupSystem(storage?: MemoryStorage) {
  let st: MemoryStorage | undefined = storage;
  const env = await realEnvironment({ transport: memoryTransport(), storage: (deps) => (st ??= memoryStorage(deps)) });
  const system = new ActorSystem(env);
  const ns = system.host({ address: namesrvAddress('ns-1'), logic: fakeNameServer });
  return { system, ns, storage: st! };
}

const brokerOpts: BrokerOptions = {
  name: 'broker-a',
  namesrv: ['ns-1'],
  storeDir: '/data/a',
  flush: 'sync',
  segmentSize: 64 * 1024,
  offsetPersistMs: 50,
  registerIntervalMs: 100,
};

function call(system: ActorSystem, code: number, header: Header, body?: Uint8Array): Promise<Frame> {
  return system.env.transport.request(brokerAddress('broker-a'), request(code, header, body), { from: 'test', timeoutMs: 5000 });
}

function send(system: ActorSystem, msgs: Message[], queueId = 0): Promise<Frame> {
  return call(system, RequestCode.SEND_BATCH_MESSAGE, { producerGroup: 'pg', topic: msgs[0]!.topic, queueId, bornHost: 'test', bornTimestamp: Date.now() }, encodeMessageBatch(msgs));
}

function pull(system: ActorSystem, queueOffset: number, suspendTimeoutMs: number, subExpression = '*'): Promise<Frame> {
  return call(system, RequestCode.PULL_MESSAGE, { consumerGroup: 'cg', topic: 'orders', queueId: 0, queueOffset, maxMsgNums: 32, subExpression, suspendTimeoutMs });
}

const msg = (body: string, tags?: string): Message => ({ topic: 'orders', body: text.encode(body), ...(tags ? { tags } : {}), keys: [`k-${body}`] });

describe('broker on the memory transport and memory storage', () => {
  let broker: BrokerHandle | undefined;
  let system: ActorSystem | undefined;
  afterEach(async () => {
    await broker?.stop();
    await system?.stop();
    broker = undefined;
    system = undefined;
  });

  it('registers, stores a batch, serves pulls (found, woken, timed out), keeps offsets across a restart', async () => {
    const s = await setupSystem();
    system = s.system;
    broker = await startBroker(system, brokerOpts);
    await broker.whenServing();
    expect(s.ns.actor.getSnapshot().context.registrations.length).toBeGreaterThanOrEqual(1);

    const sent = await send(system, [msg('a', 'paid'), msg('b', 'refunded'), msg('c', 'paid')]);
    expect(sent.status).toBe(Status.OK);
    const results = decodeSendReply(sent.body);
    expect(results.map((r) => r.queueOffset)).toEqual([0, 1, 2]);
    expect(results.every((r) => r.msgId.length > 0 && (r.uniqKey ?? '').length === 32)).toBe(true);

    // the auto-created topic reaches the name server
    await new Promise((r) => setTimeout(r, 150));
    const regs = s.ns.actor.getSnapshot().context.registrations;
    expect(regs[regs.length - 1]!.topics.map((t) => t.topicName)).toContain('orders');

    const found = await pull(system, 0, 0);
    const h = found.header as unknown as PullReplyHeader;
    expect(h.pullStatus).toBe('FOUND');
    expect(h.nextBeginOffset).toBe(3);
    const got = decodePullBody(found.body);
    expect(got.map((m) => dec.decode(m.body))).toEqual(['a', 'b', 'c']);
    // the reply's unique keys (sent as one counter run) are the ones stored with the messages
    expect(got.map((m) => m.properties?.UNIQ_KEY)).toEqual(results.map((r) => r.uniqKey));
    expect(new Set(results.map((r) => r.uniqKey)).size).toBe(3);
    expect(got[0]!.tags).toBe('paid');
    expect(got[0]!.keys).toEqual(['k-a']);

    const filtered = await pull(system, 0, 0, 'paid');
    expect(decodePullBody(filtered.body).map((m) => dec.decode(m.body))).toEqual(['a', 'c']);

    // a held pull woken by a new send
    const started = Date.now();
    const held = pull(system, 3, 5000);
    await new Promise((r) => setTimeout(r, 30));
    await send(system, [msg('d')]);
    const woken = await held;
    expect((woken.header as unknown as PullReplyHeader).pullStatus).toBe('FOUND');
    expect(decodePullBody(woken.body).map((m) => dec.decode(m.body))).toEqual(['d']);
    expect(Date.now() - started).toBeLessThan(2000);

    // a held pull that times out
    const t0 = Date.now();
    const timedOut = await pull(system, 4, 150);
    expect((timedOut.header as unknown as PullReplyHeader).pullStatus).toBe('NO_NEW_MSG');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);

    // view by id, query by key
    const byId = await call(system, RequestCode.VIEW_MESSAGE_BY_ID, { msgId: results[1]!.msgId });
    expect(dec.decode(decodePullBody(byId.body)[0]!.body)).toBe('b');
    const byKey = await call(system, RequestCode.QUERY_MESSAGE, { topic: 'orders', key: 'k-c', maxNum: 4 });
    expect(decodePullBody(byKey.body).map((m) => dec.decode(m.body))).toEqual(['c']);

    // offsets
    const commit = await call(system, RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'cg' }, jsonBody({ offsets: [{ topic: 'orders', queueId: 0, offset: 3 }] }));
    expect(commit.status).toBe(Status.OK);
    const q = await call(system, RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'cg', topic: 'orders', queueId: 0 });
    expect(q.header.offset).toBe(3);
    const max = await call(system, RequestCode.GET_MAX_OFFSET, { topic: 'orders', queueId: 0 });
    expect(max.header.offset).toBe(4);
    const progress = parseJsonBody<ConsumerProgressBody>(await call(system, RequestCode.GET_CONSUMER_STATS_FROM_SERVER, { consumerGroup: 'cg' }));
    expect(progress.queues.find((x) => x.topic === 'orders' && x.queueId === 0)).toMatchObject({ brokerOffset: 4, consumerOffset: 3, lag: 1 });

    await broker.stop();
    expect(s.ns.actor.getSnapshot().context.unregistered).toBe(1);
    const refused = await call(system, RequestCode.GET_MAX_OFFSET, { topic: 'orders', queueId: 0 }).catch((e: unknown) => e);
    expect(refused).toBeDefined();

    // restart on the same storage
    broker = await startBroker(system, brokerOpts);
    await broker.whenServing();
    const again = await call(system, RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'cg', topic: 'orders', queueId: 0 });
    expect(again.header.offset).toBe(3);
    const rest = await pull(system, 3, 0);
    expect(decodePullBody(rest.body).map((m) => dec.decode(m.body))).toEqual(['d']);
  }, 20_000);

  it('sends a failed message back: to the retry topic after its delay, to the dead-letter topic past the maximum', async () => {
    const s = await setupSystem();
    system = s.system;
    broker = await startBroker(system, { ...brokerOpts, delayLevels: '50ms 100ms 1s 2s' });
    await broker.whenServing();
    const sent = decodeSendReply((await send(system, [msg('x', 'paid')])).body)[0]!;
    const retry = '%RETRY%cg';
    const pullRetry = (offset: number, suspendTimeoutMs: number) =>
      call(system!, RequestCode.PULL_MESSAGE, { consumerGroup: 'cg', topic: retry, queueId: 0, queueOffset: offset, maxMsgNums: 8, subExpression: '*', suspendTimeoutMs });

    const t0 = Date.now();
    const back = await call(system, RequestCode.CONSUMER_SEND_MSG_BACK, { consumerGroup: 'cg', msgId: sent.msgId, delayLevel: 0, maxReconsumeTimes: 1 });
    expect(back.status).toBe(Status.OK);
    expect(back.header.deadLetter).toBe(false);
    // level 3 + 0 = 1 s: not there at once (even on a loaded machine), there after the delay (a held pull wakes when it arrives)
    const early = await pullRetry(0, 0);
    expect((early.header as unknown as PullReplyHeader).pullStatus).not.toBe('FOUND');
    const later = await pullRetry(0, 3000);
    expect((later.header as unknown as PullReplyHeader).pullStatus).toBe('FOUND');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(990);
    const retried = decodePullBody(later.body)[0]!;
    expect(dec.decode(retried.body)).toBe('x');
    expect(retried.topic).toBe(retry);
    expect(retried.reconsumeTimes).toBe(1);
    expect(retried.properties?.RETRY_TOPIC).toBe('orders');
    expect(retried.tags).toBe('paid');

    // it fails again: reconsumeTimes 1 >= max 1 -> dead letter at once
    const dead = await call(system, RequestCode.CONSUMER_SEND_MSG_BACK, { consumerGroup: 'cg', msgId: retried.msgId, delayLevel: 0, maxReconsumeTimes: 1 });
    expect(dead.header.deadLetter).toBe(true);
    const dlq = await call(system, RequestCode.PULL_MESSAGE, { consumerGroup: 'admin', topic: '%DLQ%cg', queueId: 0, queueOffset: 0, maxMsgNums: 8, subExpression: '*', suspendTimeoutMs: 0 });
    const inDlq = decodePullBody(dlq.body);
    expect(inDlq.map((m) => [dec.decode(m.body), m.reconsumeTimes, m.properties?.ORIGIN_MESSAGE_ID])).toEqual([['x', 2, sent.msgId]]);
  }, 20_000);

  it('answers bad requests with a status and keeps serving', async () => {
    const s = await setupSystem();
    system = s.system;
    broker = await startBroker(system, { ...brokerOpts, autoCreateTopics: false });
    await broker.whenServing();
    expect((await send(system, [msg('a')])).status).toBe(Status.TOPIC_NOT_EXIST);
    const bad = await call(system, RequestCode.SEND_MESSAGE, { producerGroup: 'pg', topic: 'orders', queueId: 0 }, new Uint8Array([1, 2, 3]));
    expect(bad.status).toBe(Status.BAD_FRAME);
    const create = await call(system, RequestCode.UPDATE_AND_CREATE_TOPIC, {}, jsonBody({ topicName: 'orders', readQueueNums: 2, writeQueueNums: 2, perm: 4, topicSysFlag: 0 }));
    expect(create.status).toBe(Status.OK);
    expect((await send(system, [msg('a')])).status).toBe(Status.NO_PERMISSION);
    expect((await send(system, [msg('a')], 7)).status).toBe(Status.NO_PERMISSION);
    await call(system, RequestCode.UPDATE_AND_CREATE_TOPIC, {}, jsonBody({ topicName: 'orders', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicSysFlag: 0 }));
    expect((await send(system, [msg('a')], 7)).status).toBe(Status.INVALID_ARGUMENT);
    expect((await send(system, [msg('a')], 1)).status).toBe(Status.OK);
    const unknown = await call(system, 999, {});
    expect(unknown.status).toBe(Status.REQUEST_CODE_NOT_SUPPORTED);
    const list = parseJsonBody<{ topics: { topicName: string }[] }>(await call(system, RequestCode.GET_ALL_TOPIC_CONFIG, {}));
    expect(list.topics.map((t) => t.topicName)).toContain('orders');
  }, 20_000);

  it('expires silent clients and tells the remaining members', async () => {
    const s = await setupSystem();
    system = s.system;
    const notices: string[] = [];
    system.env.transport.inbox('client.c2').subscribe((i) => notices.push(String(i.frame.header.consumerGroup)));
    broker = await startBroker(system, { ...brokerOpts, clientExpiryMs: 150, clientScanIntervalMs: 20 });
    await broker.whenServing();
    const hb = (id: string) =>
      call(system!, RequestCode.HEART_BEAT, { clientId: id }, jsonBody({ producerGroups: [], consumers: [{ group: 'cg', messageModel: 'CLUSTERING', subscriptions: { orders: '*' } }] }));
    await hb('c1');
    await hb('c2');
    const list = async () => parseJsonBody<{ clientIds: string[] }>(await call(system!, RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: 'cg' })).clientIds;
    expect(await list()).toEqual(['c1', 'c2']);
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 50));
      await hb('c2');
    }
    expect(await list()).toEqual(['c2']);
    expect(notices.length).toBeGreaterThanOrEqual(2); // joined, then c1 expired
  }, 20_000);
});
