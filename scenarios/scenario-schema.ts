/**
 * What a scenario file says, as a typed schema (zod): the cluster to build, the load to put on it, the faults
 * of its timeline, what may go wrong at random when it is fuzzed, and the checks its history must pass.
 * Durations are milliseconds or strings like `500ms`, `10s`, `2m`. `loadScenario` (scenario-file.ts) reads a
 * file through it; every error names the field's path.
 */
import { z } from 'zod';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000 } as const;

const DURATION_HELP = 'a duration is a number of ms or a string like 500ms, 10s, 2m';

export const duration = z.union(
  [
  z.number().int().nonnegative(),
  z
    .string()
    .regex(DURATION, DURATION_HELP)
    .transform((s) => {
      const [, n, unit] = DURATION.exec(s)!;
      return Math.round(Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS]);
    }),
  ],
  { error: DURATION_HELP },
);

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'letters, digits, - and _ (at most 64)');
const probability = z.number().min(0).max(1);
const range = z.object({ min: z.number().int().nonnegative(), max: z.number().int().nonnegative() }).refine((r) => r.min <= r.max, 'min must not exceed max');

/** Replication of a broker group (actors/broker/ha/ha-options.ts): what a file may set. */
const ha = z.strictObject({
  /** A master's acknowledgement: sync once the in-sync replicas hold a batch, async at once. */
  mode: z.enum(['sync', 'async']).default('async'),
  /** Sync: replicas, the master counted, that must hold a batch (default 2). */
  minInSyncReplicas: z.number().int().min(1).max(16).optional(),
  allAckInSyncSet: z.boolean().optional(),
  /** A slave not caught up for this long leaves the in-sync set (default 15 s). */
  maxTimeSlaveNotCatchupMs: duration.optional(),
  /** Sync: how long a send waits for its replicas before FLUSH_SLAVE_TIMEOUT (default 3 s). */
  syncTimeoutMs: duration.optional(),
  /** Slave: how often it copies its master's topics and offsets (default 5 s). */
  configSyncMs: duration.optional(),
  /** Automatic failover: ids of the topology's controllers (ids start at 1 then: no fixed master). */
  controller: z.array(id).min(1).optional(),
  /** Under a controller: how often the broker heartbeats to it (default 500 ms). */
  heartbeatMs: duration.optional(),
});

const broker = z.strictObject({
  /** The broker group (`brokerName`); entries of one group differ by `id`. */
  name: id,
  /** 0: the group's master; higher: a slave of it (with fixed roles). */
  id: z.number().int().min(0).max(64).default(0),
  flush: z.enum(['sync', 'async']).default('async'),
  /** Commit log segment size in bytes. */
  segmentSize: z.number().int().min(4096).default(1 << 20),
  flushIntervalMs: duration.optional(),
  /** One commit log for every queue ('mixed', the default) or a log per queue ('per-queue'; no `ha`). */
  storeMode: z.enum(['mixed', 'per-queue']).optional(),
  ha: ha.optional(),
});

/** An HA controller process (actors/controller/): it decides who is master of the groups that name it. */
const controller = z.strictObject({
  id,
  leaseMs: duration.optional(),
  aliveMs: duration.optional(),
  maxClockSkewMs: duration.optional(),
});

const topic = z.strictObject({
  name: id,
  queues: z.number().int().min(1).max(64).default(4),
  /** Keyed messages go to their key's queue and must be delivered in order per key. */
  ordered: z.boolean().default(false),
});

const producer = z.strictObject({
  id,
  group: id,
  transactional: z.boolean().default(false),
  sendTimeoutMs: duration.default(3000),
  retries: z.number().int().min(0).max(10).default(2),
  /** When the process starts (never: only a `join` step starts it). */
  start: z.union([duration, z.literal('never')]).default(0),
});

const consumer = z.strictObject({
  id,
  group: id,
  /** Topic -> tag expression. */
  subscribe: z.record(id, z.string().min(1)),
  orderly: z.boolean().default(false),
  consumeFrom: z.enum(['first', 'last']).default('first'),
  /** Probability that a listener call answers RETRY (a redelivery through the retry topic). */
  retryRate: probability.default(0),
  maxReconsumeTimes: z.number().int().min(0).max(16).default(16),
  commitIntervalMs: duration.default(5000),
  start: z.union([duration, z.literal('never')]).default(0),
});

