/**
 * The HA controller's rules, as pure functions over one broker group's state (RocketMQ 5's controller mode,
 * RIP-44, with leases added): who is master, in which epoch, until when, and which brokers are in sync. Two
 * controllers run them: the controller actor (actors/controller/, memory transport and scenarios) holds the
 * state and answers requests; on NATS each broker applies them itself to a JetStream KV entry, changed only by
 * compare-and-set on the entry's revision. Either way the state changes only through these functions.
 *
 * - Every broker of the group heartbeats (`onHeartbeat`) with its configured id, address, the epoch it serves in
 *   (0 until it learns its role after a start) and its commit log's write offset. The master's heartbeat in its own epoch renews its lease: `leaseUntil` =
 *   now + leaseMs. The master acts as master only until its own clock reaches the time it sent that heartbeat
 *   plus leaseMs, which comes first.
 * - A new master is elected when there is none or the lease ran out more than `maxClockSkewMs` ago, only from
 *   the in-sync set (no unclean election), among brokers heard from within `aliveMs`, the one with the highest
 *   write offset (then the current master, then the lowest id). The epoch goes up by one; the in-sync set
 *   becomes the new master alone (slaves rejoin as they catch up). A group that never had an in-sync set (new)
 *   elects from every live broker.
 * - The master changes the in-sync set (`onAlterSyncState`) only in its own epoch and from the set's current
 *   version (`syncEpoch`), so an isolated old master cannot shrink the set to get its writes acknowledged.
 */

export interface ControllerSettings {
  /** How long a master's heartbeat keeps it master (default 3000 ms). */
  leaseMs: number;
  /** How long after its last heartbeat a broker still counts as alive for an election (default 3000 ms). */
  aliveMs: number;
  /** Clock difference between processes the lease allows for: elections wait this long past a lease (default 500 ms). */
  maxClockSkewMs: number;
}

export const DEFAULT_CONTROLLER_SETTINGS: ControllerSettings = { leaseMs: 3000, aliveMs: 3000, maxClockSkewMs: 500 };

export interface GroupBroker {
  address: string;
  lastSeen: number;
  writeOffset: number;
  /** The epoch it reported last. */
  epoch: number;
  /** The process it heartbeats from (a new one after a restart). */
  session?: string;
}

/** One broker group's controller state (the JSON value of its KV entry). */
export interface GroupState {
  brokerName: string;
  /** Master epoch: 0 before the first master. */
  epoch: number;
  /** The master's configured broker id, or null. */
  masterId: number | null;
  masterAddress: string | null;
  /** The master's lease, on the controller's clock. */
  leaseUntil: number;
  /** The in-sync set (broker ids, the master's included), ascending. */
  inSync: number[];
  /** Version of the in-sync set: each change bumps it. */
  syncEpoch: number;
  /** Brokers heard from, by configured id (as strings: JSON keys). */
  brokers: Record<string, GroupBroker>;
  /** Set while an election is due because the master restarted (heard from a new process at `at`). */
  restart?: { brokerId: number; at: number };
}

export function emptyGroup(brokerName: string): GroupState {
  return { brokerName, epoch: 0, masterId: null, masterAddress: null, leaseUntil: 0, inSync: [], syncEpoch: 0, brokers: {} };
}

export interface HeartbeatReport {
  brokerName: string;
  brokerId: number;
  address: string;
  /** The epoch the broker serves in; 0 until it learns its role after a start. */
  epoch: number;
  /** A token of the broker's process, drawn at its start: a master heard from a new one restarted. */
  session?: string;
  writeOffset: number;
}

/** What a broker learns from a heartbeat: the group's master and epoch, and whether it holds the lease. */
export interface HeartbeatAnswer {
  epoch: number;
  masterId: number | null;
  masterAddress: string | null;
  /**
   * True when this heartbeat granted the reporter the lease: it is the master of `epoch`, and either reported
   * that epoch or was elected by this very heartbeat. A master named on another's heartbeat holds no lease until
   * its own next one.
   */
  leader: boolean;
  leaseMs: number;
  inSync: number[];
  syncEpoch: number;
}

function answerFor(s: GroupState, leader: boolean, cfg: ControllerSettings): HeartbeatAnswer {
  return { epoch: s.epoch, masterId: s.masterId, masterAddress: s.masterAddress, leader, leaseMs: cfg.leaseMs, inSync: [...s.inSync], syncEpoch: s.syncEpoch };
}

/**
 * Whether the master restarted: its heartbeat comes from another process (session) than the one heard before.
 * Its lease died with the old process, and what it lost of its unflushed tail another in-sync broker may hold:
 * confirming it in its old epoch would have that broker drop acknowledged messages when it follows.
 */
export function masterRestarted(s: GroupState, r: HeartbeatReport): boolean {
  const before = s.brokers[String(r.brokerId)]?.session;
  return r.brokerId === s.masterId && r.session !== undefined && before !== undefined && r.session !== before;
}

/** Whether the group needs a new master at `now`: none, its lease ran out, or the master restarted. */
export function needsElection(s: GroupState, now: number, cfg: ControllerSettings): boolean {
  return s.restart !== undefined || s.masterId === null || now > s.leaseUntil + cfg.maxClockSkewMs;
}

/**
 * Since when a candidate's report counts for an election: after the old master could last have acknowledged a
 * write (its lease's end, or its restart), so that the write offset it reports covers every acknowledged message
 * it holds. A group without a master takes any report.
 */
