import { DEFAULT_CONTROLLER_SETTINGS, type ControllerSettings } from '../../protocol/ha-controller.js';
/**
 * How a broker group replicates (RocketMQ's master/slave HA): the options a broker is given under `ha`, checked
 * and with their defaults. Id 0 is the master; a broker with a higher id is a slave of its group's master.
 */

export type HaMode = 'sync' | 'async';

/** How often a broker heartbeats to its controller unless told (`heartbeatMs`). */
export const DEFAULT_HA_HEARTBEAT_MS = 500;

export interface HaOptions {
  /**
   * A master's acknowledgement: 'sync' answers SEND_OK only once the in-sync replicas have the batch (see
   * minInSyncReplicas), 'async' at once, the slaves following behind.
   */
  mode: HaMode;
  /** Sync: replicas, the master counted, that must hold a batch before it is acknowledged (default 2). */
  minInSyncReplicas?: number;
  /** Sync: wait for every member of the in-sync set, however many that is (default false). */
  allAckInSyncSet?: boolean;
  /** A slave whose acknowledgements have not caught up with the master for this long leaves the in-sync set (default 15000 ms). */
  maxTimeSlaveNotCatchupMs?: number;
  /** Sync: how long a send waits for its replicas before it is answered FLUSH_SLAVE_TIMEOUT, stored (default 3000 ms). */
  syncTimeoutMs?: number;
  /** Slave: how long the master holds a replication request that finds nothing new (default 1000 ms). */
  pullWaitMs?: number;
  /** Slave: most bytes of one replication reply (default 1 MiB; at most the transport's frame limit less 4 KiB). */
  maxChunkBytes?: number;
  /**
   * Slave: replication requests it keeps at its master at once (default 4, at most 64): while it appends one chunk
   * the next are already on their way, and a sync master always finds one waiting to carry a new batch.
   */
  pullsInFlight?: number;
  /** Slave: how often it copies its master's topics, consumer offsets and schedule progress (default 5000 ms). */
  configSyncMs?: number;
  /**
   * Slave with an empty store: copy the master's log from its oldest byte ('first', the default) or from the
   * start of its last commit log segment ('last-file', as RocketMQ's slaves may: older messages are then read
   * from the master only).
   */
  startFrom?: 'first' | 'last-file';
  /**
   * Automatic failover: the group's controller decides who is master (actors/protocol/ha-controller.ts). The ids of
   * controller actors (`controller.<id>`, memory transport and scenarios), or 'kv' for a JetStream KV bucket on
   * NATS (no controller process). Broker ids start at 1 then: the master, whichever it is, serves as id 0 in routes.
   * Without it the roles are fixed: id 0 is the master.
   */
  controller?: readonly string[] | 'kv';
  /** Under a controller: how often the broker heartbeats to it (default 500 ms; the lease is the controller's). */
  heartbeatMs?: number;
  /**
   * With controller 'kv': the rules' lease, liveness and clock skew (every broker of a group must use the same;
   * defaults 3000, 3000 and 500 ms), the bucket (default 'mq-ha') and its replicas when the broker creates it
   * (default 1; 3 on a NATS cluster).
   */
  kv?: { leaseMs?: number; aliveMs?: number; maxClockSkewMs?: number; bucket?: string; replicas?: number };
}

/** HaOptions with every default applied. */
export interface HaSettings {
  mode: HaMode;
  minInSyncReplicas: number;
  allAckInSyncSet: boolean;
  maxTimeSlaveNotCatchupMs: number;
  syncTimeoutMs: number;
  pullWaitMs: number;
  maxChunkBytes: number;
  pullsInFlight: number;
  configSyncMs: number;
  startFrom: 'first' | 'last-file';
  controller?: readonly string[] | 'kv';
  heartbeatMs: number;
  kv: { settings: ControllerSettings; bucket: string; replicas: number };
}

/** Most replication requests a slave keeps at its master (and a master holds for one slave). */
export const MAX_PULLS_IN_FLIGHT = 64;

