/**
 * The history checker's vocabulary: the names of its checks, the options a scenario gives it, what one violation
 * says, and the verdict with its counts. `scenarios/checker.ts` re-exports all of it.
 */

export type CheckName = 'lost' | 'unexpected' | 'duplicated' | 'order' | 'delay' | 'transactions' | 'offsets' | 'liveness' | 'replication' | 'split-brain';

export const ALL_CHECKS: readonly CheckName[] = ['lost', 'unexpected', 'duplicated', 'order', 'delay', 'transactions', 'offsets', 'liveness', 'replication', 'split-brain'];

export interface CheckOptions {
  /** Consumer groups that must each receive every acknowledged message of a topic: topic -> groups. */
  groups: Record<string, string[]>;
  /** Topics whose keyed messages must be delivered in order per key. */
  orderedTopics?: string[];
  /** Which checks to run (default all). */
  checks?: readonly CheckName[];
  /** Explained duplicates allowed in total (default: unbounded). Unexplained duplicates are always violations. */
  maxDuplicates?: number;
  /**
   * Liveness: every acknowledged message must be first delivered within drainMs after the runner's `drain` op
   * (or after its `notBefore`, when that is later).
   */
  drainMs: number;
  /** Tolerance for delay checks: the largest clock skew of the run (default 0). */
  skewMs?: number;
  /** A message whose deliveries to a group were all RETRY, at least maxReconsumeTimes + 1 of them, went to the dead-letter queue: not lost (default 16). */
  maxReconsumeTimes?: number;
  /**
   * A nemesis op up to this many ms before the first delivery of a message also explains its duplicates and
   * rewinds: a rebalance follows its fault (a consumer joins, a broker restarts) by a heartbeat or two, and
   * the old owner keeps consuming until then (default 0: only nemesis ops after the first delivery explain).
   */
  rebalanceMs?: number;
  /**
   * Brokers with async flush: broker -> how long an acknowledged message may stay unflushed. Such a message
   * acknowledged by that broker within this window before a power loss of it may be gone with it (async flush
   * answers before the fsync): counted in `stats.lostUnflushed`, not a violation.
   */
  unflushedWindowMs?: Record<string, number>;
  /**
   * Broker groups whose processes are not named as the group (a master and its slaves): group -> its processes
   * (a fault of one of them is a fault of the group for the offsets check), its master process (whose power
   * losses count for `unflushedWindowMs`; none: no fixed master, no power loss explains a loss) and, when the
   * master's SEND_OK means its slaves hold the message too (a sync master), those slaves: a message is then
   * counted in `lostUnflushed` only when every one of them also lost power within its own unflushed window
   * (`windowMs`; none: it flushes sync and never loses what it acknowledged). Under an HA controller:
   * `maxClockSkewMs`, the clock difference its controllers' leases allow for (the `split-brain` check's
   * tolerance), `maxElections`, the highest master epoch the group may reach (none: unbounded), and
   * `offsetsLagMs`: offsets replicate every configSyncMs, so after a failover the new master may answer an
   * offset older than the old master's last commit, and consumers read again from there (at least once): a
   * fault up to this long before the earlier of two offset ops explains such a step back.
   */
  brokerGroups?: Record<
    string,
    {
      processes: string[];
      master?: string;
      replicas?: { process: string; windowMs?: number }[];
      maxClockSkewMs?: number;
      maxElections?: number;
      offsetsLagMs?: number;
    }
  >;
}

export interface Violation {
  check: CheckName;
  /** One line a person reads: what went wrong, with ids, group, queue, and times (ms). */
  message: string;
  ids: string[];
  /** Indexes of the history ops involved. */
  ops: number[];
}

export interface VerdictStats {
  /** Distinct message ids in `send` invokes. */
  sends: number;
  /** Ids acknowledged: an ok non-transactional send, or a transactional one whose `tx-end` committed. */
  acked: number;
  /** Ids not acknowledged with an `info` (or unfinished) send, or a transaction whose end is unknown. */
  ambiguous: number;
  /** Ids whose sends all failed. */
  failed: number;
  /** SUCCESS deliveries of a message to a group, over all groups. */
  delivered: number;
  /** Distinct (group, id) pairs delivered with SUCCESS. */
  uniqueDelivered: number;
  /** delivered - uniqueDelivered: SUCCESS deliveries after the first of their (group, id). */
  duplicates: number;
  /** Duplicates with an explanation (a retried or ambiguous send, a nemesis op in between). */
  explainedDuplicates: number;
  /** (group, id) pairs of acknowledged messages that went to the dead-letter queue. */
  deadLettered: number;
  /** (group, id) pairs of messages acknowledged by an async-flush broker just before its power loss, and gone with it. */
  lostUnflushed: number;
  /** `tx-end` ops that ended ok with outcome commit. */
  committedTx: number;
  /** `tx-end` ops that ended ok with outcome rollback. */
  rolledBackTx: number;
  /** (group, id) pairs of acknowledged messages never delivered with SUCCESS. */
  lost: number;
  /** (group, id) pairs first delivered with SUCCESS after the liveness deadline. */
  late: number;
  /** Acknowledged sends an old master answered after a newer master had answered, plus epochs acknowledged by two brokers. */
  splitBrain: number;
  /** Distinct (broker group, master epoch) pairs some SEND_OK carried (0 without a controller). */
  epochsAcked: number;
  /** Violations left out of `violations` (more than 20 of one check). */
  suppressed: number;
}

export interface Verdict {
  ok: boolean;
  /** Capped: at most 20 per check, plus a count of the rest in `stats.suppressed`. */
  violations: Violation[];
  stats: VerdictStats;
}

/** A typed error for options out of range or a history operation whose value lacks what its `f` carries. */
export class HistoryCheckError extends Error {
  constructor(
    readonly reason: string,
    readonly opIndex?: number,
  ) {
    super(opIndex === undefined ? `history check: ${reason}` : `history check: op ${opIndex}: ${reason}`);
    this.name = 'HistoryCheckError';
  }
}
