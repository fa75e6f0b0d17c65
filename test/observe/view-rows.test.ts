import { applyRecord, emptyView, type ClusterView } from '../../observe/cluster-view.js';
import type { ObservedRecord } from '../../observe/source.js';
import { actorRows, brokerRows, groupRows, producerRows, requestRows, topicRows } from '../../observe/view-rows.js';
import { brokerStats, consumerStats, producerStats, rec } from './records.js';

const fold = (records: ObservedRecord[]): ClusterView => records.reduce((v, r) => applyRecord(v, r), emptyView());

describe('table rows', () => {
  it('brokers: commit log size, offsets, rates from two samples, replication lag', () => {
    const ha = { role: 'master' as const, epoch: 3, inSync: [0, 1], slaves: [{ brokerId: 1, address: 'broker.broker-a.1', ackOffset: 9_000, lagBytes: 1_000, lastContact: 0, sinceContactMs: 5, inSync: true }] };
    const v = fold([
      rec.stats('p', 1_000, 'broker.broker-a.0', brokerStats({ maxOffset: 100, committed: 60, ha })),
      rec.stats('p', 3_000, 'broker.broker-a.0', brokerStats({ maxOffset: 300, committed: 160, ha })),
    ]);
    const [row] = brokerRows(v);
    expect(row).toMatchObject({ brokerName: 'broker-a', role: 'master', epoch: 3, commitLogSize: 9_000, writeOffset: 10_000, flushedOffset: 9_000, dispatched: 8_000, replicationLag: 1_000, heldPulls: 2, inSync: [0, 1] });
    // Two queues, each +200 messages in 2 s; commits +100 per queue; requests +200 SEND_MESSAGE.
    expect(row!.inTps).toBe(200);
    expect(row!.outTps).toBe(100);
    expect(row!.requestTps).toBe(100);
  });

  it("requests by code: each broker's totals and rates, busiest first", () => {
    const v = fold([
      rec.stats('p', 1_000, 'broker.broker-a.0', brokerStats({ requests: { SEND_MESSAGE: 100, PULL_MESSAGE: 10, HEART_BEAT: 1 } })),
      rec.stats('p', 3_000, 'broker.broker-a.0', brokerStats({ requests: { SEND_MESSAGE: 100, PULL_MESSAGE: 50, HEART_BEAT: 2 } })),
    ]);
    expect(requestRows(v)).toEqual([
      { broker: 'broker-a/0', address: 'broker.broker-a.0', code: 'PULL_MESSAGE', total: 50, tps: 20 },
      { broker: 'broker-a/0', address: 'broker.broker-a.0', code: 'HEART_BEAT', total: 2, tps: 0.5 },
      { broker: 'broker-a/0', address: 'broker.broker-a.0', code: 'SEND_MESSAGE', total: 100, tps: 0 },
    ]);
  });

  it('brokers: no rates from one sample; a slave reports its own lag', () => {
    const v = fold([rec.stats('p', 1_000, 'broker.broker-a.1', brokerStats({ brokerId: 1, ha: { role: 'slave', slaves: [{ brokerId: 1, address: 'x', ackOffset: 0, lagBytes: 42, lastContact: 0, sinceContactMs: 0, inSync: false }] } }))]);
    const [row] = brokerRows(v);
    expect(row!.role).toBe('slave');
    expect(row!.replicationLag).toBe(42);
    expect(row!.inTps).toBeUndefined();
  });

  it('topics: queues and offsets summed over broker groups (the master stands for its group), TPS', () => {
    const v = fold([
      rec.stats('p', 0, 'broker.broker-a.0', brokerStats({ maxOffset: 10 })),
      rec.stats('p', 1_000, 'broker.broker-a.0', brokerStats({ maxOffset: 20 })),
      rec.stats('q', 1_000, 'broker.broker-a.1', brokerStats({ brokerId: 1, maxOffset: 15, ha: { role: 'slave' } })),
      rec.stats('r', 1_000, 'broker.broker-b.0', brokerStats({ brokerName: 'broker-b', maxOffset: 5 })),
    ]);
    expect(topicRows(v)).toEqual([{ topic: 'orders', brokers: ['broker-a', 'broker-b'], queues: 4, minOffset: 0, maxOffset: 50, messages: 50, tps: 20 }]);
  });

  it('consumer groups: lag per queue and which client holds which queue', () => {
    const v = fold([
      rec.stats('p', 0, 'broker.broker-a.0', brokerStats({ maxOffset: 100, committed: 60 })),
      rec.stats('c', 0, 'client.consumer-1', consumerStats()),
      rec.stats('d', 0, 'client.consumer-2', consumerStats({ clientId: 'consumer-2', consumed: 5, queues: [{ topic: 'orders', brokerName: 'broker-a', queueId: 1, nextOffset: 60, cached: 0 }] })),
    ]);
    const [g] = groupRows(v);
    expect(g).toMatchObject({ group: 'billing', clients: ['consumer-1', 'consumer-2'], totalLag: 80, consumed: 125 });
    expect(g!.queues).toEqual([
      { topic: 'orders', brokerName: 'broker-a', queueId: 0, brokerOffset: 100, consumerOffset: 60, lag: 40, client: 'consumer-1', cached: 3 },
      { topic: 'orders', brokerName: 'broker-a', queueId: 1, brokerOffset: 100, consumerOffset: 60, lag: 40, client: 'consumer-2', cached: 0 },
    ]);
  });

  it('producers: sent, failed, rate', () => {
    const v = fold([rec.stats('p', 0, 'client.producer-1', producerStats({ sent: 100 })), rec.stats('p', 500, 'client.producer-1', producerStats({ sent: 150 }))]);
    expect(producerRows(v)).toEqual([{ source: 'p', address: 'client.producer-1', group: 'pg', clientId: 'producer-1', sent: 150, failed: 1, tps: 100 }]);
  });

  it('actors: one row each, hosted actors before their children, role from figures or address', () => {
    const v = fold([
      rec.snapshot('p', 1, 'client.c1', 'x', undefined, 'active', '0.client.running'),
      rec.snapshot('p', 1, 'client.c1', 'x', 'running'),
      rec.stats('p', 1, 'client.c1', consumerStats()),
      rec.snapshot('p', 1, 'broker.a.0', 'x', 'serving'),
    ]);
    expect(actorRows(v).map((r) => [r.address, r.actorId, r.role, r.state])).toEqual([
      ['broker.a.0', 'broker.a.0', 'broker', 'serving'],
      ['client.c1', 'client.c1', 'consumer', 'running'],
      ['client.c1', '0.client.running', 'consumer', 'active'],
    ]);
  });
});
