/* What `mq namesrv` and `mq broker` do once their flags are parsed. */
import { resolve } from 'node:path';
import { startBroker, type BrokerHandle, type RegistrationStatus } from '../../actors/broker/broker.js';
import { startNameServer } from '../../actors/namesrv/namesrv.js';
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
  cluster: string;
  namesrv: string[];
  store: string;
  flush: 'sync' | 'async';
  flushInterval?: number;
  autoCreate: boolean;
  registerInterval?: number;
  segmentSize?: number;
  /** Where to serve direct links; false: none. */
  direct: { host: string; port: number } | false;
  directAdvertise?: string;
  acl?: string;
  directTlsCert?: string;
  directTlsKey?: string;
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
  const tls = f.directTlsCert !== undefined && f.directTlsKey !== undefined ? { tls: { cert: f.directTlsCert, key: f.directTlsKey } } : {};
  const direct = f.direct === false ? undefined : { ...f.direct, advertise: f.directAdvertise, ...tls };
  const system = await connectSystem(f, `broker-${f.name}-${f.brokerId}`, 'warn', direct);
  let broker: BrokerHandle;
  try {
    broker = await startBroker(system, {
      name: f.name,
      id: f.brokerId,
      cluster: f.cluster,
      namesrv: f.namesrv,
      storeDir: resolve(f.store),
      flush: f.flush,
      ...(f.flushInterval !== undefined ? { flushIntervalMs: f.flushInterval } : {}),
      autoCreateTopics: f.autoCreate,
      ...(f.registerInterval !== undefined ? { registerIntervalMs: f.registerInterval } : {}),
      ...(f.segmentSize !== undefined ? { segmentSize: f.segmentSize } : {}),
      ...(f.acl !== undefined ? { aclFile: resolve(f.acl) } : {}),
      ...credentialsOf(f),
    });
    await broker.whenServing();
  } catch (err) {
    await stopAfterFailure(system);
    throw err;
  }
  // ready once a name server has the broker (clients can find it); later changes get a line each
  let last: RegistrationStatus | undefined;
  const registrations = broker.registration$.subscribe({
    next: (s) => {
      const lines = last === undefined ? readyLines(f.name, s) : registrationChangeLines(f.name, last, s);
      for (const line of lines) out(line);
      if (last !== undefined || lines.length > 0) last = s;
    },
    error: (err: unknown) => system.env.logger.warn({ err }, 'registration status failed'),
  });
  // bounded: a stop that hangs (NATS gone) ends in one error line and exit code 1
  await untilSignal(async () => {
    registrations.unsubscribe();
    await broker.stop();
    await system.stop();
  });
}

/**
 * The ready line, once at least one name server has the broker (or it has none to register with): `broker b1
 * ready`, or `broker b1 ready (registered with ns-1; waiting for ns-2)` while some do not. Nothing before that.
 */
export function readyLines(name: string, s: RegistrationStatus): string[] {
  if (s.missing.length === 0) return [`broker ${name} ready`];
  if (s.registered.length === 0) return [];
  return [`broker ${name} ready (registered with ${s.registered.join(', ')}; waiting for ${s.missing.join(', ')})`];
}

/** A line per name server that came (`broker b1 registered with ns-2`) or went since the broker was ready. */
export function registrationChangeLines(name: string, before: RegistrationStatus, after: RegistrationStatus): string[] {
  const lines: string[] = [];
  for (const id of after.registered) if (!before.registered.includes(id)) lines.push(`broker ${name} registered with ${id}`);
  for (const id of before.registered) if (!after.registered.includes(id)) lines.push(`broker ${name} lost name server ${id} (registering again)`);
  return lines;
}
