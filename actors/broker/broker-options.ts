import { DEFAULT_DELAY_LEVELS, parseDelayLevels } from '../protocol/retry-delay.js';
import { DEFAULT_MAX_BODY_BYTES } from '../protocol/validation.js';
import { DEFAULT_CLIENT_EXPIRY_MS } from './client-registry.js';
import { DEFAULT_MAX_HELD_PULLS } from './long-polling.js';
import { DEFAULT_REGISTER_RETRY, type RetryPolicy } from './registration.js';
import { DEFAULT_QUEUE_NUMS } from './topic-config.js';
import type { HandlerLimits } from './handlers/context.js';
import { resolveTimerTxOptions, type TimerTxOptions, type TimerTxSettings } from './timer-tx-options.js';
import type { Credentials } from '../protocol/acl/signing.js';
import { checkCredentials } from '../runtime/signed-io.js';
import { resolveHaOptions, type HaOptions, type HaSettings } from './ha/ha-options.js';
import { DEFAULT_SLAVE_READ_LAG_BYTES } from './ha/read-suggestion.js';
import { STORE_MODES, type StoreMode } from '../../store/open-store.js';

/**
 * How a broker is set up. Every field but `name`, `namesrv` and `storeDir` has a default. The timer (deliverAt)
 * and transaction options it extends are in timer-tx-options.ts.
 */
