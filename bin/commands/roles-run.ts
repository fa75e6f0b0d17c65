/* What `mq namesrv` and `mq broker` do once their flags are parsed. */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import { startBroker, type BrokerHandle, type HaRoleState, type RegistrationStatus } from '../../actors/broker/broker.js';
import { DEFAULT_HA_HEARTBEAT_MS, MAX_PULLS_IN_FLIGHT, type HaOptions } from '../../actors/broker/ha/ha-options.js';
import { DEFAULT_CONTROLLER_SETTINGS } from '../../actors/protocol/ha-controller.js';
import { brokerAddress } from '../../actors/protocol/commands.js';
import { startNameServer } from '../../actors/namesrv/namesrv.js';
import { MetricsServerError, serveMetrics, type MetricsServer } from '../../observe/metrics-server.js';
import { connectSystem, stopAfterFailure, untilSignal } from './connect.js';
import { CliError, credentialsOf, out, type ConnectionFlags } from './flags.js';

export interface NamesrvFlags extends ConnectionFlags {
  id: string;
  brokerExpiry?: number;
  scanInterval?: number;
  acl?: string;
}

export interface BrokerFlags extends ConnectionFlags {
  name: string;
  brokerId: number;
  ha?: 'sync' | 'async';
  minInSyncReplicas?: number;
  allAckInSyncSet?: boolean;
  haSyncTimeout?: number;
  slaveNotCatchup?: number;
  startFrom?: 'first' | 'last-file';
  haPullsInFlight?: number;
  failover?: boolean;
  lease?: number;
  haHeartbeat?: number;
  haBucketReplicas?: number;
  cluster: string;
  namesrv: string[];
  store: string;
  flush: 'sync' | 'async';
  flushInterval?: number;
  flushPacing?: 'adaptive' | 'interval';
  visibility?: 'flushed' | 'written';
  storeMode?: 'mixed' | 'per-queue';
  autoCreate: boolean;
  registerInterval?: number;
  segmentSize?: number;
  maxOpenFiles?: number;
  fileIdleClose?: number;
  /** Where to serve direct links; false: none. */
  direct: { host: string; port: number } | false;
  directAdvertise?: string;
  acl?: string;
  directTlsCert?: string;
  directTlsKey?: string;
  /** Where to serve Prometheus metrics (`--metrics HOST:PORT`). */
  metrics?: { host: string; port: number };
}

export async function runNamesrv(f: NamesrvFlags): Promise<void> {
  const system = await connectSystem(f, `namesrv-${f.id}`, 'warn');
  try {
    await startNameServer(system, {
      id: f.id,
      ...(f.brokerExpiry !== undefined ? { brokerExpiryMs: f.brokerExpiry } : {}),
      ...(f.scanInterval !== undefined ? { scanIntervalMs: f.scanInterval } : {}),
      ...(f.acl !== undefined ? { aclFile: resolve(f.acl) } : {}),
    });
  } catch (err) {
    await stopAfterFailure(system);
    throw err;
  }
  out(`namesrv ${f.id} ready`);
  await untilSignal(() => system.stop());
}

export async function runBroker(f: BrokerFlags): Promise<void> {
  if ((f.directTlsCert === undefined) !== (f.directTlsKey === undefined)) throw new CliError('--direct-tls-cert and --direct-tls-key go together');
  const ha = haOptionsOf(f); // before connecting: a bad combination fails at once
  const tls = f.directTlsCert !== undefined && f.directTlsKey !== undefined ? { tls: { cert: f.directTlsCert, key: f.directTlsKey } } : {};
  const direct = f.direct === false ? undefined : { ...f.direct, advertise: f.directAdvertise, ...tls };
  const system = await connectSystem(f, `broker-${f.name}-${f.brokerId}`, 'warn', direct);
  let broker: BrokerHandle;
  let metrics: MetricsServer | undefined;
  try {
    broker = await startBroker(system, {
      name: f.name,
      id: f.brokerId,
      ...(ha !== undefined ? { ha } : {}),
      cluster: f.cluster,
      namesrv: f.namesrv,
      storeDir: resolve(f.store),
      flush: f.flush,
      ...(f.flushInterval !== undefined ? { flushIntervalMs: f.flushInterval } : {}),
      ...(f.flushPacing !== undefined ? { flushPacing: f.flushPacing } : {}),
      ...(f.visibility !== undefined ? { visibility: f.visibility } : {}),
      ...(f.storeMode !== undefined ? { storeMode: f.storeMode } : {}),
      autoCreateTopics: f.autoCreate,
      ...(f.registerInterval !== undefined ? { registerIntervalMs: f.registerInterval } : {}),
      ...(f.segmentSize !== undefined ? { segmentSize: f.segmentSize } : {}),
      ...(f.maxOpenFiles !== undefined ? { maxOpenFiles: f.maxOpenFiles } : {}),
      ...(f.fileIdleClose !== undefined ? { fileIdleCloseMs: f.fileIdleClose } : {}),
      ...(f.acl !== undefined ? { aclFile: resolve(f.acl) } : {}),
      ...credentialsOf(f),
    });
    await broker.whenServing();
    if (f.metrics !== undefined) metrics = await serveBrokerMetrics(broker, f.metrics, system.env.logger);
  } catch (err) {
    await stopAfterFailure(system);
    throw err;
  }
  if (metrics !== undefined) out(`broker ${f.name} metrics at ${metrics.url}`);
  // ready once a name server has the broker (clients can find it); later changes get a line each
  const haNow = broker.context()?.ha?.status();
  const role = ha?.controller !== undefined ? failoverRole(f.name, f.brokerId) : roleOf(f.name, f.brokerId, haNow?.mode ?? ha?.mode ?? 'async', haNow?.master);
  let last: RegistrationStatus | undefined;
  let roles: Subscription | undefined;
  const registrations = broker.registration$.subscribe({
    next: (s) => {
      const lines = last === undefined ? readyLines(f.name, s, role) : registrationChangeLines(f.name, last, s);
      for (const line of lines) out(line);
      if (last !== undefined || lines.length > 0) last = s;
      // under failover, once ready: the role now and a line at each change
      if (last !== undefined && ha?.controller !== undefined) roles ??= printRoleChanges(broker, f.name, f.brokerId, system.env.logger);
    },
    error: (err: unknown) => system.env.logger.warn({ err }, 'registration status failed'),
  });
  // bounded: a stop that hangs (NATS gone) ends in one error line and exit code 1
  await untilSignal(async () => {
    registrations.unsubscribe();
    roles?.unsubscribe();
    await metrics?.close();
    await broker.stop();
    await system.stop();
  });
}

