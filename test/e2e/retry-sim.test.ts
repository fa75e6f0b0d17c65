import { MqSystem, type MessageExt } from '../../index.js';
import type { SimEnvironment } from '../../actors/runtime/environment.js';
import { RequestCode } from '../../actors/protocol/request-codes.js';
import { request } from '../../actors/protocol/replies.js';
import type { PullReplyHeader } from '../../actors/protocol/commands.js';
import { delayForLevel, parseDelayLevels, dlqTopic, retryLevel } from '../../actors/protocol/retry-delay.js';
import { FAST } from './support.js';
import { driveOn, simMqSystem } from './sim-support.js';
import { decodePullBody } from '../../core/record-batch.js';

/**
 * Retries and the dead-letter topic on simulated time: the whole system (name server, broker, producer,
 * consumer) runs on a SimClock: delays are checked in simulated time, exactly, without waiting for them.
 */
const LEVELS = '1s 2s 3s 4s 5s 6s 7s 8s';

describe('retry and dead letter on simulated time', () => {
  let env: SimEnvironment;
  let system: MqSystem;

  const drive = <T>(p: Promise<T>, deadlineMs?: number): Promise<T> => driveOn(env, p, deadlineMs);

  async function start(): Promise<void> {
    ({ env, system } = await simMqSystem(7));
    await drive(system.spawnNameServer({ id: 'ns-1', scanIntervalMs: 500, brokerExpiryMs: 3000 }));
    const broker = await drive(system.spawnBroker({ name: 'broker-a', namesrv: ['ns-1'], storeDir: '/data/a', ...FAST.broker, delayLevels: LEVELS }));
    await drive(broker.whenServing());
  }

  afterEach(async () => {
    if (system) await drive(system.stop());
  });

  async function consumeWith(group: string, maxReconsumeTimes: number, listener: (m: MessageExt) => 'SUCCESS' | 'RETRY') {
    const producer = await drive(system.spawnProducer({ group: 'pg', namesrv: ['ns-1'], ...FAST.client }));
    const sent = await drive(producer.send({ topic: 'work', tags: 'job', keys: ['k-1'], body: Buffer.from('the job') }));
    const seen: { at: number; msg: MessageExt }[] = [];
    await drive(
      system.spawnConsumer({
        ...FAST.client,
        ...FAST.consumer,
        group,
        namesrv: ['ns-1'],
        subscribe: { work: '*' },
        maxReconsumeTimes,
        listener: (msgs) => {
          const m = msgs[0]!;
          seen.push({ at: env.clock.now(), msg: m });
          return listener(m);
        },
      }),
    );
    return { sent, seen };
  }

  it('a listener that fails 3 times then succeeds sees the message 4 times, each retry after its delay level', async () => {
    await start();
    let calls = 0;
    const { sent, seen } = await consumeWith('retry-g', 16, () => (++calls <= 3 ? 'RETRY' : 'SUCCESS'));
    const ok = await env.clock.runUntil(() => seen.length >= 4, 60_000);
    expect(ok).toBe(true);
    // nothing more arrives once it succeeded
    await env.clock.advance(20_000);
    expect(seen.length).toBe(4);
    expect(seen.map((s) => Buffer.from(s.msg.body).toString())).toEqual(['the job', 'the job', 'the job', 'the job']);
    expect(seen.map((s) => s.msg.reconsumeTimes)).toEqual([0, 1, 2, 3]);
    expect(seen.every((s) => s.msg.topic === 'work' && s.msg.tags === 'job')).toBe(true);
    expect(seen[0]!.msg.msgId).toBe(sent.msgId);
    for (let k = 1; k < 4; k++) {
      const delay = delayForLevel(retryLevel(k - 1), parseDelayLevels(LEVELS)); // 3 s, 4 s, 5 s
      const gap = seen[k]!.at - seen[k - 1]!.at;
      expect(gap).toBeGreaterThanOrEqual(delay);
      expect(gap).toBeLessThan(delay + 1_500); // the scheduler and a pull cycle, not much more
    }
  });

  it('a listener that always fails sends the message to %DLQ%group after maxReconsumeTimes', async () => {
    await start();
    const { sent, seen } = await consumeWith('dlq-g', 2, () => 'RETRY');
    expect(await env.clock.runUntil(() => seen.length >= 3, 60_000)).toBe(true);
    await env.clock.advance(20_000);
    expect(seen.length).toBe(3); // the first delivery and 2 retries
    const broker = 'broker.broker-a.0';
    const pull = await drive(
      env.transport.request(broker, request(RequestCode.PULL_MESSAGE, { consumerGroup: 'inspect', topic: dlqTopic('dlq-g'), queueId: 0, queueOffset: 0, maxMsgNums: 8, subExpression: '*', suspendTimeoutMs: 0 })),
    );
    expect((pull.header as unknown as PullReplyHeader).pullStatus).toBe('FOUND');
    const dead = decodePullBody(pull.body);
    expect(dead.length).toBe(1);
    expect(Buffer.from(dead[0]!.body).toString()).toBe('the job');
    expect(dead[0]!.reconsumeTimes).toBe(3);
    expect(dead[0]!.properties?.ORIGIN_MESSAGE_ID ?? Object.values(dead[0]!.properties ?? {})).toContain(sent.msgId);
  });
});