export interface BrokerOptions extends TimerTxOptions {
  /** Broker group name (`brokerName`); the broker serves at `broker.<name>.<id>`. */
  name: string;
  /** 0 for the master of the group (default 0); a higher id is a slave that replicates the master's commit log. */
  id?: number;
  /**
   * Replication (ha/ha-options.ts): a master's mode ('sync' acknowledges once the in-sync replicas have a batch,
   * 'async' at once, the default) and the in-sync rules; a slave's pull and config sync settings.
   */
  ha?: HaOptions;
  /** Cluster name (default 'DefaultCluster'). */
  cluster?: string;
  /** Ids of the name servers it registers with (at `namesrv.<id>`). */
  namesrv: string[];
  /** Store directory (commit log, consume queues, index, config/). */
  storeDir: string;
  /** Commit log flush: 'sync' acknowledges after fsync, 'async' flushes every flushIntervalMs (default 'async'). */
  flush?: 'sync' | 'async';
  /** Async flush with 'interval' pacing: how long written data waits before its flush starts (default 100 ms). */
  flushIntervalMs?: number;
  /**
   * Async flush pacing: 'adaptive' starts a flush as soon as the previous one ended, so a quick disk makes a
   * message visible about a flush after its write and a heavy load makes each flush cover more; 'interval' waits
   * flushIntervalMs after the log became dirty (RocketMQ's timed flush). Default: 'interval' when consumers see
   * written data (visibility 'written'), else 'adaptive'.
   */
  flushPacing?: 'adaptive' | 'interval';
  /**
   * What consumers see: 'written' data as soon as its queue offsets are reserved on storage (a power loss can take
   * back a message a consumer saw, as it can an acknowledged one, never its queue offset), or only 'flushed' data.
   * Default: 'written' for an async-flush broker that does not replicate under a controller or as a sync master or
   * slave; 'flushed' otherwise (and 'written' is refused there).
   */
  visibility?: 'flushed' | 'written';
  /**
   * How the store lays out its data: 'mixed' (default), one commit log for every queue as RocketMQ; 'per-queue',
   * a log per queue as Kafka's partitions (no replication: it ships the one mixed log). README "Store modes" has
   * the measurements of both.
   */
  storeMode?: StoreMode;
  /**
   * Sync flush: a send whose fsync has not completed this long after its write is answered FLUSH_DISK_TIMEOUT
   * (stored, durability unknown), as RocketMQ's syncFlushTimeout (default: the store's, 5 s).
   */
  flushTimeoutMs?: number;
  /** Create unknown topics on first send (default true). */
  autoCreateTopics?: boolean;
  /** Read and write queues of an auto-created topic (default 4). */
  defaultQueueNums?: number;
  /** Re-registration with the name servers (default 30000 ms). */
  registerIntervalMs?: number;
  /** Timeout of one registration request (default 3000 ms); the broker serves after the first answer or this. */
  registerTimeoutMs?: number;
  /**
   * How long spawnBroker waits, once the broker serves, for every name server to have it (default 10000 ms);
   * past it the broker is stopped and spawnBroker rejects, naming the name servers that did not answer. A name
   * server that does not answer is asked again after 100 ms, then after twice as long each time up to 3 s (or
   * the register interval, if shorter), until it answers; one that starts asks the brokers to register at once.
   */
  registerWaitMs?: number;
  /** Clients silent this long are dropped (default 120000 ms). */
  clientExpiryMs?: number;
  /** How often silent clients are looked for (default 10000 ms). */
  clientScanIntervalMs?: number;
  /** Consumer offsets are persisted this often when they moved (default 5000 ms), and at shutdown. */
  offsetPersistMs?: number;
  /** Commit log segment size in bytes (default: the store's, 1 GiB). */
  segmentSize?: number;
  /** How far ahead of its writes the commit log warms the page cache (default: the store's, 32 MiB; 0: off). */
  warmAheadBytes?: number;
  /**
   * Open files the store keeps at most (default: the store's, 1,024): commit log segments, consume queue and index
   * files are closed least recently used first (once flushed) and opened again when used.
   */
  maxOpenFiles?: number;
  /** A store file unused this long is closed (default: the store's, 60000 ms; 0: never). */
  fileIdleCloseMs?: number;
  /** Commit log segments older than this are deleted (default: the store's, 72 h). */
  retentionMs?: number;
  /** Refuse writes above this disk usage ratio (default: the store's, 0.9). */
  maxDiskUsageRatio?: number;
  /** Delay levels, e.g. '1s 5s 10s' (default RocketMQ's 18 levels, 1s ... 2h). */
  delayLevels?: string;
  /** Largest message body (default 4 MiB). */
  maxBodyBytes?: number;
  /** Most pulls held at once (default 10000); past it a pull is answered at once. */
  maxHeldPulls?: number;
  /** Longest a pull is held (default 30000 ms). */
  maxSuspendMs?: number;
  /** Most messages per pull (default 1024). */
  maxPullMsgs?: number;
  /** How long an orderly consumer's queue lock lasts without renewal (default 60000 ms). */
  queueLockLeaseMs?: number;
  /**
   * A pull that reads more than this many bytes behind the commit log's write offset is told to pull from a slave
   * (a master with a slave in its in-sync set); a slave sends a consumer back to the master once it reads within
   * this distance again (RocketMQ's suggestWhichBrokerId). Default 256 MiB.
   */
  slaveReadLagBytes?: number;
  /**
   * ACL file (JSON, actors/protocol/acl/acl-file.ts), read through the Environment's storage: when given, every
   * request must be signed by an account with the permission it needs (else NO_PERMISSION). Default: no ACL.
   */
  aclFile?: string;
  /** How often the ACL file is looked at for changes (default 5000 ms). */
  aclReloadMs?: number;
  /** Accepted distance of a signed request's Timestamp from the broker's clock, either way (default 60000 ms). */
  aclReplayWindowMs?: number;
  /** The broker signs its requests to the name servers (registration) with these. */
  credentials?: Credentials;
}

/** BrokerOptions with every default applied. */
export interface BrokerSettings {
  name: string;
  id: number;
  cluster: string;
  namesrv: string[];
  storeDir: string;
  flush: 'sync' | 'async';
  flushIntervalMs?: number;
  flushPacing?: 'adaptive' | 'interval';
  visibility: 'flushed' | 'written';
  storeMode: StoreMode;
  flushTimeoutMs?: number;
  autoCreateTopics: boolean;
  defaultQueueNums: number;
  registerIntervalMs: number;
  registerTimeoutMs: number;
  registerWaitMs: number;
  /** Retries of a registration that failed, until the name server answers. */
  registerRetry: RetryPolicy;
  clientExpiryMs: number;
  clientScanIntervalMs: number;
  offsetPersistMs: number;
  segmentSize?: number;
  warmAheadBytes?: number;
  maxOpenFiles?: number;
  fileIdleCloseMs?: number;
  retentionMs?: number;
  maxDiskUsageRatio?: number;
  maxHeldPulls: number;
  limits: HandlerLimits;
  timerTx: TimerTxSettings;
  acl?: { file: string; reloadMs?: number; replayWindowMs?: number };
  credentials?: Credentials;
  ha: HaSettings;
}

export class BrokerConfigError extends Error {
  readonly code = 'ECONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'BrokerConfigError';
  }
}

