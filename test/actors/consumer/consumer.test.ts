import { startConsumer, type ConsumerOptions } from '../../../actors/consumer/consumer.js';
import { RequestCode } from '../../../actors/protocol/request-codes.js';
import { queueKey, type MessageExt } from '../../../core/message.js';
import { StatusError } from '../../../core/status.js';
import { simSystem } from '../../support/sim.js';
import { drive, FakeBroker, FakeNamesrv } from '../../support/fake-broker.js';

const text = (s: string) => new TextEncoder().encode(s);
const str = (m: MessageExt) => new TextDecoder().decode(m.body);

async function world(topics: Record<string, number> = { T: 2, '%RETRY%g': 1 }, brokers = ['a']) {
  const { env, system } = await simSystem(11);
  const ns = new FakeNamesrv(system, 'ns-1');
  const bs = brokers.map((b) => new FakeBroker(system, b, topics));
  ns.publish(bs);
  const start = (opts: Partial<ConsumerOptions> = {}) =>
    drive(env.clock, startConsumer(system, { group: 'g', namesrv: ['ns-1'], subscribe: { T: '*' }, consumeFrom: 'first', ...opts }));
  return { env, system, ns, brokers: bs, broker: bs[0]!, start };
}

function put(b: FakeBroker, queueId: number, n: number, prefix = 'm', tags?: string) {
  b.put('T', queueId, Array.from({ length: n }, (_, i) => ({ body: text(`${prefix}${queueId}-${i}`), tags })));
}

