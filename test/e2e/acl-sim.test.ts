import { MqSystem, type MessageExt } from '../../index.js';
import type { SimEnvironment } from '../../actors/runtime/environment.js';
import { RequestCode } from '../../actors/protocol/request-codes.js';
import { jsonBody, request } from '../../actors/protocol/replies.js';
import { brokerAddress } from '../../actors/protocol/commands.js';
import { signFrame } from '../../actors/protocol/acl/signing.js';
import { AdminClient } from '../../actors/client/admin-client.js';
import { encodeMessageBatch } from '../../core/message-codec.js';
import { Status, StatusError } from '../../core/status.js';
import type { Frame } from '../../transports/frame.js';
import { FAST } from './support.js';
import { driveOn, simMqSystem } from './sim-support.js';

/**
 * The ACL end to end on simulated time: a name server and a broker with one ACL file, clients that sign (or
 * not), and the file changed under them. Time is virtual, so the replay window and the reload interval are
 * crossed exactly and at once.
 */
const ACL = '/etc/mq/acl.json';
const BROKER = { accessKey: 'broker-ak', secretKey: 'broker-sk' };
const PRODUCER = { accessKey: 'producer-ak', secretKey: 'producer-sk' };
const CONSUMER = { accessKey: 'consumer-ak', secretKey: 'consumer-sk' };

function aclFile(producerTopicPerms: string[]): unknown {
  return {
    accounts: [
      { ...BROKER, admin: true, broker: true, defaultTopicPerm: 'PUB|SUB', defaultGroupPerm: 'SUB' },
      { ...PRODUCER, topicPerms: producerTopicPerms },
      { ...CONSUMER, defaultTopicPerm: 'SUB', groupPerms: ['billing=SUB'] },
    ],
  };
}