function nonNegativeInt(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new BrokerConfigError(`${what} must be a whole number of at least 0, got ${String(v)}`);
  return v;
}

function oneOfPacing(v: string): 'adaptive' | 'interval' {
  if (v !== 'adaptive' && v !== 'interval') throw new BrokerConfigError(`flushPacing must be 'adaptive' or 'interval', got ${JSON.stringify(v)}`);
  return v;
}

function positiveInt(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new BrokerConfigError(`${what} must be a whole number of at least 1, got ${String(v)}`);
  return v;
}

function positive(v: number | undefined, dflt: number, what: string): number {
  const x = v ?? dflt;
  if (!Number.isFinite(x) || x <= 0) throw new BrokerConfigError(`${what} must be a positive number, got ${String(v)}`);
  return x;
}

export function resolveBrokerOptions(o: BrokerOptions): BrokerSettings {
  if (typeof o.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(o.name)) throw new BrokerConfigError(`broker name "${String(o.name)}" must be 1-64 of [A-Za-z0-9_-]`);
  const id = o.id ?? 0;
  if (!Number.isInteger(id) || id < 0) throw new BrokerConfigError(`broker id must be a non-negative integer, got ${String(o.id)}`);
  if (!Array.isArray(o.namesrv)) throw new BrokerConfigError('namesrv must be a list of name server ids');
  if (typeof o.storeDir !== 'string' || o.storeDir.length === 0) throw new BrokerConfigError('storeDir must be given');
  const flush = o.flush ?? 'async';
  if (flush !== 'sync' && flush !== 'async') throw new BrokerConfigError(`flush must be 'sync' or 'async', got ${String(o.flush)}`);
  const delayLevels = o.delayLevels === undefined ? DEFAULT_DELAY_LEVELS : parseDelayLevels(o.delayLevels);
  const maxBodyBytes = positive(o.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 'maxBodyBytes');
  const timerTx = resolveTimerTxOptions(o);
  const registerIntervalMs = positive(o.registerIntervalMs, 30_000, 'registerIntervalMs');
  const ha = haOption(o);
  return {
    name: o.name,
    id,
    cluster: o.cluster ?? 'DefaultCluster',
    namesrv: [...o.namesrv],
    storeDir: o.storeDir.replace(/\/+$/, ''),
    flush,
    ...(o.flushIntervalMs !== undefined ? { flushIntervalMs: o.flushIntervalMs } : {}),
    ...(o.flushPacing !== undefined ? { flushPacing: oneOfPacing(o.flushPacing) } : {}),
    visibility: visibilityOption(o.visibility, flush, id, ha),
    storeMode: storeModeOption(o.storeMode, id, ha),
    ...(o.flushTimeoutMs !== undefined ? { flushTimeoutMs: positive(o.flushTimeoutMs, 0, 'flushTimeoutMs') } : {}),
    autoCreateTopics: o.autoCreateTopics ?? true,
    defaultQueueNums: positive(o.defaultQueueNums, DEFAULT_QUEUE_NUMS, 'defaultQueueNums'),
    registerIntervalMs,
    registerTimeoutMs: positive(o.registerTimeoutMs, 3_000, 'registerTimeoutMs'),
    registerWaitMs: positive(o.registerWaitMs, 10_000, 'registerWaitMs'),
    registerRetry: { initialMs: DEFAULT_REGISTER_RETRY.initialMs, maxMs: Math.min(DEFAULT_REGISTER_RETRY.maxMs, registerIntervalMs) },
    clientExpiryMs: positive(o.clientExpiryMs, DEFAULT_CLIENT_EXPIRY_MS, 'clientExpiryMs'),
    clientScanIntervalMs: positive(o.clientScanIntervalMs, Math.min(10_000, o.clientExpiryMs ?? 10_000), 'clientScanIntervalMs'),
    offsetPersistMs: positive(o.offsetPersistMs, 5_000, 'offsetPersistMs'),
    ...(o.segmentSize !== undefined ? { segmentSize: o.segmentSize } : {}),
    ...(o.warmAheadBytes !== undefined ? { warmAheadBytes: nonNegativeInt(o.warmAheadBytes, 'warmAheadBytes') } : {}),
    ...(o.maxOpenFiles !== undefined ? { maxOpenFiles: positiveInt(o.maxOpenFiles, 'maxOpenFiles') } : {}),
    ...(o.fileIdleCloseMs !== undefined ? { fileIdleCloseMs: nonNegativeInt(o.fileIdleCloseMs, 'fileIdleCloseMs') } : {}),
    ...(o.retentionMs !== undefined ? { retentionMs: o.retentionMs } : {}),
    ...(o.maxDiskUsageRatio !== undefined ? { maxDiskUsageRatio: o.maxDiskUsageRatio } : {}),
    maxHeldPulls: positive(o.maxHeldPulls, DEFAULT_MAX_HELD_PULLS, 'maxHeldPulls'),
    limits: {
      maxBodyBytes,
      maxBatchBytes: maxBodyBytes,
      maxPullMsgs: positive(o.maxPullMsgs, 1024, 'maxPullMsgs'),
      maxPullBytes: 4 * 1024 * 1024,
      maxSuspendMs: positive(o.maxSuspendMs, 30_000, 'maxSuspendMs'),
      delayLevels,
      maxQueryNum: 64,
      timerHorizonMs: timerTx.timerHorizonMs,
      queueLockLeaseMs: positive(o.queueLockLeaseMs, 60_000, 'queueLockLeaseMs'),
      slaveReadLagBytes: positive(o.slaveReadLagBytes, DEFAULT_SLAVE_READ_LAG_BYTES, 'slaveReadLagBytes'),
    },
    timerTx,
    ha,
    ...(o.aclFile !== undefined ? { acl: aclSettings(o) } : {}),
    ...(o.credentials !== undefined ? { credentials: credentialsOption(o.credentials) } : {}),
  };
}

