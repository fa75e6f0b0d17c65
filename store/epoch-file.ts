/**
 * The epoch file (RocketMQ's epochFileCheckpoint): which master epoch wrote which part of the commit log, as
 * `<epoch, startOffset>` entries, ascending in both. A master elected for epoch E appends `<E, its write
 * offset>` before it takes a write; a slave appends the entries of the epochs it receives data of, with the
 * master's start offsets. Two replicas agree on everything below their last common entry's end, so a replica
 * that follows a new master cuts its log there (`consistentPoint`): the tail it wrote in an epoch the new master
 * does not share is divergent. Pure functions over entries, and the file's load and atomic save.
 */
import type { StorageBackend } from './backend.js';
import { readJsonFileAs, shape, writeJsonAtomic, type Shape } from './config-file.js';

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

export const EPOCH_FILE = 'config/epochs.json';

const fileShape: Shape<{ entries: EpochEntry[] }> = shape.fields<{ entries: EpochEntry[] }>({
  entries: shape.array(shape.fields<EpochEntry>({ epoch: shape.int(1), startOffset: shape.int(0) })),
});

/** Entries ascending in epoch and start offset (a later epoch never starts before an earlier one). */
export function checkEntries(entries: readonly EpochEntry[]): void {
  for (let i = 1; i < entries.length; i++) {
    const a = entries[i - 1]!;
    const b = entries[i]!;
    if (b.epoch <= a.epoch || b.startOffset < a.startOffset) throw new RangeError(`epoch entries out of order: <${a.epoch}, ${a.startOffset}> then <${b.epoch}, ${b.startOffset}>`);
  }
}

/** The last entry, if any. */
export function lastEpoch(entries: readonly EpochEntry[]): EpochEntry | undefined {
  return entries[entries.length - 1];
}

/** Entries with `<epoch, startOffset>` added (nothing when the last entry already is that epoch). */
export function appendEpoch(entries: readonly EpochEntry[], epoch: number, startOffset: number): EpochEntry[] {
  const last = lastEpoch(entries);
  if (last !== undefined && last.epoch === epoch) return [...entries];
  if (last !== undefined && (epoch < last.epoch || startOffset < last.startOffset)) {
    throw new RangeError(`epoch <${epoch}, ${startOffset}> after <${last.epoch}, ${last.startOffset}>`);
  }
  return [...entries, { epoch, startOffset }];
}

/** Where entry `i` ends: the next entry's start, or the log's end for the last. */
export function epochEnd(entries: readonly EpochEntry[], i: number, logEnd: number): number {
  return i + 1 < entries.length ? entries[i + 1]!.startOffset : logEnd;
}

/** The entry whose part of the log holds `offset` (the last one starting at or before it). */
export function epochAt(entries: readonly EpochEntry[], offset: number): EpochEntry | undefined {
  let found: EpochEntry | undefined;
  for (const e of entries) {
    if (e.startOffset > offset) break;
    found = e;
  }
  return found;
}

/** The start of the first epoch after the one holding `offset` (a replication transfer stops there), if any. */
export function nextEpochStart(entries: readonly EpochEntry[], offset: number): number | undefined {
  for (const e of entries) if (e.startOffset > offset) return e.startOffset;
  return undefined;
}

/**
 * Where a replica whose log ends at `mineEnd` must cut its log before it follows a master with `theirs` ending
 * at `theirsEnd`: the end of their newest common epoch (same epoch, same start), the lower of the two ends; 0
 * when they share none (the replica starts over). An empty log has nothing to cut.
 */
export function consistentPoint(mine: readonly EpochEntry[], mineEnd: number, theirs: readonly EpochEntry[], theirsEnd: number): number {
  if (mineEnd === 0) return 0;
  for (let i = mine.length - 1; i >= 0; i--) {
    const m = mine[i]!;
    const j = theirs.findIndex((t) => t.epoch === m.epoch);
    if (j < 0 || theirs[j]!.startOffset !== m.startOffset) continue;
    return Math.min(epochEnd(mine, i, mineEnd), epochEnd(theirs, j, theirsEnd));
  }
  return 0;
}

/** Entries once the log is cut at `offset`: those that start at or after it hold no data and go. */
export function truncateEpochs(entries: readonly EpochEntry[], offset: number): EpochEntry[] {
  return entries.filter((e) => e.startOffset < offset);
}

export function epochFilePath(storeDir: string): string {
  return `${storeDir}/${EPOCH_FILE}`;
}

/** Loads the epoch file (empty when absent); entries past the log's end (a cut that a crash interrupted) are dropped. */
export function loadEpochs(storage: StorageBackend, storeDir: string, logEnd: number): EpochEntry[] {
  const f = readJsonFileAs(storage, epochFilePath(storeDir), fileShape);
  const entries = f?.entries ?? [];
  checkEntries(entries);
  // an entry at exactly the end is a new master's epoch that has no data yet: kept
  return entries.filter((e) => e.startOffset <= logEnd);
}

export function saveEpochs(storage: StorageBackend, storeDir: string, entries: readonly EpochEntry[]): Promise<void> {
  checkEntries(entries);
  return writeJsonAtomic(storage, epochFilePath(storeDir), { entries });
}