/** Serves the broker's metrics (`--metrics`); an address it cannot listen on is a CliError naming it. */
async function serveBrokerMetrics(broker: BrokerHandle, at: { host: string; port: number }, logger: Logger): Promise<MetricsServer> {
  try {
    return await serveMetrics({ ...at, brokers: () => [broker], logger });
  } catch (err) {
    const why = err instanceof MetricsServerError && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
    throw new CliError(`--metrics ${at.host}:${at.port}: cannot serve metrics there (${why})`);
  }
}

/** Prints a line each time the broker's role changes (roleChangeLine). */
function printRoleChanges(broker: BrokerHandle, name: string, id: number, logger: Logger): Subscription {
  let before: HaRoleState | undefined;
  return broker.role$.subscribe({
    next: (now) => {
      const line = roleChangeLine(name, id, before, now);
      if (line !== undefined) out(line);
      before = now;
    },
    error: (err: unknown) => logger.warn({ err }, 'role changes failed'),
  });
}

/**
 * A role change under failover, for people: `broker b.2 is now master of b (epoch 3)`, `broker b.1 now follows
 * broker.b.2 (epoch 3)`, `broker b.2 is no longer master of b (epoch 3): waiting for the controller`. Nothing
 * while the broker has no role yet.
 */
export function roleChangeLine(name: string, id: number, before: HaRoleState | undefined, now: HaRoleState): string | undefined {
  const me = `broker ${name}.${id}`;
  if (now.role === 'master') return `${me} is now master of ${name} (epoch ${now.epoch})`;
  if (now.role === 'slave') return `${me} now follows ${now.master ?? brokerAddress(name, 0)} (epoch ${now.epoch})`;
  if (before?.role === 'master') return `${me} is no longer master of ${name} (epoch ${before.epoch}): waiting for the controller`;
  return undefined;
}

/** The ready line's role under failover: the controller decides it (the role lines follow). */
export function failoverRole(name: string, id: number): string {
  return `broker ${id} of ${name} under failover (the group's controller decides who is master)`;
}

/** The flags that apply to a sync master only. */
const SYNC_ONLY = [
  ['minInSyncReplicas', '--min-in-sync-replicas'],
  ['allAckInSyncSet', '--all-ack-in-sync-set'],
  ['haSyncTimeout', '--ha-sync-timeout'],
] as const;

/** The flags that apply under --failover only. */
const FAILOVER_ONLY = [
  ['lease', '--lease'],
  ['haHeartbeat', '--ha-heartbeat'],
  ['haBucketReplicas', '--ha-bucket-replicas'],
] as const;

export type HaFlags = Pick<BrokerFlags, 'brokerId' | 'ha' | 'minInSyncReplicas' | 'allAckInSyncSet' | 'haSyncTimeout' | 'slaveNotCatchup' | 'startFrom' | 'haPullsInFlight' | 'failover' | 'lease' | 'haHeartbeat' | 'haBucketReplicas'>;

/**
 * BrokerOptions.ha from the replication flags, or undefined when none is given (the broker's default: an
 * async master, or a slave). A CliError for flags that cannot take effect: the sync tunables without `--ha sync`,
 * the failover tunables without `--failover`, `--failover` on broker id 0, a heartbeat not below the lease.
 */
