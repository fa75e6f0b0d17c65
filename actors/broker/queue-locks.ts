import { Status, StatusError } from '../../core/status.js';

/**
 * The broker's lock table for orderly consumers (RocketMQ's RebalanceLockManager): one lock per
 * (consumer group, topic, queue id) of this broker, held by one client id until it unlocks it or its lease runs
 * out. An orderly consumer locks its queues before pulling them and renews the locks well within the lease;
 * one that dies stops renewing, its lease expires and another member of the group can lock the queue.
 * Pure: time comes from the injected `now`.
 */

/** How long a lock lasts without renewal (RocketMQ's rebalance lock max live time). */
export const DEFAULT_QUEUE_LOCK_LEASE_MS = 60_000;
/** Most locks the table holds; expired ones are pruned first, then a lock request is refused (SYSTEM_BUSY). */
export const DEFAULT_MAX_QUEUE_LOCKS = 100_000;

/** A queue of this broker, as a lock request names it. */
export interface LockedQueue {
  topic: string;
  queueId: number;
}

interface Lease {
  clientId: string;
  expiresAt: number;
}

const keyOf = (group: string, q: LockedQueue): string => `${group}\u0000${q.topic}\u0000${q.queueId}`;

export class QueueLockTable {
  private readonly leases = new Map<string, Lease>();

  constructor(
    private readonly now: () => number,
    readonly leaseMs: number = DEFAULT_QUEUE_LOCK_LEASE_MS,
    readonly maxLocks: number = DEFAULT_MAX_QUEUE_LOCKS,
  ) {
    if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw new RangeError(`queue lock lease must be a positive number, got ${leaseMs}`);
  }

  /** Number of entries (live or expired, not yet pruned). */
  get size(): number {
    return this.leases.size;
  }

  /**
   * Locks (or renews) the queues that are free, already held by `clientId`, or whose lease expired; returns
   * those, in request order. Queues held by another live client are left out.
   */
  lock(group: string, clientId: string, queues: readonly LockedQueue[]): LockedQueue[] {
    const now = this.now();
    const granted: LockedQueue[] = [];
    for (const q of queues) {
      const key = keyOf(group, q);
      const cur = this.leases.get(key);
      if (cur && cur.clientId !== clientId && cur.expiresAt > now) continue;
      if (!cur) this.makeRoom(now);
      this.leases.set(key, { clientId, expiresAt: now + this.leaseMs });
      granted.push({ topic: q.topic, queueId: q.queueId });
    }
    return granted;
  }

  /** Releases the queues `clientId` holds among `queues` (others' locks stay); returns how many were released. */
  unlock(group: string, clientId: string, queues: readonly LockedQueue[]): number {
    let n = 0;
    for (const q of queues) {
      const key = keyOf(group, q);
      if (this.leases.get(key)?.clientId === clientId) {
        this.leases.delete(key);
        n++;
      }
    }
    return n;
  }

  /** The client holding a live lock on the queue, if any. */
  holder(group: string, q: LockedQueue): string | undefined {
    const cur = this.leases.get(keyOf(group, q));
    return cur && cur.expiresAt > this.now() ? cur.clientId : undefined;
  }

  /** Drops expired leases; returns how many. */
  prune(now = this.now()): number {
    let n = 0;
    for (const [k, l] of this.leases) {
      if (l.expiresAt <= now) {
        this.leases.delete(k);
        n++;
      }
    }
    return n;
  }

  private makeRoom(now: number): void {
    if (this.leases.size < this.maxLocks) return;
    this.prune(now);
    if (this.leases.size >= this.maxLocks) throw new StatusError(Status.SYSTEM_BUSY, `the broker holds ${this.maxLocks} queue locks already`);
  }
}
