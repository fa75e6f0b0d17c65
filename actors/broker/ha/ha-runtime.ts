import type { Logger } from 'pino';
import type { Clock } from '../../../core/clock.js';
import { Status, StatusError } from '../../../core/status.js';
import type { Frame } from '../../../transports/frame.js';
import type { HaStatus } from '../../protocol/commands.js';
import { brokerAddress } from '../../protocol/commands.js';
import { writtenBelow } from '../put-message.js';
import type { StorePort, StorePutResult, ReplicationPort } from '../store-port.js';
import { HaMaster } from './ha-master.js';
import type { HaSettings } from './ha-options.js';
import { HaSlave, type HaSlaveDeps } from './ha-slave.js';
import type { MasterConfig, SlaveConfigReport } from './config-sync.js';

/**
 * A broker's replication role and the parts that play it. Id 0 is its group's master: it serves its slaves'
 * HA_PULL requests, and with `mode: 'sync'` its writes wait for their replicas. A higher id is a slave: it
 * follows the master at `broker.<name>.0`, takes no writes, and runs no scheduler (what they would write comes
 * from the master's log). The store port the broker's writers use is wrapped accordingly (`wrapStore`).
 */

export type HaRole = 'master' | 'slave';

export interface BrokerHa {
  readonly role: HaRole;
  readonly master?: HaMaster;
  readonly slave?: HaSlave;
  status(): HaStatus;
  /** HA_SYNC_CONFIG on a master: takes a slave's offsets, answers with its own state. */
  serveConfig(report: SlaveConfigReport): MasterConfig;
  stop(): Promise<void>;
}

export interface HaDeps {
  brokerName: string;
  brokerId: number;
  address: string;
  repl: ReplicationPort;
  clock: Clock;
  logger: Logger;
  settings: HaSettings;
  maxPayload: () => number;
  request: HaSlaveDeps['request'];
  offsets: HaSlaveDeps['offsets'];
  applyConfig: HaSlaveDeps['applyConfig'];
  /** The master's side of a config sync (config-sync.ts masterConfig over the broker's parts). */
  serveConfig: (report: SlaveConfigReport) => MasterConfig;
}

export function openHa(d: HaDeps): BrokerHa {
  if (d.brokerId === 0) {
    const master = new HaMaster(d);
    return {
      role: 'master',
      master,
      status: () => master.status(),
      serveConfig: d.serveConfig,
      stop: async () => master.stop(),
    };
  }
  const slave = new HaSlave({ ...d, master: () => brokerAddress(d.brokerName, 0) });
  return {
    role: 'slave',
    slave,
    status: () => slave.status(),
    serveConfig: () => {
      throw new StatusError(Status.SERVICE_NOT_AVAILABLE, `broker ${d.address} is a slave: ask its master for the configuration`);
    },
    stop: () => slave.stop(),
  };
}

/**
 * The store port the broker's writers (sends, send-backs, transactions, schedulers) use: a slave's refuses every
 * write; a sync master's refuses one while the in-sync set is too small and answers a stored batch only once its
 * replicas acknowledged it (else FLUSH_SLAVE_TIMEOUT, stored, with its offsets).
 */
export function wrapStore(store: StorePort, ha: BrokerHa, brokerName: string, address: string): StorePort {
  if (ha.role === 'slave') {
    return {
      ...store,
      putMessages: async () => ({ status: Status.SERVICE_NOT_AVAILABLE, message: `broker ${address} is a slave of ${brokerName}: it takes no writes (send to the master)`, results: [] }),
    };
  }
  const master = ha.master!;
  if (!master.sync) return store;
  return {
    ...store,
    putMessages: async (batch) => {
      const refused = master.refuseWrite();
      if (refused) return { ...refused, results: [] };
      const r = await store.putMessages(batch);
      if (r.status !== Status.OK) return r;
      const ack = await master.waitForReplicas(writtenBelow(r));
      return ack.status === Status.OK ? r : withStatus(r, ack.status, ack.message);
    },
  };
}

/** A stored batch's result under another status (its offsets and ids kept). */
function withStatus(r: StorePutResult, status: number, message: string | undefined): StorePutResult {
  const out: StorePutResult = { ...r, status, results: r.results };
  if (r.count !== undefined) out.count = r.count;
  if (message !== undefined) out.message = message;
  return out;
}

/** The broker's HA handlers' door: the master, or a clear refusal. */
export function masterOf(ha: BrokerHa | undefined, frame: Frame, address: string): HaMaster {
  if (ha?.master === undefined) throw new StatusError(Status.SERVICE_NOT_AVAILABLE, `broker ${address} is not a master: replication request ${frame.code} refused`);
  return ha.master;
}