export class HaConfigError extends Error {
  readonly code = 'ECONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'HaConfigError';
  }
}

function positiveInt(v: number | undefined, dflt: number, what: string): number {
  const x = v ?? dflt;
  if (!Number.isSafeInteger(x) || x <= 0) throw new HaConfigError(`ha.${what} must be a positive whole number, got ${String(v)}`);
  return x;
}

export function resolveHaOptions(o: HaOptions): HaSettings {
  if (typeof o !== 'object' || o === null) throw new HaConfigError('ha must be an object like { mode: "sync" }');
  if (o.mode !== 'sync' && o.mode !== 'async') throw new HaConfigError(`ha.mode must be 'sync' or 'async', got ${String(o.mode)}`);
  return {
    mode: o.mode,
    minInSyncReplicas: positiveInt(o.minInSyncReplicas, 2, 'minInSyncReplicas'),
    allAckInSyncSet: o.allAckInSyncSet ?? false,
    maxTimeSlaveNotCatchupMs: positiveInt(o.maxTimeSlaveNotCatchupMs, 15_000, 'maxTimeSlaveNotCatchupMs'),
    syncTimeoutMs: positiveInt(o.syncTimeoutMs, 3_000, 'syncTimeoutMs'),
    pullWaitMs: positiveInt(o.pullWaitMs, 1_000, 'pullWaitMs'),
    maxChunkBytes: positiveInt(o.maxChunkBytes, 1024 * 1024, 'maxChunkBytes'),
    pullsInFlight: pullsInFlightOption(o.pullsInFlight),
    configSyncMs: positiveInt(o.configSyncMs, 5_000, 'configSyncMs'),
    startFrom: startFromOption(o.startFrom),
    ...(o.controller !== undefined ? { controller: controllerOption(o.controller) } : {}),
    heartbeatMs: positiveInt(o.heartbeatMs, DEFAULT_HA_HEARTBEAT_MS, 'heartbeatMs'),
    kv: kvOption(o.kv ?? {}),
  };
}

function kvOption(k: NonNullable<HaOptions['kv']>): HaSettings['kv'] {
  const d = DEFAULT_CONTROLLER_SETTINGS;
  const bucket = k.bucket ?? 'mq-ha';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(bucket)) throw new HaConfigError(`ha.kv.bucket must be 1-64 of [A-Za-z0-9_-], got ${JSON.stringify(bucket)}`);
  return {
    settings: {
      leaseMs: positiveInt(k.leaseMs, d.leaseMs, 'kv.leaseMs'),
      aliveMs: positiveInt(k.aliveMs, d.aliveMs, 'kv.aliveMs'),
      maxClockSkewMs: positiveInt(k.maxClockSkewMs, d.maxClockSkewMs, 'kv.maxClockSkewMs'),
    },
    bucket,
    replicas: positiveInt(k.replicas, 1, 'kv.replicas'),
  };
}

function pullsInFlightOption(v: number | undefined): number {
  const n = positiveInt(v, 4, 'pullsInFlight');
  if (n > MAX_PULLS_IN_FLIGHT) throw new HaConfigError(`ha.pullsInFlight must be at most ${MAX_PULLS_IN_FLIGHT}, got ${n}`);
  return n;
}

function startFromOption(v: unknown): HaSettings['startFrom'] {
  if (v === undefined || v === 'first' || v === 'last-file') return v ?? 'first';
  throw new HaConfigError(`ha.startFrom must be 'first' or 'last-file', got ${JSON.stringify(v)}`);
}

function controllerOption(c: unknown): readonly string[] | 'kv' {
  if (c === 'kv') return 'kv';
  if (Array.isArray(c) && c.length > 0 && c.every((x) => typeof x === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(x))) return [...(c as string[])];
  throw new HaConfigError(`ha.controller must be 'kv' or a non-empty list of controller ids, got ${JSON.stringify(c)}`);
}
