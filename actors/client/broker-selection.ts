import { Status, StatusError } from '../../core/status.js';
import { MASTER_ID } from '../protocol/route.js';

/**
 * Which member of a broker group a request goes to (pure). A route maps each broker id of a group to its address
 * (id 0 the master, higher ids its slaves). Writes and locks go to the master only. A read that a slave may serve
 * (`slaveOk`: pulls, offsets, member lists) goes to the broker id the group last suggested when the route has
 * it, else to the master, unless the master was marked down after it did not answer: then, until the mark
 * expires, to the slave of lowest id. So reads go on within one request of a master's death instead of after the
 * name servers' broker expiry, and go back to the master once the mark expires.
 */

/** How long a master that did not answer a slaveOk request is passed over by slaveOk requests (default 10 s). */
export const DEFAULT_MASTER_DOWN_MS = 10_000;

/** Statuses that mean the broker did not answer or cannot serve at all (not a refusal of this request). */
const UNREACHABLE: ReadonlySet<number> = new Set<number>([Status.TIMEOUT, Status.NO_RESPONDERS, Status.TRANSPORT_CLOSED, Status.SERVICE_NOT_AVAILABLE]);

/** Whether a reply status or a request's rejection says the broker is unreachable (a lost direct link included). */
export function isUnreachable(outcome: number | unknown): boolean {
  if (typeof outcome === 'number') return UNREACHABLE.has(outcome);
  if (outcome instanceof StatusError) return UNREACHABLE.has(outcome.status) || (outcome as { code?: unknown }).code === 'DISCONNECTED';
  return false;
}

export interface BrokerChoice {
  /** A slave may serve the request (reads); else only the master. */
  slaveOk?: boolean;
  /** slaveOk: the broker id to use when the route has it (the group's last suggestion); else the master. */
  preferId?: number;
  /** slaveOk: the master is passed over until this time (its down mark), when a slave is known. */
  masterDownUntil?: number;
  /** The time now, on the client's clock. */
  now?: number;
}

export interface ChosenBroker {
  id: number;
  address: string;
}

/** The broker of a group (`addrs`: id -> address) a request goes to; undefined when the route has none fit. */
export function selectBroker(addrs: Readonly<Record<string, string>>, c: BrokerChoice = {}): ChosenBroker | undefined {
  const master = addrs[MASTER_ID];
  const masterChoice = master === undefined ? undefined : { id: MASTER_ID, address: master };
  if (!c.slaveOk) return masterChoice;
  const down = c.masterDownUntil !== undefined && (c.now === undefined || c.now < c.masterDownUntil);
  if (c.preferId !== undefined && c.preferId !== MASTER_ID) {
    const preferred = addrs[c.preferId];
    if (preferred !== undefined) return { id: c.preferId, address: preferred };
  }
  if (masterChoice && !down) return masterChoice;
  const slave = lowestSlave(addrs);
  return slave ?? masterChoice;
}

/** The slave of lowest id in a group's addresses. */
export function lowestSlave(addrs: Readonly<Record<string, string>>): ChosenBroker | undefined {
  let best: number | undefined;
  for (const k of Object.keys(addrs)) {
    const id = Number(k);
    if (Number.isSafeInteger(id) && id > MASTER_ID && (best === undefined || id < best)) best = id;
  }
  return best === undefined ? undefined : { id: best, address: addrs[best]! };
}
