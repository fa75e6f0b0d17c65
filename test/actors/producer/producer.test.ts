import { startProducer, type ProducerOptions } from '../../../actors/producer/producer.js';
import { RequestCode } from '../../../actors/protocol/request-codes.js';
import { Status, StatusError } from '../../../core/status.js';
import { decodeMessageBatch } from '../../../core/message-codec.js';
import { decodeSendMany } from '../../../actors/protocol/send-many.js';
import { queueKey, type Message } from '../../../core/message.js';
import { simSystem } from '../../support/sim.js';
import { drive, FakeBroker, FakeNamesrv } from '../../support/fake-broker.js';

const body = (s: string) => new TextEncoder().encode(s);
const msg = (topic: string, i: number): Message => ({ topic, body: body(`m${i}`) });

async function setup(topics: Record<string, number> = { T: 2 }, brokers = ['a', 'b'], opts: Partial<ProducerOptions> = {}) {
  const { env, system } = await simSystem(7);
  const ns1 = new FakeNamesrv(system, 'ns-1');
  const ns2 = new FakeNamesrv(system, 'ns-2');
  const bs = brokers.map((b) => new FakeBroker(system, b, topics));
  ns1.publish(bs);
  ns2.publish(bs);
  const producer = await drive(env.clock, startProducer(system, { group: 'pg', namesrv: ['ns-1', 'ns-2'], ...opts }));
  return { env, system, ns1, ns2, brokers: bs, producer };
}

async function errorOf(p: Promise<unknown>): Promise<StatusError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(StatusError);
    return err as StatusError;
  }
  throw new Error('expected a rejection');
}

