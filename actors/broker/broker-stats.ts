import type { BrokerStats } from '../protocol/observe.js';
import type { BrokerContext } from './handlers/context.js';
import { splitOffsetKey } from './consumer-offsets.js';

/**
 * A serving broker's figures for the observation stream: store positions, replication, held pulls, each
 * topic's queues and each consumer group's offsets and clients. Sampled about once a second while observed.
 */
export function brokerStats(ctx: BrokerContext): BrokerStats {
  const status = ctx.store.status();
  const topics = ctx.topics.list().map((t) => {
    const queues: BrokerStats['topics'][number]['queues'] = [];
    const n = Math.max(t.readQueueNums, t.writeQueueNums);
    for (let queueId = 0; queueId < n; queueId++)
      queues.push({ queueId, minOffset: ctx.store.minOffset(t.topicName, queueId), maxOffset: ctx.store.maxOffset(t.topicName, queueId) });
    return { topic: t.topicName, queues };
  });
  const groups = new Map<string, BrokerStats['groups'][number]>();
  const groupOf = (group: string): BrokerStats['groups'][number] => {
    let g = groups.get(group);
    if (g === undefined) groups.set(group, (g = { group, clients: ctx.clients.consumerIds(group), offsets: [] }));
    return g;
  };
  for (const [key, byQueue] of Object.entries(ctx.offsets.toFile().offsetTable)) {
    const { group, topic } = splitOffsetKey(key);
    const g = groupOf(group);
    for (const [queueId, offset] of Object.entries(byQueue)) g.offsets.push({ topic, queueId: Number(queueId), offset });
  }
  for (const group of ctx.clients.consumerGroups()) groupOf(group);
  const ha = ctx.ha?.status();
  return {
    role: 'broker',
    brokerName: ctx.brokerName,
    brokerId: ctx.brokerId,
    cluster: ctx.cluster,
    store: { ...status.positions, health: status.health.state },
    ...(ha !== undefined
      ? { ha: { role: ha.role, mode: ha.mode, epoch: ha.epoch, master: ha.master, confirmOffset: ha.confirmOffset, inSync: ha.inSync, slaves: ha.slaves } }
      : {}),
    requests: ctx.metrics.requestsByCode(),
    heldPulls: ctx.polling.size,
    topics,
    groups: [...groups.values()],
  };
}
