import type { StorageBackend } from '../../store/backend.js';
import { ConfigError, readJsonFile, writeJsonAtomic } from '../../store/config-file.js';
import { Status, StatusError } from '../../core/status.js';

/**
 * Consumer offsets: `group@topic` -> queueId -> the next offset the group will consume. Committed in batches
 * (one UPDATE_CONSUMER_OFFSET carries every queue a client owns), persisted periodically and at shutdown to
 * `<storeDir>/config/consumerOffsets.json`, loaded at start.
 */

export interface OffsetEntry {
  topic: string;
  queueId: number;
  offset: number;
}

/** What consumerOffsets.json holds. */
export interface ConsumerOffsetsFile {
  offsetTable: Record<string, Record<string, number>>;
}

export const CONSUMER_OFFSETS_FILE = 'config/consumerOffsets.json';
const SEP = '@';

export function offsetKey(group: string, topic: string): string {
  return `${group}${SEP}${topic}`;
}

export function splitOffsetKey(key: string): { group: string; topic: string } {
  const i = key.indexOf(SEP);
  return { group: key.slice(0, i), topic: key.slice(i + 1) };
}

function checkEntry(e: OffsetEntry, i: number): void {
  if (e === null || typeof e !== 'object') throw new StatusError(Status.INVALID_ARGUMENT, `offset ${i} must be an object`);
  if (typeof e.topic !== 'string' || e.topic.length === 0 || e.topic.includes(SEP))
    throw new StatusError(Status.INVALID_ARGUMENT, `offset ${i}: topic must be a non-empty string without '${SEP}'`);
  if (!Number.isInteger(e.queueId) || e.queueId < 0) throw new StatusError(Status.INVALID_ARGUMENT, `offset ${i}: queueId must be a non-negative integer`);
  if (!Number.isSafeInteger(e.offset) || e.offset < 0) throw new StatusError(Status.INVALID_ARGUMENT, `offset ${i}: offset must be a non-negative integer`);
}

export class ConsumerOffsets {
  private readonly table = new Map<string, Map<number, number>>();
  private changes = 0;

  constructor(file?: ConsumerOffsetsFile) {
    for (const [key, queues] of Object.entries(file?.offsetTable ?? {})) {
      if (!key.includes(SEP) || queues === null || typeof queues !== 'object') continue;
      const m = new Map<number, number>();
      for (const [q, o] of Object.entries(queues)) {
        const qid = Number(q);
        if (Number.isInteger(qid) && qid >= 0 && Number.isSafeInteger(o) && o >= 0) m.set(qid, o);
      }
      this.table.set(key, m);
    }
  }

  /** Number of commits since construction: the broker persists when it moved. */
  get version(): number {
    return this.changes;
  }

  /** Commits a batch of offsets of one group (validated first: all or nothing). */
  commit(group: string, entries: readonly OffsetEntry[]): void {
    if (!Array.isArray(entries)) throw new StatusError(Status.INVALID_ARGUMENT, 'offsets must be an array');
    entries.forEach(checkEntry);
    for (const e of entries) {
      const key = offsetKey(group, e.topic);
      let m = this.table.get(key);
      if (!m) this.table.set(key, (m = new Map()));
      m.set(e.queueId, e.offset);
    }
    if (entries.length > 0) this.changes++;
  }

  /**
   * Takes every offset of `file` that is ahead of the one held (replication between a master and its slaves:
   * an offset committed on either never goes back). With `limit`, an offset is taken only up to the queue's
   * end here (a master never takes an offset past messages it holds: its next messages would be skipped).
   * Returns the number of offsets that moved.
   */
  mergeAhead(file: ConsumerOffsetsFile, limit?: (topic: string, queueId: number) => number): number {
    const other = new ConsumerOffsets(file);
    let moved = 0;
    for (const [key, queues] of other.table) {
      let m = this.table.get(key);
      const topic = limit && splitOffsetKey(key).topic;
      for (const [q, offered] of queues) {
        const o = limit ? Math.min(offered, limit(topic!, q)) : offered;
        if ((m?.get(q) ?? -1) >= o) continue;
        if (!m) this.table.set(key, (m = new Map()));
        m.set(q, o);
        moved++;
      }
    }
    if (moved > 0) this.changes++;
    return moved;
  }

  query(group: string, topic: string, queueId: number): number | undefined {
    return this.table.get(offsetKey(group, topic))?.get(queueId);
  }

  /** Every committed offset of a group, sorted by topic then queue. */
  ofGroup(group: string): OffsetEntry[] {
    const out: OffsetEntry[] = [];
    for (const [key, m] of this.table) {
      const k = splitOffsetKey(key);
      if (k.group !== group) continue;
      for (const [queueId, offset] of m) out.push({ topic: k.topic, queueId, offset });
    }
    return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.queueId - b.queueId));
  }

  /** Every group with an offset, sorted. */
  groups(): string[] {
    const out = new Set<string>();
    for (const key of this.table.keys()) out.add(splitOffsetKey(key).group);
    return [...out].sort();
  }

  /** Groups with an offset on `topic`, sorted. */
  groupsOf(topic: string): string[] {
    const out: string[] = [];
    for (const key of this.table.keys()) {
      const k = splitOffsetKey(key);
      if (k.topic === topic) out.push(k.group);
    }
    return out.sort();
  }

  /** Forgets every offset on `topic` (the topic was deleted). */
  deleteTopic(topic: string): void {
    for (const key of [...this.table.keys()]) if (splitOffsetKey(key).topic === topic) this.table.delete(key);
    this.changes++;
  }

  toFile(): ConsumerOffsetsFile {
    const offsetTable: Record<string, Record<string, number>> = {};
    for (const key of [...this.table.keys()].sort()) {
      const m = this.table.get(key)!;
      const q: Record<string, number> = {};
      for (const id of [...m.keys()].sort((a, b) => a - b)) q[String(id)] = m.get(id)!;
      offsetTable[key] = q;
    }
    return { offsetTable };
  }
}

export function consumerOffsetsPath(storeDir: string): string {
  return `${storeDir}/${CONSUMER_OFFSETS_FILE}`;
}

export function loadConsumerOffsets(storage: StorageBackend, storeDir: string): ConsumerOffsets {
  const path = consumerOffsetsPath(storeDir);
  const file = readJsonFile<ConsumerOffsetsFile>(storage, path);
  if (file === undefined) return new ConsumerOffsets();
  const table: unknown = file !== null && typeof file === 'object' ? file.offsetTable : undefined;
  if (table === null || typeof table !== 'object' || Array.isArray(table))
    throw new ConfigError(path, 'expected { "offsetTable": { "<group>@<topic>": { "<queueId>": offset } } }');
  for (const [key, queues] of Object.entries(table as Record<string, unknown>)) {
    const ok = key.includes(SEP) && queues !== null && typeof queues === 'object' && !Array.isArray(queues) &&
      Object.entries(queues as Record<string, unknown>).every(([q, o]) => /^\d+$/.test(q) && Number.isSafeInteger(o) && (o as number) >= 0);
    if (!ok) throw new ConfigError(path, `bad offsets entry "${key}": ${JSON.stringify(queues)}`);
  }
  return new ConsumerOffsets(file);
}

export function saveConsumerOffsets(storage: StorageBackend, storeDir: string, offsets: ConsumerOffsets): Promise<void> {
  return writeJsonAtomic(storage, consumerOffsetsPath(storeDir), offsets.toFile());
}
