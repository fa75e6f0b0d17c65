/* What `mq namesrv` and `mq broker` do once their flags are parsed. */
import { resolve } from 'node:path';
import { startBroker, type BrokerHandle } from '../../actors/broker/broker.js';
import { startNameServer } from '../../actors/namesrv/namesrv.js';
import { connectSystem, stopAfterFailure, untilSignal } from './connect.js';
import { out, type ConnectionFlags } from './flags.js';

export interface NamesrvFlags extends ConnectionFlags {
  id: string;
  brokerExpiry?: number;
  scanInterval?: number;
}

export interface BrokerFlags extends ConnectionFlags {
  name: string;
  brokerId: number;
  cluster: string;
  namesrv: string[];
  store: string;
  flush: 'sync' | 'async';
  autoCreate: boolean;
  registerInterval?: number;
  segmentSize?: number;
  /** Where to serve direct links; false: none. */
  direct: { host: string; port: number } | false;
  directAdvertise?: string;
}

export async function runNamesrv(f: NamesrvFlags): Promise<void> {
  const system = await connectSystem(f, `namesrv-${f.id}`, 'warn');
  try {
    await startNameServer(system, {
      id: f.id,
      ...(f.brokerExpiry !== undefined ? { brokerExpiryMs: f.brokerExpiry } : {}),
      ...(f.scanInterval !== undefined ? { scanIntervalMs: f.scanInterval } : {}),
    });
  } catch (err) {
    await stopAfterFailure(system);
    throw err;
  }
  out(`namesrv ${f.id} ready`);
  await untilSignal(() => system.stop());
}

export async function runBroker(f: BrokerFlags): Promise<void> {
  const direct = f.direct === false ? undefined : { ...f.direct, advertise: f.directAdvertise };
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
      autoCreateTopics: f.autoCreate,
      ...(f.registerInterval !== undefined ? { registerIntervalMs: f.registerInterval } : {}),
      ...(f.segmentSize !== undefined ? { segmentSize: f.segmentSize } : {}),
    });
    await broker.whenServing();
  } catch (err) {
    await stopAfterFailure(system);
    throw err;
  }
  out(`broker ${f.name} ready`);
  // bounded: a stop that hangs (NATS gone) ends in one error line and exit code 1
  await untilSignal(async () => {
    await broker.stop();
    await system.stop();
  });
}