const topology = z.strictObject({
  namesrv: z.array(id).min(1).default(['ns-1']),
  brokers: z.array(broker).min(1),
  /** HA controllers: started before the brokers, each with a disk of its own kept across crashes. */
  controllers: z.array(controller).default([]),
  topics: z.array(topic).min(1),
  producers: z.array(producer).default([]),
  consumers: z.array(consumer).default([]),
});

const workload = z.strictObject({
  producer: id,
  topic: id,
  /** Messages per second of simulated time. */
  rate: z.number().positive().max(100_000),
  from: duration.default(0),
  until: duration,
  /** Body size in bytes (a fixed size or a range). */
  size: z.union([z.number().int().min(16), range]).default(100),
  /** Distinct sharding keys (ordered topics) or message keys; none by default. */
  keys: z.number().int().min(1).optional(),
  tags: z.array(z.string().min(1)).optional(),
  /** Messages per send (one request). */
  batch: z.number().int().min(1).max(256).default(1),
  /** Delay levels drawn from (RocketMQ's 1s 5s 10s 30s 1m ...). */
  delayLevels: z.array(z.number().int().min(1).max(18)).optional(),
  /** Timer messages: deliver-at this many ms after sending, drawn from the range. */
  timerMs: range.optional(),
  /** Transactional sends: probabilities of each local outcome (the rest: unknown, settled by the check). */
  tx: z.strictObject({ commit: probability, rollback: probability }).optional(),
});

const glob = z.string().min(1);
/** When a step runs: at a time, or once a condition holds (checked as the run goes), or both (whichever is later). */
const when = z.strictObject({
  acked: z.number().int().min(0).optional(),
  delivered: z.number().int().min(0).optional(),
});

const timing = { at: duration.optional(), when: when.optional() };
const target = { target: id };
const window = { for: duration.optional() };

