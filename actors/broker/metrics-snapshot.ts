import type { BrokerCounters, BrokerMetrics } from './broker-metrics.js';
import type { BrokerContext } from './handlers/context.js';
import { groupProgress } from './handlers/offsets.js';

/**
 * A broker's metrics at one time, as plain data: its counters (broker-metrics.ts) and the gauges read from the
 * running broker now, through the same functions its status requests use (the store's status, the consumer
 * progress of GET_CONSUMER_STATS_FROM_SERVER, the HA status of GET_BROKER_HA_STATUS). Taken when an exporter
 * is scraped, never on the data path.
 */

/** What a running broker shows now. */
export interface BrokerGauges {
  /** Commit log bytes held: write offset minus min offset. */
  commitLogBytes: number;
  /** Commit log bytes written but not yet indexed into consume queues: write offset minus dispatched offset. */
  dispatchLagBytes: number;
  /** Messages each group has not committed yet, per queue of the topics it consumes here. */
  consumerLag: { group: string; topic: string; queueId: number; messages: number }[];
  /** Pulls held now (long polling). */
  heldPulls: number;
  /**
   * Replication: on a master each slave's lag behind its commit log, on a slave its own lag behind its master
   * (`slave` is the slave's `<name>/<id>`); empty without replication.
   */
  replication: { slave: string; lagBytes: number }[];
}

export interface BrokerMetricsSnapshot extends BrokerCounters {
  brokerName: string;
  brokerId: number;
  /** The gauges; absent while the broker does not run (starting, stopped, failed). */
  gauges?: BrokerGauges;
}

/** The snapshot of a broker's counters, with its gauges when it runs (`ctx` given). */
export function brokerMetricsSnapshot(brokerName: string, brokerId: number, metrics: BrokerMetrics, ctx: BrokerContext | undefined): BrokerMetricsSnapshot {
  const snap: BrokerMetricsSnapshot = { brokerName, brokerId, ...metrics.counters() };
  if (ctx !== undefined) snap.gauges = brokerGauges(ctx);
  return snap;
}

export function brokerGauges(ctx: BrokerContext): BrokerGauges {
  const pos = ctx.store.status().positions;
  const groups = new Set([...ctx.offsets.groups(), ...ctx.clients.consumerGroups()]);
  const consumerLag: BrokerGauges['consumerLag'] = [];
  for (const group of [...groups].sort()) {
    for (const q of groupProgress(ctx, group)) consumerLag.push({ group, topic: q.topic, queueId: q.queueId, messages: q.lag });
  }
  const slaves = ctx.ha?.status().slaves ?? [];
  return {
    commitLogBytes: Math.max(0, pos.writeOffset - pos.minOffset),
    dispatchLagBytes: Math.max(0, pos.writeOffset - pos.dispatched),
    consumerLag,
    heldPulls: ctx.polling.size,
    replication: slaves.map((s) => ({ slave: `${ctx.brokerName}/${s.brokerId}`, lagBytes: s.lagBytes })),
  };
}