describe('consumer', () => {
  it('pulls and delivers every message to the listener, filtered by the tag expression it sends', async () => {
    const { env, system, broker, start } = await world();
    put(broker, 0, 3, 'x', 'TagA');
    put(broker, 1, 3, 'y', 'TagB');
    put(broker, 0, 2, 'z', 'TagC');
    const got: string[] = [];
    const c = await start({ subscribe: { T: 'TagA || TagB' }, listener: (ms) => (got.push(...ms.map(str)), 'SUCCESS') });
    await env.clock.runUntil(() => got.length >= 6, 60_000);
    await env.clock.advance(100);
    expect(got.sort()).toEqual(['x0-0', 'x0-1', 'x0-2', 'y1-0', 'y1-1', 'y1-2']);
    const pulls = broker.received(RequestCode.PULL_MESSAGE).filter((f) => f.header.topic === 'T');
    expect(pulls.length).toBeGreaterThan(0);
    for (const p of pulls) expect(p.header.subExpression).toBe('TagA || TagB');
    // long polling: a message put later arrives without waiting for the poll timeout
    put(broker, 1, 1, 'late', 'TagA');
    await env.clock.advance(50);
    expect(got).toContain('late1-0');
    await drive(env.clock, c.stop());
    await system.stop();
  });

  it('subscribes to the retry topic and heartbeats its subscriptions', async () => {
    const { env, system, broker, start } = await world();
    const c = await start({ listener: () => 'SUCCESS' });
    const hb = broker.received(RequestCode.HEART_BEAT)[0]!;
    const body = JSON.parse(new TextDecoder().decode(hb.body));
    expect(body.consumers[0].subscriptions).toEqual({ T: '*', '%RETRY%g': '*' });
    expect(c.assignment().map(queueKey).sort()).toEqual(['%RETRY%g@a@0', 'T@a@0', 'T@a@1']);
    await drive(env.clock, c.stop());
    await system.stop();
  });

  it('commits the lowest unprocessed offset per queue on the interval and at stop', async () => {
    const { env, system, broker, start } = await world();
    put(broker, 0, 5);
    put(broker, 1, 2);
    let seen = 0;
    const c = await start({ commitIntervalMs: 1000, listener: (ms) => ((seen += ms.length), 'SUCCESS') });
    await env.clock.runUntil(() => seen >= 7, 60_000);
    await env.clock.advance(1500);
    expect(broker.offsets.get('g@T@0')).toBe(5);
    expect(broker.offsets.get('g@T@1')).toBe(2);
    put(broker, 1, 1);
    await env.clock.runUntil(() => seen >= 8, 60_000);
    await drive(env.clock, c.stop());
    expect(broker.offsets.get('g@T@1')).toBe(3);
    expect(broker.received(RequestCode.UNREGISTER_CLIENT)).toHaveLength(1);
    // a new consumer of the group starts where the old one stopped
    const again: string[] = [];
    put(broker, 0, 1, 'n');
    const c2 = await start({ listener: (ms) => (again.push(...ms.map(str)), 'SUCCESS') });
    await env.clock.runUntil(() => again.length >= 1, 60_000);
    await env.clock.advance(100);
    expect(again).toEqual(['n0-0']);
    await drive(env.clock, c2.stop());
    await system.stop();
  });

  it('rebalance splits the queues between two consumers and moves them when one leaves', async () => {
    const { env, system, broker, start } = await world({ T: 4 });
    const gotA: string[] = [];
    const gotB: string[] = [];
    const a = await start({ clientId: 'ca', listener: (ms) => (gotA.push(...ms.map(str)), 'SUCCESS') });
    expect(a.assignment()).toHaveLength(4);
    const b = await start({ clientId: 'cb', listener: (ms) => (gotB.push(...ms.map(str)), 'SUCCESS') });
    await env.clock.advance(100);
    expect(a.assignment().map((q) => q.queueId).sort()).toEqual([0, 1]);
    expect(b.assignment().map((q) => q.queueId).sort()).toEqual([2, 3]);
    for (let q = 0; q < 4; q++) put(broker, q, 2);
    await env.clock.runUntil(() => gotA.length + gotB.length >= 8, 60_000);
    expect(gotA.sort()).toEqual(['m0-0', 'm0-1', 'm1-0', 'm1-1']);
    expect(gotB.sort()).toEqual(['m2-0', 'm2-1', 'm3-0', 'm3-1']);
    await drive(env.clock, b.stop());
    await env.clock.advance(100);
    expect(a.assignment().map((q) => q.queueId).sort()).toEqual([0, 1, 2, 3]);
    for (let q = 0; q < 4; q++) put(broker, q, 1, 'after');
    await env.clock.runUntil(() => gotA.length >= 8, 60_000);
    await env.clock.advance(100);
    // b committed before leaving, so a continues from there: nothing of b's is delivered again
    expect(gotA.filter((s) => s.startsWith('after')).sort()).toEqual(['after0-0', 'after1-0', 'after2-0', 'after3-0']);
    expect(gotA).toHaveLength(8);
    await drive(env.clock, a.stop());
    await system.stop();
  });

  it('sends a message back on RETRY and gets it again from the retry topic', async () => {
    const { env, system, broker, start } = await world();
    put(broker, 0, 1, 'r');
    const deliveries: { body: string; topic: string; reconsumeTimes: number }[] = [];
    const c = await start({
      listener: (ms) => {
        const m = ms[0]!;
        deliveries.push({ body: str(m), topic: m.topic, reconsumeTimes: m.reconsumeTimes });
        return m.reconsumeTimes === 0 ? 'RETRY' : 'SUCCESS';
      },
    });
    await env.clock.runUntil(() => deliveries.length >= 2, 60_000);
    expect(deliveries).toEqual([
      { body: 'r0-0', topic: 'T', reconsumeTimes: 0 },
      { body: 'r0-0', topic: 'T', reconsumeTimes: 1 },
    ]);
    expect(broker.sendBacks).toHaveLength(1);
    expect(broker.sendBacks[0]).toMatchObject({ consumerGroup: 'g', delayLevel: 3, maxReconsumeTimes: 16 });
    await drive(env.clock, c.stop());
    expect(broker.offsets.get('g@T@0')).toBe(1);
    expect(broker.offsets.get('g@%RETRY%g@0')).toBe(1);
    await system.stop();
  });

  it('retries locally when the send-back fails, holding the offset until then', async () => {
    const { env, system, broker, start } = await world();
    broker.failSendBacks = 1;
    put(broker, 0, 1, 'f');
    const seen: number[] = [];
    const c = await start({
      commitIntervalMs: 100,
      localRetryDelayMs: 2000,
      listener: (ms) => (seen.push(ms[0]!.reconsumeTimes), seen.length === 1 ? 'RETRY' : 'SUCCESS'),
    });
    await env.clock.advance(1000);
    expect(seen).toEqual([0]);
    expect(broker.offsets.get('g@T@0') ?? 0).toBe(0);
    await env.clock.advance(1500);
    expect(seen).toEqual([0, 1]);
    await env.clock.advance(200);
    expect(broker.offsets.get('g@T@0')).toBe(1);
    await drive(env.clock, c.stop());
    await system.stop();
  });

  it('treats a throwing listener as RETRY', async () => {
    const { env, system, broker, start } = await world();
    put(broker, 0, 1);
    let calls = 0;
    const c = await start({
      listener: () => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return 'SUCCESS';
      },
    });
    await env.clock.runUntil(() => calls >= 2, 60_000);
    expect(broker.sendBacks).toHaveLength(1);
    await drive(env.clock, c.stop());
    await system.stop();
  });

  it('stop waits for in-flight processing, commits it, and skips what was not started', async () => {
    const { env, system, broker, start } = await world({ T: 1 });
    put(broker, 0, 3);
    const done: string[] = [];
    let started = 0;
    const c = await start({
      listener: async (ms): Promise<'SUCCESS'> => {
        started++;
        await new Promise<void>((r) => env.clock.setTimeout(r, 1000));
        done.push(str(ms[0]!));
        return 'SUCCESS';
      },
    });
    await env.clock.runUntil(() => started === 1, 60_000);
    await drive(env.clock, c.stop());
    expect(done).toEqual(['m0-0']);
    expect(started).toBe(1);
    expect(broker.offsets.get('g@T@0')).toBe(1);
    await system.stop();
  });

  it('hands messages out through the async iterator with back pressure', async () => {
    const { env, system, broker, start } = await world({ T: 1 });
    put(broker, 0, 20);
    const c = await start({ bufferSize: 2, pullBatch: 4, maxCachedMessagesPerQueue: 4 });
    await env.clock.advance(1000);
    // nobody reads: the buffer is full and the cache limit stops pulling
    const pullsWhileBlocked = broker.received(RequestCode.PULL_MESSAGE).length;
    await env.clock.advance(60_000);
    expect(broker.received(RequestCode.PULL_MESSAGE).length).toBe(pullsWhileBlocked);
    const got: string[] = [];
    const reader = (async () => {
      for await (const m of c) {
        got.push(str(m));
        if (got.length === 20) break;
      }
    })();
    await drive(env.clock, reader);
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => `m0-${i}`));
    await drive(env.clock, c.stop());
    expect(broker.offsets.get('g@T@0')).toBe(20);
    await system.stop();
  });

  it('emits on messages$ when nobody iterates', async () => {
    const { env, system, broker, start } = await world({ T: 1 });
    const c = await start();
    const got: string[] = [];
    let completed = false;
    c.messages$.subscribe({ next: (m) => got.push(str(m)), complete: () => (completed = true) });
    put(broker, 0, 3);
    await env.clock.advance(100);
    expect(got).toEqual(['m0-0', 'm0-1', 'm0-2']);
    await drive(env.clock, c.stop());
    expect(completed).toBe(true);
    expect(broker.offsets.get('g@T@0')).toBe(3);
    await system.stop();
  });

  it('starts a new group at the last offset by default and from a timestamp when asked', async () => {
    const { env, system, broker, start } = await world({ T: 1 });
    put(broker, 0, 3, 'old');
    await env.clock.advance(10_000);
    const t = env.clock.now();
    put(broker, 0, 1, 'new');
    const fromLast: string[] = [];
    const c1 = await start({ consumeFrom: undefined, group: 'g1', listener: (ms) => (fromLast.push(...ms.map(str)), 'SUCCESS') });
    put(broker, 0, 1, 'newer');
    await env.clock.advance(100);
    expect(fromLast).toEqual(['newer0-0']);
    const fromTime: string[] = [];
    const c2 = await start({ consumeFrom: { timestamp: t }, group: 'g2', listener: (ms) => (fromTime.push(...ms.map(str)), 'SUCCESS') });
    await env.clock.advance(100);
    expect(fromTime).toEqual(['new0-0', 'newer0-0']);
    await drive(env.clock, c1.stop());
    await drive(env.clock, c2.stop());
    await system.stop();
  });

  it('broadcasting gives every member every queue and keeps offsets locally', async () => {
    const { env, system, broker, start } = await world({ T: 2 });
    put(broker, 0, 1);
    put(broker, 1, 1);
    const a: string[] = [];
    const b: string[] = [];
    const ca = await start({ model: 'BROADCASTING', listener: (ms) => (a.push(...ms.map(str)), 'SUCCESS') });
    const cb = await start({ model: 'BROADCASTING', listener: (ms) => (b.push(...ms.map(str)), 'SUCCESS') });
    await env.clock.advance(100);
    expect(a.sort()).toEqual(['m0-0', 'm1-0']);
    expect(b.sort()).toEqual(['m0-0', 'm1-0']);
    expect(ca.offsetOf({ topic: 'T', brokerName: 'a', queueId: 0 })).toBe(1);
    await drive(env.clock, ca.stop());
    await drive(env.clock, cb.stop());
    expect(broker.received(RequestCode.UPDATE_CONSUMER_OFFSET)).toHaveLength(0);
    await system.stop();
  });

  it('rejects bad options with a clear error', async () => {
    const { system, start } = await world();
    await expect(start({ subscribe: {} })).rejects.toThrow(StatusError);
    await expect(start({ subscribe: { T: 'a || ' } })).rejects.toThrow(/empty alternative/);
    await expect(start({ group: 'bad group' })).rejects.toThrow(/group name/);
    await system.stop();
  });
});