function freshSince(s: GroupState, cfg: ControllerSettings): number {
  if (s.restart !== undefined) return s.restart.at;
  return s.masterId === null ? -Infinity : s.leaseUntil + cfg.maxClockSkewMs;
}

/**
 * The new master by the election rule; undefined when no candidate is alive; 'wait' while a live candidate has
 * not reported since `since` (its write offset as last heard may lag behind what it holds: the next heartbeats
 * decide). `passOver` (a master that restarted: it may have lost an unflushed tail the others hold) is chosen only
 * when no other candidate is alive.
 */
export function electCandidate(s: GroupState, now: number, cfg: ControllerSettings, passOver?: number, since = -Infinity): number | 'wait' | undefined {
  // (a set of the passed-over broker alone has no other candidate: not every live broker, which would be unclean)
  if (passOver !== undefined && s.inSync.some((id) => id !== passOver)) {
    const others = electCandidate({ ...s, inSync: s.inSync.filter((id) => id !== passOver), brokers: withoutBroker(s.brokers, passOver) }, now, cfg, undefined, since);
    if (others !== undefined) return others;
  }
  const alive = (id: number): boolean => {
    const b = s.brokers[String(id)];
    return b !== undefined && now - b.lastSeen <= cfg.aliveMs;
  };
  const pool = s.inSync.length > 0 ? s.inSync : Object.keys(s.brokers).map(Number);
  let best: number | undefined;
  for (const id of pool) {
    if (!alive(id)) continue;
    if (s.brokers[String(id)]!.lastSeen < since) return 'wait';
    if (best === undefined) {
      best = id;
      continue;
    }
    const a = s.brokers[String(id)]!.writeOffset;
    const b = s.brokers[String(best)]!.writeOffset;
    if (a > b || (a === b && (id === s.masterId || (best !== s.masterId && id < best)))) best = id;
  }
  return best;
}

function withoutBroker(brokers: GroupState['brokers'], id: number): GroupState['brokers'] {
  const out = { ...brokers };
  delete out[String(id)];
  return out;
}

/**
 * A heartbeat: records the broker, renews the master's lease, elects a master when one is due. Returns the new
 * state (the same object when nothing changed but the broker's record) and the answer.
 */
export function onHeartbeat(s: GroupState, r: HeartbeatReport, now: number, cfg: ControllerSettings): { state: GroupState; answer: HeartbeatAnswer; elected?: number } {
  const record: GroupBroker = { address: r.address, lastSeen: now, writeOffset: r.writeOffset, epoch: r.epoch };
  if (r.session !== undefined) record.session = r.session;
  let next: GroupState = { ...s, brokers: { ...s.brokers, [String(r.brokerId)]: record } };
  if (masterRestarted(s, r)) next = { ...next, restart: { brokerId: r.brokerId, at: now } };
  let elected: number | undefined;
  const due = needsElection(next, now, cfg);
  if (due) {
    const id = electCandidate(next, now, cfg, next.restart?.brokerId, freshSince(next, cfg));
    if (typeof id === 'number') {
      elected = id;
      const { restart: _done, ...rest } = next;
      next = { ...rest, epoch: next.epoch + 1, masterId: id, masterAddress: next.brokers[String(id)]!.address, leaseUntil: now + cfg.leaseMs, inSync: [id], syncEpoch: next.syncEpoch + 1 };
    } else if (id === undefined && next.masterId !== null) {
      // the lease ran out and no in-sync broker is alive: no master until one returns (no unclean election)
      const { restart: _done, ...rest } = next;
      next = { ...rest, masterId: null, masterAddress: null };
    }
  }
  // the reporter sent this heartbeat before `now`: a lease it counts from its sending ends before this one; none
  // while an election waits for its candidates' reports
  const waiting = due && elected === undefined && next.masterId !== null;
  const leader = !waiting && next.masterId === r.brokerId && (r.epoch === next.epoch || elected === r.brokerId);
  if (leader) next = { ...next, leaseUntil: now + cfg.leaseMs };
  const out: { state: GroupState; answer: HeartbeatAnswer; elected?: number } = { state: next, answer: answerFor(next, leader, cfg) };
  if (elected !== undefined) out.elected = elected;
  return out;
}

export interface AlterSyncRequest {
  brokerName: string;
  masterId: number;
  epoch: number;
  /** The set version the master last saw: the change applies only over it. */
  syncEpoch: number;
  inSync: number[];
}

/** The master's change of the in-sync set: applied only from the current master, epoch and set version. */
export function onAlterSyncState(s: GroupState, q: AlterSyncRequest): { state: GroupState; ok: boolean; reason?: string } {
  if (s.masterId !== q.masterId || s.epoch !== q.epoch) return { state: s, ok: false, reason: `broker ${q.masterId} is not the master of epoch ${q.epoch} (the master is ${String(s.masterId)} of epoch ${s.epoch})` };
  if (s.syncEpoch !== q.syncEpoch) return { state: s, ok: false, reason: `the in-sync set changed since version ${q.syncEpoch} (now ${s.syncEpoch})` };
  if (!q.inSync.includes(q.masterId)) return { state: s, ok: false, reason: 'the in-sync set must hold the master' };
  const inSync = [...new Set(q.inSync)].sort((a, b) => a - b);
  return { state: { ...s, inSync, syncEpoch: s.syncEpoch + 1 }, ok: true };
}
