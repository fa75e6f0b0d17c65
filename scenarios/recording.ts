/**
 * What a run records of its consumers, on simulated or real time alike: every listener call as a `receive`
 * operation (its answer, SUCCESS or RETRY, drawn at the consumer's retry rate), offset commits a broker
 * acknowledged and offsets read back from one as `commit` and `fetch-offset` operations, and what the drain
 * waits for: acknowledged messages not yet delivered to every consumer group of their topic (less those a
 * storage fault destroyed).
 */
import type { RandomSource } from '../core/random.js';
import type { MessageExt } from '../core/message.js';
import { RequestCode } from '../actors/protocol/request-codes.js';
import type { UpdateOffsetsBody } from '../actors/protocol/commands.js';
import type { HistoryLog, ReceiveValue } from './history.js';
import type { CheckOptions } from './checker.js';
import { DEFAULT_FLUSH_INTERVAL_MS } from '../store/message-store.js';
import { brokerProcessIds, type ConsumerSpec, type ControllerSpec, type HaSpec, type ProducerSpec, type Scenario } from './scenario-schema.js';
import type { HaOptions } from '../actors/broker/ha/ha-options.js';
import { DEFAULT_CONTROLLER_SETTINGS, type ControllerSettings } from '../actors/protocol/ha-controller.js';
import { idOf, type WorkloadDriver } from './workload.js';
import type { ConsumerOptions } from '../actors/consumer/consumer.js';
import type { ProducerOptions } from '../actors/producer/producer.js';
import type { TransactionProducerOptions } from '../actors/producer/transaction-producer.js';

/** The broker group of a broker address (`broker.<name>.<id>`) or store host. */
export function brokerNameOf(address: string): string {
  return address.split('.')[1] ?? address;
}

/** A request and its reply, as the recorder reads them. */
export interface RequestLike {
  code: number;
  header: Record<string, unknown>;
  body: Uint8Array;
}

export class DeliveryRecorder {
  /** Topic -> the consumer groups subscribed to it. */
  readonly groupsOf = new Map<string, string[]>();
  private readonly delivered = new Map<string, Set<string>>(); // group -> ids consumed
  private readonly excused = new Set<string>(); // ids destroyed by a storage fault
  private missingCount = 0;
  private consumedCount = 0;

  /** @param acked the acknowledged ids with their topics (the workload driver's, read as the run goes) */
  constructor(
    s: Scenario,
    private readonly history: HistoryLog,
    private readonly random: RandomSource,
    private readonly acked: () => ReadonlyMap<string, string>,
  ) {
    for (const c of s.topology.consumers) for (const t of Object.keys(c.subscribe)) this.groupsOf.set(t, [...new Set([...(this.groupsOf.get(t) ?? []), c.group])]);
  }

  /** Acknowledged messages some group of their topic has not consumed yet (the drain ends at 0). */
  get missing(): number {
    return this.missingCount;
  }

  /** Distinct messages consumed with SUCCESS, over all groups. */
  get consumed(): number {
    return this.consumedCount;
  }

  /** A message became acknowledged (the workload driver's callback). */
  onAck(id: string, topic: string): void {
    for (const g of this.groupsOf.get(topic) ?? []) if (!this.isDelivered(g, id)) this.missingCount++;
  }

  /** Messages whose stored bytes a storage fault destroyed: the drain no longer waits for them. */
  onDestroyed(ids: string[]): void {
    for (const id of ids) {
      if (this.excused.has(id)) continue;
      this.excused.add(id);
      const topic = this.acked().get(id);
      if (topic !== undefined) for (const g of this.groupsOf.get(topic) ?? []) if (!this.isDelivered(g, id)) this.missingCount--;
    }
  }

  /** The listener of consumer `c` (process `pid`): records each call and answers SUCCESS or RETRY. */
  listener(c: ConsumerSpec, pid: string): (msgs: MessageExt[]) => 'SUCCESS' | 'RETRY' {
    return (msgs) => {
      const result = c.retryRate > 0 && this.random.next() < c.retryRate ? 'RETRY' : 'SUCCESS';
      const value: ReceiveValue = {
        group: c.group,
        topic: msgs[0]?.topic ?? '',
        messages: msgs.map((m) => ({ id: idOf(m.body), broker: brokerNameOf(m.storeHost), queueId: m.queueId, offset: m.queueOffset, reconsumeTimes: m.reconsumeTimes })),
        result,
      };
      this.history.add(pid, 'ok', 'receive', value);
      if (result === 'SUCCESS') this.consume(c.group, value);
      return result;
    };
  }

