/**
 * A master's view of its slaves, as plain data and pure rules: how far each has acknowledged, whether it is in
 * the in-sync set, and whether a written batch has the acknowledgements a sync master needs.
 *
 * In sync: a slave whose acknowledgement reached what the master had written when it last shipped to it (or
 * the master's write offset, if that is lower) within `maxTimeSlaveNotCatchupMs`. The master is always in.
 * A sync batch needs `minInSyncReplicas` holders (the master counted), or every member with `allAckInSyncSet`,
 * and only members' acknowledgements count: a new master is elected from the in-sync set, so a batch
 * acknowledged on a non-member's word could be lost by an election. While the set changes, a batch must satisfy
 * both the set it was written under and the current one (apache/rocketmq#5663: counting only the new set let a
 * batch through on replicas the old set did not require).
 */

export interface ReplicaState {
  id: number;
  address: string;
  /** Commit log offset the slave holds (durably, when it flushes sync) everything below. */
  ackOffset: number;
  /** The slave's write offset as it last reported it. */
  writeOffset: number;
  /** When it last reported (the injected clock). */
  lastContact: number;
  /** When its acknowledgement last caught up with the master (-Infinity: never). */
  caughtUpAt: number;
  /** The master's write offset when it last shipped data to this slave (Infinity before the first). */
  shippedAtWrite: number;
}

export interface SyncRule {
  minInSyncReplicas: number;
  allAckInSyncSet: boolean;
  maxTimeSlaveNotCatchupMs: number;
}

/** Whether `r` belongs to the in-sync set at `now`. */
export function isInSync(r: ReplicaState, now: number, rule: SyncRule): boolean {
  return now - r.caughtUpAt <= rule.maxTimeSlaveNotCatchupMs;
}

/** The in-sync set at `now`: the master (id `masterId`) and every slave in sync, ascending. */
export function inSyncSet(masterId: number, replicas: Iterable<ReplicaState>, now: number, rule: SyncRule): number[] {
  const out = [masterId];
  for (const r of replicas) if (r.id !== masterId && isInSync(r, now, rule)) out.push(r.id);
  return out.sort((a, b) => a - b);
}

/** The acknowledgement a report brings: the new state of the slave. */
export function reported(prev: ReplicaState | undefined, report: { id: number; address: string; ackOffset: number; writeOffset: number }, masterWrite: number, now: number): ReplicaState {
  const shippedAtWrite = prev?.shippedAtWrite ?? Infinity;
  const caughtUp = report.ackOffset >= Math.min(masterWrite, shippedAtWrite);
  return {
    id: report.id,
    address: report.address,
    ackOffset: report.ackOffset,
    writeOffset: report.writeOffset,
    lastContact: now,
    caughtUpAt: caughtUp ? now : (prev?.caughtUpAt ?? -Infinity),
    shippedAtWrite,
  };
}

/** How many holders a batch needs under `set`. */
export function acksNeeded(set: readonly number[], rule: SyncRule): number {
  return rule.allAckInSyncSet ? set.length : rule.minInSyncReplicas;
}

/** How many members of `set` hold everything below `end` (the master, a member, always does). */
export function holders(end: number, set: readonly number[], masterId: number, replicas: ReadonlyMap<number, ReplicaState>): number {
  let n = 0;
  for (const id of set) if (id === masterId || (replicas.get(id)?.ackOffset ?? -1) >= end) n++;
  return n;
}

/** Whether a batch ending at `end`, written under `setAtWrite`, is acknowledged enough under that set and the current one. */
export function batchSatisfied(end: number, setAtWrite: readonly number[], setNow: readonly number[], masterId: number, replicas: ReadonlyMap<number, ReplicaState>, rule: SyncRule): boolean {
  return (
    holders(end, setAtWrite, masterId, replicas) >= acksNeeded(setAtWrite, rule) && holders(end, setNow, masterId, replicas) >= acksNeeded(setNow, rule)
  );
}