/** A per-queue store replicates nothing: only a lone master (no slave, no controller, async) may have one. */
function storeModeOption(v: BrokerOptions['storeMode'], id: number, ha: HaSettings): StoreMode {
  if (v === undefined) return 'mixed';
  if (!STORE_MODES.includes(v)) throw new BrokerConfigError(`storeMode must be ${STORE_MODES.map((m) => `'${m}'`).join(' or ')}, got ${JSON.stringify(v)}`);
  if (v === 'per-queue' && (id !== 0 || ha.mode !== 'async' || ha.controller !== undefined)) {
    throw new BrokerConfigError("storeMode 'per-queue' does not replicate (replication ships the one mixed commit log): use it on a lone master, or 'mixed'");
  }
  return v;
}

/**
 * Serving written data needs queue offsets that only this broker hands out: not a slave, not a master whose
 * acknowledgement or failover depends on replicas (a sync master, a controller), and not with sync flush (where an
 * acknowledgement means flushed, and what a consumer sees should be what a producer was told).
 */
function visibilityOption(v: BrokerOptions['visibility'], flush: 'sync' | 'async', id: number, ha: HaSettings): 'flushed' | 'written' {
  const alone = flush === 'async' && id === 0 && ha.mode === 'async' && ha.controller === undefined;
  if (v === undefined) return alone ? 'written' : 'flushed';
  if (v !== 'flushed' && v !== 'written') throw new BrokerConfigError(`visibility must be 'flushed' or 'written', got ${JSON.stringify(v)}`);
  if (v === 'written' && !alone) {
    throw new BrokerConfigError("visibility 'written' needs async flush on a broker that is neither a slave, a sync master nor under a controller; use 'flushed'");
  }
  return v;
}

function haOption(o: BrokerOptions): HaSettings {
  try {
    return resolveHaOptions(o.ha ?? { mode: 'async' });
  } catch (err) {
    throw new BrokerConfigError(err instanceof Error ? err.message : String(err));
  }
}

function aclSettings(o: BrokerOptions): NonNullable<BrokerSettings['acl']> {
  if (typeof o.aclFile !== 'string' || o.aclFile.length === 0) throw new BrokerConfigError('aclFile must be a path');
  return {
    file: o.aclFile,
    ...(o.aclReloadMs !== undefined ? { reloadMs: positive(o.aclReloadMs, 0, 'aclReloadMs') } : {}),
    ...(o.aclReplayWindowMs !== undefined ? { replayWindowMs: positive(o.aclReplayWindowMs, 0, 'aclReplayWindowMs') } : {}),
  };
}

function credentialsOption(c: Credentials): Credentials {
  try {
    return checkCredentials(c)!;
  } catch (err) {
    throw new BrokerConfigError(err instanceof Error ? err.message : String(err));
  }
}
