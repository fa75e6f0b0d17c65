/** Hand-made observation records and figures for the console's model tests. */
import type { BrokerStats, ConsumerStats, ProducerStats } from '../../actors/protocol/observe.js';
import type { ObservedRecord } from '../../observe/source.js';

let seq = 0;
const base = (source: string, time: number, address: string, actorId = address) => ({ seq: seq++, time, source, address, actorId });

export const rec = {
  actor: (source: string, time: number, address: string, machine?: string, actorId = address): ObservedRecord => ({ ...base(source, time, address, actorId), kind: 'actor', ...(machine ? { machine } : {}) }),
  event: (source: string, time: number, address: string, event: string, actorId = address): ObservedRecord => ({ ...base(source, time, address, actorId), kind: 'event', event }),
  snapshot: (source: string, time: number, address: string, event: string, state: unknown, status = 'active', actorId = address): ObservedRecord => ({ ...base(source, time, address, actorId), kind: 'snapshot', event, state, status }),
  stats: (source: string, time: number, address: string, stats: ObservedRecord & { kind: 'stats' } extends { stats: infer S } ? S : never): ObservedRecord => ({ ...base(source, time, address), kind: 'stats', stats }),
};

export function brokerStats(over: Partial<BrokerStats> & { maxOffset?: number; committed?: number } = {}): BrokerStats {
  const max = over.maxOffset ?? 100;
  const committed = over.committed ?? 60;
  return {
    role: 'broker',
    brokerName: 'broker-a',
    brokerId: 0,
    cluster: 'c1',
    store: { writeOffset: 10_000, flushedOffset: 9_000, minOffset: 1_000, dispatched: 8_000, health: 'ok' },
    requests: { SEND_MESSAGE: max, PULL_MESSAGE: 10 },
    heldPulls: 2,
    topics: [{ topic: 'orders', queues: [{ queueId: 0, minOffset: 0, maxOffset: max }, { queueId: 1, minOffset: 0, maxOffset: max }] }],
    groups: [{ group: 'billing', clients: ['consumer-1'], offsets: [{ topic: 'orders', queueId: 0, offset: committed }, { topic: 'orders', queueId: 1, offset: committed }] }],
    ...over,
  };
}

export function consumerStats(over: Partial<ConsumerStats> = {}): ConsumerStats {
  return { role: 'consumer', group: 'billing', clientId: 'consumer-1', queues: [{ topic: 'orders', brokerName: 'broker-a', queueId: 0, nextOffset: 61, cached: 3 }], consumed: 120, ...over };
}

export function producerStats(over: Partial<ProducerStats> = {}): ProducerStats {
  return { role: 'producer', group: 'pg', clientId: 'producer-1', sent: 200, failed: 1, ...over };
}