describe('ACL on a broker and a name server', () => {
  let env: SimEnvironment;
  let system: MqSystem;
  const drive = <T>(p: Promise<T>, deadlineMs?: number): Promise<T> => driveOn(env, p, deadlineMs);

  function writeAcl(content: unknown): void {
    const f = env.storage.open(ACL);
    f.truncate(0);
    f.write(0, typeof content === 'string' ? new TextEncoder().encode(content) : jsonBody(content));
    f.close();
  }

  async function start(): Promise<void> {
    ({ env, system } = await simMqSystem(11));
    writeAcl(aclFile(['orders=PUB']));
    const acl = { aclFile: ACL, aclReloadMs: 1000 };
    await drive(system.spawnNameServer({ id: 'ns-1', scanIntervalMs: 500, brokerExpiryMs: 3000, ...acl }));
    await drive(system.spawnBroker({ name: 'broker-a', namesrv: ['ns-1'], storeDir: '/data/a', ...FAST.broker, ...acl, credentials: BROKER }));
  }

  afterEach(async () => {
    if (system) await drive(system.stop());
  });

  const raw = (frame: Frame): Promise<Frame> => drive(env.transport.request(brokerAddress('broker-a'), frame, { from: 'raw', timeoutMs: 3000 }));
  const sendFrame = (topic: string): Frame =>
    request(RequestCode.SEND_MESSAGE, { topic, producerGroup: 'pg', queueId: 0, bornHost: 'raw', bornTimestamp: 0 }, encodeMessageBatch([{ topic, body: Buffer.from('x') }]));
  const refused = (reply: Frame, message: RegExp): void => {
    expect(reply.status).toBe(Status.NO_PERMISSION);
    expect(reply.header.error).toMatch(message);
  };

  it('lets a producer with PUB on a topic send there and refuses the topic it lacks PUB on, naming both', async () => {
    await start();
    const producer = await drive(system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client, credentials: PRODUCER }));
    const ok = await drive(producer.send({ topic: 'orders', body: Buffer.from('paid') }));
    expect(ok.msgId).toEqual(expect.any(String));
    const err = await drive(producer.send({ topic: 'audit', body: Buffer.from('x') }).catch((e: unknown) => e));
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).status).toBe(Status.NO_PERMISSION);
    expect((err as StatusError).message).toMatch(/lacks PUB on topic "audit"/);
    // both in one turn (one SEND_MANY, refused whole for "audit"): the message to "orders" goes on its retry
    const both = await drive(Promise.allSettled([producer.send({ topic: 'orders', body: Buffer.from('paid') }), producer.send({ topic: 'audit', body: Buffer.from('y') })]));
    expect(both[0]).toMatchObject({ status: 'fulfilled', value: { status: 'SEND_OK' } });
    expect(both[1]).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ status: Status.NO_PERMISSION }) });

    // a consumer with SUB on its group reads what was sent
    const seen: MessageExt[] = [];
    await drive(
      system.spawnConsumer({ ...FAST.client, ...FAST.consumer, group: 'billing', namesrv: ['ns-1'], subscribe: { orders: '*' }, credentials: CONSUMER, listener: (msgs) => (seen.push(...msgs), 'SUCCESS') }),
    );
    expect(await env.clock.runUntil(() => seen.length === 2, 10_000)).toBe(true);
    expect(seen.map((m) => Buffer.from(m.body).toString())).toEqual(['paid', 'paid']);
  });

  it('refuses a consumer without SUB on its group, unsigned requests, a wrong secret and a replayed request', async () => {
    await start();
    const pull = (group: string) => request(RequestCode.PULL_MESSAGE, { consumerGroup: group, topic: 'orders', queueId: 0, queueOffset: 0, maxMsgNums: 1, subExpression: '*', suspendTimeoutMs: 0 });
    refused(await raw(signFrame(pull('reports'), CONSUMER, env.clock.now())), /account "consumer-ak" lacks SUB on group "reports"/);
    refused(await raw(sendFrame('orders')), /SEND_MESSAGE is not signed/);
    refused(await raw(signFrame(sendFrame('orders'), { ...PRODUCER, secretKey: 'not-the-secret' }, env.clock.now())), /signature does not match access key "producer-ak"/);

    const captured = signFrame(sendFrame('orders'), PRODUCER, env.clock.now());
    expect((await raw(captured)).status).toBe(Status.OK);
    await env.clock.advance(61_000);
    refused(await raw(captured), /61000 ms old, outside the 60000 ms window/);

    // the name server: an unsigned route look-up and an unsigned registration are refused
    const ns = (f: Frame) => drive(env.transport.request('namesrv.ns-1', f, { from: 'raw', timeoutMs: 3000 }));
    refused(await ns(request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'orders' })), /not signed/);
    refused(await ns(signFrame(request(RequestCode.REGISTER_BROKER, { cluster: 'c', brokerName: 'evil', brokerId: 0, address: 'x' }), PRODUCER, env.clock.now())), /neither an admin nor a broker account/);
    expect((await ns(signFrame(request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'orders' }), PRODUCER, env.clock.now()))).status).toBe(Status.OK);
  });

  it('signs admin requests: an admin account creates a topic, another account is refused', async () => {
    await start();
    const admin = new AdminClient(env.transport, { namesrv: ['ns-1'], credentials: BROKER, clock: env.clock });
    const created = await drive(admin.createTopic('ledger'));
    expect(created.brokers.map((b) => b.brokerName)).toEqual(['broker-a']);
    const other = new AdminClient(env.transport, { namesrv: ['ns-1'], credentials: PRODUCER, clock: env.clock });
    await expect(drive(other.createTopic('ledger2'))).rejects.toThrow(/not an admin account/);
    expect(() => new AdminClient(env.transport, { namesrv: ['ns-1'], credentials: PRODUCER })).toThrow(/needs a clock/);
  });

  it('picks up a changed ACL file, and keeps the old rules when the new file is broken', async () => {
    await start();
    const send = async (topic: string) => (await raw(signFrame(sendFrame(topic), PRODUCER, env.clock.now()))).status;
    expect(await send('audit')).toBe(Status.NO_PERMISSION);

    writeAcl(aclFile(['orders=PUB', 'audit=PUB']));
    await env.clock.advance(1_000);
    expect(await send('audit')).toBe(Status.OK);

    writeAcl('{ "accounts": [ { "accessKey": "producer-ak" ');
    await env.clock.advance(1_000);
    expect(await send('audit')).toBe(Status.OK);
    expect(await send('orders')).toBe(Status.OK);
    expect(await send('ledger')).toBe(Status.NO_PERMISSION);

    writeAcl(aclFile(['orders=PUB', 'audit=DENY']));
    await env.clock.advance(1_000);
    expect(await send('audit')).toBe(Status.NO_PERMISSION);
  });

  it('refuses to start a broker whose ACL file is broken', async () => {
    ({ env, system } = await simMqSystem(12));
    writeAcl('not json');
    await drive(system.spawnNameServer({ id: 'ns-1' }));
    await expect(drive(system.spawnBroker({ name: 'broker-a', namesrv: ['ns-1'], storeDir: '/data/a', ...FAST.broker, aclFile: ACL }))).rejects.toThrow(/not valid JSON/);
  });
});