  /** An OK reply to a request of process `p` to `to`: offset commits and offset reads go into the history. */
  recordOffsets(p: string, to: string, req: RequestLike, reply: { header: Record<string, unknown> }): void {
    const broker = brokerNameOf(to);
    const group = String(req.header.consumerGroup ?? '');
    if (req.code === RequestCode.UPDATE_CONSUMER_OFFSET) {
      const body = JSON.parse(new TextDecoder().decode(req.body)) as UpdateOffsetsBody;
      for (const o of body.offsets) this.history.add(p, 'ok', 'commit', { group, topic: o.topic, broker, queueId: o.queueId, offset: o.offset });
    } else if (req.code === RequestCode.QUERY_CONSUMER_OFFSET) {
      this.history.add(p, 'ok', 'fetch-offset', { group, topic: String(req.header.topic), broker, queueId: Number(req.header.queueId), offset: Number(reply.header.offset) });
    }
  }

  private isDelivered(group: string, id: string): boolean {
    return this.delivered.get(group)?.has(id) ?? false;
  }

  private consume(group: string, value: ReceiveValue): void {
    let seen = this.delivered.get(group);
    if (!seen) this.delivered.set(group, (seen = new Set()));
    for (const m of value.messages) {
      if (seen.has(m.id)) continue;
      seen.add(m.id);
      this.consumedCount++;
      if (this.acked().has(m.id) && !this.excused.has(m.id)) this.missingCount--;
    }
  }
}

/** The consumers' rebalance interval (their default). */
const REBALANCE_INTERVAL_MS = 20_000;
/** How long after its flush interval an async write may still be on its way to the disk. */
const FLUSH_SLACK_MS = 100;

/** How long a broker entry's acknowledged writes may stay unflushed (none with sync flush). */
function unflushedWindowOf(b: Scenario['topology']['brokers'][number]): number | undefined {
  return b.flush === 'async' ? (b.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS) + FLUSH_SLACK_MS : undefined;
}

/**
 * Broker groups whose processes are not named as the group (several entries of one name): the master process
 * and, when the master's SEND_OK means a slave holds the message too (sync mode, minInSyncReplicas 2 or more),
 * the slaves with their unflushed windows. Under a controller the master is not fixed: no master here (nothing
 * acknowledged by such a group is explained by a power loss), but its controllers' clock skew and the
 * scenario's bound on elections.
 */
function brokerGroupsOf(s: Scenario): NonNullable<CheckOptions['brokerGroups']> {
  const pids = brokerProcessIds(s.topology.brokers);
  const out: NonNullable<CheckOptions['brokerGroups']> = {};
  const names = [...new Set(s.topology.brokers.map((b) => b.name))];
  for (const name of names) {
    const members = s.topology.brokers.map((b, i) => ({ b, pid: pids[i]! })).filter((x) => x.b.name === name);
    if (members.length === 1 && members[0]!.pid === name) continue;
    const master = members.find((x) => x.b.id === 0);
    const processes = members.map((x) => x.pid);
    const controllers = members.find((x) => x.b.ha?.controller !== undefined)?.b.ha?.controller;
    if (controllers !== undefined) {
      // the elections wait out the largest clock skew any of its controllers allows for
      const skews = s.topology.controllers.filter((c) => controllers.includes(c.id)).map((c) => c.maxClockSkewMs ?? DEFAULT_CONTROLLER_SETTINGS.maxClockSkewMs);
      // offsets may lag by a config sync, found out after a lease (and skew) plus a rebalance
      const lease = Math.max(0, ...s.topology.controllers.filter((c) => controllers.includes(c.id)).map((c) => (c.leaseMs ?? DEFAULT_CONTROLLER_SETTINGS.leaseMs) + (c.aliveMs ?? DEFAULT_CONTROLLER_SETTINGS.aliveMs)));
      const sync = Math.max(0, ...members.map((x) => x.b.ha?.configSyncMs ?? 5000));
      const offsetsLagMs = lease + Math.max(0, ...skews) + sync + REBALANCE_INTERVAL_MS;
      out[name] = { processes, maxClockSkewMs: Math.max(0, ...skews), offsetsLagMs, ...(s.checks.maxElections !== undefined ? { maxElections: s.checks.maxElections } : {}) };
      continue;
    }
    if (!master) {
      out[name] = { processes };
      continue;
    }
    const ha = master.b.ha;
    const replicated = ha?.mode === 'sync' && (ha.minInSyncReplicas ?? 2) >= 2;
    const slaves = members.filter((x) => x.b.id !== 0).map((x) => ({ process: x.pid, ...windowField(unflushedWindowOf(x.b)) }));
    out[name] = { processes, master: master.pid, ...(replicated ? { replicas: slaves } : {}) };
  }
  return out;
}

const windowField = (w: number | undefined): { windowMs?: number } => (w === undefined ? {} : { windowMs: w });

