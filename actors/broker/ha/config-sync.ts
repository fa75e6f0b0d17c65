import type { StorageBackend } from '../../../store/backend.js';
import { writeJsonAtomic } from '../../../store/config-file.js';
import { Status, StatusError } from '../../../core/status.js';
import type { ConsumerOffsets, ConsumerOffsetsFile } from '../consumer-offsets.js';
import { DELAY_OFFSETS_FILE, loadDelayOffsets, type DelayOffsetsFile } from '../schedule/delay-scheduler.js';
import { loadTimerProgress, TIMER_OFFSETS_FILE } from '../schedule/timer-scheduler.js';
import type { TopicTable, TopicsFile } from '../topic-config.js';

/**
 * What replicates besides the commit log (HA_SYNC_CONFIG, every configSyncMs from each slave): the master's
 * topics, consumer offsets and the delay and timer schedulers' progress go to the slave; the slave's consumer
 * offsets go to the master. Offsets merge by taking the one further ahead on each side, so an offset committed
 * on a slave while the master was down is kept when it returns and none goes back (apache/rocketmq#1094, #7790:
 * a slave that copied its master's table over its own rolled consumers back). Topics and schedule progress are
 * the master's: a slave does not create topics or run schedulers, and a promoted slave starts from them.
 */

/** The HA_SYNC_CONFIG request body (the slave's offsets) and reply body (the master's state), JSON. */
export interface SlaveConfigReport {
  offsets: ConsumerOffsetsFile;
}
export interface MasterConfig {
  topics: TopicsFile;
  offsets: ConsumerOffsetsFile;
  delayOffsets: DelayOffsetsFile | null;
  timerProgress: unknown;
}

export interface ConfigParts {
  storage: StorageBackend;
  storeDir: string;
  topics: TopicTable;
  offsets: ConsumerOffsets;
  /** One past the last message of a queue here (a master takes a slave's offsets only up to it). */
  maxOffset?: (topic: string, queueId: number) => number;
}

/** The master's side: takes the slave's offsets that are ahead, answers with its own state. */
export function masterConfig(p: ConfigParts, report: SlaveConfigReport): MasterConfig {
  if (report === null || typeof report !== 'object' || typeof report.offsets !== 'object' || report.offsets === null) {
    throw new StatusError(Status.BAD_FRAME, 'HA_SYNC_CONFIG body must be { offsets: { offsetTable } }');
  }
  p.offsets.mergeAhead(report.offsets, p.maxOffset);
  return {
    topics: p.topics.toFile(),
    offsets: p.offsets.toFile(),
    delayOffsets: loadDelayOffsets(p.storage, `${p.storeDir}/${DELAY_OFFSETS_FILE}`) ?? null,
    timerProgress: loadTimerProgress(p.storage, `${p.storeDir}/${TIMER_OFFSETS_FILE}`) ?? null,
  };
}

/** What applying a master's state changed on the slave. */
export interface ConfigApplied {
  topicsChanged: boolean;
  offsetsMoved: number;
}

/**
 * The slave's side: takes the master's topics (when their data version differs), its offsets that are ahead,
 * and its schedule progress files. The caller persists topics and offsets (and registers a topic change).
 */
export async function applyMasterConfig(p: ConfigParts, m: MasterConfig): Promise<ConfigApplied> {
  if (m === null || typeof m !== 'object' || typeof m.topics !== 'object' || typeof m.offsets !== 'object') {
    throw new StatusError(Status.BAD_FRAME, 'HA_SYNC_CONFIG reply must be { topics, offsets, delayOffsets, timerProgress }');
  }
  const topicsChanged = p.topics.replaceWith(m.topics);
  const offsetsMoved = p.offsets.mergeAhead(m.offsets);
  await writeIfChanged(p.storage, `${p.storeDir}/${DELAY_OFFSETS_FILE}`, m.delayOffsets, loadDelayOffsets(p.storage, `${p.storeDir}/${DELAY_OFFSETS_FILE}`));
  await writeIfChanged(p.storage, `${p.storeDir}/${TIMER_OFFSETS_FILE}`, m.timerProgress, loadTimerProgress(p.storage, `${p.storeDir}/${TIMER_OFFSETS_FILE}`));
  return { topicsChanged, offsetsMoved };
}

async function writeIfChanged(storage: StorageBackend, path: string, next: unknown, have: unknown): Promise<void> {
  if (next === null || next === undefined) return;
  if (JSON.stringify(next) === JSON.stringify(have ?? null)) return;
  await writeJsonAtomic(storage, path, next);
}