export function haOptionsOf(f: HaFlags): HaOptions | undefined {
  checkSyncFlags(f);
  const failover = failoverOptionsOf(f);
  if (f.haPullsInFlight !== undefined && f.haPullsInFlight > MAX_PULLS_IN_FLIGHT) {
    throw new CliError(`--ha-pulls-in-flight ${f.haPullsInFlight}: at most ${MAX_PULLS_IN_FLIGHT} (a master holds no more requests of one slave)`);
  }
  if (f.ha === undefined && f.slaveNotCatchup === undefined && f.startFrom === undefined && f.haPullsInFlight === undefined && failover === undefined) return undefined;
  return {
    mode: f.ha ?? 'async',
    ...(f.minInSyncReplicas !== undefined ? { minInSyncReplicas: f.minInSyncReplicas } : {}),
    ...(f.allAckInSyncSet ? { allAckInSyncSet: true } : {}),
    ...(f.haSyncTimeout !== undefined ? { syncTimeoutMs: f.haSyncTimeout } : {}),
    ...(f.slaveNotCatchup !== undefined ? { maxTimeSlaveNotCatchupMs: f.slaveNotCatchup } : {}),
    ...(f.startFrom !== undefined ? { startFrom: f.startFrom } : {}),
    ...(f.haPullsInFlight !== undefined ? { pullsInFlight: f.haPullsInFlight } : {}),
    ...failover,
  };
}

function given(f: HaFlags, flags: readonly (readonly [keyof HaFlags, string])[]): string[] {
  return flags.filter(([k]) => f[k] !== undefined && f[k] !== false).map(([, flag]) => flag);
}

function checkSyncFlags(f: HaFlags): void {
  const sync = given(f, SYNC_ONLY);
  if (sync.length === 0 || f.ha === 'sync') return;
  const what = sync.join(' and ');
  if (f.brokerId > 0 && !f.failover) throw new CliError(`${what} set how a sync master acknowledges; broker id ${f.brokerId} is a slave: give it to the master (--broker-id 0 --ha sync)`);
  throw new CliError(`${what} apply to a sync master only: add --ha sync${f.ha === 'async' ? ' instead of --ha async' : ''}, or leave ${sync.length > 1 ? 'them' : 'it'} out`);
}

/** The controller part of HaOptions under --failover: the NATS KV bucket, its lease, heartbeat and replicas. */
function failoverOptionsOf(f: HaFlags): Pick<HaOptions, 'controller' | 'heartbeatMs' | 'kv'> | undefined {
  const tunables = given(f, FAILOVER_ONLY);
  if (!f.failover) {
    if (tunables.length > 0) throw new CliError(`${tunables.join(' and ')} apply under automatic failover only: add --failover, or leave ${tunables.length > 1 ? 'them' : 'it'} out`);
    return undefined;
  }
  if (f.brokerId === 0) throw new CliError("--failover: broker ids start at 1 (the group's controller picks the master): give each broker of the group --broker-id 1, 2, ...");
  const lease = f.lease ?? DEFAULT_CONTROLLER_SETTINGS.leaseMs;
  const heartbeat = f.haHeartbeat ?? DEFAULT_HA_HEARTBEAT_MS;
  if (heartbeat >= lease) throw new CliError(`--ha-heartbeat ${heartbeat} must be below the lease (${lease} ms): a master keeps its lease by heartbeating; give --lease above it or a shorter --ha-heartbeat`);
  return {
    controller: 'kv',
    ...(f.haHeartbeat !== undefined ? { heartbeatMs: f.haHeartbeat } : {}),
    kv: {
      ...(f.lease !== undefined ? { leaseMs: f.lease, aliveMs: f.lease } : {}),
      ...(f.haBucketReplicas !== undefined ? { replicas: f.haBucketReplicas } : {}),
    },
  };
}

/**
 * The broker's role for its ready line: `sync master` / `async master` (id 0), or `slave 2 of b, following
 * broker.b.0` (the master it follows: `master` when the broker reports one, else its group's id 0).
 */
export function roleOf(name: string, id: number, mode: 'sync' | 'async', master?: string): string {
  if (id === 0) return `${mode} master`;
  return `slave ${id} of ${name}, following ${master ?? brokerAddress(name, 0)}`;
}

/**
 * The ready line, once at least one name server has the broker (or it has none to register with): `broker b1
 * ready as sync master`, or `broker b1 ready as async master (registered with ns-1; waiting for ns-2)` while
 * some do not. Nothing before that.
 */
export function readyLines(name: string, s: RegistrationStatus, role: string): string[] {
  if (s.missing.length === 0) return [`broker ${name} ready as ${role}`];
  if (s.registered.length === 0) return [];
  return [`broker ${name} ready as ${role} (registered with ${s.registered.join(', ')}; waiting for ${s.missing.join(', ')})`];
}

/** A line per name server that came (`broker b1 registered with ns-2`) or went since the broker was ready. */
export function registrationChangeLines(name: string, before: RegistrationStatus, after: RegistrationStatus): string[] {
  const lines: string[] = [];
  for (const id of after.registered) if (!before.registered.includes(id)) lines.push(`broker ${name} registered with ${id}`);
  for (const id of before.registered) if (!after.registered.includes(id)) lines.push(`broker ${name} lost name server ${id} (registering again)`);
  return lines;
}