/** A scenario broker's `ha` as broker options (unset fields left to the broker's defaults). */
export function haOptionsOf(ha: HaSpec): HaOptions {
  const o: HaOptions = { mode: ha.mode };
  if (ha.minInSyncReplicas !== undefined) o.minInSyncReplicas = ha.minInSyncReplicas;
  if (ha.allAckInSyncSet !== undefined) o.allAckInSyncSet = ha.allAckInSyncSet;
  if (ha.maxTimeSlaveNotCatchupMs !== undefined) o.maxTimeSlaveNotCatchupMs = ha.maxTimeSlaveNotCatchupMs;
  if (ha.syncTimeoutMs !== undefined) o.syncTimeoutMs = ha.syncTimeoutMs;
  if (ha.configSyncMs !== undefined) o.configSyncMs = ha.configSyncMs;
  if (ha.controller !== undefined) o.controller = ha.controller;
  if (ha.heartbeatMs !== undefined) o.heartbeatMs = ha.heartbeatMs;
  return o;
}

/** A scenario controller's lease settings (unset: the controller's defaults). */
export function controllerSettingsOf(c: ControllerSpec): Partial<ControllerSettings> {
  const o: Partial<ControllerSettings> = {};
  if (c.leaseMs !== undefined) o.leaseMs = c.leaseMs;
  if (c.aliveMs !== undefined) o.aliveMs = c.aliveMs;
  if (c.maxClockSkewMs !== undefined) o.maxClockSkewMs = c.maxClockSkewMs;
  return o;
}

/** What the checker is told of a scenario: its groups and ordered topics, its bounds, its async-flush brokers. */
export function checkOptionsOf(s: Scenario, groupsOf: ReadonlyMap<string, string[]>, skewMs: number): CheckOptions {
  const unflushedWindowMs: Record<string, number> = {};
  for (const b of s.topology.brokers) {
    const w = unflushedWindowOf(b);
    // the window of the group's acknowledger: its master (fixed roles), the one entry of a plain group
    if (w !== undefined && (b.id === 0 || s.topology.brokers.filter((x) => x.name === b.name).length === 1)) unflushedWindowMs[b.name] = w;
  }
  const brokerGroups = brokerGroupsOf(s);
  return {
    groups: Object.fromEntries(groupsOf),
    orderedTopics: s.topology.topics.filter((t) => t.ordered).map((t) => t.name),
    checks: s.checks.run,
    maxDuplicates: s.checks.maxDuplicates,
    drainMs: s.checks.drain,
    skewMs,
    maxReconsumeTimes: Math.min(16, ...s.topology.consumers.map((c) => c.maxReconsumeTimes)),
    // a membership change reaches every member within one rebalance interval; deliveries of a queue by its old
    // and new holder in that time are the rebalance's duplicates
    // under a controller a failover's rebalance and its re-read offsets come a lease and a config sync later
    rebalanceMs: Math.max(REBALANCE_INTERVAL_MS, ...Object.values(brokerGroups).map((g) => g.offsetsLagMs ?? 0)),
    unflushedWindowMs,
    ...(Object.keys(brokerGroups).length > 0 ? { brokerGroups } : {}),
  };
}

/** Producers whose sends are tried once (no retries, not transactional): their refusals are failures. */
export function singleAttemptProducers(s: Scenario): Set<string> {
  return new Set(s.topology.producers.filter((p) => p.retries === 0 && !p.transactional).map((p) => p.id));
}

/** A scenario producer's options for one incarnation (a restarted process gets a new client id). */
export function producerOptionsOf(p: ProducerSpec, namesrv: string[], incarnation: number): ProducerOptions {
  return { group: p.group, namesrv, clientId: `${p.id}-${incarnation}`, sendTimeoutMs: p.sendTimeoutMs, retries: p.retries };
}

/** A transactional producer's options: its workloads' topics, and checks answered by the workload driver. */
export function txProducerOptionsOf(s: Scenario, p: ProducerSpec, base: ProducerOptions, driver: WorkloadDriver): TransactionProducerOptions {
  const topics = [...new Set(s.workloads.filter((w) => w.producer === p.id).map((w) => w.topic))];
  return { ...base, topics, checkListener: (msg) => driver.checkOutcome(p.id, idOf(msg.body)) };
}

/** A scenario consumer's options for one incarnation, its listener recording into the history. */
export function consumerOptionsOf(c: ConsumerSpec, namesrv: string[], incarnation: number, recorder: DeliveryRecorder): ConsumerOptions {
  return {
    group: c.group,
    namesrv,
    subscribe: c.subscribe,
    clientId: `${c.id}-${incarnation}`,
    orderly: c.orderly,
    consumeFrom: c.consumeFrom,
    maxReconsumeTimes: c.maxReconsumeTimes,
    commitIntervalMs: c.commitIntervalMs,
    listener: recorder.listener(c, c.id),
  };
}