export const FAULT_KINDS = [
  'crash', 'restart', 'pause', 'resume',
  'drop', 'duplicate', 'delay', 'clog', 'partition', 'heal',
  'bitflip', 'truncate', 'slow-fsync', 'disk-full', 'eio', 'disk-heal',
  'skew', 'drift',
  'join', 'leave', 'create-topic', 'delete-topic',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const faultStep = z.discriminatedUnion('do', [
  /** Power loss of a process: what it did not fsync is gone; with `tear` the last write may survive in part. */
  z.strictObject({ ...timing, do: z.literal('crash'), ...target, tear: z.boolean().default(true), restartAfter: duration.optional() }),
  z.strictObject({ ...timing, do: z.literal('restart'), ...target }),
  /** A stop-the-world: no timer and no frame of the process runs until it resumes. */
  z.strictObject({ ...timing, do: z.literal('pause'), ...target, for: duration }),
  z.strictObject({ ...timing, do: z.literal('resume'), ...target }),
  z.strictObject({ ...timing, do: z.literal('drop'), from: glob.default('*'), to: glob.default('*'), rate: probability, ...window }),
  z.strictObject({ ...timing, do: z.literal('duplicate'), from: glob.default('*'), to: glob.default('*'), rate: probability, ...window }),
  z.strictObject({ ...timing, do: z.literal('delay'), from: glob.default('*'), to: glob.default('*'), ms: range, ...window }),
  /** Holds every frame between two processes (both ways) for a while, then lets them through late. */
  z.strictObject({ ...timing, do: z.literal('clog'), between: z.tuple([id, id]), for: duration }),
  z.strictObject({
    ...timing,
    do: z.literal('partition'),
    /** isolate: one process from all; halves: processes split in two; bridge: two halves joined only by one process; ring: each process sees its neighbours; sides: explicit. */
    kind: z.enum(['isolate', 'halves', 'bridge', 'ring', 'sides']),
    target: id.optional(),
    sides: z.tuple([z.array(id).min(1), z.array(id).min(1)]).optional(),
    /** One-way: only frames from the first side to the second are lost. */
    oneWay: z.boolean().default(false),
    ...window,
  }),
  /** Ends every network fault: partitions, drops, duplicates, delays. */
  z.strictObject({ ...timing, do: z.literal('heal') }),
  /** Flips one bit in the middle of a broker's commit log (its durable bytes). */
  z.strictObject({ ...timing, do: z.literal('bitflip'), ...target }),
  /** Cuts the last `bytes` of a broker's newest commit log segment (applied while it is down). */
  z.strictObject({ ...timing, do: z.literal('truncate'), ...target, bytes: z.number().int().min(1) }),
  z.strictObject({ ...timing, do: z.literal('slow-fsync'), ...target, for: duration }),
  z.strictObject({ ...timing, do: z.literal('disk-full'), ...target, ...window }),
  z.strictObject({ ...timing, do: z.literal('eio'), ...target, ...window }),
  z.strictObject({ ...timing, do: z.literal('disk-heal'), ...target }),
  /** The process's clock reads `ms` ahead (negative: behind). */
  z.strictObject({ ...timing, do: z.literal('skew'), ...target, ms: z.number().int() }),
  /** The process's clock runs `rate` faster (0.01: 1% fast; negative: slow) from now on. */
  z.strictObject({ ...timing, do: z.literal('drift'), ...target, rate: z.number().min(-0.5).max(0.5) }),
  z.strictObject({ ...timing, do: z.literal('join'), ...target }),
  z.strictObject({ ...timing, do: z.literal('leave'), ...target }),
  z.strictObject({ ...timing, do: z.literal('create-topic'), topic }),
  z.strictObject({ ...timing, do: z.literal('delete-topic'), name: id }),
]);

export const CHECK_NAMES = ['lost', 'unexpected', 'duplicated', 'order', 'delay', 'transactions', 'offsets', 'liveness', 'replication', 'split-brain'] as const;

const checks = z.strictObject({
  run: z.array(z.enum(CHECK_NAMES)).default([...CHECK_NAMES]),
  /** Explained duplicates allowed (crash, rebalance, ambiguous send); unexplained ones always fail. */
  maxDuplicates: z.number().int().min(0).optional(),
  /**
   * After the workload ends and every fault heals, every acknowledged message must arrive within this. The
   * default covers a crashed client's expiry at the brokers (120 s): its queues wait for that.
   */
  drain: duration.default(150_000),
  /** Under an HA controller: the highest master epoch a broker group may reach (more: masters flapped). */
  maxElections: z.number().int().min(1).optional(),
});

const fuzz = z.strictObject({
  faults: z.array(z.enum(FAULT_KINDS)).min(1),
  /** Faults drawn per seed: 0..maxFaults. */
  maxFaults: z.number().int().min(0).max(50).default(4),
  /** Faults start within [from, until] (default: the workloads' span). */
  from: duration.optional(),
  until: duration.optional(),
  /** Processes faults may hit (default: brokers and consumers). */
  targets: z.array(id).optional(),
  /** Longest a drawn fault lasts before it heals. */
  maxFaultMs: duration.default(10_000),
});

export const scenarioSchema = z
  .strictObject({
    name: id,
    description: z.string().default(''),
    seed: z.number().int().nonnegative().default(1),
    topology,
    workloads: z.array(workload).default([]),
    timeline: z.array(faultStep).default([]),
    checks: checks.default({ run: [...CHECK_NAMES], drain: 150_000 }),
    fuzz: fuzz.optional(),
  })
  .superRefine((s, ctx) => {
    const processes = new Map<string, string>();
    const add = (kind: string, name: string, path: (string | number)[]): void => {
      if (processes.has(name)) ctx.addIssue({ code: 'custom', path, message: `process id ${name} is used twice (${processes.get(name)} and ${kind})` });
      processes.set(name, kind);
    };
    s.topology.namesrv.forEach((n, i) => add('namesrv', n, ['topology', 'namesrv', i]));
    s.topology.controllers.forEach((c, i) => add('controller', c.id, ['topology', 'controllers', i, 'id']));
    const brokerIds = brokerProcessIds(s.topology.brokers);
    s.topology.brokers.forEach((b, i) => add('broker', brokerIds[i]!, ['topology', 'brokers', i, 'name']));
    checkGroups(s.topology, ctx);
    s.topology.producers.forEach((p, i) => add('producer', p.id, ['topology', 'producers', i, 'id']));
    s.topology.consumers.forEach((c, i) => add('consumer', c.id, ['topology', 'consumers', i, 'id']));
    const topics = new Set(s.topology.topics.map((t) => t.name));
    for (const step of s.timeline) if (step.do === 'create-topic') topics.add(step.topic.name);
    s.workloads.forEach((w, i) => {
      if (processes.get(w.producer) !== 'producer') ctx.addIssue({ code: 'custom', path: ['workloads', i, 'producer'], message: `no producer ${w.producer} in the topology` });
      if (!topics.has(w.topic)) ctx.addIssue({ code: 'custom', path: ['workloads', i, 'topic'], message: `no topic ${w.topic} in the topology` });
      if (w.until <= w.from) ctx.addIssue({ code: 'custom', path: ['workloads', i, 'until'], message: 'until must be after from' });
      const tx = s.topology.producers.find((p) => p.id === w.producer)?.transactional ?? false;
      if (w.tx && !tx) ctx.addIssue({ code: 'custom', path: ['workloads', i, 'tx'], message: `producer ${w.producer} is not transactional` });
    });
    s.topology.consumers.forEach((c, i) => {
      for (const t of Object.keys(c.subscribe)) if (!topics.has(t)) ctx.addIssue({ code: 'custom', path: ['topology', 'consumers', i, 'subscribe', t], message: `no topic ${t} in the topology` });
    });
    s.timeline.forEach((st, i) => {
      if (st.at === undefined && st.when === undefined) ctx.addIssue({ code: 'custom', path: ['timeline', i], message: 'a step needs `at` or `when`' });
      for (const name of stepProcesses(st)) {
        if (!processes.has(name)) ctx.addIssue({ code: 'custom', path: ['timeline', i], message: `no process ${name} in the topology` });
      }
    });
    for (const name of s.fuzz?.targets ?? []) {
      if (!processes.has(name)) ctx.addIssue({ code: 'custom', path: ['fuzz', 'targets'], message: `no process ${name} in the topology` });
    }
  });

/**
 * The process id of each broker entry, in order: its group name when it is its group's only entry (every
 * single-broker file reads as before), else `<name>-<id>` (`broker-a-0` the master, `broker-a-1` a slave).
 */
export function brokerProcessIds(brokers: readonly { name: string; id: number }[]): string[] {
  const count = new Map<string, number>();
  for (const b of brokers) count.set(b.name, (count.get(b.name) ?? 0) + 1);
  return brokers.map((b) => (count.get(b.name) === 1 ? b.name : `${b.name}-${b.id}`));
}

/** Broker groups: ids unique, one master (id 0) unless a controller decides, ids from 1 under one; controllers known. */
function checkGroups(t: z.output<typeof topology>, ctx: z.RefinementCtx): void {
  const controllers = new Set(t.controllers.map((c) => c.id));
  const groups = new Map<string, number[]>();
  t.brokers.forEach((b, i) => {
    const members = groups.get(b.name) ?? [];
    groups.set(b.name, [...members, i]);
    if (members.some((j) => t.brokers[j]!.id === b.id)) ctx.addIssue({ code: 'custom', path: ['topology', 'brokers', i, 'id'], message: `broker group ${b.name} has id ${b.id} twice` });
    for (const c of b.ha?.controller ?? []) {
      if (!controllers.has(c)) ctx.addIssue({ code: 'custom', path: ['topology', 'brokers', i, 'ha', 'controller'], message: `no controller ${c} in the topology` });
    }
  });
  for (const [name, members] of groups) {
    const entries = members.map((i) => t.brokers[i]!);
    const controlled = entries.filter((b) => b.ha?.controller !== undefined).length;
    if (controlled > 0 && controlled < entries.length) {
      ctx.addIssue({ code: 'custom', path: ['topology', 'brokers', members[0]!, 'ha'], message: `broker group ${name}: either every member names its controllers or none does` });
    } else if (controlled > 0) {
      members.forEach((i) => {
        if (t.brokers[i]!.id === 0) ctx.addIssue({ code: 'custom', path: ['topology', 'brokers', i, 'id'], message: `broker group ${name} is under a controller: ids start at 1 (whoever is master serves as 0)` });
      });
    } else if (!entries.some((b) => b.id === 0)) {
      ctx.addIssue({ code: 'custom', path: ['topology', 'brokers', members[0]!, 'id'], message: `broker group ${name} has no master (id 0) and no controller` });
    }
  }
}

/** The process ids a step names. */
export function stepProcesses(st: FaultStep): string[] {
  if ('target' in st && typeof st.target === 'string') return [st.target];
  if (st.do === 'clog') return [...st.between];
  if (st.do === 'partition' && st.sides) return [...st.sides[0], ...st.sides[1]];
  return [];
}

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;
export type FaultStep = z.output<typeof faultStep>;
/** A timeline step: a fault with `at` and/or `when`. */
export type Step = FaultStep;
export type BrokerSpec = Scenario['topology']['brokers'][number];
export type ControllerSpec = Scenario['topology']['controllers'][number];
export type HaSpec = NonNullable<BrokerSpec['ha']>;
export type TopicSpec = Scenario['topology']['topics'][number];
export type ProducerSpec = Scenario['topology']['producers'][number];
export type ConsumerSpec = Scenario['topology']['consumers'][number];
export type Workload = Scenario['workloads'][number];
export type FuzzSpec = NonNullable<Scenario['fuzz']>;
export type CheckName = (typeof CHECK_NAMES)[number];
