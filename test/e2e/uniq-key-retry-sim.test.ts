import { MqSystem } from '../../index.js';
import { ActorSystem } from '../../actors/runtime/system.js';
import { rootLogger, simEnvironment, type SimEnvironment } from '../../actors/runtime/environment.js';
import { RequestCode } from '../../actors/protocol/request-codes.js';
import { memoryStorage } from '../../store/backends/memory.js';
import { memoryTransport } from '../../transports/memory.js';
import { withFaults, type FaultyTransportFactory } from '../../transports/faults.js';
import type { MessageExt } from '../../core/message.js';
import { driveOn } from './sim-support.js';

/**
 * A message's unique key is the producer's: a send whose reply is lost is sent again with the same key, so the
 * copy the consumer gets twice is known to be one message. Simulated time, a real broker and consumer, one
 * send reply dropped on its way back.
 */
async function setup(): Promise<{ env: SimEnvironment; system: MqSystem; faults: FaultyTransportFactory['faults']; drive: <T>(p: Promise<T>) => Promise<T> }> {
  const transport = withFaults(memoryTransport());
  const env = await simEnvironment({ seed: 11, transport, storage: (deps) => memoryStorage(deps), logger: rootLogger('silent') });
  const system = new MqSystem(new ActorSystem(env));
  const drive = <T>(p: Promise<T>): Promise<T> => driveOn(env, p);
  await drive(system.spawnNameServer({ id: 'ns-1' }));
  await drive(system.spawnBroker({ name: 'a', namesrv: ['ns-1'], storeDir: '/a', segmentSize: 1 << 20 }));
  return { env, system, faults: transport.faults, drive };
}

/** Drops the reply of the next send request (the broker stores the batch; the producer times out). */
function loseNextSendReply(faults: FaultyTransportFactory['faults']): { lost: () => number } {
  let lost = 0;
  faults.setRules([{ from: 'broker.*', drop: 1 }]);
  const sub = faults.events$.subscribe((e) => {
    if (e.kind === 'drop' && e.leg === 'reply' && (e.code === RequestCode.SEND_MESSAGE || e.code === RequestCode.SEND_BATCH_MESSAGE)) {
      lost++;
      faults.setRules([]);
      sub.unsubscribe();
    }
  });
  return { lost: () => lost };
}

async function consume(env: SimEnvironment, system: MqSystem, topic: string, expect: number): Promise<MessageExt[]> {
  const got: MessageExt[] = [];
  await driveOn(
    env,
    system.spawnConsumer({
      group: `${topic}-cg`,
      namesrv: ['ns-1'],
      subscribe: { [topic]: '*' },
      consumeFrom: 'first',
      listener: (msgs) => {
        got.push(...msgs);
        return 'SUCCESS';
      },
    }),
  );
  await env.clock.runUntil(() => got.length >= expect, 30_000);
  await env.clock.advance(2_000); // room for a copy that should not come
  return got;
}

describe("the producer's unique keys survive a lost send reply", () => {
  it('a send retried after its reply was lost keeps its UNIQ_KEY: the consumer sees both copies under the key the SendResult reported', async () => {
    const { env, system, faults, drive } = await setup();
    const producer = await drive(system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], sendTimeoutMs: 1_000 }));
    await drive(producer.send({ topic: 'uk', body: Buffer.from('warm') })); // the topic exists; the route is known
    const lost = loseNextSendReply(faults);
    const r = await drive(producer.send({ topic: 'uk', body: Buffer.from('twice') }));
    expect(lost.lost()).toBe(1);
    expect(r.status).toBe('SEND_OK');
    expect(r.uniqKey).toMatch(/^[0-9A-F]{32}$/);
    const got = await consume(env, system, 'uk', 3);
    const copies = got.filter((m) => Buffer.from(m.body).toString() === 'twice');
    expect(copies).toHaveLength(2);
    expect(copies.map((m) => m.properties?.UNIQ_KEY)).toEqual([r.uniqKey, r.uniqKey]);
    expect(copies[0]!.msgId).not.toBe(copies[1]!.msgId); // two records, one message
    const warm = got.find((m) => Buffer.from(m.body).toString() === 'warm')!;
    expect(warm.properties?.UNIQ_KEY).not.toBe(r.uniqKey);
    await drive(system.stop());
  });

  it('a batch retried after its reply was lost keeps every key, message i of the run first + i', async () => {
    const { env, system, faults, drive } = await setup();
    const producer = await drive(system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], sendTimeoutMs: 1_000 }));
    await drive(producer.send({ topic: 'ub', body: Buffer.from('warm') }));
    const lost = loseNextSendReply(faults);
    const bodies = ['b0', 'b1', 'b2'];
    const results = await drive(producer.sendBatch(bodies.map((b, i) => ({ topic: 'ub', body: Buffer.from(b), ...(i === 1 ? { properties: { p: 'v' } } : {}) }))));
    expect(lost.lost()).toBe(1);
    const keys = results.map((x) => x.uniqKey!);
    expect(new Set(keys).size).toBe(3);
    expect(keys.map((k) => k.slice(0, 24))).toEqual([keys[0]!.slice(0, 24), keys[0]!.slice(0, 24), keys[0]!.slice(0, 24)]);
    expect(keys.map((k) => parseInt(k.slice(24), 16) - parseInt(keys[0]!.slice(24), 16))).toEqual([0, 1, 2]);
    const got = await consume(env, system, 'ub', 7);
    for (let i = 0; i < 3; i++) {
      const copies = got.filter((m) => Buffer.from(m.body).toString() === bodies[i]);
      expect(copies.map((m) => m.properties?.UNIQ_KEY)).toEqual([keys[i], keys[i]]);
    }
    expect(got.find((m) => Buffer.from(m.body).toString() === 'b1')!.properties?.p).toBe('v');
    await drive(system.stop());
  });
});
