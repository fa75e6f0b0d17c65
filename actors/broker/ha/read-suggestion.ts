import { MASTER_ID } from '../../protocol/route.js';

/**
 * Which broker of its group a consumer should pull a queue from next (RocketMQ's suggestWhichBrokerId), a pure
 * rule. A pull that reads far behind the commit log's writes (more than `slaveReadLagBytes` between the write
 * offset and the first record it returned) reads data that has likely left the page cache: a master with a slave
 * in its in-sync set sends such a consumer to that slave (the lowest id), so the catch-up reads do not compete
 * with fresh writes and reads. A slave keeps a lagging consumer and sends it back to the master once it reads
 * within the threshold again.
 */

/** Default distance behind the write offset past which a master suggests a slave (256 MiB). */
export const DEFAULT_SLAVE_READ_LAG_BYTES = 256 * 1024 * 1024;

export interface ReadPlace {
  /** The serving broker's id (0: the master). */
  brokerId: number;
  /** The master's in-sync set (its own id 0 included), read only when the pull lags; empty on a slave. */
  inSync: () => readonly number[];
  /** The serving broker's commit log write offset. */
  writeOffset: number;
  /** The commit log offset of the first record the pull returned (undefined: none, the consumer is caught up). */
  firstCommitLogOffset: number | undefined;
  /** The distance, in bytes, past which the read counts as lagging. */
  slaveReadLagBytes: number;
}

/** The broker id to suggest in a pull reply. */
export function suggestBrokerId(p: ReadPlace): number {
  const distance = p.firstCommitLogOffset === undefined ? 0 : p.writeOffset - p.firstCommitLogOffset;
  const lagging = distance > p.slaveReadLagBytes;
  if (p.brokerId !== MASTER_ID) return lagging ? p.brokerId : MASTER_ID;
  if (!lagging) return MASTER_ID;
  let best: number | undefined;
  for (const id of p.inSync()) if (id > MASTER_ID && (best === undefined || id < best)) best = id;
  return best ?? MASTER_ID;
}