describe('producer', () => {
  it('picks queues round robin over every writable queue', async () => {
    const { env, system, producer } = await setup();
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await drive(env.clock, producer.send(msg('T', i)));
      expect(r.status).toBe('SEND_OK');
      seen.push(queueKey(r.queue));
    }
    expect(seen.slice(0, 4).sort()).toEqual(['T@a@0', 'T@a@1', 'T@b@0', 'T@b@1']);
    expect(seen.slice(4)).toEqual(seen.slice(0, 4));
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it('retries a failed send on another broker and then avoids the failed broker', async () => {
    const { env, system, brokers, producer } = await setup();
    const [a, b] = brokers as [FakeBroker, FakeBroker];
    a.failSends = 1;
    // round robin starts at a's first queue: that send fails and is retried on b
    const first = await drive(env.clock, producer.send(msg('T', 0)));
    expect(first.status).toBe('SEND_OK');
    expect(first.queue.brokerName).toBe('b');
    expect(a.received(RequestCode.SEND_MESSAGE)).toHaveLength(1);
    expect(b.received(RequestCode.SEND_MESSAGE)).toHaveLength(1);
    expect(producer.faults().get('a')!.availableAt).toBeGreaterThan(env.clock.now());
    // a is avoided for a while: every following send goes to b
    for (let i = 1; i <= 5; i++) expect((await drive(env.clock, producer.send(msg('T', i)))).queue.brokerName).toBe('b');
    expect(a.received(RequestCode.SEND_MESSAGE)).toHaveLength(1);
    // once the avoidance time is over, a gets sends again
    await env.clock.advance(700_000);
    const later: string[] = [];
    for (let i = 0; i < 4; i++) later.push((await drive(env.clock, producer.send(msg('T', i)))).queue.brokerName);
    expect(later).toContain('a');
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it('avoids a broker that does not answer', async () => {
    const { env, system, brokers, producer } = await setup({ T: 2 }, ['a', 'b'], { sendTimeoutMs: 500 });
    const [a, b] = brokers as [FakeBroker, FakeBroker];
    a.down = true;
    const r0 = await drive(env.clock, producer.send(msg('T', 0)));
    expect(r0.queue.brokerName).toBe('b');
    expect(a.received(RequestCode.SEND_MESSAGE)).toHaveLength(1);
    for (let i = 1; i <= 6; i++) {
      const r = await drive(env.clock, producer.send(msg('T', i)));
      expect(r.queue.brokerName).toBe('b');
    }
    expect(a.received(RequestCode.SEND_MESSAGE)).toHaveLength(1);
    expect(b.received(RequestCode.SEND_MESSAGE)).toHaveLength(7);
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it('gives each batch a run of unique keys in the request headers; a send retried after a lost reply sends the same', async () => {
    const { env, system, brokers, producer } = await setup({ T: 1 }, ['a', 'b'], { sendTimeoutMs: 500 });
    const [a, b] = brokers as [FakeBroker, FakeBroker];
    a.sendDelayMs = 1_000; // a stores the message but its reply comes after the send timed out: lost
    const r = await drive(env.clock, producer.send(msg('T', 0)));
    expect(r.queue.brokerName).toBe('b');
    const [first] = a.received(RequestCode.SEND_MESSAGE);
    const [retry] = b.received(RequestCode.SEND_MESSAGE);
    expect(first!.header.uniqPrefix).toMatch(/^[0-9A-F]{24}$/);
    expect(typeof first!.header.uniqFirst).toBe('number');
    expect([retry!.header.uniqPrefix, retry!.header.uniqFirst]).toEqual([first!.header.uniqPrefix, first!.header.uniqFirst]);
    // the key is the request's run (the fake broker's reply carries none), the same on both brokers
    expect(r.uniqKey).toBe(`${String(first!.header.uniqPrefix)}${Number(first!.header.uniqFirst).toString(16).toUpperCase().padStart(8, '0')}`);
    expect(a.queue('T', 0)).toHaveLength(1);
    expect(b.queue('T', 0)).toHaveLength(1);
    // batches split by the producer: each its own run, message i of a batch uniqFirst + i
    a.sendDelayMs = 0;
    const results = await drive(env.clock, producer.sendBatch(Array.from({ length: 6 }, (_, i) => msg('T', i))));
    const keys = results.map((x) => x.uniqKey!);
    expect(new Set(keys).size).toBe(6);
    expect(new Set([...keys, r.uniqKey]).size).toBe(7);
    const frames = [...a.received(RequestCode.SEND_BATCH_MESSAGE), ...b.received(RequestCode.SEND_BATCH_MESSAGE)];
    expect(frames).toHaveLength(1);
    expect(keys[5]!.slice(24)).toBe((Number(frames[0]!.header.uniqFirst) + 5).toString(16).toUpperCase().padStart(8, '0'));
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it('gives each lingering batch and each sendBatch chunk its own run of keys', async () => {
    const { env, system, brokers, producer } = await setup({ T: 1 }, ['a'], { batchMaxBytes: 200, lingerMs: 5 });
    const chunked = await drive(env.clock, producer.sendBatch(Array.from({ length: 10 }, (_, i) => ({ topic: 'T', body: new Uint8Array(50).fill(i) }))));
    const lingered = await drive(env.clock, Promise.all([0, 1, 2].map((i) => producer.send(msg('T', i)))));
    const frames = brokers[0]!.received(RequestCode.SEND_BATCH_MESSAGE);
    expect(frames.length).toBeGreaterThan(2);
    const runs = frames.map((f) => `${String(f.header.uniqPrefix)}/${String(f.header.uniqFirst)}`);
    expect(new Set(runs).size).toBe(frames.length);
    const keys = [...chunked, ...lingered].map((x) => x.uniqKey);
    expect(new Set(keys).size).toBe(13);
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it('fails after the retries are used up with the last error', async () => {
    const { env, system, brokers, producer } = await setup({ T: 1 }, ['a'], { retries: 1 });
    brokers[0]!.failSends = 5;
    const err = await errorOf(drive(env.clock, producer.send(msg('T', 0))));
    expect(err.status).toBe(Status.SYSTEM_BUSY);
    expect(brokers[0]!.received(RequestCode.SEND_MESSAGE)).toHaveLength(2);
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it('gives NO_ROUTE with a clear message for a topic without route', async () => {
    const { env, system, producer } = await setup();
    const err = await errorOf(drive(env.clock, producer.send(msg('Nope', 0))));
    expect(err.status).toBe(Status.NO_ROUTE);
    expect(err.message).toContain('"Nope"');
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it('rejects too large and illegal messages without sending', async () => {
    const { env, system, brokers, producer } = await setup({ T: 1 }, ['a'], { maxMessageBytes: 16 });
    const big = await errorOf(drive(env.clock, producer.send({ topic: 'T', body: new Uint8Array(17) })));
    expect(big.status).toBe(Status.MESSAGE_TOO_LARGE);
    const bad = await errorOf(drive(env.clock, producer.send({ topic: 'bad topic', body: body('x') })));
    expect(bad.status).toBe(Status.MESSAGE_ILLEGAL);
    expect(() => producer.sendOneway({ topic: 'T', body: new Uint8Array(0) })).toThrow(StatusError);
    await env.clock.advance(100);
    expect(brokers[0]!.received(RequestCode.SEND_MESSAGE)).toHaveLength(0);
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it('combines sends to one queue within the linger time into one batch', async () => {
    const { env, system, brokers, producer } = await setup({ T: 1 }, ['a'], { lingerMs: 5 });
    const ps = Array.from({ length: 10 }, (_, i) => producer.send(msg('T', i)));
    const results = await drive(env.clock, Promise.all(ps));
    expect(results.map((r) => r.queueOffset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const batches = brokers[0]!.received(RequestCode.SEND_BATCH_MESSAGE);
    expect(batches).toHaveLength(1);
    expect(decodeMessageBatch(batches[0]!.body).map((m) => new TextDecoder().decode(m.body))).toEqual(results.map((_, i) => `m${i}`));
    expect(brokers[0]!.received(RequestCode.SEND_MESSAGE)).toHaveLength(0);
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it('without a linger time, sends one turn makes to one topic go to one queue as one request, and nothing waits', async () => {
    const { env, system, brokers, producer } = await setup({ T: 2, U: 2 }, ['a', 'b']);
    const all = () => brokers.flatMap((b) => [...b.received(RequestCode.SEND_BATCH_MESSAGE), ...b.received(RequestCode.SEND_MESSAGE)]);
    // a send alone leaves in the same turn of the simulated clock: no timer is waited for
    const t0 = env.clock.now();
    expect((await drive(env.clock, producer.send(msg('T', 0)))).status).toBe('SEND_OK');
    expect(env.clock.now()).toBe(t0);
    expect(all()).toHaveLength(1);
    // ten sends to T and three to U in one turn: one request each, each caller its own result
    const ts = Array.from({ length: 10 }, (_, i) => producer.send(msg('T', i + 1)));
    const us = Array.from({ length: 3 }, (_, i) => producer.send(msg('U', i)));
    const [rt, ru] = await drive(env.clock, Promise.all([Promise.all(ts), Promise.all(us)]));
    expect(all()).toHaveLength(3);
    expect(new Set(rt.map((r) => queueKey(r.queue))).size).toBe(1);
    expect(new Set(ru.map((r) => queueKey(r.queue))).size).toBe(1);
    expect(rt.map((r) => r.queueOffset)).toEqual(rt.map((_, i) => rt[0]!.queueOffset + i));
    expect(new Set([...rt, ...ru].map((r) => r.uniqKey)).size).toBe(13);
    // the next turn's batch goes to the next queue of the round
    const next = await drive(env.clock, Promise.all([producer.send(msg('T', 20)), producer.send(msg('T', 21))]));
    expect(queueKey(next[0]!.queue)).toBe(queueKey(next[1]!.queue));
    expect(queueKey(next[0]!.queue)).not.toBe(queueKey(rt[0]!.queue));
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it("without a linger time, one turn's batches for several topics on one broker go as one SEND_MANY request", async () => {
    const { env, system, brokers, producer } = await setup({ T: 1, U: 1, V: 1 }, ['a']);
    const a = brokers[0]!;
    // learn the routes first: each topic's first send waits for its route, in a turn of its own
    await drive(env.clock, Promise.all(['T', 'U', 'V'].map((t) => producer.send(msg(t, 0)))));
    const before = a.frames.length;
    const ps = [msg('T', 1), msg('U', 1), msg('T', 2), msg('V', 1), msg('U', 2), msg('U', 3)].map((m) => producer.send(m));
    const rs = await drive(env.clock, Promise.all(ps));
    const sent = a.frames.slice(before);
    expect(sent.map((f) => f.code)).toEqual([RequestCode.SEND_MANY]);
    const parts = decodeSendMany(sent[0]!.body);
    expect(parts.map((p) => `${p.topic}:${decodeMessageBatch(p.batch).length}`)).toEqual(['T:2', 'U:3', 'V:1']);
    // each caller gets its own message's result
    expect(rs.map((r) => `${r.queue.topic}@${r.queueOffset}`)).toEqual(['T@1', 'U@1', 'T@2', 'V@1', 'U@2', 'U@3']);
    expect(new Set(rs.map((r) => r.uniqKey)).size).toBe(6);
    for (const r of rs) expect(new TextDecoder().decode(a.queue(r.queue.topic, 0)[r.queueOffset]!.body)).toMatch(/^m\d$/);
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it("a turn's SEND_MANY stays within batchMaxBytes, its parts' own bytes counted: more requests, not larger ones", async () => {
    const topics = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`T${i}`, 1]));
    const { env, system, brokers, producer } = await setup(topics, ['a'], { batchMaxBytes: 400 });
    const a = brokers[0]!;
    const names = Object.keys(topics);
    await drive(env.clock, Promise.all(names.map((t) => producer.send({ topic: t, body: new Uint8Array(50) })))); // routes learned
    const before = a.frames.length;
    const rs = await drive(env.clock, Promise.all(names.map((t) => producer.send({ topic: t, body: new Uint8Array(50) }))));
    expect(rs.every((r) => r.status === 'SEND_OK')).toBe(true);
    const sent = a.frames.slice(before).filter((f) => f.code === RequestCode.SEND_MANY || f.code === RequestCode.SEND_MESSAGE);
    const many = sent.filter((f) => f.code === RequestCode.SEND_MANY);
    expect(many.length).toBeGreaterThan(2);
    for (const f of many) expect(f.body.length).toBeLessThanOrEqual(400);
    // every message went once, in one of the requests
    expect(sent.reduce((n, f) => n + (f.code === RequestCode.SEND_MANY ? decodeSendMany(f.body).length : 1), 0)).toBe(20);
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it('a SEND_MANY part the broker refuses is retried alone on another broker, with the same unique keys; the others are not sent again', async () => {
    const { env, system } = await simSystem(7);
    const ns = new FakeNamesrv(system, 'ns-1');
    const a = new FakeBroker(system, 'a', { T: 1, U: 1 });
    const b = new FakeBroker(system, 'b', { T: 1 });
    ns.publish([a, b]);
    const producer = await drive(env.clock, startProducer(system, { group: 'pg', namesrv: ['ns-1'] }));
    await drive(env.clock, Promise.all([producer.send(msg('T', 0)), producer.send(msg('U', 0))]));
    const many = () => a.received(RequestCode.SEND_MANY);
    const before = many().length;
    // the round robin brings T back to a; U lives on a alone
    const t1 = producer.send(msg('T', 1));
    const u1 = producer.send(msg('U', 1));
    const t2 = producer.send(msg('T', 2));
    const u2 = producer.send(msg('U', 2));
    a.failSends = 1; // the first part of a's next request: T's
    const [rt1, ru1, rt2, ru2] = await drive(env.clock, Promise.all([t1, u1, t2, u2]));
    expect(many()).toHaveLength(before + 1);
    expect([rt1, rt2].map((r) => r.queue.brokerName)).toEqual(['b', 'b']);
    expect([ru1, ru2].map((r) => r.queue.brokerName)).toEqual(['a', 'a']);
    const retried = b.received(RequestCode.SEND_BATCH_MESSAGE);
    expect(retried).toHaveLength(1);
    const part = decodeSendMany(many()[before]!.body)[0]!;
    expect(part.topic).toBe('T');
    expect([retried[0]!.header.uniqPrefix, retried[0]!.header.uniqFirst]).toEqual([part.uniqPrefix, part.uniqFirst]);
    expect(a.queue('U', 0)).toHaveLength(3);
    expect(a.queue('T', 0)).toHaveLength(1);
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it('starts a new lingering batch when the next message would exceed batchMaxBytes', async () => {
    const { env, system, brokers, producer } = await setup({ T: 1 }, ['a'], { lingerMs: 5, batchMaxBytes: 100 });
    const ps = Array.from({ length: 6 }, (_, i) => producer.send({ topic: 'T', body: new Uint8Array(30).fill(i) }));
    await drive(env.clock, Promise.all(ps));
    const frames = [...brokers[0]!.received(RequestCode.SEND_BATCH_MESSAGE), ...brokers[0]!.received(RequestCode.SEND_MESSAGE)];
    expect(frames.length).toBeGreaterThanOrEqual(3);
    expect(frames.reduce((n, f) => n + decodeMessageBatch(f.body).length, 0)).toBe(6);
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it('sendBatch splits by bytes and returns one result per message in order', async () => {
    const { env, system, brokers, producer } = await setup({ T: 2 }, ['a'], { batchMaxBytes: 200 });
    const msgs = Array.from({ length: 10 }, (_, i) => ({ topic: 'T', body: new Uint8Array(50).fill(i) }));
    const results = await drive(env.clock, producer.sendBatch(msgs));
    expect(results).toHaveLength(10);
    const frames = brokers[0]!.received(RequestCode.SEND_BATCH_MESSAGE);
    expect(frames.length).toBeGreaterThan(1);
    for (const f of frames) expect(f.body.length).toBeLessThan(300);
    // every result points at the message it belongs to
    for (let i = 0; i < 10; i++) {
      const r = results[i]!;
      const stored = brokers[0]!.queue('T', r.queue.queueId)[r.queueOffset]!;
      expect(stored.body[0]).toBe(i);
    }
    await expect(drive(env.clock, producer.sendBatch([msg('T', 0), msg('U', 1)]))).rejects.toThrow(/one topic/);
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it('falls over to the next name server when one does not answer', async () => {
    const { env, system, ns1, ns2, producer } = await setup({ T: 1 }, ['a'], { sendTimeoutMs: 200 });
    ns1.down = true;
    const r = await drive(env.clock, producer.send(msg('T', 0)));
    expect(r.status).toBe('SEND_OK');
    expect(ns1.requests).toBe(1);
    expect(ns2.requests).toBe(1);
    await drive(env.clock, producer.stop());
    await system.stop();
  });

  it('stop sends lingering batches first and then refuses sends', async () => {
    const { env, system, brokers, producer } = await setup({ T: 1 }, ['a'], { lingerMs: 10_000 });
    const p = producer.send(msg('T', 0));
    await env.clock.advance(1);
    await drive(env.clock, producer.stop());
    const r = await p;
    expect(r.queueOffset).toBe(0);
    expect(brokers[0]!.queue('T', 0)).toHaveLength(1);
    expect(brokers[0]!.received(RequestCode.UNREGISTER_CLIENT)).toHaveLength(1);
    await expect(producer.send(msg('T', 1))).rejects.toThrow(/stopp/);
    await system.stop();
  });

  it('sends heartbeats to the brokers it uses', async () => {
    const { env, system, brokers, producer } = await setup({ T: 1 }, ['a'], { heartbeatIntervalMs: 1000 });
    await drive(env.clock, producer.send(msg('T', 0)));
    await env.clock.advance(2500);
    const hb = brokers[0]!.received(RequestCode.HEART_BEAT);
    expect(hb.length).toBeGreaterThanOrEqual(2);
    expect(hb[0]!.header.clientId).toBe(producer.clientId);
    await drive(env.clock, producer.stop());
    await system.stop();
  });
});
