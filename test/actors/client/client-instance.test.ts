import pino from 'pino';
import { ClientInstance } from '../../../actors/client/client-instance.js';
import type { ActorIo } from '../../../actors/runtime/actor-host.js';
import { RequestCode } from '../../../actors/protocol/request-codes.js';
import { errorReply, jsonBody, okReply, request } from '../../../actors/protocol/replies.js';
import type { TopicRoute } from '../../../actors/protocol/route.js';
import { SimClock } from '../../../core/clock.js';
import { SeededRandom } from '../../../core/random.js';
import { Status, StatusError } from '../../../core/status.js';
import type { Frame } from '../../../transports/frame.js';
import { TransportError } from '../../../transports/transport.js';

const route: TopicRoute = {
  queueDatas: [{ brokerName: 'b', readQueueNums: 1, writeQueueNums: 1, perm: 6, topicSysFlag: 0 }],
  brokerDatas: [{ cluster: 'c', brokerName: 'b', addrs: { 0: 'broker.b.0', 1: 'broker.b.1', 2: 'broker.b.2' } }],
};

/** A client whose requests go to `brokers` (address -> answer); the name server answers `route` for any topic. */
async function client(brokers: Record<string, (f: Frame) => Frame | Promise<Frame>>, masterDownMs?: number) {
  const clock = new SimClock(0);
  const to: string[] = [];
  const io = {
    address: 'client.c',
    clock,
    random: new SeededRandom(1),
    logger: pino({ level: 'silent' }),
    request: async (addr: string, frame: Frame): Promise<Frame> => {
      if (frame.code === RequestCode.GET_ROUTEINFO_BY_TOPIC) return okReply(frame, {}, jsonBody(route));
      to.push(addr);
      const answer = brokers[addr];
      if (!answer) throw new TransportError('NO_RESPONDERS', `no one at ${addr}`);
      return answer(frame);
    },
  } as unknown as ActorIo;
  const c = new ClientInstance(io, { clientId: 'c', namesrv: ['ns'], ...(masterDownMs !== undefined ? { masterDownMs } : {}) });
  await c.routes.route('T');
  return { c, clock, to };
}

const pull = (): Frame => request(RequestCode.PULL_MESSAGE, { topic: 'T' });
const ok = (f: Frame): Frame => okReply(f);

describe('client instance: reads when a master does not answer', () => {
  it('a read its master does not answer goes to the lowest slave at once, and so do the group\'s reads until the mark expires', async () => {
    const { c, clock, to } = await client({ 'broker.b.1': ok, 'broker.b.2': ok });
    expect((await c.requestBroker('b', pull(), { slaveOk: true })).status).toBe(Status.OK);
    expect(to).toEqual(['broker.b.0', 'broker.b.1']);
    expect(c.isMasterDown('b')).toBe(true);
    await c.requestBroker('b', request(RequestCode.UPDATE_CONSUMER_OFFSET), { slaveOk: true });
    expect(to.slice(2)).toEqual(['broker.b.1']);
    await clock.advance(9_999);
    await c.requestBroker('b', pull(), { slaveOk: true });
    expect(to.slice(3)).toEqual(['broker.b.1']);
    await clock.advance(1);
    expect(c.isMasterDown('b')).toBe(false);
    await c.requestBroker('b', pull(), { slaveOk: true }); // the master again (still gone: marked once more)
    expect(to.slice(4)).toEqual(['broker.b.0', 'broker.b.1']);
  });

  it('writes and locks go to the master only, marked down or not', async () => {
    const { c, to } = await client({ 'broker.b.1': ok });
    await c.requestBroker('b', pull(), { slaveOk: true });
    await expect(c.requestBroker('b', request(RequestCode.LOCK_BATCH_MQ))).rejects.toMatchObject({ status: Status.NO_RESPONDERS });
    expect(to).toEqual(['broker.b.0', 'broker.b.1', 'broker.b.0']);
  });

  it('counts a SERVICE_NOT_AVAILABLE reply or a lost link as down, not a refusal', async () => {
    let master: (f: Frame) => Frame = (f) => errorReply(f, Status.SERVICE_NOT_AVAILABLE, 'shutting down');
    const { c, clock, to } = await client({ 'broker.b.0': (f) => master(f), 'broker.b.1': ok }, 500);
    await c.requestBroker('b', pull(), { slaveOk: true });
    expect(to).toEqual(['broker.b.0', 'broker.b.1']);
    await clock.advance(500);
    master = () => {
      throw new TransportError('DISCONNECTED', 'link lost');
    };
    await c.requestBroker('b', pull(), { slaveOk: true });
    expect(to.slice(2)).toEqual(['broker.b.0', 'broker.b.1']);
    await clock.advance(500);
    master = (f) => errorReply(f, Status.TOPIC_NOT_EXIST, 'no such topic');
    await expect(c.requestBroker('b', pull(), { slaveOk: true })).rejects.toBeInstanceOf(StatusError);
    expect(to.slice(4)).toEqual(['broker.b.0']);
    expect(c.isMasterDown('b')).toBe(false);
  });

  it('sends a read to the preferred broker the route has, else to the master', async () => {
    const { c, to } = await client({ 'broker.b.0': ok, 'broker.b.2': ok });
    await c.requestBroker('b', pull(), { slaveOk: true, preferBrokerId: 2 });
    await c.requestBroker('b', pull(), { slaveOk: true, preferBrokerId: 5 });
    await c.requestBroker('b', pull(), { preferBrokerId: 2 });
    expect(to).toEqual(['broker.b.2', 'broker.b.0', 'broker.b.0']);
  });
});
