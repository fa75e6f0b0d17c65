/* What the `mq admin` commands do once their flags are parsed. */
import { AdminClient } from '../../actors/client/admin-client.js';
import { PERM_READ_WRITE } from '../../actors/protocol/route.js';
import { connectSystem } from './connect.js';
import { CliError, credentialsOf, out, outJson, type ConnectionFlags } from './flags.js';
import { formatHaStatus, formatTable, messageJson, messageLine, permString } from './format.js';

export interface AdminFlags extends ConnectionFlags {
  namesrv: string[];
  json?: boolean;
  timeout: number;
}

export type TopicCreateFlags = AdminFlags & { topic: string; queues: number; readQueues?: number; writeQueues?: number; cluster?: string; broker?: string };
export type MessageFlags = AdminFlags & { id?: string; key?: string; topic?: string; max: number };

async function withAdmin<T>(flags: AdminFlags, run: (admin: AdminClient) => Promise<T>): Promise<T> {
  const system = await connectSystem(flags, 'mq-admin');
  try {
    return await run(new AdminClient(system.env.transport, { namesrv: flags.namesrv, timeoutMs: flags.timeout, clock: system.env.clock, ...credentialsOf(flags) }));
  } finally {
    await system.stop();
  }
}

export async function runTopicCreate(f: TopicCreateFlags): Promise<void> {
  const r = await withAdmin(f, (a) =>
    a.createTopic(f.topic, {
      readQueues: f.readQueues ?? f.queues,
      writeQueues: f.writeQueues ?? f.queues,
      perm: PERM_READ_WRITE,
      ...(f.cluster !== undefined ? { cluster: f.cluster } : {}),
      ...(f.broker !== undefined ? { brokerName: f.broker } : {}),
    }),
  );
  if (f.json) return outJson(r);
  const c = r.config;
  out(`created topic ${c.topicName} (${c.readQueueNums} read / ${c.writeQueueNums} write queues, ${permString(c.perm)}) on ${r.brokers.map((b) => b.brokerName).join(', ')}`);
}

export async function runTopicList(f: AdminFlags): Promise<void> {
  const topics = await withAdmin(f, (a) => a.listTopics());
  if (f.json) outJson({ topics });
  else for (const t of topics) out(t);
}

export async function runTopicRoute(f: AdminFlags & { topic: string }): Promise<void> {
  const route = await withAdmin(f, (a) => a.route(f.topic));
  if (f.json) return outJson(route);
  const brokers = new Map(route.brokerDatas.map((b) => [b.brokerName, b]));
  const rows = [...route.queueDatas]
    .sort((a, b) => (a.brokerName < b.brokerName ? -1 : 1))
    .map((q) => {
      const bd = brokers.get(q.brokerName);
      const addrs = bd ? Object.entries(bd.addrs).map(([id, a]) => `${id}=${a}`).join(' ') : '';
      return [q.brokerName, bd?.cluster ?? '', q.readQueueNums, q.writeQueueNums, permString(q.perm), addrs];
    });
  out(formatTable(['BROKER', 'CLUSTER', 'READ', 'WRITE', 'PERM', 'ADDRESSES'], rows));
}

export async function runCluster(f: AdminFlags): Promise<void> {
  const info = await withAdmin(f, (a) => a.clusterInfo());
  if (f.json) return outJson(info);
  const rows: (string | number)[][] = [];
  for (const [cluster, names] of Object.entries(info.clusterAddrTable).sort()) {
    for (const name of [...names].sort()) {
      const addrs = Object.entries(info.brokerAddrTable[name]?.addrs ?? {}).sort((a, b) => Number(a[0]) - Number(b[0]));
      for (const [id, addr] of addrs) rows.push([cluster, name, Number(id), Number(id) === 0 ? 'master' : 'slave', addr]);
    }
  }
  if (rows.length === 0) out('no broker is registered');
  else out(formatTable(['CLUSTER', 'BROKER', 'ID', 'ROLE', 'ADDRESS'], rows));
}

export async function runBrokerStatus(f: AdminFlags): Promise<void> {
  const { brokers, unreachable } = await withAdmin(f, (a) => a.brokerStatus());
  if (f.json) return outJson({ brokers, unreachable });
  const rows = brokers.map((b) => {
    const h = b.store.health;
    const p = b.store.positions;
    const lost = b.store.corruptRanges.reduce((n, r) => n + (r.to - r.from), 0);
    return [b.address, h.state === 'ok' ? 'ok' : `${h.state}: ${h.reason ?? ''}`, p.writeOffset, p.flushedOffset, p.writeOffset - p.dispatched, lost];
  });
  for (const u of unreachable) rows.push([u.address, `unreachable: ${u.error}`, '', '', '', '']);
  if (rows.length === 0) out('no broker is registered');
  else out(formatTable(['BROKER', 'STORE', 'WRITTEN', 'FLUSHED', 'TO INDEX', 'CORRUPT BYTES'], rows));
}

export async function runHaStatus(f: AdminFlags & { brokerName: string }): Promise<void> {
  const g = await withAdmin(f, (a) => a.haStatus(f.brokerName));
  if (f.json) outJson(g);
  else out(formatHaStatus(g));
  if (g.brokers.length === 0) throw new CliError(`no broker of group ${f.brokerName} answered: are they running and connected to this NATS?`);
}

export async function runConsumerProgress(group: string, f: AdminFlags & { topic?: string }): Promise<void> {
  const topics = f.topic
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const p = await withAdmin(f, (a) => a.consumerProgress(group, topics));
  if (f.json) return outJson(p);
  const rows = p.queues.map((q) => [q.topic, q.brokerName, q.queueId, q.brokerOffset, q.consumerOffset, q.lag]);
  if (rows.length > 0) out(formatTable(['TOPIC', 'BROKER', 'QUEUE', 'BROKER OFFSET', 'CONSUMER OFFSET', 'LAG'], rows));
  else out(`group ${group} consumes no queue the brokers know`);
  out(`total lag ${p.totalLag}`);
  for (const u of p.unreachable) out(`(no answer from ${u.address}: ${u.error})`);
}

export async function runMessage(f: MessageFlags): Promise<void> {
  const msgs = await withAdmin(f, async (a) => (f.id !== undefined ? [await a.messageById(f.id)] : a.messagesByKey(f.topic!, f.key!, f.max)));
  if (msgs.length === 0) throw new CliError(`no message with key "${f.key}" in topic ${f.topic}`);
  if (f.json) for (const m of msgs) outJson(messageJson(m));
  else for (const m of msgs) out(messageLine(m));
}
